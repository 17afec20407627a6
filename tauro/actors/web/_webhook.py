"""The Telegram webhook route: ``POST <TELEGRAM_WEBHOOK_URL's path>``.

The web app knows nothing of Telegram: it hands the secret header and a way to
read the body to a :class:`WebhookEndpoint` (the Telegram channel's inbox), and
answers with the status it returns. The body is read with the same limit as
every other route (WEB_MAX_BODY_BYTES), and only once the endpoint has
accepted the secret. A 503 carries ``Retry-After``: Telegram will try again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from tauro.actors.web._http import read_limited

__all__ = ["SECRET_HEADER", "WebhookEndpoint", "webhook_route"]

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
_RETRY_AFTER = "5"  # seconds, for a 503
_NO_STORE = {"Cache-Control": "no-store"}


class WebhookEndpoint(Protocol):
    @property
    def path(self) -> str:
        """The URL path Telegram posts to."""

    async def post(self, secret: str | None, read_body: Callable[[], Awaitable[bytes]]) -> int:
        """The HTTP status for one POST; ``read_body`` only after the secret matched."""


def webhook_route(
    endpoint: WebhookEndpoint, max_body: int
) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        status = await endpoint.post(
            request.headers.get(SECRET_HEADER), lambda: read_limited(request, max_body)
        )
        headers = dict(_NO_STORE)
        if status == 503:
            headers["Retry-After"] = _RETRY_AFTER
        return Response(status_code=status, headers=headers)

    return receive
