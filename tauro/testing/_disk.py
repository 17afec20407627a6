"""A small real file system to fill up: the full-disk tests' tmpfs.

``mounted_tmpfs`` mounts a tmpfs of ``size`` (root is required, as in CI) for
as long as the block runs; ``fill_to_the_last_byte`` writes one file until the
file system refuses even a single byte, so that the next write of the bot
fails with ENOSPC, and deleting that file brings the space back.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["fill_to_the_last_byte", "mounted_tmpfs"]


@contextmanager
def mounted_tmpfs(mount_point: Path, size: str = "4m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` at ``mount_point`` (made if missing), unmounted after."""
    mount_point.mkdir(exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)]
    subprocess.run(command, check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill_to_the_last_byte(directory: Path) -> Path:
    """Write one file in ``directory`` until the file system is full; return it."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as file:
        for size in (1 << 20, 1 << 12, 1):
            while True:
                try:
                    file.write(b"\0" * size)
                except OSError:
                    break
    assert os.statvfs(directory).f_bavail == 0
    return filler
