"""The settings objects: frozen, with the secrets listed for redaction."""

from __future__ import annotations

import inspect

from tauro.config import Settings, TelegramSettings, WebSettings, _settings


def test_every_settings_class_is_frozen() -> None:
    """Settings are shared by every actor and worker thread: none may change them."""
    own = [
        c
        for c in vars(_settings).values()
        if inspect.isclass(c) and c.__module__ == _settings.__name__
    ]
    params = {c.__name__: getattr(c, "__dataclass_params__", None) for c in own}
    assert "Settings" in params
    assert [name for name, p in params.items() if p is None or not p.frozen] == []


def test_secrets_lists_only_what_is_set() -> None:
    settings = Settings(
        telegram=TelegramSettings(token="1:secret-token"), web=WebSettings(token="web-secret")
    )
    assert settings.secrets() == ("1:secret-token", "web-secret")
    assert Settings().secrets() == ()
