"""LLMActor: the LLM subsystem behind a mailbox.

The actor owns one pooled ``httpx.AsyncClient`` (made in ``on_start``, closed
in ``on_stop``) and an ``LLMService``. ``Generate`` is answered at once with
an ``AnswerStream``; the generation itself runs as a task of this actor
(``context.start_soon``), so it is cancelled when the actor stops and never
holds up the mailbox. Only ``ListModels`` and ``SetModel`` wait for the
server, for at most LIST_MODELS_TIMEOUT. At start a task asks the server what
it is (``LLMService.discover``: slots, context window, tokenizer, models).

The model an admin chose (``SetModel``) is persisted by whoever asked (memory
owns it); every start, a restart of this actor alone included, reads it back
through ``saved_model`` so the choice is never forgotten.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tauro.actors.llm._generation import CONNECT_BACKOFF
from tauro.actors.llm._http import make_client
from tauro.actors.llm._messages import (
    Generate,
    GetLLMStats,
    GetModel,
    ListModels,
    LLMMessage,
    SetModel,
)
from tauro.actors.llm._service import STREAM_BUFFER, LLMService, make_provider
from tauro.config import LLMSettings
from tauro.runtime import Actor, ActorContext, Backoff

# Reads the persisted model choice from its owner; None when there is none.
SavedModel = Callable[[ActorContext], Awaitable[str | None]]


class LLMActor(Actor[LLMMessage]):
    """Answers ``LLMMessage``s; see ``tauro.actors.llm`` for the protocol."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: Backoff = CONNECT_BACKOFF,
        buffer: int = STREAM_BUFFER,
        saved_model: SavedModel | None = None,
    ) -> None:
        self._settings = settings
        self._saved_model = saved_model
        self._transport = transport  # tests only: an httpx.MockTransport
        self._backoff = backoff
        self._buffer = buffer
        self._client: httpx.AsyncClient | None = None
        self._service: LLMService | None = None

    @property
    def service(self) -> LLMService:
        if self._service is None:
            raise RuntimeError("LLMActor is not running: no service before on_start")
        return self._service

    async def on_start(self) -> None:
        self._client = make_client(self._settings, self._transport)
        provider = make_provider(self._settings, self._client)
        self._service = LLMService(
            self._settings, provider, backoff=self._backoff, buffer=self._buffer, discover=True
        )

    async def prepare(self) -> None:
        """The model an admin chose, read from memory, which may still be loading a
        large history: the actors after this one start meanwhile (the web app too)."""
        if self._saved_model is not None:
            model = await self._saved_model(self.context)
            if model:
                self.service.restore_model(model)
        self.context.start_soon(self.service.discover)

    async def handle(self, message: LLMMessage) -> object:
        service = self.service
        match message:
            case Generate():
                return service.generate(message, self.context.start_soon)
            case ListModels():
                return await service.list_models()
            case SetModel(model=model):
                return await service.set_model(model)
            case GetModel():
                return service.model
            case GetLLMStats():
                return service.statistics()
        raise TypeError(f"LLMActor does not handle {type(message).__name__}")

    async def on_stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
