"""The built-in persona, said in the reader's language.

TauroBot 3.0's prompt was Italian ("Sei TauroBot..."), which is the Italian
translation of ``PERSONA``. While LLM_SYSTEM_PROMPT keeps its default, each
turn sends the persona in the reader's language; an operator's own prompt is
used as written, for everyone.
"""

from __future__ import annotations

from tauro.config import DEFAULT_SYSTEM_PROMPT
from tauro.i18n import N_, t

PERSONA = N_(
    "You are TauroBot, a friendly and helpful assistant. Answer in the user's "
    "language, clearly and concisely."
)


def persona_prompt(configured: str, language: str) -> str | None:
    """The system prompt a turn sends; None leaves the operator's prompt to the LLM actor."""
    if configured != DEFAULT_SYSTEM_PROMPT:
        return None
    return t(language, PERSONA)
