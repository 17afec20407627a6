"""The one narrow interface between the LLM actor and a server's HTTP API.

A provider turns a ``ChatRequest`` into text deltas handed to a callback, and
lists installed models. Both providers (Ollama, OpenAI-compatible) raise only
``tauro.errors.LLMError`` subclasses; the actor adds what is common to both:
the concurrency bound, timeouts, retries and statistics. A callback rather
than an async generator keeps cancellation simple: nothing is suspended inside
an ``async with client.stream(...)`` block owned by somebody else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from tauro.actors.llm._messages import ChatMessage

DeltaSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRequest:
    """Everything a provider needs for one streamed chat completion."""

    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float
    max_tokens: int
    context_window: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatEnd:
    """The server's own account of a finished answer."""

    done_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None  # the model the server says answered (its "model" field)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerInfo:
    """What a server says about itself; None where it says nothing.

    ``*_source`` name where each value came from, for ``tauro check`` and
    /api/status ("llama.cpp /props total_slots", ...).
    """

    slots: int | None = None
    slots_source: str = ""
    queues: bool = False  # requests beyond the slots wait at the server, harmlessly
    interrupting: bool = False  # any request (a model list too) stops the answer in progress
    context_window: int | None = None
    context_source: str = ""
    tokenizer: str | None = None  # the endpoint counting tokens, e.g. "/tokenize"


class Provider(Protocol):
    """What the LLM actor needs from a server API."""

    @property
    def name(self) -> str:
        """``"ollama"`` or ``"openai"``, as LLM_PROVIDER."""
        ...

    @property
    def base_url(self) -> str:
        """The server's URL without credentials, for messages."""
        ...

    async def chat(self, request: ChatRequest, on_delta: DeltaSink) -> ChatEnd:
        """Stream one answer, awaiting ``on_delta`` for each non-empty text piece.

        Returns only when the server said the answer is finished; raises an
        ``LLMError`` otherwise (a stream that ends early is an error).
        """
        ...

    async def list_models(self) -> tuple[str, ...]:
        """The names of the installed models, sorted."""
        ...

    async def server_info(self) -> ServerInfo:
        """Slots, context window and tokenizer, as far as the server tells."""
        ...

    async def count_tokens(self, model: str, text: str) -> int | None:
        """``text``'s tokens by the server's own tokenizer; None when it has none."""
        ...


def resolve_model(name: str, installed: Iterable[str]) -> str | None:
    """The installed name for ``name``, or None when it is not installed.

    Ollama names carry a tag (``llama2:latest``), and ``llama2`` means the
    ``latest`` tag, as ``ollama run`` understands it.
    """
    names = tuple(installed)
    for candidate in (name, f"{name}:latest"):
        if candidate in names:
            return candidate
    if name.endswith(":latest") and name.removesuffix(":latest") in names:
        return name.removesuffix(":latest")
    return None
