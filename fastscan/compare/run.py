"""``fastscan simulate``: replay strategies against one image and report.

Kept apart from the CLI parsing so notebooks can call :func:`run_simulate`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.beamtime import Trajectory, TrajectoryBuilder
from fastscan.compare.report import (
    format_table,
    overshoot_note,
    plot_curves,
    plot_reconstructions,
    write_csv,
)
from fastscan.folders import writable_folder
from fastscan.imageio import load_maps
from fastscan.jsonsafe import dumps
from fastscan.metrics import biharmonic_reconstruction, image_scores, nrmse, ssim
from fastscan.motion import NANOPROBE, MotionModel, motion_from_flags
from fastscan.replay import (
    SimulatedDetector,
    Snapshot,
    check_honest,
    make_sampler,
    replay,
    target_counts,
)
from fastscan.slow_note import FIRST_RUN, SlowNote
from fastscan.strategies import STRATEGIES

__all__ = [
    "DEFAULT_STRATEGIES",
    "DEMO_PHANTOM",
    "SimulateConfig",
    "check_honest",
    "points_done",
    "run_simulate",
    "time_model",
]

#: Strategies run when none are named: every registered strategy marked default.
DEFAULT_STRATEGIES = tuple(name for name, s in STRATEGIES.items() if s.default)

#: The built-in sample: a flakes phantom whose seed is not among the training seeds.
DEMO_PHANTOM = {"shape": (240, 360), "seed": 7}
_SHOWN_COVERAGE = 0.1  # reconstructions.png shows the snapshot closest to this


@dataclass(frozen=True)
class SimulateConfig:
    """Arguments of ``fastscan simulate`` (see ``fastscan simulate --help``)."""

    image: str | None = None
    phantom: str | None = None
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    coverages: tuple[float, ...] = (0.01, 0.05, 0.1, 0.2, 0.3)
    batch_size: int = 50
    seed: int = 0
    out: str = "fastscan-out"
    noise: str = "none"
    channel_weights: tuple[float, ...] | None = None
    biharmonic: bool = True
    model: str | None = None
    denoise: str | None = None
    segment: str | None = None
    quiet: bool = False
    dwell: float = NANOPROBE.dwell
    velocity: float = NANOPROBE.velocity[0]
    acceleration: float = NANOPROBE.acceleration[0]
    settle: float = NANOPROBE.settle_time
    point_overhead: float = NANOPROBE.point_overhead
    line_overhead: float = NANOPROBE.line_overhead
    motion_weight: float | None = None

    def motion(self) -> MotionModel:
        """The beam-time model in pixel units (both axes alike), validated."""
        return motion_from_flags(self)


def points_done(done: int, total: int) -> str:
    """Progress in points, honest when a scan measures more than was asked.

    A segment sampler (``fly-raster``, ``fast-fly``) flies each segment whole, so
    its last batch can carry it past the largest coverage asked for; the count
    then says so instead of showing ``done/total`` with ``done > total``.

    Parameters
    ----------
    done : int
        Points measured so far.
    total : int
        Points the largest coverage asks for.

    Returns
    -------
    str
        ``"done/total points"``, or ``"done points (total asked; segments flown whole)"``.

    Examples
    --------
    >>> points_done(250, 864)
    '250/864 points'
    >>> points_done(43200, 25920)
    '43200 points (25920 asked; segments flown whole)'
    """
    if done <= total:
        return f"{done}/{total} points"
    return f"{done} points ({total} asked; segments flown whole)"


class _Progress:
    """One-line text progress bar on stderr (plain lines when not a terminal)."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last_quarter = -1
        # nothing until the first batch is in: say why if that takes long
        self._note = SlowNote(f"{label:<13}no batch yet after 10 s ({FIRST_RUN}) ...", 10.0)
        if enabled:
            self._note.start()

    def __call__(self, done: int, total: int) -> None:
        self._note.cancel()
        if not self.enabled:
            return
        frac = min(done / max(total, 1), 1.0)
        elapsed = time.perf_counter() - self.start
        if self.tty:
            bar = "#" * int(30 * frac)
            sys.stderr.write(
                f"\r{self.label:<13}[{bar:<30}] {points_done(done, total):>13}  {elapsed:5.1f} s"
            )
            sys.stderr.flush()
        elif int(4 * frac) > self._last_quarter:
            self._last_quarter = int(4 * frac)
            print(
                f"{self.label:<13}{frac:6.0%}  {points_done(done, total)}  {elapsed:.1f} s",
                file=sys.stderr,
                flush=True,
            )

    def cancel_note(self) -> None:
        """No first-batch note (a batch came in, the run ended or failed)."""
        self._note.cancel()

    def close(self, note: str) -> None:
        self._note.cancel()
        if self.enabled:
            end = "\n" if self.tty else ""
            sys.stderr.write(f"{end}{self.label:<13}{note}\n")
            sys.stderr.flush()


def _load_truth(config: SimulateConfig) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Ground truth, its labels (phantoms only) and a description of the source."""
    if config.image is not None:
        # (C, H, W) element maps or an image; SSIM's 7 x 7 window needs 7 pixels a side
        image, note = load_maps(config.image, min_size=7)
        if note and not config.quiet:
            print(f"note: {note}", file=sys.stderr)
        return image, None, str(config.image)
    from fastscan.phantoms import make_phantom_with_labels, make_xrf_maps

    name = config.phantom or "flakes"
    if name == "xrf":  # element maps: expected counts of five elements
        maps, _ = make_xrf_maps(DEMO_PHANTOM["shape"], seed=DEMO_PHANTOM["seed"])
        return (
            maps,
            None,
            f"phantom:xrf(shape={DEMO_PHANTOM['shape']}, seed={DEMO_PHANTOM['seed']})",
        )
    image, labels = make_phantom_with_labels(name, DEMO_PHANTOM["shape"], seed=DEMO_PHANTOM["seed"])
    source = f"phantom:{name}(shape={DEMO_PHANTOM['shape']}, seed={DEMO_PHANTOM['seed']})"
    return image, labels, source


def time_model(motion: MotionModel) -> dict[str, Any]:
    """The beam-time model as written to ``summary.json`` (units, settings, rules)."""
    return {
        "units": "pixels (pitch 1) and seconds",
        **asdict(motion),
        "rules": "fastscan.beamtime: step point = move + settle + point_overhead + dwell; "
        "fly segment = move + settle + line_overhead + v/a + one pixel time per reading "
        "(max(dwell, 1/fly_velocity)) + v/a",
    }


def _run_strategy(
    name: str, truth: np.ndarray, config: SimulateConfig, motion: MotionModel
) -> tuple[list[Snapshot], np.ndarray, Trajectory, dict[str, Any]]:
    """Snapshots at every coverage, the points and trajectory of the largest, timing facts."""
    progress = _Progress(name, not config.quiet)
    start = time.perf_counter()
    # a step raster is not nested: one fresh grid (one fresh scan) per coverage
    fresh = STRATEGIES[name].fresh_per_coverage
    runs = [[c] for c in config.coverages] if fresh else [list(config.coverages)]
    snapshots: list[Snapshot] = []
    points = np.zeros((0, 2), np.int64)
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    facts: dict[str, Any] = {}
    # the progress covers every run: a fresh grid per coverage counts all of their points
    asked = [max(target_counts(run, truth.size)) for run in runs]
    total, offset = sum(asked), 0
    try:
        for coverages in runs:
            sampler = make_sampler(
                name,
                truth.shape,
                max_coverage=max(coverages),
                batch_size=config.batch_size,
                seed=config.seed,
                model=config.model,
                motion=motion,
                motion_weight=config.motion_weight,
                coverages=config.coverages,
            )
            detector = SimulatedDetector(truth, noise=config.noise, seed=config.seed)
            builder = TrajectoryBuilder(motion, shape=truth.shape)
            snapshots += replay(
                sampler,
                detector,
                coverages,
                progress=lambda done, _asked, offset=offset: progress(offset + done, total),
                trajectory=builder,
            )
            check_honest(name, detector.asked_mask, sampler.measured_mask)
            offset += sampler.n_measured
            points = sampler.measured_points
            if snapshots:
                facts = {k: v for k, v in snapshots[-1].extra.items() if v is not None}
    finally:  # an error in a replay: no first-batch note after it
        progress.cancel_note()
    facts["seconds"] = round(time.perf_counter() - start, 2)
    note = f"done in {facts['seconds']:.1f} s, beam time {builder.t_last:.1f} s"
    choice = getattr(sampler, "get_params", dict)().get("choice")  # fast-auto: step or fly
    if isinstance(choice, dict):
        facts["choice"] = choice
        note += f"; chose {choice['mode']} (R {choice['cost_ratio']:.2f}"
        note += "" if choice.get("gain") is None else f", G {choice['gain']:.2f}"
        note += ")"
    progress.close(note)
    return snapshots, points, builder.trajectory(), facts


def _score(truth: np.ndarray, name: str, snap: Snapshot, biharmonic: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "strategy": name,
        "coverage": snap.coverage,
        "n_measured": snap.n_measured,
        "beam_time_s": snap.extra.get("beam_time_s", float("nan")),
        **image_scores(truth, snap.reconstruction),
        "nrmse_biharmonic": float("nan"),
        "ssim_biharmonic": float("nan"),
    }
    if biharmonic:
        completed = biharmonic_reconstruction(snap.measured_mask, snap.measured_image)
        row["nrmse_biharmonic"] = nrmse(truth, completed)
        row["ssim_biharmonic"] = ssim(truth, completed)
    return row


def run_simulate(config: SimulateConfig) -> dict[str, Any]:
    """Replay every strategy, write the outputs to ``config.out`` and return the summary."""
    motion = config.motion()  # bad timing fails before any replay
    unknown = [name for name in config.strategies if name not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)}")
    truth, labels, source = _load_truth(config)
    if (config.denoise, config.segment) != (None, None):
        option = "--denoise" if config.denoise is not None else "--segment"
        if truth.ndim == 3:
            raise ValueError(
                f"{option} runs on one-channel images, not on element maps "
                "(from Python: fastscan.models.per_channel)"
            )
        if "fast" not in config.strategies:
            raise ValueError(
                f"{option} scores the fast strategy's reconstructions; add fast to --strategies "
                f"(got {','.join(config.strategies)})"
            )
    if truth.ndim == 3:  # element maps: one scan, every channel scored
        from fastscan.compare.channels import run_simulate_channels
        from fastscan.phantoms import XRF_ELEMENTS

        names = XRF_ELEMENTS if source.startswith("phantom:xrf") else None
        names = names or tuple(f"ch{i}" for i in range(truth.shape[0]))
        return run_simulate_channels(config, truth, names, source)
    if config.channel_weights is not None:
        raise ValueError("--channel-weights needs element maps ((C, H, W) .npy or multi-page TIFF)")
    if config.model is not None:
        from fastscan.erd.estimator import load_model

        load_model(config.model)  # a bad model file fails before any replay
    out = Path(config.out)
    writable_folder(out, "--out")
    models = _models(config, labels)
    rows: list[dict[str, Any]] = []
    panels: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    strategies: dict[str, Any] = {}
    for name in config.strategies:
        snapshots, points, trajectory, facts = _run_strategy(name, truth, config, motion)
        np.save(out / f"points_{name}.npy", points.astype(np.int64))
        trajectory.save(out / f"trajectory_{name}.npz", motion=motion)
        facts["beam_time_s"] = trajectory.beam_time
        facts["kind"] = STRATEGIES[name].kind
        if config.biharmonic and not config.quiet:
            print(f"{'':<13}scoring (biharmonic completion) ...", file=sys.stderr, flush=True)
        for snap in snapshots:
            started = time.perf_counter()
            rows.append(_score(truth, name, snap, config.biharmonic))
            if config.biharmonic and not config.quiet:  # about 10 s each at 600 x 400
                seconds = time.perf_counter() - started
                print(f"{'':<13}scored {snap.coverage:.0%} ({seconds:.0f} s)", file=sys.stderr)
        if snapshots:
            shown = min(snapshots, key=lambda snap: abs(snap.coverage - _SHOWN_COVERAGE))
            panels[f"{name} {shown.coverage:.0%}"] = (shown.reconstruction, shown.measured_mask)
            if name == "fast" and models is not None:
                facts["models"] = models(truth, snapshots, out)
        strategies[name] = facts
    write_csv(rows, out / "metrics.csv")
    plot_curves(rows, out / "curves.png", title=f"fastscan simulate: {source}")
    plot_reconstructions(truth, panels, out / "reconstructions.png", title=source)
    summary = {
        "schema": "fastscan.simulate-summary/1",
        "source": source,
        "shape": list(truth.shape),
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "time_model": time_model(motion),
        "strategies": strategies,
        "rows": rows,
    }
    (out / "summary.json").write_text(dumps(summary, indent=2))  # strict JSON: NaN -> null
    if not config.quiet:
        print(format_table(rows))
        note = overshoot_note(rows, truth.size)
        if note is not None:
            print(note)
        for name, facts in strategies.items():
            if "settled_coverage" in facts:
                print(
                    f"{name}: default stop rule (change < 0.005) would stop at "
                    f"{facts['settled_coverage']:.1%} coverage"
                )
        for coverage, metrics in strategies.get("fast", {}).get("models", {}).items():
            print(_model_line(float(coverage), metrics))
        extra = "models.png, " if (out / "models.png").is_file() and models is not None else ""
        print(
            f"wrote {out}/metrics.csv, curves.png, reconstructions.png, {extra}points_*.npy, "
            "trajectory_*.npz, summary.json"
        )
    return summary


def _model_line(coverage: float, metrics: dict[str, Any]) -> str:
    parts = [f"fast {coverage:.0%}:"]
    if "denoise_model" in metrics:
        parts.append(
            f"{metrics['denoise_model']} PSNR {metrics['input_psnr']:.1f} -> "
            f"{metrics['denoise_psnr']:.1f} dB, NRMSE {metrics['input_nrmse']:.3f} -> "
            f"{metrics['denoise_nrmse']:.3f}"
        )
    if "segment_model" in metrics:
        text = f"{metrics['segment_model']} {metrics['segment_regions']} regions"
        if "segment_iou" in metrics:
            text += f", IoU {metrics['segment_iou']:.3f}, Dice {metrics['segment_dice']:.3f}"
        parts.append(text)
    return "  ".join(parts)


def _models(config: SimulateConfig, labels: np.ndarray | None) -> Any:
    """A scorer for --denoise/--segment, or None; bad names fail before any replay."""
    if config.denoise is None and config.segment is None:
        return None
    from fastscan.models import describe_model, list_models

    for option, name, kind in (
        ("--denoise", config.denoise, "denoiser"),
        ("--segment", config.segment, "segmenter"),
    ):
        if name is not None and describe_model(name).kind != kind:
            raise ValueError(
                f"{option} {name!r} is a {describe_model(name).kind}; "
                f"{kind}s: {', '.join(list_models(kind))}"
            )

    def score(truth: np.ndarray, snapshots: list[Snapshot], out: Path) -> dict[str, Any]:
        from fastscan.models.evaluation import evaluate_models, save_model_figure

        results = {}
        for snap in snapshots:
            result = evaluate_models(
                truth,
                snap.reconstruction,
                snap.measured_mask,
                denoise=config.denoise,
                segment=config.segment,
                labels=labels,
            )
            results[f"{snap.coverage:g}"] = result["metrics"]
            if snap is snapshots[-1]:
                save_model_figure(
                    out / "models.png", truth, snap.reconstruction, snap.measured_mask, result
                )
        return results

    return score
