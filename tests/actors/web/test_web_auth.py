"""The web secret: configured, stored privately, generated once; signed sessions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tauro.actors.web import RevokedSessions, WebAuth, load_or_create_token
from tauro.errors import WebError


def test_configured_token_wins_and_writes_nothing(tmp_path: Path) -> None:
    loaded = load_or_create_token("from-env", tmp_path / "memory" / "conversations.json")
    assert (loaded.value, loaded.generated, loaded.path) == ("from-env", False, None)
    assert not (tmp_path / "memory").exists()


def test_generated_token_is_private_and_reused(tmp_path: Path) -> None:
    memory_file = tmp_path / "memory" / "conversations.json"
    first = load_or_create_token("", memory_file)
    assert first.generated
    assert len(first.value) >= 32
    assert first.path == tmp_path / "memory" / "web_token"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    second = load_or_create_token("", memory_file)
    assert (second.value, second.generated) == (first.value, False)


def test_unwritable_folder_names_the_file_and_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "memory"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(WebError, match="WEB_TOKEN") as caught:
        load_or_create_token("", blocker / "conversations.json")
    assert "web_token" in str(caught.value)


def test_token_check() -> None:
    auth = WebAuth("s3cret")
    assert auth.check_token("s3cret")
    assert not auth.check_token("s3cre")
    assert not auth.check_token("s3cret ")
    assert not auth.check_token("")
    assert not auth.check_token("sécret")


def test_empty_secret_is_refused() -> None:
    with pytest.raises(WebError, match="WEB_TOKEN"):
        WebAuth("")


def test_each_login_gets_its_own_conversation() -> None:
    auth = WebAuth("s3cret")
    cookie_a, conversation_a = auth.new_session()
    cookie_b, conversation_b = auth.new_session()
    assert conversation_a != conversation_b
    assert conversation_a.startswith("web:")
    assert conversation_b.startswith("web:")
    assert auth.conversation_for(cookie_a) == conversation_a
    assert auth.conversation_for(cookie_b) == conversation_b


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),  # signature changed
        lambda c: "f" + c[1:] if c[0] != "f" else "e" + c[1:],  # session id changed
        lambda c: c.replace(".", ""),
        lambda c: c + ".x",
        lambda c: "",
    ],
)
def test_tampered_cookies_are_refused(mangle: object) -> None:
    auth = WebAuth("s3cret")
    cookie, _ = auth.new_session()
    assert callable(mangle)
    assert auth.conversation_for(mangle(cookie)) is None


def test_a_new_secret_logs_every_browser_out() -> None:
    cookie, _ = WebAuth("old").new_session()
    assert WebAuth("new").conversation_for(cookie) is None


def test_bearer_header() -> None:
    auth = WebAuth("s3cret")
    assert auth.check_bearer("Bearer s3cret")
    assert not auth.check_bearer("Bearer nope")
    assert not auth.check_bearer("Basic s3cret")
    assert not auth.check_bearer(None)


def test_a_logged_out_session_is_refused_also_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "web_sessions_revoked"
    auth = WebAuth("s3cret", RevokedSessions(path))
    cookie, conversation = auth.new_session()
    session_id = auth.session_id(cookie)
    assert session_id is not None
    auth.revoked.revoke(session_id)
    auth.revoked.store(session_id)
    assert auth.conversation_for(cookie) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    restarted = WebAuth("s3cret", RevokedSessions(path))
    assert restarted.revoked.load() == 1
    assert restarted.conversation_for(cookie) is None
    other, _ = restarted.new_session()
    assert restarted.conversation_for(other) is not None  # other browsers stay logged in
    assert conversation.startswith("web:")


def test_the_revoked_file_is_never_written_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "web_sessions_revoked").symlink_to(victim)
    revoked = RevokedSessions(tmp_path / "web_sessions_revoked")
    with pytest.raises(WebError, match="web_sessions_revoked"):
        revoked.store("abc")
    assert victim.read_text() == "keep\n"


def test_the_login_secret_is_compared_in_constant_time(
    compared: list[tuple[bytes, bytes]],
) -> None:
    assert not WebAuth("s3cret").check_token("guess")
    assert compared == [(b"guess", b"s3cret")]


def test_the_bearer_secret_is_compared_in_constant_time(
    compared: list[tuple[bytes, bytes]],
) -> None:
    assert not WebAuth("s3cret").check_bearer("Bearer guess")
    assert compared == [(b"guess", b"s3cret")]


def test_the_cookie_signature_is_compared_in_constant_time(
    compared: list[tuple[bytes, bytes]],
) -> None:
    auth = WebAuth("s3cret")
    cookie, _ = auth.new_session()
    session_id, signature = cookie.split(".")
    forged = "0" * len(signature)
    assert auth.conversation_for(f"{session_id}.{forged}") is None
    assert compared == [(forged.encode(), signature.encode())]
    assert auth.conversation_for(cookie) == f"web:{session_id}"
    assert compared[-1] == (signature.encode(), signature.encode())
