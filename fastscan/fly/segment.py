"""A fly segment: a straight line of grid pixels measured in one continuous move.

The stage flies from the centre of ``start`` to the centre of ``end`` (both
``(row, col)`` grid pixels, inclusive) at constant velocity, and the detector
takes one reading per pixel crossed. For a row or column segment the readings
are exactly the pixels between the two ends; for any other direction there are
``max(|d_row|, |d_col|) + 1`` readings, equally spaced along the line, each
attributed to the pixel nearest its centre (exact halves round up in grid
coordinates, so a segment and its reverse read the same pixels).

Examples
--------
>>> from fastscan.fly import Segment
>>> Segment((3, 2), (3, 5)).pixels().tolist()
[[3, 2], [3, 3], [3, 4], [3, 5]]
>>> Segment((0, 0), (2, 4)).pixels().tolist()
[[0, 0], [1, 1], [1, 2], [2, 3], [2, 4]]
>>> Segment((5, 1), (5, 1)).n_pixels
1
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["Segment", "segments_to_points"]


def _pixel(value: object, name: str) -> tuple[int, int]:
    try:
        row, col = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"segment {name} must be a (row, col) pair, got {value!r}") from None
    out = []
    for v in (row, col):
        try:
            ok = not isinstance(v, bool) and float(v).is_integer()
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"segment {name} must be integer (row, col), got {value!r}")
        out.append(int(v))
    return out[0], out[1]


@dataclass(frozen=True)
class Segment:
    """Straight fly segment from pixel ``start`` to pixel ``end`` (inclusive), as (row, col)."""

    start: tuple[int, int]
    end: tuple[int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _pixel(self.start, "start"))
        object.__setattr__(self, "end", _pixel(self.end, "end"))

    @property
    def n_pixels(self) -> int:
        """Number of readings: ``max(|d_row|, |d_col|) + 1``."""
        return max(abs(self.end[0] - self.start[0]), abs(self.end[1] - self.start[1])) + 1

    @property
    def length(self) -> float:
        """Euclidean length of the flown line, in pixels."""
        return float(np.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]))

    @property
    def is_row(self) -> bool:
        return self.start[0] == self.end[0]

    @property
    def is_column(self) -> bool:
        return self.start[1] == self.end[1]

    def reversed(self) -> Segment:
        """The same pixels flown the other way."""
        return Segment(self.end, self.start)

    def pixels(self) -> np.ndarray:
        """(n_pixels, 2) int64 (row, col) of the readings, in flight order."""
        n = self.n_pixels
        (r0, c0), (r1, c1) = self.start, self.end
        if r0 == r1 or c0 == c1:  # a row or a column (or one pixel): every pixel in between
            out = np.empty((n, 2), np.int64)
            for axis, (a, b) in enumerate(((r0, r1), (c0, c1))):
                step = 1 if b >= a else -1
                out[:, axis] = np.arange(a, b + step, step)  # (one value: broadcast)
            return out
        return self._pixels_by_rounding()

    def _pixels_by_rounding(self) -> np.ndarray:
        """:meth:`pixels` by the rule of any direction (for a row or a column it gives the
        same pixels, more slowly)."""
        n = self.n_pixels
        start = np.array(self.start, np.int64)
        delta = np.array(self.end, np.int64) - start
        if n == 1:
            return start.reshape(1, 2).copy()
        step = np.arange(n, dtype=np.int64)[:, None] * delta[None, :]
        # floor(step / (n - 1) + 1/2) in exact integer arithmetic: halves round up in grid
        # coordinates, so a segment and its reverse read the same pixels
        offset = (2 * step + (n - 1)) // (2 * (n - 1))
        return start[None, :] + offset

    def check_inside(self, shape: tuple[int, int]) -> Segment:
        """Return self, or raise ValueError naming the end outside a grid of ``shape``."""
        n_rows, n_cols = shape
        for name, (r, c) in (("start", self.start), ("end", self.end)):
            if not (0 <= r < n_rows and 0 <= c < n_cols):
                raise ValueError(
                    f"segment {name} {(r, c)} is outside the {n_rows} x {n_cols} grid "
                    f"(rows 0..{n_rows - 1}, cols 0..{n_cols - 1})"
                )
        return self


def segments_to_points(segments: Iterable[Segment]) -> tuple[np.ndarray, np.ndarray]:
    """Readings of ``segments`` in flight order: (n, 2) int64 points, (n,) int64 segment index."""
    parts = [s.pixels() for s in segments]
    if not parts:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    index = np.repeat(np.arange(len(parts), dtype=np.int64), [len(p) for p in parts])
    return np.concatenate(parts), index
