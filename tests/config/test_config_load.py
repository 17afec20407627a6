"""Settings from config.yml, .env and the environment; clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tauro.config import load_settings
from tauro.errors import ConfigError

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def test_defaults_match_the_original_bot() -> None:
    settings = load_settings(None, {}, env_file=None).settings
    assert settings.llm.host == "http://localhost:11434"
    assert settings.llm.model == "llama2"
    assert settings.memory.file == Path("memory/conversations.json")
    assert settings.memory.max_size == 1000
    assert settings.memory.save_interval == 5
    # TTS_LANGUAGE is now empty (each user's language); where that is unknown the
    # voice speaks BOT_LANGUAGE, Italian, as the original's TTS_LANGUAGE=it did.
    assert settings.voice.language == ""
    assert settings.language.default == "it"
    assert settings.voice_actor_settings().language == "it"
    assert (settings.voice.rate, settings.voice.volume) == (150, 1.0)
    assert (settings.access.rate_limit_messages, settings.access.rate_limit_window) == (30, 60)
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8080)
    assert settings.telegram.api_base_url == "https://api.telegram.org/bot"


def test_the_environment_beats_dotenv_which_beats_config_yml(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "ollama:\n  model: from-yaml\n  temperature: 0.2\nmemory:\n  save_interval: 7\n"
    )
    dotenv = tmp_path / ".env"
    dotenv.write_text("OLLAMA_MODEL=from-dotenv\nSAVE_INTERVAL=9\n")
    loaded = load_settings(config, {"OLLAMA_MODEL": "from-env"}, env_file=dotenv)
    assert loaded.settings.llm.model == "from-env"
    assert loaded.settings.memory.save_interval == 9
    assert loaded.settings.llm.temperature == 0.2
    assert loaded.sources["OLLAMA_MODEL"] == "environment"
    assert loaded.sources["SAVE_INTERVAL"] == str(dotenv)
    assert loaded.sources["LLM_TEMPERATURE"] == str(config)


def test_the_original_config_yml_loads_and_retired_keys_are_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "bot:\n  name: TauroBot\nollama:\n  model: mistral\n  context_window: 4096\n"
        "memory:\n  max_conversations: 100\n  retention_days: 30\n  save_interval: 5\n"
        "voice:\n  tts_enabled: false\n  language: en\n  rate: 150\n  volume: 1.0\n"
        "features:\n  reminders: true\n"
        "limits:\n  max_message_length: 4096\n  rate_limit_messages: 30\n  rate_limit_window: 60\n"
        "mystery:\n  key: 1\n"
    )
    loaded = load_settings(config, {}, env_file=None)
    assert loaded.settings.voice.enabled is False
    assert loaded.settings.voice.language == "en"
    assert loaded.settings.llm.model == "mistral"
    assert loaded.ignored_keys == (
        "bot.name",
        "memory.max_conversations",
        "features.reminders",
        "mystery.key",
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("SAVE_INTERVAL", "zero", "int from 1 to 10000"),
        ("SAVE_INTERVAL", "0", "int from 1 to 10000"),
        ("OLLAMA_HOST", "localhost:11434", "an http:// or https:// URL"),
        ("ADMIN_USER_IDS", "12,abc", "comma-separated Telegram user ids"),
        ("ENABLE_TTS", "maybe", "true or false"),
        ("LOG_LEVEL", "LOUD", "one of DEBUG, INFO, WARNING, ERROR"),
        ("WEB_PORT", "70000", "int from 0 to 65535"),
        ("MEMORY_DURABILITY", "sometimes", "one of fsync, none"),
    ],
)
def test_a_bad_value_names_the_key_the_value_and_what_is_expected(
    key: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {key: value}, env_file=None)
    assert caught.value.key == key
    assert repr(value) in str(caught.value)
    assert expected in str(caught.value)


def test_a_bad_secret_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {"TELEGRAM_BOT_TOKEN": "not a token secret-ish"}, env_file=None)
    assert "secret-ish" not in str(caught.value)
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)


def test_user_id_lists_and_secrets() -> None:
    env = {"ADMIN_USER_IDS": "1, 2,3", "ALLOWED_USER_IDS": "", "TELEGRAM_BOT_TOKEN": TOKEN}
    settings = load_settings(None, env, env_file=None).settings
    assert settings.access.admin_user_ids == frozenset({1, 2, 3})
    assert settings.access.allowed_user_ids == frozenset()
    assert TOKEN in settings.secrets()


def test_llm_api_key_is_a_secret_from_the_environment_or_config_yml(tmp_path: Path) -> None:
    """docs/llm.md: LLM_API_KEY never appears in logs or errors: it is redacted."""
    from_env = load_settings(None, {"LLM_API_KEY": "sk-from-env"}, env_file=None).settings
    assert "sk-from-env" in from_env.secrets()
    config = tmp_path / "config.yml"
    config.write_text("ollama:\n  api_key: sk-from-yaml\n")
    from_yaml = load_settings(config, {}, env_file=None).settings
    assert "sk-from-yaml" in from_yaml.secrets()


def test_inconsistent_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RESTART_BACKOFF_INITIAL"):
        load_settings(None, {"RESTART_BACKOFF_INITIAL": "9", "RESTART_BACKOFF_MAX": "1"}, None)
    with pytest.raises(ConfigError, match="MEMORY_FILE.*not a directory"):
        load_settings(None, {"MEMORY_FILE": str(tmp_path)}, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a\n- b\n", "a YAML mapping"), ("a: [\n", "a readable YAML file")],
)
def test_a_broken_config_file_is_reported(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "config.yml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_settings(config, {}, None)
    assert caught.value.key == "TAURO_CONFIG"


def test_a_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="an existing YAML file"):
        load_settings(tmp_path / "nope.yml", {}, None)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("https://bot.example.org/telegram/hook", "/telegram/hook"),
        ("https://bot.example.org", "/"),
        ("http://127.0.0.1:8080/hook", "/hook"),
        ("http://localhost/hook", "/hook"),
        ("http://[::1]:9000/hook", "/hook"),
    ],
)
def test_a_webhook_url_is_https_or_loopback_http(value: str, path: str) -> None:
    telegram = load_settings(None, {"TELEGRAM_WEBHOOK_URL": value}, None).settings.telegram
    assert telegram.webhook_url == value
    assert telegram.webhook_path == path


@pytest.mark.parametrize(
    "value",
    [
        "http://bot.example.org/hook",  # plain HTTP to another machine
        "ftp://bot.example.org/hook",
        "https:///hook",
        "bot.example.org/hook",
        "https://bot.example.org/hook?x=1",
    ],
)
def test_a_bad_webhook_url_names_the_setting(value: str) -> None:
    with pytest.raises(ConfigError, match="https:// URL") as caught:
        load_settings(None, {"TELEGRAM_WEBHOOK_URL": value}, None)
    assert caught.value.key == "TELEGRAM_WEBHOOK_URL"


def test_a_webhook_needs_the_web_server() -> None:
    env = {"TELEGRAM_WEBHOOK_URL": "https://bot.example.org/hook", "WEB_ENABLED": "false"}
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_URL.*WEB_ENABLED") as caught:
        load_settings(None, env, None)
    assert caught.value.key == "TELEGRAM_WEBHOOK_URL"
    assert load_settings(None, {"WEB_ENABLED": "false"}, None).settings.telegram.webhook_url == ""
