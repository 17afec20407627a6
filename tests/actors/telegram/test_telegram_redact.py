import logging

import pytest

from tauro.actors.telegram._redact import redacting_logs

TOKEN = "123456:SECRETsecretSECRET"


def test_library_records_are_rewritten(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with redacting_logs(TOKEN):
        logging.getLogger("httpx").info("HTTP Request: POST %s", f"http://x/bot{TOKEN}/getMe")
        try:
            raise ValueError(f"failed at /bot{TOKEN}/sendMessage")
        except ValueError:
            logging.getLogger("telegram.Bot").exception("request failed")
        logging.getLogger("tauro.other").warning("arg %s", TOKEN)  # via the root handlers
    assert "SECRETsecret" not in caplog.text
    assert "<redacted>" in caplog.text
    after = logging.getLogger("httpx")
    assert not after.filters  # removed again


def test_records_without_secrets_are_untouched(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with redacting_logs(TOKEN):
        logging.getLogger("httpx").info("plain %d", 5)
    assert caplog.records[-1].msg == "plain %d"
