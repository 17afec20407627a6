"""One generation, run as a task of the LLM actor: slot, timeouts, retries, result.

Layers, from the outside in:

1. the stream's cancel scope (the caller closed the stream);
2. a slot of the ``ParallelLimit`` (LLM_MAX_PARALLEL), waited for in order;
3. the total timeout (LLM_TOTAL_TIMEOUT) around every attempt;
4. the first-token timeout (LLM_FIRST_TOKEN_TIMEOUT), lifted by the first text;
5. the context budget: the history that fits the model's window (counted
   inside the slot, as a tokenize call interrupts llama-cpp-python's answer);
6. retries with exponential backoff after connection failures only, and
   never once text has arrived: a retry then would repeat the answer; and one
   retry with half the history when the server refuses a large prompt.

Whatever happens, the task ends by storing a ``GenerationResult`` with the
text that arrived, then closing the channel; nothing here awaits after a
cancellation, so it also holds when the actor stops.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

import trio

from tauro.actors.llm._context import ContextBudget, halve_history
from tauro.actors.llm._messages import GenerationResult
from tauro.actors.llm._parallel import ParallelLimit, Sample
from tauro.actors.llm._provider import ChatEnd, ChatRequest, Provider, resolve_model
from tauro.actors.llm._stats import StatsRecorder
from tauro.actors.llm._stream import GenerationState
from tauro.config import LLMSettings
from tauro.errors import (
    LLMCutError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
)
from tauro.i18n import N_
from tauro.runtime import Backoff

# Words of a server's refusal that say the prompt was too long for its context.
_CONTEXT_WORDS = ("context", "too long", "exceed", "maximum")

logger = logging.getLogger("tauro.llm")

# Between connection attempts (LLM_MAX_RETRIES): 0.5 s, 1 s, 2 s ... at most 8 s.
CONNECT_BACKOFF = Backoff(initial=0.5, maximum=8.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Engine:
    """What every generation shares: the provider, the slots, the counters."""

    settings: LLMSettings
    provider: Provider
    limit: ParallelLimit
    context: ContextBudget
    stats: StatsRecorder
    backoff: Backoff = CONNECT_BACKOFF
    discovery: Discovery = field(default_factory=lambda: Discovery(done=True))


class Discovery:
    """Set once the server said what it is; generations wait for it (bounded)."""

    def __init__(self, *, done: bool) -> None:
        self.finished = trio.Event()
        if done:
            self.finished.set()


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
    in_flight: int = 0  # answers at the server when this one was sent, itself included
    limit: int = 0  # the parallel limit when it was sent
    chat_at: float | None = None  # when the last chat request went out
    prompt_tokens: int = 0  # as counted for the context budget
    dropped: int = 0  # history messages left out to fit the window
    halved: bool = False  # retried once with half the history
    parallel: ParallelLimit | None = None  # told of the first token as it arrives

    async def on_delta(self, text: str) -> None:
        if self.first_token_at is None:
            self.first_token_at = trio.current_time()
            if self.first_token_scope is not None:
                self.first_token_scope.deadline = math.inf
            if self.parallel is not None:
                self.parallel.observe(_sample(self))  # the signal is known now
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
            answered_by=end.model if end else None,
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
    _notice_other_model(engine, result)
    engine.stats.record(result, engine.provider.name)
    if job.first_token_at is None or _interrupted(job.error):
        engine.limit.observe(replace(_sample(job), first_token=None))  # (told at the first token)
    _log(engine, job, result)
    job.send.close()


def _notice_other_model(engine: Engine, result: GenerationResult) -> None:
    """WARNING, once per change, when the server says another model answered."""
    answered_by = result.answered_by
    if answered_by is None or engine.stats.answered_by.get(result.model) == answered_by:
        return
    if resolve_model(result.model, (answered_by,)) is not None:
        return
    fields = {
        "model": result.model,
        "answered_by": answered_by,
        "hint": "the server ignores the model name: set OLLAMA_MODEL (or /model) to "
        "the model it serves",
    }
    logger.warning("llm.model.mismatch", extra={"fields": fields})


def _sample(job: Job) -> Sample:
    first = None
    if job.first_token_at is not None and job.chat_at is not None:
        first = job.first_token_at - job.chat_at
    error = job.error
    return Sample(
        first_token=first,
        in_flight=job.in_flight,
        limit=job.limit,
        interrupted=_interrupted(error),
        timed_out=isinstance(error, LLMTimeoutError) and job.first_token_at is None,
    )


def _interrupted(error: LLMError | None) -> bool:
    return isinstance(error, LLMCutError) and error.interrupted


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
        "prompt_tokens": job.prompt_tokens,
        "done_reason": result.done_reason,
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
    limiter = engine.limit.limiter
    try:
        await engine.discovery.finished.wait()
        await limiter.acquire()
    finally:
        engine.stats.queued -= 1
    try:
        engine.stats.enter()
        job.in_flight, job.limit = engine.stats.in_flight, engine.limit.value
        job.parallel = engine.limit
        job.request_at = trio.current_time()
        await _with_timeouts(engine, job)
    finally:
        engine.stats.in_flight -= 1
        limiter.release()


async def _with_timeouts(engine: Engine, job: Job) -> None:
    settings = engine.settings
    url = engine.provider.base_url
    with trio.move_on_after(settings.total_timeout) as total:
        with trio.move_on_after(settings.first_token_timeout) as first:
            job.first_token_scope = first
            await _fit_context(engine, job)
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


async def _fit_context(engine: Engine, job: Job) -> None:
    """Leave out the oldest history that does not fit the context window."""
    job.chat, job.prompt_tokens, job.dropped = await engine.context.fit(job.chat)
    if job.dropped:
        fields = {
            "conversation": job.conversation,
            "dropped": job.dropped,
            "prompt_tokens": job.prompt_tokens,
            "window": engine.context.window,
        }
        logger.info("llm.context.trimmed", extra={"fields": fields})


async def _with_retries(engine: Engine, job: Job) -> None:
    retry = 0
    while True:
        job.attempts += 1
        job.chat_at = trio.current_time()
        try:
            job.end = await engine.provider.chat(job.chat, job.on_delta)
            return
        except LLMResponseError as exc:
            if job.parts or not _refused_for_size(engine, job, exc):
                raise
            await _halve(engine, job, exc)
        except LLMUnreachableError as exc:
            if job.parts or retry >= engine.settings.max_retries:
                raise
            delay = engine.backoff.delay(retry)
            fields = {"attempt": job.attempts, "delay_s": delay, "error": str(exc)}
            logger.warning("llm.connect.retry", extra={"fields": fields})
            engine.stats.retries += 1
            retry += 1
            await trio.sleep(delay)


def _refused_for_size(engine: Engine, job: Job, error: LLMResponseError) -> bool:
    """Whether the server, answering nothing, refused the prompt for its size.

    A large prompt (half the window or more) refused with an error status or
    an empty 200 counts; so does an empty 200 (llama-cpp-python's refusal) to a
    prompt with history to leave out, and a 4xx whose words say so (llama.cpp,
    vLLM: "... exceeds the context ..."). An interruption or a dropped
    connection is never about size.
    """
    if isinstance(error, LLMCutError):
        if not error.empty:  # interrupted, or the connection dropped: not about size
            return False
        large = job.prompt_tokens * 2 >= engine.context.window
        return large or halve_history(job.chat) is not None
    if job.prompt_tokens * 2 >= engine.context.window:
        return True
    text = str(error).lower()
    return 400 <= _status_in(text) < 500 and any(w in text for w in _CONTEXT_WORDS)


def _status_in(text: str) -> int:
    marker = " answered "
    if marker not in text:
        return 0
    word = text.split(marker, 1)[1][:3]
    return int(word) if word.isdigit() else 0


async def _halve(engine: Engine, job: Job, error: LLMResponseError) -> None:
    """Retry once with the older half of the history left out, or give up clearly."""
    engine.context.learn_refusal(job.prompt_tokens)
    halved = None if job.halved else halve_history(job.chat)
    if halved is None:
        alone = halve_history(job.chat) is None  # nothing but the newest message
        raise engine.context.too_long(job.prompt_tokens, alone=alone) from error
    fields = {
        "conversation": job.conversation,
        "prompt_tokens": job.prompt_tokens,
        "messages": len(job.chat.messages),
        "kept": len(halved.messages),
        "error": str(error),
    }
    logger.warning("llm.context.retry", extra={"fields": fields})
    job.chat, job.halved = halved, True
    _, job.prompt_tokens, _ = await engine.context.fit(job.chat)
