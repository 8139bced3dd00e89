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

from fastscan._pixels import pixel_columns
from fastscan.channels import CHANNEL_POWER, FEATURE_NOISE
from fastscan.features import _gradient_pair

__all__ = ["combined_features", "idw_channels"]


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _combined(
    values, recon, rows, cols, nbr_rows, nbr_cols, nbr_dist, rho, area, scales, w, noise, cst, out
):
    n, k = nbr_dist.shape
    n_channels = recon.shape[0]
    inv_d2 = np.empty(k)
    half = 0.5 * cst[4]  # the power mean's exponent over 2
    n_used = 0
    for ch in range(n_channels):
        if w[ch] > 0.0:
            n_used += 1
    for i in range(n):
        r, c = rows[i], cols[i]
        den = 0.0
        n_close = 0
        for j in range(k):
            inv_d2[j] = 1.0 / (nbr_dist[i, j] * nbr_dist[i, j])
            den += inv_d2[j]
            if nbr_dist[i, j] <= rho:
                n_close += 1
        density = min(k / (np.pi * nbr_dist[i, k - 1] * nbr_dist[i, k - 1]), 1.0)
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
            g_col, g_row = _gradient_pair(recon[ch], r, c)
            q0 = weighted_abs * weighted_abs
            q1 = sum_sq
            q4 = g_col * g_col
            q5 = g_row * g_row
            if noise[ch] > 0.0:  # counts: remove what counting noise alone contributes
                lam = noise[ch] * max(estimate, 0.0)
                grad = cst[2] * (cst[3] + density) * lam
                q0 = max(q0 - cst[0] * lam, 0.0)
                q1 = max(q1 - cst[1] * k * lam, 0.0)
                q4 = max(q4 - grad, 0.0)
                q5 = max(q5 - grad, 0.0)
            s2 = scales[ch] * scales[ch] * w[ch]
            if half == 1.0:  # root mean square
                acc0 += s2 * q0
                acc1 += s2 * q1
                acc4 += s2 * q4
                acc5 += s2 * q5
            elif half == 4.0:  # power mean, p = 8, by multiplication (no pow in the loop)
                s2 *= n_used
                t0, t1, t4, t5 = s2 * q0, s2 * q1, s2 * q4, s2 * q5
                acc0 += t0 * t0 * t0 * t0
                acc1 += t1 * t1 * t1 * t1
                acc4 += t4 * t4 * t4 * t4
                acc5 += t5 * t5 * t5 * t5
            else:  # power mean of the gain-scaled features (gains act as for p = 2)
                s2 *= n_used
                acc0 += (s2 * q0) ** half
                acc1 += (s2 * q1) ** half
                acc4 += (s2 * q4) ** half
                acc5 += (s2 * q5) ** half
        if half != 1.0:
            acc0 = (acc0 / n_used) ** (1.0 / half)
            acc1 = (acc1 / n_used) ** (1.0 / half)
            acc4 = (acc4 / n_used) ** (1.0 / half)
            acc5 = (acc5 / n_used) ** (1.0 / half)
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
    rows, cols = pixel_columns(pixels)
    _idw_channels(values, recon, rows, cols, nbr_rows, nbr_cols, nbr_dist)


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
    noise: np.ndarray | None = None,
    power: float = CHANNEL_POWER,
) -> np.ndarray:
    """(n, 6) features of ``pixels`` with the C channels' intensity features combined.

    Equals :func:`fastscan.channels.combine_features` of the per-channel
    :func:`fastscan.features.slads_features` (scaled by ``scales``), weighted by
    ``gains``, with :func:`fastscan.channels.feature_noise` subtracted from the
    channels whose ``noise`` factor is > 0 (1 for Poisson counts: variance =
    mean; None: no channel), combined as a power mean of exponent ``power``;
    channels of gain 0 are skipped.
    """
    rows, cols = pixel_columns(pixels)
    gains = np.asarray(gains, np.float64)
    out = np.empty((rows.shape[0], 6))
    if not (np.isfinite(power) and power >= 1.0):
        raise ValueError(f"power must be a finite number >= 1, got {power!r}")
    _combined(
        values,
        recon,
        rows,
        cols,
        nbr_rows,
        nbr_cols,
        nbr_dist,
        float(rho),
        float(sparsity_area),
        np.asarray(scales, np.float64),
        gains / gains.sum(),
        np.zeros(len(gains)) if noise is None else np.asarray(noise, np.float64),
        np.array([*FEATURE_NOISE, power], np.float64),
        out,
    )
    return out
