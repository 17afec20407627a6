"""Figures the chat and web benchmarks share (run as ``python bench/<name>.py``, which
puts this folder on the import path)."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100): the sample nearest to that rank, no interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
