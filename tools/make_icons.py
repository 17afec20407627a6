"""Draw TauroBot's app icons as real PNGs with the standard library only.

Run once after changing the design; the PNGs are committed:

    .venv/bin/python tools/make_icons.py

The icon is a white bull's head (two horns over a round face) on a full-bleed
dark red square. Full bleed with the figure inside the central 80 % makes the
same file valid as a "maskable" icon, whose corners a launcher may crop.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

BACKGROUND = (139, 30, 30)
FIGURE = (255, 246, 230)
SAMPLES = 4  # per axis: 16 samples a pixel for smooth edges
OUT = Path(__file__).resolve().parent.parent / "tauro" / "pwa" / "icons"


def _in_face(x: float, y: float) -> bool:
    return ((x - 0.5) / 0.2) ** 2 + ((y - 0.56) / 0.23) ** 2 <= 1.0


def _in_horn(x: float, y: float) -> bool:
    """A crescent on each side: inside one circle, outside a shifted one."""
    x = abs(x - 0.5)  # mirror: both horns from one rule
    inside = math.hypot(x - 0.17, y - 0.34) <= 0.19
    outside = math.hypot(x - 0.15, y - 0.27) > 0.17
    return inside and outside and y < 0.47 and x > 0.08


def _in_nostril(x: float, y: float) -> bool:
    return math.hypot(abs(x - 0.5) - 0.07, y - 0.68) <= 0.03


def coverage(x: float, y: float) -> bool:
    return (_in_face(x, y) or _in_horn(x, y)) and not _in_nostril(x, y)


def render(size: int) -> bytes:
    rows = []
    step = 1.0 / (size * SAMPLES)
    for py in range(size):
        row = bytearray([0])  # PNG filter type 0 for this scanline
        for px in range(size):
            hits = sum(
                coverage((px * SAMPLES + sx + 0.5) * step, (py * SAMPLES + sy + 0.5) * step)
                for sx in range(SAMPLES)
                for sy in range(SAMPLES)
            )
            a = hits / (SAMPLES * SAMPLES)
            row += bytes(round(b + (f - b) * a) for b, f in zip(BACKGROUND, FIGURE, strict=True))
        rows.append(bytes(row))
    return _png(size, size, b"".join(rows))


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png(width: int, height: int, raw: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(render(size))
        print(f"wrote icons/icon-{size}.png")


if __name__ == "__main__":
    main()
