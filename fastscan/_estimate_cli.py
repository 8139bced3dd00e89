"""``fastscan estimate``: its parser and what it runs (the estimate is :mod:`fastscan.estimate`).

Registered by :func:`fastscan.cli.build_parser`; the beam-time flags are
:func:`fastscan.cli.add_motion_flags`, as ``fastscan simulate``'s.
"""

from __future__ import annotations

import argparse
import json

from fastscan.cli import _seconds, add_motion_flags

__all__ = ["add_estimate_parser"]


def _dwell_list(text: str) -> list[float]:
    parse = _seconds(False)
    try:
        values = [parse(v) for v in text.split(",") if v.strip()]
    except argparse.ArgumentTypeError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated dwells, seconds > 0 each, got {text!r}"
        )
    return list(dict.fromkeys(values))


def add_estimate_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``fastscan estimate`` on the ``fastscan`` command's sub-commands."""
    est = commands.add_parser(
        "estimate",
        help="what a raster costs, and whether fastscan's adaptive modes pay, before a scan",
        description="Beam time of a serpentine step raster (whole, 50 % and 25 %) and of fly "
        "rasters of every k-th row and column (k = 1, 2, 4, 8), split into readings, moves and "
        "fixed costs; the cheaper axis to fly, the cost ratio R, what fast-auto and the dwell "
        "rule will do, and what to expect. No image and no scan: fastscan.beamtime's model, "
        "pixel units, stage from pixel (0, 0), the defaults of fastscan simulate.",
    )
    est.add_argument(
        "--shape", nargs="+", required=True, metavar=("ROWSxCOLS|ROWS", "COLS"),
        help="grid in pixels: ROWSxCOLS (e.g. 600x400) or ROWS COLS",
    )  # fmt: skip
    est.add_argument("--json", action="store_true", help="print JSON instead of tables")
    timing = est.add_argument_group("beam-time model (pixel units)")
    dwell = timing.add_mutually_exclusive_group()
    dwell.add_argument(
        "--dwells", type=_dwell_list, default=None, metavar="S1,S2,...",
        help="several dwells at once, s (e.g. 0.001,0.01,0.1,1); instead of --dwell",
    )  # fmt: skip
    add_motion_flags(timing, dwell)
    est.set_defaults(func=_run_estimate)


def _run_estimate(args: argparse.Namespace) -> int:
    """Print the estimate (tables, or ``--json``); 0."""
    from fastscan._estimate_report import format_estimate
    from fastscan.estimate import estimate_scan, parse_shape
    from fastscan.motion import motion_from_flags

    estimate = estimate_scan(parse_shape(args.shape), motion_from_flags(args), dwells=args.dwells)
    if args.json:
        print(json.dumps(estimate.to_dict(), indent=1))
    else:
        print(format_estimate(estimate), end="")
    return 0
