"""The web app's catalogs, as JSON."""

from __future__ import annotations

import json

from tauro.i18n import catalog_json


def test_a_catalog_as_json() -> None:
    document = json.loads(catalog_json("it"))
    assert document["language"] == "it"
    assert document["languages"]["it"] == "Italiano"
    assert set(document["languages"]) == {"en", "it", "es", "fr", "de", "pt"}
    assert document["messages"]["You are offline"] == "Sei offline"
    assert "" not in document["messages"]  # the header is not a message


def test_english_and_unknown_languages_send_the_ids() -> None:
    assert json.loads(catalog_json("en"))["messages"] == {}
    unknown = json.loads(catalog_json("ru"))
    assert unknown["language"] == "en"
    assert unknown["messages"] == {}
