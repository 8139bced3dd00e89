"""Outputs of a replay: metrics table, CSV, curves and reconstruction figures."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "METRIC_COLUMNS",
    "format_table",
    "overshoot_note",
    "plot_curves",
    "plot_reconstructions",
    "write_csv",
]

#: Columns of metrics.csv, in order (design.md section 4).
METRIC_COLUMNS = (
    "strategy",
    "coverage",
    "n_measured",
    "nrmse",
    "ssim",
    "psnr",
    "nrmse_biharmonic",
    "ssim_biharmonic",
    "beam_time_s",
)

_COLOURS = {
    "fast": "C3",
    "fast-classic": "C1",
    "raster": "C0",
    "random": "C7",
    "halton": "C2",
    "fly-raster": "C4",
    "fast-fly": "C5",
    "fast-auto": "C6",
}


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write ``rows`` with :data:`METRIC_COLUMNS` (plus any extra keys after them)."""
    path = Path(path)
    extra = [k for row in rows for k in row if k not in METRIC_COLUMNS]
    columns = list(METRIC_COLUMNS) + list(dict.fromkeys(extra))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(row.get(k, "")) for k in columns})
    return path


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Plain-text table of the metrics (one line per strategy and coverage)."""
    header = f"{'strategy':<13}{'coverage':>9}{'points':>9}{'NRMSE':>8}{'SSIM':>7}{'PSNR':>7}"
    header += f"{'NRMSE bih':>10}{'SSIM bih':>9}{'beam s':>10}"
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['strategy']:<13}{row['coverage']:>8.1%}{row['n_measured']:>9d}"
            f"{row['nrmse']:>8.3f}{row['ssim']:>7.3f}{row['psnr']:>7.1f}"
            f"{_cell(row.get('nrmse_biharmonic'), 10, '.3f')}"
            f"{_cell(row.get('ssim_biharmonic'), 9, '.3f')}"
            f"{_cell(row.get('beam_time_s'), 10, '.1f')}"
        )
    return "\n".join(lines)


def _cell(value: Any, width: int, spec: str) -> str:
    """A number, or ``-`` where none was computed (``--no-biharmonic``: NaN or missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{'-':>{width}}"
    return f"{value:>{width}{spec}}"


def overshoot_note(rows: Sequence[Mapping[str, Any]], n_pixels: int) -> str | None:
    """A line saying which table rows hold more points than their coverage asks.

    A fly strategy flies each segment whole (``fly-raster`` whole passes of rows),
    so its row for a coverage can hold more points than that coverage; the
    ``coverage`` column is the one asked for, ``points`` what was measured.

    Parameters
    ----------
    rows : sequence of mapping
        Table rows with ``strategy``, ``coverage`` and ``n_measured``.
    n_pixels : int
        Pixels of the grid.

    Returns
    -------
    str or None
        One line naming the row with the most points past its ask, or None when no row
        is past it.

    Examples
    --------
    >>> overshoot_note([{"strategy": "fly-raster", "coverage": 0.3, "n_measured": 43200}], 86400)
    'note: fly segments are flown whole, so a row can hold more points than its coverage asks (fly-raster 30.0%: 43200 points, 50.0% of the grid)'
    """  # noqa: E501
    past = []
    for row in rows:
        asked = max(1, int(round(row["coverage"] * n_pixels)))
        if row["n_measured"] > asked:
            past.append((row["n_measured"] - asked, row))
    if not past:
        return None
    row = max(past, key=lambda item: item[0])[1]
    return (
        "note: fly segments are flown whole, so a row can hold more points than its coverage "
        f"asks ({row['strategy']} {row['coverage']:.1%}: {row['n_measured']} points, "
        f"{row['n_measured'] / n_pixels:.1%} of the grid)"
    )


def _figure(n_cols: int, n_rows: int = 1, size: float = 4.0) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, size * n_rows), squeeze=False)
    return fig, axes


def _save_figure(fig: Any, path: str | Path, dpi: int) -> Path:
    """Lay ``fig`` out tight, write it to ``path`` at ``dpi`` and close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A finished figure (titles set).
    path : str or Path
        The image file; its format follows its extension.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def plot_curves(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str = "",
    reference: Mapping[str, Sequence[float]] | None = None,
) -> Path:
    """NRMSE and SSIM against coverage, own reconstruction solid, biharmonic dashed.

    When the rows have ``beam_time_s``, a third panel shows NRMSE against beam
    time (log scale). ``reference`` (optional) maps a label to ``(coverages,
    nrmse)`` drawn in black, e.g. a published curve.
    """

    timed = any(_finite(row.get("beam_time_s")) for row in rows)
    fig, axes = _figure(3 if timed else 2)
    strategies = list(dict.fromkeys(row["strategy"] for row in rows))
    for name in strategies:
        mine = [r for r in rows if r["strategy"] == name]
        cov = [100 * r["coverage"] for r in mine]
        colour = _COLOURS.get(name)
        for ax, key in zip(axes[0], ("nrmse", "ssim")):
            ax.plot(cov, [r[key] for r in mine], "o-", color=colour, label=name)
            bih = [r.get(f"{key}_biharmonic", float("nan")) for r in mine]
            if not all(math.isnan(v) for v in bih):
                ax.plot(cov, bih, "s--", color=colour, alpha=0.6, label=f"{name} (biharmonic)")
        if timed:
            pairs = [(r["beam_time_s"], r["nrmse"]) for r in mine if _finite(r.get("beam_time_s"))]
            if pairs:
                seconds, values = zip(*sorted(pairs))
                axes[0][2].plot(seconds, values, "o-", color=colour, label=name)
    if timed:
        axes[0][2].set_xscale("log")
        axes[0][2].set_xlabel("beam time (s)")
        axes[0][2].set_ylabel("NRMSE")
        axes[0][2].grid(alpha=0.3, which="both")
        axes[0][2].legend(fontsize=7)
    for label, (cov, values) in (reference or {}).items():
        axes[0][0].plot([100 * c for c in cov], values, "k^:", label=label)
    axes[0][0].set_ylabel("NRMSE (lower is better)")
    axes[0][1].set_ylabel("SSIM (higher is better)")
    for ax in axes[0][:2]:
        ax.set_xlabel("coverage (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path, dpi=110)


def plot_reconstructions(
    truth: np.ndarray,
    panels: Mapping[str, tuple[np.ndarray, np.ndarray | None]],
    path: str | Path,
    *,
    title: str = "",
) -> Path:
    """Ground truth beside each ``name -> (reconstruction, measured mask or None)``.

    The top row shows the images on the truth's grey scale, the bottom row the
    measured pixels (black) of each panel.
    """

    n_cols = 1 + len(panels)
    fig, axes = _figure(n_cols, 2, size=3.0)
    vmin, vmax = float(truth.min()), float(truth.max())
    items = [("ground truth", (truth, None)), *panels.items()]
    for column, (name, (image, mask)) in enumerate(items):
        axes[0][column].imshow(image, cmap="gray", vmin=vmin, vmax=vmax)
        axes[0][column].set_title(name, fontsize=9)
        if mask is not None:
            axes[1][column].imshow(~np.asarray(mask, bool), cmap="gray", vmin=0, vmax=1)
            axes[1][column].set_title(f"measured: {np.mean(mask):.1%}", fontsize=9)
        else:
            axes[1][column].axis("off")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path, dpi=110)
