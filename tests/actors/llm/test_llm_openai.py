"""OpenAIProvider against a scripted server: server-sent events and errors."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tauro.actors.llm import ChatMessage, ChatRequest, OpenAIProvider
from tauro.actors.llm._openai import sse_data
from tauro.actors.llm.testing import Reply, ScriptedLLMServer, sse_lines
from tauro.errors import LLMCutError, LLMResponseError, LLMUnreachableError, ModelNotFoundError

REQUEST = ChatRequest(
    model="qwen",
    messages=(ChatMessage("user", "ciao"),),
    temperature=0.5,
    max_tokens=50,
    context_window=4096,
)


class Collector:
    def __init__(self) -> None:
        self.deltas: list[str] = []

    async def __call__(self, text: str) -> None:
        self.deltas.append(text)


async def lines_of(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def events(*lines: str) -> list[str]:
    return [data async for data in sse_data(lines_of(*lines))]


async def test_sse_joins_multiline_data_and_skips_comments_and_fields() -> None:
    got = await events(": keep-alive", "", "event: message", "data: a", "data:b", "id: 1", "", "")
    assert got == ["a\nb"]


async def test_sse_last_event_without_blank_line_still_counts() -> None:
    assert await events("data: x", "", "data: [DONE]") == ["x", "[DONE]"]


async def test_deltas_in_order_and_body_fields(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    server.script(Reply(lines=sse_lines(["Ci", "ao"])))
    got = Collector()
    end = await openai.chat(REQUEST, got)
    assert got.deltas == ["Ci", "ao"]
    assert end.done_reason == "stop"
    body = server.chat_bodies[0]
    assert body == {
        "model": "qwen",
        "messages": [{"role": "user", "content": "ciao"}],
        "stream": True,
        "temperature": 0.5,
        "max_tokens": 50,
    }


async def test_host_with_or_without_v1_reaches_the_same_path(server: ScriptedLLMServer) -> None:
    for host in ("http://llm.test:8080", "http://llm.test:8080/v1/"):
        server.script(Reply(lines=sse_lines(["a"])))
        provider = OpenAIProvider(server.client(), host)
        assert provider.base_url == "http://llm.test:8080"
        await provider.chat(REQUEST, Collector())
    assert len(server.chat_bodies) == 2  # a wrong path would have answered 404


async def test_an_ndjson_answer_is_not_taken_for_events(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    with pytest.raises(LLMResponseError, match=r"empty body \(no events\).*LLM_PROVIDER"):
        await openai.chat(REQUEST, Collector())  # the default reply is Ollama's


async def test_api_key_is_sent_as_bearer_header(server: ScriptedLLMServer) -> None:
    from tauro.actors.llm._http import make_client
    from tauro.config import LLMSettings

    settings = LLMSettings(provider="openai", host="http://llm.test", api_key="sk-123")
    provider = OpenAIProvider(make_client(settings, server.transport()), settings.host)
    server.script(Reply(lines=sse_lines(["a"])))
    await provider.chat(REQUEST, Collector())
    assert server.headers[-1]["authorization"] == "Bearer sk-123"


async def test_usage_chunk_gives_token_counts(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    usage = {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}
    lines = sse_lines(["a", "b"])
    lines[-2:-2] = [f"data: {json.dumps(usage)}", ""]
    server.script(Reply(lines=lines))
    end = await openai.chat(REQUEST, Collector())
    assert (end.prompt_tokens, end.completion_tokens) == (9, 2)


async def test_finish_reason_without_done_marker_is_complete(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    server.script(Reply(lines=sse_lines(["a"])[:-2]))  # no "data: [DONE]"
    end = await openai.chat(REQUEST, Collector())
    assert end.done_reason == "stop"


async def test_stream_without_end_is_a_cut(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    server.script(Reply(lines=sse_lines(["a", "b"], done=False)))
    got = Collector()
    with pytest.raises(LLMCutError, match="without a finish_reason"):
        await openai.chat(REQUEST, got)
    assert got.deltas == ["a", "b"]


async def test_broken_connection_is_a_cut(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    server.script(Reply(lines=sse_lines(["a"], done=False), cut=True))
    with pytest.raises(LLMResponseError) as caught:
        await openai.chat(REQUEST, Collector())
    assert "cut off" in caught.value.user_message


async def test_a_request_on_a_connection_the_server_closed_is_sent_again_at_once(
    server: ScriptedLLMServer, openai: OpenAIProvider, caplog: pytest.LogCaptureFixture
) -> None:
    # llama-cpp-python closes the connection after its empty answer to an overlong prompt
    server.script(Reply(closed_connection=True), Reply(lines=sse_lines(["ok"])))
    got = Collector()
    with caplog.at_level(logging.INFO, logger="tauro.llm"):
        end = await openai.chat(REQUEST, got)
    assert (end.done_reason, got.deltas, server.attempts) == ("stop", ["ok"], 2)
    assert [r.getMessage() for r in caplog.records] == ["llm.connection.stale"]


async def test_a_second_closed_connection_is_a_cut(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    server.script(Reply(closed_connection=True), Reply(closed_connection=True))
    with pytest.raises(LLMCutError, match="disconnected without sending a response"):
        await openai.chat(REQUEST, Collector())
    assert server.attempts == 2


async def test_garbage_event(server: ScriptedLLMServer, openai: OpenAIProvider) -> None:
    server.script(Reply(lines=["data: {not json", ""]))
    with pytest.raises(LLMResponseError, match="not JSON"):
        await openai.chat(REQUEST, Collector())


async def test_event_without_delta_is_garbage(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    server.script(Reply(lines=['data: {"choices": [{"text": "x"}]}', ""]))
    with pytest.raises(LLMResponseError, match="delta"):
        await openai.chat(REQUEST, Collector())


async def test_error_event_mid_stream(server: ScriptedLLMServer, openai: OpenAIProvider) -> None:
    server.script(Reply(lines=['data: {"error": {"message": "overloaded"}}', ""]))
    with pytest.raises(LLMResponseError, match="overloaded"):
        await openai.chat(REQUEST, Collector())


@pytest.mark.parametrize(
    "body",
    [
        '{"error": {"message": "The model `qwen` does not exist", "code": "model_not_found"}}',
        '{"object": "error", "message": "The model `qwen` does not exist.", "code": 404}',
    ],
)
async def test_missing_model(server: ScriptedLLMServer, openai: OpenAIProvider, body: str) -> None:
    server.script(Reply(status=404, body=body))
    with pytest.raises(ModelNotFoundError) as caught:
        await openai.chat(REQUEST, Collector())
    assert caught.value.user_message == "the model 'qwen' is not available on the LLM server"


async def test_unauthorized_names_the_api_key_setting(
    server: ScriptedLLMServer, openai: OpenAIProvider
) -> None:
    server.script(Reply(status=401, body='{"error": {"message": "bad key"}}'))
    with pytest.raises(LLMResponseError, match="LLM_API_KEY"):
        await openai.chat(REQUEST, Collector())


async def test_unreachable(server: ScriptedLLMServer, openai: OpenAIProvider) -> None:
    server.script(Reply(connect_error=True))
    with pytest.raises(LLMUnreachableError, match=re.escape("http://llm.test:11434")):
        await openai.chat(REQUEST, Collector())


async def test_list_models_reads_v1_models(openai: OpenAIProvider) -> None:
    assert await openai.list_models() == ("llama2:latest", "mistral:7b")


async def test_list_models_garbage() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"models": []})

    provider = OpenAIProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://x")
    with pytest.raises(LLMResponseError, match="/v1/models"):
        await provider.list_models()
