"""Sampler state files: everything a sampler needs to resume, as plain arrays.

Schema ``fastscan.sampler-state/2`` is an uncompressed ``.npz`` (no pickle):

``header``
    JSON: ``schema``, ``params`` (:meth:`Sampler.get_params`), ``motion``,
    ``batches`` (how many readings came in each :meth:`Sampler.ingest`, as in
    schema /1), ``model`` (``name``, ``sha256``), ``state`` (measured count,
    whether the ERD map exists, intensity scale, reference range, reading
    min/max, offset table radius, stop-rule memory) and ``runs`` (null, or the
    stored Bluesky runs its readings came from, :mod:`fastscan.run_chain`;
    absent in older files).
``points``, ``values``
    Every reading in order.
``initial``
    The initial pattern, (n, 2) (row, col) in route order.
``mask``, ``sums``, ``counts``, ``means``, ``recon``, ``erd``, ``dk``, ``dk_max``
    The grid arrays of the sampler (``erd`` holds -1 at measured pixels, ``dk``
    each unmeasured pixel's k-th neighbour distance, ``dk_max`` its tile bounds).
    With C > 1 channels (``state.n_channels``), ``sums``, ``means`` and ``recon``
    are (C, H, W), ``values`` is (n, C), and the per-channel scalars of
    ``state`` (scale, reference range, reading min/max, gains) are lists.
``late_shadow``
    Only between the late switch's preparation and the switch: the late model's ERD map
    (``state.late_shadow`` names the model), kept exact as ``erd`` is.
``model/<key>``
    The ERD model's arrays (:meth:`ERDModel.to_arrays`).

The route planner is re-seeded with ``params["seed"]`` for every batch and the
initial pattern is stored, so the seed is the whole random state.

Loading reads those arrays, checks them against the header and the reading
log, and rebuilds only the small derived tables (tile maxima, offset table), so
it costs about as much as reading the file. Schema ``/1`` (the reading log and
the model only) is still read, by replaying the log.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._npz import existing_npz
from fastscan.erd.estimator import SHIPPED_MODELS, ERDModel, load_model
from fastscan.neighbors import OffsetTable
from fastscan.route import MotionModel
from fastscan.run_chain import ATTR, RunChain, chain_from_json, chain_to_json
from fastscan.selection import TileMax

SCHEMA = "fastscan.sampler-state/2"
OLD_SCHEMAS = ("fastscan.sampler-state/1",)
_CHANNEL_GRIDS = ("sums", "means", "recon")
_GRIDS = {
    "mask": np.bool_,
    "sums": np.float64,
    "counts": np.int32,
    "means": np.float64,
    "recon": np.float64,
    "erd": np.float64,
    "dk": np.float64,
}


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _per_channel(values: np.ndarray, n_channels: int, convert=float) -> Any:
    """A (C,) array as JSON: one number for one channel (as schema /2 always had), else a list."""
    items = [convert(v) for v in np.asarray(values).reshape(-1)]
    return items[0] if n_channels == 1 else items


def _channel_scalars(value: Any, n_channels: int, missing: float) -> np.ndarray:
    items = value if isinstance(value, list) else [value]
    if len(items) != n_channels:
        raise ValueError(f"{len(items)} values for {n_channels} channels")
    return np.array([missing if v is None else float(v) for v in items])


def save(sampler: Any, path: str | Path) -> Path:
    """Write ``sampler``'s state to ``path`` (atomically); returns the path."""
    path = Path(path)
    rule = sampler.stop_rule
    n_channels = sampler.n_channels
    chain = getattr(sampler, ATTR, None)

    def grid(array: np.ndarray) -> np.ndarray:
        return array[0] if n_channels == 1 else array

    header = {
        "schema": SCHEMA,
        "params": sampler.get_params(),
        "motion": None if sampler.motion is None else dataclasses.asdict(sampler.motion),
        "batches": [len(p) for p in sampler._log_points],
        "model": {"name": sampler.model.name, "sha256": sampler.model.sha256},
        # the stored runs its readings came from (fastscan.run_chain), when it was in any
        "runs": None if not isinstance(chain, RunChain) else chain_to_json(chain),
        "state": {
            "n_measured": sampler._n_measured,
            "active": sampler._active,
            "n_channels": n_channels,
            "gains": _per_channel(sampler._gains, n_channels),
            "count_channels": _per_channel(sampler._count_channels, n_channels, bool),
            "scale": _per_channel(sampler._scale, n_channels),
            "ref_range": _per_channel(sampler._ref_range, n_channels),
            "value_min": _per_channel(sampler._value_min, n_channels, _finite_or_none),
            "value_max": _per_channel(sampler._value_max, n_channels, _finite_or_none),
            "table_radius": None if sampler._table is None else sampler._table.radius,
            "gini": sampler._gini,
            "counting": sampler._counting,
            "variation": sampler._variation,
            "floor_level": sampler._floor_level,
            # the default-model rules still apply (texture model, late switch) and where
            "model_default": sampler._model_default,
            "late_done": sampler._late_done,
            # the late model's shadow ERD map (array ``late_shadow``): its model's name, the
            # rows made, or whether the next reading starts it
            "late_shadow": None if sampler._shadow is None else sampler._shadow_model.name,
            "late_shadow_rows": sampler._shadow_rows,
            "late_shadow_due": sampler._shadow_due,
            "stop_changes": list(rule._changes),
            "stop_reason": rule.reason,
            # the batch in progress (a save between two readings of one batch)
            "batch_outstanding": sampler._batch_flat is not None,
            "pending_readings": sampler._pending_readings,
            "pending_full": sampler._pending_full,
        },
    }
    pending_flat = sampler._pending_flat
    pending_old = sampler._pending_old
    arrays = {
        "header": np.array(json.dumps(header)),
        "points": sampler.measured_points,
        "values": sampler.measured_values,
        "initial": sampler._initial,
        "mask": sampler._mask,
        "sums": grid(sampler._sums),
        "counts": sampler._counts,
        "means": grid(sampler._values),
        "recon": grid(sampler._recon),
        "erd": sampler._erd,
        "dk": sampler._dk,
        "dk_max": sampler._dk_max,
        "batch": np.zeros(0, np.int64) if sampler._batch_flat is None else sampler._batch_flat,
        "pending_flat": np.concatenate(pending_flat) if pending_flat else np.zeros(0, np.int64),
        "pending_old": (
            np.hstack(pending_old) if pending_old else np.zeros((sampler.n_channels, 0))
        ),
        "pending_new": (
            np.concatenate(sampler._pending_new) if sampler._pending_new else np.zeros((0, 2), int)
        ),
    }
    if sampler._shadow is not None:
        arrays["late_shadow"] = sampler._shadow
    arrays.update({f"model/{k}": v for k, v in sampler.model.to_arrays().items()})
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)
    return path


def load(cls: type, path: str | Path, *, model: ERDModel | str | Path | None = None) -> Any:
    """Rebuild a sampler of class ``cls`` from a state file (see the module docstring)."""
    path = existing_npz(path, "sampler state file")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if not isinstance(header, dict):
                raise ValueError("the header is not a JSON object")
            arrays = {key: data[key] for key in data.files if not key.startswith("model/")}
            model_arrays = {
                key.split("/", 1)[1]: data[key] for key in data.files if key.startswith("model/")
            }
    except (OSError, ValueError, KeyError, RecursionError) as exc:
        raise ValueError(f"{path} is not a fastscan sampler state file ({exc})") from None
    schema = header.get("schema")
    if schema != SCHEMA and schema not in OLD_SCHEMAS:
        raise ValueError(
            f"{path} has state schema {schema!r}; this fastscan reads "
            f"{', '.join(repr(s) for s in (SCHEMA, *OLD_SCHEMAS))}"
        )
    stored = ERDModel.from_arrays(
        model_arrays, source=f"{path} (model)", name=_stored_model_name(header)
    )
    if schema != SCHEMA:  # /1 files carry no model name: recognise a shipped model
        for name in SHIPPED_MODELS:
            if load_model(name).sha256 == stored.sha256:
                stored.name = name
    expected = header.get("model", {}).get("sha256") if schema == SCHEMA else None
    if expected is not None and stored.sha256 != expected:
        raise ValueError(
            f"{path}: the stored model's arrays hash to {stored.sha256}, "
            f"but the header says {expected}; the file is damaged"
        )
    chosen = stored
    if model is not None:
        chosen = load_model(model)
        if chosen.sha256 != stored.sha256:
            raise ValueError(
                f"{path} was made with ERD model {stored.name!r} (SHA-256 {stored.sha256}); "
                f"the given model {chosen.name!r} has SHA-256 {chosen.sha256}"
            )
    try:
        params = dict(header["params"])
        shape = tuple(params.pop("shape"))
        params["pixel_pitch"] = tuple(params["pixel_pitch"])
        for knob in ("contrast", "fill", "lattice"):  # files from before a shaping: without it
            params.setdefault(knob, 0.0)
        params.setdefault("initial_pattern", "halton")  # files from before the knob
        params.setdefault("erd_floor", 0.0)  # files from before the floor: without it
        params.setdefault("hedge", 0.0)
        params.setdefault("noise_cost", 0.0)  # files from before the knob: the cost was off
        motion = header.get("motion")
        motion = None if motion is None else MotionModel(**motion)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad settings in the header ({exc})") from None
    if schema != SCHEMA:
        return _replay(cls, path, shape, params, motion, chosen, arrays)
    try:
        batches = np.array([int(n) for n in header["batches"]], np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad batch sizes in the header ({exc})") from None
    state = header.get("state", {})
    n_channels = state.get("n_channels", 1) if isinstance(state, dict) else 1
    if not isinstance(n_channels, int) or isinstance(n_channels, bool) or n_channels < 1:
        raise ValueError(f"{path}: bad n_channels {n_channels!r} in the header")
    _check_arrays(path, shape, arrays, batches, n_channels)
    try:
        sampler = cls(shape, model=chosen, motion=motion, **params)
    except TypeError as exc:  # settings this version does not know
        raise ValueError(f"{path}: settings this fastscan cannot use ({exc})") from None
    _restore(sampler, path, header.get("state", {}), arrays, batches)
    if header.get("runs") is not None:
        try:
            chain = chain_from_json(header["runs"], sampler.n_measured)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        object.__setattr__(sampler, ATTR, chain)
    return sampler


def _stored_model_name(header: dict[str, Any]) -> str:
    model = header.get("model")
    name = model.get("name") if isinstance(model, dict) else None
    return str(name) if name is not None else "custom"


def _replay(cls, path, shape, params, motion, model, arrays) -> Any:
    """Schema /1: the reading log only; ingest it again batch by batch."""
    sampler = cls(shape, model=model, motion=motion, **params)
    try:
        points, values = arrays["points"], arrays["values"]
        sampler._initial_points = np.asarray(arrays["initial"], np.int64)
    except KeyError as exc:
        raise ValueError(f"{path} is not a fastscan sampler state file ({exc})") from None
    header_batches = json.loads(str(arrays["header"])).get("batches", [len(points)])
    cuts = np.cumsum(header_batches)[:-1]
    for chunk_points, chunk_values in zip(np.split(points, cuts), np.split(values, cuts)):
        sampler.ingest(chunk_points, chunk_values)
    return sampler


def _check_arrays(
    path: Path,
    shape: tuple[int, int],
    arrays: dict[str, np.ndarray],
    lengths: np.ndarray,
    n_channels: int = 1,
) -> None:
    """Shapes, dtypes and the reading log agree with each other (before anything is built)."""

    def bad(what: str) -> ValueError:
        return ValueError(f"{path}: {what}; the state file is damaged or not a fastscan state")

    for key, dtype in _GRIDS.items():
        value = arrays.get(key)
        want = (n_channels, *shape) if n_channels > 1 and key in _CHANNEL_GRIDS else shape
        if value is None or value.shape != want or value.dtype != dtype:
            got = None if value is None else f"{value.dtype} {value.shape}"
            raise bad(f"{key} must be {np.dtype(dtype)} of shape {want}, got {got}")
    points, values = arrays.get("points"), arrays.get("values")
    initial = arrays.get("initial")
    if points is None or points.ndim != 2 or points.shape[1:] != (2,) or points.dtype.kind != "i":
        raise bad("points must be an (n, 2) integer array")
    want = (len(points),) if n_channels == 1 else (len(points), n_channels)
    if values is None or values.shape != want or not np.isfinite(values).all():
        raise bad(f"values must hold one finite reading per point and channel, {want}")
    if (lengths < 1).any() or lengths.sum() != len(points):
        raise bad("batch sizes must be positive and add up to the number of readings")
    if initial is None or initial.ndim != 2 or initial.shape[1:] != (2,):
        raise bad("initial must be an (n, 2) array")
    for name, pts in (("points", points), ("initial", initial)):
        if len(pts) and ((pts < 0).any() or (pts >= np.array(shape)).any()):
            raise bad(f"{name} lie outside the {shape} grid")
    counts = np.bincount(points[:, 0] * shape[1] + points[:, 1], minlength=shape[0] * shape[1])
    if not np.array_equal(counts.reshape(shape), arrays["counts"]):
        raise bad("counts do not match the reading log")
    if not np.array_equal(arrays["mask"], arrays["counts"] > 0):
        raise bad("mask does not match the counts")
    dk_max = arrays.get("dk_max")
    if dk_max is None or dk_max.dtype != np.float64 or dk_max.ndim != 2:
        raise bad("dk_max must be a 2-D float64 array")


def _restore(
    sampler: Any,
    path: Path,
    state: dict[str, Any],
    arrays: dict[str, np.ndarray],
    batches: np.ndarray,
) -> None:
    n_channels = int(state.get("n_channels", 1))
    try:
        active = bool(state["active"])
        n_measured = int(state["n_measured"])
        scale = _channel_scalars(state["scale"], n_channels, 1.0)
        ref_range = _channel_scalars(state["ref_range"], n_channels, 0.0)
        low = _channel_scalars(state["value_min"], n_channels, np.inf)
        high = _channel_scalars(state["value_max"], n_channels, -np.inf)
        gains = _channel_scalars(state.get("gains", 1.0), n_channels, 0.0)
        counts = _channel_scalars(state.get("count_channels", False), n_channels, 0.0) > 0
        radius = state["table_radius"]
        changes = [float(v) for v in state["stop_changes"]]
        reason = state["stop_reason"]
        gini = float(state.get("gini", 0.0))
        counting = bool(state.get("counting", False))
        variation = float(state.get("variation", 0.0))  # files from before the hedge: 0
        # files from before the auto floor: the level is the (numeric) erd_floor
        floor_level = float(state.get("floor_level", sampler._floor_level))
        # files from before the late switch: the stored model is kept, as it always was
        model_default = state.get("model_default", False)
        late_done = state.get("late_done", False)
        if not (isinstance(model_default, bool) and isinstance(late_done, bool)):
            raise ValueError(
                f"model_default and late_done must be true or false, got "
                f"{model_default!r} and {late_done!r}"
            )
        # files from before the shadow map: none (the switch makes the map by a full pass)
        shadow_name = state.get("late_shadow")
        shadow_due = bool(state.get("late_shadow_due", False))
        shadow_rows = int(state.get("late_shadow_rows", sampler.shape[0]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad sampler state in the header ({exc})") from None
    if n_measured != int(arrays["mask"].sum()):
        raise ValueError(f"{path}: n_measured {n_measured} does not match the mask")
    if sampler._dk_max.shape != arrays["dk_max"].shape:
        raise ValueError(f"{path}: dk_max has shape {arrays['dk_max'].shape}")
    if sampler.n_channels != n_channels:
        sampler._allocate_channels(n_channels)
    grid = (n_channels, *sampler.shape)
    sampler._initial_points = np.asarray(arrays["initial"], np.int64)
    sampler._mask = arrays["mask"]
    sampler._sums = arrays["sums"].reshape(grid)
    sampler._counts = arrays["counts"]
    sampler._values = arrays["means"].reshape(grid)
    sampler._recon = arrays["recon"].reshape(grid)
    sampler._erd = arrays["erd"]
    sampler._set_structure(gini, counting, variation)
    sampler._floor_level = floor_level
    sampler._model_default, sampler._late_done = model_default, late_done
    shadow = arrays.get("late_shadow")
    _restore_shadow(sampler, path, shadow_name, shadow_due, shadow_rows, shadow)
    sampler._dk = arrays["dk"]
    sampler._dk_max = arrays["dk_max"]
    points = np.asarray(arrays["points"], np.int64)
    cuts = np.cumsum(batches)[:-1]
    # a state with no readings has no batches (np.split would invent one empty batch)
    sampler._log_points = np.split(points, cuts) if len(batches) else []
    sampler._log_values = np.split(arrays["values"], cuts) if len(batches) else []
    sampler._n_measured = n_measured
    sampler._active = active
    sampler._scale, sampler._ref_range = scale, ref_range
    sampler._value_min, sampler._value_max = low, high
    sampler._gains = gains
    sampler._count_channels = counts
    sampler._table = None if radius is None else OffsetTable(int(radius))
    sampler._tiles = TileMax(sampler._erd) if active else None
    sampler.stop_rule._changes = deque(changes, maxlen=sampler.stop_rule.patience)
    sampler.stop_rule.reason = reason
    _restore_pending(sampler, path, state, arrays)


def _restore_shadow(
    sampler: Any, path: Path, name: Any, due: bool, rows: int, shadow: np.ndarray | None
) -> None:
    """The late model's shadow ERD map: kept if it is the one the sampler would switch to
    (another late model: dropped, the switch then makes its map by a full pass)."""
    sampler._shadow_due = due
    if name is None:
        return
    if not 0 <= rows <= sampler.shape[0]:
        raise ValueError(f"{path}: late_shadow_rows {rows} outside [0, {sampler.shape[0]}]")
    if shadow is None or shadow.shape != sampler.shape or shadow.dtype != np.float64:
        got = None if shadow is None else f"{shadow.dtype} {shadow.shape}"
        raise ValueError(
            f"{path}: late_shadow must be float64 of shape {sampler.shape}, got {got}; "
            "the state file is damaged"
        )
    from fastscan import sampler as sampler_module  # (that module imports this one)

    if name == sampler_module.LATE_MODEL:
        sampler._shadow, sampler._shadow_rows = shadow, rows
        if rows == sampler.shape[0]:
            sampler._shadow_tiles = TileMax(shadow)
        sampler._late_model()
    else:
        sampler._shadow_due = False  # (the next suggest decides again)


def _restore_pending(
    sampler: Any, path: Path, state: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """The batch in progress and what the change rule kept of it (files from before
    these keys: none)."""
    size = sampler._mask.size
    try:
        outstanding = bool(state.get("batch_outstanding", False))
        readings = int(state.get("pending_readings", 0))
        full = bool(state.get("pending_full", False))
        batch = np.asarray(arrays.get("batch", np.zeros(0)), np.int64).reshape(-1)
        flat = np.asarray(arrays.get("pending_flat", np.zeros(0)), np.int64).reshape(-1)
        old = np.asarray(arrays.get("pending_old", np.zeros((sampler.n_channels, 0))), float)
        old = old.reshape(sampler.n_channels, len(flat))
        new = np.asarray(arrays.get("pending_new", np.zeros((0, 2))), np.int64).reshape(-1, 2)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad batch in progress ({exc})") from None
    for name, values in (("batch", batch), ("pending_flat", flat), ("pending_new", new)):
        top = size if name != "pending_new" else np.array(sampler.shape)
        if len(values) and ((values < 0).any() or (values >= top).any()):
            raise ValueError(f"{path}: {name} lies outside the grid")
    sampler._batch_flat = batch if outstanding else None
    sampler._pending_readings, sampler._pending_full = readings, full
    sampler._pending_flat = [flat] if len(flat) else []
    sampler._pending_old = [old] if len(flat) else []
    sampler._pending_new = [new] if len(new) else []
    sampler._stamp.reshape(-1)[flat] = sampler._stamp_id
