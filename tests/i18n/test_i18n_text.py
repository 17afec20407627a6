"""Translating now and later, plural forms, and what reaches the catalogs."""

from __future__ import annotations

from tauro.i18n import N_, LazyText, lazy, nt, t, translate


def test_t_translates_and_fills_placeholders() -> None:
    assert t("it", "Hi {name}!", name="Ada") == "Ciao Ada!"
    assert t("de", "Hi {name}!", name="Ada") == "Hallo Ada!"
    assert t("en", "Hi {name}!", name="Ada") == "Hi Ada!"


def test_a_language_without_a_catalog_reads_english() -> None:
    assert t("ru", "Hi!") == "Hi!"
    assert t("it", "a text nobody marked") == "a text nobody marked"


def test_plural_forms() -> None:
    one, other = "{count} message in this chat", "{count} messages in this chat"
    assert nt("it", one, other, 1) == "1 messaggio in questa chat"
    assert nt("it", one, other, 2) == "2 messaggi in questa chat"
    assert nt("it", one, other, 0) == "0 messaggi in questa chat"
    assert nt("fr", one, other, 0) == "0 message dans ce chat"  # French: 0 is singular
    assert nt("de", one, other, 1) == "1 Nachricht in diesem Chat"
    assert nt("en", one, other, 1) == "1 message in this chat"


def test_lazy_text_reads_as_english_until_translated() -> None:
    text = lazy("the model '{model}' is not available on the LLM server", model="x")
    assert isinstance(text, str)
    assert isinstance(text, LazyText)
    assert text == "the model 'x' is not available on the LLM server"
    assert translate(text, "it") == "il modello 'x' non è disponibile sul server LLM"


def test_lazy_parameters_are_translated_too() -> None:
    hint = lazy("run `ollama pull {name}`", name="m")
    text = lazy(
        "the model '{name}' is not installed: {hint}. Installed: {listed}",
        name="m",
        hint=hint,
        listed="a, b",
    )
    assert translate(text, "es") == (
        "el modelo 'm' no está instalado: ejecuta `ollama pull m`. Instalados: a, b"
    )


def test_marked_constants_translate_and_other_text_passes() -> None:
    assert N_("Hi!") == "Hi!"
    assert translate("Hi!", "pt") == "Oi!"
    assert translate("whatever the model said", "pt") == "whatever the model said"
