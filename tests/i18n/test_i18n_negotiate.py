"""From a Telegram language tag or an Accept-Language header to a catalog language."""

from __future__ import annotations

from tauro.i18n import is_language_tag, negotiate, resolve, supported


def test_telegram_tags() -> None:
    assert resolve("it", "en") == "it"
    assert resolve("de-AT", "it") == "de"
    assert resolve("pt-br", "it") == "pt"
    assert resolve("ru", "it") == "it"  # no catalog: BOT_LANGUAGE
    assert resolve(None, "fr") == "fr"
    assert resolve("", "es") == "es"
    assert supported("EN_us") == "en"
    assert supported("xx") is None


def test_accept_language() -> None:
    assert negotiate("it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7", "en") == "it"
    assert negotiate("ru-RU, fr;q=0.5, de;q=0.8", "it") == "de"
    assert negotiate("ru, *;q=0.1", "it") == "it"
    assert negotiate("es;q=0, pt", "it") == "pt"
    assert negotiate("", "it") == "it"
    assert negotiate(None, "en") == "en"
    assert negotiate("fr;q=bad, de", "it") == "de"


def test_language_tags() -> None:
    assert is_language_tag("it")
    assert is_language_tag("pt-BR")
    assert not is_language_tag("english please")
    assert not is_language_tag("i")
