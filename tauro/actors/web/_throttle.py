"""Wrong secrets slow the guesser down: a per-client backoff on trio's clock.

Each client address may get ``free_failures`` wrong secrets in a row; after
that every wrong one makes it wait (``first_delay``, doubling up to
``max_delay``) before the next attempt is even checked: ``POST /api/login``
answers 429 with ``Retry-After`` until then. A right secret clears the
address's record; a record quiet for ``forget_after`` is dropped, and at most
``max_clients`` are kept (the oldest go first), so the table stays bounded.

Behind a reverse proxy every browser shares the proxy's address: they share
one backoff (docs/web.md).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import trio

from tauro.runtime import Backoff

__all__ = ["LoginThrottle"]


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0  # trio time
    last_seen: float = 0.0


class LoginThrottle:
    """Counts wrong secrets per client address and says how long each must wait."""

    def __init__(
        self,
        *,
        free_failures: int = 3,
        first_delay: float = 1.0,  # seconds
        max_delay: float = 300.0,  # seconds
        forget_after: float = 3600.0,  # seconds
        max_clients: int = 10_000,
    ) -> None:
        self._free = free_failures
        self._backoff = Backoff(initial=first_delay, maximum=max_delay)
        self._forget_after = forget_after
        self._max_clients = max_clients
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must still wait before a secret of theirs is checked; 0: now."""
        self._forget_quiet()
        record = self._records.get(client)
        if record is None:
            return 0.0
        return max(0.0, record.blocked_until - trio.current_time())

    def failed(self, client: str) -> float:
        """Count a wrong secret; return the wait it earned (0 while still free)."""
        now = trio.current_time()
        record = self._records.pop(client, None) or _Record()
        record.failures += 1
        record.last_seen = now
        over = record.failures - self._free
        delay = self._backoff.delay(over - 1) if over > 0 else 0.0
        record.blocked_until = now + delay
        self._records[client] = record  # newest last
        while len(self._records) > self._max_clients:
            self._records.popitem(last=False)
        return delay

    def succeeded(self, client: str) -> None:
        self._records.pop(client, None)

    def __len__(self) -> int:
        return len(self._records)

    def _forget_quiet(self) -> None:
        horizon = trio.current_time() - self._forget_after
        while self._records:
            oldest = next(iter(self._records.values()))
            if oldest.last_seen > horizon or oldest.blocked_until > trio.current_time():
                return
            self._records.popitem(last=False)
