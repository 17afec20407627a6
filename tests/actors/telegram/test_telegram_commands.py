"""Command parsing, and the handlers against small fakes (end to end in test_telegram_actor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tauro.actors.llm import GetLLMStats, GetModel, ListModels, LLMStatistics, SetModel
from tauro.actors.memory import GetPreferences, GetStats, MemoryStatistics, SetPreference
from tauro.actors.telegram._access import AccessControl
from tauro.actors.telegram._commands import (
    BOT_PREFERENCES,
    Command,
    CommandContext,
    parse_command,
    run_command,
)
from tauro.actors.telegram._incoming import Incoming
from tauro.actors.voice import ChooseVoice, VoiceChoice, VoiceInfo
from tauro.config import AccessSettings
from tauro.errors import LLMUnreachableError, ModelNotFoundError


def test_parse_command() -> None:
    assert parse_command("hello", "bot") is None
    assert parse_command("/", "bot") is None
    assert parse_command("/Start", "bot") == Command("start")
    assert parse_command("/voice on", "bot") == Command("voice", ("on",))
    assert parse_command("/stats@Bot", "bot") == Command("stats")
    assert parse_command("/stats@other", "bot") == Command("stats", (), for_other_bot=True)


@dataclass
class Fake:
    replies: dict[type, Any] = field(default_factory=dict)
    asked: list[Any] = field(default_factory=list)

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        self.asked.append(message)
        reply = self.replies.get(type(message))
        if isinstance(reply, Exception):
            raise reply
        return reply


def context(
    memory: Fake,
    llm: Fake,
    *,
    voice: bool = True,
    language: str = "en",
    voices: Any = None,
    **more: Any,
) -> CommandContext:
    return CommandContext(
        memory=memory, llm=llm, access=AccessControl(AccessSettings(admin_user_ids=frozenset({7}))),
        voice_available=voice, telegram_stats=lambda: ["Telegram: ok"], language=language,
        voice=voices, **more,
    )  # fmt: skip


USER = Incoming(1, chat_id=42, user_id=42, text="/x", user_name="Ada")
ADMIN = Incoming(1, chat_id=7, user_id=7, text="/x")


async def test_voice_toggles_and_persists() -> None:
    memory = Fake({GetPreferences: {"voice": False}})
    reply = await run_command(Command("voice"), USER, context(memory, Fake()))
    assert "on" in reply
    assert memory.asked[-1] == SetPreference("42", "voice", True)
    reply = await run_command(Command("voice", ("off",)), USER, context(memory, Fake()))
    assert memory.asked[-1] == SetPreference("42", "voice", False)
    reply = await run_command(Command("voice", ("maybe",)), USER, context(memory, Fake()))
    assert "/voice on" in reply


async def test_voice_unavailable_says_why() -> None:
    reply = await run_command(Command("voice"), USER, context(Fake(), Fake(), voice=False))
    assert "ENABLE_TTS" in reply


async def test_model_show_switch_and_errors() -> None:
    stats = LLMStatistics(provider="ollama", base_url="u", model="llama3.2", max_parallel=1)
    llm = Fake(
        {GetModel: "llama3.2", ListModels: ("llama3.2:latest", "mistral:7b"), GetLLMStats: stats}
    )
    shown = await run_command(Command("model"), USER, context(Fake(), llm))
    assert "llama3.2" in shown
    assert "mistral:7b" in shown
    refused = await run_command(Command("model", ("mistral:7b",)), USER, context(Fake(), llm))
    assert "ADMIN_USER_IDS" in refused
    memory = Fake()
    llm.replies[SetModel] = "mistral:7b"
    switched = await run_command(Command("model", ("mistral",)), ADMIN, context(memory, llm))
    assert "mistral:7b" in switched
    assert memory.asked == [SetPreference(BOT_PREFERENCES, "model", "mistral:7b")]
    llm.replies[SetModel] = ModelNotFoundError("404", user_message="the model 'x' is not installed")
    missing = await run_command(Command("model", ("x",)), ADMIN, context(Fake(), llm))
    assert missing == "The model 'x' is not installed"
    llm.replies[ListModels] = LLMUnreachableError("down", user_message="not reachable")
    partial = await run_command(Command("model"), USER, context(Fake(), llm))
    assert "llama3.2" in partial
    assert "not reachable" in partial


async def test_model_says_which_model_really_answers() -> None:
    stats = LLMStatistics(
        provider="openai", base_url="u", model="no-such-model", max_parallel=1,
        answered_by="smollm2",
    )  # fmt: skip
    llm = Fake({GetModel: "no-such-model", ListModels: ("smollm2",), GetLLMStats: stats})
    shown = await run_command(Command("model"), USER, context(Fake(), llm))
    assert "Model: no-such-model (the server answers with smollm2)" in shown
    italian = await run_command(Command("model"), USER, context(Fake(), llm, language="it"))
    assert "Modello: no-such-model (il server risponde con smollm2)" in italian


async def test_stats_show_the_parallel_limit_and_where_it_came_from() -> None:
    memory_stats = MemoryStatistics(
        conversations=1, messages=2, conversation_messages=2, average_per_conversation=2.0,
        journal_appends=2, fsyncs=2, snapshots=0, bytes_written=100, errors=0, last_error=None,
    )  # fmt: skip
    stats = LLMStatistics(
        provider="openai", base_url="u", model="m", max_parallel=4,
        max_parallel_source="llama.cpp /props total_slots",
    )  # fmt: skip
    memory, llm = Fake({GetStats: memory_stats}), Fake({GetLLMStats: stats})
    shown = await run_command(Command("stats"), ADMIN, context(memory, llm))
    assert "0/4 generating (llama.cpp /props total_slots)" in shown


async def test_lang_shows_sets_and_checks() -> None:
    memory = Fake({GetPreferences: {}})
    shown = await run_command(Command("lang"), USER, context(memory, Fake(), language="it"))
    assert shown == "Con te parlo Italiano. Puoi cambiarla con /lang it, /lang en..."
    switched = await run_command(Command("lang", ("EN-us",)), USER, context(memory, Fake()))
    assert memory.asked[-1] == SetPreference("42", "lang", "en-us")
    assert switched.startswith("I speak English with you.")  # already in the new language
    german = await run_command(Command("lang", ("de",)), USER, context(memory, Fake()))
    assert german.startswith("Mit dir spreche ich Deutsch.")
    for bad in ("english please", "ru"):
        refused = await run_command(Command("lang", (bad,)), USER, context(memory, Fake()))
        assert f"I don't speak {bad} (yet)" in refused
        assert "en, de, es, fr, it, pt" in refused
    assert memory.asked[-1] == SetPreference("42", "lang", "de")  # nothing stored for those


async def test_lang_names_the_voice_or_its_fallback() -> None:
    voices = {"de": VoiceChoice(VoiceInfo("gmw/de", "German", ("de",)), "de", exact=True)}

    class Voices:
        async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
            assert isinstance(message, ChooseVoice)
            fallback = VoiceChoice(VoiceInfo("gmw/en", "English", ("en",)), message.language, False)
            return voices.get(message.language, fallback)

    memory = Fake({GetPreferences: {}})
    said = await run_command(
        Command("lang", ("de",)), USER, context(memory, Fake(), voices=Voices())
    )
    assert said.endswith("Sprachantworten sprechen mit der espeak-ng-Stimme German.")
    fixed = context(memory, Fake(), voices=Voices(), fixed_voice_language="xx")
    said = await run_command(Command("lang", ("de",)), USER, fixed)
    assert said.endswith(
        "espeak-ng hat keine Stimme für xx: Sprachantworten nutzen stattdessen English."
    )


async def test_only_admins_change_a_groups_language() -> None:
    memory = Fake({GetPreferences: {}})
    group = Incoming(1, chat_id=-5, chat_type="group", user_id=42, text="/lang de")
    refused = await run_command(
        Command("lang", ("de",)), group, context(memory, Fake(), admin_only_lang=True)
    )
    assert "Only the bot's admins (ADMIN_USER_IDS)" in refused
    assert not any(isinstance(m, SetPreference) for m in memory.asked)
    admin = Incoming(1, chat_id=-5, chat_type="group", user_id=7, text="/lang de")
    await run_command(
        Command("lang", ("de",)), admin, context(memory, Fake(), admin_only_lang=True)
    )
    assert memory.asked[-1] == SetPreference("-5", "lang", "de")


async def test_replies_in_the_context_language() -> None:
    memory = Fake({GetPreferences: {"voice": False}, GetStats: _stats(1)})
    it = context(memory, Fake(), language="it")
    assert "Fatto: ho dimenticato" in await run_command(Command("clear"), USER, it)
    assert await run_command(Command("stats"), USER, it) == "📊 1 messaggio in questa chat"
    memory.replies[GetStats] = _stats(2)
    assert await run_command(Command("stats"), USER, it) == "📊 2 messaggi in questa chat"
    assert "Risposte vocali attive" in await run_command(Command("voice"), USER, it)
    assert "Non conosco /boh" in await run_command(Command("boh"), USER, it)


def _stats(count: int) -> MemoryStatistics:
    return MemoryStatistics(
        conversations=1, messages=count, conversation_messages=count,
        average_per_conversation=float(count), journal_appends=0, fsyncs=0, snapshots=0,
        bytes_written=0, errors=0, last_error=None,
    )  # fmt: skip


async def test_unknown_command_points_to_help() -> None:
    assert "/help" in await run_command(Command("frobnicate"), USER, context(Fake(), Fake()))


async def test_start_greets_by_name() -> None:
    assert "Hi Ada!" in await run_command(Command("start"), USER, context(Fake(), Fake()))
    italian = await run_command(Command("start"), USER, context(Fake(), Fake(), language="it"))
    assert italian.startswith("🐂 Ciao Ada! Sono TauroBot")
