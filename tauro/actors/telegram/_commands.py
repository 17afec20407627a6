"""The bot's commands: /start, /help, /clear, /stats, /voice, /model, /lang.

As in the original, plus: the /voice choice is persisted (memory
preferences) instead of living in RAM; /stats shows global figures only to
admins (ADMIN_USER_IDS); /model shows the model and lets admins switch among
the installed ones, a choice kept across restarts; /lang sets the language of
voice answers for the chat. Replies are plain text, so nothing here can fail
on Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tauro.actors.llm import GetLLMStats, GetModel, ListModels, LLMStatistics, SetModel
from tauro.actors.memory import (
    Clear,
    GetPreferences,
    GetStats,
    MemoryStatistics,
    SetPreference,
)
from tauro.actors.telegram._access import AccessControl
from tauro.actors.telegram._incoming import Incoming
from tauro.conversation import Asker
from tauro.errors import LLMError

# Preferences of the bot as a whole live under this memory key; it cannot
# collide with a Telegram chat id (a number) or a web login ("web:<id>").
BOT_PREFERENCES = "bot"

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")

COMMANDS = (
    ("start", "welcome and the list of commands"),
    ("help", "what I can do"),
    ("clear", "forget our conversation"),
    ("stats", "how many messages we exchanged"),
    ("voice", "voice answers on or off (/voice on, /voice off)"),
    ("model", "the language model answering (admins: /model <name> to switch)"),
    ("lang", "language of voice answers (/lang it, /lang en...)"),
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
    default_language: str
    telegram_stats: Callable[[], list[str]]


Handler = Callable[[Command, Incoming, CommandContext], Awaitable[str]]


async def run_command(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    """The reply to ``command`` (plain text)."""
    handler = _HANDLERS.get(command.name)
    if handler is None:
        return f"I don't know /{command.name}. Send /help to see what I can do."
    return await handler(command, incoming, ctx)


def _command_list() -> str:
    return "\n".join(f"/{name} - {text}" for name, text in COMMANDS)


async def _start(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    name = f", {incoming.user_name}" if incoming.user_name else ""
    return (
        f"Ciao{name}! I am TauroBot, an assistant running on a local language model. "
        "Write me anything and I will answer; I remember our conversation.\n\n" + _command_list()
    )


async def _help(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    return (
        "Send me a text message and I answer it, as it is written. I read text only: "
        "stickers, photos, files and voice messages are not supported. In a group, "
        "mention me or reply to one of my messages.\n\n" + _command_list()
    )


async def _clear(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    await ctx.memory.ask(Clear(incoming.conversation))
    return "Done: I have forgotten our conversation. Your settings (/voice, /lang) stay."


async def _stats(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    stats = await ctx.memory.ask(GetStats(incoming.conversation))
    assert isinstance(stats, MemoryStatistics)
    lines = [f"Messages in this chat: {stats.conversation_messages}"]
    if ctx.access.is_admin(incoming.user_id):
        lines += ["", "Bot (admin view):", *_memory_lines(stats)]
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
        return [f"LLM: {error.user_message}"]
    assert isinstance(stats, LLMStatistics)
    return [
        f"LLM: {stats.model} at {stats.base_url} ({stats.provider})",
        f"Answers: {stats.completed} complete, {stats.cut} cut, {stats.failed} failed; "
        f"{stats.in_flight}/{stats.max_parallel} generating ({stats.max_parallel_source}), "
        f"{stats.queued} waiting",
        f"Time to first token: p50 {stats.time_to_first_token.p50:.2f} s, "
        f"p99 {stats.time_to_first_token.p99:.2f} s",
    ]


async def _voice(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    if not ctx.voice_available:
        return "Voice answers are turned off on this bot (ENABLE_TTS)."
    preferences = await ctx.memory.ask(GetPreferences(incoming.conversation))
    current = preferences.get("voice") is True
    wanted = _on_off(command.args, default=not current)
    if wanted is None:
        return "Use /voice on or /voice off (or /voice alone to switch)."
    await ctx.memory.ask(SetPreference(incoming.conversation, "voice", wanted))
    if wanted:
        return "Voice answers on: each answer also comes as a voice message. /voice off to stop."
    return "Voice answers off. /voice on to hear them again."


def _on_off(args: tuple[str, ...], *, default: bool) -> bool | None:
    if not args:
        return default
    return {"on": True, "off": False}.get(args[0].lower())


async def _model(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    if not command.args:
        return await _show_models(ctx)
    if not ctx.access.is_admin(incoming.user_id):
        return "Only the bot's admins (ADMIN_USER_IDS) can switch the model."
    try:
        model = await ctx.llm.ask(SetModel(command.args[0]))
    except LLMError as error:
        return error.user_message
    await ctx.memory.ask(SetPreference(BOT_PREFERENCES, "model", str(model)))
    return f"Model switched to {model} for everyone (kept after a restart)."


async def _show_models(ctx: CommandContext) -> str:
    current = await _current_model(ctx)
    try:
        installed = await ctx.llm.ask(ListModels())
    except LLMError as error:
        return f"Model: {current}\n(could not list the installed models: {error.user_message})"
    names = ", ".join(installed) if installed else "none"
    return f"Model: {current}\nInstalled: {names}"


async def _current_model(ctx: CommandContext) -> str:
    """The configured model, and the one that really answers when the server says so."""
    current = str(await ctx.llm.ask(GetModel()))
    stats = await ctx.llm.ask(GetLLMStats())
    answered_by = stats.answered_by if isinstance(stats, LLMStatistics) else None
    if answered_by and answered_by != current:
        return f"{current} (the server answers with {answered_by})"
    return current


async def _lang(command: Command, incoming: Incoming, ctx: CommandContext) -> str:
    preferences = await ctx.memory.ask(GetPreferences(incoming.conversation))
    if not command.args:
        current = preferences.get("lang") or ctx.default_language
        return f"Voice answers in this chat speak: {current}. Change it with /lang en, /lang it..."
    code = command.args[0].lower()
    if not _LANGUAGE.match(code):
        return f"{command.args[0]!r} is not a language code; try /lang it or /lang en-us."
    await ctx.memory.ask(SetPreference(incoming.conversation, "lang", code))
    return f"Voice answers in this chat will speak {code}."


_HANDLERS: dict[str, Handler] = {
    "start": _start,
    "help": _help,
    "clear": _clear,
    "stats": _stats,
    "voice": _voice,
    "model": _model,
    "lang": _lang,
}
