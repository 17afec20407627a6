"""Run the Bot API emulator as its own process.

``python -m tauro.testing.botapi --port 8081 --token 123:ABC`` serves
``http://127.0.0.1:8081/bot<token>/<method>`` plus the ``/_emulator/...`` control
endpoints, and prints one line ``READY <base_url>`` on stdout once listening (with
``--port 0`` that line tells the chosen port).
"""

from __future__ import annotations

import argparse
import sys

import trio

from tauro.testing._botapi import DEFAULT_TOKEN
from tauro.testing._botapi_app import open_botapi_emulator
from tauro.testing._botapi_flood import FloodLimits


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tauro.testing.botapi")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default="tauro_test_bot")
    parser.add_argument("--flood-limits", action="store_true", help="enforce 429s")
    parser.add_argument("--any-chat", action="store_true", help="allow unknown chat ids")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    async with open_botapi_emulator(
        args.token,
        host=args.host,
        port=args.port,
        bot_username=args.bot_username,
        flood_limits=FloodLimits() if args.flood_limits else None,
        require_known_chat=not args.any_chat,
    ) as emulator:
        print(f"READY {emulator.base_url}", flush=True)
        await trio.sleep_forever()


def main(argv: list[str] | None = None) -> None:
    try:
        trio.run(_serve, _arguments(argv))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
