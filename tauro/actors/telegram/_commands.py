"""The bot's commands: /start, /help, /clear, /stats, /voice, /model, /lang.

As in the original, plus: the /voice choice is persisted (memory
preferences) instead of living in RAM; /stats shows global figures only to
admins (ADMIN_USER_IDS); /model shows the model and lets admins switch among
the installed ones, a choice kept across restarts; /lang shows and sets the
chat's language (texts, system prompt and voice; kept across restarts).
Replies are plain text, so nothing here can fail on Markdown. Every reply is
written in ``CommandContext.language``; the admin's figures in /stats are
operator diagnostics and stay English.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tauro.actors.llm import GetLLMStats, GetModel, ListModels, SetModel
from tauro.actors.memory import (
    Clear,
    GetPreferences,
    GetStats,
    MemoryStatistics,
    SetPreference,
)
from tauro.actors.telegram._access import AccessControl
from tauro.actors.telegram._incoming import Incoming
from tauro.actors.voice import ChooseVoice
from tauro.conversation import Asker
from tauro.errors import LLMError, VoiceError
from tauro.i18n import LANGUAGE_NAMES, N_, is_language_tag, languages, nt, supported, t, translate

# Preferences of the bot as a whole live under this memory key; it cannot
# collide with a Telegram chat id (a number) or a web login ("web:<id>").
BOT_PREFERENCES = "bot"

COMMANDS = (
    ("start", N_("welcome and the list of commands")),
    ("help", N_("what I can do")),
    ("clear", N_("forget our conversation")),
    ("stats", N_("how many messages we exchanged")),
    ("voice", N_("voice answers on or off (/voice on, /voice off)")),
    ("model", N_("the language model answering (admins: /model <name> to switch)")),
    ("lang", N_("my language (/lang it, /lang en...)")),
)


@dataclass(frozen=True)
class Command:
    """``/name@bot arg1 arg2``; ``for_other_bot`` when addressed to another bot."""

    name: str
    args: tuple[str, ...] = ()
    for_other_bot: bool = False


def parse_command(text: str, bot_username: str) -> Command | None:
    """The command in ``text``, or None when it is not one."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, *args = text.split()
    name, _, target = head[1:].partition("@")
    other = bool(target) and target.lower() != bot_username.lower()
    return Command(name.lower(), tuple(args), other)


@dataclass(frozen=True, kw_only=True)
class CommandContext:
    """What commands need: the actors, who is admin, the bot's own figures."""

    memory: Asker
    llm: Asker
    access: AccessControl
    voice_available: bool
    telegram_stats: Callable[[], list[str]]
    language: str  # the catalog language replies are written in
    voice: Asker | None = None
    fixed_voice_language: str = ""  # TTS_LANGUAGE when the operator set it
    admin_only_lang: bool = False  # a group: only the bot's admins change /lang


Handler = Callable[[Command, Incoming, CommandContext], Awaitable[str]]


async def run_command(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    """The reply to ``command`` (plain text, in ``ctx.language``)."""
    handler = _HANDLERS.get(command.name)
    if handler is None:
        return t(
            ctx.language,
            "I don't know /{command}. Send /help to see what I can do.",
            command=command.name,
        )
    return await handler(command, incoming, ctx)


def _command_list(language: str) -> str:
    return "\n".join(f"/{name} - {translate(text, language)}" for name, text in COMMANDS)


async def _start(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    if incoming.user_name:
        hello = t(ctx.language, "Hi {name}!", name=incoming.user_name)
    else:
        hello = t(ctx.language, "Hi!")
    intro = t(
        ctx.language,
        "I am TauroBot, an assistant running on a local language model. "
        "Write me anything and I will answer; I remember our conversation.",
    )
    return f"🐂 {hello} {intro}\n\n{_command_list(ctx.language)}"


async def _help(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    text = t(
        ctx.language,
        "Send me a text message and I answer it, as it is written. I read text only: "
        "stickers, photos, files and voice messages are not supported. In a group, "
        "mention me or reply to one of my messages.",
    )
    return f"🐂 {text}\n\n{_command_list(ctx.language)}"


async def _clear(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    await ctx.memory.ask(Clear(incoming.conversation))
    return "✅ " + t(
        ctx.language,
        "Done: I have forgotten our conversation. Your settings (/voice, /lang) stay.",
    )


async def _stats(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    stats = await ctx.memory.ask(GetStats(incoming.conversation))
    count = stats.conversation_messages
    lines = [
        "📊 "
        + nt(ctx.language, "{count} message in this chat", "{count} messages in this chat", count)
    ]
    if ctx.access.is_admin(incoming.user_id):
        lines += ["", t(ctx.language, "Bot (admin view):"), *_memory_lines(stats)]
        lines += await _llm_lines(ctx)
        lines += ctx.telegram_stats()
    return "\n".join(lines)


def _memory_lines(stats: MemoryStatistics) -> list[str]:
    return [
        f"Conversations: {stats.conversations}",
        f"Messages: {stats.messages}",
        f"Average per conversation: {stats.average_per_conversation:.1f}",
        f"Memory writes: {stats.journal_appends} appends, {stats.fsyncs} fsyncs, "
        f"{stats.snapshots} snapshots, {stats.errors} errors",
        *([f"Last memory error: {stats.last_error}"] if stats.last_error else []),
    ]


async def _llm_lines(ctx: CommandContext) -> list[str]:
    try:
        stats = await ctx.llm.ask(GetLLMStats())
    except LLMError as error:
        return [f"LLM: {translate(error.user_message, ctx.language)}"]
    return [
        f"LLM: {stats.model} at {stats.base_url} ({stats.provider})",
        f"Answers: {stats.completed} complete, {stats.cut} cut, {stats.failed} failed; "
        f"{stats.in_flight}/{stats.max_parallel} generating ({stats.max_parallel_source}), "
        f"{stats.queued} waiting",
        f"Time to first token: p50 {stats.time_to_first_token.p50:.2f} s, "
        f"p99 {stats.time_to_first_token.p99:.2f} s",
    ]


async def _voice(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    lang = ctx.language
    if not ctx.voice_available:
        return t(lang, "Voice answers are turned off on this bot (ENABLE_TTS).")
    preferences = await ctx.memory.ask(GetPreferences(incoming.conversation))
    current = preferences.get("voice") is True
    wanted = _on_off(command.args, default=not current)
    if wanted is None:
        return t(lang, "Use /voice on or /voice off (or /voice alone to switch).")
    await ctx.memory.ask(SetPreference(incoming.conversation, "voice", wanted))
    if wanted:
        return "🔊 " + t(
            lang, "Voice answers on: each answer also comes as a voice message. /voice off to stop."
        )
    return "🔇 " + t(lang, "Voice answers off. /voice on to hear them again.")


def _on_off(args: tuple[str, ...], *, default: bool) -> bool | None:
    if not args:
        return default
    return {"on": True, "off": False}.get(args[0].lower())


async def _model(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    if not command.args:
        return await _show_models(ctx)
    if not ctx.access.is_admin(incoming.user_id):
        return t(ctx.language, "Only the bot's admins (ADMIN_USER_IDS) can switch the model.")
    try:
        model = await ctx.llm.ask(SetModel(command.args[0]))
    except LLMError as error:
        return _sentence(translate(error.user_message, ctx.language))
    await ctx.memory.ask(SetPreference(BOT_PREFERENCES, "model", model))
    return t(
        ctx.language, "Model switched to {model} for everyone (kept after a restart).", model=model
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


async def _show_models(ctx: CommandContext) -> str:
    current = await _current_model(ctx)
    shown = t(ctx.language, "Model: {model}", model=current)
    try:
        installed = await ctx.llm.ask(ListModels())
    except LLMError as error:
        reason = translate(error.user_message, ctx.language)
        return (
            shown
            + "\n"
            + t(ctx.language, "(could not list the installed models: {reason})", reason=reason)
        )
    names = ", ".join(installed) if installed else t(ctx.language, "none")
    return shown + "\n" + t(ctx.language, "Installed: {models}", models=names)


async def _current_model(ctx: CommandContext) -> str:
    """The configured model, and the one that really answers when the server says so."""
    current = await ctx.llm.ask(GetModel())
    answered_by = (await ctx.llm.ask(GetLLMStats())).answered_by
    if answered_by and answered_by != current:
        return t(
            ctx.language,
            "{model} (the server answers with {served})",
            model=current,
            served=answered_by,
        )
    return current


async def _lang(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    if not command.args:
        return await _show_language(ctx, ctx.language, _voice_tag(ctx, ctx.language))
    code = command.args[0].lower().replace("_", "-")
    if not is_language_tag(code) or supported(code) is None:
        return t(
            ctx.language,
            "I don't speak {code} (yet). I can speak: {languages}. Try /lang it or /lang en.",
            code=command.args[0],
            languages=", ".join(languages()),
        )
    if ctx.admin_only_lang and not ctx.access.is_admin(incoming.user_id):
        return t(
            ctx.language,
            "Only the bot's admins (ADMIN_USER_IDS) can change the language of a group.",
        )
    await ctx.memory.ask(SetPreference(incoming.conversation, "lang", code))
    language = supported(code) or ctx.language
    return await _show_language(ctx, language, _voice_tag(ctx, code))


def _voice_tag(ctx: CommandContext, tag: str) -> str:
    return ctx.fixed_voice_language or tag


async def _show_language(ctx: CommandContext, language: str, voice_tag: str) -> str:
    """The language and, when voice is on offer, the espeak-ng voice that will speak."""
    name = LANGUAGE_NAMES.get(language, language)
    lines = [
        t(
            language,
            "I speak {name} with you. Change it with /lang it, /lang en...",
            name=name,
        )
    ]
    voice = await _voice_line(ctx, language, voice_tag)
    return "\n".join([*lines, *([voice] if voice else [])])


async def _voice_line(ctx: CommandContext, language: str, voice_tag: str) -> str:
    if ctx.voice is None:
        return ""
    try:
        choice = await ctx.voice.ask(ChooseVoice(voice_tag))
    except VoiceError:
        return t(language, "Voice answers cannot be made right now.")
    if choice.exact:
        return t(
            language,
            "Voice answers speak with the espeak-ng voice {voice}.",
            voice=choice.voice.name,
        )
    return t(
        language,
        "espeak-ng has no voice for {code}: voice answers use {voice} instead.",
        code=voice_tag,
        voice=choice.voice.name,
    )


_HANDLERS: dict[str, Handler] = {
    "start": _start,
    "help": _help,
    "clear": _clear,
    "stats": _stats,
    "voice": _voice,
    "model": _model,
    "lang": _lang,
}
