"""The built-in persona in the reader's language; an operator's prompt as written."""

from __future__ import annotations

from tauro.config import DEFAULT_SYSTEM_PROMPT
from tauro.conversation import PERSONA, persona_prompt


def test_the_default_persona_is_said_in_the_readers_language() -> None:
    assert persona_prompt(DEFAULT_SYSTEM_PROMPT, "it") == DEFAULT_SYSTEM_PROMPT  # 3.0's prompt
    assert persona_prompt(DEFAULT_SYSTEM_PROMPT, "en") == PERSONA
    german = persona_prompt(DEFAULT_SYSTEM_PROMPT, "de")
    assert german is not None
    assert german.startswith("Du bist TauroBot")


def test_an_operators_prompt_is_left_to_the_llm_actor() -> None:
    assert persona_prompt("You are a pirate.", "it") is None
    assert persona_prompt("", "it") is None  # no system prompt at all stays so
