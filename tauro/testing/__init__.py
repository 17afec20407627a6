"""Local emulators of the outside systems TauroBot talks to, for tests and benchmarks.

- ``open_botapi_emulator``: a Telegram Bot API server (long polling or webhook
  deliveries, sending, editing, voice uploads, flood limits, fault injection) for the
  real python-telegram-bot.
- ``open_llm_server``: an Ollama server that also speaks the OpenAI-compatible API,
  with scripted answers, latency and faults.

Both run inside the caller's trio nursery on a free loopback port (so they follow a
``MockClock``), or as separate processes (``python -m tauro.testing.botapi``,
``python -m tauro.testing.llm_server``; ``start_emulator_process`` starts one and
waits until it listens) driven through ``/_emulator/...`` endpoints.
``wait_bot_idle`` waits until a bot has finished with every update the Bot API
emulator handed it, so that a test can check that nothing more arrives.
``open_emulators`` starts both emulators as processes, ``run_environment`` is the
environment of a bot that talks to them, and ``TauroProcess`` is a real
``python -m tauro run`` (wait for a log line, SIGTERM, SIGKILL, its log).
Nothing in ``tauro`` proper imports this package.
"""

from tauro.testing._botapi import BotApiEmulator as BotApiEmulator
from tauro.testing._botapi import BotApiStatistics as BotApiStatistics
from tauro.testing._botapi_app import open_botapi_emulator as open_botapi_emulator
from tauro.testing._botapi_core import ChatAction as ChatAction
from tauro.testing._botapi_flood import FloodLimits as FloodLimits
from tauro.testing._botapi_serve import free_loopback_port as free_loopback_port
from tauro.testing._botapi_types import ApiCall as ApiCall
from tauro.testing._botapi_types import BotMessage as BotMessage
from tauro.testing._botapi_types import StoredFile as StoredFile
from tauro.testing._botapi_webhook import WebhookDelivery as WebhookDelivery
from tauro.testing._botapi_webhook import WebhookPost as WebhookPost
from tauro.testing._idle import wait_bot_idle as wait_bot_idle
from tauro.testing._llm_server import LlmServerEmulator as LlmServerEmulator
from tauro.testing._llm_server import LlmStatistics as LlmStatistics
from tauro.testing._llm_server_app import open_llm_server as open_llm_server
from tauro.testing._llm_server_script import LlmFault as LlmFault
from tauro.testing._llm_server_script import LlmRequest as LlmRequest
from tauro.testing._llm_server_script import ModelInfo as ModelInfo
from tauro.testing._process import start_emulator_process as start_emulator_process
from tauro.testing._tauro_run import Emulators as Emulators
from tauro.testing._tauro_run import TauroProcess as TauroProcess
from tauro.testing._tauro_run import open_emulators as open_emulators
from tauro.testing._tauro_run import run_environment as run_environment

__all__ = [
    "ApiCall",
    "BotApiEmulator",
    "BotApiStatistics",
    "BotMessage",
    "ChatAction",
    "Emulators",
    "FloodLimits",
    "LlmFault",
    "LlmRequest",
    "LlmServerEmulator",
    "LlmStatistics",
    "ModelInfo",
    "StoredFile",
    "TauroProcess",
    "WebhookDelivery",
    "WebhookPost",
    "free_loopback_port",
    "open_botapi_emulator",
    "open_emulators",
    "open_llm_server",
    "run_environment",
    "start_emulator_process",
    "wait_bot_idle",
]
