"""Model names as Ollama resolves them."""

from __future__ import annotations

from tauro.actors.llm import resolve_model

INSTALLED = ("llama2:latest", "mistral:7b", "qwen")


def test_exact_name() -> None:
    assert resolve_model("mistral:7b", INSTALLED) == "mistral:7b"


def test_untagged_name_means_latest() -> None:
    assert resolve_model("llama2", INSTALLED) == "llama2:latest"


def test_latest_tag_matches_an_untagged_listing() -> None:
    assert resolve_model("qwen:latest", INSTALLED) == "qwen"


def test_other_tags_do_not_match() -> None:
    assert resolve_model("mistral", INSTALLED) is None
    assert resolve_model("llama2:13b", INSTALLED) is None
