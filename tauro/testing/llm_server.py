"""Run the LLM server emulator as its own process.

``python -m tauro.testing.llm_server --port 11434 --first-token-latency 0.2`` serves
Ollama's API, the OpenAI-compatible API under ``/v1`` and the ``/_emulator/...``
control endpoints, and prints ``READY <url>`` on stdout once listening.
"""

from __future__ import annotations

import argparse
from typing import get_args

from tauro.testing._llm_server import DEFAULT_MODELS, Tokenizer
from tauro.testing._llm_server_app import open_llm_server
from tauro.testing._process import emulator_arguments, run_emulator, serve_until_stopped


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = emulator_arguments("tauro.testing.llm_server", default_port=11434)
    parser.add_argument("--model", action="append", help="installed model (repeatable)")
    parser.add_argument("--first-token-latency", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--token-latency", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--answer-tokens", type=int, default=None, metavar="N")
    parser.add_argument("--parallel", type=int, default=None, metavar="N")
    parser.add_argument("--slots-in-props", action="store_true", help="llama.cpp's GET /props")
    parser.add_argument("--tokenizer", choices=get_args(Tokenizer), default=None)
    parser.add_argument("--context-window", type=int, default=None, metavar="TOKENS")
    parser.add_argument("--overflow", choices=("empty", "error"), default="empty")
    parser.add_argument("--interrupting", action="store_true", help="as llama-cpp-python")
    parser.add_argument("--served-model", default=None, help="answer with it whatever is asked")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    async with open_llm_server(
        args.model or DEFAULT_MODELS,
        host=args.host,
        port=args.port,
        first_token_latency=args.first_token_latency,
        token_latency=args.token_latency,
        answer_tokens=args.answer_tokens,
        parallel=args.parallel,
        slots_in_props=args.slots_in_props,
        tokenizer=args.tokenizer,
        context_window=args.context_window,
        overflow=args.overflow,
        interrupting=args.interrupting,
        served_model=args.served_model,
    ) as server:
        await serve_until_stopped(server.url)


def main(argv: list[str] | None = None) -> None:
    run_emulator(_serve, _arguments(argv))


if __name__ == "__main__":
    main()
