"""(n, 2) pixel index arrays as the numba kernels take them: two contiguous int64 columns."""

from __future__ import annotations

import numpy as np

__all__ = ["pixel_columns"]


def pixel_columns(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows and the columns of ``pixels``, each a contiguous int64 array.

    Parameters
    ----------
    pixels : array_like of int, shape (n, 2) or (2,)
        (row, col) pixel indices; any shape that holds pairs is read as (n, 2).

    Returns
    -------
    rows, cols : (n,) int64 arrays
        Contiguous, as the kernels index with them.

    Examples
    --------
    >>> rows, cols = pixel_columns([[1, 2], [3, 4]])
    >>> rows.tolist(), cols.tolist(), rows.flags.c_contiguous
    ([1, 3], [2, 4], True)
    """
    pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
    return np.ascontiguousarray(pixels[:, 0]), np.ascontiguousarray(pixels[:, 1])
