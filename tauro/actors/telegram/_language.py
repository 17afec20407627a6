"""Which language a Telegram chat is answered in.

A chat's /lang choice (memory preference ``lang``) wins. Otherwise a private
chat follows the sender's Telegram app (``language_code``; ``de-AT`` -> German)
and a group the operator's BOT_LANGUAGE, as does a language without a catalog.
Voice notes speak the same language, with the region kept (``/lang pt-br``),
unless the operator fixed TTS_LANGUAGE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tauro.actors.telegram._incoming import Incoming
from tauro.config import Settings
from tauro.i18n import supported


@dataclass(frozen=True, slots=True)
class ChatLanguage:
    text: str  # the catalog language of every text the bot writes
    voice: str  # the language tag voice notes speak


def chat_language(
    preferences: Mapping[str, object], incoming: Incoming, settings: Settings
) -> ChatLanguage:
    """The language for ``incoming``'s chat, from its preferences and its sender."""
    chosen = preferences.get("lang")
    chosen = chosen.lower() if isinstance(chosen, str) and chosen else None
    own = None if incoming.is_group else (incoming.language_code.lower() or None)
    default = settings.language.default
    text = supported(chosen) or supported(own) or default
    spoken = chosen or (own if supported(own) else None) or text
    return ChatLanguage(text, settings.voice.language or spoken)


def sender_language(incoming: Incoming, settings: Settings) -> str:
    """The sender's own language, for a refusal written before memory is asked."""
    return supported(incoming.language_code) or settings.language.default
