"""The decision engine: which pixel to measure next, with no I/O.

A :class:`Sampler` first hands out a quasi-random initial pattern (scrambled
Halton, ``initial_fraction`` of the grid, in a serpentine route). Once those are
measured it keeps, for every unmeasured pixel, an IDW reconstruction and the ERD
predicted by the SLADS-Net model; each :meth:`Sampler.ingest` updates both only
where the new points change a pixel's neighbourhood, so a step costs in
proportion to the batch, not the image.

Examples
--------
>>> import numpy as np
>>> from fastscan import Sampler
>>> truth = np.add.outer(np.arange(40.0), np.arange(60.0))
>>> s = Sampler((40, 60), batch_size=10, seed=0, max_coverage=0.1)
>>> while not s.should_stop():
...     pts = s.suggest()
...     s.ingest(pts, truth[pts[:, 0], pts[:, 1]])
>>> round(s.coverage, 2), s.stop_reason
(0.1, 'coverage 10.0% reached max_coverage 10.0%')
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastscan import _update
from fastscan._channel_kernels import combined_features, idw_channels
from fastscan._validation import check_points, check_shape, read_only
from fastscan.channels import (
    NOISE_MODELS,
    channel_gains,
    channel_names,
    check_channels,
    check_readings,
    check_weights,
)
from fastscan.erd.estimator import ERDModel, load_model
from fastscan.features import analytic_rd, feature_radius, idw_estimate, slads_features
from fastscan.neighbors import OffsetTable, knn_gather
from fastscan.patterns import halton_points, serpentine_order
from fastscan.reconstruction import idw_reconstruction
from fastscan.route import MotionModel, plan_route
from fastscan.selection import TileMax, select_batch
from fastscan.stopping import StopRule

__all__ = ["CHANNEL_COMBINE", "Sampler"]

#: Ways the channels' information combines into one ERD (see :class:`Sampler`).
CHANNEL_COMBINE = ("features", "erd")

STATE_SCHEMA = "fastscan.sampler-state/1"
_CHUNK = 200_000  # pixels per block in a full recompute (bounds temporary memory)
_RESCALE_GROWTH = 1.25  # re-normalise intensities when the measured range grows this much


class Sampler:
    """SLADS-Net autonomous sampler on an (n_rows, n_cols) grid.

    Parameters
    ----------
    shape : (n_rows, n_cols)
        Grid size in pixels.
    batch_size : int
        Points per ERD batch returned by :meth:`suggest` (1 = point by point).
    initial_fraction : float
        Fraction of the grid in the initial low-discrepancy pattern, in (0, 1].
    model : ERDModel, path or None
        ERD model; None loads the one shipped with fastscan.
    seed : int or None
        Seed of the initial pattern and the route.
    max_coverage, erd_threshold, change_tolerance, patience :
        Stop rule, see :class:`fastscan.stopping.StopRule`.
    spread : float
        Batch de-clumping strength (0 gives FAST's plain top-n).
    k : int
        Neighbours for the reconstruction and features.
    tie_break : float
        Weight of an analytic RD estimate added to the model's ERD
        (:func:`fastscan.features.analytic_rd`). Small, so it only orders pixels
        the model cannot tell apart (a flat ERD late in a scan); 0 is FAST.
    motion : MotionModel or None
        Stage motion model for the route; None uses simultaneous unit-speed axes.
    pixel_pitch : (x_step, y_step)
        Motor distance between adjacent columns and rows, for the route.
    channels : int, list of str or None
        Number of detector channels (or their names, e.g. XRF elements). None:
        the first :meth:`ingest` decides (1-D readings are one channel, (n, C)
        readings C channels). See :mod:`fastscan.channels`.
    channel_weights : sequence of float or None
        Weight of each channel's ERD in the combined ERD; None is equal weights.
    noise : {"auto", "poisson", "none"}
        Noise model of the channel gate (:func:`fastscan.channels.channel_gains`):
        a channel of counting noise only does not drive the scan. Ignored for
        one channel.
    channel_combine : {"features", "erd"}
        How channels combine: "features" runs the ERD model once per pixel on
        gain-weighted root-mean-square intensity features (cost nearly flat in
        C); "erd" runs it per channel and sums the ERDs with the gains (C times
        the model cost, slightly better maps in the XRF benchmark).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        batch_size: int = 50,
        initial_fraction: float = 0.01,
        model: ERDModel | str | Path | None = None,
        seed: int | None = 0,
        max_coverage: float = 0.5,
        erd_threshold: float | None = None,
        change_tolerance: float | None = 0.005,
        patience: int = 10,
        spread: float = 0.5,
        k: int = 10,
        tie_break: float = 1e-3,
        motion: MotionModel | None = None,
        pixel_pitch: tuple[float, float] = (1.0, 1.0),
        channels: int | Sequence[str] | None = None,
        channel_weights: Sequence[float] | None = None,
        noise: str = "auto",
        channel_combine: str = "features",
    ) -> None:
        self.shape = check_shape(shape)
        n_pixels = self.shape[0] * self.shape[1]
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not 0.0 < initial_fraction <= 1.0:
            raise ValueError(f"initial_fraction must be in (0, 1], got {initial_fraction!r}")
        if int(k) != k or not 1 <= k <= 64:
            raise ValueError(f"k must be an integer in [1, 64], got {k!r}")
        if not np.isfinite(spread) or spread < 0:
            raise ValueError(f"spread must be a finite number >= 0, got {spread!r}")
        pitch = tuple(float(v) for v in pixel_pitch)
        if len(pitch) != 2 or not all(np.isfinite(v) and v > 0 for v in pitch):
            raise ValueError(f"pixel_pitch must be two positive numbers, got {pixel_pitch!r}")
        self.batch_size = int(batch_size)
        self.initial_fraction = float(initial_fraction)
        self.seed = seed
        self.spread = float(spread)
        self.k = int(k)
        if not np.isfinite(tie_break) or tie_break < 0:
            raise ValueError(f"tie_break must be a finite number >= 0, got {tie_break!r}")
        self.tie_break = float(tie_break)
        self.motion = motion
        self.pixel_pitch = pitch
        if noise not in NOISE_MODELS:
            raise ValueError(f"noise must be one of {NOISE_MODELS}, got {noise!r}")
        self.noise = noise
        self.channels = (
            channels if channels is None or isinstance(channels, int) else list(channels)
        )
        self.channel_weights = None if channel_weights is None else list(channel_weights)
        self._fixed_channels = check_channels(channels)
        if channel_combine not in CHANNEL_COMBINE:
            raise ValueError(
                f"channel_combine must be one of {CHANNEL_COMBINE}, got {channel_combine!r}"
            )
        self.channel_combine = channel_combine
        if channel_weights is not None:
            n_weights = len(self.channel_weights)
            if self._fixed_channels is None:
                self._fixed_channels = n_weights
            check_weights(self.channel_weights, self._fixed_channels)
        self.stop_rule = StopRule(
            max_coverage=max_coverage,
            erd_threshold=erd_threshold,
            change_tolerance=change_tolerance,
            patience=patience,
        )
        self.model = load_model(model)
        n_initial = min(n_pixels, max(int(round(initial_fraction * n_pixels)), 2 * self.k + 2))
        initial = halton_points(self.shape, n_initial, seed=seed)
        band = max(1, int(round(np.sqrt(n_pixels / n_initial))))
        self._initial = initial[serpentine_order(initial, band)]

        self._mask = np.zeros(self.shape, bool)
        self._counts = np.zeros(self.shape, np.int32)
        self._erd = np.full(self.shape, -1.0)
        self._dk = np.zeros(self.shape)
        self._touched = np.zeros(self.shape, bool)
        self._log_points: list[np.ndarray] = []
        self._log_values: list[np.ndarray] = []
        self._n_measured = 0
        self._active = False  # True once the ERD map exists
        self._allocate_channels(self._fixed_channels or 1)
        self._rho = feature_radius(self.shape)
        self._sparsity_area = self.model.sparsity_numerator(self.shape)
        self._table: OffsetTable | None = None
        self._tiles: TileMax | None = None

    def _allocate_channels(self, n_channels: int) -> None:
        """Per-channel state for ``n_channels`` channels (memory linear in C)."""
        self.n_channels = int(n_channels)
        self.channel_names = channel_names(self.channels, self.n_channels)
        self._weights = check_weights(self.channel_weights, self.n_channels)
        self._gains = np.ones(1) if self.n_channels == 1 else self._weights / self._weights.sum()
        self._values = np.zeros((self.n_channels, *self.shape))
        self._recon = np.zeros((self.n_channels, *self.shape))
        self._scale = np.ones(self.n_channels)
        self._ref_range = np.zeros(self.n_channels)
        self._value_min = np.full(self.n_channels, np.inf)
        self._value_max = np.full(self.n_channels, -np.inf)

    # ------------------------------------------------------------------ properties
    @property
    def reconstruction(self) -> np.ndarray:
        """Current IDW reconstruction in the readings' units (read-only).

        (H, W) float64 for one channel, (C, H, W) for C channels.
        """
        if not self._active and self._n_measured > 0:  # initial pattern not complete yet
            points = np.argwhere(self._mask)
            k = min(self.k, len(points))
            recon = np.stack(
                [idw_reconstruction(self.shape, points, v[self._mask], k=k) for v in self._values]
            )
            return recon[0] if self.n_channels == 1 else recon
        return read_only(self._recon[0] if self.n_channels == 1 else self._recon)

    @property
    def channel_gains(self) -> np.ndarray:
        """(C,) weight of each channel's ERD in the combined ERD (see :mod:`fastscan.channels`)."""
        return self._gains.copy()

    @property
    def erd(self) -> np.ndarray:
        """ERD of each pixel (0 where measured or before the initial pattern is done)."""
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
        values = np.concatenate(self._log_values)
        return values[:, 0] if self.n_channels == 1 else values

    @property
    def stop_reason(self) -> str | None:
        return self.stop_rule.reason

    # ------------------------------------------------------------------ decisions
    def suggest(self, n: int | None = None) -> np.ndarray:
        """Next points to measure, (n, 2) int64 (row, col) in route order.

        Until the initial pattern is measured, returns its remaining points (all of
        them unless ``n`` is given); afterwards a batch of ``n`` (default
        ``batch_size``) high-ERD pixels. Never a measured pixel or a repeat; an
        empty array once the stop rule fires or nothing is left. Calling it again
        without :meth:`ingest` returns the same points.
        """
        if n is not None and (int(n) != n or n < 0):
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        if self.should_stop():
            return np.zeros((0, 2), np.int64)
        if not self._active:
            pending = self._initial[~self._mask[self._initial[:, 0], self._initial[:, 1]]]
            return pending if n is None else pending[: int(n)]
        count = self.batch_size if n is None else int(n)
        n_cap = int(np.ceil(self.stop_rule.max_coverage * self._mask.size - 1e-9))
        count = min(count, n_cap - self._n_measured)  # never overshoot max_coverage
        batch = select_batch(
            self._tiles,
            self._mask,
            count,
            spread=self.spread,
            offsets=self._table.offsets,
            offset_dist=self._table.distances,
        )
        return batch[self._route(batch)]

    def _route(self, points: np.ndarray) -> np.ndarray:
        if len(points) < 2:
            return np.arange(len(points))
        x_step, y_step = self.pixel_pitch
        xy = np.stack([points[:, 1] * x_step, points[:, 0] * y_step], 1).astype(float)
        start = self.position
        start_xy = None if start is None else np.array([start[1] * x_step, start[0] * y_step])
        return plan_route(xy, start_xy, motion=self.motion, seed=self.seed)

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        """Add readings at (row, col) ``points``; repeats of a pixel are averaged.

        ``values`` is (n,) for one channel or (n, C) for C channels (one row per
        point). Raises ValueError (and changes nothing) for a point outside the
        grid, a non-finite reading or a wrong number of channels.
        """
        points = check_points(points, self.shape)
        if len(points) == 0 and np.size(values) == 0:
            return
        decided = self._log_points or self._fixed_channels is not None
        values = check_readings(values, len(points), self.n_channels if decided else None)
        if len(points) == 0:
            return
        if not self._log_points and values.shape[1] != self.n_channels:
            self._allocate_channels(values.shape[1])  # the first reading decides C
        self._log_points.append(points.copy())
        self._log_values.append(values.copy())
        self._apply(points, values)

    def should_stop(self) -> bool:
        """True once the stop rule fires; :attr:`stop_reason` says why."""
        max_erd = None
        if self._active and self._tiles is not None:
            max_erd = float(max(self._tiles.maxima.max(), 0.0))
        return self.stop_rule.check(
            coverage=self.coverage, n_left=self._mask.size - self._n_measured, max_erd=max_erd
        )

    # ------------------------------------------------------------------ internals
    def _apply(self, points: np.ndarray, values: np.ndarray) -> None:
        new: list[tuple[int, int]] = []
        for (r, c), v in zip(points.tolist(), values):
            count = self._counts[r, c] + 1
            self._counts[r, c] = count
            self._values[:, r, c] += (v - self._values[:, r, c]) / count
            if count == 1:
                self._mask[r, c] = True
                new.append((r, c))
        self._n_measured += len(new)
        self._value_min = np.minimum(self._value_min, values.min(0))
        self._value_max = np.maximum(self._value_max, values.max(0))
        new_points = np.array(new, np.int64).reshape(-1, 2)
        if not self._active:
            rows, cols = points[:, 0], points[:, 1]
            self._recon[:, rows, cols] = self._values[:, rows, cols]
            if self._mask[self._initial[:, 0], self._initial[:, 1]].all():
                self._full_update()
            return
        if self._needs_rescale():
            self._full_update()
            return
        change = self._local_update(new_points, points)
        value_range = self._value_max - self._value_min
        relative = np.divide(change, value_range, out=np.zeros_like(change), where=value_range > 0)
        self.stop_rule.record_change(float(self._gains @ relative), len(points))

    def _needs_rescale(self) -> bool:
        value_range = self._value_max - self._value_min
        return bool(np.any(value_range > _RESCALE_GROWTH * self._ref_range))

    def _full_update(self) -> None:
        """Recompute reconstruction, neighbours, channel gains and ERD of every pixel."""
        self._ref_range = self._value_max - self._value_min
        # map each channel's measured range to the [0, 100] the model was trained on
        # (guard a near-constant channel: a range below 1e-200 would overflow the scale)
        self._scale = np.where(
            self._ref_range > 1e-200, 100.0 / np.maximum(self._ref_range, 1e-200), 1.0
        )
        if self.n_channels > 1:
            self._gains = channel_gains(self._values[:, self._mask].T, self._weights, self.noise)
        self._table = OffsetTable(OffsetTable.radius_for(self.shape, self._n_measured, self.k))
        self._recon[:, self._mask] = self._values[:, self._mask]
        self._erd[self._mask] = -1.0
        pixels = np.argwhere(~self._mask)
        for start in range(0, len(pixels), _CHUNK):
            self._update_recon(pixels[start : start + _CHUNK])
        for start in range(0, len(pixels), _CHUNK):
            self._update_erd(pixels[start : start + _CHUNK])
        self._tiles = TileMax(self._erd)
        self._active = True

    def _update_recon(self, pixels: np.ndarray) -> tuple[np.ndarray, ...]:
        nbr = knn_gather(self._mask, pixels, self.k, self._table)
        if self.n_channels == 1:
            self._recon[0, pixels[:, 0], pixels[:, 1]] = idw_estimate(self._values[0], *nbr)
        else:
            idw_channels(self._values, self._recon, pixels, *nbr)
        self._dk[pixels[:, 0], pixels[:, 1]] = nbr[2][:, -1]
        return nbr

    def _update_erd(self, pixels: np.ndarray, nbr: tuple[np.ndarray, ...] | None = None) -> None:
        if nbr is None:
            nbr = knn_gather(self._mask, pixels, self.k, self._table)
        if self.n_channels > 1 and self.channel_combine == "features":
            # one virtual channel: gain-weighted root-mean-square intensity features
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
        erd = self.model.predict(features)  # a new float64 array: safe to add to in place
        if self.tie_break > 0:
            erd += self.tie_break * analytic_rd(features)
        if len(erd) > len(pixels):  # one ERD per channel, summed with the gains
            erd = self._gains[used] @ erd.reshape(len(used), len(pixels))
        self._erd[pixels[:, 0], pixels[:, 1]] = erd

    def _local_update(self, new_points: np.ndarray, all_points: np.ndarray) -> np.ndarray:
        """Update only what the new points can change; returns the (C,) L1 recon change."""
        rows, cols = all_points[:, 0], all_points[:, 1]
        change = np.array(
            [
                _update.scatter(recon, all_points, values[rows, cols])
                for values, recon in zip(self._values, self._recon)
            ]
        )
        if len(new_points) == 0:
            return change
        self._erd[new_points[:, 0], new_points[:, 1]] = -1.0
        max_ring = int(self._table.radius) + 2
        affected = _update.affected_pixels(
            self._mask, self._dk, new_points, self._touched, max_ring
        )
        region = _update.dilate_unmeasured(
            self._mask, np.concatenate([affected, new_points]), self._touched
        )
        if len(region):
            old = self._recon[:, region[:, 0], region[:, 1]]  # fancy indexing: a copy
            nbr = self._update_recon(region)
            change += np.abs(self._recon[:, region[:, 0], region[:, 1]] - old).sum(1)
            self._update_erd(region, nbr)
        self._tiles.refresh(np.concatenate([region, new_points]))
        return change

    # ------------------------------------------------------------------ persistence
    def get_params(self) -> dict[str, Any]:
        rule = self.stop_rule
        return {
            "shape": list(self.shape),
            "batch_size": self.batch_size,
            "initial_fraction": self.initial_fraction,
            "seed": self.seed,
            "max_coverage": rule.max_coverage,
            "erd_threshold": rule.erd_threshold,
            "change_tolerance": rule.change_tolerance,
            "patience": rule.patience,
            "spread": self.spread,
            "k": self.k,
            "tie_break": self.tie_break,
            "pixel_pitch": list(self.pixel_pitch),
            "channels": self.channels,
            "channel_weights": self.channel_weights,
            "noise": self.noise,
            "channel_combine": self.channel_combine,
        }

    def save(self, path: str | Path) -> Path:
        """Write the whole state (settings, model, every reading in order) to an .npz file.

        The file is written to a temporary name and renamed, so a crash never
        leaves a half-written state behind.
        """
        path = Path(path)
        header = {
            "schema": STATE_SCHEMA,
            "params": self.get_params(),
            "motion": None if self.motion is None else dataclasses.asdict(self.motion),
            "batches": [len(p) for p in self._log_points],
        }
        arrays = {
            "header": np.array(json.dumps(header)),
            "points": self.measured_points,
            "values": np.concatenate(self._log_values) if self._log_values else np.zeros((0, 1)),
            "initial": self._initial,
        }
        arrays.update({f"model/{k}": v for k, v in self.model.to_arrays().items()})
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Sampler:
        """Rebuild a sampler from :meth:`save`; it continues exactly where it stopped."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"sampler state file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                points, values, initial = data["points"], data["values"], data["initial"]
                model_arrays = {
                    k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("model/")
                }
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{path} is not a fastscan sampler state file ({exc})") from None
        if header.get("schema") != STATE_SCHEMA:
            raise ValueError(
                f"{path} has state schema {header.get('schema')!r}; "
                f"this fastscan reads {STATE_SCHEMA!r}"
            )
        params = dict(header["params"])
        shape = tuple(params.pop("shape"))
        params["pixel_pitch"] = tuple(params["pixel_pitch"])
        motion = header.get("motion")
        sampler = cls(
            shape,
            model=ERDModel.from_arrays(model_arrays, source=str(path)),
            motion=None if motion is None else MotionModel(**motion),
            **params,
        )
        sampler._initial = initial.astype(np.int64)
        for chunk_points, chunk_values in zip(
            np.split(points, np.cumsum(header["batches"])[:-1]),
            np.split(values, np.cumsum(header["batches"])[:-1]),
        ):
            sampler.ingest(chunk_points, chunk_values)
        return sampler

    def __repr__(self) -> str:
        return (
            f"Sampler(shape={self.shape}, batch_size={self.batch_size}, "
            f"measured={self._n_measured}, coverage={self.coverage:.1%})"
        )
