"""Read fastscan runs back from a Tiled catalogue.

Runs are written by :func:`fastscan.plans.tiled_writer` into a catalogue from
:func:`fastscan.plans.local_catalog` (or a facility's Tiled server); these
functions read them with the stock tiled client:

- :func:`load_run`: a run by uid (or unique prefix), scan id or negative index;
- :func:`replay_points`: the measured points, readings and measurement order;
- :func:`sampler_from_run`: a ``fastscan.Sampler`` in the state the scan left
  it (same settings, same model -- checked by SHA-256 --, same motion model); for a
  run that continued earlier ones, given the catalogue, their readings first.

Examples
--------
>>> from fastscan.plans import load_run, local_catalog, replay_points  # doctest: +SKIP
>>> catalog = local_catalog("scans")  # doctest: +SKIP
>>> run = load_run(catalog, -1)  # the latest run  # doctest: +SKIP
>>> points, values, order = replay_points(run)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_run", "replay_points", "run_start", "sampler_from_run"]


def run_start(run: Any) -> dict[str, Any]:
    """The start document of a run node (``run.metadata["start"]``)."""
    try:
        return dict(run.metadata["start"])
    except (AttributeError, KeyError, TypeError):
        raise TypeError(
            f"expected a Bluesky run from a tiled catalogue, got {type(run).__name__}"
        ) from None


def load_run(catalog: Any, key: Any = -1) -> Any:
    """One run of a catalogue.

    Parameters
    ----------
    catalog : tiled client
        From :func:`fastscan.plans.local_catalog` or ``connect_catalog``.
    key : str, int or a plan's summary
        A run uid or a unique prefix of one; a scan id (int >= 1; the latest
        run with that id); a negative index (-1: the latest run); or what a
        plan returned (a ``ScanSummary`` or ``FlyScanSummary``: its run).

    Returns
    -------
    tiled node of the run
        ``run.metadata["start"]``, ``run["primary"].read()``, ...

    Examples
    --------
    >>> run = load_run(catalog, -1)  # doctest: +SKIP
    >>> run = load_run(catalog, "3f2a")  # uid prefix  # doctest: +SKIP
    >>> run = load_run(catalog, RE(plan).plan_result)  # doctest: +SKIP
    """
    uids = getattr(key, "run_uids", None)  # a plan's summary (RE(...).plan_result)
    if isinstance(uids, list):
        if not uids:
            raise KeyError(f"{type(key).__name__} names no run: the plan never opened one")
        key = uids[0]
    if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)):
        raise TypeError(
            f"key must be a uid (str), a scan id, a negative index or a plan's summary, got "
            f"{type(key).__name__} {str(key)[:80]!r}"
        )
    if isinstance(key, str):
        if key in catalog:
            return catalog[key]
        matches = [uid for uid in catalog if uid.startswith(key)] if key else []
        if len(matches) == 1:
            return catalog[matches[0]]
        if not matches:
            raise KeyError(f"no run with uid {key!r} in the catalogue")
        raise KeyError(f"uid prefix {key!r} matches several runs: {matches[:5]}")
    key = int(key)
    n_runs = len(catalog)
    if key < 0:
        if -key > n_runs:
            raise IndexError(f"run index {key} out of range: the catalogue has {n_runs} runs")
        return catalog.values()[key]
    if key == 0:
        raise ValueError("scan ids start at 1; use -1 for the latest run")
    from tiled.queries import Key

    found = catalog.search(Key("start.scan_id") == key)
    if len(found) == 0:
        raise KeyError(f"no run with scan id {key} in the catalogue")
    return found.values()[-1]


def _column(table: Any, key: str) -> np.ndarray:
    return np.asarray(table[key].values if hasattr(table[key], "values") else table[key])


def replay_points(run: Any, signal: str | list[str] | None = None) -> tuple[np.ndarray, ...]:
    """Measured points of an autonomous scan (step or fly), in measurement order.

    Parameters
    ----------
    run : tiled node of a run
        From :func:`load_run`: an :func:`~fastscan.plans.autonomous_scan` run
        (one ``primary`` event per point) or an
        :func:`~fastscan.plans.autonomous_fly_scan` run (its samples, stream
        ``fly``, placed on the run's grid by their captured positions).
    signal : str or list of str, optional
        Reading key of the values, or several keys (element channels). Default:
        the run's fastscan signal.

    Returns
    -------
    points : (n, 2) int64 (row, col)
    values : (n,) float64 readings of ``signal``, or (n, C) for C keys (a fly
        run's one key gives (n,), as its sampler received them)
    order : (n,) int64 sequence numbers (0, 1, ...; gaps mean unrecorded points);
        a fly run's samples are numbered in flight order

    A point the RunEngine re-played after a hard pause appears once (its first
    event). Feeding ``points, values`` to a fresh Sampler with the run's
    parameters reproduces the scan's reconstruction, unless the run continued a
    sampler that already held readings: a run holds only its own, and
    ``run.metadata["start"]["fastscan"]["continuation"]["continues"]`` names the
    earlier runs (:func:`sampler_from_run` with the catalogue follows them).
    """
    start = run_start(run)
    if signal is None:
        signal = start.get("fastscan", {}).get("signal")
        if signal is None:
            raise ValueError("run has no fastscan metadata; pass signal= explicitly")
    keys = [signal] if isinstance(signal, str) else list(signal)
    if start.get("plan_pattern") == "fastscan_fly":
        return _fly_samples(run, start, keys)
    if "primary" not in run:
        return np.zeros((0, 2), np.int64), _no_values(keys), np.zeros(0, np.int64)
    table = run["primary"].read()
    columns = set(table.keys()) if hasattr(table, "keys") else set()
    if "fastscan_seq" not in columns:
        raise ValueError(f"the primary stream lacks fastscan_seq: not a fastscan run ({columns})")
    _check_keys(keys, columns, "the primary stream")
    seq = _column(table, "fastscan_seq").astype(np.int64)
    _, first = np.unique(seq, return_index=True)  # first event of each point
    first = np.sort(first)
    idx = first[np.argsort(seq[first], kind="stable")]
    rows = _column(table, "fastscan_row").astype(np.int64)[idx]
    cols = _column(table, "fastscan_col").astype(np.int64)[idx]
    values = np.stack([_column(table, k).astype(np.float64)[idx] for k in keys], axis=-1)
    values = values[:, 0] if isinstance(signal, str) else values
    return np.stack([rows, cols], axis=1).reshape(-1, 2), values, seq[idx]


def _no_values(keys: list[str]) -> np.ndarray:
    return np.zeros(0) if len(keys) == 1 else np.zeros((0, len(keys)))


def _check_keys(keys: list[str], columns: set[str], where: str) -> None:
    missing = [k for k in keys if k not in columns]
    if missing:
        raise ValueError(f"signal {missing[0]!r} not in {where}; keys: {sorted(columns)}")


def _fly_samples(run: Any, start: dict[str, Any], keys: list[str]) -> tuple[np.ndarray, ...]:
    """A fly run's samples: pixels of their captured (x, y) on the run's grid, readings."""
    from fastscan.plans.fly import to_pixels
    from fastscan.plans.grid import Grid

    info = start.get("fastscan", {})
    stream, flyer = str(info.get("stream", "fly")), str((start.get("detectors") or ["flyer"])[0])
    if "grid" not in info:
        raise ValueError("the fly run records no grid (start['fastscan']['grid'])")
    if stream not in run:  # no segment was collected
        return np.zeros((0, 2), np.int64), _no_values(keys), np.zeros(0, np.int64)
    table = run[stream].read()
    columns = set(table.keys()) if hasattr(table, "keys") else set()
    _check_keys([f"{flyer}_x", f"{flyer}_y", *keys], columns, f"the {stream!r} stream")
    x, y = _column(table, f"{flyer}_x"), _column(table, f"{flyer}_y")
    points = to_pixels(Grid(**info["grid"]), x, y)
    values = np.stack([_column(table, k).astype(np.float64) for k in keys], axis=-1)
    values = values[:, 0] if len(keys) == 1 else values
    return points, values, np.arange(len(points), dtype=np.int64)


def _tuples(value: Any) -> Any:
    """JSON lists back to the (nested) tuples of a frozen dataclass."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _model_sha256(model: Any) -> str | None:
    from types import SimpleNamespace

    from fastscan.plans.steps import model_info

    return model_info(SimpleNamespace(model=model)).get("sha256")


def _resolve_model(info: dict[str, Any]) -> Any:
    """The ERD model a run names: a shipped name or file, else the shipped model with its hash."""
    from fastscan.erd.estimator import SHIPPED_MODELS, load_model

    name, digest = info.get("name"), info.get("sha256")
    if not name and not digest:
        return None
    for shipped, filename in SHIPPED_MODELS.items():
        if name == shipped or Path(str(name)).name == filename:
            return load_model(shipped)
    if name and Path(str(name)).is_file():
        return load_model(Path(str(name)))
    for shipped in SHIPPED_MODELS:
        model = load_model(shipped)
        if digest and _model_sha256(model) == digest:
            return model
    raise FileNotFoundError(
        f"the run's ERD model {name!r} (SHA-256 {digest}) is neither a shipped model nor a "
        "file here; pass model="
    )


def sampler_from_run(run: Any, catalog: Any = None, *, model: Any = None,
                     check_model: bool = True, **overrides: Any) -> Any:  # fmt: skip
    """A ``fastscan.Sampler`` with the run's settings that has ingested its readings.

    Readings are ingested batch by batch in measurement order, so the sampler is
    in the state the scan left it in (to continue an interrupted scan in a new
    run, or to compare reconstructions offline). A run that continued a sampler
    which already held readings (``RE(autonomous_scan(..., sampler=last_sampler))``)
    stores only its own; its start document names the earlier runs
    (``md["fastscan"]["continuation"]``), and with ``catalog`` their readings are
    ingested first, in order, so the sampler is the one the scan had.

    Parameters
    ----------
    run : tiled node of a run
    catalog : tiled client, optional
        The catalogue holding the earlier runs a continued run names (usually the
        one ``run`` came from). Needed only for a continued run.
    model : ERDModel, name or path, optional
        Default: the model the run names (a shipped model by name, or its file).
    check_model : bool
        Compare the model's SHA-256 with the one recorded in the run and raise
        ``ValueError`` on a mismatch.
    **overrides
        Replace stored settings (e.g. ``max_coverage=0.3``).

    Raises
    ------
    ValueError
        For a fly run; for a continued run without ``catalog``, or whose earlier
        readings are not all in the runs it names (missing from the catalogue, or
        readings no run stored: a sampler fed by hand, or loaded from a state file
        written without its runs).
        A partial sampler is never returned.

    Non-finite readings (stored when a detector failed) are skipped. The sampler
    returned remembers its runs: continued in a new run, that run names them.

    Examples
    --------
    >>> sampler = sampler_from_run(load_run(catalog, -1), max_coverage=0.3)  # doctest: +SKIP
    >>> run = load_run(catalog, -1)  # a run that continued earlier ones  # doctest: +SKIP
    >>> sampler = sampler_from_run(run, catalog)  # their readings first  # doctest: +SKIP
    """
    from fastscan import Sampler
    from fastscan.erd.estimator import load_model
    from fastscan.motion import MotionModel
    from fastscan.plans.continuation import ATTR, RunChain

    start = run_start(run)
    meta = start.get("fastscan", {})
    _refuse_fly(start)
    stored = dict(meta.get("sampler_params") or {})
    if "shape" not in stored:
        raise ValueError("run has no fastscan sampler parameters; not a fastscan run")
    earlier = _earlier_runs(start, catalog)  # (checked before the sampler is made)
    shape = tuple(stored.pop("shape"))
    if "pixel_pitch" in stored:
        stored["pixel_pitch"] = tuple(stored["pixel_pitch"])
    motion = meta.get("motion", stored.pop("motion", None))
    if motion is not None and "motion" not in overrides:
        overrides["motion"] = MotionModel(**{k: _tuples(v) for k, v in motion.items()})
    recorded = meta.get("model") or {}
    resolved = load_model(model) if model is not None else _resolve_model(recorded)
    accepted = set(inspect.signature(Sampler).parameters)
    params = {k: v for k, v in {**stored, **overrides}.items() if k in accepted}
    sampler = Sampler(shape, model=resolved, **params)
    if check_model and recorded.get("sha256"):
        actual = _model_sha256(sampler.model)
        if actual != recorded["sha256"]:
            raise ValueError(
                f"ERD model {recorded.get('name')!r}: SHA-256 {actual} differs from the run's "
                f"{recorded['sha256']}; pass the run's model= or check_model=False"
            )
    uids = []
    for node in [*earlier, run]:
        _check_count(sampler, node, start)
        _ingest_run(sampler, node)
        uids.append(str(run_start(node).get("uid", "")))
    object.__setattr__(sampler, ATTR, RunChain(tuple(uids), sampler.n_measured))
    return sampler


def _short(uid: Any) -> str:
    return str(uid)[:8]


def _refuse_fly(start: dict[str, Any]) -> None:
    if start.get("plan_pattern") == "fastscan_fly":
        meta = start.get("fastscan", {})
        raise ValueError(
            f"run {_short(start.get('uid', ''))} is a fly scan (autonomous_fly_scan, "
            f"{meta.get('sampler_class', 'a fly sampler')}): sampler_from_run rebuilds the "
            "step scans' fastscan.Sampler only; replay_points(run) gives its samples"
        )


def _earlier_runs(start: dict[str, Any], catalog: Any) -> list[Any]:
    """The runs a continued run names, from ``catalog`` (ValueError when they cannot be had)."""
    from fastscan.plans.continuation import KEY

    record = start.get("fastscan", {}).get(KEY) or {}
    uids = [str(u) for u in record.get("continues") or []]
    n_start = int(record.get("n_measured_at_start") or 0)
    unstored = int(record.get("unstored_at_start") or 0)
    this = _short(start.get("uid", ""))
    if unstored:
        chain = f" besides the readings of runs {[_short(u) for u in uids]}" if uids else ""
        raise ValueError(
            f"run {this} continued a sampler that already held {n_start} measured pixels, "
            f"{unstored} of them from readings no stored run holds{chain} (fed by hand, "
            "a service session attached to, or a state file written without its runs): the "
            "catalogue cannot rebuild it; replay_points(run) gives this run's own readings"
        )
    if not uids:
        return []
    if catalog is None:
        raise ValueError(
            f"run {this} continues runs {uids} (its sampler held {n_start} measured pixels "
            "when it began) and stores only its own readings; pass catalog= (the catalogue "
            "holding those runs) to rebuild the whole scan"
        )
    runs = []
    for uid in uids:
        try:
            node = load_run(catalog, uid)
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"run {this} continues runs {uids}, but run {uid} is not in the catalogue "
                f"given ({exc}); pass the catalogue that holds it"
            ) from None
        _refuse_fly(run_start(node))
        runs.append(node)
    return runs


def _check_count(sampler: Any, run: Any, last: dict[str, Any]) -> None:
    """The sampler holds as many measured pixels as ``run`` says its sampler held at start."""
    from fastscan.plans.continuation import KEY

    start = run_start(run)
    record = start.get("fastscan", {}).get(KEY)
    if record is None:  # a run stored before runs recorded their start
        return
    expected = int(record.get("n_measured_at_start") or 0)
    if sampler.n_measured != expected:
        raise ValueError(
            f"run {_short(last.get('uid', ''))}: rebuilding its chain, run "
            f"{_short(start.get('uid', ''))} began with {expected} measured pixels but the runs "
            f"before it hold {sampler.n_measured}; the catalogue does not hold the whole scan"
        )


def _ingest_run(sampler: Any, run: Any) -> None:
    """Ingest one step run's finite readings, batch by batch, in measurement order."""
    points, values, order = replay_points(run)
    if len(points) == 0:
        return
    table = run["primary"].read()
    seq = _column(table, "fastscan_seq").astype(np.int64)
    batch_of = dict(zip(seq.tolist(), _column(table, "fastscan_batch").astype(np.int64).tolist()))
    batches = np.array([batch_of[int(s)] for s in order], np.int64)
    finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)  # every channel
    for batch in np.unique(batches):
        sel = (batches == batch) & finite
        if sel.any():
            sampler.ingest(points[sel], values[sel])
