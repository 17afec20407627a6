"""The LRU of finished notes."""

from __future__ import annotations

from pathlib import Path

from tauro.actors.voice._cache import CachedAudio, NoteCache, cache_key


def item(name: str) -> CachedAudio:
    return CachedAudio(Path(name), 1.0, 10)


def test_the_key_changes_with_everything_that_changes_the_audio() -> None:
    base = cache_key("ciao", "roa/it", 150, 1.0)
    assert base == cache_key("ciao", "roa/it", 150, 1.0)
    others = {
        cache_key("ciao!", "roa/it", 150, 1.0),
        cache_key("ciao", "gmw/en", 150, 1.0),
        cache_key("ciao", "roa/it", 160, 1.0),
        cache_key("ciao", "roa/it", 150, 0.5),
    }
    assert base not in others
    assert len(others) == 4


def test_the_least_recently_used_entry_goes_first() -> None:
    cache = NoteCache(2)
    assert cache.put("a", item("a")) == []
    assert cache.put("b", item("b")) == []
    assert cache.get("a") == item("a")  # now b is the oldest
    assert cache.put("c", item("c")) == [item("b")]
    assert cache.get("b") is None
    assert len(cache) == 2


def test_replacing_an_entry_returns_the_old_file() -> None:
    cache = NoteCache(2)
    cache.put("a", item("old"))
    assert cache.put("a", item("new")) == [item("old")]
    assert cache.put("a", item("new")) == []


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache = NoteCache(0)
    assert not cache.enabled
    assert cache.put("a", item("a")) == [item("a")]
    assert cache.get("a") is None


def test_forget_and_clear() -> None:
    cache = NoteCache(3)
    cache.put("a", item("a"))
    cache.put("b", item("b"))
    assert cache.forget("a") == item("a")
    assert cache.forget("a") is None
    assert cache.clear() == [item("b")]
    assert len(cache) == 0
