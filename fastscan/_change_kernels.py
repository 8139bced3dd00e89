"""Numba kernels of the stop rule's change monitor (``Sampler._record_change``).

A batch's change is the L1 difference between the reconstruction after the batch
and before it, over the pixels its local updates reached. :func:`keep_first`
keeps each such pixel's value from before the batch the first time an update
reaches it; :func:`change_units` sums the differences as integers (each term in
units of ``1 / units_per_value``), so the sum does not depend on the order or the
parts in which the pixels came.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def keep_first(
    stamp: np.ndarray, stamp_id: int, pixels: np.ndarray, width: int, recon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the ``pixels`` (n, 2) whose ``stamp`` is not ``stamp_id`` yet
    (each then stamped) and their values in every row of ``recon`` (C, H * W)."""
    flat = np.empty(pixels.shape[0], np.int64)
    m = 0
    for i in range(pixels.shape[0]):
        f = pixels[i, 0] * width + pixels[i, 1]
        if stamp[f] != stamp_id:
            stamp[f] = stamp_id
            flat[m] = f
            m += 1
    old = np.empty((recon.shape[0], m))
    for c in range(recon.shape[0]):
        for j in range(m):
            old[c, j] = recon[c, flat[j]]
    return flat[:m], old


@njit(cache=True, nogil=True)
def change_units(
    recon_row: np.ndarray, flat: np.ndarray, old_row: np.ndarray, units_per_value: float
) -> int:
    """Sum over j of ``rint(|recon_row[flat[j]] - old_row[j]| * units_per_value)``, exactly."""
    total = 0
    for j in range(flat.shape[0]):
        total += np.int64(np.rint(np.abs(recon_row[flat[j]] - old_row[j]) * units_per_value))
    return total
