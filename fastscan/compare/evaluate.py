"""``fastscan evaluate``: every strategy on every image of a set, over several seeds.

For each image x seed x strategy the scan is replayed against a detector that
answers only the points asked (:class:`fastscan.replay.SimulatedDetector`, with
the image's noise model, seeded by the evaluation seed) and scored at each
coverage by the NRMSE of an IDW (k = 10) reconstruction from the points the
strategy chose (``nrmse``; the same reconstruction for every strategy) and of
the strategy's own reconstruction (``nrmse_own``). The seed is the initial
pattern and route seed of ``fast``, the pattern seed of ``random`` and
``halton`` and the noise seed of the detector. Summaries, verdicts and figures
come from the rows (:mod:`fastscan.compare.verdicts`,
:mod:`fastscan.compare.evaluate_report`).

Examples
--------
>>> from fastscan.compare.imagesets import test_set
>>> images = test_set(size=48, names=("horse",))
>>> rows = evaluate_images(images, strategies=("random",), seeds=(0,), coverages=(0.1,))
>>> [(r["image"], r["strategy"], r["n_measured"]) for r in rows]
[('horse', 'random', 187)]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.compare.imagesets import SET_NAMES, TestImage, image_set
from fastscan.folders import writable_folder
from fastscan.metrics import nrmse
from fastscan.reconstruction import idw_reconstruction
from fastscan.replay import check_honest, make_sampler, replay
from fastscan.slow_note import FIRST_RUN, SlowNote
from fastscan.strategies import STRATEGIES

__all__ = [
    "DEFAULT_COVERAGES",
    "DEFAULT_SEEDS",
    "DEFAULT_STRATEGIES",
    "EvaluateConfig",
    "evaluate_images",
    "idw_from_points",
    "run_evaluate",
    "score_strategy",
    "summarize_rows",
]

DEFAULT_SEEDS = (0, 1, 2, 3, 4)
DEFAULT_COVERAGES = (0.05, 0.1, 0.2, 0.3)
DEFAULT_STRATEGIES = ("fast", "raster", "random", "halton")
IDW_K = 10


@dataclass(frozen=True)
class EvaluateConfig:
    """Arguments of ``fastscan evaluate`` (see ``fastscan evaluate --help``)."""

    set: str = "test"
    size: int = 256
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    coverages: tuple[float, ...] = DEFAULT_COVERAGES
    strategies: tuple[str, ...] = DEFAULT_STRATEGIES
    images: tuple[str, ...] | None = None
    batch_size: int = 50
    model: str | None = None
    data: str = "../shared/data"
    out: str | None = None
    jobs: int = 1
    quiet: bool = False

    def validate(self) -> None:
        """Raise ValueError naming the first bad argument."""
        if self.set not in SET_NAMES:
            raise ValueError(f"unknown set {self.set!r}; choose from {', '.join(SET_NAMES)}")
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            choices = ", ".join(STRATEGIES)
            raise ValueError(f"unknown strategy {unknown[0]!r}; choose from {choices}")
        if not self.strategies:
            raise ValueError("give at least one strategy")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct integers, got {list(self.seeds)!r}")
        if not self.coverages or not all(0.0 < c <= 1.0 for c in self.coverages):
            raise ValueError(f"coverages must be numbers in (0, 1], got {list(self.coverages)!r}")
        if int(self.jobs) != self.jobs or self.jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1, got {self.jobs!r}")


def _motion() -> Any:
    from fastscan.compare.run import SimulateConfig

    return SimulateConfig().motion()  # the beam-time model `fastscan simulate` decides with


def idw_from_points(
    measured_mask: np.ndarray, measured_image: np.ndarray, k: int = IDW_K
) -> np.ndarray:
    """IDW (1/d**2, ``k`` nearest) reconstruction from the measured pixels only.

    :func:`fastscan.reconstruction.idw_reconstruction` of the pixels of
    ``measured_mask`` with their values in ``measured_image``; ``k`` is lowered
    to the number of measured pixels minus one when there are fewer.

    Examples
    --------
    >>> mask = np.zeros((6, 6), bool); mask[::5, ::5] = True
    >>> image = np.where(mask, 7.0, 0.0)
    >>> bool(np.allclose(idw_from_points(mask, image, k=3), 7.0))
    True
    """
    mask = np.asarray(measured_mask, bool)
    n_measured = int(mask.sum())
    k = min(int(k), n_measured - 1)
    if k < 1:
        raise ValueError(f"IDW needs at least 2 measured pixels, have {n_measured}")
    values = np.asarray(measured_image, np.float64)[mask]
    return idw_reconstruction(mask.shape, np.argwhere(mask), values, k=k)


def score_strategy(
    image: TestImage,
    strategy: str,
    seed: int,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    *,
    batch_size: int = 50,
    model: str | None = None,
) -> list[dict[str, Any]]:
    """Replay ``strategy`` with ``seed`` on ``image``; one row per coverage reached.

    A pattern that is not nested (the step raster) is one fresh scan per
    coverage. Raises RuntimeError if the detector was ever asked for a pixel the
    sampler does not hold as measured, or the sampler holds one the detector never
    read (nothing unasked is revealed or lost): :func:`fastscan.replay.check_honest`
    names the pixels.
    """
    coverages = sorted(float(c) for c in coverages)
    fresh = STRATEGIES[strategy].fresh_per_coverage
    runs = [[c] for c in coverages] if fresh else [coverages]
    rows = []
    for covs in runs:
        start = time.perf_counter()
        sampler = make_sampler(
            strategy,
            image.truth.shape,
            max_coverage=max(covs),
            batch_size=batch_size,
            seed=seed,
            model=model,
            motion=_motion(),
            coverages=coverages,
        )
        detector = image.detector(seed)
        snapshots = replay(sampler, detector, covs, change_tolerance=None)
        seconds = time.perf_counter() - start
        check_honest(f"{strategy} on {image.name}", detector.asked_mask, sampler.measured_mask)
        for snap in snapshots:
            idw = idw_from_points(snap.measured_mask, snap.measured_image)
            rows.append(
                {
                    "image": image.name,
                    "kind": image.kind,
                    "strategy": strategy,
                    "seed": int(seed),
                    "coverage": snap.coverage,
                    "n_measured": snap.n_measured,
                    "nrmse": nrmse(image.truth, idw),
                    "nrmse_own": nrmse(image.truth, snap.reconstruction),
                    "seconds": seconds,
                }
            )
    return rows


def evaluate_images(
    images: Mapping[str, TestImage],
    *,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    batch_size: int = 50,
    model: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows for every image x seed x strategy (in this process).

    ``progress`` (optional) gets one line after each image and seed.
    """
    rows: list[dict[str, Any]] = []
    total, done, start = len(images) * len(seeds), 0, time.perf_counter()
    for image in images.values():
        for seed in seeds:
            rows += _image_seed(image, seed, strategies, coverages, batch_size, model)
            done += 1
            if progress is not None:
                progress(_progress_line(done, total, start, image.name, seed, rows))
    return rows


def _image_seed(
    image: TestImage,
    seed: int,
    strategies: Sequence[str],
    coverages: Sequence[float],
    batch_size: int,
    model: str | None,
) -> list[dict[str, Any]]:
    rows = []
    for strategy in strategies:
        rows += score_strategy(image, strategy, seed, coverages, batch_size=batch_size, model=model)
    return rows


def _progress_line(
    done: int, total: int, start: float, name: str, seed: int, rows: list[dict[str, Any]]
) -> str:
    elapsed = time.perf_counter() - start
    eta = elapsed / done * (total - done)
    mine = [r for r in rows if r["image"] == name and r["seed"] == seed]
    top = max(r["coverage"] for r in mine) if mine else 0.0
    scores = "  ".join(f"{r['strategy']} {r['nrmse']:.3f}" for r in mine if r["coverage"] == top)
    return (
        f"[{done:>3d}/{total}] {name:<22} seed {seed}  NRMSE@{top:.0%}: {scores}  "
        f"({elapsed:.0f} s, about {eta:.0f} s left)"
    )


def _worker(config: EvaluateConfig, name: str, seed: int) -> list[dict[str, Any]]:
    """One image and seed in a worker process (the image is rebuilt there by name)."""
    image = image_set(config.set, config.size, config.data, (name,))[name]
    return _image_seed(
        image, seed, config.strategies, config.coverages, config.batch_size, config.model
    )


def _parallel(
    config: EvaluateConfig, images: Mapping[str, TestImage], progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    tasks = [(name, seed) for name in images for seed in config.seeds]
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    start, done = time.perf_counter(), []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(config.jobs, mp_context=context) as pool:
        futures = {pool.submit(_worker, config, *task): task for task in tasks}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done += results[futures[future]]
            name, seed = futures[future]
            progress(_progress_line(len(results), len(tasks), start, name, seed, done))
    return [row for task in tasks for row in results[task]]


def run_evaluate(config: EvaluateConfig) -> dict[str, Any]:
    """Evaluate one set, write rows.csv, summary.csv, verdicts.json and figures; return them."""
    config.validate()
    images = image_set(config.set, config.size, config.data, config.images)
    if not images:
        raise ValueError(f"no images in set {config.set!r} (is --data {config.data!r} right?)")
    out = Path(config.out or f"fastscan-evaluate-{config.set}")
    writable_folder(out, "--out")

    first = SlowNote(f"no image done yet after 30 s ({FIRST_RUN}) ...", 30.0)

    def progress(line: str) -> None:
        first.cancel()
        if not config.quiet:
            print(line, file=sys.stderr, flush=True)

    if not config.quiet:
        print(
            f"fastscan evaluate --set {config.set}: {len(images)} images x "
            f"{len(config.seeds)} seeds x {', '.join(config.strategies)} at "
            f"{', '.join(f'{c:g}' for c in config.coverages)}",
            file=sys.stderr,
            flush=True,
        )
        first.start()
    start = time.perf_counter()
    try:
        if config.jobs > 1:
            rows = _parallel(config, images, progress)
        else:
            rows = evaluate_images(
                images,
                strategies=config.strategies,
                seeds=config.seeds,
                coverages=config.coverages,
                batch_size=config.batch_size,
                model=config.model,
                progress=progress,
            )
    finally:
        first.cancel()
    seconds = time.perf_counter() - start
    meta = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "images": {
            n: {
                "kind": im.kind,
                "shape": list(im.truth.shape),
                "noise": im.noise,
                "source": im.source,
            }
            for n, im in images.items()
        },
        "seconds": round(seconds, 1),
    }
    return _report(rows, out, meta, config)


def _report(
    rows: list[dict[str, Any]], out: Path, meta: dict[str, Any], config: EvaluateConfig
) -> dict[str, Any]:
    from fastscan.compare import evaluate_report as report

    data = config.data if config.set == "wse2" else None
    result = report.write_report(rows, out, meta, data=data)
    if not config.quiet:
        print(result["text"])
        print(f"wrote {out}/rows.csv, summary.csv, verdicts.json, {', '.join(result['figures'])}")
    return result


def summarize_rows(path: str | Path, config: EvaluateConfig | None = None) -> dict[str, Any]:
    """Summary, verdicts and figures of an existing rows.csv (no replay).

    Written to ``config.out`` (default: the folder of ``path``); the FAST
    reference verdicts are added when ``config.set`` is "wse2".
    """
    from fastscan.compare.verdicts import read_rows

    config = config or EvaluateConfig()
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{str(path)!r} has no rows")
    out = writable_folder(Path(config.out) if config.out else Path(path).parent, "--out")
    return _report(rows, out, {"from_rows": str(path)}, config)
