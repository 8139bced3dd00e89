"""Read fastscan runs back from a Tiled catalogue.

Runs are written by :func:`fastscan.plans.tiled_writer` into a catalogue from
:func:`fastscan.plans.local_catalog` (or a facility's Tiled server); these
functions read them with the stock tiled client:

- :func:`load_run`: a run by uid (or unique prefix), scan id or negative index;
- :func:`replay_points`: the measured points, readings and measurement order;
- :func:`sampler_from_run`: a ``fastscan.Sampler`` in the state the scan left
  it (same settings, same model -- checked by SHA-256 --, same motion model).

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


def load_run(catalog: Any, key: str | int = -1) -> Any:
    """One run of a catalogue.

    Parameters
    ----------
    catalog : tiled client
        From :func:`fastscan.plans.local_catalog` or ``connect_catalog``.
    key : str or int
        A run uid or a unique prefix of one; a scan id (int >= 1; the latest
        run with that id); or a negative index (-1: the latest run).

    Returns
    -------
    tiled node of the run
        ``run.metadata["start"]``, ``run["primary"].read()``, ...

    Examples
    --------
    >>> run = load_run(catalog, -1)  # doctest: +SKIP
    >>> run = load_run(catalog, "3f2a")  # uid prefix  # doctest: +SKIP
    """
    if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)):
        raise TypeError(f"key must be a uid (str), a scan id or a negative index, got {key!r}")
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


def replay_points(run: Any, signal: str | None = None) -> tuple[np.ndarray, ...]:
    """Measured points of an autonomous scan, in measurement order.

    Parameters
    ----------
    run : tiled node of a run
        From :func:`load_run`.
    signal : str, optional
        Reading key of the values (default: the run's fastscan signal).

    Returns
    -------
    points : (n, 2) int64 (row, col)
    values : (n,) float64 readings of ``signal``
    order : (n,) int64 sequence numbers (0, 1, ...; gaps mean unrecorded points)

    A point the RunEngine re-played after a hard pause appears once (its first
    event). Feeding ``points, values`` to a fresh Sampler with the run's
    parameters reproduces the scan's reconstruction.
    """
    start = run_start(run)
    if signal is None:
        signal = start.get("fastscan", {}).get("signal")
        if signal is None:
            raise ValueError("run has no fastscan metadata; pass signal= explicitly")
    if "primary" not in run:
        return np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0, np.int64)
    table = run["primary"].read()
    keys = set(table.keys()) if hasattr(table, "keys") else set()
    if "fastscan_seq" not in keys:
        raise ValueError(f"the primary stream lacks fastscan_seq: not a fastscan run ({keys})")
    if signal not in keys:
        raise ValueError(f"signal {signal!r} not in the primary stream; keys: {sorted(keys)}")
    seq = _column(table, "fastscan_seq").astype(np.int64)
    _, first = np.unique(seq, return_index=True)  # first event of each point
    first = np.sort(first)
    idx = first[np.argsort(seq[first], kind="stable")]
    rows = _column(table, "fastscan_row").astype(np.int64)[idx]
    cols = _column(table, "fastscan_col").astype(np.int64)[idx]
    values = _column(table, signal).astype(np.float64)[idx]
    return np.stack([rows, cols], axis=1).reshape(-1, 2), values, seq[idx]


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


def sampler_from_run(run: Any, *, model: Any = None, check_model: bool = True,
                     **overrides: Any) -> Any:  # fmt: skip
    """A ``fastscan.Sampler`` with the run's settings that has ingested its readings.

    Readings are ingested batch by batch in measurement order, so the sampler is
    in the state the scan left it in (to continue an interrupted scan in a new
    run, or to compare reconstructions offline).

    Parameters
    ----------
    run : tiled node of a run
    model : ERDModel, name or path, optional
        Default: the model the run names (a shipped model by name, or its file).
    check_model : bool
        Compare the model's SHA-256 with the one recorded in the run and raise
        ``ValueError`` on a mismatch.
    **overrides
        Replace stored settings (e.g. ``max_coverage=0.3``).

    Non-finite readings (stored when a detector failed) are skipped.

    Examples
    --------
    >>> sampler = sampler_from_run(load_run(catalog, -1), max_coverage=0.3)  # doctest: +SKIP
    """
    from fastscan import Sampler
    from fastscan.erd.estimator import load_model
    from fastscan.motion import MotionModel

    meta = run_start(run).get("fastscan", {})
    stored = dict(meta.get("sampler_params") or {})
    if "shape" not in stored:
        raise ValueError("run has no fastscan sampler parameters; not a fastscan run")
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
    points, values, order = replay_points(run)
    if len(points) == 0:
        return sampler
    table = run["primary"].read()
    seq = _column(table, "fastscan_seq").astype(np.int64)
    batch_of = dict(zip(seq.tolist(), _column(table, "fastscan_batch").astype(np.int64).tolist()))
    batches = np.array([batch_of[int(s)] for s in order], np.int64)
    finite = np.isfinite(values)
    for batch in np.unique(batches):
        sel = (batches == batch) & finite
        if sel.any():
            sampler.ingest(points[sel], values[sel])
    return sampler
