"""Answers to the read requests, and the persistence counters behind GetStats.

Reads never touch the disk: the state in memory is always what is durable.
"""

from __future__ import annotations

from dataclasses import dataclass

from tauro.actors.memory._messages import (
    BeginTurn,
    GetContext,
    GetPreferences,
    GetStats,
    MemoryMessage,
    MemoryStatistics,
    PendingTurns,
    TurnStart,
    UpdateState,
    UpdateStatus,
)
from tauro.actors.memory._store import MemoryState

__all__ = ["Counters", "answer", "statistics", "turn_start"]


@dataclass
class Counters:
    """Persistence counters since start; updated on the event loop only."""

    journal_appends: int = 0
    batches: int = 0
    fsyncs: int = 0
    snapshots: int = 0
    bytes_written: int = 0
    errors: int = 0
    last_error: str | None = None
    unconfirmed_sends: int = 0


def answer(state: MemoryState, counters: Counters, message: MemoryMessage) -> object:
    """The reply to a read request; TypeError for anything else."""
    if isinstance(message, GetContext):
        return state.context(message.conversation, message.limit)
    if isinstance(message, GetStats):
        return statistics(state, counters, message.conversation)
    if isinstance(message, GetPreferences):
        return dict(state.preferences.get(message.conversation, {}))
    if isinstance(message, UpdateStatus):
        return state.update_status(message.conversation, message.update_id)
    if isinstance(message, PendingTurns):
        return state.pending_turns()
    if isinstance(message, BeginTurn) and message.update_id is not None:  # stored already
        status = state.update_status(message.conversation, message.update_id)
        return turn_start(state, message, status)
    raise TypeError(f"MemoryActor does not handle {type(message).__name__}")


def turn_start(state: MemoryState, request: BeginTurn, status: UpdateState) -> TurnStart:
    """What a turn needs before generating; nothing for a question already answered."""
    if status == "answered":
        return TurnStart(status)
    conversation = request.conversation
    preferences = dict(state.preferences.get(conversation, {}))
    return TurnStart(status, state.context(conversation, request.context_limit), preferences)


def statistics(
    state: MemoryState, counters: Counters, conversation: str | None = None
) -> MemoryStatistics:
    conversations = len(state.conversations)
    return MemoryStatistics(
        conversations=conversations,
        messages=state.messages,
        conversation_messages=state.count(conversation) if conversation else 0,
        average_per_conversation=state.messages / conversations if conversations else 0.0,
        journal_appends=counters.journal_appends,
        fsyncs=counters.fsyncs,
        snapshots=counters.snapshots,
        bytes_written=counters.bytes_written,
        errors=counters.errors,
        last_error=counters.last_error,
        batches=counters.batches,
        unconfirmed_sends=counters.unconfirmed_sends,
    )
