"""A small LRU of finished voice notes, keyed by what was said and how.

The same text in the same voice sounds the same, and encoding is the slow
part, so a repeated answer (a greeting, a fixed help text) is served from here.
The cache only keeps the bookkeeping; its files live in the note store's cache
folder, and ``put`` hands back the entries that fell out so their files can be
removed off the event loop.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CachedAudio:
    path: Path
    duration_seconds: float
    size: int


def cache_key(text: str, voice: str, rate: int, volume: float) -> str:
    """A file-name-safe digest of everything that changes the audio."""
    material = "\0".join((text, voice, str(rate), repr(volume)))
    return hashlib.sha256(material.encode()).hexdigest()


class NoteCache:
    """At most ``entries`` items, the least recently used dropped first (0: off)."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._items: OrderedDict[str, CachedAudio] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._entries > 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> CachedAudio | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: str, item: CachedAudio) -> list[CachedAudio]:
        """Remember ``item``; return what no longer fits (their files must go)."""
        if not self.enabled:
            return [item]
        replaced = self._items.pop(key, None)
        self._items[key] = item
        evicted = [replaced] if replaced is not None and replaced.path != item.path else []
        while len(self._items) > self._entries:
            evicted.append(self._items.popitem(last=False)[1])
        return evicted

    def forget(self, key: str) -> CachedAudio | None:
        """Drop one entry (its file went missing); return it."""
        return self._items.pop(key, None)

    def clear(self) -> list[CachedAudio]:
        items = list(self._items.values())
        self._items.clear()
        return items
