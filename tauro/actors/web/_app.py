"""The Starlette app: routes, the secret on every /api route, the PWA's files.

Routes (every error is JSON ``{"error": reason}``)::

    GET  /, /login, /status, /<shell file>   the PWA (public: it holds no data)
    GET  /i18n/<lang>.json, /i18n/auto.json  the app's texts from the gettext catalogs
                                             (auto: the best for Accept-Language)
    POST /api/login   {"token"}              sets the session cookie   (401 if wrong, 429
                                             after repeated wrong ones from one address)
    POST /api/logout  {}                     ends the session on the server, drops the cookie
    GET  /api/session                        {"voice", "voice_available"} (401 if none)
    GET  /api/history                        {"messages": [...], "voice", "voice_available"};
                                             answers also carry "html" (sanitised Markdown)
    POST /api/chat    {"text"}               the answer as server-sent events (notices
                                             in the Accept-Language the app sends)
    POST /api/clear   {}                     forgets the conversation
    POST /api/voice   {"enabled": bool}      voice answers on/off
    GET  /api/voice/<id>                     a voice answer (Ogg/Opus, streamed from its file)
    GET  /api/status, /metrics               status as JSON / Prometheus (cookie or Bearer)
    GET  /api/status/history                 the last hour a minute at a time (cookie or Bearer)
    GET  /healthz                            {"status": "ok"} 200 when every actor runs,
                                             {"status": "starting"} 503 while the bot starts
                                             (memory loading), {"status": "unavailable"}
                                             503 otherwise (public)
    POST <TELEGRAM_WEBHOOK_URL's path>       Telegram's updates (only with a webhook set;
                                             its secret header, not the web token)

While the memory is still loading a large history, the routes that need it
(session, history, chat, clear, voice) answer 503 ``{"error", "status":
"starting"}`` with ``Retry-After`` at once instead of waiting for it.

The secret is read only from a JSON body, never from a query string: a
``GET /login?token=...`` is just the login page.

Checks run in a fixed order (secret, origin, body size, JSON shape) and all of
them before the backend is called, so a bad request never reaches the LLM or
memory.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tauro.actors.web._auth import SESSION_COOKIE, WebAuth
from tauro.actors.web._backend import ChatBackend, HistoryEntry
from tauro.actors.web._chat import (
    CLIP_GONE,
    MAX_MESSAGE_CHARS,
    ClipResponse,
    TurnRunner,
    VoiceClips,
    WebCounters,
)
from tauro.actors.web._events import OpenStreams, sse_frames
from tauro.actors.web._history import MetricsHistory
from tauro.actors.web._http import (
    HTTPProblem,
    json_error,
    reached_over_https,
    read_json,
    same_origin,
)
from tauro.actors.web._static import StaticFiles
from tauro.actors.web._status import render_metrics, status_json
from tauro.actors.web._throttle import LoginThrottle
from tauro.actors.web._webhook import WebhookEndpoint, webhook_route
from tauro.errors import TauroError
from tauro.i18n import catalog_json, languages, negotiate
from tauro.markdown import render_html

__all__ = ["WebState", "build_app"]

log = logging.getLogger("tauro.web")

_COOKIE_MAX_AGE = 180 * 24 * 3600  # seconds; the cookie *is* the conversation, keep it
_HISTORY_LIMIT = 200
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class WebState:
    """Everything the routes share; built by the web actor or by a test."""

    auth: WebAuth
    backend: ChatBackend
    static: StaticFiles
    runner: TurnRunner
    streams: OpenStreams
    clips: VoiceClips
    counters: WebCounters
    max_body: int
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    default_language: str = "it"  # BOT_LANGUAGE: for a browser that asks for none we have
    history: MetricsHistory = field(default_factory=MetricsHistory)
    webhook: WebhookEndpoint | None = None  # Telegram's webhook, with TELEGRAM_WEBHOOK_URL


def build_app(state: WebState) -> Starlette:
    api = _Api(state)
    routes = _webhook_routes(state)
    routes += [
        Route("/api/login", api.login, methods=["POST"]),
        Route("/api/logout", api.logout, methods=["POST"]),
        Route("/api/session", api.session, methods=["GET"]),
        Route("/api/history", api.history, methods=["GET"]),
        Route("/api/chat", api.chat, methods=["POST"]),
        Route("/api/clear", api.clear, methods=["POST"]),
        Route("/api/voice", api.voice, methods=["POST"]),
        Route("/api/voice/{clip}", api.voice_clip, methods=["GET"]),
        Route("/api/status", api.status, methods=["GET"]),
        Route("/api/status/history", api.status_history, methods=["GET"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route("/i18n/{name}.json", api.catalog, methods=["GET", "HEAD"]),
        Route("/healthz", api.healthz, methods=["GET", "HEAD"]),
        Route("/api/{rest:path}", api.not_found, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/{path:path}", api.static_file, methods=["GET", "HEAD"]),
    ]
    api.known_paths = frozenset(r.path for r in routes if "{" not in r.path)
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        HTTPException: _http_exception,
        HTTPProblem: _problem,
        Starting: _starting,
        TauroError: _backend_error,
    }
    middleware = [Middleware(CountingMiddleware, counters=state.counters)]
    return Starlette(routes=routes, exception_handlers=handlers, middleware=middleware)


def _webhook_routes(state: WebState) -> list[Route]:
    """First in the list: a POST to the webhook's path goes there, whatever the path."""
    if state.webhook is None:
        return []
    receive = webhook_route(state.webhook, state.max_body)
    return [Route(state.webhook.path, receive, methods=["POST"])]


_SECURITY_HEADERS = [
    # Everything the app loads comes from this server; no inline script, no frames.
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; "
        b"img-src 'self'; media-src 'self'; connect-src 'self'; manifest-src 'self'; "
        b"worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class CountingMiddleware:
    """Counts requests and rejections and adds the security headers.

    Pure ASGI rather than BaseHTTPMiddleware, so streamed answers stay streamed.
    """

    def __init__(self, app: ASGIApp, counters: WebCounters) -> None:
        self._app = app
        self._counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        self._counters.requests += 1

        async def wrapped_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if message.get("status") in (400, 401, 404, 413, 415, 429):
                    self._counters.rejected += 1
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self._app(scope, receive, wrapped_send)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    reasons = {404: "no such page or route", 405: "method not allowed here"}
    return json_error(exc.status_code, reasons.get(exc.status_code, exc.detail))


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    return json_error(exc.status, exc.reason)


class _Api:
    def __init__(self, state: WebState) -> None:
        self._s = state
        self.known_paths: frozenset[str] = frozenset()

    # -- sessions --------------------------------------------------------------------------
    def _memory_up(self) -> None:
        """Raise ``Starting`` (503 at once) while the memory is still loading."""
        if self._s.backend.memory_loading():
            raise Starting()

    def _conversation(self, request: Request) -> str:
        conversation = self._s.auth.conversation_for(request.cookies.get(SESSION_COOKIE))
        if conversation is None:
            raise HTTPProblem(401, "log in first: open the login link from the bot's log")
        return conversation

    def _operator(self, request: Request) -> None:
        if self._s.auth.check_bearer(request.headers.get("authorization")):
            return
        self._conversation(request)

    async def _body(self, request: Request) -> Mapping[str, object]:
        if not same_origin(request):
            raise HTTPProblem(403, "cross-origin requests are refused")
        return await read_json(request, self._s.max_body)

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        wait = self._s.throttle.retry_after(client)
        if wait > 0:  # the secret is not even looked at
            return _too_many(wait)
        body = await self._body(request)
        token = body.get("token")
        if not isinstance(token, str) or not self._s.auth.check_token(token):
            self._s.throttle.failed(client)
            log.warning("web.login.refused", extra={"fields": {"client": client}})
            raise HTTPProblem(401, "wrong secret: use the link from the bot's log or WEB_TOKEN")
        self._s.throttle.succeeded(client)
        cookie, conversation = self._s.auth.new_session()
        self._s.counters.logins += 1
        log.info("web.login", extra={"fields": {"conversation": conversation}})
        response = Response(status_code=204, headers=_NO_STORE)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=_COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=reached_over_https(request),
        )
        return response

    async def logout(self, request: Request) -> Response:
        await self._body(request)
        await self._end_session(request.cookies.get(SESSION_COOKIE))
        response = Response(status_code=204, headers=_NO_STORE)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def _end_session(self, cookie: str | None) -> None:
        """Refuse this cookie from now on, for whoever holds a copy (and after restarts)."""
        revoked = self._s.auth.revoked
        session_id = self._s.auth.session_id(cookie)
        if session_id is None:
            return
        revoked.revoke(session_id)
        log.info("web.logout", extra={"fields": {"conversation": f"web:{session_id}"}})
        try:
            await trio.to_thread.run_sync(revoked.store, session_id)
        except TauroError as error:
            log.error("web.logout.not_stored", extra={"fields": {"error": str(error)}})

    async def session(self, request: Request) -> Response:
        conversation = self._conversation(request)
        self._memory_up()
        return JSONResponse(await self._voice_state(conversation), headers=_NO_STORE)

    async def _voice_state(self, conversation: str) -> dict[str, bool]:
        backend = self._s.backend
        available = backend.voice_available
        voice = available and await backend.voice_enabled(conversation)
        return {"voice": voice, "voice_available": available}

    # -- chat ------------------------------------------------------------------------------
    async def history(self, request: Request) -> Response:
        conversation = self._conversation(request)
        self._memory_up()
        entries = await self._s.backend.history(conversation, _HISTORY_LIMIT)
        messages = await trio.to_thread.run_sync(_rendered_history, entries)
        body = {"messages": messages, **await self._voice_state(conversation)}
        return JSONResponse(body, headers=_NO_STORE)

    async def chat(self, request: Request) -> Response:
        conversation = self._conversation(request)
        self._memory_up()
        text = _message_text(await self._body(request))
        receive = self._s.runner.start(conversation, text, self._language(request))
        headers = {**_NO_STORE, "X-Accel-Buffering": "no"}
        return StreamingResponse(
            sse_frames(receive), media_type="text/event-stream", headers=headers
        )

    async def clear(self, request: Request) -> Response:
        conversation = self._conversation(request)
        self._memory_up()
        await self._body(request)
        await self._s.backend.clear(conversation)
        return Response(status_code=204, headers=_NO_STORE)

    async def voice(self, request: Request) -> Response:
        conversation = self._conversation(request)
        self._memory_up()
        enabled = (await self._body(request)).get("enabled")
        if not isinstance(enabled, bool):
            raise HTTPProblem(400, 'malformed request: "enabled" must be true or false')
        if enabled and not self._s.backend.voice_available:
            raise HTTPProblem(409, "voice answers are turned off on this bot (ENABLE_TTS)")
        await self._s.backend.set_voice(conversation, enabled)
        return JSONResponse({"voice": enabled}, headers=_NO_STORE)

    async def voice_clip(self, request: Request) -> Response:
        conversation = self._conversation(request)
        clip = self._s.clips.get(request.path_params["clip"], conversation)
        if clip is None:
            raise HTTPProblem(404, CLIP_GONE)
        headers = {"Cache-Control": "private, max-age=3600"}
        return ClipResponse(clip, self._s.clips.limiter, headers)

    # -- operator --------------------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        self._operator(request)
        report = await self._s.backend.status()
        return JSONResponse(status_json(report), headers=_NO_STORE)

    async def status_history(self, request: Request) -> Response:
        self._operator(request)
        return JSONResponse(self._s.history.as_json(), headers=_NO_STORE)

    async def metrics(self, request: Request) -> Response:
        self._operator(request)
        report = await self._s.backend.status()
        return Response(
            render_metrics(report),
            headers=_NO_STORE,
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    # -- languages -------------------------------------------------------------------------
    def _language(self, request: Request) -> str:
        """The reader's language: the app sends its menu choice as Accept-Language."""
        return negotiate(request.headers.get("accept-language"), self._s.default_language)

    async def catalog(self, request: Request) -> Response:
        """``/i18n/it.json``: a catalog for the app; ``/i18n/auto.json`` follows Accept-Language."""
        name = request.path_params["name"]
        if name == "auto":
            language = self._language(request)
        elif name in languages():
            language = name
        else:
            raise HTTPProblem(404, "no catalog for this language")
        body = catalog_json(language)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Language"}
        if etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        content = b"" if request.method == "HEAD" else body
        return Response(content, media_type="application/json", headers=headers)

    async def healthz(self, request: Request) -> Response:
        """For load balancers and container checks: up, starting or not, nothing else."""
        health = self._s.backend.health()
        status = 200 if health == "ok" else 503
        return JSONResponse({"status": health}, status_code=status, headers=_NO_STORE)

    # -- files -----------------------------------------------------------------------------
    async def not_found(self, request: Request) -> Response:
        if request.url.path in self.known_paths:
            raise HTTPProblem(405, "method not allowed here")
        raise HTTPProblem(404, "no such API route")

    async def static_file(self, request: Request) -> Response:
        found = await self._s.static.load(request.url.path)
        if found is None:
            raise HTTPProblem(404, "no such page or file")
        headers = {"ETag": found.etag, "Cache-Control": "no-cache"}
        if found.etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else found.body
        return Response(body, media_type=found.media_type, headers=headers)


def _too_many(wait: float) -> Response:
    seconds = math.ceil(wait)
    response = json_error(429, f"too many wrong secrets from here; try again in {seconds} s")
    response.headers["Retry-After"] = str(seconds)
    return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _rendered_history(entries: Sequence[HistoryEntry]) -> list[dict[str, str]]:
    """History for the page: answers also as sanitised HTML (in a worker thread)."""
    messages = [vars(entry) for entry in entries]
    for message in messages:
        if message["role"] == "assistant":
            message["html"] = render_html(message["content"])
    return messages


def _message_text(body: Mapping[str, object]) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise HTTPProblem(400, 'malformed request: "text" must be a non-empty string')
    if len(text) > MAX_MESSAGE_CHARS:
        raise HTTPProblem(413, f"message longer than {MAX_MESSAGE_CHARS} characters")
    return text.strip()


class Starting(Exception):
    """A route that needs the memory was called while it is still loading."""


STARTING = "the bot is starting: its memory is still loading; try again in a moment"
_RETRY_STARTING = "2"  # seconds (Retry-After)


async def _starting(request: Request, exc: Exception) -> Response:
    body = {"error": STARTING, "status": "starting"}
    headers = {**_NO_STORE, "Retry-After": _RETRY_STARTING}
    return JSONResponse(body, status_code=503, headers=headers)


async def _backend_error(request: Request, exc: Exception) -> Response:
    """A failing actor behind a route is a 503, never a traceback in the page."""
    log.warning("web.backend.failed", extra={"fields": {"error": type(exc).__name__}})
    return json_error(503, "the bot is busy or restarting a part; try again in a moment")
