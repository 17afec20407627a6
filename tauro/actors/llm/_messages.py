"""The LLM actor's protocol: what callers send it and what they get back.

Every message is a frozen dataclass validated on construction, so a malformed
request fails in the caller's task, with the caller's traceback, instead of
inside the actor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from tauro.errors import LLMError
from tauro.runtime import Request

if TYPE_CHECKING:  # the reply to Generate; _stream imports this module
    from tauro.actors.llm._stream import AnswerStream  # noqa: F401 (named in a base class)

Role = Literal["system", "user", "assistant"]
ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the conversation sent to the model."""

    role: Role
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"ChatMessage.role must be one of {sorted(ROLES)}, not {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"ChatMessage.content must be str, not {type(self.content).__name__}")


@dataclass(frozen=True, slots=True)
class Generate(Request["AnswerStream"]):
    """Ask for an answer; the reply is an ``AnswerStream`` (see the package docs).

    ``model`` overrides the current model for this request only (a user's
    preference); ``None`` uses the current one. When ``messages`` does not start
    with a system message, the configured LLM_SYSTEM_PROMPT is put in front.
    ``conversation`` only labels the operator's log lines.
    """

    messages: tuple[ChatMessage, ...]
    model: str | None = None
    conversation: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.messages, tuple) or not self.messages:
            raise ValueError("Generate.messages must be a non-empty tuple of ChatMessage")
        if not all(isinstance(m, ChatMessage) for m in self.messages):
            raise TypeError("Generate.messages must contain only ChatMessage")
        if self.model is not None and not self.model.strip():
            raise ValueError("Generate.model must be None or a non-empty model name")


@dataclass(frozen=True, slots=True)
class ListModels(Request[tuple[str, ...]]):
    """Ask for the models installed on the server -> ``tuple[str, ...]``."""


@dataclass(frozen=True, slots=True)
class GetModel(Request[str]):
    """Ask for the model used when ``Generate.model`` is None -> ``str``."""


@dataclass(frozen=True, slots=True)
class SetModel(Request[str]):
    """Switch the default model at run time -> the installed name (``str``).

    Raises ``ModelNotFoundError`` when the model is not installed. Only admins
    may switch: the caller checks that, this actor does not know users.
    """

    model: str

    def __post_init__(self) -> None:
        if not self.model.strip():
            raise ValueError("SetModel.model must be a non-empty model name")


@dataclass(frozen=True, slots=True)
class GetLLMStats(Request["LLMStatistics"]):
    """Ask for a ``LLMStatistics`` snapshot (for /stats and the web status page)."""


LLMMessage = Generate | ListModels | GetModel | SetModel | GetLLMStats


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationResult:
    """How one generation ended; ``text`` is everything that arrived.

    ``complete`` is True only when the server said the answer was finished.
    When it is False, ``error`` says why (a cut stream, a timeout, a garbage
    line...), or is None when the caller closed the stream early or the
    service stopped. Durations are seconds on trio's clock.
    """

    text: str
    complete: bool
    error: LLMError | None
    model: str
    done_reason: str | None = None  # "stop", "length" (LLM_MAX_TOKENS reached)...
    answered_by: str | None = None  # the model the server says answered, if it says
    prompt_tokens: int | None = None
    completion_tokens: int = 0  # the server's count, else the number of deltas
    queue_wait: float = 0.0  # waiting for one of LLM_MAX_PARALLEL slots
    time_to_first_token: float | None = None  # from the request to the first text
    duration: float = 0.0  # from the request to the end
    attempts: int = 0  # connection attempts (1 + retries)


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyStatistics:
    """Percentiles over the last ``count`` samples, in seconds (0.0 when empty)."""

    count: int = 0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyHistogram:
    """Cumulative latency buckets since start, for Prometheus (``le`` in seconds).

    ``kind`` is "first_token" or "generation"; ``buckets`` pairs each upper
    bound with the count of samples at or below it (the last bound is +Inf).
    """

    kind: str
    provider: str
    model: str
    buckets: tuple[tuple[float, int], ...]
    sum: float
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMStatistics:
    """A snapshot of the LLM actor's counters and latencies.

    ``max_parallel`` is the limit in use and ``max_parallel_source`` where it
    came from (LLM_MAX_PARALLEL, the server's word, or the adaptive rule);
    ``answered_by`` is the model the server last named in an answer for
    ``model`` (None until one said).
    """

    provider: str
    base_url: str
    model: str
    max_parallel: int
    max_parallel_source: str = "LLM_MAX_PARALLEL"
    context_window: int = 0
    context_source: str = "LLM_CONTEXT_WINDOW"
    tokenizer: str = "estimate"
    answered_by: str | None = None
    in_flight: int = 0
    queued: int = 0
    max_in_flight: int = 0  # high-water mark, never above max_parallel
    started: int = 0
    completed: int = 0
    cut: int = 0  # ended early with part of an answer
    failed: int = 0  # ended with an error and no text
    cancelled: int = 0  # closed by the caller or stopped with the service
    retries: int = 0
    completion_tokens: int = 0
    last_error: str | None = None
    time_to_first_token: LatencyStatistics = field(default_factory=LatencyStatistics)
    total: LatencyStatistics = field(default_factory=LatencyStatistics)
    histograms: tuple[LatencyHistogram, ...] = ()
