"""OllamaProvider against a scripted server: NDJSON parsing and error translation."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from tauro.actors.llm import ChatMessage, ChatRequest, OllamaProvider
from tauro.actors.llm.testing import Reply, ScriptedLLMServer, ollama_lines
from tauro.errors import LLMResponseError, LLMUnreachableError, ModelNotFoundError

REQUEST = ChatRequest(
    model="llama2",
    messages=(ChatMessage("system", "be brief"), ChatMessage("user", "ciao")),
    temperature=0.3,
    max_tokens=123,
    context_window=2048,
)


class Collector:
    def __init__(self) -> None:
        self.deltas: list[str] = []

    async def __call__(self, text: str) -> None:
        self.deltas.append(text)


async def test_deltas_arrive_in_order_and_the_end_carries_counts(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(Reply(lines=ollama_lines(["Ci", "ao", "!"], eval_count=3)))
    got = Collector()
    end = await ollama.chat(REQUEST, got)
    assert got.deltas == ["Ci", "ao", "!"]
    assert (end.done_reason, end.prompt_tokens, end.completion_tokens) == ("stop", 7, 3)


async def test_request_body_has_the_options_ollama_understands(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    await ollama.chat(REQUEST, Collector())
    body = server.chat_bodies[0]
    assert body["model"] == "llama2"
    assert body["stream"] is True
    assert body["options"] == {"temperature": 0.3, "num_ctx": 2048, "num_predict": 123}
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "ciao"},
    ]


async def test_missing_model_says_how_to_pull_it(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(
        Reply(status=404, body='{"error":"model \\"llama2\\" not found, try pulling it first"}')
    )
    with pytest.raises(ModelNotFoundError) as caught:
        await ollama.chat(REQUEST, Collector())
    assert (
        caught.value.user_message == "the model 'llama2' is not installed: run `ollama pull llama2`"
    )
    assert "llm.test:11434" in str(caught.value)


async def test_a_404_that_is_not_about_the_model_blames_the_host_setting(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(Reply(status=404, body="404 page not found"))
    with pytest.raises(LLMResponseError) as caught:
        await ollama.chat(REQUEST, Collector())
    assert not isinstance(caught.value, ModelNotFoundError)
    assert "OLLAMA_HOST" in str(caught.value)


async def test_server_error_is_a_response_error_with_the_servers_words(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(Reply(status=500, body='{"error":"CUDA out of memory"}'))
    with pytest.raises(LLMResponseError) as caught:
        await ollama.chat(REQUEST, Collector())
    assert "500" in str(caught.value)
    assert "CUDA out of memory" in str(caught.value)
    assert "CUDA" not in caught.value.user_message
    assert "internal error" in caught.value.user_message


async def test_unreachable_server_names_the_url_without_credentials(
    server: ScriptedLLMServer,
) -> None:
    server.script(Reply(connect_error=True))
    provider = OllamaProvider(server.client(), "http://user:s3cret@llm.test:11434/")
    with pytest.raises(LLMUnreachableError) as caught:
        await provider.chat(REQUEST, Collector())
    assert "http://llm.test:11434" in caught.value.user_message
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caught.value.user_message
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_cut_connection_keeps_the_deltas_already_delivered(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(Reply(lines=ollama_lines(["Hel", "lo"], done=False), cut=True))
    got = Collector()
    with pytest.raises(LLMResponseError) as caught:
        await ollama.chat(REQUEST, got)
    assert got.deltas == ["Hel", "lo"]
    assert "cut off" in caught.value.user_message


async def test_stream_ending_without_done_is_a_cut(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(Reply(lines=ollama_lines(["Hel"], done=False)))
    with pytest.raises(LLMResponseError, match='without a "done" line'):
        await ollama.chat(REQUEST, Collector())


async def test_garbage_line_is_a_clear_error(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(Reply(lines=[*ollama_lines(["ok"], done=False), "<html>oops</html>"]))
    got = Collector()
    with pytest.raises(LLMResponseError) as caught:
        await ollama.chat(REQUEST, got)
    assert got.deltas == ["ok"]
    assert "not JSON" in str(caught.value)
    assert "<html>oops</html>" in str(caught.value)
    assert caught.value.user_message == "the LLM server sent an answer I could not read"


async def test_json_line_without_a_message_is_garbage(
    server: ScriptedLLMServer, ollama: OllamaProvider
) -> None:
    server.script(Reply(lines=['{"done": false, "message": 3}']))
    with pytest.raises(LLMResponseError, match=r"without message\.content"):
        await ollama.chat(REQUEST, Collector())


async def test_error_line_mid_stream(server: ScriptedLLMServer, ollama: OllamaProvider) -> None:
    server.script(Reply(lines=[*ollama_lines(["a"], done=False), '{"error":"model crashed"}']))
    with pytest.raises(LLMResponseError, match="model crashed"):
        await ollama.chat(REQUEST, Collector())


async def test_blank_lines_are_ignored(server: ScriptedLLMServer, ollama: OllamaProvider) -> None:
    lines = ollama_lines(["a", "b"])
    server.script(Reply(lines=[lines[0], "", lines[1], "  ", lines[2]]))
    got = Collector()
    await ollama.chat(REQUEST, got)
    assert got.deltas == ["a", "b"]


async def test_list_models_reads_api_tags(ollama: OllamaProvider) -> None:
    assert await ollama.list_models() == ("llama2:latest", "mistral:7b")


async def test_list_models_garbage_is_a_response_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="not json")

    provider = OllamaProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://x")
    with pytest.raises(LLMResponseError, match="/api/tags"):
        await provider.list_models()


async def test_list_models_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    provider = OllamaProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://x")
    with pytest.raises(LLMUnreachableError, match="http://x"):
        await provider.list_models()


def provider_on(body: bytes, piece: int, **headers: str) -> OllamaProvider:
    """A provider whose server sends ``body`` in pieces of ``piece`` bytes."""

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), piece):
            yield body[start : start + piece]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, content=pieces())

    return OllamaProvider(httpx.AsyncClient(transport=httpx.MockTransport(handler)), "http://x")


@pytest.mark.parametrize("piece", [1, 7, 10_000])
async def test_lines_are_found_whatever_the_pieces_the_body_comes_in(piece: int) -> None:
    body = "\r\n".join(ollama_lines(["Caffè ", "sì"], eval_count=2)).encode()  # no final \n
    got = Collector()
    end = await provider_on(body, piece).chat(REQUEST, got)
    assert "".join(got.deltas) == "Caffè sì"
    assert end.completion_tokens == 2
    if piece == 10_000:
        assert got.deltas == ["Caffè sì"]  # one piece of body: one delta


async def test_a_compressed_stream_is_read() -> None:
    body = gzip.compress("\n".join(ollama_lines(["a", "b"])).encode() + b"\n")
    got = Collector()
    await provider_on(body, 16, **{"Content-Encoding": "gzip"}).chat(REQUEST, got)
    assert "".join(got.deltas) == "ab"


async def test_text_before_a_bad_line_in_the_same_piece_is_delivered() -> None:
    body = "\n".join([*ollama_lines(["kept"], done=False), "<html>"]).encode()
    got = Collector()
    with pytest.raises(LLMResponseError, match="not JSON"):
        await provider_on(body, 10_000).chat(REQUEST, got)
    assert got.deltas == ["kept"]
