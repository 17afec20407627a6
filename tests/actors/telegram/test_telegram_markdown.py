"""Model Markdown -> what Telegram receives, checked by the emulator's TDLib-like parser.

Every row: the HTML sent must be accepted under Telegram's rules (only its tags,
properly nested, text escaped), and the text a user reads (the emulator's plain
text after parsing) must be what the renderer says it is.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tauro.actors.telegram._markdown import TelegramPiece, telegram_pieces
from tauro.actors.telegram._splitting import telegram_length
from tauro.testing._botapi_text import ParsedText, parse_text

CODE = '<pre><code class="language-python">'


def received(piece: TelegramPiece) -> ParsedText:
    """What Telegram makes of a piece: raises the emulator's 400 if it would refuse."""
    parsed = parse_text(piece.html, "HTML") if piece.html else parse_text(piece.text, None)
    assert parsed.text == piece.text.strip()
    return parsed


def spans(parsed: ParsedText) -> list[tuple[str, str]]:
    """(entity type, the text it covers) for every entity."""
    units = parsed.text.encode("utf-16-le")
    return [
        (e["type"], units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le"))
        for e in parsed.entities
    ]


ROWS = [
    # (model output, HTML sent, text the user reads)
    ("**bold** and __bold__", "<b>bold</b> and <b>bold</b>", "bold and bold"),
    ("*it* _it_ ~~gone~~", "<i>it</i> <i>it</i> <s>gone</s>", "it it gone"),
    ("`a < b && c`", "<code>a &lt; b &amp;&amp; c</code>", "a < b && c"),
    ("***both***", "<i><b>both</b></i>", "both"),
    ("**bold *and it* here**", "<b>bold <i>and it</i> here</b>", "bold and it here"),
    ("[site](https://example.org/?a=1&b=2)", '<a href="https://example.org/?a=1&amp;b=2">site</a>',
     "site"),
    ("[**bold link**](https://x.org)", '<a href="https://x.org"><b>bold link</b></a>', "bold link"),
    ("[bad](javascript:alert(1))", "[bad](javascript:alert(1))", "[bad](javascript:alert(1))"),
    ("[rel](page.html)", "rel", "rel"),
    ("<https://auto.link>", '<a href="https://auto.link">https://auto.link</a>',
     "https://auto.link"),
    ("# Title\n\n## Sub", "<b>Title</b>\n\n<b>Sub</b>", "Title\n\nSub"),
    ("- one\n- two", "• one\n• two", "• one\n• two"),
    ("1. one\n2. two", "1. one\n2. two", "1. one\n2. two"),
    ("3. three\n4. four", "3. three\n4. four", "3. three\n4. four"),
    ("- a\n  - b\n    - c", "• a\n  ◦ b\n    ▪ c", "• a\n  ◦ b\n    ▪ c"),
    ("- **x**\n\n- y", "• <b>x</b>\n\n• y", "• x\n\n• y"),
    ("> quoted **bold**", "<blockquote>quoted <b>bold</b></blockquote>", "quoted bold"),
    ("> outer\n> > inner", "<blockquote>outer\n\ninner</blockquote>", "outer\n\ninner"),
    ("```python\nif a < b:\n    pass\n```", f"{CODE}if a &lt; b:\n    pass</code></pre>",
     "if a < b:\n    pass"),
    ("```\nplain & code\n```", "<pre>plain &amp; code</pre>", "plain & code"),
    ("    indented code", "<pre>indented code</pre>", "indented code"),
    ("```c++ {.x}\nint a;\n```", '<pre><code class="language-c++">int a;</code></pre>', "int a;"),
    ("| a | b |\n|---|---|\n| 1 | 22 |", "<pre>a | b\n--+---\n1 | 22</pre>",
     "a | b\n--+---\n1 | 22"),
    ("a\n\n---\n\nb", "a\n\n———\n\nb", "a\n\n———\n\nb"),
    ("![cat](https://x.org/cat.png)", '<a href="https://x.org/cat.png">cat</a>', "cat"),
    # Raw HTML from the model is text, never markup.
    ("<b>hi</b> <script>x</script>", "&lt;b&gt;hi&lt;/b&gt; &lt;script&gt;x&lt;/script&gt;",
     "<b>hi</b> <script>x</script>"),
    ("a < b > c & d &amp; &lt;", "a &lt; b &gt; c &amp; d &amp; &lt;", "a < b > c & d & <"),
    # Broken Markdown is shown as written.
    ("Use *bold and `code", "Use *bold and `code", "Use *bold and `code"),
    ("**unclosed", "**unclosed", "**unclosed"),
    ("```python\nnever closed", f"{CODE}never closed</code></pre>", "never closed"),
    ("line one\nline two", "line one\nline two", "line one\nline two"),
    ("hard  \nbreak", "hard\nbreak", "hard\nbreak"),
    # Italian and emoji.
    ("**Perché** è così? 🇮🇹 *Caffè* ☕", "<b>Perché</b> è così? 🇮🇹 <i>Caffè</i> ☕",
     "Perché è così? 🇮🇹 Caffè ☕"),
    ("- 🍕 pizza\n- 🍝 *pasta*", "• 🍕 pizza\n• 🍝 <i>pasta</i>", "• 🍕 pizza\n• 🍝 pasta"),
]  # fmt: skip


@pytest.mark.parametrize(("markdown", "html", "text"), ROWS)
def test_telegram_receives(markdown: str, html: str, text: str) -> None:
    (piece,) = telegram_pieces(markdown)
    assert piece.html == html
    assert received(piece).text == text


def test_entities_cover_the_right_text_in_utf16() -> None:
    (piece,) = telegram_pieces("🎉 **Perché** `x` [là](https://x.org)\n\n```py\nprint('ü')\n```")
    assert spans(received(piece)) == [
        ("bold", "Perché"),
        ("code", "x"),
        ("text_link", "là"),
        ("pre", "print('ü')"),
    ]
    assert received(piece).entities[-1]["language"] == "py"


def test_an_answer_that_renders_to_nothing_is_sent_as_written() -> None:
    assert telegram_pieces("```\n```") == [TelegramPiece("```\n```")]
    assert telegram_pieces("   ") == []


def test_a_code_block_crossing_4096_is_reopened_in_the_next_message() -> None:
    lines = [f"    print('riga {n} è qui 🐍')" for n in range(400)]
    answer = "Ecco il codice:\n\n```python\ndef main():\n" + "\n".join(lines) + "\n```\n\nFatto!"
    pieces = telegram_pieces(answer)
    assert len(pieces) >= 3
    for piece in pieces:
        parsed = received(piece)
        assert telegram_length(parsed.text) <= 4096
    # The cut prefers the paragraph before the block: the code starts a message.
    assert [p.html for p in pieces[:1]] == ["Ecco il codice:"]
    assert pieces[1].html is not None
    assert pieces[1].html.startswith(f"{CODE}def main():")
    for middle in pieces[2:-1]:  # sent with the indentation of their first line
        assert middle.html is not None
        assert middle.html.startswith(f"{CODE}    print(")
    for middle in pieces[1:-1]:
        assert middle.html is not None
        assert middle.html.startswith(CODE)
        assert middle.html.endswith("</code></pre>")
        assert spans(received(middle)) == [("pre", received(middle).text)]
    assert pieces[-1].html is not None
    assert pieces[-1].html.startswith(CODE)  # reopened
    assert pieces[-1].html.endswith("</code></pre>\n\nFatto!")
    # No line is cut in half or lost: each message ends at a line of the code.
    shown = "\n".join(received(p).text for p in pieces)
    assert [line.strip() for line in lines] == [
        line.strip() for line in shown.splitlines() if "riga" in line
    ]


def test_bold_across_a_cut_is_closed_and_reopened() -> None:
    answer = "**" + " ".join(f"parola{n}" for n in range(30)) + "**"
    pieces = telegram_pieces(answer, limit=60)
    assert len(pieces) > 2
    for piece in pieces:
        parsed = received(piece)
        assert telegram_length(parsed.text) <= 60
        assert [kind for kind, _ in spans(parsed)] == ["bold"]
        assert spans(parsed)[0][1] == parsed.text


def test_cuts_prefer_paragraphs() -> None:
    answer = "\n\n".join(f"Paragrafo {n}: " + "testo " * 8 for n in range(6))
    pieces = telegram_pieces(answer, limit=120)
    assert all(received(p).text.startswith("Paragrafo") for p in pieces)


def test_length_is_counted_as_telegram_counts_it_in_utf16() -> None:
    answer = "**" + "😀" * 3000 + "**"  # 6000 UTF-16 units in 3000 characters
    pieces = telegram_pieces(answer)
    assert len(pieces) == 2
    assert [telegram_length(received(p).text) for p in pieces] == [4096, 1904]


SAMPLE = """# Una risposta 🎉

Ecco **come** si fa, *passo* per passo, con `codice` e ~~errori~~:

1. Primo **punto *annidato***
2. Secondo, con [un link](https://example.org/a_b?c=1&d=2)
   - sotto-punto con `x < y`

> Citazione con **grassetto** e <b>HTML finto</b> & altro

```python
def saluta(nome: str) -> str:
    return f"Ciao {nome} <3 & **non bold**"
```

| Nome | Valore |
|------|--------|
| è    | 🍕     |

Fine_del_testo *ultima* riga.
"""


def test_a_half_received_stream_is_valid_at_every_prefix_length() -> None:
    for end in range(1, len(SAMPLE) + 1):
        for piece in telegram_pieces(SAMPLE[:end], streaming=True):
            received(piece)  # accepted by Telegram's rules, at every length


def test_streaming_closes_what_is_open_so_far() -> None:
    (bold,) = telegram_pieces("Ecco **come si", streaming=True)
    assert bold.html == "Ecco <b>come si</b>"
    (code,) = telegram_pieces("Vedi `print(", streaming=True)
    assert code.html == "Vedi <code>print(</code>"
    (fence,) = telegram_pieces("```python\ndef f(x):\n    return x *", streaming=True)
    assert fence.html == f"{CODE}def f(x):\n    return x *</code></pre>"
    assert telegram_pieces("```python", streaming=True) == []  # nothing to show yet
    (arithmetic,) = telegram_pieces("2 * 3 = 6", streaming=True)
    assert arithmetic.html == "2 * 3 = 6"


TOKENS = [*"ab è🎉 \n*_`~#>-|1.[]()<>&;:/\\!", "```", "    ", "http://x.y", "&#128512;"]
MARKDOWNISH = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=MARKDOWNISH, limit=st.integers(min_value=20, max_value=200), streaming=st.booleans())
def test_any_text_is_accepted_and_nothing_is_lost(text: str, limit: int, streaming: bool) -> None:
    pieces = telegram_pieces(text, limit, streaming=streaming)
    for piece in pieces:
        assert telegram_length(received(piece).text) <= limit
    whole = telegram_pieces(text, 100_000, streaming=streaming)
    shown = "".join("".join(p.text.split()) for p in pieces)
    assert shown == "".join("".join(p.text.split()) for p in whole)
