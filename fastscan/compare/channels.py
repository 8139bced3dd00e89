"""``fastscan simulate`` on element maps: a (C, H, W) ground truth, one scan for all channels.

Every strategy measures whole readings (one value per channel at each point),
as an XRF detector does. The autonomous strategies drive one multichannel
:class:`fastscan.Sampler` (``--channel-weights``); the static patterns measure
their fixed points. Each channel is scored on its own reconstruction (IDW,
k = 10, from the same points) and, optionally, on a biharmonic completion.

Outputs in ``--out``: ``metrics.csv`` (the usual columns plus ``channel``: one
row per channel and a ``combined`` row, the weighted mean over channels),
``points_<strategy>.npy`` ((N, 2) (row, col) in measurement order, largest
coverage), ``trajectory_<strategy>.npz`` (every reading's end time under the
beam-time model, as for one channel; ``beam_time_s`` in every metrics row),
``channels.png`` (every channel: truth and each strategy's reconstruction at
the largest coverage), ``curves.png`` (NRMSE per channel vs coverage) and
``summary.json``. The samplers and the beam-time model are those of the
single-channel path (:mod:`fastscan.strategies`, :mod:`fastscan.beamtime`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._validation import check_points
from fastscan.baselines import STATIC_SAMPLERS
from fastscan.beamtime import Trajectory, TrajectoryBuilder
from fastscan.channels import check_weights
from fastscan.compare.report import _save_figure, write_csv
from fastscan.compare.run import _Progress, check_honest, time_model
from fastscan.folders import writable_folder
from fastscan.jsonsafe import dumps
from fastscan.metrics import biharmonic_reconstruction, image_scores, nrmse, ssim
from fastscan.motion import MotionModel
from fastscan.reconstruction import idw_reconstruction
from fastscan.strategies import STRATEGIES, StrategySettings, make_strategy_sampler

__all__ = ["ChannelDetector", "run_simulate_channels"]

_SCORES = ("nrmse", "ssim", "psnr", "nrmse_biharmonic", "ssim_biharmonic")


class ChannelDetector:
    """A detector over (C, H, W) element maps that reads only the pixels asked for.

    Examples
    --------
    >>> maps = np.arange(24.0).reshape(2, 3, 4)
    >>> ChannelDetector(maps).measure(np.array([[1, 2]])).tolist()
    [[6.0, 18.0]]
    """

    def __init__(self, maps: np.ndarray, *, noise: str = "none", seed: int | None = 0) -> None:
        self._maps = np.asarray(maps, dtype=np.float64)
        if self._maps.ndim != 3:
            raise ValueError(f"element maps must be (C, H, W), got shape {self._maps.shape}")
        if noise not in ("none", "poisson"):
            raise ValueError(f"noise must be 'none' or 'poisson', got {noise!r}")
        if noise == "poisson" and self._maps.min() < 0:
            raise ValueError("Poisson noise needs non-negative maps (expected counts)")
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self.asked = np.zeros(self._maps.shape[1:], bool)

    @property
    def shape(self) -> tuple[int, int]:
        return self._maps.shape[1:]

    @property
    def asked_mask(self) -> np.ndarray:
        """True at every pixel read at least once (a copy of :attr:`asked`)."""
        return self.asked.copy()

    def measure(self, points: np.ndarray) -> np.ndarray:
        """(n, C) readings at (row, col) ``points``, in order."""
        points = check_points(points, self.shape)
        self.asked[points[:, 0], points[:, 1]] = True
        values = self._maps[:, points[:, 0], points[:, 1]].T
        if self.noise == "poisson":
            values = self._rng.poisson(values).astype(float)
        return values


def _snapshots(
    name: str,
    maps: np.ndarray,
    config: Any,
    weights: np.ndarray,
    motion: MotionModel,
    progress: _Progress | None = None,
) -> tuple[list[dict], Trajectory]:
    """Measured points and readings of one strategy at every coverage, and the trajectory.

    The samplers come from the strategy registry (the same settings as a
    single-channel ``fastscan simulate``); every reading's end time comes from a
    :class:`fastscan.beamtime.TrajectoryBuilder` under ``motion``, and each
    snapshot's ``beam_time_s`` is the end of its last reading. ``progress`` is
    called as ``progress(n_measured, n_target)`` while the scan runs.
    """
    shape = maps.shape[1:]
    n_pixels = shape[0] * shape[1]
    targets = [max(1, int(round(c * n_pixels))) for c in config.coverages]
    settings = StrategySettings(
        max_coverage=max(config.coverages),
        coverages=tuple(config.coverages),
        batch_size=config.batch_size,
        seed=config.seed,
        model=config.model,
        motion=motion,
        motion_weight=config.motion_weight,
        channel_weights=tuple(weights.tolist()),
    )
    snaps: list[dict] = []
    if name in STATIC_SAMPLERS:
        fresh = STRATEGIES[name].fresh_per_coverage  # a raster grid is not nested
        for coverage, count in zip(config.coverages, targets):
            if fresh or not snaps:
                plan = replace(settings, max_coverage=coverage) if fresh else settings
                sampler = make_strategy_sampler(name, shape, plan)
                detector = ChannelDetector(maps, noise=config.noise, seed=config.seed)
                builder = TrajectoryBuilder(motion, shape=shape)
                order = sampler.suggest(count if fresh else max(targets))
                readings = detector.measure(order)
                t_end = builder.add_points(order)
                held = np.zeros(shape, bool)  # a static sampler holds what it suggested
                held[order[:, 0], order[:, 1]] = True
                check_honest(name, detector.asked_mask, held)
            if progress is not None:
                progress(len(order), max(targets))
            snaps.append(
                {
                    "coverage": coverage,
                    "points": order[:count],
                    "values": readings[:count],
                    "beam_time_s": float(t_end[min(count, len(order)) - 1]),
                }
            )
        return snaps, builder.trajectory()
    sampler = make_strategy_sampler(name, shape, settings)
    detector = ChannelDetector(maps, noise=config.noise, seed=config.seed)
    builder = TrajectoryBuilder(motion, shape=shape)
    for coverage, count in zip(config.coverages, targets):
        while sampler.n_measured < count and not sampler.should_stop():
            points = sampler.suggest(min(config.batch_size, count - sampler.n_measured))
            if len(points) == 0:
                break
            readings = detector.measure(points)
            builder.add_points(points)
            sampler.ingest(points, readings)
            if progress is not None:
                progress(sampler.n_measured, max(targets))
        snaps.append(
            {
                "coverage": coverage,
                "points": sampler.measured_points,
                "values": sampler.measured_values,
                "gains": sampler.channel_gains.tolist(),
                "beam_time_s": builder.t_last,
            }
        )
    check_honest(name, detector.asked_mask, sampler.measured_mask)
    return snaps, builder.trajectory()


def _score(maps, names, weights, name, snap, biharmonic) -> list[dict[str, Any]]:
    shape = maps.shape[1:]
    points, values = snap["points"], snap["values"]
    mask = np.zeros(shape, bool)
    mask[points[:, 0], points[:, 1]] = True
    rows = []
    for c, (truth, channel) in enumerate(zip(maps, names)):
        recon = idw_reconstruction(shape, points, values[:, c])
        row = {
            "strategy": name,
            "coverage": snap["coverage"],
            "n_measured": int(mask.sum()),
            "channel": channel,
            "beam_time_s": snap["beam_time_s"],
            **image_scores(truth, recon),
            "nrmse_biharmonic": float("nan"),
            "ssim_biharmonic": float("nan"),
        }
        if biharmonic:
            measured = np.zeros(shape)
            measured[points[:, 0], points[:, 1]] = values[:, c]  # repeats: the last reading
            completed = biharmonic_reconstruction(mask, measured)
            row["nrmse_biharmonic"] = nrmse(truth, completed)
            row["ssim_biharmonic"] = ssim(truth, completed)
        row["_recon"] = recon
        rows.append(row)
    w = weights / weights.sum()
    combined = {k: rows[0][k] for k in ("strategy", "coverage", "n_measured")}
    combined["channel"] = "combined"
    combined["beam_time_s"] = snap["beam_time_s"]
    for key in _SCORES:
        combined[key] = float(sum(wi * r[key] for wi, r in zip(w, rows)))
    return [*rows, combined]


def _plot_channels(maps, names, panels, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(names), 1 + len(panels)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 2.0 * n_rows), squeeze=False)
    for c, channel in enumerate(names):
        lo, hi = float(maps[c].min()), float(maps[c].max())
        images = [("truth", maps[c])] + [(label, recon[c]) for label, recon in panels.items()]
        for j, (label, image) in enumerate(images):
            ax = axes[c, j]
            ax.imshow(image, cmap="viridis", vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(label, fontsize=9)
            if j == 0:
                ax.set_ylabel(channel)
    fig.suptitle(title, fontsize=10)
    _save_figure(fig, path, dpi=90)


def _plot_curves(rows, names, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*names, "combined"]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.0), squeeze=False)
    for ax, channel in zip(axes[0], panels):
        for strategy in dict.fromkeys(r["strategy"] for r in rows):
            sel = [r for r in rows if r["strategy"] == strategy and r["channel"] == channel]
            ax.plot([r["coverage"] for r in sel], [r["nrmse"] for r in sel], "o-", label=strategy)
        ax.set_title(channel, fontsize=9)
        ax.set_xlabel("coverage")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("NRMSE")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    _save_figure(fig, path, dpi=90)


def run_simulate_channels(
    config: Any, maps: np.ndarray, names: tuple[str, ...], source: str
) -> dict[str, Any]:
    """Replay every strategy on element ``maps`` (C, H, W); write outputs; return the summary.

    ``config`` is a :class:`fastscan.compare.run.SimulateConfig`; its
    ``channel_weights`` (None: equal) weight the channels in the scan and in
    the combined metrics row.
    """
    weights = check_weights(config.channel_weights, maps.shape[0])
    # step strategies only: a fly strategy's segments are not yet read per channel here
    supported = tuple(
        name
        for name in ("fast", "fast-classic", *STATIC_SAMPLERS)
        if name in STRATEGIES and STRATEGIES[name].kind == "step"
    )
    unknown = [s for s in config.strategies if s not in supported]
    if unknown and tuple(config.strategies) == type(config)().strategies:  # the defaults
        config = replace(config, strategies=tuple(s for s in config.strategies if s in supported))
        if not config.quiet:
            print(
                f"note: element maps run {', '.join(config.strategies)} "
                f"({', '.join(unknown)} not supported on element maps)",
                file=sys.stderr,
            )
    elif unknown:
        raise ValueError(
            f"strategy {unknown[0]!r} does not run on element maps; use {', '.join(supported)}"
        )
    out = Path(config.out)
    writable_folder(out, "--out")
    rows: list[dict[str, Any]] = []
    panels: dict[str, np.ndarray] = {}
    facts: dict[str, Any] = {}
    motion = config.motion()
    for name in config.strategies:
        progress = _Progress(name, not config.quiet)
        start = time.perf_counter()
        try:
            snaps, trajectory = _snapshots(name, maps, config, weights, motion, progress)
        finally:  # an error in a scan: no first-batch note after it
            progress.cancel_note()
        seconds = round(time.perf_counter() - start, 2)
        progress.close(f"done in {seconds:.1f} s, beam time {trajectory.beam_time:.1f} s")
        np.save(out / f"points_{name}.npy", snaps[-1]["points"].astype(np.int64))
        trajectory.save(out / f"trajectory_{name}.npz", motion=motion)
        if config.biharmonic and not config.quiet:
            print(
                f"{'':<13}scoring {len(names)} channels (biharmonic completion) ...",
                file=sys.stderr,
                flush=True,
            )
        for snap in snaps:
            started = time.perf_counter()
            scored = _score(maps, names, weights, name, snap, config.biharmonic)
            if config.biharmonic and not config.quiet:  # about 10-20 s each: say so
                print(
                    f"{'':<13}scored {snap['coverage']:.0%} "
                    f"({time.perf_counter() - started:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            if snap is snaps[-1]:
                recon = np.stack([r["_recon"] for r in scored[:-1]])
                panels[f"{name} {snap['coverage']:.0%}"] = recon
            rows += [{k: v for k, v in r.items() if k != "_recon"} for r in scored]
        facts[name] = {
            "seconds": seconds,
            "beam_time_s": trajectory.beam_time,
            "kind": STRATEGIES[name].kind,
        }
        if "gains" in snaps[-1]:
            facts[name]["channel_gains"] = snaps[-1]["gains"]
    write_csv(rows, out / "metrics.csv")
    _plot_channels(maps, names, panels, out / "channels.png", source)
    _plot_curves(rows, names, out / "curves.png", source)
    summary = {
        "schema": "fastscan.simulate-summary/1",
        "source": source,
        "shape": list(maps.shape[1:]),
        "channels": list(names),
        "channel_weights": weights.tolist(),
        "time_model": time_model(motion),
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "strategies": facts,
        "rows": rows,
    }
    (out / "summary.json").write_text(dumps(summary, indent=2))  # strict JSON: NaN -> null
    if not config.quiet:
        print(_table(rows, names))
        print(
            f"wrote {out}/metrics.csv, channels.png, curves.png, points_*.npy, "
            "trajectory_*.npz, summary.json"
        )
    return summary


def _table(rows: list[dict[str, Any]], names: tuple[str, ...]) -> str:
    """NRMSE per channel: one line per strategy and coverage."""
    columns = [*names, "combined"]
    header = f"{'strategy':<13}{'coverage':>9}" + "".join(f"{c:>10.9s}" for c in columns)
    lines = ["NRMSE per channel", header, "-" * len(header)]
    keys = dict.fromkeys((r["strategy"], r["coverage"]) for r in rows)
    for strategy, coverage in keys:
        by_channel = {
            r["channel"]: r["nrmse"]
            for r in rows
            if r["strategy"] == strategy and r["coverage"] == coverage
        }
        cells = "".join(f"{by_channel[c]:>10.4f}" for c in columns)
        lines.append(f"{strategy:<13}{coverage:>9.0%}{cells}")
    return "\n".join(lines)
