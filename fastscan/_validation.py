"""Input checks shared by the public functions: one clear message per bad value."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["check_points", "check_shape", "check_values", "is_integer", "is_loopback"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
_ENDPOINT = re.compile(r"tcp://(?P<host>\[[^\]]*\]|[^:]*):(?P<port>\*|\d+)")


def is_integer(value: object) -> bool:
    """True for a Python or NumPy integer, False for anything else, ``bool`` included.

    Examples
    --------
    >>> is_integer(3), is_integer(np.int16(3)), is_integer(3.0), is_integer(True)
    (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_loopback(address: str) -> bool:
    """True for ``ipc://``, ``inproc://`` and ``tcp://`` ZMQ endpoints on a loopback host.

    Examples
    --------
    >>> is_loopback("tcp://127.0.0.1:5577"), is_loopback("tcp://0.0.0.0:5577")
    (True, False)
    """
    if not isinstance(address, str):
        return False
    if address.startswith(("ipc://", "inproc://")):
        return True
    match = _ENDPOINT.fullmatch(address)
    return bool(match) and match.group("host") in _LOCAL_HOSTS


def check_shape(shape: object) -> tuple[int, int]:
    """A grid shape (n_rows, n_cols) of positive integers, both at least 2."""
    try:
        n_rows, n_cols = (int(v) for v in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"grid shape must be (n_rows, n_cols), got {shape!r}") from None
    if n_rows < 2 or n_cols < 2:
        raise ValueError(f"grid shape must be at least (2, 2), got {(n_rows, n_cols)}")
    return n_rows, n_cols


def check_points(points: object, shape: tuple[int, int] | None) -> np.ndarray:
    """An (n, 2) int64 array of (row, col) inside ``shape`` (any integers if ``shape`` is None)."""
    arr = np.asarray(points)
    if arr.size == 0:
        return np.zeros((0, 2), np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"points must be an (n, 2) array of (row, col), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))][0]
            raise ValueError(f"points must be integer (row, col) pixel indices, got {bad!r}")
    arr = arr.astype(np.int64)
    if shape is None:
        return arr
    outside = (arr[:, 0] < 0) | (arr[:, 0] >= shape[0]) | (arr[:, 1] < 0) | (arr[:, 1] >= shape[1])
    if outside.any():
        row, col = arr[np.argmax(outside)]
        raise ValueError(
            f"point (row={row}, col={col}) is outside the grid: rows 0..{shape[0] - 1}, "
            f"cols 0..{shape[1] - 1}"
        )
    return arr


def check_values(values: object, n: int) -> np.ndarray:
    """An (n,) float64 array of finite readings."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"got {arr.shape[0]} values for {n} points; need one value per point")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"reading {i} is {float(arr[i])}; readings must be finite numbers")
    return arr


def read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot be written through (internal state stays safe)."""
    view = array.view()
    view.flags.writeable = False
    return view


def non_finite(array: np.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """``(count, index of the first)`` of the NaN/inf entries of ``array``, or None if none."""
    bad = ~np.isfinite(array)
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return int(bad.sum()), first
