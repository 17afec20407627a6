"""The ``tauro`` command: ``tauro run`` (the default) and ``tauro check``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from tauro import __version__
from tauro.app import build_system, serve
from tauro.checks import run_checks
from tauro.config import LoadedSettings, load_settings
from tauro.errors import ConfigError, EscalationError, TauroError
from tauro.logs import configure_logging

log = logging.getLogger("tauro")

EXIT_OK = 0
EXIT_FAILED = 1  # an actor kept failing and the root supervisor gave up
EXIT_CONFIG = 2  # a setting is missing or invalid; nothing was started
EXIT_FORCED = 130  # a second SIGINT/SIGTERM cut the graceful shutdown short

_DESCRIPTION = """\
TauroBot: your local LLM (Ollama or any OpenAI-compatible server) as a Telegram
companion that remembers every conversation, with voice notes and a web app.

Settings come from config.yml (--config or TAURO_CONFIG), then .env, then the
environment; the environment wins. The least you need is TELEGRAM_BOT_TOKEN
(from @BotFather). Run `tauro check` first: it says what is missing or wrong.
"""

_EPILOG = """\
examples:
  TELEGRAM_BOT_TOKEN=123:ABC tauro run     start the bot (Ctrl-C stops it cleanly)
  tauro check                              validate settings, reach Telegram and the LLM
  tauro --config my.yml check              the same with another config file

exit codes: 0 clean stop, 1 an actor kept failing, 2 bad settings, 130 forced stop
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tauro",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"TauroBot {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="config.yml to read (default: $TAURO_CONFIG, else ./config.yml if present)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env"),
        metavar="FILE",
        help="dotenv file to read (default: ./.env if present)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("run", help="run the bot until Ctrl-C or SIGTERM (the default)")
    commands.add_parser(
        "check", help="validate the settings and reach Telegram, the LLM, espeak-ng"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        loaded = _load(arguments.config, arguments.env_file)
    except ConfigError as error:
        print(f"tauro: {error}", file=sys.stderr)
        print("tauro: see `tauro check` and docs/configuration.md", file=sys.stderr)
        return EXIT_CONFIG
    settings = loaded.settings
    configure_logging(
        level=settings.logging.level,
        json_lines=settings.logging.format == "json",
        secrets=settings.secrets(),
        file=settings.logging.file,
    )
    if arguments.command == "check":
        return run_checks(loaded)
    return _run(loaded)


def _load(config: Path | None, env_file: Path) -> LoadedSettings:
    if config is None and os.environ.get("TAURO_CONFIG"):
        config = Path(os.environ["TAURO_CONFIG"])
    if config is None and Path("config.yml").is_file():
        config = Path("config.yml")
    return load_settings(config, os.environ, env_file)


def _run(loaded: LoadedSettings) -> int:
    settings = loaded.settings
    if not settings.telegram.token:
        log.error(
            "config.missing",
            extra={
                "fields": {
                    "key": "TELEGRAM_BOT_TOKEN",
                    "hint": "get a token from @BotFather and set it in .env or the environment",
                }
            },
        )
        return EXIT_CONFIG
    try:
        graceful = trio.run(serve, build_system(settings))
    except EscalationError as error:
        log.error(
            "system.failed",
            extra={
                "fields": {
                    "actor": error.actor,
                    "supervisor": error.supervisor,
                    "error": f"{type(error.cause).__name__}: {error.cause}",
                }
            },
        )
        return EXIT_FAILED
    except TauroError as error:
        log.error("system.failed", extra={"fields": {"error": str(error)}})
        return EXIT_FAILED
    log.info("system.stopped", extra={"fields": {"graceful": graceful}})
    return EXIT_OK if graceful else EXIT_FORCED


if __name__ == "__main__":
    sys.exit(main())
