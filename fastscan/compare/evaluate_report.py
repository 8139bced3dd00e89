"""Tables, CSVs and figures of ``fastscan evaluate`` (all computed from the rows)."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.compare.report import _COLOURS, _figure, _save_figure
from fastscan.compare.verdicts import (
    STATIC_STRATEGIES,
    read_reference,
    reference_verdicts,
    summarize,
    verdicts,
    write_rows,
)
from fastscan.jsonsafe import dumps

__all__ = [
    "curves_title",
    "format_summary",
    "one_seed_note",
    "plot_curves",
    "plot_ratios",
    "spread",
    "write_report",
    "write_summary",
]

_LEAD = "fast"  # the strategy the verdicts are about
_REFERENCE_FILE = "fast_reference.csv"


def _adaptive(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    names = [
        k[len("ratio_") :]
        for line in summary
        for k in line
        if k.startswith("ratio_") and not k.endswith(("_std", "_seeds"))
    ]
    return list(dict.fromkeys(names))


def _plain_log_axis(ax: Any) -> None:
    """Log y axis with ticks at 1, 2, 5 x 10^n labelled as plain numbers (0.05, 0.1, 0.2)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _strategies(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    keys = (k for line in summary for k in line)
    return list(dict.fromkeys(k[:-5] for k in keys if k.endswith("_mean") and k != "best_mean"))


def _cell(value: Any) -> Any:
    """A CSV cell: floats to 6 significant digits, NaN (nothing to show) as an empty cell."""
    if not isinstance(value, float):
        return value
    return "" if math.isnan(value) else f"{value:.6g}"


def write_summary(summary: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """summary.csv: one line per image and coverage (per-seed ratio lists left out).

    A std over a single seed (no spread) is an empty cell, not 0.
    """
    columns = list(dict.fromkeys(k for line in summary for k in line if not k.endswith("_seeds")))
    with Path(path).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for line in summary:
            writer.writerow({k: _cell(v) for k, v in line.items()})
    return Path(path)


def spread(mean: float, std: float, n: int = 1, digits: int = 4) -> str:
    """``mean±std``, or ``mean (n=1)`` where the std is NaN: one seed has no spread to show.

    ``n`` is the number of seeds behind a NaN std (1; 0 for a ratio with no shared seed).

    Examples
    --------
    >>> spread(0.12345, 0.0021)
    '0.1235±0.0021'
    >>> spread(0.12345, float("nan"))
    '0.1235 (n=1)'
    """
    if math.isnan(std):
        return f"{mean:.{digits}f} (n={n})"
    return f"{mean:.{digits}f}±{std:.{digits}f}"


def _pm(line: Mapping[str, Any], name: str) -> str:
    if f"{name}_mean" not in line:
        return "-"
    return spread(line[f"{name}_mean"], line[f"{name}_std"])


def _ratio(line: Mapping[str, Any], lead: str, width: int) -> str:
    """``ratio±std`` of ``lead`` to the best static, right-aligned to ``width`` + 6 characters."""
    n = len(line.get(f"ratio_{lead}_seeds", ()))
    text = spread(line[f"ratio_{lead}"], line[f"ratio_{lead}_std"], n, 3)
    return f"{text:>{width + 6}}"


def one_seed_note(summary: Sequence[Mapping[str, Any]]) -> str | None:
    """A note when a line of ``summary`` has fewer than two seeds (its spread is not shown).

    Examples
    --------
    >>> one_seed_note([{"n_seeds": 1}])
    '(n=1): a single seed has no spread over seeds; give --seeds two or more to see one'
    >>> one_seed_note([{"n_seeds": 2}]) is None
    True
    """
    if all(line.get("n_seeds", 2) >= 2 for line in summary):
        return None
    return "(n=1): a single seed has no spread over seeds; give --seeds two or more to see one"


def format_summary(
    summary: Sequence[Mapping[str, Any]],
    verdict: Mapping[str, Any] | None = None,
    reference: Mapping[str, Any] | None = None,
) -> str:
    """Plain-text tables: NRMSE mean ± std per strategy, the ratio matrix, the verdicts."""
    strategies = _strategies(summary)
    lead = _LEAD if _LEAD in _adaptive(summary) else (_adaptive(summary) or [None])[0]
    head = f"{'image':<21}{'cov':>5}" + "".join(f"{s:>17}" for s in strategies)
    head += f"{'best static':>13}" + (f"{lead + '/best':>16}" if lead else "")
    lines = ["NRMSE (IDW k=10 from the points chosen), mean±std over seeds"]
    note = one_seed_note(summary)
    lines += [note] if note else []
    lines += [head, "-" * len(head)]
    for line in summary:
        text = f"{line['image']:<21}{line['coverage']:>5.0%}"
        text += "".join(f"{_pm(line, s):>17}" for s in strategies)
        text += f"{line.get('best_static', '-'):>13}"
        if lead and f"ratio_{lead}" in line:
            mark = "ok" if line[f"{lead}_le_best"] else "WORSE"
            text += f"{_ratio(line, lead, 8)} {mark}"
        lines.append(text)
    if lead:
        lines += ["", _ratio_matrix(summary, lead)]
    if verdict:
        lines += ["", *_verdict_lines(verdict)]
    if reference:
        lines += ["", *_reference_lines(reference)]
    return "\n".join(lines)


def _ratio_matrix(summary: Sequence[Mapping[str, Any]], lead: str) -> str:
    coverages = sorted({line["coverage"] for line in summary})
    head = f"{lead}/best static NRMSE ratio (< 1: {lead} better; x: worse)\n"
    head += f"{'image':<21}{'kind':<12}" + "".join(f"{c:>16.0%}" for c in coverages)
    rows = [head]
    for image in dict.fromkeys(line["image"] for line in summary):
        mine = {ln["coverage"]: ln for ln in summary if ln["image"] == image}
        text = f"{image:<21}{next(iter(mine.values()))['kind']:<12}"
        for c in coverages:
            ln = mine.get(c, {})
            if f"ratio_{lead}" in ln:
                mark = " " if ln[f"{lead}_le_best"] else "x"
                text += f"{_ratio(ln, lead, 9)}{mark}"
            else:
                text += f"{'-':>16}"
        rows.append(text)
    return "\n".join(rows)


def _verdict_lines(verdict: Mapping[str, Any]) -> list[str]:
    name = verdict["strategy"]
    lines = [f"verdicts ({name}, issue 12):"]
    for coverage, v in verdict["every_image"].items():
        status = "PASS" if v["pass"] else "FAIL"
        fails = f"  worse on: {', '.join(v['failing'])}" if v["failing"] else ""
        lines.append(
            f"  {status}  at {float(coverage):.0%}: at or below the best static on "
            f"{v['n_at_or_below']}/{v['n_images']} images{fails}"
        )
    m = verdict["median_win"]
    lines.append(
        f"  {'PASS' if m['pass'] else 'FAIL'}  median win over the best static at "
        f"{m['coverage']:.0%}: {m['value']:.2f}x (target >= {m['target']:g}x)"
    )
    lines.append(f"  overall: {'PASS' if verdict['pass'] else 'FAIL'}")
    return lines


def _reference_lines(reference: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{reference['image']}: {reference['strategy']} vs FAST (IDW), target "
        f"<= {reference['factor']:g} x FAST"
    ]
    for coverage, v in reference["coverages"].items():
        lines.append(
            f"  {'PASS' if v['pass'] else 'FAIL'}  {float(coverage):.0%}: "
            f"{spread(v['mean'], v['std'])} (FAST {v['reference']:.3f}, "
            f"target {v['target']:.3f})"
        )
    lines.append(f"  overall: {'PASS' if reference['pass'] else 'FAIL'}")
    return lines


def plot_ratios(
    summary: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    strategy: str = _LEAD,
    title: str = "",
) -> Path:
    """fast / best-static NRMSE per image and coverage.

    A marker is the ratio of the mean NRMSEs (what the verdicts use), the dots
    the per-seed ratios (same seed for both), the bar their range. The shaded
    band above 1 is worse than the best static pattern.
    """
    import matplotlib.pyplot as plt

    images = list(dict.fromkeys(line["image"] for line in summary))
    coverages = sorted({line["coverage"] for line in summary})
    fig, axes = _figure(1, size=1.0)
    fig.set_size_inches(max(7.0, 0.75 * len(images) + 2.0), 4.8)
    ax = axes[0][0]
    width = 0.8 / max(len(coverages), 1)
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(coverages)))
    for j, coverage in enumerate(coverages):
        for i, image in enumerate(images):
            line = next(
                (ln for ln in summary if ln["image"] == image and ln["coverage"] == coverage), None
            )
            if line is None or f"ratio_{strategy}" not in line:
                continue
            x = i - 0.4 + width * (j + 0.5)
            seeds = line[f"ratio_{strategy}_seeds"]
            positive = [v for v in seeds if v > 0]  # a perfect seed has no place on a log axis
            ax.plot([x + 0.05] * len(positive), positive, ".", color=colours[j], alpha=0.6, ms=3)
            if positive:
                ax.vlines(x, min(positive), max(positive), color=colours[j], lw=1.2)
            ax.plot(x, max(line[f"ratio_{strategy}"], 1e-9), "o", color=colours[j], ms=5,
                    label=f"{coverage:.0%}" if i == 0 else None)  # fmt: skip
    ax.axhspan(1.0, 1e3, color="C3", alpha=0.07, lw=0)
    ax.axhline(1.0, color="k", lw=1.0)
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ax.text(len(images) - 0.5, 1.0, " parity", va="bottom", ha="right", fontsize=8)
    ax.text(len(images) - 0.5, 0.5, " 2x better", va="bottom", ha="right", fontsize=8)
    _plain_log_axis(ax)
    positive = [v for ln in summary for v in ln.get(f"ratio_{strategy}_seeds", ()) if v > 0]
    ax.set_ylim(0.8 * min(positive, default=0.5), 1.25 * max(max(positive, default=1.0), 1.0))
    ax.set_xticks(range(len(images)))
    ax.set_xticklabels(images, rotation=35, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(images) - 0.4)
    ax.set_ylabel(f"NRMSE {strategy} / best static  (lower is better)")
    ax.grid(alpha=0.3, axis="y", which="both")
    ax.legend(title="coverage", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    spread_note = "one seed: no spread" if one_seed_note(summary) else "dots and bar: seeds"
    title = title or (
        f"{strategy} vs the best static pattern per image (marker: ratio of means; {spread_note})"
    )
    ax.set_title(title, fontsize=10)
    return _save_figure(fig, path, dpi=120)


def plot_curves(
    summary: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    reference: Mapping[float, float] | None = None,
    factor: float = 0.8,
) -> Path:
    """NRMSE against coverage per image: mean per strategy, band from min to max over seeds."""

    images = list(dict.fromkeys(line["image"] for line in summary))
    strategies = _strategies(summary)
    n_cols = min(5, len(images))
    n_rows = math.ceil(len(images) / n_cols)
    fig, axes = _figure(n_cols, n_rows, size=4.0 if len(images) == 1 else 2.6)
    for ax, image in zip(axes.flat, images):
        mine = sorted((ln for ln in summary if ln["image"] == image), key=lambda ln: ln["coverage"])
        cov = np.array([100 * ln["coverage"] for ln in mine])
        for name in strategies:
            mean = np.array([ln.get(f"{name}_mean", np.nan) for ln in mine])
            low = np.array([ln.get(f"{name}_min", np.nan) for ln in mine])
            high = np.array([ln.get(f"{name}_max", np.nan) for ln in mine])
            colour = _COLOURS.get(name)
            ax.plot(cov, mean, "o-", ms=3, color=colour, label=name)
            ax.fill_between(cov, low, high, color=colour, alpha=0.2, lw=0)
        if reference and image == "wse2":
            ref = sorted(reference.items())
            ax.plot([100 * c for c, _ in ref], [v for _, v in ref], "k^:", ms=4, label="FAST")
            ax.plot(
                [100 * c for c, _ in ref],
                [factor * v for _, v in ref],
                "k--",
                lw=0.8,
                label=f"{factor:g} x FAST",
            )
        ax.set_title(f"{image} ({mine[0]['kind']})", fontsize=8)
        _plain_log_axis(ax)
        ax.grid(alpha=0.3, which="both")
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(images) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("coverage (%)", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("NRMSE (IDW k=10)", fontsize=8)
    axes.flat[0].legend(fontsize=6)
    fig.suptitle(curves_title(summary), fontsize=10)
    return _save_figure(fig, path, dpi=110)


def curves_title(summary: Sequence[Mapping[str, Any]]) -> str:
    """curves.png's title: what the line and the band are (no band from a single seed).

    Examples
    --------
    >>> curves_title([{"n_seeds": 1}])
    'NRMSE vs coverage (one seed: no band)'
    """
    if one_seed_note(summary):
        return "NRMSE vs coverage (one seed: no band)"
    return "NRMSE vs coverage (mean over seeds; band: seed range)"


def write_report(
    rows: Sequence[Mapping[str, Any]],
    out: str | Path,
    meta: Mapping[str, Any] | None = None,
    *,
    data: str | Path | None = None,
) -> dict[str, Any]:
    """Write rows.csv, summary.csv, verdicts.json, ratios.png and curves.png into ``out``.

    ``data`` (the shared data folder, for the WSe2 set) adds the FAST reference
    verdicts when it holds ``fast_reference.csv``. Returns the summary, the
    verdicts, the text table and the figure names.
    """
    out = Path(out)
    write_rows(rows, out / "rows.csv")
    summary = summarize(rows, STATIC_STRATEGIES)
    write_summary(summary, out / "summary.csv")
    adaptive = _adaptive(summary)
    coverages = sorted({line["coverage"] for line in summary})
    verdict = verdicts(summary, strategy=adaptive[0], coverages=coverages) if adaptive else None
    if _LEAD in adaptive:
        verdict = verdicts(summary, strategy=_LEAD, coverages=coverages)
    reference = ref_verdict = None
    if data is not None and (Path(data) / _REFERENCE_FILE).is_file():
        reference = read_reference(Path(data) / _REFERENCE_FILE)
        ref_verdict = reference_verdicts(summary, reference, strategy=_LEAD)
    figures = ["curves.png"]
    plot_curves(summary, out / "curves.png", reference=reference)
    if verdict is not None:
        plot_ratios(summary, out / "ratios.png", strategy=verdict["strategy"])
        figures.insert(0, "ratios.png")
    result = {
        "schema": "fastscan.evaluate/1",
        **(meta or {}),
        "verdicts": verdict,
        "reference_verdicts": ref_verdict,
        "summary": [{k: v for k, v in ln.items()} for ln in summary],
    }
    (out / "verdicts.json").write_text(dumps(result, indent=2))
    text = format_summary(summary, verdict, ref_verdict)
    return {**result, "text": text, "figures": figures}
