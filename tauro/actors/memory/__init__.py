"""Conversation memory: the MemoryActor, its message protocol, and its files.

Layers, each importing only those above it: ``_messages`` (the protocol),
``_records`` (encoding), ``_turns`` (the turn index of a loaded conversation),
``_journal``, ``_snapshot`` and ``_delivery`` (files), ``_store``
(in-memory state), ``_reads`` (answers, counters), ``_recovery`` (start-up),
``_engine`` (batching, threads, snapshots, retention on trio), ``_actor`` (the
runtime shell). Only the last knows ``tauro.runtime``.
"""

from tauro.actors.memory._actor import MEMORY_ACTOR as MEMORY_ACTOR
from tauro.actors.memory._actor import MemoryActor as MemoryActor
from tauro.actors.memory._actor import memory_actor_spec as memory_actor_spec
from tauro.actors.memory._delivery import DeliveryLog as DeliveryLog
from tauro.actors.memory._delivery import DeliveryNote as DeliveryNote
from tauro.actors.memory._delivery import open_delivery_log as open_delivery_log
from tauro.actors.memory._engine import MemoryEngine as MemoryEngine
from tauro.actors.memory._messages import Append as Append
from tauro.actors.memory._messages import AppendReceipt as AppendReceipt
from tauro.actors.memory._messages import BeginTurn as BeginTurn
from tauro.actors.memory._messages import Clear as Clear
from tauro.actors.memory._messages import GetContext as GetContext
from tauro.actors.memory._messages import GetPreferences as GetPreferences
from tauro.actors.memory._messages import GetStats as GetStats
from tauro.actors.memory._messages import MemoryMessage as MemoryMessage
from tauro.actors.memory._messages import MemoryStatistics as MemoryStatistics
from tauro.actors.memory._messages import NoteShown as NoteShown
from tauro.actors.memory._messages import PendingTurn as PendingTurn
from tauro.actors.memory._messages import PendingTurns as PendingTurns
from tauro.actors.memory._messages import PreferenceValue as PreferenceValue
from tauro.actors.memory._messages import Role as Role
from tauro.actors.memory._messages import SetPreference as SetPreference
from tauro.actors.memory._messages import StoredMessage as StoredMessage
from tauro.actors.memory._messages import TurnStart as TurnStart
from tauro.actors.memory._messages import UpdateState as UpdateState
from tauro.actors.memory._messages import UpdateStatus as UpdateStatus
from tauro.actors.memory._recovery import Recovery as Recovery
from tauro.actors.memory._recovery import recover as recover
