"""The six SLADS features of an unmeasured pixel and the IDW estimate they build on.

For a pixel p with k nearest measured neighbours (values v_i, distances d_i,
weights w_i = d_i**-2 / sum_j d_j**-2) and the current reconstruction R:

1. ``sum_i w_i |v_i - R(p)|``
2. ``sqrt(sum_i (v_i - R(p))**2)``
3. ``d_1``, the distance to the nearest measured pixel
4. ``A / (1 + #{i : d_i <= rho})`` with ``rho = ceil(sqrt(0.0025 N / pi))``; FAST
   uses ``A = 1 + pi rho**2``, which ties the feature's range to the image size
   (N pixels); fastscan's models fix ``A`` (``sparsity_area``) so that one model
   sees the same range on a 100 x 100 and a 2000 x 2000 grid
5. ``|dR/dcol|`` and 6. ``|dR/drow|`` (numpy.gradient conventions)

Intensity features (1, 2, 5, 6) are multiplied by ``scale`` so that images in any
detector unit look like the [0, 100] images the ERD model was trained on.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan._pixels import pixel_columns
from fastscan.neighbors import OffsetTable, knn_gather

__all__ = [
    "N_FEATURES",
    "add_analytic_rd",
    "analytic_rd",
    "compute_features",
    "feature_radius",
    "idw_estimate",
    "slads_features",
]

N_FEATURES = 6


def feature_radius(shape: tuple[int, int]) -> float:
    """SLADS cut-off radius rho: a disc of about 0.25 % of the image area."""
    return float(np.ceil(np.sqrt(0.0025 * shape[0] * shape[1] / np.pi)))


@njit(cache=True, nogil=True)
def _idw(values, nbr_rows, nbr_cols, nbr_dist):
    n, k = nbr_dist.shape
    out = np.empty(n)
    for i in range(n):
        num = 0.0
        den = 0.0
        for j in range(k):
            w = 1.0 / (nbr_dist[i, j] * nbr_dist[i, j])
            num += w * values[nbr_rows[i, j], nbr_cols[i, j]]
            den += w
        out[i] = num / den
    return out


@njit(cache=True, nogil=True, inline="always")
def _gradient_pair(recon, r, c):
    """``(dR/dcol, dR/drow)`` at pixel (r, c): central differences, one-sided at the edges."""
    n_rows, n_cols = recon.shape
    if c == 0:
        g_col = recon[r, 1] - recon[r, 0]
    elif c == n_cols - 1:
        g_col = recon[r, c] - recon[r, c - 1]
    else:
        g_col = 0.5 * (recon[r, c + 1] - recon[r, c - 1])
    if r == 0:
        g_row = recon[1, c] - recon[0, c]
    elif r == n_rows - 1:
        g_row = recon[r, c] - recon[r - 1, c]
    else:
        g_row = 0.5 * (recon[r + 1, c] - recon[r - 1, c])
    return g_col, g_row


@njit(cache=True, nogil=True)
def _features(values, recon, rows, cols, nbr_rows, nbr_cols, nbr_dist, rho, area_term, scale, out):
    n, k = nbr_dist.shape
    for i in range(n):
        r, c = rows[i], cols[i]
        estimate = recon[r, c]
        den = 0.0
        for j in range(k):
            den += 1.0 / (nbr_dist[i, j] * nbr_dist[i, j])
        weighted_abs = 0.0
        sum_sq = 0.0
        n_close = 0
        for j in range(k):
            dev = values[nbr_rows[i, j], nbr_cols[i, j]] - estimate
            weighted_abs += abs(dev) / (nbr_dist[i, j] * nbr_dist[i, j] * den)
            sum_sq += dev * dev
            if nbr_dist[i, j] <= rho:
                n_close += 1
        g_col, g_row = _gradient_pair(recon, r, c)
        out[i, 0] = scale * weighted_abs
        out[i, 1] = scale * np.sqrt(sum_sq)
        out[i, 2] = nbr_dist[i, 0]
        out[i, 3] = area_term / (1.0 + n_close)
        out[i, 4] = scale * abs(g_col)
        out[i, 5] = scale * abs(g_row)


def analytic_rd(features: np.ndarray, c: float = 2.0) -> np.ndarray:
    """A model-free RD estimate from the features: ``f1 * 2 pi (d_1 / c)**2``.

    If the error near a pixel is about its neighbours' weighted deviation (feature
    1), the RD target (error summed under a Gaussian of sigma ``d_1 / c``) is that
    error times the Gaussian's area. Used to order pixels the learned model scores
    alike.

    Examples
    --------
    >>> import numpy as np
    >>> analytic_rd(np.array([[1.0, 0, 2.0, 0, 0, 0]])).round(3).tolist()
    [6.283]
    """
    features = np.asarray(features, np.float64)
    return features[:, 0] * (2.0 * np.pi / (c * c)) * features[:, 2] ** 2


@njit(cache=True, nogil=True)
def _add_analytic_rd(erd, features, weight, factor):
    """``erd += weight * analytic_rd(features)`` in place, row by row with the same
    products in the same order (``factor = 2 pi / c**2``), without the temporaries."""
    for i in range(erd.shape[0]):
        erd[i] += weight * (features[i, 0] * factor * (features[i, 2] * features[i, 2]))


def add_analytic_rd(erd: np.ndarray, features: np.ndarray, weight: float, c: float = 2.0) -> None:
    """Add ``weight * analytic_rd(features, c)`` to the float64 array ``erd`` in place (the
    same bits as the NumPy expression).

    Examples
    --------
    >>> import numpy as np
    >>> erd = np.ones(1)
    >>> add_analytic_rd(erd, np.array([[1.0, 0, 2.0, 0, 0, 0]]), 0.5)
    >>> erd.round(3).tolist()
    [4.142]
    """
    features = np.asarray(features, np.float64)
    if erd.dtype != np.float64 or erd.shape != (len(features),):
        raise ValueError(
            f"erd must be float64 of shape ({len(features)},), got {erd.dtype} {erd.shape}"
        )
    _add_analytic_rd(erd, features, float(weight), 2.0 * np.pi / (c * c))


def idw_estimate(
    values: np.ndarray, nbr_rows: np.ndarray, nbr_cols: np.ndarray, nbr_dist: np.ndarray
) -> np.ndarray:
    """Inverse-distance-squared weighted mean of each pixel's neighbour values.

    ``values`` is the (H, W) image of measured values (read only at neighbour
    positions); the neighbour arrays come from :func:`fastscan.neighbors.knn_gather`.
    """
    return _idw(values, nbr_rows, nbr_cols, nbr_dist)


def slads_features(
    values: np.ndarray,
    recon: np.ndarray,
    pixels: np.ndarray,
    nbr_rows: np.ndarray,
    nbr_cols: np.ndarray,
    nbr_dist: np.ndarray,
    *,
    rho: float,
    scale: float = 1.0,
    sparsity_area: float | None = None,
) -> np.ndarray:
    """The (n, 6) SLADS feature matrix of ``pixels`` (see the module docstring).

    ``recon`` must already hold the IDW estimate at every pixel that the gradient
    touches (the pixels and their 4-neighbours). ``sparsity_area`` is the numerator
    A of feature 4 (None: FAST's ``1 + pi rho**2``).
    """
    if recon.shape[0] < 2 or recon.shape[1] < 2:
        raise ValueError(f"image must be at least 2 x 2, got {recon.shape}")
    rows, cols = pixel_columns(pixels)
    out = np.empty((rows.shape[0], N_FEATURES))
    area = 1.0 + np.pi * rho * rho if sparsity_area is None else float(sparsity_area)
    _features(values, recon, rows, cols, nbr_rows, nbr_cols, nbr_dist, rho, area, scale, out)
    return out


def compute_features(
    mask: np.ndarray,
    values: np.ndarray,
    *,
    k: int = 10,
    scale: float = 1.0,
    table: OffsetTable | None = None,
    sparsity_area: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-image IDW reconstruction and features of every unmeasured pixel.

    Parameters
    ----------
    mask : (H, W) bool array, True where measured.
    values : (H, W) float array; only measured entries are read.
    k : int, number of neighbours.
    scale : float, multiplier for the intensity features.
    sparsity_area : float or None, numerator of feature 4 (None: FAST's).

    Returns
    -------
    pixels : (n, 2) int64 array of unmeasured (row, col) in row-major order
    features : (n, 6) float64 array
    recon : (H, W) float64 reconstruction (measured pixels keep their values)
    """
    mask = np.asarray(mask, dtype=bool)
    values = np.asarray(values, dtype=np.float64)
    pixels = np.argwhere(~mask)
    nbr_rows, nbr_cols, nbr_dist = knn_gather(mask, pixels, k, table)
    recon = np.where(mask, values, 0.0)
    recon[pixels[:, 0], pixels[:, 1]] = idw_estimate(values, nbr_rows, nbr_cols, nbr_dist)
    features = slads_features(
        values,
        recon,
        pixels,
        nbr_rows,
        nbr_cols,
        nbr_dist,
        rho=feature_radius(mask.shape),
        scale=scale,
        sparsity_area=sparsity_area,
    )
    return pixels, features, recon
