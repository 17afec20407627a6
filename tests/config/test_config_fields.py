"""A setting declared on its field: its default, its metadata, and the parsers."""

from __future__ import annotations

import dataclasses

import pytest

from tauro.config._fields import INF, Declared, number, setting, text
from tauro.errors import ConfigError


def test_a_declaration_keeps_its_default_and_its_metadata() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Section:
        rate: float = setting(
            1.5, env="RATE", yaml="x.rate", parse=number(float, 0, INF), doc="Per second."
        )

    (item,) = dataclasses.fields(Section)
    assert Section().rate == 1.5
    declared = item.metadata["tauro.setting"]
    assert isinstance(declared, Declared)
    assert (declared.env, declared.yaml, declared.doc, declared.secret) == (
        "RATE",
        "x.rate",
        "Per second.",
        False,
    )
    assert declared.parse("RATE", " 2 ") == 2.0
    with pytest.raises(ConfigError, match="float from 0 to inf"):
        declared.parse("RATE", "-1")


def test_text_refuses_what_is_not_a_scalar() -> None:
    with pytest.raises(ConfigError, match="text"):
        text("OLLAMA_MODEL", ["a", "list"])
