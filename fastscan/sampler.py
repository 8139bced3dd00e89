"""The decision engine: which pixel to measure next, with no I/O.

A :class:`Sampler` first hands out a quasi-random initial pattern (scrambled
Halton, ``initial_fraction`` of the grid, in a serpentine route). Once all but a
tail of them are measured (:data:`ACTIVATION_TAIL`, so this full update runs while the
tail is measured) it keeps, for every unmeasured pixel, an IDW reconstruction and the ERD
predicted by the SLADS-Net model; each :meth:`Sampler.ingest` updates both exactly,
but only where a changed reading (a new point or a re-measured one) reaches a
pixel's neighbourhood, so a step costs in
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

import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# (noqa F401: the mixins split off from this module read DEFAULT_MODEL, MAX_SIDE and plan_route
# from it at call time, as tests and benchmarks patch them; the other names stay importable
# from here as before the split)
from fastscan import _prepared_update, _readings, _row_merge, _sampler_state, _threads, _update  # noqa: F401
from fastscan._batch_choice import BatchChoice
from fastscan._change_kernels import change_units, keep_first  # noqa: F401
from fastscan._change_record import ChangeRecord
from fastscan._channel_kernels import combined_features, idw_channels  # noqa: F401
from fastscan._initial_pattern import InitialPattern, _halton_on_lattice  # noqa: F401
from fastscan._late_switch import LateSwitch
from fastscan._lattice import lattice_levels, snap_to_lattice  # noqa: F401
from fastscan._model_choice import ModelChoice
from fastscan._neighbor_lists import NeighborLists
from fastscan._sampler_erd import PixelErd
from fastscan._sampler_neighbors import NeighborPlumbing
from fastscan._sampler_updates import ExactUpdates
from fastscan._sampler_views import ReadingViews
from fastscan._settable import Settable, SettableMeta
from fastscan._stop_knobs import STOP_KNOBS, StopKnobs
from fastscan._structure import (
    LATTICE_LEVELS,  # noqa: F401
    shape_erd,  # noqa: F401
    shaping,  # noqa: F401
    structure_levels,  # noqa: F401
)
from fastscan._validation import check_points, check_shape, read_only  # noqa: F401
from fastscan.channels import (
    NOISE_MODELS,
    channel_gains,  # noqa: F401
    channel_names,
    check_channels,
    check_readings,
    check_weights,
    count_channels,  # noqa: F401
    noise_change,  # noqa: F401
)
from fastscan.erd.estimator import (
    _PREDICT_ROWS,  # noqa: F401
    DEFAULT_MODEL,  # noqa: F401
    ERDModel,
    _single_thread_blas,  # noqa: F401
    load_model,
)
from fastscan.erd.floor import AUTO as AUTO_FLOOR
from fastscan.erd.floor import (
    apply_floor,  # noqa: F401
    check_floor,
    flat_surprise_level,
    model_error_power,
)
from fastscan.erd.noise_cost import net_of_count_noise  # noqa: F401
from fastscan.features import (
    add_analytic_rd,  # noqa: F401
    analytic_rd,  # noqa: F401
    feature_radius,
    idw_estimate,  # noqa: F401
    slads_features,  # noqa: F401
)
from fastscan.neighbors import MAX_SIDE, CellIndex, OffsetTable, table_knn  # noqa: F401
from fastscan.patterns import halton_points, serpentine_order  # noqa: F401
from fastscan.reconstruction import idw_reconstruction  # noqa: F401
from fastscan.route import MotionModel, plan_route  # noqa: F401
from fastscan.selection import TileMax, select_batch, select_batch_motion  # noqa: F401
from fastscan.stopping import StopRule

__all__ = ["ACTIVATION_TAIL", "CHANNEL_COMBINE", "Sampler"]

#: Ways the channels' information combines into one ERD (see :class:`Sampler`).
CHANNEL_COMBINE = ("features", "erd")

DEFAULT_MOTION_WEIGHT = 3.0  # motion-aware batches when a motion model is given
DEFAULT_CONTRAST = 0.0  # structure-adaptive ERD shaping (fastscan._structure)
DEFAULT_FILL = 2.0
DEFAULT_LATTICE = 3.0
DEFAULT_HEDGE = 0.0  # share of the lattice weight dropped on varying textures (opt-in)
#: initial pattern: "halton" (scrambled, seeded) or "halton-lattice" (those points moved to the
#: nearest pixel of the 5 % raster lattice; opt-in, see the README's texture section)
INITIAL_PATTERNS = ("halton", "halton-lattice")
DEFAULT_INITIAL_PATTERN = "halton"
#: shipped model of a multichannel scan given no ``model``: the L1-target "default", with which
#: the XRF settings were chosen ("l2" raised the element maps' worst channel ratio at 10 % from
#: 0.778 to 0.963, ``python benchmarks/bench_xrf.py --only quality``)
MULTICHANNEL_MODEL = "default"
#: shipped model of a one-channel scan given no ``model`` once the structure level turns the
#: texture lattice on (``_structure.shaping``): the L1-target "default", with which ``fill``
#: and ``lattice`` were tuned; elsewhere :data:`DEFAULT_MODEL
#: <fastscan.erd.estimator.DEFAULT_MODEL>` (docs/erd-model.md, "A blended ERD and the texture
#: model")
TEXTURE_MODEL = "default"
#: shipped model a one-channel scan given no ``model`` and outside the texture band switches
#: to once its coverage reaches :data:`LATE_COVERAGE` (one full ERD update at the switch;
#: docs/erd-model.md, "A late model switch"); the floor level measured at activation is kept
LATE_MODEL = "l1+l2"
#: coverage of the late switch to :data:`LATE_MODEL`; None: no switch (the scans before it).
#: 0.15: a switch at 10 % lost 3.9 % on Hubble at 30 % (issue 12's validation rule: 3 %)
LATE_COVERAGE: float | None = 0.15
#: no late switch where the exploration floor's level (``erd_floor``; "auto" measures it from
#: the initial pattern) is at least this: the pattern found isolated objects on a flat
#: background, which the L1 model keeps exploring for and the blend's L2 half chases less
#: (docs/erd-model.md, "A late model switch"); measured (seeds 0-4): blobs 0.42-2.2, xrf-ti-1000
#: 0.07-0.44, xrf-cu-1003 0.13 or less, every other validation image 0.08 or less
LATE_MAX_FLOOR = 0.2
#: a shadow ERD map of :data:`LATE_MODEL` is made from the first batch suggested at or past
#: ``LATE_COVERAGE - LATE_PREPARE_MARGIN`` on, a band of rows (about ``_SHADOW_PIXELS``
#: pixels) with each part of an ingest (each reading when they come one by one; not the
#: part that completes a suggested batch unless it holds other readings), and kept exact
#: by every update, so the switch only swaps it in (docs/erd-model.md, "A late model switch");
#: None: the switch makes it (a full pass)
LATE_PREPARE_MARGIN: float | None = 0.01
#: the ERD's noise cost of a scan given ``noise_cost=None``: from the late switch
#: (:data:`LATE_COVERAGE`) on, a one-channel scan of low Poisson counts (``_counting``, a
#: measured range of at most ``COUNT_NOISE_MAX_RANGE`` counts: a reading at its top has a
#: noise of 1 % of it or more) scores each pixel by its ERD net of the noise its raw reading
#: brings, this many times ``scale * sqrt(counts)``
#: (:func:`fastscan.erd.noise_cost.net_of_count_noise`; docs/erd-model.md, "Noisy low
#: counts"); 0: none (the scans before it). Chosen on the noisy validation set (22 -> 26 of
#: 32 cells at or below the best static pattern); from the first ERD map on it won 28 but
#: lost 7 % on the Poisson XRF maps' Au with ``fast-sum`` at 10 %
COUNT_NOISE_COST = 2.0
COUNT_NOISE_MAX_RANGE = 1e4
_SHADOW_PIXELS = 8192  # about 4 ms of the blend's ERD a band (0.5 us a pixel)
#: exploration floor under the ERD (:mod:`fastscan.erd.floor`), in [0, 100] intensity units;
#: "auto" measures it from the initial pattern (0 on textures and photographs; docs/erd-model.md,
#: "Sparse particles: a measured exploration floor")
DEFAULT_ERD_FLOOR = "auto"
_CHUNK = 200_000  # pixels per block in a full recompute (bounds temporary memory)
_RESCALE_GROWTH = 1.25  # re-normalise intensities when the measured range grows this much
_CHANGE_UNITS = float(2**30)  # the stop rule's change is summed in 2**-30 of the range
_DK_TILE = 16  # tile side of the d_k upper bounds that limit the affected-pixel search
_CELL_DENSITY = 0.03  # below this coverage local updates find neighbours with a CellIndex
# stored neighbour lists (2 k + 1 bytes a pixel) turn a local update's neighbour search
# into a merge; kept for k up to this (33 bytes a pixel, about four float64 grids)
_LISTS_MAX_K = 16
# route effort per batch: n kicks (plan_route's default is 150 + 2 n). On ERD batches of 50
# at 1-4 % coverage of the WSe2 image the moves take 0.2-0.6 % longer than with 50 + 2 n
# kicks (the setting before) and the route costs 1.1 ms less of a decision's ~10 ms
# (``python benchmarks/bench_latency.py --route``)
_ROUTE_KICKS_MIN = 0
_ROUTE_KICKS_PER_POINT = 1
# the local update's Numba kernels are loaded from the cache on their first call, which
# made a process's first step decision after the initial pattern 30-35 ms slower (WSe2,
# 600 x 400); the first activation loads them with a small scan of its own (_warm_up)
_WARM_SHAPE = (48, 40)
_warm = False
#: share of the initial pattern still to come when the ERD map is made (the activation,
#: a full update of every pixel): the rest of the pattern arrives by local updates, so the
#: full update runs while those readings are measured, not after the last one. A full
#: update costs about 0.9 us a grid pixel (215 ms at 600 x 400, 3.5 s at 2048**2); at the
#: default 1 % initial pattern the tail is 120 readings at 600 x 400 and 2097 at 2048**2,
#: which even at the cheapest step reading (25 ms overhead + 10 ms settle + 1 ms dwell)
#: is 4.3 s and 75 s of beam time: 20 times the full update's cost. The tail is at
#: least one reading and never more than leaves ``k + 1`` points for the full update.
ACTIVATION_TAIL = 0.05


#: lattice level the "halton-lattice" initial pattern is moved onto (0: the 5 % raster)
INITIAL_SNAP_LEVEL = 0


class Sampler(
    InitialPattern,
    ReadingViews,
    BatchChoice,
    ExactUpdates,
    PixelErd,
    NeighborPlumbing,
    LateSwitch,
    ModelChoice,
    ChangeRecord,
    StopKnobs,
    Settable,
    metaclass=SettableMeta,
):
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
        ERD model; None loads the shipped default: :data:`DEFAULT_MODEL
        <fastscan.erd.estimator.DEFAULT_MODEL>` ("default", the L1 RD target) for
        one channel, :data:`MULTICHANNEL_MODEL` ("default", with which the XRF
        settings were chosen) for several, whatever the one-channel default, and
        :data:`TEXTURE_MODEL` ("default") for one channel whose structure level
        turns the texture lattice on (decided once, when the initial pattern is in);
        such a one-channel scan outside the texture band changes to
        :data:`LATE_MODEL` ("l1+l2") at coverage :data:`LATE_COVERAGE` (15 %) unless
        its floor level is :data:`LATE_MAX_FLOOR` or more.
    seed : int or None
        Seed of the initial pattern and the route.
    max_coverage, erd_threshold, change_tolerance, patience :
        Stop rule, see :class:`fastscan.stopping.StopRule`. Also attributes:
        ``sampler.max_coverage = 0.3`` changes the rule (checked as here), e.g. to
        continue a scan that stopped at its cap.
        Any other setting set after construction (``sampler.k = 5`` or
        ``sampler.set_params(k=5)``) takes effect as if given here before the first
        reading, and is refused (ValueError naming it) once readings are in
        (:mod:`fastscan._settable`).
    spread : float
        Batch de-clumping strength (0 gives FAST's plain top-n).
    k : int
        Neighbours for the reconstruction and features.
    tie_break : float
        Weight of an analytic RD estimate added to the model's ERD
        (:func:`fastscan.features.analytic_rd`). Small, so it only orders pixels
        the model cannot tell apart (a flat ERD late in a scan); 0 is FAST.
    motion : MotionModel or None
        Beam-time model (:mod:`fastscan.motion`) for the route and, with
        ``motion_weight``, the batch choice; None uses simultaneous unit-speed axes
        for the route and chooses batches by ERD alone.
    pixel_pitch : (x_step, y_step)
        Motor distance between adjacent columns and rows, for the route.
    channels : int, list of str or None
        Number of detector channels (or their names, e.g. XRF elements). None:
        the first :meth:`ingest` decides (1-D readings are one channel, (n, C)
        readings C channels). See :mod:`fastscan.channels`.
    channel_weights : sequence of float or None
        Weight of each channel in the combined ERD; None is equal weights.
    noise : {"auto", "poisson", "none"}
        Noise model of the channel gate (:func:`fastscan.channels.channel_gains`):
        a channel of counting noise only does not drive the scan. Ignored for
        one channel.
    channel_combine : {"features", "erd"}
        How channels combine: "features" runs the ERD model once per pixel on
        a power mean of the gain-scaled intensity features, with counting noise
        removed from count channels (:mod:`fastscan.channels`; cost nearly flat in
        C); "erd" runs it per channel and averages the ERDs with the gains (C times
        the model cost; the counting-noise floor and the power mean are "features" only).
    motion_weight : float
        Motion-aware batches (used only with a ``motion`` model): each pick
        maximises ERD / (settle + point overhead + dwell + ``motion_weight`` *
        travel from the previous pick), so a batch grows as a path from the stage
        (:func:`fastscan.selection.select_batch_motion`). 0 is the ERD-only choice
        (best quality per point); the default minimises beam time to quality
        under the model (``benchmarks/bench_beamtime.py``).
    contrast, fill, lattice : float
        Structure-adaptive ERD shaping (:mod:`fastscan._structure`): the ERD is
        multiplied by ``f_1 ** a * d_1 ** b * 2 ** (-c * level)`` (neighbour
        deviation, nearest-sample distance, the pixel's level in a nested lattice
        hierarchy whose 5 % level is the step raster) with ``a = contrast * t``,
        ``b = fill * (1 - t)`` and ``c = lattice * (1 - t)``, where
        ``t`` in [0, 1] says how concentrated the image's edges are (1: sparse
        structure, 0: texture everywhere), measured once from the initial
        pattern. Sparse
        scenes then chase large deviations (a squared-error ERD), textures spread
        like a raster, then farthest-point. ``contrast = fill = lattice = 0`` is the plain ERD
        (FAST); the ERD map and ``erd_threshold`` are in the shaped units.
    initial_pattern : {"halton", "halton-lattice"}
        "halton" (default): the scrambled Halton pattern. "halton-lattice": the
        same points moved to the nearest pixel of the 5 % raster lattice (distinct,
        still seeded), so a texture scan can later be exactly that lattice; opt-in
        (on validation it helps texture from 10 % on but costs at 5 % and on
        sparse scenes, see the README).
    erd_floor : float or "auto"
        Exploration floor (:mod:`fastscan.erd.floor`): each pixel's ERD is at
        least the RD the model's target gives a uniform error of ``erd_floor``
        (in the model's [0, 100] intensity units) at the pixel's distance to the
        nearest sample, so a flat background where the model sees nothing is
        still explored, farthest pixel first. 0 turns it off. Applied before the
        structure shaping. "auto": the level is measured once from the initial
        pattern (:func:`fastscan.erd.floor.flat_surprise_level`: how wrong a
        prediction from agreeing neighbours turned out to be); 0 where no such
        context hides anything (textures, photographs).
    hedge : float
        In [0, 1]: the share of the lattice exponent dropped on textures whose edge
        energy varies across the image (:func:`fastscan._structure.energy_variation`,
        measured once from the initial pattern); stationary textures and sparse
        scenes keep their picks. 0 (default) is off: on validation it helps natural
        photographs at 5-20 % but costs other varying textures at 10 % (README).
    noise_cost : float or None
        Weight of the counting noise a raw reading brings: from the late switch on,
        a one-channel scan of low Poisson counts (a measured range of at most
        :data:`COUNT_NOISE_MAX_RANGE` counts) scores each pixel by its ERD minus this
        times the reading's noise in the model's units
        (:func:`fastscan.erd.noise_cost.net_of_count_noise`). None (default) is
        :data:`COUNT_NOISE_COST` (2); 0 is off. Noise-free scans, higher counts,
        several channels and scans without the late switch (a given ``model``) are
        never changed.
    """

    LIVE_KNOBS = frozenset(STOP_KNOBS)

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
        motion_weight: float = DEFAULT_MOTION_WEIGHT,
        contrast: float = DEFAULT_CONTRAST,
        fill: float = DEFAULT_FILL,
        lattice: float = DEFAULT_LATTICE,
        initial_pattern: str = DEFAULT_INITIAL_PATTERN,
        erd_floor: float | str = DEFAULT_ERD_FLOOR,
        hedge: float = DEFAULT_HEDGE,
        noise_cost: float | None = None,
    ) -> None:
        self.shape = check_shape(shape)
        if not (np.isfinite(motion_weight) and motion_weight >= 0):
            raise ValueError(f"motion_weight must be a finite number >= 0, got {motion_weight!r}")
        self.motion_weight = float(motion_weight)
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
        if initial_pattern not in INITIAL_PATTERNS:
            raise ValueError(
                f"initial_pattern must be one of {INITIAL_PATTERNS}, got {initial_pattern!r}"
            )
        self.initial_pattern = initial_pattern
        self.seed = seed
        self.spread = float(spread)
        self.k = int(k)
        if not np.isfinite(tie_break) or tie_break < 0:
            raise ValueError(f"tie_break must be a finite number >= 0, got {tie_break!r}")
        self.tie_break = float(tie_break)
        self.erd_floor = check_floor(erd_floor)
        # the level the floor applies ("auto": measured with the structure level, 0 until then)
        self._floor_level = 0.0 if self.erd_floor == AUTO_FLOOR else float(self.erd_floor)
        # "auto": how the level is measured at activation, (points, values, k, power=) -> level;
        # a composing sampler whose initial pattern is not scattered sets its own
        self._floor_measure: Callable[..., float] = flat_surprise_level
        for name, value in (("contrast", contrast), ("fill", fill), ("lattice", lattice)):
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        self.contrast = float(contrast)
        self.fill = float(fill)
        self.lattice = float(lattice)
        if not (np.isfinite(hedge) and 0.0 <= hedge <= 1.0):
            raise ValueError(f"hedge must be a number in [0, 1], got {hedge!r}")
        self.hedge = float(hedge)
        if noise_cost is not None and not (np.isfinite(noise_cost) and noise_cost >= 0.0):
            raise ValueError(f"noise_cost must be None or a finite number >= 0, got {noise_cost!r}")
        self.noise_cost = None if noise_cost is None else float(noise_cost)
        self._variation = 0.0  # edge-energy variation of the initial pattern (_structure)
        self._gini = 0.0  # structure level of the initial pattern (fastscan._structure)
        self._exponents = (0.0, 0.0)
        self._lattice_power = 0.0
        self._counting = False  # the initial pattern's readings were Poisson counts
        self._levels: np.ndarray | None = None  # lattice level of each pixel (made when used)
        self.motion = motion
        self.pixel_pitch = pitch
        if noise not in NOISE_MODELS:
            raise ValueError(f"noise must be one of {NOISE_MODELS}, got {noise!r}")
        if channel_combine not in CHANNEL_COMBINE:
            raise ValueError(
                f"channel_combine must be one of {CHANNEL_COMBINE}, got {channel_combine!r}"
            )
        self.noise = noise
        self.channel_combine = channel_combine
        self._fixed_channels = check_channels(channels)
        self.channels = (
            channels if channels is None or isinstance(channels, int) else list(channels)
        )
        self.channel_weights = None if channel_weights is None else list(channel_weights)
        if channel_weights is not None:
            if self._fixed_channels is None:
                self._fixed_channels = len(self.channel_weights)
            check_weights(self.channel_weights, self._fixed_channels)
        self.stop_rule = StopRule(
            max_coverage=max_coverage,
            erd_threshold=erd_threshold,
            change_tolerance=change_tolerance,
            patience=patience,
        )
        self._model_default = model is None  # the shipped default for the channel count
        self._late_done = False  # the switch to LATE_MODEL happened (see _late_switch)
        # LATE_MODEL's ERD map, kept exact from its preparation to the switch (_late_prepare)
        self._shadow: np.ndarray | None = None
        self._shadow_model: ERDModel | None = None
        self._shadow_due = False  # start the shadow with the next reading
        self._shadow_rows = 0  # rows [0, _shadow_rows) of the shadow are made
        self._shadow_tiles: TileMax | None = None  # its tile maxima, once every row is made
        multichannel = (self._fixed_channels or 1) > 1
        self.model = load_model(MULTICHANNEL_MODEL if multichannel and model is None else model)
        self._error_power = model_error_power(self.model)
        self._initial_points: np.ndarray | None = None  # made on first use (see _initial)
        self._initial_flat: np.ndarray | None = None  # its distinct flat pixels, sorted
        self._complete = False  # every initial pixel measured (cached once True)

        self._mask = np.zeros(self.shape, bool)
        self._counts = np.zeros(self.shape, np.int32)
        self._erd = np.full(self.shape, -1.0)
        self._dk = np.zeros(self.shape)  # k-th neighbour distance (0 where measured)
        self._dk_tile = _DK_TILE
        self._dk_max = np.zeros((-(-self.shape[0] // _DK_TILE), -(-self.shape[1] // _DK_TILE)))
        self._touched = np.zeros(self.shape, bool)
        # the geometry of the next update, made before its readings (prepare_update)
        self._prepared: _prepared_update.PreparedMerge | None = None
        self._log_points: list[np.ndarray] = []
        self._log_values: list[np.ndarray] = []
        self._n_measured = 0
        self._active = False  # True once the ERD map exists
        # the change rule's memory of the batch in progress (see _record_change)
        self._batch_flat: np.ndarray | None = None  # the suggested batch, until all are in
        self._stamp = np.zeros(self.shape, np.int32)  # == _stamp_id: old value kept
        self._stamp_id = 1
        self._pending_flat: list[np.ndarray] = []  # pixels whose reconstruction may change
        self._pending_old: list[np.ndarray] = []  # (C, m) their values before the batch
        self._pending_new: list[np.ndarray] = []  # new points (the counting-noise floor)
        self._pending_readings = 0
        self._pending_full = False  # a full update (rescale) in the batch: not recorded
        self._allocate_channels(self._fixed_channels or 1)
        self._rho = feature_radius(self.shape)
        self._sparsity_area = self.model.sparsity_numerator(self.shape)
        self._table: OffsetTable | None = None
        self._tiles: TileMax | None = None
        self._cells: CellIndex | None = None  # sparse-scan k-NN index (derived from the mask)
        self._cells_built_at = 0
        self._lists: NeighborLists | None = None  # derived from the mask (made on first use)

    def _allocate_channels(self, n_channels: int) -> None:
        """Per-channel state for ``n_channels`` channels (memory linear in C).

        ``_sums`` (reading sums), ``_values`` (their means where measured) and
        ``_recon`` are (C, H, W); ``_scale``, ``_ref_range``, ``_value_min`` and
        ``_value_max`` are (C,).
        """
        self.n_channels = int(n_channels)
        self.channel_names = channel_names(self.channels, self.n_channels)
        self._weights = check_weights(self.channel_weights, self.n_channels)
        self._gains = np.ones(1) if self.n_channels == 1 else self._weights / self._weights.sum()
        self._count_channels = np.zeros(self.n_channels, bool)  # Poisson channels (stop rule)
        self._sums = np.zeros((self.n_channels, *self.shape))
        self._values = np.zeros((self.n_channels, *self.shape))
        self._recon = np.zeros((self.n_channels, *self.shape))
        self._scale = np.ones(self.n_channels)
        self._ref_range = np.zeros(self.n_channels)
        self._value_min = np.full(self.n_channels, np.inf)
        self._value_max = np.full(self.n_channels, -np.inf)

    # ------------------------------------------------------------------ properties
    @property
    def activation_count(self) -> int:
        """Initial-pattern pixels measured when the ERD map is made (see ACTIVATION_TAIL).

        Examples
        --------
        >>> s = Sampler((100, 100), initial_fraction=0.02)
        >>> s.activation_count  # 200 initial points, the last 10 by local updates
        190
        """
        n = len(self._initial_pixels())
        tail = max(1, int(np.ceil(ACTIVATION_TAIL * n)))
        return max(n - tail, min(n, self.k + 1))

    # ------------------------------------------------------------------ decisions
    def suggest(self, n: int | None = None) -> np.ndarray:
        """Next points to measure, (n, 2) int64 (row, col) in route order.

        Until the initial pattern is measured, returns its remaining points (all of
        them unless ``n`` is given; also once the ERD map exists, see
        :attr:`activation_count`); afterwards a batch of ``n`` (default
        ``batch_size``) high-ERD pixels. Never a measured pixel or a repeat; an
        empty array once the stop rule fires or nothing is left. Calling it again
        without :meth:`ingest` returns the same points.
        """
        if n is not None and (int(n) != n or n < 0):
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        self._record_change()  # a batch not all measured counts as it is
        self._batch_flat = None
        self._prepared = None
        if self.should_stop():
            return np.zeros((0, 2), np.int64)
        if not self.initial_complete:
            pending = self._initial[~self._mask[self._initial[:, 0], self._initial[:, 1]]]
            return pending if n is None else pending[: int(n)]
        if self._late_switch_due():
            self._late_switch()
        elif self._shadow is None and self._late_prepare_due():
            self._shadow_due = True  # from this batch's readings on (see _late_prepare)
        count = self.batch_size if n is None else int(n)
        n_cap = int(np.ceil(self.stop_rule.max_coverage * self._mask.size - 1e-9))
        count = min(count, n_cap - self._n_measured)  # never overshoot max_coverage
        batch = self._select(count)
        if len(batch):
            self._batch_flat = batch[:, 0] * self.shape[1] + batch[:, 1]
        return batch[self._route(batch)]

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        """Add readings at (row, col) ``points``; repeats of a pixel are averaged.

        ``values`` is (n,) for one channel or (n, C) for C channels (one row per
        point; the first reading fixes C unless ``channels`` did). The readings
        are applied in order, in parts cut after each reading that makes the ERD
        map, completes the initial pattern or grows a channel's measured range
        past 1.25 times the one the intensity scale came from (a rescale), so a
        scan is the same whether its readings come one at a time or in batches. Raises
        ValueError (and changes nothing) for a point outside the grid, a
        non-finite reading or a wrong number of channels.
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
            self._default_model_for_channels()
        self._log_points.append(points.copy())
        self._log_values.append(values[:, 0].copy() if self.n_channels == 1 else values.copy())
        self._apply(points, values)
        if self._batch_flat is None:  # readings nobody suggested: one batch per call
            self._record_change()

    def should_stop(self) -> bool:
        """True once the stop rule fires; :attr:`stop_reason` says why."""
        max_erd = None
        if self._active and self._tiles is not None and self.initial_complete:
            max_erd = float(max(self._tiles.maxima.max(), 0.0))
        return self.stop_rule.check(
            coverage=self.coverage, n_left=self._mask.size - self._n_measured, max_erd=max_erd
        )

    # ------------------------------------------------------------------ internals
    def prepare_update(self, points: np.ndarray) -> bool:
        """Make the geometry of the exact update for new readings at ``points`` now,
        before they arrive (:mod:`fastscan._prepared_update`).

        A fly scan calls this while a planned segment flies. If the next ingest reads
        exactly these points (each once, none measured before) and nothing else
        changed the sampler in between, its update skips the affected-pixel search and
        the list merge; otherwise it runs as always. The scan is the same either way.
        Returns True if something was prepared.

        Examples
        --------
        >>> import numpy as np
        >>> s = Sampler((40, 40), seed=0)
        >>> pts = s.suggest(); s.ingest(pts, np.ones(len(pts)))
        >>> line = np.array([[20, c] for c in range(40) if not s.measured_mask[20, c]])
        >>> s.prepare_update(line)
        True
        >>> s.ingest(line, np.ones(len(line)))  # (the same bits as without the call)
        """
        self._prepared = None
        lists = self._lists
        if not self._active or lists is None:
            return False
        self._prepared = _prepared_update.prepare_merge(
            lists, self._mask, self._dk, self._dk_max, self._dk_tile,
            check_points(points, self.shape), self._touched, version=self._n_measured,
        )  # fmt: skip
        return self._prepared is not None

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
            "motion_weight": self.motion_weight,
            "contrast": self.contrast,
            "fill": self.fill,
            "lattice": self.lattice,
            "initial_pattern": self.initial_pattern,
            "erd_floor": self.erd_floor,
            "hedge": self.hedge,
            "noise_cost": self.noise_cost,
        }

    def save(self, path: str | Path) -> Path:
        """Write the whole state to an ``.npz`` file (schema ``fastscan.sampler-state/2``).

        The file holds the settings, every reading in order, the per-pixel sums,
        counts and means, the reconstruction, ERD and neighbour distances, the
        intensity scale, the stop rule's memory, the initial pattern and the
        model (name, SHA-256 and arrays), so :meth:`load` costs about as much as
        reading it. It is written to a temporary name and renamed, so a crash
        never leaves a half-written state behind. No pickle.
        """
        return _sampler_state.save(self, path)

    @classmethod
    def load(cls, path: str | Path, *, model: ERDModel | str | Path | None = None) -> Sampler:
        """Rebuild a sampler from :meth:`save`; it continues exactly where it stopped.

        Parameters
        ----------
        path : str or Path
            A state file (schema ``/2``; the older ``/1`` is read by replaying
            its readings).
        model : ERDModel, name, path or None
            None uses the model stored in the state. A given model must be the
            one the state was made with: a different SHA-256 is a ValueError
            naming both.

        Examples
        --------
        >>> import numpy as np, tempfile, pathlib
        >>> s = Sampler((30, 30), batch_size=5, seed=0)
        >>> pts = s.suggest(); s.ingest(pts, np.ones(len(pts)))
        >>> path = s.save(pathlib.Path(tempfile.mkdtemp()) / "state.npz")
        >>> bool((Sampler.load(path).suggest() == s.suggest()).all())
        True
        """
        return _sampler_state.load(cls, path, model=model)

    def __repr__(self) -> str:
        return (
            f"Sampler(shape={self.shape}, batch_size={self.batch_size}, "
            f"measured={self._n_measured}, coverage={self.coverage:.1%})"
        )


def _warm_up(model: ERDModel) -> None:
    """Run a few step decisions of a small one-channel scan, once per process, so that
    every kernel of a local update is loaded (or compiled) before a real decision needs
    it; it shares nothing with the scan that calls it but the (read-only) ``model``.

    Then Python's full garbage collection, once per process too. A fresh process owes the
    cyclic collector a pass over every object its imports made, and that pass, due in an
    early decision the stage waits for, made it 1-4 ms slower (the first 1 ms fly decision
    up to 11.7 ms); the first activation (hundreds of ms, run while fast-fly's last coarse
    lines fly or before the first step batch), which calls this, takes it instead. Only
    once: a full pass over a large process (a test session, a benchmark of many scans)
    costs tens to hundreds of ms, and later scans of a process do not start fresh.
    """
    global _warm
    if _warm:
        return
    _warm = True  # first: the small scan's own activation must not start another
    rows, cols = np.indices(_WARM_SHAPE)
    image = np.sin(rows / 3.0) * np.cos(cols / 5.0) + (rows + cols) / 40.0
    scan = Sampler(_WARM_SHAPE, batch_size=8, model=model, max_coverage=0.9, change_tolerance=None)
    for _ in range(3):  # the initial pattern (activation), then step batches
        points = scan.suggest()
        scan.ingest(points, image[points[:, 0], points[:, 1]])
    gc.collect()
