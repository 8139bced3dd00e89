"""The sampler's reading bookkeeping kernel against the NumPy code it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan._readings import accumulate


def reference(sums, counts, means, mask, points, readings):
    """The NumPy bookkeeping of Sampler._apply_part before the kernel (in place)."""
    rows, cols = points[:, 0], points[:, 1]
    n_cols = mask.shape[1]
    was_measured = mask[rows, cols]
    before = means[:, rows, cols]
    for channel_sums, channel_values in zip(sums, readings.T):
        np.add.at(channel_sums, (rows, cols), channel_values)
    np.add.at(counts, (rows, cols), 1)
    flat = np.unique(rows * n_cols + cols)
    pixels = np.stack([flat // n_cols, flat % n_cols], 1)
    u_rows, u_cols = pixels[:, 0], pixels[:, 1]
    means[:, u_rows, u_cols] = sums[:, u_rows, u_cols] / counts[u_rows, u_cols]
    is_new = ~mask[u_rows, u_cols]
    moved = np.zeros(len(points), bool)
    moved[was_measured] = (means[:, rows, cols][:, was_measured] != before[:, was_measured]).any(0)
    mask[u_rows, u_cols] = True
    moved_flat = np.unique(rows[moved] * n_cols + cols[moved])
    return pixels, is_new, np.stack([moved_flat // n_cols, moved_flat % n_cols], 1)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("n_channels", [1, 3])
def test_accumulate_equals_the_numpy_bookkeeping(seed, n_channels):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 9)), int(rng.integers(1, 12)))
    state = [np.zeros((n_channels, *shape)), np.zeros(shape, np.int32)]
    state += [np.zeros((n_channels, *shape)), np.zeros(shape, bool)]
    ours = [a.copy() for a in state]
    for _ in range(4):  # batches: repeats within a batch and of pixels measured before
        n = int(rng.integers(0, 3 * shape[0] * shape[1] // 2 + 2))
        points = np.stack([rng.integers(0, s, n) for s in shape], 1).astype(np.int64)
        readings = rng.integers(0, 4, (n, n_channels)).astype(float)  # ties: means that stay
        if seed % 2 and n:  # some repeats read exactly the pixel's mean: not moved
            measured = state[3][points[:, 0], points[:, 1]]
            readings[measured] = state[2][:, points[measured, 0], points[measured, 1]].T
        expect = reference(*state, points, readings)
        got = accumulate(*ours, points, readings)
        for a, b in zip(expect, got):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        for a, b in zip(state, ours):  # sums, counts, means, mask: the same bits
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert state[3].any() or not state[1].any()
