"""Run the Bot API emulator as its own process.

``python -m tauro.testing.botapi --port 8081 --token 123:ABC`` serves
``http://127.0.0.1:8081/bot<token>/<method>`` plus the ``/_emulator/...`` control
endpoints, and prints one line ``READY <base_url>`` on stdout once listening (with
``--port 0`` that line tells the chosen port).
"""

from __future__ import annotations

import argparse

from tauro.testing._botapi import DEFAULT_TOKEN
from tauro.testing._botapi_app import open_botapi_emulator
from tauro.testing._botapi_flood import FloodLimits
from tauro.testing._botapi_webhook import WebhookDelivery
from tauro.testing._process import emulator_arguments, run_emulator, serve_until_stopped


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = emulator_arguments("tauro.testing.botapi", default_port=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default="tauro_test_bot")
    parser.add_argument("--flood-limits", action="store_true", help="enforce 429s")
    parser.add_argument("--any-chat", action="store_true", help="allow unknown chat ids")
    parser.add_argument(
        "--webhook-retry-max", type=float, default=60.0,
        help="longest pause (s) before a failed webhook delivery is repeated",
    )  # fmt: skip
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    async with open_botapi_emulator(
        args.token,
        host=args.host,
        port=args.port,
        bot_username=args.bot_username,
        flood_limits=FloodLimits() if args.flood_limits else None,
        require_known_chat=not args.any_chat,
        webhook=WebhookDelivery(
            retry_initial=min(1.0, args.webhook_retry_max), retry_max=args.webhook_retry_max
        ),
    ) as emulator:
        await serve_until_stopped(emulator.base_url)


def main(argv: list[str] | None = None) -> None:
    run_emulator(_serve, _arguments(argv))


if __name__ == "__main__":
    main()
