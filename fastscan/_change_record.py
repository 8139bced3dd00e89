"""The stop rule's memory of a batch: the reconstruction before the batch, kept on first
touch, and the batch's summed change recorded once.

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

import numpy as np

from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan._change_kernels import change_units, keep_first
from fastscan.channels import noise_change


class ChangeRecord:
    """The stop rule's change record of each batch (a Sampler mixin)."""

    def _record_change(self) -> None:
        """Record the batch in progress with the stop rule, once, and start a new one.

        The change is the L1 difference between the reconstruction now and before the
        batch, summed over the pixels the batch's local updates reached, each term in
        units of its channel's measured range and rounded to 2**-30 of it: an integer
        sum, so it does not depend on the order or the parts in which the readings came
        (whole batches, one at a time, across a save and load). Counting noise alone
        must not keep a scan going: its expected share is removed from count channels.
        A batch with a full update (a rescale) is not recorded.
        """
        n_readings, full = self._pending_readings, self._pending_full
        flat = self._pending_flat
        old = self._pending_old
        new_points = self._pending_new
        self._pending_flat, self._pending_old, self._pending_new = [], [], []
        self._pending_readings, self._pending_full = 0, False
        self._stamp_id += 1
        if n_readings == 0 or full:
            return
        value_range = self._value_max - self._value_min
        relative = np.zeros(self.n_channels)
        recon = self._recon.reshape(self.n_channels, -1)
        for c in np.flatnonzero(value_range > 0):
            per_value = _sampler._CHANGE_UNITS / value_range[c]
            units = sum(change_units(recon[c], f, o[c], per_value) for f, o in zip(flat, old))
            relative[c] = units / _sampler._CHANGE_UNITS
        new_points = np.concatenate(new_points)
        if self.n_channels > 1 and self._count_channels.any() and len(new_points):
            for c in np.flatnonzero(self._count_channels):
                if value_range[c] > 0:
                    values = self._values[c, new_points[:, 0], new_points[:, 1]]
                    floor = noise_change(values, self.coverage) / value_range[c]
                    relative[c] = max(relative[c] - floor, 0.0)
        gains = self._gains / self._gains.sum()
        self.stop_rule.record_change(float(gains @ relative), n_readings)

    def _keep_old(self, pixels: np.ndarray) -> None:
        """Keep the reconstruction of ``pixels`` from before the batch (first touch only)."""
        flat, old = keep_first(
            self._stamp.reshape(-1),
            self._stamp_id,
            pixels,
            self.shape[1],
            self._recon.reshape(self.n_channels, -1),
        )
        self._pending_flat.append(flat)
        self._pending_old.append(old)
