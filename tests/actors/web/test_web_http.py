"""Bounded JSON bodies and origin checks, on Starlette requests built by hand."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from starlette.requests import Request

from tauro.actors.web._http import (
    HTTPProblem,
    json_error,
    reached_over_https,
    read_json,
    same_origin,
)


def _request(body: Sequence[bytes], headers: dict[str, str]) -> Request:
    chunks = list(body)

    async def receive() -> dict[str, object]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/x",
        "headers": raw,
        "query_string": b"",
    }
    return Request(scope, receive)


JSON = {"content-type": "application/json"}


async def test_reads_an_object() -> None:
    assert await read_json(_request([b'{"a":', b" 1}"], JSON), 100) == {"a": 1}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{bad", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (b'"text"', "expected a JSON object"),
    ],
)
async def test_malformed_bodies_are_400_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(HTTPProblem) as caught:
        await read_json(_request([body], JSON), 100)
    assert caught.value.status == 400
    assert reason in caught.value.reason


async def test_declared_oversize_is_413_before_reading() -> None:
    headers = {**JSON, "content-length": "101"}
    with pytest.raises(HTTPProblem) as caught:
        await read_json(_request([], headers), 100)
    assert caught.value.status == 413
    assert "WEB_MAX_BODY_BYTES" in caught.value.reason


async def test_undeclared_oversize_is_413_while_reading() -> None:
    with pytest.raises(HTTPProblem) as caught:
        await read_json(_request([b"{" + b" " * 60, b" " * 60 + b"}"], JSON), 100)
    assert caught.value.status == 413


async def test_other_content_types_are_415() -> None:
    for kind in ("text/plain", "application/x-www-form-urlencoded", ""):
        with pytest.raises(HTTPProblem) as caught:
            await read_json(_request([b"{}"], {"content-type": kind}), 100)
        assert caught.value.status == 415


def test_same_origin() -> None:
    host = {"host": "127.0.0.1:8080"}
    assert same_origin(_request([], host))
    assert same_origin(_request([], {**host, "origin": "http://127.0.0.1:8080"}))
    assert not same_origin(_request([], {**host, "origin": "http://evil.example"}))


@pytest.mark.parametrize(
    ("headers", "https"),
    [
        ({}, False),
        ({"x-forwarded-proto": "https"}, True),
        ({"x-forwarded-proto": " HTTPS , http"}, True),
        ({"x-forwarded-proto": "http, https"}, False),  # the first value is the browser's
        ({"forwarded": "for=192.0.2.60;proto=https;by=203.0.113.43"}, True),
        ({"forwarded": 'Proto="HTTPS"'}, True),
        ({"forwarded": "proto=http, proto=https"}, False),
        ({"forwarded": "for=192.0.2.60"}, False),
        ({"forwarded": "protocol=https"}, False),
    ],
)
def test_https_is_what_the_proxy_says_the_browser_used(
    headers: dict[str, str], https: bool
) -> None:
    assert reached_over_https(_request([], headers)) is https


def test_json_error_shape() -> None:
    response = json_error(401, "log in")
    assert response.status_code == 401
    assert response.body == b'{"error":"log in"}'
    assert response.headers["cache-control"] == "no-store"
    assert "www-authenticate" in response.headers
