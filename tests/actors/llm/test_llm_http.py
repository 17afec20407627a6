"""The HTTP edge: error translation, the pooled client, reading a streamed body."""

from __future__ import annotations

import gzip
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from tauro.actors.llm._http import (
    LineBuffer,
    body_chunks,
    display_url,
    excerpt,
    make_client,
    post_stream,
    proxies_in_environment,
    server_error_text,
    status_error,
    translate,
)
from tauro.config import LLMSettings
from tauro.errors import (
    LLMCutError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    LLMUnreachableError,
    ModelNotFoundError,
)

URL = "http://llm:11434"
REQUEST = httpx.Request("POST", URL)


def no_model(text: str) -> LLMError | None:
    return None


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("http://localhost:11434/", "http://localhost:11434"),
        ("http://bob:pw@llm.lan:8080/v1", "http://llm.lan:8080/v1"),
        ("https://[::1]:443", "https://[::1]:443"),
    ],
)
def test_display_url_drops_credentials_and_the_slash(raw: str, shown: str) -> None:
    assert display_url(raw) == shown


def test_excerpt_is_short_and_quoted() -> None:
    assert excerpt(b"abc") == "'abc'"
    assert len(excerpt("x" * 1000)) < 210


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ('{"error": "model not found"}', "model not found"),
        ('{"error": {"message": "bad"}}', "bad"),
        ('{"message": "vllm says"}', "vllm says"),
        ("plain text", "plain text"),
        ("[1, 2]", "[1, 2]"),
    ],
)
def test_server_error_text(body: str, text: str) -> None:
    assert server_error_text(body) == text


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused", request=REQUEST), LLMUnreachableError),
        (httpx.ConnectTimeout("slow", request=REQUEST), LLMUnreachableError),
        (httpx.PoolTimeout("pool", request=REQUEST), LLMTimeoutError),
        (httpx.RemoteProtocolError("closed", request=REQUEST), LLMCutError),
        (httpx.ReadError("reset", request=REQUEST), LLMCutError),
        (httpx.DecodingError("bad gzip", request=REQUEST), LLMResponseError),
    ],
)
def test_translate(exc: httpx.HTTPError, kind: type[LLMError]) -> None:
    error = translate(exc, URL)
    assert type(error) is kind
    assert URL in str(error)
    assert type(exc).__name__ in str(error)


def test_status_errors() -> None:
    assert "LLM_API_KEY" in str(status_error(URL, 403, "{}", no_model))
    assert "OLLAMA_HOST" in str(status_error(URL, 404, "nope", no_model))
    assert "internal error" in status_error(URL, 503, "{}", no_model).user_message
    assert "refused the request" in status_error(URL, 400, "{}", no_model).user_message


def test_a_404_about_the_model_is_the_providers_error() -> None:
    missing = ModelNotFoundError("m", user_message="u")
    assert status_error(URL, 404, '{"error": "x"}', lambda text: missing) is missing


async def test_the_client_sends_the_api_key_only_when_set() -> None:
    async with make_client(LLMSettings(api_key="k")) as client:
        assert client.headers["authorization"] == "Bearer k"
    async with make_client(LLMSettings()) as client:
        assert "authorization" not in client.headers


async def test_the_client_has_no_read_timeout_of_its_own() -> None:
    settings = LLMSettings(connect_timeout=2.5)
    async with make_client(settings) as client:
        assert client.timeout.connect == 2.5
        assert client.timeout.read is None


def test_line_buffer_joins_lines_cut_between_chunks() -> None:
    lines = LineBuffer()
    assert lines.feed(b'{"a":') == []
    assert lines.feed(b' 1}\n{"b": 2}\r\n\n{"c"') == [b'{"a": 1}', b'{"b": 2}\r', b""]
    assert lines.feed(b": 3}") == []
    assert lines.rest() == [b'{"c": 3}']
    assert lines.rest() == []


def test_line_buffer_keeps_a_multibyte_character_cut_between_chunks() -> None:
    encoded = "caffè\n".encode()
    lines = LineBuffer()
    assert lines.feed(encoded[:4]) == []
    assert lines.feed(encoded[4:]) == ["caffè".encode()]


def streamed(body: bytes, **headers: str) -> httpx.Response:
    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 5):
            yield body[start : start + 5]

    return httpx.Response(200, headers=headers, content=pieces())


async def test_body_chunks_reads_a_plain_body_as_it_is() -> None:
    body = b"line one\nline two\n"
    assert b"".join([c async for c in body_chunks(streamed(body))]) == body


async def test_body_chunks_decompresses_a_compressed_body() -> None:
    body = b"line one\nline two\n"
    response = streamed(gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert b"".join([c async for c in body_chunks(response)]) == body


class Recorder:
    """A transport that records what it is sent and answers with a streamed body."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.closed = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        recorder = self

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                yield b'{"ok": true}\n'

            async def aclose(self) -> None:
                recorder.closed += 1

        return httpx.Response(200, stream=Body())


async def test_post_stream_goes_straight_to_the_pool_with_the_clients_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    recorder = Recorder()
    settings = LLMSettings(api_key="k", connect_timeout=2.5)
    url = httpx.URL("http://llm:11434/api/chat")
    async with make_client(settings, httpx.MockTransport(recorder.handle)) as client:
        assert client.direct is not None
        async with post_stream(client, url, {"model": "m"}) as response:
            assert [chunk async for chunk in response.aiter_raw()] == [b'{"ok": true}\n']
            assert response.request.url == url
        assert recorder.closed == 1
        # The same request as the client builds for client.stream(...).
        async with client.stream("POST", url, json={"model": "m"}) as expected:
            await expected.aread()
    direct, usual = recorder.requests
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines == [f'HTTP Request: POST {url} "HTTP/1.1 200 OK"'] * 2  # as httpx logs it
    assert direct.headers == usual.headers
    assert direct.headers["authorization"] == "Bearer k"
    assert direct.content == usual.content == b'{"model":"m"}'
    assert direct.extensions["timeout"] == usual.extensions["timeout"]
    assert direct.extensions["timeout"]["connect"] == 2.5


async def test_post_stream_errors_are_httpx_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with make_client(LLMSettings(), httpx.MockTransport(refuse)) as client:
        with pytest.raises(httpx.ConnectError):
            async with post_stream(client, httpx.URL("http://llm/api/chat"), {}):
                pass


async def test_a_proxy_in_the_environment_keeps_httpxs_own_routing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    assert proxies_in_environment()
    async with make_client(LLMSettings()) as client:
        assert client.direct is None  # post_stream then uses client.stream
    monkeypatch.delenv("HTTPS_PROXY")
    for name in ("HTTP_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "localhost")  # alone, it routes nothing elsewhere
    assert not proxies_in_environment()
    async with make_client(LLMSettings()) as client:
        assert client.direct is not None


async def test_post_stream_on_any_client_uses_client_stream() -> None:
    recorder = Recorder()
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder.handle))
    async with client, post_stream(client, httpx.URL("http://llm/api/chat"), [1]) as response:
        assert await response.aread() == b'{"ok": true}\n'
    assert recorder.requests[0].content == b"[1]"
