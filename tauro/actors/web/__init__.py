"""The web channel: the chat and status PWA, served by the bot itself.

Layers, each importing only those above it:

- ``_events``   what a turn tells the browser, as server-sent events;
- ``_auth``     the one secret, the signed per-browser sessions, ended sessions;
- ``_throttle`` the per-client backoff after wrong secrets;
- ``_status``   one status snapshot, as JSON and Prometheus text;
- ``_history``  the last hour, a sample a minute, for the status page's charts;
- ``_backend``  the narrow interface to the rest of the bot (:class:`ChatBackend`);
- ``_chat``     turns that outlive their request, voice clips;
- ``_static``   the PWA's files, with no way out of the app folder;
- ``_sink``     the web's ``TurnSink`` for the shared ``tauro.conversation`` turn;
- ``_backend_actors``  ``ChatBackend`` over the memory, LLM and voice actors;
- ``_webhook``  Telegram's webhook route, handing POSTs to a ``WebhookEndpoint``;
- ``_app``      the Starlette routes;
- ``_server``   hypercorn's trio worker with a stream-ending graceful shutdown;
- ``_actor``    ``WebActor`` and its spec.

Use::

    spec = SupervisorSpec(name="root", children=(memory, llm, voice,
                          web_actor_spec(settings, statistics=lambda: system_statistics())))
    url = await system.ref(WEB_ACTOR).ask(GetWebAddress())
"""

from tauro.actors.web._actor import PWA_ROOT as PWA_ROOT
from tauro.actors.web._actor import WEB_ACTOR as WEB_ACTOR
from tauro.actors.web._actor import GetWebAddress as GetWebAddress
from tauro.actors.web._actor import WebActor as WebActor
from tauro.actors.web._actor import WebMessage as WebMessage
from tauro.actors.web._actor import web_actor_spec as web_actor_spec
from tauro.actors.web._app import WebState as WebState
from tauro.actors.web._app import build_app as build_app
from tauro.actors.web._auth import SESSION_COOKIE as SESSION_COOKIE
from tauro.actors.web._auth import RevokedSessions as RevokedSessions
from tauro.actors.web._auth import WebAuth as WebAuth
from tauro.actors.web._auth import load_or_create_token as load_or_create_token
from tauro.actors.web._backend import ChatBackend as ChatBackend
from tauro.actors.web._backend import Health as Health
from tauro.actors.web._backend import HistoryEntry as HistoryEntry
from tauro.actors.web._backend_actors import ActorBackend as ActorBackend
from tauro.actors.web._chat import TurnRunner as TurnRunner
from tauro.actors.web._chat import VoiceClip as VoiceClip
from tauro.actors.web._chat import VoiceClips as VoiceClips
from tauro.actors.web._chat import WebCounters as WebCounters
from tauro.actors.web._events import Delta as Delta
from tauro.actors.web._events import Done as Done
from tauro.actors.web._events import Failed as Failed
from tauro.actors.web._events import OpenStreams as OpenStreams
from tauro.actors.web._events import Rendered as Rendered
from tauro.actors.web._events import TurnEvents as TurnEvents
from tauro.actors.web._events import VoiceReady as VoiceReady
from tauro.actors.web._history import MetricsHistory as MetricsHistory
from tauro.actors.web._history import MinuteSample as MinuteSample
from tauro.actors.web._server import serve_app as serve_app
from tauro.actors.web._sink import WebSink as WebSink
from tauro.actors.web._static import StaticFiles as StaticFiles
from tauro.actors.web._status import ActorStatus as ActorStatus
from tauro.actors.web._status import LatencySummary as LatencySummary
from tauro.actors.web._status import StatusReport as StatusReport
from tauro.actors.web._throttle import LoginThrottle as LoginThrottle
from tauro.actors.web._webhook import WebhookEndpoint as WebhookEndpoint
