"""Read config.yml, then .env, then the environment (each overriding the last)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

from tauro.config._settings import Settings
from tauro.config._table import SETTINGS, SettingDef
from tauro.errors import ConfigError


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    sources: dict[str, str]  # env name -> where its value came from
    ignored_keys: tuple[str, ...]  # config.yml keys that TauroBot does not use


def load_settings(
    config_file: Path | None,
    environ: Mapping[str, str],
    env_file: Path | None = Path(".env"),
) -> LoadedSettings:
    """Build validated settings; raise ConfigError naming the first bad key."""
    raw: dict[str, tuple[object, str]] = {}
    yaml_values, ignored = _read_yaml(config_file) if config_file else ({}, ())
    for definition in SETTINGS:
        if definition.yaml in yaml_values:
            raw[definition.env] = (yaml_values[definition.yaml], f"{config_file}")
    if env_file is not None and env_file.is_file():
        for key, value in dotenv_values(env_file).items():
            if value is not None:
                raw[key] = (value, str(env_file))
    for key, value in environ.items():
        raw[key] = (value, "environment")
    settings = _build(raw)
    sources = {d.env: raw[d.env][1] for d in SETTINGS if d.env in raw}
    return LoadedSettings(settings, sources, ignored)


def _build(raw: Mapping[str, tuple[object, str]]) -> Settings:
    sections: dict[str, dict[str, Any]] = {}
    for definition in SETTINGS:
        if definition.env in raw:
            value = _parse(definition, raw[definition.env][0])
            sections.setdefault(definition.section, {})[definition.field] = value
    defaults = Settings()
    built = {
        name: dataclasses.replace(getattr(defaults, name), **fields)
        for name, fields in sections.items()
    }
    settings = dataclasses.replace(defaults, **built)
    _check_consistency(settings)
    return settings


def _parse(definition: SettingDef, value: object) -> object:
    try:
        return definition.parse(definition.env, value)
    except ConfigError as error:
        if definition.secret:
            raise ConfigError(definition.env, "<redacted>", error.expected) from None
        raise


def _check_consistency(settings: Settings) -> None:
    runtime = settings.runtime
    if runtime.backoff_initial > runtime.backoff_max:
        raise ConfigError(
            "RESTART_BACKOFF_INITIAL",
            runtime.backoff_initial,
            f"at most RESTART_BACKOFF_MAX ({runtime.backoff_max})",
        )
    if settings.telegram.webhook_url and not settings.web.enabled:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_URL",
            settings.telegram.webhook_url,
            "empty while WEB_ENABLED is false: the webhook is served by the web server, "
            "so set WEB_ENABLED=true or unset TELEGRAM_WEBHOOK_URL to use long polling",
        )
    if settings.memory.file.is_dir():
        raise ConfigError("MEMORY_FILE", str(settings.memory.file), "a file, not a directory")


def _read_yaml(path: Path) -> tuple[dict[str, object], tuple[str, ...]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("TAURO_CONFIG", str(path), "an existing YAML file") from None
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError("TAURO_CONFIG", str(path), f"a readable YAML file ({error})") from None
    if document is None:
        return {}, ()
    if not isinstance(document, dict):
        raise ConfigError("TAURO_CONFIG", str(path), "a YAML mapping of sections")
    flat = _flatten(document)
    known = {d.yaml for d in SETTINGS}
    # Unknown keys (the original's max_conversations, features, ...) are not an
    # error, so that the original config.yml loads; `tauro check` lists them.
    ignored = tuple(key for key in flat if key not in known)
    return flat, ignored


def _flatten(document: Mapping[Any, Any], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
