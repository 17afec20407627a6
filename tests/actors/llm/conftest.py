"""Fixtures of the LLM tests; the scripted server lives in tauro.actors.llm.testing."""

from __future__ import annotations

import pytest

from tauro.actors.llm import LLMService, OllamaProvider, OpenAIProvider
from tauro.actors.llm.testing import ScriptedLLMServer
from tauro.config import LLMSettings

HOST = "http://llm.test:11434"


class Kit:
    """Settings and services on one scripted server (fixtures cannot be imported)."""

    host = HOST

    def __init__(self, server: ScriptedLLMServer) -> None:
        self.server = server

    def settings(self, **changes: object) -> LLMSettings:
        values: dict[str, object] = {"host": HOST, "model": "llama2", "max_parallel": 2}
        values.update(changes)
        return LLMSettings(**values)  # type: ignore[arg-type]

    def service(self, **changes: object) -> LLMService:
        s = self.settings(**changes)
        client = self.server.client()
        provider = (
            OpenAIProvider(client, s.host)
            if s.provider == "openai"
            else OllamaProvider(client, s.host)
        )
        return LLMService(s, provider)  # the default backoff: CONNECT_BACKOFF


@pytest.fixture
def server() -> ScriptedLLMServer:
    return ScriptedLLMServer()


@pytest.fixture
def kit(server: ScriptedLLMServer) -> Kit:
    return Kit(server)


@pytest.fixture
def ollama(server: ScriptedLLMServer) -> OllamaProvider:
    return OllamaProvider(server.client(), HOST)


@pytest.fixture
def openai(server: ScriptedLLMServer) -> OpenAIProvider:
    return OpenAIProvider(server.client(), HOST + "/v1")
