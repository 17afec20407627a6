"""What of a conversation is sent: as much recent history as the context window holds.

The turn hands over the last LLM_CONTEXT_MESSAGES stored messages; this budget
keeps the system prompt, the newest message, and as many of the messages before
it as fit, newest first, in the model's context window less the room kept for
the answer (LLM_MAX_TOKENS, at most half the window).

It lives in the LLM actor rather than in the turn because everything it needs
belongs to the server: its tokenizer, its window, and its refusals (the one
retry with half the history happens after the server said no).

Token counts come from the server's tokenizer where it has one (llama.cpp
``/tokenize``, vLLM ``/tokenize``, llama-cpp-python ``/extras/tokenize/count``),
cached per text; elsewhere (Ollama, LM Studio) they are estimated as one token
per ESTIMATE_CHARS_PER_TOKEN characters, an overestimate for English and most
European languages (real tokenizers average 3.5 to 4.5). Every message costs
MESSAGE_OVERHEAD tokens more for the chat template's role markers.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import replace

from tauro.actors.llm._messages import ChatMessage
from tauro.actors.llm._provider import ChatRequest, Provider
from tauro.config import LLMSettings
from tauro.errors import LLMContextError
from tauro.i18n import N_

logger = logging.getLogger("tauro.llm")

ESTIMATE_CHARS_PER_TOKEN = 3
MESSAGE_OVERHEAD = 4  # tokens of role markers a chat template adds per message
CACHE_SIZE = 4096  # token counts remembered (history repeats from turn to turn)

TOO_LONG_CONVERSATION = N_("this conversation is too long for the model; /clear starts a new one")
TOO_LONG_MESSAGE = N_("your message is too long for the model; please send a shorter one")


def estimate_tokens(text: str) -> int:
    """The documented estimate used when the server has no tokenizer."""
    return math.ceil(len(text) / ESTIMATE_CHARS_PER_TOKEN)


class ContextBudget:
    """The context window in use, where it came from, and the fitting of requests."""

    def __init__(self, settings: LLMSettings, provider: Provider) -> None:
        self._settings = settings
        self._provider = provider
        self.window = settings.context_window
        self.source = "LLM_CONTEXT_WINDOW"
        self.tokenizer = "estimate"
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()

    @property
    def reserve(self) -> int:
        """Tokens kept free for the answer."""
        return min(self._settings.max_tokens, self.window // 2)

    @property
    def budget(self) -> int:
        """Tokens the prompt may take."""
        return self.window - self.reserve

    def use_server_window(self, window: int, source: str) -> None:
        self.window, self.source = window, source

    def use_tokenizer(self, endpoint: str) -> None:
        self.tokenizer = endpoint

    def learn_refusal(self, prompt_tokens: int) -> None:
        """The server refused ``prompt_tokens``: the window is smaller than believed."""
        window = (3 * prompt_tokens) // 4 + self.reserve  # a prompt a quarter smaller
        if 0 < window < self.window:
            fields = {"window": self.window, "learned": window, "source": self.source}
            logger.warning("llm.context.learned", extra={"fields": fields})
            self.window = window
            self.source = (
                f"learned: the server refused {prompt_tokens} prompt tokens; "
                "set LLM_CONTEXT_WINDOW to the model's real window"
            )

    async def count(self, model: str, message: ChatMessage) -> int:
        """The tokens ``message`` takes in a prompt."""
        return await self._count_text(model, message.content) + MESSAGE_OVERHEAD

    async def _count_text(self, model: str, text: str) -> int:
        key = (model, text)
        if (cached := self._counts.get(key)) is not None:
            self._counts.move_to_end(key)
            return cached
        counted = await self._provider.count_tokens(model, text)
        if counted is None:
            return estimate_tokens(text)
        self._counts[key] = counted
        if len(self._counts) > CACHE_SIZE:
            self._counts.popitem(last=False)
        return counted

    async def fit(self, chat: ChatRequest) -> tuple[ChatRequest, int, int]:
        """``chat`` with the history that fits; its prompt tokens and messages dropped.

        Raises ``LLMContextError`` when the system prompt and the newest message
        alone do not fit.
        """
        system, history = split_system(chat.messages)
        used = sum([await self.count(chat.model, m) for m in system])
        used += await self.count(chat.model, history[-1])
        if used > self.budget:
            raise LLMContextError(
                f"the newest message takes {used} tokens with the system prompt, more than "
                f"the {self.budget} that a context window of {self.window} tokens "
                f"({self.source}) leaves after {self.reserve} for the answer (LLM_MAX_TOKENS)",
                user_message=TOO_LONG_MESSAGE,
            )
        kept = 1
        for message in reversed(history[:-1]):
            cost = await self.count(chat.model, message)
            if used + cost > self.budget:
                break
            used, kept = used + cost, kept + 1
        if kept == len(history):
            return chat, used, 0
        return replace(chat, messages=(*system, *history[-kept:])), used, len(history) - kept

    def too_long(self, prompt_tokens: int, *, alone: bool = False) -> LLMContextError:
        """The server refused the prompt for its size and there is no more to leave out.

        ``alone``: the prompt was the newest message alone (with the system
        prompt): a shorter message helps, /clear would not.
        """
        where = f"{prompt_tokens} prompt tokens, context window {self.window} from {self.source}"
        if alone:
            return LLMContextError(
                f"the LLM server refused the newest message for its size ({where})",
                user_message=TOO_LONG_MESSAGE,
            )
        return LLMContextError(
            f"the LLM server refused the conversation for its size even with half the "
            f"history ({where})",
            user_message=TOO_LONG_CONVERSATION,
        )


def split_system(
    messages: tuple[ChatMessage, ...],
) -> tuple[tuple[ChatMessage, ...], tuple[ChatMessage, ...]]:
    """The leading system messages, and the conversation after them (never empty)."""
    index = 0
    while index < len(messages) - 1 and messages[index].role == "system":
        index += 1
    return messages[:index], messages[index:]


def halve_history(chat: ChatRequest) -> ChatRequest | None:
    """``chat`` with the older half of its history left out; None if nothing to leave."""
    system, history = split_system(chat.messages)
    if len(history) <= 1:
        return None
    return replace(chat, messages=(*system, *history[len(history) // 2 :]))
