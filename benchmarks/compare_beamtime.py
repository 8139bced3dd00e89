"""Pair by pair, one strategy's ratio to the best static scan in two ``bench_beamtime.json`` runs.

For each dwell: the wins (ratio < 1) and the median ratio before and after, the
won pairs lost and the pairs newly won; ``-v`` lists every image x target pair.
Use it to judge a ``--fly-params`` setting against the default run of the same
command (same images, static cache and targets).

Usage (from the repository root)::

    python benchmarks/compare_beamtime.py BASE/bench_beamtime.json NEW/bench_beamtime.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from summarize_beamtime import merge  # reads bench_beamtime.json files


def ratios(path: str, strategy: str) -> dict[tuple[str, str], float]:
    """``{(image, "dwell|target"): strategy time / best static time}`` of one run."""
    out = {}
    for label, res in merge([path]).items():
        for key, static in res["static"].items():
            seconds = res["strategies"].get(key, {}).get(strategy)
            if seconds is not None:
                out[(label, key)] = seconds / min(static.values())
    return out


def compare(base: dict, new: dict, verbose: bool = False) -> list[str]:
    """Lines of the comparison, per dwell, over the pairs both runs have."""
    lines = []
    for dwell in sorted({float(key.split("|")[0]) for _, key in base}):
        pairs = [p for p in base if float(p[1].split("|")[0]) == dwell and p in new]
        if not pairs:
            continue
        b = np.array([base[p] for p in pairs])
        n = np.array([new[p] for p in pairs])

        def name(p: tuple[str, str]) -> str:
            return f"{p[0]}/{p[1].split('|')[1]} {base[p]:.2f}->{new[p]:.2f}"

        lost = [name(p) for p in pairs if base[p] < 1 <= new[p]]
        won = [name(p) for p in pairs if new[p] < 1 <= base[p]]
        lines.append(
            f"{dwell * 1e3:g} ms: wins {int((b < 1).sum())} -> {int((n < 1).sum())} of "
            f"{len(pairs)}, median {np.median(b):.2f} -> {np.median(n):.2f}"
        )
        lines.append(f"  won pairs lost: {lost or 'none'}")
        lines.append(f"  pairs newly won: {won or 'none'}")
        if verbose:
            lines += [f"    {p[0]:<22} {p[1].split('|')[1]:<16} {base[p]:.2f} -> {new[p]:.2f}"
                      for p in pairs]  # fmt: skip
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", help="bench_beamtime.json of the reference run")
    p.add_argument("new", help="bench_beamtime.json of the run to judge")
    p.add_argument("--strategy", default="fast-fly")
    p.add_argument("-v", "--verbose", action="store_true", help="every pair")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    base, new = ratios(args.base, args.strategy), ratios(args.new, args.strategy)
    print("\n".join(compare(base, new, args.verbose)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
