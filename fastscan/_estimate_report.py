"""The text ``fastscan estimate`` prints: tables of :mod:`fastscan.estimate`'s answer.

One dwell: every raster with its time split (readings, moves, fixed). Several dwells: one
column of times per dwell (the splits are in ``--json``). Then, per dwell, the axis, ``R``,
what ``fast-auto`` and the dwell rule do, and what to expect, each with its reason.
"""

from __future__ import annotations

import textwrap

from fastscan.estimate import DwellEstimate, Estimate, ScanCost

__all__ = ["format_estimate", "hms", "seconds_text"]


def hms(seconds: float) -> str:
    """``h:mm:ss``, rounded to the second (hours may exceed 24).

    Examples
    --------
    >>> hms(35.44), hms(4259.8), hms(253200.0)
    ('0:00:35', '1:11:00', '70:20:00')
    """
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def seconds_text(seconds: float) -> str:
    """A duration in ms below one second, else in s (``0.001`` -> ``1 ms``)."""
    return f"{seconds * 1e3:g} ms" if seconds < 1 else f"{seconds:g} s"


def _header(est: Estimate) -> str:
    m = est.motion
    dwells = ", ".join(seconds_text(d.dwell) for d in est.dwells)
    return (
        f"Beam time of a {est.shape[0]} x {est.shape[1]} grid (rows x cols), "
        f"dwell {dwells}\n"
        f"stage: {m.velocity[0]:g} px/s, {m.acceleration[0]:g} px/s^2 per axis, settle "
        f"{seconds_text(m.settle_time)}, point overhead {seconds_text(m.point_overhead)}, "
        f"line overhead {seconds_text(m.line_overhead)}; from pixel (0, 0), "
        f"fastscan.beamtime's model"
    )


def _runs(scan: ScanCost) -> str:
    return f"{scan.runs} {'lines' if scan.kind == 'fly' else 'points'}"


def _split_table(d: DwellEstimate) -> list[str]:
    head = (
        f"{'scan':<24}{'coverage':>9}{'runs':>15}{'time':>13}{'h:mm:ss':>11}"
        f"{'readings':>13}{'moves':>12}{'fixed':>12}"
    )
    lines = [head, "-" * len(head)]
    for s in d.scans:
        lines.append(
            f"{s.label:<24}{s.coverage:>8.1%}{_runs(s):>16}{s.seconds:>11.1f} s"
            f"{hms(s.seconds):>11}{s.readings_s:>11.1f} s{s.moves_s:>10.1f} s{s.fixed_s:>10.1f} s"
        )
    return lines


def _dwell_table(est: Estimate) -> list[str]:
    first = est.dwells[0]
    head = f"{'scan':<24}{'coverage':>9}{'runs':>15}" + "".join(
        f"{seconds_text(d.dwell):>13}" for d in est.dwells
    )
    lines = [head + "   (h:mm:ss)", "-" * (len(head) + 12)]
    for i, s in enumerate(first.scans):
        times = "".join(f"{hms(d.scans[i].seconds):>13}" for d in est.dwells)
        lines.append(f"{s.label:<24}{s.coverage:>8.1%}{_runs(s):>16}{times}")
    return lines


#: width of the reasons' lines
WIDTH = 100


def _decisions(d: DwellEstimate) -> list[str]:
    items = [
        f"- cheaper to fly: {d.fly_axis}. {d.fly_axis_why}",
        f"- cost ratio R = {d.cost_ratio:.2f}: {d.cost_ratio_why}",
        f"- fast-auto: {d.auto_why}",
        f"- dwell rule (fastscan.fly.mode.best_strategy): {d.dwell_rule}: {d.dwell_rule_why}",
        f"- what to expect (a rule of thumb, not a promise): {d.expect}",
    ]
    return [textwrap.fill(item, WIDTH, subsequent_indent="  ") for item in items]


def format_estimate(est: Estimate) -> str:
    """The report ``fastscan estimate`` prints for ``est``."""
    lines = [_header(est), ""]
    if len(est.dwells) == 1:
        lines += _split_table(est.dwells[0])
        lines += ["", "readings: one dwell per step point, one pixel time per flown reading; "
                  "fixed: settle, point and line overheads, ramps", ""]  # fmt: skip
        lines += _decisions(est.dwells[0])
    else:
        lines += _dwell_table(est)
        lines += ["", "time splits (readings, moves, fixed): one --dwell, or --json", ""]
        for d in est.dwells:
            lines += [f"at {seconds_text(d.dwell)}:", *_decisions(d), ""]
    return "\n".join(lines).rstrip() + "\n"
