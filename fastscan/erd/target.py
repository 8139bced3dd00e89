"""Training target: the SLADS reduction in distortion (RD) as FAST approximates it.

With ground truth X and reconstruction R, the error map is E = |X - R|. For an
unmeasured pixel p at distance d_1 from the nearest measurement,
``RD(p) = sum_q g_p(q) E(q)`` over a square window centred on p, where ``g_p`` is
an unnormalised Gaussian (peak 1) of sigma ``d_1 / c``. The window side is
``ceil(6 sigma) + 1`` rounded up to odd; pixels outside the image count as 0.

With ``power = p`` the target is the window's L_p error instead,
``(sum_q g_p(q) E(q)**p) ** (1 / p)``: ``p = 2`` ranks pixels by the squared error
they remove (what NRMSE scores) and keeps the units of E; ``p = 1`` is SLADS.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan._pixels import pixel_columns

__all__ = ["rd_target"]


@njit(cache=True, nogil=True)
def _rd(error, rows, cols, d1, c, out):
    n_rows, n_cols = error.shape
    for i in range(rows.shape[0]):
        sigma = d1[i] / c
        side = int(np.ceil(6.0 * sigma)) + 1
        if side % 2 == 0:
            side += 1
        half = side // 2
        inv = 1.0 / (2.0 * sigma * sigma)
        total = 0.0
        for dr in range(-half, half + 1):
            r = rows[i] + dr
            if r < 0 or r >= n_rows:
                continue
            wr = np.exp(-dr * dr * inv)
            for dc in range(-half, half + 1):
                c2 = cols[i] + dc
                if c2 < 0 or c2 >= n_cols:
                    continue
                total += wr * np.exp(-dc * dc * inv) * error[r, c2]
        out[i] = total


def rd_target(
    truth: np.ndarray,
    recon: np.ndarray,
    pixels: np.ndarray,
    d1: np.ndarray,
    c: float = 2.0,
    power: float = 1.0,
) -> np.ndarray:
    """RD of each unmeasured pixel (see module docstring).

    Parameters
    ----------
    truth, recon : (H, W) float arrays, ground truth and current reconstruction.
    pixels : (n, 2) int array of (row, col).
    d1 : (n,) positive distances to the nearest measured pixel.
    c : float > 0, the SLADS window constant (sigma = d1 / c).
    power : float >= 1, the error's exponent (1: SLADS's RD; 2: root of the squared error).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((9, 9)); truth[4, 4] = 3.0
    >>> pix, d1 = np.array([[4, 4]]), np.array([1.0])
    >>> rd_target(truth, np.zeros((9, 9)), pix, d1).tolist()
    [3.0]
    >>> rd_target(truth, np.zeros((9, 9)), pix, d1, power=2.0).tolist()
    [3.0]
    """
    if c <= 0:
        raise ValueError(f"c must be > 0, got {c}")
    if not (np.isfinite(power) and power >= 1.0):
        raise ValueError(f"power must be a finite number >= 1, got {power!r}")
    truth = np.asarray(truth, dtype=np.float64)
    recon = np.asarray(recon, dtype=np.float64)
    if truth.shape != recon.shape:
        raise ValueError(f"truth {truth.shape} and recon {recon.shape} differ in shape")
    rows, cols = pixel_columns(pixels)
    d1 = np.asarray(d1, dtype=np.float64).reshape(-1)
    if np.any(d1 <= 0):
        raise ValueError("d1 must be > 0 (RD is defined for unmeasured pixels only)")
    out = np.empty(rows.shape[0])
    error = np.abs(truth - recon)
    if power != 1.0:
        error **= power
    _rd(error, rows, cols, d1, c, out)
    if power != 1.0:
        out **= 1.0 / power
    return out
