"""How many answers the LLM server is given at once (LLM_MAX_PARALLEL).

A number fixes the limit. ``auto`` (the default) takes the server's own word
where it gives one (llama.cpp's ``total_slots``; llama-cpp-python runs one
request at a time), and otherwise adapts, in the spirit of TCP's congestion
control and Netflix's concurrency-limits:

- the signal is the time to the first token, measured from the request (the
  bot's own queue excluded): a server with a free slot starts an answer about
  as fast as an idle one; a full one makes the newcomer wait for a slot. It is
  taken as soon as the first token arrives, not when the answer ends, so the
  limit grows at the pace of first tokens (tenths of a second) rather than of
  whole answers (seconds to minutes); interruptions and timeouts are known at
  the end;
- decisions are taken per round of ``max(limit, MIN_ROUND)`` answers, on the
  round's median, so that a few answers slowed by a busy machine are not taken
  for load; the baseline is the smallest median of the last BASELINE_ROUNDS (a
  long memory: rounds slowed a little by requests waiting at the server must
  not become the baseline, or it would creep up and the limit with it);
- at first (slow start) every answer sent at full load whose first token came
  within ``TOLERANCE`` of the baseline raises the limit by one, which doubles
  it per round; once it was ever lowered, a round at full load (most of its
  answers sent with every slot of the limit taken) whose median is within
  ``TOLERANCE`` raises it by one after PROBE_ROUNDS such rounds (congestion
  avoidance: a probe above the server's capacity makes some answers wait for a
  server slot, so probes are rare);
- a round whose median is slower than that lowers it by DECREASE (by a
  quarter), and so does a first-token timeout; the answers of the next round
  are then skipped (they queued behind the old limit), and the limit climbs
  back by one per good round up to the highest level that went well, then
  probes as above; if the round after a decrease is still slow but clearly
  faster (below HELPED times the slow median), lowering helps (requests still
  wait for a server slot) and it is lowered again; if it is no faster, fewer
  answers did not help: the server got slower for another reason (another
  client, a busy machine), and that becomes the new baseline instead of a
  further cut;
- an interrupted answer (the server cut it to serve another request) lowers it
  at once, and the limit never again goes above the level that interrupted.

The limit is a ``trio.CapacityLimiter`` whose ``total_tokens`` moves; lowering
it lets running answers finish and only holds back new ones.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

import trio

logger = logging.getLogger("tauro.llm")

AUTO_MAX = 64  # highest adaptive limit (and the connection pool's size for auto)
BASELINE_ROUNDS = 100  # round medians the baseline is the minimum of
MIN_ROUND = 3  # answers per round at least
TOLERANCE = 2.0  # a median within baseline * TOLERANCE + SLACK is "not slowed"
SLACK = 0.1  # seconds, so that small baselines do not make noise look like load
DECREASE = 0.75  # multiplicative decrease
PROBE_ROUNDS = 4  # good full rounds before probing one more, once lowered
HELPED = 0.8  # a slow round after a decrease this much faster: lowering helped


@dataclass(frozen=True, slots=True)
class Sample:
    """One answer as the limit sees it."""

    first_token: float | None  # seconds from the request; None: no text came
    in_flight: int  # answers at the server when this one was sent (itself included)
    interrupted: bool = False  # the server cut it (no finish reason)
    timed_out: bool = False
    limit: int = 0  # the limit when it was sent (0: the limit now)


class ParallelLimit:
    """The slots the generations wait for, and the rule that sizes them."""

    def __init__(self, setting: int | str) -> None:
        self.adaptive = setting == "auto"
        start = 1 if self.adaptive else int(setting)
        self.limiter = trio.CapacityLimiter(start)
        self.source = "adaptive (no answer yet)" if self.adaptive else "LLM_MAX_PARALLEL"
        self._ceiling = AUTO_MAX
        self._medians: deque[float] = deque(maxlen=BASELINE_ROUNDS)
        self._round: list[tuple[float, bool]] = []  # (first token, sent at full load)
        self._slow_start = True
        self._good_rounds = 0
        self._best_good = 0  # the highest limit a round went well at
        self._settling = 0  # answers to skip after a decrease (queued behind the old limit)
        self._just_lowered = False  # the next round tells whether lowering helped
        self._slow_median = math.inf  # the slow round's median that lowered the limit

    @property
    def value(self) -> int:
        return int(self.limiter.total_tokens)

    def use_server_slots(self, slots: int, source: str, *, queues: bool = False) -> None:
        """The server said how many answers it runs at once: use that.

        ``queues``: the server keeps requests beyond its slots waiting in order
        (llama.cpp's llama-server), so one more is sent, to wait there: a slot
        that frees starts the next answer at once instead of idling while the
        next request travels. A server that interrupts instead gets exactly
        ``slots``.
        """
        if not self.adaptive or slots < 1:
            return
        self.adaptive = False
        if queues:
            source = f"{source} = {slots}, +1 waiting at the server"
        self._set(min(slots + queues, 1024), source)

    def observe(self, sample: Sample) -> None:
        """Adjust an adaptive limit after one answer."""
        if not self.adaptive:
            return
        if sample.interrupted:
            self._ceiling = max(1, min(self._ceiling, sample.in_flight - 1))
            self._lower(self._ceiling, "the server interrupted an answer")
        elif sample.timed_out:
            self._lower(math.floor(self.value * DECREASE), "no first token in time")
        elif sample.first_token is None:
            return  # failed before any text: says nothing about the load
        elif self._settling > 0:
            self._settling -= 1  # the server is still working off the old limit's queue
        elif sample.limit <= self.value:
            # (an answer sent under a higher limit, before a decrease, says nothing new)
            full = sample.in_flight >= (sample.limit or self.value)
            self._round.append((sample.first_token, full))
            if self._slow_start and full and self._fast(sample.first_token):
                if sample.first_token < min(self._medians, default=math.inf):
                    self._medians.append(sample.first_token)  # a baseline before any round
                self._set(min(self.value + 1, self._ceiling), "adaptive")  # doubles per round
            elif len(self._round) >= max(self.value, MIN_ROUND):
                self._end_round()

    def _fast(self, first_token: float) -> bool:
        """Within TOLERANCE of the baseline (or of this round's best, before any)."""
        known = list(self._medians) or [first for first, _ in self._round]
        return first_token <= min(known) * TOLERANCE + SLACK

    def _end_round(self) -> None:
        times = sorted(first for first, _ in self._round)
        median = times[len(times) // 2]
        full = 2 * sum(1 for _, at_full in self._round if at_full) > len(self._round)
        self._round.clear()
        self._medians.append(median)
        just_lowered, self._just_lowered = self._just_lowered, False
        if median <= min(self._medians) * TOLERANCE + SLACK:
            if full:
                self._best_good = max(self._best_good, self.value)
                self._raise()
        elif just_lowered and median >= self._slow_median * HELPED:
            # Fewer answers at once did not help: the server (or its machine) is
            # slower for another reason. That is its new normal, not load.
            self._medians.clear()
            self._medians.append(median)
        else:  # slow; or still slow after a decrease, but less: lowering helps
            self._slow_median = median
            self._lower(math.floor(self.value * DECREASE), "the first token slowed down")

    def _raise(self) -> None:
        self._good_rounds += 1
        if self.value >= self._ceiling:
            return
        if self._slow_start:
            return  # slow start grows answer by answer (observe)
        if self.value < self._best_good or self._good_rounds >= PROBE_ROUNDS:
            self._set(self.value + 1, "adaptive")  # back to a known-good level, or a probe

    def _lower(self, target: int, why: str) -> None:
        self._slow_start = False
        self._round.clear()  # answers sent under the old limit
        self._settling = self.value
        self._just_lowered = True
        self._best_good = min(self._best_good, self.value - 1)
        self._set(max(1, min(target, self.value)), f"adaptive (lowered: {why})")

    def _set(self, value: int, source: str) -> None:
        previous = self.value
        self.limiter.total_tokens = value
        self.source = source
        self._good_rounds = 0
        self._round.clear()  # a round is judged at one limit
        if value != previous:
            fields = {"previous": previous, "limit": value, "source": source}
            logger.info("llm.parallel.changed", extra={"fields": fields})
