"""Win counts and median ratios per dwell from one or more ``bench_beamtime.json`` files.

Runs split by image or by strategy (``--only``, ``--strategies``) are merged image by
image (static references and targets must agree). For each dwell it prints, over the
image x target pairs, how often each strategy, the best of ``fast`` and ``fast-fly``
chosen afterwards, and the mode :func:`fastscan.fly.mode.best_strategy` picks before
the scan beat the best static scan (ratio < 1), and the median ratios.

Usage (from the repository root)::

    python benchmarks/summarize_beamtime.py out-fast/bench_beamtime.json out-fly/bench_beamtime.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from fastscan.fly.mode import best_strategy
from fastscan.motion import NANOPROBE


def merge(paths: list[str]) -> dict:
    """Per image: targets, static times and every strategy's times to target."""
    images: dict = {}
    for path in paths:
        for label, res in json.loads(Path(path).read_text())["results"].items():
            mine = images.setdefault(label, {"static": {}, "strategies": {}})
            mine["static"].update(res["static"])
            for key, times in res["strategies"].items():
                mine["strategies"].setdefault(key, {}).update(times)
    return images


def summarize(images: dict) -> list[str]:
    lines = []
    dwells = sorted({float(k.split("|")[0]) for res in images.values() for k in res["static"]})
    for dwell in dwells:
        ratios: dict[str, list[float]] = {}
        cells = []
        for label, res in images.items():
            for key, static in res["static"].items():
                d, target = key.split("|")
                if float(d) != dwell:
                    continue
                best_static = min(static.values())
                times = res["strategies"].get(key, {})
                row = {name: t / best_static for name, t in times.items()}
                if {"fast", "fast-fly"} <= set(times):
                    row["best of both"] = min(row["fast"], row["fast-fly"])
                    row["rule"] = row[best_strategy(NANOPROBE.replace(dwell=dwell))]
                for name, r in row.items():
                    ratios.setdefault(name, []).append(r)
                cells.append(f"{label}/{target[4:].split()[1]} "
                             + " ".join(f"{n}={r:.2f}" for n, r in row.items()))  # fmt: skip
        lines.append(f"dwell {dwell * 1e3:g} ms")
        for name, rs in ratios.items():
            rs_arr = np.array(rs)
            wins = int((rs_arr < 1).sum())
            med = float(np.median(rs_arr))
            lines.append(f"  {name:<14} wins {wins}/{len(rs)}  median ratio "
                         + (f"{med:.2f}" if math.isfinite(med) else "cap"))  # fmt: skip
        lines += [f"    {c}" for c in cells]
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="bench_beamtime.json files")
    p.add_argument("--only", default="", help="keep only these images (a,b,...)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    images = merge(args.files)
    if args.only:
        keep = args.only.split(",")
        images = {k: v for k, v in images.items() if k in keep}
    print("\n".join(summarize(images)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
