"""Cut a long answer into Telegram messages at the most natural boundary.

Telegram refuses a message over 4096 characters, which the original bot simply
failed on. A cut prefers, in order: a blank line (paragraph), a line break, the
end of a sentence, a space, and only then the middle of a word. Lengths are
counted in UTF-16 code units, as Telegram counts them, so an emoji costs two.
"""

from __future__ import annotations

import re

_BOUNDARIES: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n[^\S\n]*\n\s*"),  # paragraph
    re.compile(r"\n\s*"),  # line
    re.compile(r"[.!?…。！？][\"'»”)\]]*\s+"),  # sentence  # noqa: RUF001
    re.compile(r"\s+"),  # word
)


def telegram_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = 4096) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` units, none of them blank.

    Whitespace at a cut is dropped (it would be invisible at the start or end
    of a message); everything else is kept, in order.
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2, not {limit}")
    pieces: list[str] = []
    rest = text.strip()
    while telegram_length(rest) > limit:
        cut, resume = cut_point(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[resume:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def cut_point(text: str, limit: int) -> tuple[int, int]:
    """Where this piece ends and where the next one starts."""
    window = _fitting_prefix(text, limit)
    for pattern in _BOUNDARIES:
        best = _last_boundary(pattern, text, window)
        if best is not None:
            return best
    return window, window


def _last_boundary(pattern: re.Pattern[str], text: str, window: int) -> tuple[int, int] | None:
    """The last match that leaves a non-blank piece of at most ``window`` characters."""
    best: tuple[int, int] | None = None
    for match in pattern.finditer(text, 0, window + 1):
        # A sentence boundary keeps its punctuation; a whitespace one keeps nothing.
        end_of_piece = match.start() + len(match.group().rstrip())
        # ``text`` starts with a non-space (callers strip it), so any end > 0
        # leaves a visible piece.
        if 0 < end_of_piece <= window:
            best = (end_of_piece, match.end())
    return best


def _fitting_prefix(text: str, limit: int) -> int:
    """The longest prefix, in code points, that fits in ``limit`` UTF-16 units."""
    if text.isascii():
        return limit
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return max(index, 1)
    return len(text)
