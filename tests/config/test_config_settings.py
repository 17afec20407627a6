"""The settings objects: frozen, with the secrets listed for redaction."""

from __future__ import annotations

import dataclasses
import inspect

from tauro.config import Settings, TelegramSettings, WebSettings, _settings


def test_every_settings_class_is_frozen() -> None:
    """Settings are shared by every actor and worker thread: none may change them."""
    classes = [c for c in vars(_settings).values() if inspect.isclass(c)]
    mutable = [c.__name__ for c in classes if c.__module__ == _settings.__name__
               and not (dataclasses.is_dataclass(c) and c.__dataclass_params__.frozen)]  # fmt: skip
    assert Settings in classes
    assert mutable == []


def test_secrets_lists_only_what_is_set() -> None:
    settings = Settings(
        telegram=TelegramSettings(token="1:secret-token"), web=WebSettings(token="web-secret")
    )
    assert settings.secrets() == ("1:secret-token", "web-secret")
    assert Settings().secrets() == ()
