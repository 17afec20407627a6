"""The LLM subsystem as a plain object; ``LLMActor`` is a thin shell around it.

Kept apart from the actor so that it can be driven directly in tests with any
nursery, and so the actor only maps messages to methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import trio

from tauro.actors.llm._context import ContextBudget
from tauro.actors.llm._generation import CONNECT_BACKOFF, Discovery, Engine, Job, run_generation
from tauro.actors.llm._messages import ChatMessage, Generate, LLMStatistics
from tauro.actors.llm._ollama import OllamaProvider
from tauro.actors.llm._openai import OpenAIProvider
from tauro.actors.llm._parallel import ParallelLimit
from tauro.actors.llm._provider import ChatRequest, Provider, ServerInfo, resolve_model
from tauro.actors.llm._stats import StatsRecorder
from tauro.actors.llm._stream import AnswerStream, GenerationState
from tauro.config import LLMSettings
from tauro.errors import LLMError, LLMTimeoutError, ModelNotFoundError
from tauro.i18n import N_, lazy
from tauro.runtime import Backoff

logger = logging.getLogger("tauro.llm")

LIST_MODELS_TIMEOUT = 10.0  # seconds; short, as the actor's mailbox waits meanwhile
STREAM_BUFFER = 256  # deltas a slow consumer may fall behind before the generation waits


StartSoon = Callable[..., object]  # nursery.start_soon or ActorContext.start_soon


class LLMService:
    """Generations bounded by LLM_MAX_PARALLEL, the current model, statistics."""

    def __init__(
        self,
        settings: LLMSettings,
        provider: Provider,
        *,
        backoff: Backoff = CONNECT_BACKOFF,
        buffer: int = STREAM_BUFFER,
        discover: bool = False,
    ) -> None:
        """``discover``: generations wait until ``discover()`` has asked the server."""
        self._settings = settings
        self._engine = Engine(
            settings=settings,
            provider=provider,
            limit=ParallelLimit(settings.max_parallel),
            context=ContextBudget(settings, provider),
            stats=StatsRecorder(),
            backoff=backoff,
            discovery=Discovery(done=not discover),
        )
        self._buffer = buffer
        self._model = settings.model
        self._model_setting = "OLLAMA_MODEL"  # where the current model was chosen
        self._interrupting = False  # any request stops the answer in progress (discover)
        self._installed: tuple[str, ...] | None = None  # the model list last read

    @property
    def model(self) -> str:
        """The model used when a request names none."""
        return self._model

    @property
    def provider(self) -> Provider:
        return self._engine.provider

    @property
    def parallel(self) -> ParallelLimit:
        return self._engine.limit

    @property
    def context(self) -> ContextBudget:
        return self._engine.context

    async def discover(self) -> None:
        """Ask the server what it is (slots, window, tokenizer, models); log what is off.

        Run once at start, in the background: until it is done, generations
        wait (an ``auto`` limit would be 1 and the window LLM_CONTEXT_WINDOW).
        The model check is part of it: on a server that any request interrupts
        (llama-cpp-python), a model list sent once answers stream would cut
        one. Never raises.
        """
        try:
            with trio.move_on_after(LIST_MODELS_TIMEOUT):
                await self._apply_server_info()
            await self.check_model(self._model, self._model_setting)
        finally:
            self._engine.discovery.finished.set()

    async def _apply_server_info(self) -> None:
        info = await self.provider.server_info()
        apply_server_info(info, self.parallel, self.context)
        self._interrupting = info.interrupting
        fields = {
            "max_parallel": self.parallel.value,
            "max_parallel_source": self.parallel.source,
            "context_window": self.context.window,
            "context_source": self.context.source,
            "tokenizer": self.context.tokenizer,
        }
        logger.info("llm.server.discovered", extra={"fields": fields})

    async def check_model(self, name: str, setting: str) -> bool:
        """Compare ``name`` with the server's list; a WARNING naming ``setting`` if absent."""
        try:
            installed = await self.list_models()
        except LLMError as error:
            fields = {"model": name, "error": str(error)}
            logger.warning("llm.model.unchecked", extra={"fields": fields})
            return False
        if resolve_model(name, installed) is not None:
            return True
        fields = {
            "setting": setting,
            "model": name,
            "installed": ", ".join(installed) or "none",
            "hint": f"set {setting} to one of the installed models",
        }
        logger.warning("llm.model.missing", extra={"fields": fields})
        return False

    def generate(self, request: Generate, start_soon: StartSoon) -> AnswerStream:
        """Start a generation as a task of ``start_soon`` and return its stream.

        Never waits: the task queues for a slot, so the caller's first
        ``async for`` step is where it waits (that is the backpressure).
        """
        send, receive = trio.open_memory_channel[str](self._buffer)
        state = GenerationState()
        job = Job(self._chat_request(request), send, state, request.conversation)
        self._engine.stats.started += 1
        self._engine.stats.queued += 1
        start_soon(run_generation, self._engine, job)
        return AnswerStream(receive, state, job.chat.model)

    async def list_models(self) -> tuple[str, ...]:
        """The installed models, within LIST_MODELS_TIMEOUT.

        On a server that any request interrupts, the list is asked for only
        between answers (see ``_between_answers``).
        """
        if self._interrupting:
            installed = await self._between_answers()
        else:
            installed = await list_models(self.provider)
        self._installed = installed
        return installed

    async def _between_answers(self) -> tuple[str, ...]:
        """The model list from a server that runs one request at a time.

        While answers are in flight or queued, the list last read is the
        answer (llama-cpp-python's models are fixed when it starts); without
        one, the request waits for a slot of the parallel limit, in order, like
        an answer, so it is never sent while one streams (under ``auto``'s 1).
        """
        stats = self._engine.stats
        if self._installed is not None and (stats.in_flight or stats.queued):
            return self._installed
        limiter, borrower = self.parallel.limiter, object()
        with trio.move_on_after(LIST_MODELS_TIMEOUT):
            await limiter.acquire_on_behalf_of(borrower)
            try:
                return await list_models(self.provider)
            finally:
                limiter.release_on_behalf_of(borrower)
        raise list_models_timeout(self.provider)

    async def set_model(self, name: str) -> str:
        """Switch the default model to an installed one; return its installed name."""
        installed = await self.list_models()
        resolved = resolve_model(name.strip(), installed)
        if resolved is None:
            fields = {"setting": "/model", "model": name.strip(),
                      "installed": ", ".join(installed) or "none"}  # fmt: skip
            logger.warning("llm.model.missing", extra={"fields": fields})
            raise self._not_installed(name.strip(), installed)
        previous, self._model = self._model, resolved
        self._model_setting = "/model"
        fields = {"previous": previous, "model": resolved}
        logger.info("llm.model.switched", extra={"fields": fields})
        return resolved

    def restore_model(self, name: str) -> None:
        """Use the model chosen before a restart, without asking the server.

        It was checked when it was chosen; asking again would make the start
        depend on the server being up. A model removed since then fails each
        answer with ``ModelNotFoundError``, which says what to do.
        """
        if name != self._model:
            logger.info("llm.model.restored", extra={"fields": {"model": name}})
        self._model = name
        self._model_setting = "/model (the choice kept in memory)"

    def statistics(self) -> LLMStatistics:
        return self._engine.stats.snapshot(
            provider=self.provider.name,
            base_url=self.provider.base_url,
            model=self._model,
            max_parallel=self.parallel.value,
            max_parallel_source=self.parallel.source,
            context_window=self.context.window,
            context_source=self.context.source,
            tokenizer=self.context.tokenizer,
        )

    def _chat_request(self, request: Generate) -> ChatRequest:
        messages = request.messages
        prompt = self._settings.system_prompt
        if prompt and messages[0].role != "system":
            messages = (ChatMessage("system", prompt), *messages)
        return ChatRequest(
            model=request.model or self._model,
            messages=messages,
            temperature=self._settings.temperature,
            max_tokens=self._settings.max_tokens,
            context_window=self._settings.context_window,
        )

    def _not_installed(self, name: str, installed: tuple[str, ...]) -> ModelNotFoundError:
        listed = ", ".join(installed) or "none"
        hint = (
            lazy("run `ollama pull {name}`", name=name)
            if self.provider.name == "ollama"
            else lazy("load it first")
        )
        return ModelNotFoundError(
            f"the model {name!r} is not installed on the LLM server at "
            f"{self.provider.base_url}; installed: {listed}",
            user_message=lazy(
                "the model '{name}' is not installed: {hint}. Installed: {listed}",
                name=name,
                hint=hint,
                listed=listed,
            ),
        )


def apply_server_info(info: ServerInfo, parallel: ParallelLimit, context: ContextBudget) -> None:
    """Take what the server said: its slots (for ``auto``), its window, its tokenizer."""
    if info.slots is not None:
        parallel.use_server_slots(info.slots, info.slots_source, queues=info.queues)
    if info.context_window is not None:
        context.use_server_window(info.context_window, info.context_source)
    if info.tokenizer is not None:
        context.use_tokenizer(info.tokenizer)


def make_provider(settings: LLMSettings, client: httpx.AsyncClient) -> Provider:
    """The provider LLM_PROVIDER names, on ``client``."""
    if settings.provider == "openai":
        return OpenAIProvider(client, settings.host)
    return OllamaProvider(client, settings.host)


async def list_models(provider: Provider) -> tuple[str, ...]:
    """``provider.list_models()`` within LIST_MODELS_TIMEOUT."""
    with trio.move_on_after(LIST_MODELS_TIMEOUT):
        return await provider.list_models()
    raise list_models_timeout(provider)


def list_models_timeout(provider: Provider) -> LLMTimeoutError:
    return LLMTimeoutError(
        f"the LLM server at {provider.base_url} did not list its models within "
        f"{LIST_MODELS_TIMEOUT:g} s",
        user_message=N_("the LLM server did not answer in time; please try again later"),
    )
