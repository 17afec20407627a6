import trio

from tauro.actors.telegram._access import AccessControl, rate_limit_text, refusal_text
from tauro.config import AccessSettings


async def test_everyone_allowed_when_the_list_is_empty() -> None:
    access = AccessControl(AccessSettings())
    assert access.check(1) == "allow"
    assert access.check(None) == "allow"


async def test_stranger_is_refused_once_then_silently() -> None:
    access = AccessControl(AccessSettings(allowed_user_ids=frozenset({1})))
    assert access.check(1) == "allow"
    assert access.check(2) == "refuse"
    assert access.check(2) == "silent"
    assert access.check(3) == "refuse"
    assert access.check(None) == "silent"


async def test_admins_pass_the_allowlist() -> None:
    access = AccessControl(
        AccessSettings(allowed_user_ids=frozenset({1}), admin_user_ids=frozenset({9}))
    )
    assert access.check(9) == "allow"
    assert access.is_admin(9)
    assert not access.is_admin(1)


async def test_rate_limit_tells_once_per_window(autojump_clock: trio.abc.Clock) -> None:
    access = AccessControl(AccessSettings(rate_limit_messages=3, rate_limit_window=60.0))
    assert [access.check(5) for _ in range(6)] == [
        "allow", "allow", "allow", "limit", "silent", "silent",
    ]  # fmt: skip
    assert access.retry_at(5) - trio.current_time() == 60.0
    await trio.sleep(60.0)
    assert access.check(5) == "allow"


async def test_sliding_window(autojump_clock: trio.abc.Clock) -> None:
    access = AccessControl(AccessSettings(rate_limit_messages=2, rate_limit_window=10.0))
    assert access.check(5) == "allow"
    await trio.sleep(6)
    assert access.check(5) == "allow"
    assert access.check(5) == "limit"
    await trio.sleep(4)  # the first message left the window
    assert access.check(5) == "allow"


async def test_admins_are_exempt_from_the_rate_limit(autojump_clock: trio.abc.Clock) -> None:
    access = AccessControl(AccessSettings(rate_limit_messages=1, admin_user_ids=frozenset({9})))
    assert all(access.check(9) == "allow" for _ in range(100))


async def test_idle_windows_are_forgotten(autojump_clock: trio.abc.Clock) -> None:
    access = AccessControl(AccessSettings(rate_limit_window=1.0))
    for user in range(999):
        access.check(user)
    await trio.sleep(2)
    access.check(5000)  # the 1000th check sweeps
    assert len(access._windows) <= 1


def test_texts_name_what_to_do() -> None:
    assert "ALLOWED_USER_IDS" in refusal_text(77)
    assert "77" in refusal_text(77)
    assert "30 messages every 60 seconds" in rate_limit_text(AccessSettings(), 12.3)
