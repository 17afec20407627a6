"""``Backoff``: the one policy for the delays between retries.

It only computes delays; the caller sleeps them on trio's clock (``trio.sleep``,
``trio.move_on_after``), so a ``MockClock`` runs any retry loop instantly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# 2.0 ** 1023 is the largest power of two a float holds: past it, the delay is capped anyway.
_MAX_DOUBLINGS = 1023


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential delays with a cap: ``min(maximum, initial * 2**retry)`` seconds.

    ``retry`` counts from 0 (the wait before the first retry). With ``jitter`` j
    (0 to 1) each delay is drawn uniformly from ``[(1 - j) * d, d]``, so many
    callers failing together do not retry in step; 0 gives exact delays.
    """

    initial: float
    maximum: float
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial) and self.initial >= 0):
            raise ValueError(f"backoff initial must be seconds >= 0, not {self.initial}")
        if not self.maximum >= 0:  # math.inf: no cap
            raise ValueError(f"backoff maximum must be seconds >= 0, not {self.maximum}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter must be between 0 and 1, not {self.jitter}")

    def ceiling(self, retry: int) -> float:
        """The delay before retry number ``retry`` (from 0), before any jitter."""
        if retry < 0:
            raise ValueError(f"retry counts from 0, not {retry}")
        return min(self.maximum, self.initial * 2.0 ** min(retry, _MAX_DOUBLINGS))

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (from 0), jittered.

        ``rng`` draws the jitter (the ``random`` module's by default).
        """
        ceiling = self.ceiling(retry)
        if not self.jitter:
            return ceiling
        draw = rng.random() if rng is not None else random.random()
        return ceiling * (1.0 - self.jitter * draw)
