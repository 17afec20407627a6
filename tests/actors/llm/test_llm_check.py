"""``tauro check`` for the LLM: reachable, models, the configured model."""

from __future__ import annotations

from typing import Any

import httpx

from tauro.actors.llm import check_llm
from tauro.actors.llm.testing import ScriptedLLMServer


async def test_installed_model_is_found(kit: Any, server: ScriptedLLMServer) -> None:
    check = await check_llm(kit.settings(model="llama2"), transport=server.transport())
    assert check.ok
    assert check.models == ("llama2:latest", "mistral:7b")
    assert check.installed_as == "llama2:latest"
    lines = check.lines()
    assert lines[0].startswith("ok   LLM server (ollama) at http://llm.test:11434: 2 models")
    assert "installed as 'llama2:latest'" in lines[1]


async def test_missing_model_says_how_to_pull_it(kit: Any, server: ScriptedLLMServer) -> None:
    check = await check_llm(kit.settings(model="phi3"), transport=server.transport())
    assert check.reachable
    assert not check.ok
    assert "run `ollama pull phi3`" in check.lines()[1]


async def test_openai_provider_lists_v1_models(kit: Any, server: ScriptedLLMServer) -> None:
    settings = kit.settings(provider="openai", model="mistral:7b")
    check = await check_llm(settings, transport=server.transport())
    assert check.ok
    assert check.provider == "openai"


async def test_unreachable_server(kit: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    check = await check_llm(kit.settings(), transport=httpx.MockTransport(refuse))
    assert not check.reachable
    assert not check.ok
    assert check.lines() == [f"FAIL LLM server (ollama) at http://llm.test:11434: {check.error}"]
    assert "Connection refused" in (check.error or "")


async def test_a_server_error_is_reachable_but_not_ok(kit: Any) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": "disk full"})

    check = await check_llm(kit.settings(), transport=httpx.MockTransport(fail))
    assert check.reachable
    assert not check.ok
    assert "disk full" in (check.error or "")
