"""The context budget: what of a conversation fits the model's window."""

from __future__ import annotations

import logging

import pytest

from tauro.actors.llm import ChatMessage, ChatRequest, ServerInfo
from tauro.actors.llm._context import (
    MESSAGE_OVERHEAD,
    TOO_LONG_CONVERSATION,
    TOO_LONG_MESSAGE,
    ContextBudget,
    estimate_tokens,
    halve_history,
)
from tauro.actors.llm._provider import ChatEnd, DeltaSink
from tauro.config import LLMSettings
from tauro.errors import LLMContextError


class WordCounter:
    """A provider whose tokenizer counts words, and counts its calls."""

    name = "openai"
    base_url = "http://fake"

    def __init__(self, tokenizer: bool = True) -> None:
        self.tokenizer = tokenizer
        self.calls = 0

    async def chat(self, request: ChatRequest, on_delta: DeltaSink) -> ChatEnd:
        raise NotImplementedError

    async def list_models(self) -> tuple[str, ...]:
        return ()

    async def server_info(self) -> ServerInfo:
        return ServerInfo()

    async def count_tokens(self, model: str, text: str) -> int | None:
        self.calls += 1
        return len(text.split()) if self.tokenizer else None


def words(n: int) -> str:
    return " ".join(["w"] * n)


def request(*sizes: int, system: int | None = 10) -> ChatRequest:
    messages = [ChatMessage("system", words(system))] if system is not None else []
    messages += [
        ChatMessage("user" if i % 2 == 0 else "assistant", words(n)) for i, n in enumerate(sizes)
    ]
    if messages[-1].role != "user":
        messages.append(ChatMessage("user", words(1)))
    return ChatRequest(
        model="m", messages=tuple(messages), temperature=0.7, max_tokens=50, context_window=0
    )


def budget(window: int = 200, max_tokens: int = 50, tokenizer: bool = True) -> ContextBudget:
    settings = LLMSettings(context_window=window, max_tokens=max_tokens)
    return ContextBudget(settings, WordCounter(tokenizer))


async def test_everything_is_sent_when_it_fits() -> None:
    chat = request(20, 20, 20)
    fitted, tokens, dropped = await budget().fit(chat)
    assert fitted == chat
    assert dropped == 0
    assert tokens == 10 + 60 + 4 * MESSAGE_OVERHEAD


async def test_the_oldest_messages_go_first_and_the_system_prompt_stays() -> None:
    chat = request(40, 40, 40, 40, 30)  # system 14 + 44 * 4 + 34 = 224 > 150
    fitted, tokens, dropped = await budget(window=200, max_tokens=50).fit(chat)
    assert fitted.messages[0] == chat.messages[0]
    assert fitted.messages[1:] == chat.messages[-3:]
    assert dropped == 2
    assert tokens <= 150  # 200 less the 50 kept for the answer


async def test_room_for_the_answer_is_at_most_half_the_window() -> None:
    context = budget(window=200, max_tokens=2000)
    assert (context.reserve, context.budget) == (100, 100)


async def test_a_single_message_too_long_is_refused_clearly() -> None:
    with pytest.raises(LLMContextError) as caught:
        await budget(window=200).fit(request(500))
    assert caught.value.user_message == TOO_LONG_MESSAGE
    assert "LLM_MAX_TOKENS" in str(caught.value)


async def test_the_newest_message_always_goes_even_when_nothing_else_fits() -> None:
    chat = request(140, 20, 120)
    fitted, _, dropped = await budget(window=200).fit(chat)
    assert fitted.messages == (chat.messages[0], chat.messages[-1])
    assert dropped == 2


async def test_server_counts_are_cached_per_text() -> None:
    provider = WordCounter()
    context = ContextBudget(LLMSettings(context_window=1000), provider)
    await context.fit(request(5, 6, 7))
    first = provider.calls
    await context.fit(request(5, 6, 7, 8, 9))
    assert provider.calls == first + 2  # only the two new messages were counted


async def test_without_a_tokenizer_the_estimate_counts() -> None:
    context = budget(tokenizer=False)
    chat = request(3)
    _, tokens, _ = await context.fit(chat)
    expected = sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD for m in chat.messages)
    assert tokens == expected
    assert context.tokenizer == "estimate"


async def test_a_refusal_teaches_a_smaller_window(caplog: pytest.LogCaptureFixture) -> None:
    context = budget(window=4096, max_tokens=100)
    with caplog.at_level(logging.WARNING, logger="tauro.llm"):
        context.learn_refusal(2000)
    (record,) = [r for r in caplog.records if r.getMessage() == "llm.context.learned"]
    assert record.fields["learned"] == 1600  # type: ignore[attr-defined]
    assert context.window == 1500 + 100
    assert "learned" in context.source
    assert "LLM_CONTEXT_WINDOW" in context.source
    assert context.too_long(2000).user_message == TOO_LONG_CONVERSATION


def test_halving_keeps_the_system_prompt_and_the_newer_half() -> None:
    chat = request(1, 2, 3, 4, 5)
    halved = halve_history(chat)
    assert halved is not None
    assert halved.messages == (chat.messages[0], *chat.messages[3:])
    assert halve_history(request(5)) is None
