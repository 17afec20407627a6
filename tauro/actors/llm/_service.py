"""The LLM subsystem as a plain object; ``LLMActor`` is a thin shell around it.

Kept apart from the actor so that it can be driven directly in tests with any
nursery, and so the actor only maps messages to methods.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import trio

from tauro.actors.llm._generation import Backoff, Engine, Job, run_generation
from tauro.actors.llm._messages import ChatMessage, Generate, LLMStatistics
from tauro.actors.llm._ollama import OllamaProvider
from tauro.actors.llm._openai import OpenAIProvider
from tauro.actors.llm._provider import ChatRequest, Provider, resolve_model
from tauro.actors.llm._stats import StatsRecorder
from tauro.actors.llm._stream import AnswerStream, GenerationState
from tauro.config import LLMSettings
from tauro.errors import LLMTimeoutError, ModelNotFoundError
from tauro.i18n import N_, lazy

logger = logging.getLogger("tauro.llm")

LIST_MODELS_TIMEOUT = 10.0  # seconds; short, as the actor's mailbox waits meanwhile
STREAM_BUFFER = 256  # deltas a slow consumer may fall behind before the generation waits

DEFAULT_BACKOFF = Backoff()

StartSoon = Callable[..., object]  # nursery.start_soon or ActorContext.start_soon


class LLMService:
    """Generations bounded by LLM_MAX_PARALLEL, the current model, statistics."""

    def __init__(
        self,
        settings: LLMSettings,
        provider: Provider,
        *,
        backoff: Backoff = DEFAULT_BACKOFF,
        buffer: int = STREAM_BUFFER,
    ) -> None:
        self._settings = settings
        self._engine = Engine(
            settings=settings,
            provider=provider,
            limiter=trio.CapacityLimiter(settings.max_parallel),
            stats=StatsRecorder(),
            backoff=backoff,
        )
        self._buffer = buffer
        self._model = settings.model

    @property
    def model(self) -> str:
        """The model used when a request names none."""
        return self._model

    @property
    def provider(self) -> Provider:
        return self._engine.provider

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
        """The installed models, within LIST_MODELS_TIMEOUT."""
        return await list_models(self.provider)

    async def set_model(self, name: str) -> str:
        """Switch the default model to an installed one; return its installed name."""
        installed = await self.list_models()
        resolved = resolve_model(name.strip(), installed)
        if resolved is None:
            raise self._not_installed(name.strip(), installed)
        previous, self._model = self._model, resolved
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

    def statistics(self) -> LLMStatistics:
        return self._engine.stats.snapshot(
            provider=self.provider.name,
            base_url=self.provider.base_url,
            model=self._model,
            max_parallel=self._settings.max_parallel,
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


def make_provider(settings: LLMSettings, client: httpx.AsyncClient) -> Provider:
    """The provider LLM_PROVIDER names, on ``client``."""
    if settings.provider == "openai":
        return OpenAIProvider(client, settings.host)
    return OllamaProvider(client, settings.host)


async def list_models(provider: Provider) -> tuple[str, ...]:
    """``provider.list_models()`` within LIST_MODELS_TIMEOUT."""
    with trio.move_on_after(LIST_MODELS_TIMEOUT):
        return await provider.list_models()
    raise LLMTimeoutError(
        f"the LLM server at {provider.base_url} did not list its models within "
        f"{LIST_MODELS_TIMEOUT:g} s",
        user_message=N_("the LLM server did not answer in time; please try again later"),
    )
