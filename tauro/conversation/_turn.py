"""One conversation turn, the same for every channel.

Order, and why:

1. ``BeginTurn``: one round trip to memory before the first token. It records
   the user message unless its ``update_id`` is stored already (a channel that
   redelivers, Telegram after a crash, must neither record a message twice nor
   answer it twice) and returns the context and the preferences (voice flag,
   language, model). ``answered`` ends the turn at once. The reply means the
   message is durable, so the channel may now confirm it to its source
   (``on_recorded``).
2. ``Generate``; every chunk goes to ``sink.partial`` with the text so far.
3. ``Append`` the answer with ``reply_to`` *before* ``sink.final``. With
   ``track_delivery`` (Telegram) it is recorded as not yet delivered, and the
   channel marks it delivered (``NoteShown``) once the chat shows all of it:
   after a crash in between, the next start shows the recorded answer (editing
   the messages already sent) instead of losing it or generating it again.
4. Voice, if the conversation asked for it: ``voice_pending`` (the channel
   shows "recording"), synthesis, ``voice``. A voice failure is logged, the
   user gets ``voice_failed`` with a short note, and the text answer already
   delivered stays as it is.

An ``LLMError`` goes to ``sink.failed`` with its ``user_message``; whatever text
arrived before it is recorded as the answer (so the turn counts as answered),
and a turn that produced nothing stays pending for the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import trio

from tauro.actors.llm import ChatMessage, Generate
from tauro.actors.memory import Append, BeginTurn, StoredMessage, TurnStart
from tauro.actors.voice import Synthesize
from tauro.conversation._sink import Asker, TurnSink
from tauro.errors import LLMError, TauroError
from tauro.i18n import N_, t

log = logging.getLogger("tauro.conversation")

TurnStatus = Literal["answered", "failed", "skipped"]

_INTERRUPTED = N_("The answer was interrupted before it was complete. Please ask again.")
LENGTH_NOTICE = N_("The answer reached the length limit (LLM_MAX_TOKENS) and stops here.")
NO_VOICE = N_("I could not make the voice note this time.")
# What a voice note can fail with: our errors (synthesis, the voice actor's ask,
# the channel's upload) and the disk (a note file already gone).
_VOICE_ERRORS = (TauroError, OSError)


@dataclass(frozen=True, kw_only=True)
class TurnRefs:
    """The actors a turn talks to, and the few settings it needs.

    ``voice`` is ``None`` when the channel cannot play voice or TTS is disabled.
    """

    memory: Asker
    llm: Asker
    voice: Asker | None = None
    context_messages: int = 10
    voice_language: str = "it"  # the reader's language, or TTS_LANGUAGE when fixed
    language: str = "en"  # the reader's language, for the notices the turn adds itself
    system_prompt: str | None = None  # None: the LLM actor's LLM_SYSTEM_PROMPT


@dataclass(frozen=True)
class TurnOutcome:
    """What happened; ``answer`` is the recorded answer text (may be partial)."""

    status: TurnStatus
    answer: str = ""
    error: str | None = None  # the user-facing message of a failure
    voice_sent: bool = False
    first_token_at: float | None = None  # trio.current_time() of the first chunk


@dataclass(frozen=True)
class _Prepared:
    messages: tuple[ChatMessage, ...]
    model: str | None
    voice: bool
    language: str


async def run_turn(
    refs: TurnRefs,
    conversation: str,
    text: str,
    sink: TurnSink,
    *,
    update_id: int | None = None,
    on_recorded: Callable[[], None] | None = None,
    track_delivery: bool = False,
) -> TurnOutcome:
    """Answer ``text`` from ``conversation`` through ``sink``; see the module doc.

    ``on_recorded`` runs once the user message is durable (or was already);
    memory errors propagate (the channel decides what the user sees), LLM
    errors end in ``sink.failed``. ``track_delivery`` records the answer as
    not yet delivered (step 3); the channel then owes memory a ``NoteShown``.
    """
    limit = max(refs.context_messages, 1)
    begun = await refs.memory.ask(BeginTurn(conversation, text, limit, update_id=update_id))
    _notify(on_recorded)
    if begun.status == "answered":
        return TurnOutcome("skipped")
    await sink.thinking()
    prepared = _prepare(refs, begun, text, update_id)
    delivered = False if track_delivery and update_id is not None else None
    return await _answer(refs, conversation, sink, prepared, _Reply(update_id, delivered))


def _notify(on_recorded: Callable[[], None] | None) -> None:
    if on_recorded is not None:
        on_recorded()


def _prepare(refs: TurnRefs, begun: TurnStart, text: str, update_id: int | None) -> _Prepared:
    preferences = begun.preferences
    model = preferences.get("model")
    messages = _context_messages(begun.context, text, update_id)
    if refs.system_prompt:
        messages = (ChatMessage("system", refs.system_prompt), *messages)
    return _Prepared(
        messages=messages,
        model=model if isinstance(model, str) and model else None,
        voice=preferences.get("voice") is True and refs.voice is not None,
        language=refs.voice_language,
    )


def _context_messages(
    stored: tuple[StoredMessage, ...], text: str, update_id: int | None
) -> tuple[ChatMessage, ...]:
    """The stored context, ending with the user's message.

    A turn finished after a crash may not be the newest stored message: what
    came after it is left out, and if it fell outside the context window it is
    put last, where the model expects the question.
    """
    if update_id is not None:
        for index, message in enumerate(stored):
            if message.role == "user" and message.update_id == update_id:
                stored = stored[: index + 1]
                break
    messages = [ChatMessage("user" if m.role == "user" else "assistant", m.content) for m in stored]
    if not messages or messages[-1].role != "user" or messages[-1].content != text:
        messages.append(ChatMessage("user", text))
    return tuple(messages)


@dataclass(frozen=True)
class _Reply:
    """What the answer record says about its question and its delivery."""

    to: int | None
    delivered: bool | None


async def _answer(
    refs: TurnRefs,
    conversation: str,
    sink: TurnSink,
    prepared: _Prepared,
    reply: _Reply,
) -> TurnOutcome:
    collected = _Collected()
    error = await _generate(refs, conversation, sink, prepared, collected)
    if error is not None:
        return await _fail(refs, conversation, sink, collected, reply, error)
    answer = collected.text
    await _record_answer(refs, conversation, answer, reply)
    await sink.final(answer + collected.notice)
    voice_sent = await _speak(refs, sink, prepared, answer) if prepared.voice else False
    return TurnOutcome("answered", answer, voice_sent=voice_sent, first_token_at=collected.first)


async def _record_answer(refs: TurnRefs, conversation: str, answer: str, reply: _Reply) -> None:
    record = Append(conversation, "assistant", answer, reply_to=reply.to, delivered=reply.delivered)
    await refs.memory.ask(record)


class _Collected:
    """The answer so far and when its first chunk arrived."""

    def __init__(self) -> None:
        self.text = ""
        self.first: float | None = None
        self.notice = ""  # shown after the answer, not recorded with it

    def add(self, chunk: str) -> str:
        if self.first is None:
            self.first = trio.current_time()
        self.text += chunk
        return self.text


async def _generate(
    refs: TurnRefs,
    conversation: str,
    sink: TurnSink,
    prepared: _Prepared,
    collected: _Collected,
) -> LLMError | None:
    """Stream the answer into the sink; the error that ended it early, if any.

    Deltas are read in batches (all that are waiting), so a fast model costs
    one ``partial`` per scheduling step rather than one per token.
    """
    try:
        request = Generate(prepared.messages, model=prepared.model, conversation=conversation)
        stream = await refs.llm.ask(request)
    except LLMError as error:
        return error
    async with stream:
        try:
            while (batch := await stream.next_batch()) is not None:
                await sink.partial(collected.add(batch))
        except LLMError as error:
            return error
    result = stream.result
    if result.complete:
        collected.notice = length_notice(refs.language) if result.done_reason == "length" else ""
        return None
    return result.error or LLMError("generation stopped early", user_message=_INTERRUPTED)


def length_notice(language: str) -> str:
    """What follows an answer the model stopped at LLM_MAX_TOKENS, in ``language``."""
    return f"\n\n[{t(language, LENGTH_NOTICE)}]"


async def _fail(
    refs: TurnRefs,
    conversation: str,
    sink: TurnSink,
    collected: _Collected,
    reply: _Reply,
    error: LLMError,
) -> TurnOutcome:
    log.warning(
        "conversation.turn.failed",
        extra={"fields": {"conversation": conversation, "error": str(error)}},
    )
    partial = collected.text
    if partial:
        await _record_answer(refs, conversation, partial, reply)
    await sink.failed(error.user_message)
    return TurnOutcome("failed", partial, error=error.user_message, first_token_at=collected.first)


async def _speak(refs: TurnRefs, sink: TurnSink, prepared: _Prepared, answer: str) -> bool:
    """The voice note after the text; True if it was sent.

    The text is already delivered and recorded, so nothing here may fail the
    answer: a voice error is logged and the user gets a short note instead.
    """
    assert refs.voice is not None
    if not answer.strip():
        return False
    try:
        await sink.voice_pending()
        await _send_voice(refs.voice, sink, Synthesize(answer, prepared.language))
    except _VOICE_ERRORS as error:
        log.warning("conversation.voice.failed", extra={"fields": {"error": str(error)}})
        await _tell_no_voice(sink)
        return False
    return True


async def _send_voice(voice: Asker, sink: TurnSink, request: Synthesize) -> None:
    note = await voice.ask(request)
    try:
        await sink.voice(note)
    finally:  # also on error and cancellation: the file is ours until discarded
        note.discard()


async def _tell_no_voice(sink: TurnSink) -> None:
    try:
        await sink.voice_failed(NO_VOICE)
    except _VOICE_ERRORS as error:  # e.g. Telegram unreachable: the log has it
        log.warning("conversation.voice.notice_failed", extra={"fields": {"error": str(error)}})
