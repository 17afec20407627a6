"""The settings objects: frozen, with the secrets listed for redaction."""

from __future__ import annotations

import dataclasses

import pytest

from tauro.config import Settings, TelegramSettings, WebSettings


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().llm.model = "x"  # type: ignore[misc]


def test_secrets_lists_only_what_is_set() -> None:
    settings = Settings(
        telegram=TelegramSettings(token="1:secret-token"), web=WebSettings(token="web-secret")
    )
    assert settings.secrets() == ("1:secret-token", "web-secret")
    assert Settings().secrets() == ()
