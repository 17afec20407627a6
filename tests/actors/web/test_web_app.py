"""The app over real HTTP (hypercorn on port 0): routes, secret, bad input, files."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tauro.actors.voice import VoiceNote
from tauro.actors.web import ActorStatus, StatusReport
from tauro.errors import MemoryStoreError

SECRET = "correct horse battery staple"
StartWeb = Any  # conftest.start_web


def _events(body: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for frame in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line)
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


async def _raw_get(url: str, path: str) -> bytes:
    """A request line exactly as given: clients normalise '..' away, attackers do not."""
    host, port = url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := await stream.receive_some():
            chunks.append(chunk)
    return b"".join(chunks)


async def test_shell_is_public_with_etag_and_revalidation(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.client() as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        assert b'rel="manifest"' in page.content
        again = await client.get("/", headers={"If-None-Match": page.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        head = await client.head("/app.js")
        assert head.status_code == 200
        assert head.content == b""
        worker = await client.get("/service-worker.js")
        assert worker.headers["content-type"] == "text/javascript; charset=utf-8"


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; media-src 'self'; connect-src 'self'; manifest-src 'self'; "
    "worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _assert_security_headers(headers: httpx.Headers, what: str) -> None:
    assert headers.get_list("content-security-policy") == [_CSP], what
    assert headers.get_list("x-content-type-options") == ["nosniff"], what
    assert headers.get_list("referrer-policy") == ["no-referrer"], what


async def test_every_kind_of_response_carries_the_security_headers(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.client() as client:
        responses = {
            "login page": await client.get("/login"),
            "static file": await client.get("/style.css"),
            "catalog": await client.get("/i18n/auto.json"),
            "health": await client.get("/healthz"),
            "401": await client.get("/api/history"),
            "404": await client.get("/api/nope"),
            "405": await client.get("/api/chat"),
            "415": await client.post("/api/login", content=b"token"),
            "wrong secret": await client.post("/api/login", json={"token": "guess"}),
        }
        page = await client.get("/")
        responses["page"] = page
        responses["304"] = await client.get("/", headers={"If-None-Match": page.headers["etag"]})
        responses["login"] = await client.post("/api/login", json={"token": SECRET})
        responses["API JSON"] = await client.get("/api/session")
        responses["event stream"] = await client.post("/api/chat", json={"text": "hi"})
        responses["413"] = await client.post("/api/chat", json={"text": "x" * 70_000})
        responses["metrics"] = await client.get("/metrics")
        responses["logout"] = await client.post("/api/logout", json={})
    expected = {"304": 304, "401": 401, "404": 404, "405": 405, "413": 413, "415": 415}
    expected |= {"wrong secret": 401, "login": 204, "logout": 204}
    for what, response in responses.items():
        assert response.status_code == expected.get(what, 200), what
        _assert_security_headers(response.headers, what)


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/icons/../../actors/web/_app.py",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/icons/%2e%2e/%2e%2e/errors.py",
        "/.%2e/x.html",
        "/..%2fpyproject.toml",
        "/icons/..%5c..%5cerrors.py",
    ],
)
async def test_paths_cannot_escape_the_app_folder(start_web: StartWeb, path: str) -> None:
    web = await start_web()
    response = await _raw_get(web.url, path)
    status = response.split(b"\r\n", 1)[0]
    assert b" 404 " in status or b" 400 " in status, status
    assert b"\r\nx-content-type-options: nosniff\r\n" in response.split(b"\r\n\r\n")[0]
    assert b"[build-system]" not in response
    assert b"import" not in response.split(b"\r\n\r\n", 1)[1]


async def test_unknown_routes_are_json_404(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.logged_in() as client:
        for method, path in (
            ("GET", "/nope.html"),
            ("GET", "/api/nope"),
            ("POST", "/api/nope"),
            ("GET", "/favicon.ico"),
        ):
            response = await client.request(method, path)
            assert response.status_code == 404, path
            assert "error" in response.json()
        wrong_method = await client.get("/api/chat")
        assert wrong_method.status_code == 405
        assert "error" in wrong_method.json()


async def test_login_sets_a_strict_httponly_cookie(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.client() as client:
        wrong = await client.post("/api/login", json={"token": "guess"})
        assert wrong.status_code == 401
        assert "set-cookie" not in wrong.headers
        malformed = await client.post(
            "/api/login", content=b"{", headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400
        right = await client.post("/api/login", json={"token": SECRET})
        assert right.status_code == 204
        cookie = right.headers["set-cookie"]
        assert cookie.startswith("tauro_session=")
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/"):
            assert attribute in cookie
        assert "Max-Age=15552000" in cookie  # kept for 180 days
        assert "Secure" not in cookie  # plain HTTP, no proxy: the browser would drop it
        assert SECRET not in cookie
        assert (await client.get("/api/session")).json() == {
            "voice": False,
            "voice_available": True,
        }
    assert web.state.counters.logins == 1


@pytest.mark.parametrize(
    ("headers", "secure"),
    [
        ({"X-Forwarded-Proto": "https"}, True),
        ({"X-Forwarded-Proto": "HTTPS, http"}, True),
        ({"Forwarded": "for=192.0.2.60;proto=https;by=203.0.113.43"}, True),
        ({"Forwarded": 'for="[2001:db8::1]"; Proto="https", for=10.0.0.1;proto=http'}, True),
        ({}, False),
        ({"X-Forwarded-Proto": "http"}, False),
        ({"X-Forwarded-Proto": "http, https"}, False),
        ({"Forwarded": "for=192.0.2.60;proto=http"}, False),
        ({"Forwarded": "proto=http, proto=https"}, False),
    ],
)
async def test_the_cookie_is_secure_when_the_browser_reached_an_https_proxy(
    start_web: StartWeb, headers: dict[str, str], secure: bool
) -> None:
    web = await start_web()
    async with web.client() as client:
        right = await client.post("/api/login", json={"token": SECRET}, headers=headers)
        assert right.status_code == 204
        assert ("; secure" in right.headers["set-cookie"].lower()) is secure


async def test_a_token_in_a_query_string_is_never_read(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.client() as client:
        page = await client.get(f"/login?token={SECRET}")
        assert page.status_code == 200
        assert "set-cookie" not in page.headers
        login = await client.post(f"/api/login?token={SECRET}", json={})
        assert login.status_code == 401
        assert "set-cookie" not in login.headers
        form = await client.post("/api/login", data={"token": SECRET})  # a form sent without JS
        assert form.status_code == 415
        assert (await client.get("/api/session")).status_code == 401
    assert web.state.counters.logins == 0


async def test_logout_ends_the_session_for_every_copy_of_the_cookie(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.logged_in() as client:
        copied = client.cookies["tauro_session"]
        assert (await client.post("/api/logout", json={})).status_code == 204
    async with web.client() as thief:
        thief.cookies.set("tauro_session", copied)
        assert (await thief.get("/api/session")).status_code == 401
        assert (await thief.get("/api/history")).status_code == 401
    async with web.logged_in() as client:  # logging in again gives a new, working session
        assert (await client.get("/api/session")).status_code == 200


async def test_repeated_wrong_secrets_from_one_client_get_429(
    start_web: StartWeb, caplog: pytest.LogCaptureFixture
) -> None:
    web = await start_web()
    async with web.client() as client:
        codes = [(await client.post("/api/login", json={"token": "guess"})).status_code]
        while codes[-1] == 401 and len(codes) < 10:
            codes.append((await client.post("/api/login", json={"token": "guess"})).status_code)
        assert codes[:3] == [401, 401, 401]
        assert codes[-1] == 429
        refused = await client.post("/api/login", json={"token": SECRET})
        assert refused.status_code == 429  # the secret is not even checked while waiting
        assert int(refused.headers["retry-after"]) >= 1
        assert "try again in" in refused.json()["error"]
        assert "set-cookie" not in refused.headers
    refusals = [r for r in caplog.records if r.getMessage() == "web.login.refused"]
    assert len(refusals) == len(codes) - 1  # one WARNING per secret checked and wrong
    assert {r.levelname for r in refusals} == {"WARNING"}
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/session"),
        ("GET", "/api/history"),
        ("POST", "/api/chat"),
        ("POST", "/api/clear"),
        ("POST", "/api/voice"),
        ("GET", "/api/voice/x"),
        ("GET", "/api/status"),
        ("GET", "/metrics"),
    ],
)
async def test_every_api_route_needs_the_secret(
    start_web: StartWeb, method: str, path: str
) -> None:
    web = await start_web()
    async with web.client() as client:
        body = {"text": "hi", "enabled": True}
        for cookies in ({}, {"tauro_session": "forged.cafe"}):
            client.cookies.clear()
            client.cookies.update(cookies)
            response = await client.request(method, path, json=body)
            assert response.status_code == 401, (path, cookies)
            assert "log in" in response.json()["error"]
    assert web.backend.calls == []


async def test_bearer_opens_status_and_metrics_only(start_web: StartWeb) -> None:
    web = await start_web()
    auth = {"Authorization": f"Bearer {SECRET}"}
    async with web.client() as client:
        assert (await client.get("/api/status", headers=auth)).status_code == 200
        metrics = await client.get("/metrics", headers=auth)
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        chat = await client.post("/api/chat", headers=auth, json={"text": "hi"})
        assert chat.status_code == 401
        bad = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401


async def test_chat_streams_and_history_keeps_it(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.logged_in() as client:
        response = await client.post("/api/chat", json={"text": "  ciao  "})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"  # nginx passes it on unbuffered
        assert _events(response.text) == [
            ("delta", {"text": "Hello"}),
            ("delta", {"text": ", "}),
            ("delta", {"text": "world"}),
            ("done", {"text": "Hello, world"}),
        ]
        history = (await client.get("/api/history")).json()
        assert [(m["role"], m["content"]) for m in history["messages"]] == [
            ("user", "ciao"),
            ("assistant", "Hello, world"),
        ]
        # Answers come with their Markdown rendered; the user's words stay text.
        assert [m.get("html") for m in history["messages"]] == [None, "<p>Hello, world</p>\n"]
    conversation = web.backend.calls[0][1][0]
    assert conversation.startswith("web:")


async def test_two_browsers_have_two_conversations(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.logged_in() as one, web.logged_in() as two:
        await one.post("/api/chat", json={"text": "from one"})
        assert (await two.get("/api/history")).json()["messages"] == []
        assert len((await one.get("/api/history")).json()["messages"]) == 2


BAD_CHATS = [
    (b"{not json", {}, 400),
    (b'{"text": 5}', {}, 400),
    (b'{"text": "   "}', {}, 400),
    (b"[]", {}, 400),
    (json.dumps({"text": "x" * 4097}).encode(), {}, 413),
    (b'{"text": "' + b"x" * 70000 + b'"}', {}, 413),
    (b'{"text": "hi"}', {"content-type": "text/plain"}, 415),
    (b'{"text": "hi"}', {"origin": "http://evil.example"}, 403),
]


@pytest.mark.parametrize(("body", "headers", "status"), BAD_CHATS)
async def test_bad_chat_requests_reach_neither_llm_nor_memory(
    start_web: StartWeb, body: bytes, headers: dict[str, str], status: int
) -> None:
    web = await start_web()
    async with web.logged_in() as client:
        sent = {"content-type": "application/json", **headers}
        before = web.state.counters.rejected
        response = await client.post("/api/chat", content=body, headers=sent)
        assert response.status_code == status
        assert response.json()["error"]
    assert web.backend.turn_calls == []
    assert web.backend.stored == {}
    # the rejected counter is for malformed requests; a refused origin is not one
    assert web.state.counters.rejected - before == (0 if status == 403 else 1)


async def test_oversized_body_without_length_is_413(start_web: StartWeb) -> None:
    web = await start_web(max_body=1024)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}'

    async with web.logged_in() as client:
        response = await client.post(
            "/api/chat", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
    assert web.backend.turn_calls == []


async def test_clear_and_voice(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.logged_in() as client:
        await client.post("/api/chat", json={"text": "ciao"})
        assert (await client.post("/api/clear", json={})).status_code == 204
        assert (await client.get("/api/history")).json()["messages"] == []
        bad = await client.post("/api/voice", json={"enabled": "yes"})
        assert bad.status_code == 400
        on = await client.post("/api/voice", json={"enabled": True})
        assert on.json() == {"voice": True}
        assert (await client.get("/api/history")).json()["voice"] is True
        web.backend.voice_available = False
        refused = await client.post("/api/voice", json={"enabled": True})
        assert refused.status_code == 409
        assert (await client.get("/api/history")).json()["voice"] is False


def voice_note(folder: Path, size: int) -> tuple[VoiceNote, bytes]:
    audio = b"OggS" + random.Random(size).randbytes(size - 4)
    path = folder / "note.ogg"
    path.write_bytes(audio)
    return VoiceNote(path, 30.0, size), audio


async def test_voice_clips_play_only_for_their_conversation(
    start_web: StartWeb, tmp_path: Path
) -> None:
    web = await start_web()
    note, audio = voice_note(tmp_path, 300_000)  # several chunks
    async with web.logged_in() as owner, web.logged_in() as other:
        await owner.post("/api/chat", json={"text": "ciao"})
        conversation = web.backend.calls[0][1][0]
        url = await web.state.clips.keep(conversation, note)
        note.discard()  # the turn's part: the clip has its own file
        mine = await owner.get(url)
        assert (mine.status_code, mine.content) == (200, audio)
        assert mine.headers["content-type"] == "audio/ogg; codecs=opus"
        assert mine.headers["content-length"] == str(len(audio))
        head = await owner.head(url)
        assert (head.status_code, head.content) == (200, b"")
        assert (await other.get(url)).status_code == 404


async def test_a_clip_whose_file_went_is_a_404(start_web: StartWeb, tmp_path: Path) -> None:
    web = await start_web()
    note, _ = voice_note(tmp_path, 1000)
    async with web.logged_in() as client:
        await client.post("/api/chat", json={"text": "ciao"})
        conversation = web.backend.calls[0][1][0]
        url = await web.state.clips.keep(conversation, note)
        clip = web.state.clips.get(url.removeprefix("/api/voice/"), conversation)
        assert clip is not None
        clip.path.unlink()  # removed between the lookup and the open
        gone = await client.get(url)
        assert gone.status_code == 404
        assert "gone" in gone.json()["error"]


async def test_status_json_and_metrics_agree(start_web: StartWeb, backend_type: Any) -> None:
    backend = backend_type(
        report=StatusReport(
            uptime_s=3.0, actors=(ActorStatus("memory", "running", 1, 2, 30),), memory={"fsyncs": 9}
        )
    )
    web = await start_web(backend)
    async with web.logged_in() as client:
        status = (await client.get("/api/status")).json()
        assert status["actors"][0]["restarts"] == 1
        assert status["memory"] == {"fsyncs": 9}
        metrics = (await client.get("/metrics")).text
        assert 'tauro_actor_restarts_total{actor="memory"} 1.0' in metrics
        assert "tauro_memory_fsyncs_total 9.0" in metrics


async def test_a_failing_actor_is_a_503_not_a_traceback(
    start_web: StartWeb, backend_type: Any
) -> None:
    class Broken(backend_type):  # type: ignore[misc]
        async def history(self, conversation: str, limit: int) -> Any:
            raise MemoryStoreError("memory/conversations.json", "disk on fire")

    web = await start_web(Broken())
    async with web.logged_in() as client:
        response = await client.get("/api/history")
        assert response.status_code == 503
        assert "disk" not in response.text


async def test_a_second_message_while_answering_is_409(
    start_web: StartWeb, backend_type: Any
) -> None:
    hold = trio.Event()
    web = await start_web(backend_type(hold=hold))
    async with web.logged_in() as client, trio.open_nursery() as nursery:
        first: list[httpx.Response] = []

        async def ask() -> None:
            first.append(await client.post("/api/chat", json={"text": "one"}))

        nursery.start_soon(ask)
        await web.backend.entered.wait()
        second = await client.post("/api/chat", json={"text": "two"})
        assert second.status_code == 409
        hold.set()
    assert _events(first[0].text)[-1][0] == "done"


async def test_catalogs_for_the_app_follow_accept_language(start_web: StartWeb) -> None:
    web = await start_web()  # BOT_LANGUAGE: it (make_state's default)
    async with web.client() as client:
        italian = await client.get("/i18n/auto.json", headers={"Accept-Language": "it-IT,en;q=0.5"})
        assert italian.status_code == 200
        assert italian.headers["content-type"] == "application/json"
        assert italian.headers["vary"] == "Accept-Language"
        assert italian.json()["language"] == "it"
        assert italian.json()["messages"]["Send"] == "Invia"
        german = await client.get("/i18n/auto.json", headers={"Accept-Language": "ru, de;q=0.3"})
        assert german.json()["language"] == "de"
        unknown = await client.get("/i18n/auto.json", headers={"Accept-Language": "ru"})
        assert unknown.json()["language"] == "it"
        chosen = await client.get("/i18n/fr.json")
        assert chosen.json()["messages"]["Send"] == "Envoyer"
        again = await client.get("/i18n/fr.json", headers={"If-None-Match": chosen.headers["etag"]})
        assert again.status_code == 304
        assert (await client.get("/i18n/xx.json")).status_code == 404
        assert (await client.get("/i18n/../tauro.json")).status_code == 404


async def test_the_answer_is_made_in_the_language_the_app_asks_for(start_web: StartWeb) -> None:
    web = await start_web()
    async with web.logged_in() as client:
        await client.post("/api/chat", json={"text": "ciao"}, headers={"Accept-Language": "pt"})
        await client.post("/api/chat", json={"text": "hi"}, headers={"Accept-Language": "xx"})
    assert web.backend.languages == ["pt", "it"]


async def test_healthz_is_public_and_says_only_up_or_not(
    start_web: StartWeb, backend_type: Any
) -> None:
    backend = backend_type(
        report=StatusReport(uptime_s=3.0, actors=(ActorStatus("memory", "running", 1, 2, 30),))
    )
    web = await start_web(backend)
    async with web.client() as client:
        up = await client.get("/healthz")
        assert (up.status_code, up.json()) == (200, {"status": "ok"})
        assert up.headers["cache-control"] == "no-store"
        assert (await client.head("/healthz")).status_code == 200
        backend.up = False
        down = await client.get("/healthz")
        assert (down.status_code, down.json()) == (503, {"status": "unavailable"})
        assert (await client.post("/healthz")).status_code == 405
    assert ("status", None) not in backend.calls  # no actor was asked, nothing private


async def test_while_memory_loads_health_says_starting_and_pages_answer_at_once(
    start_web: StartWeb, backend_type: Any
) -> None:
    backend = backend_type(loading=True)
    web = await start_web(backend)
    async with web.client() as client:
        health = await client.get("/healthz")
        assert (health.status_code, health.json()) == (503, {"status": "starting"})
        for page in ("/", "/login", "/app.js", "/i18n/it.json"):  # no memory needed
            assert (await client.get(page)).status_code == 200, page
        assert (await client.get("/api/history")).status_code == 401  # the secret first
    async with web.logged_in() as client:
        for method, route, body in (
            ("GET", "/api/session", None),
            ("GET", "/api/history", None),
            ("POST", "/api/chat", {"text": "ciao"}),
            ("POST", "/api/clear", {}),
            ("POST", "/api/voice", {"enabled": True}),
        ):
            answer = await client.request(method, route, json=body)
            assert answer.status_code == 503, route
            assert answer.json()["status"] == "starting"
            assert "starting" in answer.json()["error"]
            assert answer.headers["retry-after"] == "2"
        assert backend.calls == []  # nothing reached the backend
        backend.loading = False
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/api/history")).status_code == 200


async def test_the_last_hour_is_served_to_the_operator_only(start_web: StartWeb) -> None:
    from tauro.actors.web import MinuteSample

    web = await start_web()
    web.state.history.add(
        MinuteSample(at=60.0, answers=3, first_token_ms=120.0, errors=1, restarts=0)
    )
    async with web.client() as client:
        assert (await client.get("/api/status/history")).status_code == 401
    async with web.logged_in() as client:
        body = (await client.get("/api/status/history")).json()
    assert body == {
        "interval_s": 60.0,
        "minutes": [
            {"at": 60.0, "answers": 3, "first_token_ms": 120.0, "errors": 1, "restarts": 0}
        ],
    }
