"""Reconstruction and ERD of given pixels: the model's prediction with the tie-break and
exploration floor, the count-noise cost and the structure-adaptive shaping.

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastscan import _threads
from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan._channel_kernels import combined_features, idw_channels
from fastscan._structure import shape_erd
from fastscan.erd.estimator import _PREDICT_ROWS, ERDModel, _single_thread_blas
from fastscan.erd.floor import apply_floor
from fastscan.erd.noise_cost import net_of_count_noise
from fastscan.features import add_analytic_rd, analytic_rd, idw_estimate, slads_features


class PixelErd:
    """Reconstruction and shaped ERD of given pixels (a Sampler mixin)."""

    def _update_recon(
        self,
        pixels: np.ndarray,
        bounded: bool = True,
        nbr: tuple[np.ndarray, ...] | None = None,
    ) -> tuple[np.ndarray, ...]:
        if nbr is None:
            nbr = self._knn(pixels, bounded)  # locally, d_k before the batch bounds the new one
        if self.n_channels == 1:
            self._recon[0, pixels[:, 0], pixels[:, 1]] = idw_estimate(self._values[0], *nbr)
        else:
            idw_channels(self._values, self._recon, pixels, *nbr)
        self._dk[pixels[:, 0], pixels[:, 1]] = nbr[2][:, -1]
        return nbr

    def _update_erd(self, pixels: np.ndarray, nbr: tuple[np.ndarray, ...] | None = None) -> None:
        if nbr is None:
            nbr = self._knn(pixels)
        if self.n_channels > 1 and self.channel_combine == "features":
            # one virtual channel: power mean of the gain-scaled, noise-aware features
            area = self._sparsity_area
            features = combined_features(
                self._values,
                self._recon,
                pixels,
                *nbr,
                rho=self._rho,
                scales=self._scale,
                gains=self._gains,
                sparsity_area=1.0 + np.pi * self._rho**2 if area is None else area,
                noise=self._count_channels.astype(np.float64),
            )
        else:  # features of each channel with a gain (one channel: as always)
            used = np.flatnonzero(self._gains > 0) if self.n_channels > 1 else [0]
            features = np.concatenate(
                [
                    slads_features(
                        self._values[c],
                        self._recon[c],
                        pixels,
                        *nbr,
                        rho=self._rho,
                        scale=float(self._scale[c]),
                        sparsity_area=self._sparsity_area,
                    )
                    for c in used
                ]
            )
        erd = self._predict(features)
        if len(erd) > len(pixels):  # one ERD per channel, summed with the gains
            gains = self._gains[used] / self._gains[used].sum()
            erd = gains @ erd.reshape(len(used), len(pixels))
        self._erd[pixels[:, 0], pixels[:, 1]] = self._shape(erd, features, pixels)
        if self._shadow is not None:  # (one channel) the same features, LATE_MODEL's pass
            shadow = self._predict(features, self._shadow_model.predict)
            self._shadow[pixels[:, 0], pixels[:, 1]] = self._shape(
                shadow, features, pixels, late=True
            )

    def _shape(
        self, erd: np.ndarray, features: np.ndarray, pixels: np.ndarray, late: bool = False
    ) -> np.ndarray:
        """Structure-adaptive shaping of ``erd`` in place (:mod:`fastscan._structure`).

        ``features`` holds one row per pixel of ``pixels``, or one block of them per
        channel with a gain (then ``f_1`` is the blocks' gain-weighted root mean square).
        """
        if (late or self._late_done) and self._noise_cost_on():  # before the shaping
            counts = self._recon[0][pixels[:, 0], pixels[:, 1]]
            net_of_count_noise(erd, counts, self._count_noise_cost(), float(self._scale[0]))
        if self._exponents != (0.0, 0.0) or self._lattice_power != 0.0:
            n_pixels = len(pixels)
            f1 = features[:, 0].reshape(-1, n_pixels)
            if len(f1) > 1:
                used = self._gains[self._gains > 0]
                f1 = np.sqrt((used / used.sum()) @ f1**2)[None]
            levels = None
            if self._lattice_power != 0.0:
                levels = self._levels[pixels[:, 0], pixels[:, 1]]
            shape_erd(
                erd, f1[0], features[:n_pixels, 2], *self._exponents, levels, self._lattice_power
            )
        return erd

    def _count_noise_cost(self) -> float:
        """``noise_cost``, or :data:`COUNT_NOISE_COST` when it is None."""
        return _sampler.COUNT_NOISE_COST if self.noise_cost is None else self.noise_cost

    def _noise_cost_on(self) -> bool:
        """The ERD's noise cost applies: one channel of low counts (the range is fixed
        between full updates, so local updates stay exact)."""
        return (
            self._counting
            and self.n_channels == 1
            and self._count_noise_cost() > 0
            and float(self._ref_range[0]) <= _sampler.COUNT_NOISE_MAX_RANGE
        )

    def _region_erd(
        self,
        features: np.ndarray,
        pixels: np.ndarray,
        also: Any = None,
        model: ERDModel | None = None,
        late: bool = False,
    ) -> np.ndarray:
        """Shaped ERD of one channel's feature rows (one per pixel of ``pixels``) by
        ``model`` (default the sampler's); many rows run in two halves on two threads
        (:mod:`fastscan._threads`), split where the model's blocks of rows start, so the
        bits are those of one pass. ``also()`` (if given) runs too."""
        model = self.model if model is None else model
        if type(model).predict is not ERDModel.predict:  # a subclass's own predict
            if also is not None:
                also()
            return self._shape(self._predict(features, model.predict), features, pixels, late)
        erd = np.empty(len(features))
        features = np.ascontiguousarray(features, np.float64)

        def model_pass(start: int, stop: int) -> None:
            part = features[start:stop]
            predicted = self._predict(part, model._predict_rows)
            erd[start:stop] = self._shape(predicted, part, pixels[start:stop], late)

        with _single_thread_blas():
            _threads.split_rows(model_pass, len(features), align=_PREDICT_ROWS, also=also)
        return erd

    def _predict(self, features: np.ndarray, predict: Any = None) -> np.ndarray:
        """The model's ERD of each feature row (by ``predict``, default the model's),
        plus the analytic tie-break, raised to the exploration floor (``erd_floor``)."""
        erd = (predict or self.model.predict)(features)  # a new float64 array
        if self.tie_break > 0:
            if isinstance(erd, np.ndarray) and erd.dtype == np.float64 and erd.ndim == 1:
                add_analytic_rd(erd, features, self.tie_break)  # one pass, same bits
            else:  # a subclass's predict may return another array type
                erd += self.tie_break * analytic_rd(features)
        return apply_floor(erd, features, self._floor_level, self._error_power)
