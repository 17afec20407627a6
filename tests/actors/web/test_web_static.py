"""PWA files: plain paths inside the app folder only, with media types and ETags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from tauro.actors.web import PWA_ROOT, StaticFiles

SHELL = [
    "index.html",
    "login.html",
    "status.html",
    "offline.html",
    "app.js",
    "login.js",
    "status.js",
    "shell.js",
    "style.css",
    "service-worker.js",
    "manifest.webmanifest",
    "icons/icon-192.png",
    "icons/icon-512.png",
]


def _files(root: Path) -> StaticFiles:
    return StaticFiles(root, trio.CapacityLimiter(1))


def test_every_shell_file_exists_in_the_package() -> None:
    for name in SHELL:
        assert (PWA_ROOT / name).is_file(), name


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/", "index.html"),
        ("/login", "login.html"),
        ("/status", "status.html"),
        ("/status/", "status.html"),
        ("/app.js", "app.js"),
        ("/icons/icon-192.png", "icons/icon-192.png"),
    ],
)
def test_plain_paths_resolve_inside_the_root(url: str, name: str) -> None:
    assert _files(PWA_ROOT).resolve(url) == PWA_ROOT / name


@pytest.mark.parametrize(
    "url",
    [
        "/../pyproject.toml",
        "/icons/../../web/_app.py",
        "/..",
        "/%2e%2e/x.html",
        "/.hidden.html",
        "/icons/.x.png",
        "/a\\..\\b.html",
        "/x\x00.html",
        "/app.py",
        "/service-worker.js/",
        "/icons",
        "/~root.html",
        "/ index.html",
    ],
)
def test_escapes_and_odd_paths_are_refused(url: str) -> None:
    assert _files(PWA_ROOT).resolve(url) is None


def test_absolute_looking_paths_stay_inside_the_root() -> None:
    assert _files(PWA_ROOT).resolve("//etc/passwd.txt") == PWA_ROOT / "etc" / "passwd.txt"


def test_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "pwa"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, root / "leak.txt")
    (root / "inside.txt").write_text("fine")
    os.symlink(root / "inside.txt", root / "alias.txt")
    files = _files(root)
    assert files.resolve("/leak.txt") is None
    assert files.resolve("/alias.txt") == root / "alias.txt"


async def test_load_gives_body_type_and_a_content_etag(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("export {};")
    files = _files(tmp_path)
    first = await files.load("/app.js")
    assert first is not None
    assert (first.body, first.media_type) == (b"export {};", "text/javascript; charset=utf-8")
    assert first.etag.startswith('"')
    assert first.etag.endswith('"')
    (tmp_path / "app.js").write_text("export const changed = 1;")
    second = await files.load("/app.js")
    assert second is not None
    assert second.etag != first.etag
    assert await files.load("/missing.js") is None
    (tmp_path / "dir.js").mkdir()
    assert await files.load("/dir.js") is None


async def test_manifest_is_served_as_a_manifest() -> None:
    found = await _files(PWA_ROOT).load("/manifest.webmanifest")
    assert found is not None
    assert found.media_type == "application/manifest+json"
