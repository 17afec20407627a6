"""TelegramActor: polls Telegram and answers each chat through the conversation turn.

Start: the bridge opens (getMe: a bad token is fatal at once), turns memory
reports pending (recorded, never answered: the bot stopped in between) are
queued first, then polling starts (a webhook left set is deleted first), or,
with TELEGRAM_WEBHOOK_URL, the webhook is set and updates arrive through the
web server (``_webhook``), settled the same way.
Each update goes to its chat's worker (``ChatDispatcher``): access check,
route, then a fixed reply, a command, or a ``run_turn`` streamed through a
``StreamingReply``. An update is settled, so confirmable to Telegram, once
its user message is recorded, or once it is handled when there is nothing
to record; see ``_polling``.

A graceful stop (``drain``) stops polling at once (a webhook answers new POSTs
503); updates received but not started stay unconfirmed, so Telegram delivers
them again at the next start.
The turns already started run to the end (answer, record, voice), then the
settled updates are confirmed. Turns still running at the grace deadline are
cancelled: their questions are recorded, so they are answered at the next
start.

Delivery: an answer is recorded as undelivered, every message id Telegram
returns for it is noted in memory at once (``_MemoryNotes``), and it is marked
delivered when the chat shows all of it. A new message's id is also written
to the delivery log (``DeliveryLog``, by its own thread) the moment
Telegram's answer arrives: memory reads it at its next start, so a crash
while the id is on its way to memory leaves no orphan message. At start, each pending turn is
finished in its chat's order: a recorded answer is shown (its messages
edited, missing ones sent), an unanswered question is answered.
"""

from __future__ import annotations

import logging
import math
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio

from tauro.actors.memory import (
    DeliveryLog,
    DeliveryNote,
    GetPreferences,
    GetStats,
    NoteShown,
    PendingTurn,
    PendingTurns,
    open_delivery_log,
)
from tauro.actors.telegram._access import AccessControl, rate_limit_text, refusal_text
from tauro.actors.telegram._bridge import BotApi, open_bot_api
from tauro.actors.telegram._commands import CommandContext, run_command
from tauro.actors.telegram._dispatch import ChatDispatcher, Ignore, Reply, RunCommand, route
from tauro.actors.telegram._incoming import Incoming
from tauro.actors.telegram._language import ChatLanguage, chat_language, sender_language
from tauro.actors.telegram._markdown import plain_piece
from tauro.actors.telegram._polling import UpdateTracker, confirm_settled, poll_forever
from tauro.actors.telegram._stats import (
    StatsRecorder,
    TelegramMessage,
    TelegramStatistics,
    percentiles,
    statistics_lines,
)
from tauro.actors.telegram._streaming import EMPTY_ANSWER, StreamingReply, open_streaming_reply
from tauro.actors.telegram._webhook import WebhookInbox, WebhookReceiver, new_secret
from tauro.config import Settings
from tauro.conversation import TranslatedSink, TurnRefs, persona_prompt, run_turn
from tauro.errors import (
    ActorError,
    InvalidTokenError,
    MemoryStoreError,
    PersistenceError,
    PollingConflictError,
    TelegramError,
    WebhookRefusedError,
)
from tauro.i18n import N_, t, translate
from tauro.runtime import Actor, ActorRef

log = logging.getLogger("tauro.telegram")

TROUBLE = N_(
    "Something went wrong on my side and I could not answer this message. "
    "Please send it again in a little while."
)
# Memory cannot record (disk full, I/O error, read-only): the update is held,
# unconfirmed, and its turn retried every HOLD_RETRY seconds; each user is told
# once per outage, in the chat's language.
HOLD_RETRY = 2.0
CANNOT_SAVE = N_(
    "I cannot save messages right now, so I am keeping yours and will answer "
    "as soon as I can. There is no need to send it again."
)


def cannot_save_text(language: str) -> str:
    return f"⚠️ {t(language, CANNOT_SAVE)}"


@dataclass(frozen=True, slots=True)
class _Job:
    incoming: Incoming
    pending: PendingTurn | None = None  # from memory: accepted and recorded before


class _MemoryNotes:
    """``ShownNotes`` for one turn: message ids to memory, as soon as Telegram gives them.

    ``sending`` is asked (so it is written before the message goes out); the
    others are told (written lazily). A memory that cannot take them costs at
    most a repeated edit or a possible duplicate after a crash, never the answer.
    """

    def __init__(
        self,
        memory: ActorRef[Any],
        conversation: str,
        update_id: int,
        delivery_log: DeliveryLog | None = None,
    ) -> None:
        self._memory = memory
        self._conversation = conversation
        self._update_id = update_id
        self._log = delivery_log
        self._logged: dict[int, int] = {}  # piece -> message id written to the log

    async def sending(self, shown: tuple[int, ...]) -> None:
        note = NoteShown(self._conversation, self._update_id, shown, sending=True)
        with suppress(ActorError):
            await self._memory.ask(note)

    def created(self, index: int, message_id: int) -> None:
        if self._log is None or self._logged.get(index) == message_id:
            return
        self._logged[index] = message_id
        self._log.note(DeliveryNote(self._conversation, self._update_id, index, message_id))

    async def shown(self, shown: tuple[int, ...], *, delivered: bool) -> None:
        note = NoteShown(self._conversation, self._update_id, shown, delivered=delivered)
        with suppress(ActorError):
            await self._memory.tell(note)
        if self._log is not None and self._log.rotation_due:
            await _rotate(self._log, self._memory)


async def _rotate(delivery_log: DeliveryLog, memory: ActorRef[Any]) -> None:
    """Start a new delivery log; delete an old one once memory holds its notes
    (every ``NoteShown`` told before an ask is handled before it)."""
    old = delivery_log.rotate()
    with suppress(ActorError, MemoryStoreError):
        await memory.ask(GetStats())
        await trio.to_thread.run_sync(delivery_log.remove, old)


class TelegramActor(Actor[TelegramMessage]):
    """The Telegram channel; asks answer ``GetTelegramStats``."""

    def __init__(
        self,
        settings: Settings,
        *,
        memory: str = "memory",
        llm: str = "llm",
        voice: str | None = "voice",
        webhook: WebhookInbox | None = None,
    ) -> None:
        if settings.telegram.webhook_url and webhook is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_URL is set: pass the WebhookInbox the web app serves"
            )
        self._settings = settings
        self._inbox = webhook if settings.telegram.webhook_url else None
        self._names = (memory, llm, voice if settings.voice.enabled else None)
        self._access = AccessControl(settings.access)
        self._tracker = UpdateTracker()
        self._stats = StatsRecorder()
        self._api: BotApi | None = None
        self._dispatcher: ChatDispatcher[_Job] | None = None
        self._polling = trio.CancelScope()  # drain cancels it: no new work
        self._receiver: WebhookReceiver | None = None
        self._secret = ""
        self._served = trio.Event()  # _serve has ended: every started turn is done
        self._told_cannot_save: set[int] = set()  # chats told during this outage
        self._held: set[int] = set()  # updates held while memory cannot record
        self._delivery_log: DeliveryLog | None = None

    # Actor --------------------------------------------------------------------

    async def on_start(self) -> None:
        await self.context.start(self._serve)

    async def handle(self, message: TelegramMessage) -> object:
        return self.statistics()

    async def drain(self) -> None:
        """Stop polling; return once the turns already started have run to the end."""
        dispatcher = self._dispatcher
        fields = {"chats": dispatcher.chats_in_flight if dispatcher else 0}
        log.info("telegram.draining", extra={"fields": fields})
        self._polling.cancel()
        if dispatcher is not None:
            dispatcher.close()
        await self._served.wait()

    def statistics(self) -> TelegramStatistics:
        counters = self._api.counters() if self._api else None
        dispatcher = self._dispatcher
        return TelegramStatistics(
            bot_username=self._api.identity.username if self._api else "",
            updates=self._stats.updates,
            outcomes=dict(self._stats.outcomes),
            chats_in_flight=dispatcher.chats_in_flight if dispatcher else 0,
            queued=dispatcher.queued if dispatcher else 0,
            unsettled=self._tracker.unsettled,
            held=len(self._held),
            api_calls=counters.calls if counters else 0,
            api_retries=counters.retries if counters else 0,
            api_floods=counters.floods if counters else 0,
            markdown_fallbacks=counters.markdown_fallbacks if counters else 0,
            api_failures=counters.failures if counters else 0,
            first_visible=percentiles(self._stats.first_visible),
            complete=percentiles(self._stats.complete),
        )

    # Serving ------------------------------------------------------------------

    async def _serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await self._connected(task_status)
        except (InvalidTokenError, PollingConflictError, WebhookRefusedError) as error:
            # Fatal: restarting cannot help until the operator acts.
            log.critical("telegram.fatal", extra={"fields": {"error": str(error)}})
            raise
        finally:
            self._served.set()

    async def _connected(self, task_status: trio.TaskStatus[None]) -> None:
        settings = self._settings.telegram
        memory_file = Path(self._settings.memory.file)
        self._secret = new_secret()  # setWebhook's secret_token, new at every start
        async with (
            open_delivery_log(memory_file) as self._delivery_log,
            open_bot_api(settings, secrets=(self._secret,)) as api,
        ):
            self._api = api
            fields = {"username": api.identity.username, "base_url": settings.api_base_url}
            log.info("telegram.started", extra={"fields": fields})
            try:
                await self._dispatch(api, task_status)
            finally:
                # Drained, cut at the grace deadline, or crashed: confirm what was
                # settled, so a restart of this actor alone does not run a command
                # (/clear, /voice...) a second time when Telegram redelivers it.
                # (A webhook confirms each update as it settles: its 200.)
                if self._inbox is None:
                    with trio.CancelScope(shield=True):
                        await confirm_settled(api, self._tracker)

    async def _dispatch(self, api: BotApi, task_status: trio.TaskStatus[None]) -> None:
        """Poll and run each update in its chat's worker until drained (or cancelled)."""
        settings = self._settings.telegram
        pending = await self._pending_turns()
        try:
            async with trio.open_nursery() as nursery:
                self._dispatcher = ChatDispatcher(
                    nursery, self._handle_job, settings.max_chats_in_flight
                )
                task_status.started()
                with self._polling:
                    for job in pending:
                        await self._dispatcher.submit(_chat_of(job), job)
                    await self._receive_updates(api)
        finally:
            # Every started turn is over: webhook POSTs still waiting for an
            # update that will not settle now get 503, and Telegram retries.
            if self._receiver is not None:
                self._receiver.close()

    async def _receive_updates(self, api: BotApi) -> None:
        """Long polling, or (TELEGRAM_WEBHOOK_URL) the webhook; until drained."""
        settings = self._settings.telegram
        if self._inbox is None:
            await self._leave_webhook(api)
            await poll_forever(api, self._tracker, self._on_update, timeout=settings.poll_timeout)
            return
        # POSTs arrive in the web server's tasks; they hand updates over to this
        # task, which queues them per chat (the workers must start from here,
        # inside the Bot API's loop). Telegram's max_connections bounds the queue.
        handover, updates = trio.open_memory_channel[Incoming](math.inf)

        async def hand_over(incoming: Incoming) -> None:
            handover.send_nowait(incoming)

        self._receiver = WebhookReceiver(self._tracker, api.parse_update, hand_over)
        self._inbox.open(self._secret, self._receiver)
        try:
            await api.set_webhook(settings.webhook_url, self._secret)
            fields = {"url": settings.webhook_url, "path": self._inbox.path}
            log.info("telegram.webhook.set", extra={"fields": fields})
            async for incoming in updates:
                await self._on_update(incoming)
        finally:
            self._inbox.close()  # new POSTs get 503 from now on

    async def _leave_webhook(self, api: BotApi) -> None:
        """Polling is configured: a webhook left set (an earlier run) is deleted first."""
        info = await api.webhook_info()
        if info.url:
            fields = {"url": info.url, "pending": info.pending_update_count}
            log.warning("telegram.webhook.deleted", extra={"fields": fields})
            await api.delete_webhook()

    async def _pending_turns(self) -> list[_Job]:
        """Turns recorded but never answered, as jobs; marked so redeliveries are skipped."""
        pending = await self.context.ref(self._names[0]).ask(PendingTurns())
        jobs = [job for turn in pending if (job := _resumed_job(turn)) is not None]
        for job in jobs:
            self._tracker.resume(job.incoming.update_id)
        if jobs:
            log.info("telegram.pending.resumed", extra={"fields": {"turns": len(jobs)}})
        return jobs

    async def _on_update(self, incoming: Incoming) -> None:
        """From the poller: settle what needs no work here, queue the rest per chat."""
        assert self._dispatcher is not None
        self._stats.updates += 1
        if incoming.chat_id is None or not incoming.addressed:
            self._stats.count("ignored")
            self._tracker.settle(incoming.update_id)
            return
        await self._dispatcher.submit(incoming.chat_id, _Job(incoming))

    # One update, in its chat's worker ------------------------------------------------

    async def _handle_job(self, job: _Job) -> None:
        incoming = job.incoming
        cut = False
        try:
            if job.pending is not None:
                await self._resume(incoming, job.pending)
            else:
                await self._handle_update(incoming)
        except TelegramError as error:
            fields = {"chat_id": incoming.chat_id, "error": str(error)}
            log.warning("telegram.reply.failed", extra={"fields": fields})
            self._stats.count("undelivered")
        except trio.Cancelled:
            # Cut short (a stop's grace deadline, a crash): a turn recorded its
            # message already (settled then); anything else comes back from Telegram.
            cut = True
            raise
        finally:
            if not cut and incoming.update_id not in self._held:
                self._tracker.settle(incoming.update_id)

    async def _handle_update(self, incoming: Incoming) -> None:
        verdict = self._access.check(incoming.user_id)
        if verdict != "allow":
            await self._deny(incoming, verdict)
            return
        settings = self._settings.telegram
        what = route(incoming, self._api_or_fail().identity.username, settings.max_message_length)
        if isinstance(what, Ignore):
            self._stats.count("ignored")
            return
        language = await self._language(incoming)
        if isinstance(what, Reply):
            self._stats.count("unsupported")
            await self._reply(incoming, translate(what.text, language.text))
        elif isinstance(what, RunCommand):
            self._stats.count("command")
            await self._reply(incoming, await self._command(what, incoming, language))
        else:
            await self._turn(incoming, what.text, language)

    async def _language(self, incoming: Incoming) -> ChatLanguage:
        """The chat's language: its /lang choice, else the sender's or BOT_LANGUAGE."""
        try:
            preferences = await self.context.ref(self._names[0]).ask(
                GetPreferences(incoming.conversation)
            )
        except (MemoryStoreError, ActorError) as error:
            log.warning("telegram.language.unknown", extra={"fields": {"error": str(error)}})
            preferences = {}
        return chat_language(preferences, incoming, self._settings)

    async def _deny(self, incoming: Incoming, verdict: str) -> None:
        self._stats.count("refused" if verdict in ("refuse", "silent") else "limited")
        language = sender_language(incoming, self._settings)
        if verdict == "refuse":
            await self._reply(incoming, refusal_text(incoming.user_id, language))
        elif verdict == "limit" and incoming.user_id is not None:
            wait = self._access.retry_at(incoming.user_id) - trio.current_time()
            await self._reply(incoming, rate_limit_text(self._settings.access, wait, language))

    async def _command(self, what: RunCommand, incoming: Incoming, language: ChatLanguage) -> str:
        memory, llm, voice = self._names
        context = CommandContext(
            memory=self.context.ref(memory),
            llm=self.context.ref(llm),
            access=self._access,
            voice_available=voice is not None,
            telegram_stats=lambda: statistics_lines(self.statistics()),
            language=language.text,
            voice=self.context.ref(voice) if voice is not None else None,
            fixed_voice_language=self._settings.voice.language,
            admin_only_lang=incoming.is_group,
        )
        try:
            return await run_command(what.command, incoming, context)
        except (MemoryStoreError, ActorError) as error:
            log.error("telegram.command.failed", extra={"fields": {"error": str(error)}})
            return t(language.text, TROUBLE)

    async def _reply(self, incoming: Incoming, text: str) -> None:
        assert incoming.chat_id is not None
        reply_to = incoming.message_id if incoming.is_group else None
        api = self._api_or_fail()
        await api.send_text(incoming.chat_id, plain_piece(text), reply_to=reply_to)

    async def _resume(self, incoming: Incoming, pending: PendingTurn) -> None:
        """A turn from before the last stop: show its recorded answer, or answer it."""
        if pending.sending:  # a message may have been sent whose id never got recorded
            self._stats.count("possible_duplicate")
            fields = {"chat_id": incoming.chat_id, "update_id": incoming.update_id}
            log.warning("telegram.delivery.possible_duplicate", extra={"fields": fields})
        language = await self._language(incoming)
        if pending.answer is None:
            await self._turn(incoming, pending.content, language, pending.message_ids)
            return
        async with self._streaming_reply(incoming, pending.message_ids) as reply:
            await TranslatedSink(reply, language.text, empty_answer=EMPTY_ANSWER).final(
                pending.answer
            )
        self._stats.count("redelivered")

    def _streaming_reply(
        self, incoming: Incoming, shown_ids: tuple[int, ...] = ()
    ) -> AbstractAsyncContextManager[StreamingReply]:
        assert incoming.chat_id is not None
        settings = self._settings.telegram
        notes = _MemoryNotes(
            self.context.ref(self._names[0]),
            incoming.conversation,
            incoming.update_id,
            self._delivery_log,
        )
        return open_streaming_reply(
            self._api_or_fail(),
            incoming.chat_id,
            reply_to=incoming.message_id if incoming.is_group else None,
            limit=settings.max_message_length,
            edit_interval=settings.edit_interval,
            notes=notes,
            shown_ids=shown_ids,
        )

    async def _turn(
        self,
        incoming: Incoming,
        text: str,
        language: ChatLanguage,
        shown_ids: tuple[int, ...] = (),
    ) -> None:
        """One conversation turn, streamed into the chat; held while memory cannot record.

        A held turn blocks its chat (later messages wait behind it, in order) and
        its update stays unconfirmed; no answer is generated for a question that
        is not recorded. The retry goes on in the messages already shown.
        """
        while (held := await self._try_turn(incoming, text, language, shown_ids)) is not None:
            shown_ids = held
            self._held.add(incoming.update_id)
            await self._tell_cannot_save(incoming, language)
            if self._polling.cancel_called:
                return  # stopping: held, never confirmed, it comes back at the next start
            await trio.sleep(HOLD_RETRY)
        self._held.discard(incoming.update_id)

    async def _tell_cannot_save(self, incoming: Incoming, language: ChatLanguage) -> None:
        assert incoming.chat_id is not None
        if incoming.chat_id in self._told_cannot_save:
            return
        self._told_cannot_save.add(incoming.chat_id)
        self._stats.count("held")
        try:
            await self._reply(incoming, cannot_save_text(language.text))
        except TelegramError as error:
            log.warning("telegram.reply.failed", extra={"fields": {"error": str(error)}})

    async def _try_turn(
        self, incoming: Incoming, text: str, language: ChatLanguage, shown_ids: tuple[int, ...]
    ) -> tuple[int, ...] | None:
        """None when the turn is over; the messages shown so far when memory could not record."""
        async with self._streaming_reply(incoming, shown_ids) as reply:
            sink = TranslatedSink(reply, language.text, empty_answer=EMPTY_ANSWER)
            try:
                outcome = await run_turn(
                    self._refs(language),
                    incoming.conversation,
                    text,
                    sink,
                    update_id=incoming.update_id,
                    on_recorded=partial(self._tracker.settle, incoming.update_id),
                    track_delivery=True,
                )
            except PersistenceError:
                return tuple(sent.message_id for sent in reply.shown)
            except (MemoryStoreError, ActorError) as error:
                log.error("telegram.turn.failed", extra={"fields": {"error": str(error)}})
                self._stats.count("error")
                await sink.failed(TROUBLE)
                return None
        self._told_cannot_save.clear()  # memory records again: a new outage is told anew
        self._stats.count(outcome.status)
        timings = reply.timings
        self._stats.timing(
            None if timings.first_visible is None else timings.first_visible - timings.started,
            None if timings.completed is None else timings.completed - timings.started,
        )
        return None

    def _refs(self, language: ChatLanguage) -> TurnRefs:
        memory, llm, voice = self._names
        return TurnRefs(
            memory=self.context.ref(memory),
            llm=self.context.ref(llm),
            voice=self.context.ref(voice) if voice is not None else None,
            context_messages=self._settings.llm.context_messages,
            voice_language=language.voice,
            language=language.text,
            system_prompt=persona_prompt(self._settings.llm.system_prompt, language.text),
        )

    def _api_or_fail(self) -> BotApi:
        if self._api is None:
            raise RuntimeError("TelegramActor is not connected: no Bot API before start")
        return self._api


def _chat_of(job: _Job) -> int:
    assert job.incoming.chat_id is not None
    return job.incoming.chat_id


def _resumed_job(turn: PendingTurn) -> _Job | None:
    """A pending turn of a Telegram chat (conversation = chat id); None for others."""
    try:
        chat_id = int(turn.conversation)
    except ValueError:
        return None  # another channel's conversation ("web:...")
    chat_type = "group" if chat_id < 0 else "private"
    incoming = Incoming(turn.update_id, chat_id, chat_type, text=turn.content)
    return _Job(incoming, turn)
