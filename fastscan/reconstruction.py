"""Inverse-distance-weighted (IDW) inpainting of sparsely measured pixels."""

from __future__ import annotations

import numpy as np

from fastscan._validation import check_points, check_shape, check_values
from fastscan.features import idw_estimate
from fastscan.neighbors import knn_gather

__all__ = ["idw_reconstruction"]


def idw_reconstruction(
    shape: tuple[int, int], points: np.ndarray, values: np.ndarray, k: int = 10
) -> np.ndarray:
    """Fill a grid from measured pixels by 1/d**2 weighting of the k nearest ones.

    Parameters
    ----------
    shape : (n_rows, n_cols)
    points : (n, 2) int array of measured (row, col); repeated points are averaged.
    values : (n,) finite float array of readings.
    k : int, neighbours per pixel (at most n - 1).

    Returns
    -------
    (n_rows, n_cols) float64 image; measured pixels keep their (mean) values.

    Examples
    --------
    >>> import numpy as np
    >>> pts = np.array([[0, 0], [0, 3], [3, 0], [3, 3]])
    >>> img = idw_reconstruction((4, 4), pts, np.array([0.0, 1.0, 2.0, 3.0]), k=3)
    >>> float(img[0, 3]), bool(0.0 < img[1, 1] < 3.0)
    (1.0, True)
    """
    shape = check_shape(shape)
    points = check_points(points, shape)
    values = check_values(values, len(points))
    sums = np.zeros(shape)
    counts = np.zeros(shape)
    np.add.at(sums, (points[:, 0], points[:, 1]), values)
    np.add.at(counts, (points[:, 0], points[:, 1]), 1.0)
    mask = counts > 0
    image = np.divide(sums, counts, out=np.zeros(shape), where=mask)
    n_distinct = int(mask.sum())
    k = int(k)
    if not 1 <= k < n_distinct:
        raise ValueError(
            f"k must be in [1, {n_distinct - 1}] for {n_distinct} measured pixels, got {k}"
        )
    unmeasured = np.argwhere(~mask)
    if unmeasured.size:
        nbr = knn_gather(mask, unmeasured, k)
        image[unmeasured[:, 0], unmeasured[:, 1]] = idw_estimate(image, *nbr)
    return image
