"""Summaries and verdicts of an evaluation (``fastscan evaluate``), computed from its rows.

A *row* is one measurement: ``{image, kind, strategy, seed, coverage, n_measured,
nrmse, nrmse_own, seconds}``. :func:`summarize` turns rows into one line per
image and coverage (mean and spread over seeds of every strategy, the best
static pattern, the adaptive/best-static ratio); :func:`verdicts` checks issue
12's criteria on that summary; :func:`reference_verdicts` the WSe2 targets
against FAST's published curve. Nothing here is hard-coded: change a row and the
verdict follows.

Examples
--------
>>> rows = [
...     {"image": "a", "kind": "k", "strategy": s, "seed": seed, "coverage": 0.2, "nrmse": v}
...     for s, base in (("fast", 0.1), ("random", 0.3), ("halton", 0.25))
...     for seed, v in ((0, base), (1, base + 0.01))
... ]
>>> line = summarize(rows)[0]
>>> line["best_static"], round(line["ratio_fast"], 3), line["fast_le_best"]
('halton', 0.412, True)
>>> verdicts(summarize(rows), coverages=(0.2,))["median_win"]["pass"]
True
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ROW_COLUMNS",
    "STATIC_STRATEGIES",
    "read_reference",
    "read_rows",
    "reference_verdicts",
    "summarize",
    "verdicts",
    "write_rows",
]

#: Columns of rows.csv, in order.
ROW_COLUMNS = (
    "image",
    "kind",
    "strategy",
    "seed",
    "coverage",
    "n_measured",
    "nrmse",
    "nrmse_own",
    "seconds",
)
#: The static patterns an adaptive strategy must beat (best of them per image and coverage).
STATIC_STRATEGIES = ("raster", "random", "halton")
_INT = ("seed", "n_measured")
_TEXT = ("image", "kind", "strategy")


def _key(coverage: float) -> float:
    return round(float(coverage), 6)


def write_rows(rows: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write rows to CSV with :data:`ROW_COLUMNS` (floats to 6 significant digits)."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=ROW_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
    return path


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a rows.csv written by :func:`write_rows` (numbers parsed back)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"rows file not found: {str(path)!r} (a rows.csv of an earlier run)"
        )
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [
            c
            for c in ("image", "strategy", "seed", "coverage", "nrmse")
            if c not in (reader.fieldnames or ())
        ]
        if missing:
            raise ValueError(
                f"{str(path)!r} is not an evaluation rows.csv: no column {missing[0]!r}"
            )
        rows = []
        for raw in reader:
            row: dict[str, Any] = {}
            for key, value in raw.items():
                if key in _TEXT:
                    row[key] = value
                elif key in _INT:
                    row[key] = int(value)
                else:
                    row[key] = float(value) if value != "" else float("nan")
            rows.append(row)
    return rows


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample std (ddof=1); the std is NaN for fewer than 2 values (no spread)."""
    array = np.asarray(values, float)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else math.nan


def summarize(
    rows: Iterable[Mapping[str, Any]], statics: Sequence[str] = STATIC_STRATEGIES
) -> list[dict[str, Any]]:
    """One line per (image, coverage): spread over seeds and ratios to the best static.

    Each line has ``image, kind, coverage, n_seeds``, for every strategy ``S``
    ``S_mean`` and ``S_std`` (NRMSE over seeds, std with ddof=1; NaN with one
    seed, which has no spread), the
    ``best_static`` (lowest mean NRMSE among ``statics``) and its
    ``best_static_nrmse``; for every adaptive strategy ``A`` (any not in
    ``statics``) ``ratio_A`` = mean(A) / best_static_nrmse, ``ratio_A_std``
    (spread of the per-seed ratios A_seed / best_static_seed; NaN for fewer than
    two), ``ratio_A_seeds`` (those ratios), ``win_A`` = 1 /
    ratio and ``A_le_best`` (mean at or below the best static).
    """
    groups: dict[tuple[str, float], dict[str, dict[int, float]]] = {}
    kinds: dict[str, str] = {}
    for row in rows:
        cell = groups.setdefault((row["image"], _key(row["coverage"])), {})
        cell.setdefault(row["strategy"], {})[int(row["seed"])] = float(row["nrmse"])
        kinds[row["image"]] = str(row.get("kind", ""))
    lines = []
    for (image, coverage), by_strategy in groups.items():
        line: dict[str, Any] = {"image": image, "kind": kinds[image], "coverage": coverage}
        line["n_seeds"] = min(len(seeds) for seeds in by_strategy.values())
        for name, seeds in by_strategy.items():
            line[f"{name}_mean"], line[f"{name}_std"] = _mean_std(list(seeds.values()))
            line[f"{name}_min"], line[f"{name}_max"] = min(seeds.values()), max(seeds.values())
        present = [s for s in statics if s in by_strategy]
        if present:
            best = min(present, key=lambda s: line[f"{s}_mean"])
            line["best_static"] = best
            line["best_static_nrmse"] = line[f"{best}_mean"]
            for name in by_strategy:
                if name in statics:
                    continue
                ratio = line[f"{name}_mean"] / line["best_static_nrmse"]
                per_seed = [
                    v / by_strategy[best][s]
                    for s, v in by_strategy[name].items()
                    if s in by_strategy[best]
                ]
                line[f"ratio_{name}"] = ratio
                line[f"ratio_{name}_std"] = _mean_std(per_seed)[1] if per_seed else math.nan
                line[f"ratio_{name}_seeds"] = per_seed
                line[f"win_{name}"] = 1.0 / ratio if ratio > 0 else math.inf
                line[f"{name}_le_best"] = bool(ratio <= 1.0)
        lines.append(line)
    return lines


def verdicts(
    summary: Sequence[Mapping[str, Any]],
    *,
    strategy: str = "fast",
    coverages: Sequence[float] = (0.05, 0.1, 0.2, 0.3),
    median_coverage: float = 0.2,
    median_win: float = 2.0,
) -> dict[str, Any]:
    """Issue 12's criteria for ``strategy`` on a :func:`summarize` summary.

    ``every_image[coverage]``: mean NRMSE at or below the best static pattern on
    every image (with the images that fail). ``median_win``: median over images
    of best static / ``strategy`` at ``median_coverage`` is at least
    ``median_win``. ``pass``: all of them hold.
    """
    out: dict[str, Any] = {"strategy": strategy, "every_image": {}}
    ok = True
    for coverage in coverages:
        lines = [
            ln for ln in summary if ln["coverage"] == _key(coverage) and f"ratio_{strategy}" in ln
        ]
        failing = sorted(ln["image"] for ln in lines if not ln[f"{strategy}_le_best"])
        passed = bool(lines) and not failing
        out["every_image"][f"{coverage:g}"] = {
            "n_images": len(lines),
            "n_at_or_below": len(lines) - len(failing),
            "failing": failing,
            "pass": passed,
        }
        ok &= passed
    wins = [
        ln[f"win_{strategy}"]
        for ln in summary
        if ln["coverage"] == _key(median_coverage) and f"win_{strategy}" in ln
    ]
    median = float(np.median(wins)) if wins else float("nan")
    out["median_win"] = {
        "coverage": median_coverage,
        "value": median,
        "target": median_win,
        "pass": bool(wins) and median >= median_win,
    }
    out["pass"] = bool(ok and out["median_win"]["pass"])
    return out


def read_reference(path: str | Path) -> dict[float, float]:
    """FAST's published IDW NRMSE by coverage from ``fast_reference.csv``."""
    with Path(path).open(newline="") as handle:
        return {_key(r["coverage"]): float(r["fast_nrmse_idw"]) for r in csv.DictReader(handle)}


def reference_verdicts(
    summary: Sequence[Mapping[str, Any]],
    reference: Mapping[float, float],
    *,
    strategy: str = "fast",
    image: str = "wse2",
    factor: float = 0.8,
) -> dict[str, Any]:
    """``strategy``'s mean NRMSE <= ``factor`` x the reference at every shared coverage."""
    out: dict[str, Any] = {"strategy": strategy, "image": image, "factor": factor, "coverages": {}}
    ok = True
    for line in summary:
        coverage = line["coverage"]
        if line["image"] != image or coverage not in reference or f"{strategy}_mean" not in line:
            continue
        target = factor * reference[coverage]
        passed = line[f"{strategy}_mean"] <= target
        out["coverages"][f"{coverage:g}"] = {
            "mean": line[f"{strategy}_mean"],
            "std": line[f"{strategy}_std"],
            "reference": reference[coverage],
            "target": target,
            "pass": bool(passed),
        }
        ok &= bool(passed)
    out["pass"] = bool(out["coverages"]) and ok
    return out
