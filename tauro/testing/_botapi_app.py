"""The HTTP face of the Bot API emulator (a starlette app).

- ``/bot<token>/<method>``: the Bot API (GET or POST; query, form, JSON or multipart).
  A wrong token gets 401 "Unauthorized", an unknown method 404 "Not Found". A request
  whose client goes away before its body is complete does nothing.
- ``/file/bot<token>/<file_path>``: downloads of files the bot uploaded (``getFile``).
- webhook deliveries (``_botapi_webhook``) while the bot has a webhook set;
- ``/_emulator/...``: control endpoints for tests and benchmarks in another process
  (push updates, read sent messages, inject faults, set latency). Endpoints that
  change state answer 403 unless the peer is on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import trio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tauro.testing._botapi import DEFAULT_TOKEN, BotApiEmulator, logger
from tauro.testing._botapi_flood import FloodLimits
from tauro.testing._botapi_params import decode_body
from tauro.testing._botapi_serve import is_loopback, open_loopback_server, unless_disconnected
from tauro.testing._botapi_types import ApiFailure

__all__ = ["build_app", "open_botapi_emulator"]

Endpoint = Callable[[Request], Awaitable[Response]]
UNAUTHORIZED = ApiFailure(401, "Unauthorized").payload()


def _emulator(request: Request) -> BotApiEmulator:
    emulator: BotApiEmulator = request.app.state.emulator
    return emulator


async def bot_api(request: Request) -> Response:
    emulator = _emulator(request)
    if request.path_params["token"] != emulator.token:
        return JSONResponse(UNAUTHORIZED, status_code=401)
    try:
        body = await request.body()
    except ClientDisconnect:  # the bot died mid-upload: like Telegram, do nothing
        return Response(status_code=499)
    content_type = request.headers.get("content-type", "")
    try:
        values = decode_body(content_type, body, request.url.query)
    except ApiFailure as failure:
        return JSONResponse(failure.payload(), status_code=failure.error_code)
    method = request.path_params["method"]
    if method.lower() != "getupdates":
        status, payload = await emulator.call(method, values)
        return JSONResponse(payload, status_code=status)
    answer = await unless_disconnected(request, partial(emulator.call, method, values))
    if answer is None:  # the poller went away: nobody will read a reply
        return Response(status_code=499)
    return JSONResponse(answer[1], status_code=answer[0])


async def download(request: Request) -> Response:
    emulator = _emulator(request)
    if request.path_params["token"] != emulator.token:
        return JSONResponse(UNAUTHORIZED, status_code=401)
    stored = emulator.state.files.by_path(request.path_params["path"])
    if stored is None or stored.data is None:
        return JSONResponse(ApiFailure(404, "Not Found").payload(), status_code=404)
    return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")


# ------------------------------------------------------------- control endpoints
def _loopback_only(endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        peer = request.client.host if request.client else None
        if not is_loopback(peer):
            return JSONResponse({"error": "control endpoints only on loopback"}, 403)
        return await endpoint(request)

    return guarded


async def _json(request: Request) -> dict[str, Any]:
    doc = await request.json() if await request.body() else {}
    if not isinstance(doc, dict):
        raise ValueError("a JSON object is expected")
    return doc


async def health(request: Request) -> Response:
    emulator = _emulator(request)
    return JSONResponse(
        {"ok": True, "base_url": emulator.base_url, "bot": emulator.state.bot_user()}
    )


async def statistics(request: Request) -> Response:
    return JSONResponse(_emulator(request).statistics().__dict__)


async def sent(request: Request) -> Response:
    emulator, chat = _emulator(request), request.query_params.get("chat_id")
    records = emulator.sent if chat is None else emulator.messages(int(chat))
    epoch = emulator.state.epoch
    return JSONResponse({"messages": [record.to_json(epoch) for record in records]})


async def calls(request: Request) -> Response:
    emulator, since = _emulator(request), int(request.query_params.get("since", "0"))
    method, epoch = request.query_params.get("method"), emulator.state.epoch
    chosen = [
        {"index": i, "method": c.method, "params": c.params, "time": c.time,
         "unix_time": epoch + c.time, "status": c.status}
        for i, c in enumerate(emulator.calls[since:], start=since)
        if method is None or c.method == method
    ]  # fmt: skip
    return JSONResponse({"calls": chosen, "next": len(emulator.calls)})


async def wait_sent(request: Request) -> Response:
    """Block until the bot sent ``count`` messages (in ``chat_id`` if given)."""
    emulator, query = _emulator(request), request.query_params
    count, chat = int(query.get("count", "1")), query.get("chat_id")

    def reached() -> bool:
        records = emulator.sent if chat is None else emulator.messages(int(chat))
        return len(records) >= count

    with trio.move_on_after(float(query.get("timeout", "10"))):
        await emulator.wait_for(reached, timeout=float("inf"))
    return JSONResponse({"ok": reached(), "sent": len(emulator.sent)})


async def push_message(request: Request) -> Response:
    doc = await _json(request)
    chat_id, text = int(doc.pop("chat_id")), str(doc.pop("text"))
    return JSONResponse({"update_id": _emulator(request).push_message(chat_id, text, **doc)})


async def push_messages(request: Request) -> Response:
    """Several user messages at the same instant: ``{"messages": [{chat_id, text...}]}``."""
    emulator, ids = _emulator(request), []
    for doc in (await _json(request)).get("messages", []):
        chat_id, text = int(doc.pop("chat_id")), str(doc.pop("text"))
        ids.append(emulator.push_message(chat_id, text, **doc))
    return JSONResponse({"update_ids": ids})


async def push_update(request: Request) -> Response:
    return JSONResponse({"update_id": _emulator(request).push_update(await _json(request))})


async def inject_error(request: Request) -> Response:
    doc = await _json(request)
    _emulator(request).inject_error(
        str(doc["method"]), int(doc["status"]), str(doc["description"]),
        doc.get("retry_after"), int(doc.get("times", 1)),
    )  # fmt: skip
    return JSONResponse({"ok": True})


async def latency(request: Request) -> Response:
    doc = await _json(request)
    _emulator(request).set_latency(str(doc.get("method", "*")), float(doc["seconds"]))
    return JSONResponse({"ok": True})


async def webhook(request: Request) -> Response:
    doc = await _json(request)
    secret = doc.get("secret_token")
    url = str(doc.get("url") or "")
    _emulator(request).set_webhook(url, None if secret is None else str(secret))
    return JSONResponse({"ok": True})


async def webhook_posts(request: Request) -> Response:
    posts = _emulator(request).webhook_posts
    return JSONResponse({"posts": [post.__dict__ for post in posts]})


async def flood_limits(request: Request) -> Response:
    doc = await _json(request)
    enabled = bool(doc.pop("enabled", True))
    _emulator(request).set_flood_limits(FloodLimits(**doc) if enabled else None)
    return JSONResponse({"ok": True})


def build_app(emulator: BotApiEmulator) -> Starlette:
    control = [
        ("/push_message", push_message), ("/push_messages", push_messages),
        ("/push_update", push_update),
        ("/inject_error", inject_error), ("/latency", latency),
        ("/webhook", webhook), ("/flood_limits", flood_limits),
    ]  # fmt: skip
    routes = [
        Route("/bot{token}/{method}", bot_api, methods=["GET", "POST"]),
        Route("/file/bot{token}/{path:path}", download, methods=["GET"]),
        Route("/_emulator/health", health), Route("/_emulator/statistics", statistics),
        Route("/_emulator/sent", sent), Route("/_emulator/calls", calls),
        Route("/_emulator/wait_sent", wait_sent),
        Route("/_emulator/webhook_posts", webhook_posts),
    ]  # fmt: skip
    routes += [Route(f"/_emulator{p}", _loopback_only(e), methods=["POST"]) for p, e in control]
    app = Starlette(routes=routes)
    app.state.emulator = emulator
    return app


@asynccontextmanager
async def open_botapi_emulator(
    token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[BotApiEmulator]:
    """Serve a ``BotApiEmulator`` on ``host:port`` (0 = a free port) until the block ends.

    ``emu.base_url`` is python-telegram-bot's ``base_url`` ("http://127.0.0.1:P/bot");
    ``options`` go to ``BotApiEmulator`` (``flood_limits``, ``require_known_chat``...).
    """
    emulator = BotApiEmulator(token, **options)
    async with (
        open_loopback_server(
            build_app(emulator), host=host, port=port, logger_name=logger.name
        ) as root,
        trio.open_nursery() as nursery,
    ):
        emulator.base_url = f"{root}/bot"
        emulator.base_file_url = f"{root}/file/bot"
        emulator.root_url = root
        nursery.start_soon(emulator.deliver_webhooks)
        try:
            yield emulator
        finally:
            nursery.cancel_scope.cancel()
