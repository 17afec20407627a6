"""docs/configuration.md is generated from the settings table and kept in step."""

from __future__ import annotations

from pathlib import Path

from tauro.config import SETTINGS, render_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_configuration_page_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "regenerate it: python -m tauro.config > docs/configuration.md"
    )


def test_every_setting_is_documented_once() -> None:
    page = render_markdown()
    for definition in SETTINGS:
        assert page.count(f"`{definition.env}`") == 1
    assert len({d.env for d in SETTINGS}) == len(SETTINGS)
