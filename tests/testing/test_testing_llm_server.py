"""The LLM server emulator, driven by real httpx on trio (Ollama and OpenAI APIs)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import httpx
import pytest
import trio
from trio.testing import MockClock

from tauro.testing import LlmRequest, LlmServerEmulator, ModelInfo, open_llm_server
from tauro.testing._llm_server_app import build_app
from tauro.testing._llm_server_script import fit_tokens, tokenize

HELLO = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
async def llm() -> AsyncIterator[LlmServerEmulator]:
    async with open_llm_server(["llama3.2", "mistral:7b"]) as server:
        yield server


@pytest.fixture
async def http(llm: LlmServerEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=llm.url, timeout=60) as client:
        yield client


async def ollama_lines(http: httpx.AsyncClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    async with http.stream("POST", "/api/chat", json=body) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) async for line in response.aiter_lines() if line]


async def sse_data(http: httpx.AsyncClient, body: dict[str, Any]) -> list[str]:
    async with http.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        return [line.removeprefix("data: ") async for line in r.aiter_lines() if line]


# ------------------------------------------------------------------ Ollama API
async def test_model_listing_version_and_show(http: httpx.AsyncClient) -> None:
    tags = (await http.get("/api/tags")).json()["models"]
    assert [m["name"] for m in tags] == ["llama3.2:latest", "mistral:7b"]
    assert tags[0]["details"]["format"] == "gguf"
    assert "version" in (await http.get("/api/version")).json()
    assert (await http.get("/")).text == "Ollama is running"
    shown = await http.post("/api/show", json={"model": "mistral:7b"})
    missing = await http.post("/api/show", json={"model": "nope"})
    assert shown.json()["details"]["family"] == "llama"
    assert (missing.status_code, missing.json()) == (404, {"error": "model 'nope' not found"})


async def test_chat_streams_ndjson_like_ollama(http: httpx.AsyncClient) -> None:
    lines = await ollama_lines(http, HELLO)
    *chunks, final = lines
    assert "".join(c["message"]["content"] for c in chunks) == "Echo: hello there"
    assert all(c["done"] is False and c["model"] == "llama3.2" for c in chunks)
    assert chunks[0]["message"]["role"] == "assistant"
    assert chunks[0]["created_at"].endswith("Z")
    assert (final["done"], final["done_reason"], final["message"]["content"]) == (True, "stop", "")
    assert final["eval_count"] == len(chunks) == 3
    for key in ("total_duration", "load_duration", "prompt_eval_count", "eval_duration"):
        assert isinstance(final[key], int)


async def test_chat_without_streaming_returns_one_object(http: httpx.AsyncClient) -> None:
    reply = (await http.post("/api/chat", json=HELLO | {"stream": False})).json()
    assert reply["message"] == {"role": "assistant", "content": "Echo: hello there"}
    assert (reply["done"], reply["done_reason"]) == (True, "stop")


async def test_unknown_model_and_bad_requests(http: httpx.AsyncClient) -> None:
    unknown = await http.post("/api/chat", json=HELLO | {"model": "x"})
    no_model = await http.post("/api/chat", json={"messages": []})
    not_json = await http.post("/api/chat", content=b"{nope")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": 'model "x" not found, try pulling it first'}
    assert (no_model.status_code, no_model.json()) == (400, {"error": "model is required"})
    assert not_json.status_code == 400


async def test_empty_messages_only_load_the_model(http: httpx.AsyncClient) -> None:
    streamed = await ollama_lines(http, {"model": "llama3.2", "messages": []})
    whole = await http.post("/api/chat", json={"model": "llama3.2", "stream": False})
    assert [line["done_reason"] for line in streamed] == ["load"]
    assert whole.json()["message"]["content"] == ""


async def test_num_predict_cuts_the_answer(http: httpx.AsyncClient) -> None:
    lines = await ollama_lines(http, HELLO | {"options": {"num_predict": 2}})
    assert [line["message"]["content"] for line in lines[:-1]] == ["Echo:", " hello"]
    assert lines[-1]["done_reason"] == "length"


async def test_latency_paces_tokens_on_trio_clock(autojump_clock: MockClock) -> None:
    async with (
        open_llm_server(first_token_latency=0.5, token_latency=0.1) as llm,
        httpx.AsyncClient(base_url=llm.url) as http,
    ):
        start, arrivals = trio.current_time(), []
        async with http.stream("POST", "/api/chat", json=HELLO) as response:
            async for line in response.aiter_lines():
                if line:
                    arrivals.append(round(trio.current_time() - start, 6))
    assert arrivals == [0.5, 0.6, 0.7, 0.7]


async def test_scripted_answers_then_answer_function(llm: LlmServerEmulator) -> None:
    llm.script("first", "second one")
    llm.answer = lambda request: f"{len(request.messages)} messages"
    async with httpx.AsyncClient(base_url=llm.url) as http:
        texts = []
        for _ in range(3):
            reply = (await http.post("/api/chat", json=HELLO | {"stream": False})).json()
            texts.append(reply["message"]["content"])
    assert texts == ["first", "second one", "1 messages"]


async def test_answer_tokens_pads_or_cuts(http: httpx.AsyncClient, llm: LlmServerEmulator) -> None:
    llm.answer_tokens = 50
    lines = await ollama_lines(http, HELLO)
    assert len(lines) == 51
    assert lines[-1]["eval_count"] == 50
    assert tokenize("Echo: a  b") == ["Echo:", " a", "  b"]
    assert fit_tokens(["a", " b", " c"], 2) == ["a", " b"]


async def test_requests_are_recorded(http: httpx.AsyncClient, llm: LlmServerEmulator) -> None:
    await ollama_lines(http, HELLO | {"options": {"temperature": 0.2}})
    request = llm.requests[-1]
    assert (request.api, request.model, request.stream) == ("ollama", "llama3.2", True)
    assert request.messages == ({"role": "user", "content": "hello there"},)
    assert request.options == {"temperature": 0.2}
    assert request.last_user_text == "hello there"


# ---------------------------------------------------------------- OpenAI API
async def test_openai_models(http: httpx.AsyncClient) -> None:
    listing = (await http.get("/v1/models")).json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["llama3.2:latest", "mistral:7b"]


async def test_openai_streaming_chunks_then_done(http: httpx.AsyncClient) -> None:
    body = HELLO | {"stream_options": {"include_usage": True}}
    *events, done = await sse_data(http, body)
    chunks = [json.loads(e) for e in events]
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]]
    assert done == "[DONE]"
    assert "".join(deltas) == "Echo: hello there"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 3


async def test_openai_without_streaming(http: httpx.AsyncClient) -> None:
    reply = (await http.post("/v1/chat/completions", json=HELLO | {"max_tokens": 1})).json()
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["content"] == "Echo:"
    assert reply["choices"][0]["finish_reason"] == "length"


async def test_openai_errors_have_openai_shape(http: httpx.AsyncClient) -> None:
    unknown = await http.post("/v1/chat/completions", json=HELLO | {"model": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == 'model "x" not found, try pulling it first'


# --------------------------------------------------------------------- faults
async def test_error_fault_returns_status_and_body(
    http: httpx.AsyncClient, llm: LlmServerEmulator
) -> None:
    llm.inject_fault("error", status=503, message="server busy")
    failed = await http.post("/api/chat", json=HELLO)
    assert (failed.status_code, failed.json()) == (503, {"error": "server busy"})
    assert (await http.post("/api/chat", json=HELLO | {"stream": False})).status_code == 200


async def test_cut_fault_closes_the_stream_mid_answer(
    http: httpx.AsyncClient, llm: LlmServerEmulator
) -> None:
    llm.inject_fault("cut", after_chunks=2)
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("POST", "/api/chat", json=HELLO) as response:
            async for line in response.aiter_lines():
                received.append(line)
    assert [json.loads(line)["message"]["content"] for line in received] == ["Echo:", " hello"]
    assert llm.statistics().active == 0


async def test_garbage_and_error_lines(http: httpx.AsyncClient, llm: LlmServerEmulator) -> None:
    llm.inject_fault("garbage", after_chunks=1)
    llm.inject_fault("error_line", after_chunks=1, message="out of memory")
    async with http.stream("POST", "/api/chat", json=HELLO) as response:
        garbage = [line async for line in response.aiter_lines()]
    errored = await ollama_lines(http, HELLO)
    with pytest.raises(json.JSONDecodeError):
        json.loads(garbage[1])
    assert json.loads(garbage[-1])["done"] is True
    assert errored[-1] == {"error": "out of memory"}
    assert len(errored) == 2


async def test_hang_fault_never_answers_until_the_client_leaves(
    autojump_clock: MockClock,
) -> None:
    async with open_llm_server() as llm, httpx.AsyncClient(base_url=llm.url) as http:
        llm.inject_fault("hang")
        start = trio.current_time()
        with pytest.raises(httpx.ReadTimeout):
            await http.post("/api/chat", json=HELLO | {"stream": False}, timeout=30)
        assert trio.current_time() - start == pytest.approx(30)
        llm.inject_fault("hang", after_chunks=1)
        with pytest.raises(httpx.ReadTimeout):
            async with http.stream("POST", "/api/chat", json=HELLO, timeout=10) as response:
                async for _ in response.aiter_lines():
                    pass
        await llm.wait_for(lambda: llm.statistics().active == 0, timeout=5)
        assert llm.statistics().faults_served == 2


# ---------------------------------------------------------------- concurrency
async def _chat_concurrently(llm: LlmServerEmulator, count: int) -> None:
    async with (
        httpx.AsyncClient(base_url=llm.url, timeout=60) as http,
        trio.open_nursery() as nursery,
    ):
        for _ in range(count):
            nursery.start_soon(ollama_lines, http, HELLO)


async def test_concurrency_is_tracked(autojump_clock: MockClock) -> None:
    async with open_llm_server(first_token_latency=1.0) as llm:
        await _chat_concurrently(llm, 4)
        assert llm.max_concurrent == 4
        assert llm.statistics().completed == 4


async def test_parallel_slots_queue_extra_requests(autojump_clock: MockClock) -> None:
    async with open_llm_server(first_token_latency=1.0, parallel=2) as llm:
        start = trio.current_time()
        await _chat_concurrently(llm, 5)
        assert trio.current_time() - start == pytest.approx(3.0)
        assert llm.max_concurrent == 2
        llm.reset_statistics()
        assert (llm.max_concurrent, llm.requests) == (0, [])


# ---------------------------------------------------------- control endpoints
async def test_control_endpoints(http: httpx.AsyncClient, llm: LlmServerEmulator) -> None:
    await http.post("/_emulator/script", json={"answers": ["scripted"]})
    await http.post("/_emulator/configure", json={"models": ["qwen2:0.5b"], "parallel": 3})
    await http.post("/_emulator/fault", json={"kind": "error", "status": 500, "times": 1})
    body = {"model": "qwen2:0.5b", "messages": [{"role": "user", "content": "x"}]}
    failed = await http.post("/api/chat", json=body)
    answered = await http.post("/api/chat", json=body | {"stream": False})
    stats = (await http.get("/_emulator/statistics")).json()
    recorded = (await http.get("/_emulator/requests", params={"since": 1})).json()
    assert failed.status_code == 500
    assert answered.json()["message"]["content"] == "scripted"
    assert (llm.parallel, stats["faults_served"]) == (3, 1)
    assert [r["model"] for r in recorded["requests"]] == ["qwen2:0.5b"]
    bad = await http.post("/_emulator/fault", json={"kind": "explode"})
    assert bad.status_code == 400


async def test_control_endpoints_refuse_other_hosts() -> None:
    transport = httpx.ASGITransport(app=build_app(LlmServerEmulator()), client=("192.0.2.9", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://llm") as http:
        refused = await http.post("/_emulator/fault", json={"kind": "hang"})
        tags = await http.get("/api/tags")
    assert refused.status_code == 403
    assert tags.status_code == 200


async def test_models_default_to_latest_tag() -> None:
    server = LlmServerEmulator([ModelInfo("phi3:mini"), "gemma"])
    assert [m.name for m in server.models] == ["phi3:mini", "gemma:latest"]
    assert server.find_model("gemma") is not None
    assert server.find_model("phi3") is None


def test_last_user_text_reads_openai_content_parts() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    request = LlmRequest("openai", "m", ({"role": "user", "content": content},), {}, True, 0.0)
    assert request.last_user_text == "ab"


async def test_runs_as_a_separate_process() -> None:
    command = [sys.executable, "-m", "tauro.testing.llm_server", "--port", "0",
               "--model", "tiny:1b"]  # fmt: skip
    async with trio.open_nursery() as nursery:
        run = partial(trio.run_process, command, stdout=subprocess.PIPE, check=False)
        process = await nursery.start(run)
        data = b""
        with trio.fail_after(30):
            while b"\n" not in data:
                data += await process.stdout.receive_some()
        url = data.decode().split()[1]
        async with httpx.AsyncClient(base_url=url) as http:
            tags = (await http.get("/api/tags")).json()
        process.terminate()
    assert [m["name"] for m in tags["models"]] == ["tiny:1b"]


async def test_openai_stream_faults(http: httpx.AsyncClient, llm: LlmServerEmulator) -> None:
    llm.inject_fault("error_line", after_chunks=1, message="boom")
    errored = await sse_data(http, HELLO)
    llm.inject_fault("cut", after_chunks=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await sse_data(http, HELLO)
    assert json.loads(errored[-1]) == {"error": {"message": "boom", "type": "api_error"}}
    assert len(errored) == 2


def test_public_names() -> None:
    import tauro.testing

    assert set(tauro.testing.__all__) == {
        "ApiCall", "BotApiEmulator", "BotApiStatistics", "BotMessage", "ChatAction",
        "Emulators", "FloodLimits", "LlmFault", "LlmRequest", "LlmServerEmulator",
        "LlmStatistics", "ModelInfo", "StoredFile", "TauroProcess", "WebhookDelivery",
        "WebhookPost", "free_loopback_port", "open_botapi_emulator", "open_emulators",
        "open_llm_server", "run_environment", "start_emulator_process", "wait_bot_idle",
    }  # fmt: skip
    assert all(hasattr(tauro.testing, name) for name in tauro.testing.__all__)


# ------------------------------------------- behaviours of real OpenAI-compatible servers


async def test_props_answer_like_llama_server_only_when_asked_to(
    llm: LlmServerEmulator, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/props")).status_code == 404
    llm.slots_in_props, llm.context_window = True, 2048
    llm.set_parallel(4)
    props = (await http.get("/props")).json()
    assert props["total_slots"] == 4
    assert props["default_generation_settings"]["n_ctx"] == 2048


@pytest.mark.parametrize(
    ("tokenizer", "path", "body", "key"),
    [
        ("llama.cpp", "/tokenize", {"content": "one two three"}, "tokens"),
        ("llama-cpp-python", "/extras/tokenize", {"input": "one two three"}, "tokens"),
        ("llama-cpp-python", "/extras/tokenize/count", {"input": "one two three"}, "count"),
        ("vllm", "/tokenize", {"model": "llama3.2", "prompt": "one two three"}, "count"),
        ("vllm", "/tokenize", {"model": "llama3.2", "prompt": "one two three"}, "tokens"),
    ],
)
async def test_tokenizer_endpoints(
    llm: LlmServerEmulator,
    http: httpx.AsyncClient,
    tokenizer: str,
    path: str,
    body: dict[str, str],
    key: str,
) -> None:
    assert (await http.post(path, json=body)).status_code == 404
    llm.tokenizer = tokenizer  # type: ignore[assignment]
    answer = (await http.post(path, json=body)).json()[key]
    assert (len(answer) if isinstance(answer, list) else answer) == 3


async def test_vllm_lists_each_models_max_model_len(
    llm: LlmServerEmulator, http: httpx.AsyncClient
) -> None:
    assert all("max_model_len" not in m for m in (await http.get("/v1/models")).json()["data"])
    llm.tokenizer, llm.context_window = "vllm", 2048
    listed = (await http.get("/v1/models")).json()["data"]
    assert [(m["id"], m["max_model_len"]) for m in listed] == [
        ("llama3.2:latest", 2048),
        ("mistral:7b", 2048),
    ]
    tokenized = (await http.post("/tokenize", json={"prompt": "one two"})).json()
    assert tokenized["max_model_len"] == 2048


async def test_an_overlong_prompt_gets_an_empty_200_or_a_400(
    llm: LlmServerEmulator, http: httpx.AsyncClient
) -> None:
    llm.context_window = 5
    body = {"model": "llama3.2", "stream": True,
            "messages": [{"role": "user", "content": "one two three four five"}]}  # fmt: skip
    response = await http.post("/v1/chat/completions", json=body)
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["connection"] == "close"  # llama-cpp-python closes it after
    llm.overflow = "error"
    response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "exceed_context_size_error"


async def test_a_model_ignoring_server_answers_any_name_with_its_own(
    llm: LlmServerEmulator, http: httpx.AsyncClient
) -> None:
    llm.served_model = "smollm"
    listed = (await http.get("/v1/models")).json()["data"]
    assert [m["id"] for m in listed] == ["smollm"]
    body = HELLO | {"model": "no-such-model", "stream": False}
    answer = (await http.post("/v1/chat/completions", json=body)).json()
    assert answer["model"] == "smollm"


async def test_an_interrupting_server_ends_the_running_answer_with_done_alone(
    llm: LlmServerEmulator, http: httpx.AsyncClient
) -> None:
    llm.interrupting = True
    llm.set_parallel(1)
    llm.answer_tokens, llm.token_latency = 30, 0.01
    bodies: dict[str, str] = {}

    async def ask(name: str) -> None:
        body = HELLO | {"stream": True}
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            bodies[name] = (await response.aread()).decode()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask, "first")
        await llm.wait_for(lambda: len(llm.requests) == 1)
        await trio.sleep(0.05)
        nursery.start_soon(ask, "second")
    assert bodies["first"].endswith("data: [DONE]\n\n")
    assert '"finish_reason":"stop"' not in bodies["first"].replace(" ", "")
    assert '"finish_reason":"stop"' in bodies["second"].replace(" ", "")
    assert llm.interrupted == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/v1/models", None), ("POST", "/extras/tokenize/count", {"input": "hi"})],
)
async def test_on_an_interrupting_server_any_request_ends_the_running_answer(
    llm: LlmServerEmulator, http: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    # llama-cpp-python: a model list or a token count takes the model's lock too
    llm.interrupting, llm.tokenizer = True, "llama-cpp-python"
    llm.answer_tokens, llm.token_latency = 30, 0.01
    answers: list[str] = []

    async def ask() -> None:
        async with http.stream("POST", "/v1/chat/completions", json=HELLO | {"stream": True}) as r:
            answers.append((await r.aread()).decode())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask)
        await llm.wait_for(lambda: len(llm.requests) == 1)
        await trio.sleep(0.05)
        assert (await http.request(method, path, json=body)).status_code == 200
    assert answers[0].endswith("data: [DONE]\n\n")
    assert '"finish_reason":"stop"' not in answers[0].replace(" ", "")
    assert llm.interrupted == 1
