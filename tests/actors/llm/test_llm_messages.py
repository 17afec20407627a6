"""The LLM protocol's messages validate themselves on construction."""

from __future__ import annotations

from typing import get_args

import pytest

from tauro.actors.llm import ChatMessage, Generate, LLMMessage, SetModel, _messages
from tauro.runtime import Request
from tauro.runtime.testing import unfrozen_classes


def test_chat_message_roles() -> None:
    for role in ("system", "user", "assistant"):
        assert ChatMessage(role, "x").role == role
    with pytest.raises(ValueError, match="role"):
        ChatMessage("bot", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="content"):
        ChatMessage("user", None)  # type: ignore[arg-type]


def test_generate_needs_a_tuple_of_chat_messages() -> None:
    message = ChatMessage("user", "hi")
    assert Generate((message,)).model is None
    with pytest.raises(ValueError, match="non-empty tuple"):
        Generate(())
    with pytest.raises(ValueError, match="non-empty tuple"):
        Generate([message])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="only ChatMessage"):
        Generate(({"role": "user", "content": "hi"},))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model"):
        Generate((message,), model=" ")


def test_set_model_needs_a_name() -> None:
    with pytest.raises(ValueError, match="model"):
        SetModel("")


def test_every_message_is_a_frozen_dataclass() -> None:
    """Messages cross tasks and actors: none may change after it is sent."""
    assert hasattr(_messages, "Generate")
    assert unfrozen_classes(_messages) == []


def test_every_message_names_the_type_of_its_reply() -> None:
    """Each is a ``Request``, so ``ask`` returns its reply's type to the caller."""
    assert [m.__name__ for m in get_args(LLMMessage) if not issubclass(m, Request)] == []
