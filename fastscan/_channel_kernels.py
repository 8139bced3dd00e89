"""Numba kernels for several channels at once: IDW of every channel, combined features.

The neighbour search, the IDW weights and the geometric features depend only on
where the measured pixels are, so they are computed once per pixel and shared by
the C channels. References: :func:`fastscan.features.idw_estimate` per channel,
and :func:`fastscan.channels.combine_features` of the per-channel
:func:`fastscan.features.slads_features` (tests compare them).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["combined_features", "idw_channels"]


@njit(cache=True)
def _idw_channels(values, recon, rows, cols, nbr_rows, nbr_cols, nbr_dist):
    n, k = nbr_dist.shape
    n_channels = values.shape[0]
    weight = np.empty(k)
    for i in range(n):
        den = 0.0
        for j in range(k):
            weight[j] = 1.0 / (nbr_dist[i, j] * nbr_dist[i, j])
            den += weight[j]
        for c in range(n_channels):
            num = 0.0
            for j in range(k):
                num += weight[j] * values[c, nbr_rows[i, j], nbr_cols[i, j]]
            recon[c, rows[i], cols[i]] = num / den


@njit(cache=True)
def _combined(values, recon, rows, cols, nbr_rows, nbr_cols, nbr_dist, rho, area, scales, w, out):
    n, k = nbr_dist.shape
    n_channels, n_rows, n_cols = recon.shape
    inv_d2 = np.empty(k)
    for i in range(n):
        r, c = rows[i], cols[i]
        den = 0.0
        n_close = 0
        for j in range(k):
            inv_d2[j] = 1.0 / (nbr_dist[i, j] * nbr_dist[i, j])
            den += inv_d2[j]
            if nbr_dist[i, j] <= rho:
                n_close += 1
        acc0 = 0.0
        acc1 = 0.0
        acc4 = 0.0
        acc5 = 0.0
        for ch in range(n_channels):
            if w[ch] <= 0.0:
                continue
            estimate = recon[ch, r, c]
            weighted_abs = 0.0
            sum_sq = 0.0
            for j in range(k):
                dev = values[ch, nbr_rows[i, j], nbr_cols[i, j]] - estimate
                weighted_abs += abs(dev) * inv_d2[j] / den
                sum_sq += dev * dev
            if c == 0:
                g_col = recon[ch, r, 1] - recon[ch, r, 0]
            elif c == n_cols - 1:
                g_col = recon[ch, r, c] - recon[ch, r, c - 1]
            else:
                g_col = 0.5 * (recon[ch, r, c + 1] - recon[ch, r, c - 1])
            if r == 0:
                g_row = recon[ch, 1, c] - recon[ch, 0, c]
            elif r == n_rows - 1:
                g_row = recon[ch, r, c] - recon[ch, r - 1, c]
            else:
                g_row = 0.5 * (recon[ch, r + 1, c] - recon[ch, r - 1, c])
            s2 = scales[ch] * scales[ch] * w[ch]
            acc0 += s2 * weighted_abs * weighted_abs
            acc1 += s2 * sum_sq
            acc4 += s2 * g_col * g_col
            acc5 += s2 * g_row * g_row
        out[i, 0] = np.sqrt(acc0)
        out[i, 1] = np.sqrt(acc1)
        out[i, 2] = nbr_dist[i, 0]
        out[i, 3] = area / (1.0 + n_close)
        out[i, 4] = np.sqrt(acc4)
        out[i, 5] = np.sqrt(acc5)


def idw_channels(
    values: np.ndarray,
    recon: np.ndarray,
    pixels: np.ndarray,
    nbr_rows: np.ndarray,
    nbr_cols: np.ndarray,
    nbr_dist: np.ndarray,
) -> None:
    """Write the IDW estimate of every channel at ``pixels`` into ``recon`` (C, H, W)."""
    pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
    _idw_channels(
        values,
        recon,
        np.ascontiguousarray(pixels[:, 0]),
        np.ascontiguousarray(pixels[:, 1]),
        nbr_rows,
        nbr_cols,
        nbr_dist,
    )


def combined_features(
    values: np.ndarray,
    recon: np.ndarray,
    pixels: np.ndarray,
    nbr_rows: np.ndarray,
    nbr_cols: np.ndarray,
    nbr_dist: np.ndarray,
    *,
    rho: float,
    scales: np.ndarray,
    gains: np.ndarray,
    sparsity_area: float,
) -> np.ndarray:
    """(n, 6) features of ``pixels`` with the C channels' intensity features combined.

    Equals :func:`fastscan.channels.combine_features` of the per-channel
    :func:`fastscan.features.slads_features` (scaled by ``scales``), weighted by
    ``gains``; channels of gain 0 are skipped.
    """
    pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
    gains = np.asarray(gains, np.float64)
    out = np.empty((pixels.shape[0], 6))
    _combined(
        values,
        recon,
        np.ascontiguousarray(pixels[:, 0]),
        np.ascontiguousarray(pixels[:, 1]),
        nbr_rows,
        nbr_cols,
        nbr_dist,
        float(rho),
        float(sparsity_area),
        np.asarray(scales, np.float64),
        gains / gains.sum(),
        out,
    )
    return out
