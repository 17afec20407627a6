"""The settings table: each setting declared exactly once, on its field."""

from __future__ import annotations

from collections import Counter

from tauro.config import SETTINGS, Settings
from tauro.config._table import declared_fields


def test_every_field_has_exactly_one_definition() -> None:
    fields = [(section, item.name) for section, item in declared_fields(Settings())]
    defined = Counter((definition.section, definition.field) for definition in SETTINGS)
    assert fields, "no settings found"
    assert defined == Counter(fields)  # every field once, nothing else
    assert all(count == 1 for count in defined.values())


def test_environment_names_and_config_keys_are_unique() -> None:
    assert len({definition.env for definition in SETTINGS}) == len(SETTINGS)
    assert len({definition.yaml for definition in SETTINGS}) == len(SETTINGS)


def test_the_table_follows_the_sections_and_their_fields_in_order() -> None:
    first = SETTINGS[0]
    assert (first.env, first.section, first.field) == ("TELEGRAM_BOT_TOKEN", "telegram", "token")
    assert [d.section for d in SETTINGS][-1] == "logging"
