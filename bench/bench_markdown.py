"""What formatting costs: the Markdown conversion per Telegram edit and per web rendering.

A streamed answer is converted once per edit (Telegram: at most one a second
per chat) and once per rendering (web: at most every 0.2 s). This times, for
answers of about 1, 4 and 16 KB with prose, lists and code, one conversion (CPU time) of
the text so far at ten points of the stream, against the baseline in the same
run: ``split_message`` alone, which is what the bot did per edit before (it
sent plain text while streaming). Prints a markdown table with microseconds
per call and the ratio to the baseline.

    python bench/bench_markdown.py
    python bench/bench_markdown.py --sizes 1000,4000 --repeat 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from tauro.actors.telegram._markdown import telegram_pieces
from tauro.actors.telegram._splitting import split_message
from tauro.markdown import render_html

BLOCK = """## Passo {n}

Per **leggere** un file usa *pathlib* e ricorda la `codifica`: è importante 🎉.

1. apri il file
2. leggi le righe
   - una alla volta

```python
from pathlib import Path

for riga in Path("dati_{n}.txt").read_text(encoding="utf-8").splitlines():
    print(riga.strip())
```

"""


def answer(size: int) -> str:
    text, n = "", 0
    while len(text) < size:
        text += BLOCK.format(n=n)
        n += 1
    return text[:size]


def per_call(function: Callable[[str], object], prefixes: list[str], repeat: int) -> float:
    """Median over ``repeat`` runs of the mean seconds per call over the prefixes."""
    runs = []
    for _ in range(repeat):
        start = time.process_time()
        for prefix in prefixes:
            function(prefix)
        runs.append((time.process_time() - start) / len(prefixes))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="1000,4000,16000")
    parser.add_argument("--repeat", type=int, default=10)
    options = parser.parse_args()
    cases: list[tuple[str, Callable[[str], object]]] = [
        ("split_message (baseline)", lambda text: split_message(text)),
        ("telegram_pieces, streaming", lambda text: telegram_pieces(text, streaming=True)),
        ("telegram_pieces, final", lambda text: telegram_pieces(text)),
        ("render_html, streaming", lambda text: render_html(text, streaming=True)),
    ]
    print("| answer | conversion | µs per call | ratio to baseline |")
    print("|---:|---|---:|---:|")
    for size in (int(s) for s in options.sizes.split(",")):
        text = answer(size)
        prefixes = [text[: size * k // 10] for k in range(1, 11)]
        baseline = per_call(cases[0][1], prefixes, options.repeat)
        for name, function in cases:
            seconds = per_call(function, prefixes, options.repeat)
            print(f"| {size} B | {name} | {seconds * 1e6:,.0f} | {seconds / baseline:,.1f} |")


if __name__ == "__main__":
    main()
