"""One generation, run as a task of the LLM actor: slot, timeouts, retries, result.

Layers, from the outside in:

1. the stream's cancel scope (the caller closed the stream);
2. a slot of the ``CapacityLimiter`` (LLM_MAX_PARALLEL), waited for in order;
3. the total timeout (LLM_TOTAL_TIMEOUT) around every attempt;
4. the first-token timeout (LLM_FIRST_TOKEN_TIMEOUT), lifted by the first text;
5. retries with exponential backoff after connection failures only, and
   never once text has arrived: a retry then would repeat the answer.

Whatever happens, the task ends by storing a ``GenerationResult`` with the
text that arrived, then closing the channel; nothing here awaits after a
cancellation, so it also holds when the actor stops.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import trio

from tauro.actors.llm._messages import GenerationResult
from tauro.actors.llm._provider import ChatEnd, ChatRequest, Provider
from tauro.actors.llm._stats import StatsRecorder
from tauro.actors.llm._stream import GenerationState
from tauro.config import LLMSettings
from tauro.errors import LLMError, LLMTimeoutError, LLMUnreachableError
from tauro.i18n import N_

logger = logging.getLogger("tauro.llm")


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delays between connection attempts: initial, doubled up to ``maximum`` (seconds)."""

    initial: float = 0.5
    maximum: float = 8.0

    def delay(self, retry: int) -> float:
        return min(self.maximum, self.initial * 2.0**retry)


@dataclass(frozen=True, slots=True, kw_only=True)
class Engine:
    """What every generation shares: the provider, the slots, the counters."""

    settings: LLMSettings
    provider: Provider
    limiter: trio.CapacityLimiter
    stats: StatsRecorder
    backoff: Backoff = Backoff()


@dataclass(slots=True)
class Job:
    """The mutable record of one generation while it runs."""

    chat: ChatRequest
    send: trio.MemorySendChannel[str]
    state: GenerationState
    conversation: str | None = None
    created_at: float = field(default_factory=trio.current_time)
    parts: list[str] = field(default_factory=list)
    request_at: float | None = None
    first_token_at: float | None = None
    first_token_scope: trio.CancelScope | None = None
    attempts: int = 0
    end: ChatEnd | None = None
    error: LLMError | None = None

    async def on_delta(self, text: str) -> None:
        if self.first_token_at is None:
            self.first_token_at = trio.current_time()
            if self.first_token_scope is not None:
                self.first_token_scope.deadline = math.inf
        self.parts.append(text)
        try:
            try:
                # No scheduling point per delta: a burst of deltas wakes the
                # consumer once, and it takes them all with next_batch().
                self.send.send_nowait(text)
            except trio.WouldBlock:
                await self.send.send(text)  # the consumer is behind: backpressure
        except trio.BrokenResourceError:  # the consumer dropped the stream unclosed
            self.state.closed_by_caller = True
            self.state.cancel_scope.cancel()
            await trio.lowlevel.checkpoint()

    def result(self) -> GenerationResult:
        now = trio.current_time()
        end = self.end if self.error is None else None
        start = self.request_at
        return GenerationResult(
            text="".join(self.parts),
            complete=end is not None,
            error=self.error,
            model=self.chat.model,
            done_reason=end.done_reason if end else None,
            prompt_tokens=end.prompt_tokens if end else None,
            completion_tokens=(end and end.completion_tokens) or len(self.parts),
            queue_wait=(start if start is not None else now) - self.created_at,
            time_to_first_token=_since(start, self.first_token_at),
            duration=_since(start, now) or 0.0,
            attempts=self.attempts,
        )


def _since(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else end - start


async def run_generation(engine: Engine, job: Job) -> None:
    """The task body: always leaves a result and a closed channel behind."""
    try:
        with job.state.cancel_scope:
            await _in_slot(engine, job)
    except LLMError as exc:
        job.error = exc
    except Exception as exc:  # a bug must cost one answer, not every answer in flight
        logger.exception("llm.generation.bug", extra={"fields": {"model": job.chat.model}})
        job.error = LLMError(
            f"unexpected {type(exc).__name__} while generating: {exc}",
            user_message=N_("something went wrong while answering; please try again"),
        )
    finally:
        _finish(engine, job)


def _finish(engine: Engine, job: Job) -> None:
    """Store the result, count it, log it, end the stream (never awaits)."""
    if job.end is None and job.error is None and not job.state.closed_by_caller:
        job.error = LLMError(
            "the LLM service stopped while answering",
            user_message=N_("the answer was interrupted; please try again"),
        )
    result = job.result()
    job.state.result = result
    engine.stats.record(result)
    _log(engine, job, result)
    job.send.close()


def _log(engine: Engine, job: Job, result: GenerationResult) -> None:
    fields: dict[str, object] = {
        "conversation": job.conversation,
        "model": result.model,
        "complete": result.complete,
        "chars": len(result.text),
        "tokens": result.completion_tokens,
        "ttft_s": result.time_to_first_token,
        "duration_s": round(result.duration, 3),
        "queue_s": round(result.queue_wait, 3),
        "attempts": result.attempts,
    }
    if result.error is None:
        logger.debug("llm.generation.done", extra={"fields": fields})
        return
    fields["error"] = str(result.error)
    fields["error_kind"] = type(result.error).__name__
    if result.error.__cause__ is not None:
        fields["cause"] = repr(result.error.__cause__)
    fields["url"] = engine.provider.base_url
    logger.warning("llm.generation.failed", extra={"fields": fields})


async def _in_slot(engine: Engine, job: Job) -> None:
    try:
        await engine.limiter.acquire()
    finally:
        engine.stats.queued -= 1
    try:
        engine.stats.enter()
        job.request_at = trio.current_time()
        await _with_timeouts(engine, job)
    finally:
        engine.stats.in_flight -= 1
        engine.limiter.release()


async def _with_timeouts(engine: Engine, job: Job) -> None:
    settings = engine.settings
    url = engine.provider.base_url
    with trio.move_on_after(settings.total_timeout) as total:
        with trio.move_on_after(settings.first_token_timeout) as first:
            job.first_token_scope = first
            await _with_retries(engine, job)
        if first.cancelled_caught:
            raise LLMTimeoutError(
                f"no first token from the LLM server at {url} within "
                f"{settings.first_token_timeout:g} s for model {job.chat.model!r} "
                "(LLM_FIRST_TOKEN_TIMEOUT)",
                user_message=N_("the model took too long to start answering; please try again"),
            )
    if total.cancelled_caught:
        raise LLMTimeoutError(
            f"the answer from the LLM server at {url} took longer than "
            f"{settings.total_timeout:g} s and was cut (LLM_TOTAL_TIMEOUT)",
            user_message=N_("the answer took too long and was cut off"),
        )


async def _with_retries(engine: Engine, job: Job) -> None:
    retry = 0
    while True:
        job.attempts += 1
        try:
            job.end = await engine.provider.chat(job.chat, job.on_delta)
            return
        except LLMUnreachableError as exc:
            if job.parts or retry >= engine.settings.max_retries:
                raise
            delay = engine.backoff.delay(retry)
            fields = {"attempt": job.attempts, "delay_s": delay, "error": str(exc)}
            logger.warning("llm.connect.retry", extra={"fields": fields})
            engine.stats.retries += 1
            retry += 1
            await trio.sleep(delay)
