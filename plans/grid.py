"""The scan grid: conversion between image indices (row, col) and motor positions (x, y).

Columns run along the x motor and rows along the y motor::

    x = x_start + col * (x_stop - x_start) / (n_cols - 1)
    y = y_start + row * (y_stop - y_start) / (n_rows - 1)

Examples
--------
>>> import numpy as np
>>> g = Grid(x_start=0.0, x_stop=5.9, n_cols=60, y_start=10.0, y_stop=13.9, n_rows=40)
>>> g.shape, g.pitch
((40, 60), (0.1, 0.1))
>>> xy = g.to_positions(np.array([[0, 0], [39, 59]]))
>>> np.round(xy, 6).tolist()
[[0.0, 10.0], [5.9, 13.9]]
>>> g.to_indices(xy).tolist()
[[0, 0], [39, 59]]
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """A rectangular scan grid in motor units.

    Parameters
    ----------
    x_start, x_stop : float
        x motor position of the first and last column (x_stop may be below x_start).
    n_cols : int
        Number of columns (>= 2).
    y_start, y_stop : float
        y motor position of the first and last row.
    n_rows : int
        Number of rows (>= 2).
    """

    x_start: float
    x_stop: float
    n_cols: int
    y_start: float
    y_stop: float
    n_rows: int

    def __post_init__(self) -> None:
        for name in ("n_cols", "n_rows"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 2:
                raise ValueError(f"Grid.{name} must be an integer >= 2, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("x_start", "x_stop", "y_start", "y_stop"):
            value = getattr(self, name)
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"Grid.{name} must be a finite number, got {value!r}") from None
            if not np.isfinite(value):
                raise ValueError(f"Grid.{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, value)
        if self.x_start == self.x_stop:
            raise ValueError(f"Grid.x_start and x_stop must differ, both are {self.x_start!r}")
        if self.y_start == self.y_stop:
            raise ValueError(f"Grid.y_start and y_stop must differ, both are {self.y_start!r}")

    @classmethod
    def centered(
        cls,
        x_center: float,
        y_center: float,
        *,
        width: float,
        height: float,
        n_cols: int,
        n_rows: int,
    ) -> Grid:
        """Grid of ``width`` x ``height`` motor units centred on (x_center, y_center).

        ``width`` and ``height`` must be finite and > 0: a negative one is refused
        (it would flip the grid silently). For a grid run the other way round give
        the corners, e.g. ``Grid(x_start, x_stop, ...)`` with ``x_start > x_stop``.
        """
        for name, value, corners in (("width", width, "x_start > x_stop"),
                                     ("height", height, "y_start > y_stop")):  # fmt: skip
            number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
            if not (number and math.isfinite(value) and value > 0):
                raise ValueError(
                    f"{name} must be a finite number of motor units > 0, got {value!r} "
                    f"(for a grid run the other way round give a Grid with {corners})"
                )
        return cls(
            x_center - width / 2.0,
            x_center + width / 2.0,
            n_cols,
            y_center - height / 2.0,
            y_center + height / 2.0,
            n_rows,
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(n_rows, n_cols), the image shape."""
        return (self.n_rows, self.n_cols)

    @property
    def pitch(self) -> tuple[float, float]:
        """(x_step, y_step): motor distance between adjacent columns and rows (positive)."""
        return (
            abs(self.x_stop - self.x_start) / (self.n_cols - 1),
            abs(self.y_stop - self.y_start) / (self.n_rows - 1),
        )

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x_start + self.x_stop) / 2.0, (self.y_start + self.y_stop) / 2.0)

    def shifted(self, dx: float, dy: float) -> Grid:
        """The same grid moved by (dx, dy) motor units."""
        return Grid(
            self.x_start + dx,
            self.x_stop + dx,
            self.n_cols,
            self.y_start + dy,
            self.y_stop + dy,
            self.n_rows,
        )

    def to_positions(self, points: np.ndarray) -> np.ndarray:
        """(n, 2) (row, col) indices -> (n, 2) float (x, y) motor positions."""
        pts = np.asarray(points)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"points must have shape (n, 2) of (row, col), got {pts.shape}")
        x = self.x_start + pts[:, 1] * ((self.x_stop - self.x_start) / (self.n_cols - 1))
        y = self.y_start + pts[:, 0] * ((self.y_stop - self.y_start) / (self.n_rows - 1))
        return np.stack([x, y], axis=1).astype(float)

    def to_position(self, row: int, col: int) -> tuple[float, float]:
        """(x, y) motor position of one (row, col) pixel."""
        x, y = self.to_positions(np.array([[row, col]]))[0]
        return float(x), float(y)

    def to_indices(self, positions: np.ndarray, *, clip: bool = False) -> np.ndarray:
        """(n, 2) (x, y) positions -> (n, 2) int64 nearest (row, col).

        Positions more than half a pixel outside the grid raise ValueError unless
        ``clip`` is True, which maps them to the nearest edge pixel.
        """
        pos = np.asarray(positions, dtype=float)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"positions must have shape (n, 2) of (x, y), got {pos.shape}")
        col = (pos[:, 0] - self.x_start) / ((self.x_stop - self.x_start) / (self.n_cols - 1))
        row = (pos[:, 1] - self.y_start) / ((self.y_stop - self.y_start) / (self.n_rows - 1))
        idx = np.stack([np.rint(row), np.rint(col)], axis=1)
        if not np.isfinite(idx).all():
            raise ValueError("positions must be finite numbers")
        high = np.array([self.n_rows - 1, self.n_cols - 1])
        if clip:
            idx = np.clip(idx, 0, high)
        elif (idx < 0).any() or (idx > high).any():
            bad = pos[((idx < 0) | (idx > high)).any(axis=1)][0]
            raise ValueError(
                f"position (x={bad[0]!r}, y={bad[1]!r}) is outside the grid "
                f"x in [{self.x_start}, {self.x_stop}], y in [{self.y_start}, {self.y_stop}]"
            )
        return idx.astype(np.int64)

    def to_fractions(self, positions: np.ndarray) -> np.ndarray:
        """(n, 2) (x, y) positions -> (n, 2) float (row, col), not rounded (no range check).

        >>> Grid(0.0, 5.9, 60, 10.0, 13.9, 40).to_fractions(np.array([[0.25, 10.5]])).round(6)
        array([[5. , 2.5]])
        """
        pos = np.asarray(positions, dtype=float)
        if pos.ndim != 2 or pos.shape[1] != 2:
            raise ValueError(f"positions must have shape (n, 2) of (x, y), got {pos.shape}")
        col = (pos[:, 0] - self.x_start) / ((self.x_stop - self.x_start) / (self.n_cols - 1))
        row = (pos[:, 1] - self.y_start) / ((self.y_stop - self.y_start) / (self.n_rows - 1))
        return np.stack([row, col], axis=1)

    def to_index(self, x: float, y: float, *, clip: bool = False) -> tuple[int, int]:
        """Nearest (row, col) of one (x, y) position."""
        row, col = self.to_indices(np.array([[x, y]]), clip=clip)[0]
        return int(row), int(col)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe), e.g. for run metadata; ``Grid(**d)`` rebuilds it."""
        return asdict(self)
