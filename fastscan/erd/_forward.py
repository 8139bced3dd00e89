"""Numba kernels of the ERD model's forward pass (see :meth:`ERDModel.predict`).

The matrix products of the MLP stay with BLAS; these kernels fuse the cheap
element-wise passes around them, which cost as much as the products when each
is a separate NumPy pass over the rows:

* :func:`_lift`: standardised features -> ``float32(x @ omega + beta)``, the
  argument of the random Fourier features' cosine (:func:`_lift6` keeps a row of
  the model's six features in registers: the same sums, half the time);
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
    if features.shape[1] == 6:  # the model's six features: 2x faster, the same sums
        _lift6(features, mean, scale, omega, beta, out)
    else:
        _lift_any(features, mean, scale, omega, beta, out)


@njit(cache=True, nogil=True)
def _lift_any(features, mean, scale, omega, beta, out):
    """:func:`_lift` for any number of features (a row buffer and an accumulator)."""
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
def _lift6(features, mean, scale, omega, beta, out):
    """:func:`_lift` for six features: the same products summed in the same order."""
    width = omega.shape[1]
    for i in range(features.shape[0]):
        x0 = (features[i, 0] - mean[0]) / scale[0]
        x1 = (features[i, 1] - mean[1]) / scale[1]
        x2 = (features[i, 2] - mean[2]) / scale[2]
        x3 = (features[i, 3] - mean[3]) / scale[3]
        x4 = (features[i, 4] - mean[4]) / scale[4]
        x5 = (features[i, 5] - mean[5]) / scale[5]
        for j in range(width):
            acc = x0 * omega[0, j]
            acc += x1 * omega[1, j]
            acc += x2 * omega[2, j]
            acc += x3 * omega[3, j]
            acc += x4 * omega[4, j]
            acc += x5 * omega[5, j]
            out[i, j] = np.float32(acc + beta[j])


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
