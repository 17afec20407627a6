"""Fixtures shared by the actors' tests."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest

from tauro.testing._disk import mounted_tmpfs


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test (root is required, as in CI); fill it with
    ``tauro.testing._disk.fill_to_the_last_byte``."""
    with mounted_tmpfs(tmp_path / "small-disk", "4m") as mount_point:
        yield mount_point


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Every call of ``hmac.compare_digest`` during the test, with its arguments: a
    secret checked this way is compared in constant time."""
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def compare_digest(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)
    return calls
