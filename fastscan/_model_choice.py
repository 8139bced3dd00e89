"""Which ERD model a scan runs and the structure level, exploration floor and shaping
exponents measured once from the initial pattern.

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

import numpy as np

from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan._lattice import lattice_levels
from fastscan._structure import LATTICE_LEVELS, shaping
from fastscan.erd.estimator import ERDModel, load_model
from fastscan.erd.floor import model_error_power


class ModelChoice:
    """Model choice and the structure level of the initial pattern (a Sampler mixin)."""

    def _default_model_for_channels(self) -> None:
        """Given no ``model``: :data:`DEFAULT_MODEL` for one channel,
        :data:`MULTICHANNEL_MODEL` for more (before the first reading is used)."""
        if self._model_default:
            self._use_model(
                _sampler.MULTICHANNEL_MODEL if self.n_channels > 1 else _sampler.DEFAULT_MODEL
            )

    def _use_model(self, name: str) -> None:
        """Load the shipped model ``name`` unless it is the one in use."""
        if self.model.name != name:
            self._set_model(load_model(name))

    def _set_model(self, model: ERDModel) -> None:
        """Run ``model`` from now on, with the error power and sparsity area it reads."""
        self.model = model
        self._error_power = model_error_power(model)
        self._sparsity_area = model.sparsity_numerator(self.shape)

    def _measure_floor_level(self) -> float:
        """``erd_floor="auto"``: the flat-background error of the initial pattern
        (:func:`fastscan.erd.floor.flat_surprise_level`, the power mean of the model's
        error power), largest over the channels with a gain, in [0, 100] units."""
        points, readings = self._gained_readings()
        levels = [
            self._floor_measure(points, values, self.k, power=self._error_power)
            for values in readings
        ]
        return max(levels, default=0.0)

    def _gained_readings(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """The measured pixels (n, 2) and, for each channel with a gain, their readings
        in the model's [0, 100] units (what the floor and flat-share measures read)."""
        mask = self._mask
        readings = [
            (self._values[c][mask] - self._value_min[c]) * self._scale[c]
            for c in np.flatnonzero(self._gains > 0)
        ]
        return np.argwhere(mask), readings

    def _set_structure(self, gini: float, counting: bool = False, variation: float = 0.0) -> None:
        """Fix the structure level and the ERD shaping exponents it gives."""
        self._gini = float(gini)
        self._counting = bool(counting)
        self._variation = float(variation)
        a, b, self._lattice_power = shaping(
            self._gini,
            self.contrast,
            self.fill,
            self.lattice,
            self._counting,
            self._variation,
            self.hedge,
        )
        self._exponents = (a, b)
        if self._model_default and self.n_channels == 1:
            name = _sampler.TEXTURE_MODEL if self._lattice_power != 0.0 else _sampler.DEFAULT_MODEL
            self._use_model(name)
        if self._lattice_power != 0.0 and self._levels is None:
            low, high = LATTICE_LEVELS
            self._levels = np.maximum(lattice_levels(self.shape, finest=high - 1), low)
