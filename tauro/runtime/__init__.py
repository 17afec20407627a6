"""A small supervised actor runtime on trio. It knows nothing of Telegram.

Layering (who may import whom): ``tauro.runtime`` imports only trio, outcome and
``tauro.errors``; the actors in ``tauro.actors`` build on it. Its implementation
modules are private; everything public is re-exported here:

- ``Actor`` / ``ActorContext``: what you subclass, and what it sees while running.
- ``ActorRef``: ``tell`` (waits while the mailbox is full), ``try_tell`` (never
  waits, counts a drop), ``ask`` (request/reply, always with a timeout).
- ``Request``: the base of a message that is asked, naming its reply's type
  (``class GetModel(Request[str])``), so ``ask`` returns that type.
- ``ActorSpec`` / ``SupervisorSpec`` / ``Restart`` / ``Strategy``: the description a
  system is built from. Children start in order and stop in reverse order.
- ``ActorSystem`` / ``open_actor_system`` / ``run_until_signalled``: running it.
- ``ActorStatistics`` / ``SystemStatistics`` / ``ActorState``: introspection.
- ``Backoff``: the one policy for delays between retries (exponential, capped,
  optionally jittered); it computes delays, the caller sleeps them on trio's clock.
- ``SystemdNotifier`` / ``open_systemd_notifier``: systemd's ``Type=notify``
  protocol (ready, stopping, watchdog); ``all_running``: whether every actor is up.

``tauro.runtime.testing`` holds the test kit (probe and fault-injecting actors).

The modules read bottom-up: each imports only modules listed above it, so there
is no import cycle (a test checks both)::

    _exceptions     reporting errors raised in task groups
    _statistics     ActorState and the frozen statistics snapshots
    _backoff        Backoff: delays between retries
    _request        Request: a message that names its reply's type
    _delivery       Envelope, ReplySlot, and Recipient: what a reference needs of a cell
    _ref            ActorRef, talking to a Recipient
    _actor          Actor and ActorContext (which hands out ActorRefs)
    _spec           ActorSpec and SupervisorSpec (which make Actors)
    _cell           one actor's slot: mailbox, lifecycle, counters (a Recipient)
    _supervisor     restart strategies, intensity and backoff, ordered stop
    _system         ActorSystem: the cells under their supervisors
    _systemd        systemd's notify protocol, fed by the system's state
    testing         the test kit
"""

from tauro.runtime._actor import Actor as Actor
from tauro.runtime._actor import ActorContext as ActorContext
from tauro.runtime._backoff import Backoff as Backoff
from tauro.runtime._ref import ActorRef as ActorRef
from tauro.runtime._request import Request as Request
from tauro.runtime._spec import ActorSpec as ActorSpec
from tauro.runtime._spec import Restart as Restart
from tauro.runtime._spec import Strategy as Strategy
from tauro.runtime._spec import SupervisorSpec as SupervisorSpec
from tauro.runtime._statistics import ActorState as ActorState
from tauro.runtime._statistics import ActorStatistics as ActorStatistics
from tauro.runtime._statistics import SystemStatistics as SystemStatistics
from tauro.runtime._system import ActorSystem as ActorSystem
from tauro.runtime._system import open_actor_system as open_actor_system
from tauro.runtime._system import run_until_signalled as run_until_signalled
from tauro.runtime._systemd import SystemdNotifier as SystemdNotifier
from tauro.runtime._systemd import all_running as all_running
from tauro.runtime._systemd import open_systemd_notifier as open_systemd_notifier

__all__ = [
    "Actor",
    "ActorContext",
    "ActorRef",
    "ActorSpec",
    "ActorState",
    "ActorStatistics",
    "ActorSystem",
    "Backoff",
    "Request",
    "Restart",
    "Strategy",
    "SupervisorSpec",
    "SystemStatistics",
    "SystemdNotifier",
    "all_running",
    "open_actor_system",
    "open_systemd_notifier",
    "run_until_signalled",
]
