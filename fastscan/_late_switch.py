"""The late model switch: when a scan changes to LATE_MODEL, and the shadow ERD map
of that model kept exact before the switch so the switch only swaps it in.

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

import numpy as np

from fastscan import _update
from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan.erd.estimator import ERDModel, load_model
from fastscan.erd.floor import model_error_power
from fastscan.features import slads_features
from fastscan.selection import TileMax


class LateSwitch:
    """The late switch to LATE_MODEL and its shadow ERD map (a Sampler mixin)."""

    def _late_switch_applies(self) -> bool:
        """The late switch is for this scan, whatever its coverage: a default-model
        one-channel scan outside the texture band, below the floor level LATE_MAX_FLOOR,
        not yet switched."""
        return (
            _sampler.LATE_COVERAGE is not None
            and self._model_default
            and not self._late_done
            and self._active
            and self.n_channels == 1
            and self._lattice_power == 0.0
            and self._floor_level < _sampler.LATE_MAX_FLOOR
        )

    def _late_switch_due(self) -> bool:
        """:meth:`_late_switch_applies`, at LATE_COVERAGE."""
        return (
            self._late_switch_applies()
            and self._n_measured >= _sampler.LATE_COVERAGE * self._mask.size
        )

    def _late_switch(self) -> None:
        """Change to :data:`LATE_MODEL` and give every unmeasured pixel its ERD: the
        shadow map if one was prepared (:meth:`_late_prepare`), else a full pass (the
        reconstruction and neighbours do not change; local updates stay exact)."""
        self._late_done = True
        self._shadow_due = False
        if self._shadow is not None and self._shadow_rows < self.shape[0]:
            self._shadow_pass(self._shadow_rows, self.shape[0])  # (a batch too large for it)
        shadow, self._shadow = self._shadow, None
        tiles, self._shadow_tiles = self._shadow_tiles, None
        if self.model.name == _sampler.LATE_MODEL:  # the same model: only the noise cost is new
            if self._noise_cost_on():
                self._erd_pass(np.argwhere(~self._mask), self._neighbor_lists())
            return
        if shadow is None:
            self._use_model(_sampler.LATE_MODEL)
            self._erd_pass(np.argwhere(~self._mask), self._neighbor_lists())
        else:  # the same bits as that pass, made while readings were still to come
            self._set_model(self._shadow_model)
            self._erd = shadow
            _update.tile_dk_max(self._mask, self._dk, self._dk_tile, self._dk_max)
            self._tiles = TileMax(shadow) if tiles is None else tiles
        self._shadow_model = None
        _sampler._warm_up(self.model)

    def _late_prepare_due(self) -> bool:
        """The late switch will come (:meth:`_late_switch_applies`, and ``max_coverage``
        reaches it), the coverage is within LATE_PREPARE_MARGIN of it, and LATE_MODEL reads
        the features and sets the floor as the current model does (so the shadow shares the
        features)."""
        if _sampler.LATE_PREPARE_MARGIN is None or self.model.name == _sampler.LATE_MODEL:
            return False
        due = (
            self._late_switch_applies()
            and self._n_measured
            >= (_sampler.LATE_COVERAGE - _sampler.LATE_PREPARE_MARGIN) * self._mask.size
            and self.stop_rule.max_coverage >= _sampler.LATE_COVERAGE  # (else it stops before)
        )
        if not due:
            return False
        late = self._late_model()
        same = late.sparsity_numerator(self.shape) == self._sparsity_area
        return same and model_error_power(late) == self._error_power

    def _late_model(self) -> ERDModel:
        """LATE_MODEL, loaded once (for the shadow map)."""
        if self._shadow_model is None or self._shadow_model.name != _sampler.LATE_MODEL:
            self._shadow_model = load_model(_sampler.LATE_MODEL)
        return self._shadow_model

    def _late_prepare(self, bands: int) -> None:
        """Make ``bands`` more bands of rows of the shadow ERD map of LATE_MODEL (started
        if due): the next rows of every unmeasured pixel's ERD by that model from the
        current features, bit for bit what the switch's full pass would give now; later
        updates keep every pixel's shadow exact, made or not, so when a row is made does
        not change a bit."""
        height = self.shape[0]
        if self._shadow_due:
            self._shadow_due = False
            self._shadow = np.full(self.shape, -1.0)
            self._shadow_rows, self._shadow_tiles = 0, None
        if bands <= 0 or self._shadow is None or self._shadow_rows >= height:
            return
        rows = max(1, _sampler._SHADOW_PIXELS // self.shape[1]) * bands
        self._shadow_pass(self._shadow_rows, min(height, self._shadow_rows + rows))

    def _shadow_pass(self, start_row: int, stop_row: int) -> None:
        """The shadow ERD of the unmeasured pixels of rows [start_row, stop_row)."""
        model = self._late_model()
        pixels = np.argwhere(~self._mask[start_row:stop_row])
        pixels[:, 0] += start_row
        self._neighbor_lists()  # (made if kept: the full pass reads them too)
        for start in range(0, len(pixels), _sampler._CHUNK):
            chunk = pixels[start : start + _sampler._CHUNK]
            nbr = self._region_knn(chunk, store=False)  # the lists are left as they are
            features = slads_features(
                self._values[0],
                self._recon[0],
                chunk,
                *nbr,
                rho=self._rho,
                scale=float(self._scale[0]),
                sparsity_area=self._sparsity_area,
            )
            erd = self._predict(features, model.predict)
            self._shadow[chunk[:, 0], chunk[:, 1]] = self._shape(erd, features, chunk, late=True)
        self._shadow_rows = stop_row
        if stop_row == self.shape[0]:  # every row made: the maxima the switch will read
            self._shadow_tiles = TileMax(self._shadow)
