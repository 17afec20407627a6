"""Structured log lines, and secrets that never reach them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tauro.logs import _QUIET_LOGGERS, Redactor, configure_logging, redact

TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture(autouse=True)
def _library_loggers_left_as_found() -> Iterator[None]:
    """configure_logging quietens library loggers; later tests capture their records."""
    yield
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    configure_logging(level="WARNING")


def test_text_lines_are_one_event_with_key_value_fields(output: io.StringIO) -> None:
    configure_logging(level="INFO", stream=output)
    logging.getLogger("tauro.test").info(
        "memory.snapshot.written", extra={"fields": {"file": "a b.json", "bytes": 12}}
    )
    line = output.getvalue().strip()
    assert line.endswith('INFO    memory.snapshot.written file="a b.json" bytes=12')
    assert len(output.getvalue().splitlines()) == 1


def test_json_lines_on_request(output: io.StringIO) -> None:
    configure_logging(level="INFO", json_lines=True, stream=output)
    logging.getLogger("tauro.test").warning("web.started", extra={"fields": {"port": 8080}})
    record = json.loads(output.getvalue())
    assert record["event"] == "web.started"
    assert record["level"] == "warning"
    assert record["port"] == 8080


def test_the_level_filters(output: io.StringIO) -> None:
    configure_logging(level="WARNING", stream=output)
    logging.getLogger("tauro.test").info("quiet")
    assert output.getvalue() == ""


def test_tokens_are_redacted_everywhere_in_a_line(output: io.StringIO) -> None:
    configure_logging(level="INFO", secrets=["web-secret-value"], stream=output)
    logger = logging.getLogger("tauro.test")
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    logger.info("request %s", url, extra={"fields": {"url": url, "web": "web-secret-value"}})
    try:
        raise RuntimeError(f"failed: {url}")
    except RuntimeError:
        logger.exception("telegram.failed")
    text = output.getvalue()
    assert TOKEN not in text
    assert "AAHdqTcvCH1" not in text
    assert "web-secret-value" not in text
    assert "/bot<redacted>/getUpdates" in text


def test_library_loggers_that_print_urls_are_quiet_and_redacted(output: io.StringIO) -> None:
    configure_logging(level="DEBUG", stream=output)
    logging.getLogger("httpx").info("HTTP Request: POST http://x/bot%s/getMe", TOKEN)
    assert TOKEN not in output.getvalue()
    assert "getMe" in output.getvalue()


def test_redactor_keeps_ordinary_text() -> None:
    redact = Redactor(["abc"])  # too short to be a secret worth replacing
    assert redact("chat 12345: hello abc") == "chat 12345: hello abc"
    assert redact(f"token {TOKEN}!") == "token <redacted>!"


def test_a_log_file_the_bot_creates_is_private(tmp_path: Path) -> None:
    file = tmp_path / "logs" / "deep" / "tauro.log"
    configure_logging(level="INFO", file=file, stream=io.StringIO())
    logging.getLogger("tauro.test").warning("private.line")
    configure_logging(level="WARNING")
    assert "private.line" in file.read_text()
    assert file.stat().st_mode & 0o777 == 0o600
    assert [(p.stat().st_mode & 0o777) for p in (file.parent.parent, file.parent)] == [0o700] * 2


def test_an_existing_log_file_keeps_the_mode_its_owner_gave_it(tmp_path: Path) -> None:
    file = tmp_path / "tauro.log"
    file.write_text("older line\n")
    file.chmod(0o640)  # e.g. readable by the admin group of a log shipper
    configure_logging(level="INFO", file=file, stream=io.StringIO())
    logging.getLogger("tauro.test").warning("appended.line")
    configure_logging(level="WARNING")
    assert file.read_text().startswith("older line\n")
    assert "appended.line" in file.read_text()
    assert file.stat().st_mode & 0o777 == 0o640


def test_a_token_secret_half_is_redacted_where_it_stands_alone() -> None:
    short = "123456:SECRETsecretSECRET"  # too short for the token pattern, named as a secret
    assert redact(f"url /bot{short}/getMe", (short,)) == "url /bot<redacted>/getMe"
    assert redact("only SECRETsecretSECRET here", (short,)) == "only <redacted> here"
    assert redact("only SECRETsecretSECRET here") == "only SECRETsecretSECRET here"
    assert redact("nothing", ("",)) == "nothing"
