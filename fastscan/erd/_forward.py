"""Numba kernels of the ERD model's forward pass (see :meth:`ERDModel.predict`).

The matrix products of the MLP stay with BLAS; these kernels fuse the cheap
element-wise passes around them, which cost as much as the products when each
is a separate NumPy pass over the rows:

* :func:`_lift`: standardised features -> ``float32(x @ omega + beta)``, the
  argument of the random Fourier features' cosine;
* :func:`_bias_relu`: ``h = max(h + b, 0)`` (or ``h + b`` for the output layer) in
  place.

Each computes, element by element, what the NumPy expression computes.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _lift(features, mean, scale, omega, beta, out):
    """``out = float32(((features - mean) / scale) @ omega + beta)``, row by row."""
    n, d = features.shape
    width = omega.shape[1]
    row = np.empty(d)
    acc = np.empty(width)
    for i in range(n):
        for k in range(d):
            row[k] = (features[i, k] - mean[k]) / scale[k]
        for j in range(width):
            acc[j] = row[0] * omega[0, j]
        for k in range(1, d):
            x = row[k]
            for j in range(width):
                acc[j] += x * omega[k, j]
        for j in range(width):
            out[i, j] = np.float32(acc[j] + beta[j])


@njit(cache=True, nogil=True)
def _bias_relu(h, b, relu):
    """``h += b`` in place, then ``max(h, 0)`` if ``relu``."""
    n, width = h.shape
    zero = np.float32(0.0)
    for i in range(n):
        for j in range(width):
            v = h[i, j] + b[j]
            if relu and v < zero:  # (NaN stays NaN, as with np.maximum)
                v = zero
            h[i, j] = v
