"""Markdown, code, URLs and emoji become text worth listening to."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from tauro.actors.voice._speechtext import prepare_speech

CODE_IT = "Qui c'è del codice, lo trovi nel messaggio scritto."
CUT_IT = "La risposta continua nel messaggio scritto."


def speak(text: str, language: str = "it", max_chars: int = 1000) -> str:
    return prepare_speech(text, language, max_chars)


def test_plain_text_is_kept() -> None:
    assert speak("Ciao, come stai?") == "Ciao, come stai?"


def test_a_code_block_is_said_in_one_sentence_not_spelled_out() -> None:
    text = "Ecco:\n```python\ndef f(x):\n    return x * 2\n```\nFatto."
    assert speak(text) == f"Ecco: {CODE_IT} Fatto."


def test_an_unclosed_code_block_runs_to_the_end() -> None:
    assert speak("Prova:\n~~~\nrm -rf /tmp/x\n") == f"Prova: {CODE_IT}"


def test_the_code_sentence_follows_the_language() -> None:
    said = speak("```\nx = 1\n```", language="en-US")
    assert said == "There is some code here, you can read it in the text message."


def test_an_unknown_language_falls_back_to_english_phrases() -> None:
    assert speak("```\nx\n```", language="xx").startswith("There is some code")


def test_links_keep_their_words_and_urls_their_site() -> None:
    text = "Leggi [la guida](https://example.com/a/b?c=1) o https://www.python.org/doc/."
    assert speak(text) == "Leggi la guida o python.org."


def test_an_image_keeps_its_description() -> None:
    assert speak("![un toro](https://x.org/toro.png) felice") == "un toro felice."


def test_markdown_marks_are_not_read() -> None:
    text = "# Titolo\n**grassetto**, *corsivo*, __forte__ e `codice_breve`\n> citazione\n---"
    assert speak(text) == "Titolo. grassetto, corsivo, forte e codice breve. citazione."


def test_list_items_and_table_rows_become_sentences() -> None:
    text = "Ingredienti:\n- farina\n* uova\n1. latte\n\n| a | b |\n|---|:--:|\n| 1 | 2 |"
    assert speak(text) == "Ingredienti: farina. uova. latte. a b. 1 2."


def test_emoji_are_dropped_including_joined_and_flagged_ones() -> None:
    text = "Bravo 👍🏽! Famiglia 👨‍👩‍👧 e bandiera 🇮🇹, cuore ❤️ e 1️⃣ volta."
    assert speak(text) == "Bravo! Famiglia e bandiera, cuore e 1 volta."


def test_a_degree_sign_is_kept() -> None:
    assert speak("Fuori ci sono 20°C") == "Fuori ci sono 20°C."


def test_repeated_punctuation_is_said_once() -> None:
    assert speak("Davvero!!! Sì...") == "Davvero! Sì."


def test_snake_case_identifiers_are_read_as_words() -> None:
    assert speak("usa my_variable_name qui") == "usa my variable name qui."


def test_nothing_speakable_gives_empty_text() -> None:
    assert speak("🎉🎉 ✨\n---\n**") == ""


def test_a_long_answer_is_cut_at_a_sentence_and_the_cut_is_said() -> None:
    text = "Prima frase breve. Seconda frase un po' più lunga. Terza frase che non entra."
    said = speak(text, max_chars=50)
    assert said == f"Prima frase breve. Seconda frase un po' più lunga. {CUT_IT}"


def test_without_a_sentence_end_the_cut_falls_on_a_word() -> None:
    said = speak("uno due tre quattro cinque sei sette otto nove dieci", max_chars=20)
    assert said == f"uno due tre quattro. {CUT_IT}"


def test_a_text_within_the_cap_is_not_cut() -> None:
    text = "a" * 30 + "."
    assert speak(text, max_chars=31) == text


SPOKEN_NEVER = set("*#`_|~^\\{}[]<>")


@given(st.text(max_size=400), st.integers(min_value=10, max_value=300))
def test_any_text_gives_clean_bounded_speech(text: str, max_chars: int) -> None:
    said = prepare_speech(text, "it", max_chars)
    assert not SPOKEN_NEVER & set(said)
    assert "\n" not in said
    assert all(unicodedata.category(c) not in {"So", "Cs", "Co"} or c in "°§©®™" for c in said)
    assert len(said) <= max_chars + len(CUT_IT) + 2
    assert said == "" or any(c.isalnum() for c in said)
