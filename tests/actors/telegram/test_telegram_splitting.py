from hypothesis import given
from hypothesis import strategies as st

from tauro.actors.telegram._splitting import split_message, telegram_length


def test_short_text_is_one_piece() -> None:
    assert split_message("ciao", 4096) == ["ciao"]


def test_blank_text_gives_no_piece() -> None:
    assert split_message("  \n ", 10) == []


def test_prefers_paragraphs_over_sentences() -> None:
    text = "First sentence. Second one.\n\nNew paragraph here."
    assert split_message(text, 35) == ["First sentence. Second one.", "New paragraph here."]


def test_falls_back_to_sentences_then_words() -> None:
    text = "Hello world. This is a test! And more text here."
    assert split_message(text, 20) == ["Hello world.", "This is a test!", "And more text here."]


def test_sentence_keeps_closing_quote() -> None:
    text = 'He said "stop." Then he left the room quickly'
    assert split_message(text, 20)[0] == 'He said "stop."'


def test_cuts_a_word_only_when_nothing_else_fits() -> None:
    assert split_message("a" * 50, 20) == ["a" * 20, "a" * 20, "a" * 10]


def test_counts_utf16_units_like_telegram() -> None:
    pieces = split_message("😀" * 15, 20)
    assert pieces == ["😀" * 10, "😀" * 5]
    assert telegram_length("😀") == 2


def test_answer_of_10000_characters_fits_in_4096_pieces() -> None:
    paragraph = "Lorem ipsum dolor sit amet. " * 20
    text = "\n\n".join([paragraph.strip()] * 20)
    pieces = split_message(text, 4096)
    assert len(pieces) == 3
    assert all(telegram_length(p) <= 4096 for p in pieces)
    assert all(p.endswith(".") for p in pieces)


@given(st.text(alphabet=st.sampled_from("ab .!\n😀é"), max_size=300), st.integers(2, 40))
def test_pieces_fit_and_keep_every_visible_character(text: str, limit: int) -> None:
    pieces = split_message(text, limit)
    assert all(0 < telegram_length(p) <= limit for p in pieces)
    assert all(p == p.strip() for p in pieces)
    visible = "".join(text.split())
    assert "".join("".join(pieces).split()) == visible
