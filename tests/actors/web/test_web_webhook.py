"""The webhook route: POSTs at TELEGRAM_WEBHOOK_URL's path go to the endpoint, whose
status is the answer; the body is read only after the secret matched, within the limit."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tauro.actors.web import WebState, build_app
from tauro.actors.web._webhook import SECRET_HEADER

HOOK_SECRET = "the-hook-secret"


@dataclass
class Endpoint:
    """A WebhookEndpoint that answers ``status`` to the right secret and records bodies."""

    path: str = "/telegram/webhook"
    status: int = 200
    bodies: list[bytes] = field(default_factory=list)

    async def post(self, secret: str | None, read_body: Callable[[], Awaitable[bytes]]) -> int:
        if secret != HOOK_SECRET:
            return 401
        self.bodies.append(await read_body())
        return self.status


def client(state: WebState) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_app(state))
    return httpx.AsyncClient(transport=transport, base_url="http://bot.test")


async def test_posts_at_the_path_reach_the_endpoint(
    new_state: Callable[..., WebState], backend_type: Any
) -> None:
    endpoint = Endpoint()
    state = dataclasses.replace(new_state(backend_type()), webhook=endpoint)
    async with client(state) as http:
        ok = await http.post(endpoint.path, content=b'{"update_id": 1}',
                             headers={SECRET_HEADER: HOOK_SECRET})  # fmt: skip
        refused = await http.post(endpoint.path, content=b'{"update_id": 2}')
        page = await http.get("/")
    assert ok.status_code == 200
    assert refused.status_code == 401
    assert endpoint.bodies == [b'{"update_id": 1}']
    assert page.status_code == 200  # the app around it is unchanged


async def test_retry_later_carries_retry_after(
    new_state: Callable[..., WebState], backend_type: Any
) -> None:
    endpoint = Endpoint(status=503)
    state = dataclasses.replace(new_state(backend_type()), webhook=endpoint)
    async with client(state) as http:
        answer = await http.post(endpoint.path, content=b"{}", headers={SECRET_HEADER: HOOK_SECRET})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"


async def test_an_oversized_body_is_413_and_never_reaches_the_endpoint(
    new_state: Callable[..., WebState], backend_type: Any
) -> None:
    endpoint = Endpoint()
    state = dataclasses.replace(new_state(backend_type(), max_body=1024), webhook=endpoint)
    async with client(state) as http:
        big = await http.post(endpoint.path, content=b"x" * 2048,
                              headers={SECRET_HEADER: HOOK_SECRET})  # fmt: skip
    assert big.status_code == 413
    assert endpoint.bodies == []


async def test_without_a_webhook_the_path_is_nothing_special(
    new_state: Callable[..., WebState], backend_type: Any
) -> None:
    async with client(new_state(backend_type())) as http:
        answer = await http.post("/telegram/webhook", content=b"{}",
                                 headers={SECRET_HEADER: HOOK_SECRET})  # fmt: skip
    assert answer.status_code == 405
