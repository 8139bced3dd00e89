"""What a sampler shows of its state: the reconstruction, ERD, measured mask, coverage
and the readings in measurement order (read-only views or copies).

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code).
"""

from __future__ import annotations

import numpy as np

from fastscan._validation import read_only
from fastscan.reconstruction import idw_reconstruction


class ReadingViews:
    """Read-only views of the sampler's state (a Sampler mixin)."""

    @property
    def reconstruction(self) -> np.ndarray:
        """Current IDW reconstruction in the readings' units (read-only).

        (H, W) float64 for one channel, (C, H, W) for C channels.
        """
        if not self._active and self._n_measured > 0:  # initial pattern not complete yet
            points = np.argwhere(self._mask)
            recon = np.empty((self.n_channels, *self.shape))
            for values, out in zip(self._values, recon):
                if len(points) == 1:
                    out[:] = values[self._mask][0]
                else:
                    k = min(self.k, len(points) - 1)
                    out[:] = idw_reconstruction(self.shape, points, values[self._mask], k=k)
            return recon[0] if self.n_channels == 1 else recon
        return read_only(self._recon[0] if self.n_channels == 1 else self._recon)

    @property
    def channel_gains(self) -> np.ndarray:
        """(C,) weight of each channel in the combined ERD (see :mod:`fastscan.channels`)."""
        return self._gains.copy()

    @property
    def erd(self) -> np.ndarray:
        """ERD of each pixel (0 where measured or before :attr:`activation_count` initial
        points are in)."""
        return np.maximum(self._erd, 0.0)

    @property
    def measured_mask(self) -> np.ndarray:
        """True at every measured pixel (read-only view)."""
        return read_only(self._mask)

    @property
    def n_measured(self) -> int:
        """Number of distinct measured pixels."""
        return self._n_measured

    @property
    def coverage(self) -> float:
        return self._n_measured / (self.shape[0] * self.shape[1])

    @property
    def position(self) -> np.ndarray | None:
        """(row, col) of the last measured point, or None before the first reading."""
        return self._log_points[-1][-1].copy() if self._log_points else None

    @property
    def measured_points(self) -> np.ndarray:
        """(n, 2) every ingested (row, col) in measurement order (repeats included)."""
        if not self._log_points:
            return np.zeros((0, 2), np.int64)
        return np.concatenate(self._log_points)

    @property
    def measured_values(self) -> np.ndarray:
        """Every ingested reading in measurement order: (n,) for one channel, else (n, C)."""
        if not self._log_values:
            return np.zeros((0, self.n_channels) if self.n_channels > 1 else 0)
        return np.concatenate(self._log_values)

    @property
    def stop_reason(self) -> str | None:
        return self.stop_rule.reason
