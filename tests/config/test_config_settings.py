"""The settings objects: frozen, with the secrets listed for redaction."""

from __future__ import annotations

from tauro.config import Settings, TelegramSettings, WebSettings, _settings
from tauro.runtime.testing import unfrozen_classes


def test_every_settings_class_is_frozen() -> None:
    """Settings are shared by every actor and worker thread: none may change them."""
    assert hasattr(_settings, "Settings")
    assert unfrozen_classes(_settings) == []


def test_secrets_lists_only_what_is_set() -> None:
    settings = Settings(
        telegram=TelegramSettings(token="1:secret-token"), web=WebSettings(token="web-secret")
    )
    assert settings.secrets() == ("1:secret-token", "web-secret")
    assert Settings().secrets() == ()
