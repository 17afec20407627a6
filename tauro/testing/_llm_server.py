"""``LlmServerEmulator``: a local Ollama server (plus the OpenAI-compatible API).

The emulator object holds the scripted behaviour (installed models, answers,
latency, faults) and the records (requests, concurrency); ``open_llm_server`` serves
it on a loopback port inside the caller's nursery. Latency is slept on trio's clock,
so a ``MockClock`` makes slow answers instant to test. ``parallel`` mimics
``OLLAMA_NUM_PARALLEL``: requests beyond it wait for a slot, as Ollama queues them.

Behaviours of real OpenAI-compatible servers, each off by default:

- ``slots_in_props``: ``GET /props`` as llama.cpp's ``llama-server`` answers it
  (``total_slots`` = ``parallel``, ``default_generation_settings.n_ctx``);
- ``tokenizer``: ``"llama.cpp"`` serves ``POST /tokenize``, ``"llama-cpp-python"``
  serves ``POST /extras/tokenize`` and ``/extras/tokenize/count``, ``"vllm"`` serves
  vLLM's ``POST /tokenize`` and lists each model's ``max_model_len`` (``context_window``
  or 4096) in ``GET /v1/models``, as vLLM does; a token is a word
  (see ``tokenize``), and a message costs its tokens plus PROMPT_OVERHEAD;
- ``context_window``: a prompt with more tokens is refused, as ``overflow`` says:
  ``"empty"`` (llama-cpp-python: 200 and an empty body, after which it closes the
  connection: its app failed once the response had started) or ``"error"`` (llama.cpp:
  400 ``exceed_context_size_error``);
- ``interrupting``: llama-cpp-python's server stops a running answer when any other
  request arrives (a chat, a model list, a token count: each takes the model's lock),
  ending its stream with ``data: [DONE]`` and no ``finish_reason``;
- ``served_model``: the server answers with this one model whatever is asked (as
  llama-cpp-python does), names it in every answer and lists only it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import trio

from tauro.testing._llm_server_script import (
    FaultKind,
    FaultQueue,
    LlmFault,
    LlmRequest,
    ModelInfo,
    echo_answer,
    fit_tokens,
    tokenize,
)

__all__ = ["Generation", "LlmServerEmulator", "LlmStatistics"]

logger = logging.getLogger("tauro.testing.llm_server")
DEFAULT_MODELS = ("llama3.2:latest", "mistral:7b")
PROMPT_OVERHEAD = 4  # tokens of a chat template's role markers, per message
DEFAULT_REPORTED_WINDOW = 4096  # n_ctx / max_model_len told when no window is set
Tokenizer = Literal["llama.cpp", "llama-cpp-python", "vllm"]
Overflow = Literal["empty", "error"]


@dataclass(frozen=True)
class LlmStatistics:
    requests: int
    generations: int
    completed: int
    active: int
    max_concurrent: int
    faults_served: int
    tokens_streamed: int
    interrupted: int = 0  # answers an interrupting server stopped for a newer request


@dataclass
class Generation:
    """One answer being produced: its tokens, its fault, its pacing."""

    request: LlmRequest
    tokens: list[str]
    done_reason: str
    fault: LlmFault | None
    first_token_latency: float
    token_latency: float
    interrupted: bool = False  # another request stopped it (interrupting servers)

    async def events(self) -> AsyncIterator[tuple[str, str]]:
        """("token", text)..., then ("done", reason); faults interleave as
        ("garbage", ""), ("error", message) or ("cut", "") as scripted."""
        for index, token in enumerate(self.tokens):
            async for event in self._fault_at(index):
                yield event
                if event[0] in ("cut", "error"):
                    return
            await trio.sleep(self.first_token_latency if index == 0 else self.token_latency)
            yield "token", token
        async for event in self._fault_at(len(self.tokens)):
            yield event
            if event[0] in ("cut", "error"):
                return
        yield "done", self.done_reason

    async def _fault_at(self, index: int) -> AsyncIterator[tuple[str, str]]:
        fault = self.fault
        if fault is None or min(fault.after_chunks, len(self.tokens)) != index:
            return
        if fault.kind == "hang":
            await trio.sleep_forever()
        kinds = {"cut": "cut", "garbage": "garbage", "error_line": "error"}
        if fault.kind in kinds:
            yield kinds[fault.kind], fault.message


class LlmServerEmulator:
    """Scripted Ollama / OpenAI-compatible chat server."""

    def __init__(
        self,
        models: Iterable[ModelInfo | str] = DEFAULT_MODELS,
        *,
        answer: Callable[[LlmRequest], str] = echo_answer,
        first_token_latency: float = 0.0,
        token_latency: float = 0.0,
        answer_tokens: int | None = None,
        parallel: int | None = None,
        slots_in_props: bool = False,
        tokenizer: Tokenizer | None = None,
        context_window: int | None = None,
        overflow: Overflow = "empty",
        interrupting: bool = False,
        served_model: str | None = None,
    ) -> None:
        self.slots_in_props = slots_in_props
        self.tokenizer = tokenizer
        self.context_window = context_window
        self.overflow = overflow
        self.interrupting = interrupting
        self.served_model = served_model
        self.interrupted = 0  # answers stopped by a newer request
        self._streaming: list[Generation] = []
        self.models = [ModelInfo.of(m) for m in models]
        self.answer = answer
        self.first_token_latency = first_token_latency
        self.token_latency = token_latency
        self.answer_tokens = answer_tokens
        self.requests: list[LlmRequest] = []
        self.url = ""  # set once served: "http://127.0.0.1:P" (OpenAI API under /v1)
        self.epoch = time.time() - trio.current_time()
        self._scripted: deque[str] = deque()
        self._faults = FaultQueue()
        self._changed = trio.Event()
        self._counts = {"generations": 0, "completed": 0, "active": 0, "max": 0, "tokens": 0}
        self.set_parallel(parallel)

    # ------------------------------------------------------------- scripting
    def set_models(self, models: Iterable[ModelInfo | str]) -> None:
        self.models = [ModelInfo.of(m) for m in models]

    def set_latency(self, first_token: float | None = None, per_token: float | None = None) -> None:
        """Seconds (trio clock) before the first token and between later tokens."""
        if first_token is not None:
            self.first_token_latency = first_token
        if per_token is not None:
            self.token_latency = per_token

    def set_parallel(self, parallel: int | None) -> None:
        """At most ``parallel`` generations at once (None: unlimited); others wait."""
        self.parallel = parallel
        self._slots = trio.Semaphore(parallel) if parallel else None

    def script(self, *answers: str) -> None:
        """Answer the next requests with these texts, in order, then by ``answer``."""
        self._scripted.extend(answers)

    def inject_fault(
        self,
        kind: FaultKind,
        *,
        after_chunks: int = 0,
        status: int = 500,
        message: str = LlmFault.message,
        times: int = 1,
    ) -> None:
        """Fail the next ``times`` chat requests; see ``LlmFault`` for the kinds."""
        self._faults.faults.append(LlmFault(kind, after_chunks, status, message, times))

    def reset_statistics(self) -> None:
        """Forget recorded requests and counters (between benchmark runs)."""
        self.requests.clear()
        active = self._counts["active"]
        self._counts = {"generations": 0, "completed": 0, "active": active, "max": active}
        self._counts["tokens"] = 0
        self._faults.served = 0
        self.interrupted = 0

    # -------------------------------------------------------------- serving
    def find_model(self, name: str) -> ModelInfo | None:
        """Ollama's lookup: an untagged name means ``:latest``."""
        if self.served_model is not None:
            return ModelInfo(self.served_model)
        wanted = name if ":" in name else f"{name}:latest"
        return next((m for m in self.models if m.name in (name, wanted)), None)

    def record(self, request: LlmRequest) -> None:
        self.requests.append(request)
        self._pulse()

    def count_tokens(self, text: str) -> int:
        return len(tokenize(text))

    @property
    def reported_window(self) -> int:
        """The context window the server tells (``context_window``, else 4096)."""
        return self.context_window or DEFAULT_REPORTED_WINDOW

    def prompt_tokens(self, request: LlmRequest) -> int:
        """The prompt's tokens as this server counts them (see PROMPT_OVERHEAD)."""
        return sum(self.count_tokens(str(m.get("content", ""))) + PROMPT_OVERHEAD
                   for m in request.messages)  # fmt: skip

    def overflows(self, request: LlmRequest) -> bool:
        window = self.context_window
        return window is not None and self.prompt_tokens(request) > window

    def interrupt_running(self) -> None:
        """An interrupting server stops every answer in progress for the newcomer."""
        if self.interrupting:
            for generation in self._streaming:
                generation.interrupted = True

    @asynccontextmanager
    async def streaming(self, generation: Generation) -> AsyncIterator[None]:
        """Mark ``generation`` as running, so a newer request can interrupt it."""
        self._streaming.append(generation)
        try:
            yield
        finally:
            self._streaming.remove(generation)
            if generation.interrupted:
                self.interrupted += 1

    def take_fault(self) -> LlmFault | None:
        return self._faults.take()

    def plan(self, request: LlmRequest, fault: LlmFault | None, limit: int | None) -> Generation:
        """The answer to ``request``: scripted text first, else ``answer(request)``."""
        text = self._scripted.popleft() if self._scripted else self.answer(request)
        tokens, reason = fit_tokens(tokenize(text), self.answer_tokens), "stop"
        if limit is not None and 0 <= limit < len(tokens):
            tokens, reason = tokens[:limit], "length"
        return Generation(request, tokens, reason, fault, self.first_token_latency,
                          self.token_latency)  # fmt: skip

    @asynccontextmanager
    async def generating(self) -> AsyncIterator[None]:
        """Hold a generation slot while an answer is produced (tracks concurrency)."""
        async with self._slots if self._slots is not None else contextlib.nullcontext():
            counts = self._counts
            counts["generations"] += 1
            counts["active"] += 1
            counts["max"] = max(counts["max"], counts["active"])
            try:
                yield
            finally:
                counts["active"] -= 1
                self._pulse()

    def finished(self, tokens: int) -> None:
        self._counts["completed"] += 1
        self._counts["tokens"] += tokens

    def _pulse(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ------------------------------------------------------------ inspection
    @property
    def max_concurrent(self) -> int:
        return self._counts["max"]

    def statistics(self) -> LlmStatistics:
        counts = self._counts
        return LlmStatistics(
            requests=len(self.requests), generations=counts["generations"],
            completed=counts["completed"], active=counts["active"],
            max_concurrent=counts["max"], faults_served=self._faults.served,
            tokens_streamed=counts["tokens"], interrupted=self.interrupted,
        )  # fmt: skip

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on each request and each end).

        Raises ``trio.TooSlowError`` after ``timeout`` seconds of trio's clock.
        """
        with trio.fail_after(timeout):
            while not predicate():
                await self._changed.wait()
