"""Beam time to quality: every strategy against the best static scan, at several dwells.

For each image, the targets are the NRMSE a fly raster reaches flying every 4th
row and every 2nd row. For each dwell and strategy the benchmark reports the
beam time (``fastscan.beamtime`` rules, nanoprobe model of ``fastscan.motion.
NANOPROBE`` with the dwell changed) to reach each target, and the best static
time: min(step raster, fly raster of rows, fly raster of columns), each a fresh
scan at the density that reaches the target (step raster: a fine ladder of
coverages; fly rasters: every k-th row, every k-th column, for k = 1..16).

NRMSE is judged as the issue does: the best of IDW (``fastscan.idw_reconstruction``,
k = 10) and linear interpolation (``scipy.interpolate.griddata``, nearest fill
outside the hull) of the measured pixels, against the image. Adaptive runs are
scored at a geometric ladder of coverages; the time to a target is the beam time
of the first scored snapshot that reaches it (an upper bound, as for the static
ladders). A strategy whose choices do not depend on the timing is replayed once
and re-timed per dwell (:func:`fastscan.beamtime.retime`); ``fast`` (motion-aware)
is replayed per dwell. ``fast-erd-only`` is ``fast`` with ``motion_weight = 0``:
today's ERD-only batches, routed.

Images: WSe2 (``--image``, default ``../shared/data/wse2_darkfield_600x400.tif``
relative to the repository) at full size, and scikit-image images never used to
train the ERD model (training used camera, coins, moon, text, astronaut and
phantoms), grey, resized to ``--size`` pixels on the long side.

Run from the repository root::

    python benchmarks/bench_beamtime.py                      # everything (long)
    python benchmarks/bench_beamtime.py --quick              # a few minutes
    python benchmarks/bench_beamtime.py --unseen none --dwells 0.1 \\
        --strategies fast,fast-erd-only                      # motion-aware vs today, WSe2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from fastscan.beamtime import Trajectory, TrajectoryBuilder, retime
from fastscan.fly import Segment
from fastscan.fly.mode import best_strategy
from fastscan.imageio import load_image
from fastscan.motion import NANOPROBE, MotionModel
from fastscan.patterns import raster_points
from fastscan.reconstruction import idw_reconstruction
from fastscan.replay import SimulatedDetector, make_sampler, replay
from fastscan.strategies import STRATEGIES

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = "../shared/data/wse2_darkfield_600x400.tif"
UNSEEN = (
    "brick", "gravel", "cell", "clock", "hubble_deep_field", "immunohistochemistry",
    "shepp_logan_phantom", "coffee", "grass", "chelsea",
)  # fmt: skip
DEFAULT_UNSEEN = UNSEEN[:8]
DWELLS = (0.001, 0.01, 0.1, 1.0)
TIMED = ("fast", "fast-fly", "fast-auto")  # choices depend on the time model: one replay per dwell
FLY_KS = tuple(range(1, 17))
#: Static scans the adaptive ones are compared with: step raster, fly rasters of rows, of columns.
STATIC = ("raster", "fly-raster", "fly-raster-cols")


# ---------------------------------------------------------------------------- images and scores
def load_images(
    image: str | None, unseen: tuple[str, ...], size: int, *, scale: bool = False
) -> dict[str, np.ndarray]:
    """WSe2 (``image``) and scikit-image images: grey (alpha dropped), long side <= ``size``.

    ``scale`` maps each scikit-image image to [0, 100]. The named image sets come
    from :func:`set_images` instead.
    """
    images = {}
    if image:
        path = Path(image)
        path = path if path.is_absolute() else (REPO / path)
        images["wse2" if "wse2" in path.name else path.stem] = load_image(path)[0]
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.transform import resize

    for name in unseen:
        img = np.asarray(getattr(data, name)(), float)
        if img.ndim == 3:
            img = rgb2gray(img[..., :3])
        factor = size / max(img.shape)
        if factor < 1:
            shape = tuple(max(8, round(s * factor)) for s in img.shape)
            img = resize(img, shape, anti_aliasing=True)
        if scale:
            low, high = img.min(), img.max()
            img = (img - low) / (high - low) * 100.0 if high > low else np.zeros_like(img)
        images[name] = img
    return images


def set_images(
    which: str, size: int, only: tuple[str, ...] | None, log: Callable[[str], None]
) -> dict[str, np.ndarray]:
    """The noise-free images of ``fastscan.compare.imagesets``' test or validation set.

    Beam time is scored against the noise-free truth here, so images whose
    readings are noisy (the Poisson ``lowcount`` one) are left out, with a note.
    """
    from fastscan.compare.imagesets import image_set

    images = {}
    for name, test_image in image_set(which, size, names=only).items():
        if test_image.noise != "none":
            log(f"{name}: skipped (noisy readings: {test_image.noise})")
            continue
        images[name] = np.asarray(test_image.truth, float)
    return images


def with_transposes(images: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each image followed by its transpose, named ``NAME-T`` (rows and columns swapped)."""
    out = {}
    for name, truth in images.items():
        out[name] = truth
        out[f"{name}-T"] = np.ascontiguousarray(np.asarray(truth).T)
    return out


@njit(cache=True)
def _rasterize(tri_pts, simplices, values, out, done):
    """Linear interpolation on a triangulation, written to every grid pixel it covers."""
    n_rows, n_cols = out.shape
    for t in range(simplices.shape[0]):
        a, b, c = simplices[t, 0], simplices[t, 1], simplices[t, 2]
        ra, ca = tri_pts[a, 0], tri_pts[a, 1]
        rb, cb = tri_pts[b, 0], tri_pts[b, 1]
        rc, cc = tri_pts[c, 0], tri_pts[c, 1]
        det = (rb - ra) * (cc - ca) - (rc - ra) * (cb - ca)
        if det == 0.0:
            continue
        r0 = max(int(np.floor(min(ra, rb, rc))), 0)
        r1 = min(int(np.ceil(max(ra, rb, rc))), n_rows - 1)
        c0 = max(int(np.floor(min(ca, cb, cc))), 0)
        c1 = min(int(np.ceil(max(ca, cb, cc))), n_cols - 1)
        for r in range(r0, r1 + 1):
            for col in range(c0, c1 + 1):
                if done[r, col]:
                    continue
                lb = ((r - ra) * (cc - ca) - (rc - ra) * (col - ca)) / det
                lc = ((rb - ra) * (col - ca) - (r - ra) * (cb - ca)) / det
                la = 1.0 - lb - lc
                if la >= -1e-9 and lb >= -1e-9 and lc >= -1e-9:
                    out[r, col] = la * values[a] + lb * values[b] + lc * values[c]
                    done[r, col] = True


def linear_fill(truth_shape: tuple[int, int], points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation (Delaunay) of the points, nearest value outside their hull.

    Same interpolant as ``scipy.interpolate.griddata(method="linear")`` (up to the
    choice of diagonal where four points are co-circular), rasterised triangle by
    triangle, which is much faster than griddata's point location on row rasters.
    """
    from scipy.spatial import Delaunay, cKDTree

    out = np.zeros(truth_shape)
    done = np.zeros(truth_shape, bool)
    pts = points.astype(float)
    try:
        tri = Delaunay(pts)
    except Exception:  # all points collinear: no triangle, nearest fill everywhere
        tri = None
    if tri is not None:
        _rasterize(pts, tri.simplices.astype(np.int64), values.astype(float), out, done)
    hole = np.argwhere(~done)
    if len(hole):
        _, nearest = cKDTree(pts).query(hole)
        out[hole[:, 0], hole[:, 1]] = values[nearest]
    return out


def best_nrmse(truth: np.ndarray, mask: np.ndarray) -> float:
    """min over IDW (k=10) and linear interpolation (nearest outside the hull) of the NRMSE."""
    points = np.argwhere(mask)
    values = truth[mask]
    norm = np.linalg.norm(truth)
    idw = idw_reconstruction(truth.shape, points, values, k=min(10, len(points)))
    scores = [np.linalg.norm(truth - idw) / norm]
    if len(points) >= 3:
        scores.append(np.linalg.norm(truth - linear_fill(truth.shape, points, values)) / norm)
    return float(min(scores))


def mask_of(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[points[:, 0], points[:, 1]] = True
    return mask


# ---------------------------------------------------------------------------- static references
def fly_raster_trajectory(
    shape: tuple[int, int], k: int, motion: MotionModel, axis: str = "rows"
) -> Trajectory:
    """Serpentine fly raster of every ``k``-th row (``axis="rows"``) or column."""
    builder = TrajectoryBuilder(motion, shape=shape)
    for i, line in enumerate(range(0, shape[0 if axis == "rows" else 1], k)):
        if axis == "rows":
            ends = ((line, 0), (line, shape[1] - 1))
        else:
            ends = ((0, line), (shape[0] - 1, line))
        builder.add_segment(Segment(*(ends if i % 2 == 0 else ends[::-1])))
    return builder.trajectory()


def static_references(truth: np.ndarray, dwells: tuple[float, ...]) -> dict[str, Any]:
    """Fresh fly rasters (every k-th row, every k-th column) and step rasters (a coverage
    ladder), per dwell."""
    shape = truth.shape
    fly: dict[str, list[dict[str, Any]]] = {"fly-raster": [], "fly-raster-cols": []}
    for name, axis in (("fly-raster", "rows"), ("fly-raster-cols", "columns")):
        for k in FLY_KS:
            if k > shape[0 if axis == "rows" else 1]:
                break
            base = fly_raster_trajectory(shape, k, NANOPROBE, axis)
            fly[name].append({
                "k": k,
                "n": base.n_readings,
                "nrmse": 0.0 if k == 1 else best_nrmse(truth, mask_of(shape, base.points)),
                "time": {d: retime(base, NANOPROBE.replace(dwell=d)).beam_time for d in dwells},
            })  # fmt: skip
    step = []
    for coverage in np.geomspace(0.005, 0.6, 20):
        pts = raster_points(shape, max(1, round(coverage * shape[0] * shape[1])))
        base = TrajectoryBuilder(NANOPROBE, shape=shape)
        base.add_points(pts)
        traj = base.trajectory()
        step.append({
            "coverage": float(coverage),
            "n": len(pts),
            "nrmse": best_nrmse(truth, mask_of(shape, pts)),
            "time": {d: retime(traj, NANOPROBE.replace(dwell=d)).beam_time for d in dwells},
        })  # fmt: skip
    return {**fly, "raster": step}


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--cache``, the folder :func:`cached_static_references` keeps its files in.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser of a benchmark that scores against the static references.
    """
    parser.add_argument("--cache", default="bench-beamtime-cache",
                        help="folder for the static references ('' for none)")  # fmt: skip


def cached_static_references(
    label: str, truth: np.ndarray, dwells: tuple[float, ...], cache: str
) -> dict[str, Any]:
    """:func:`static_references`, kept in ``cache``/static_<label>.json (reused if the
    image and the dwells match; '' caches nothing)."""
    path = Path(cache) / f"static_{label}.json" if cache else None
    digest = f"{truth.shape}|{float(truth.sum()):.9g}|{float((truth**2).sum()):.9g}"
    if path is not None and path.exists():
        saved = json.loads(path.read_text())
        fresh = set(saved["refs"]) >= set(STATIC)  # caches from before column rasters: redo
        if fresh and saved["image"] == digest and all(f"{d:g}" in saved["dwells"] for d in dwells):
            return {
                name: [{**e, "time": {d: e["time"][f"{d:g}"] for d in dwells}} for e in entries]
                for name, entries in saved["refs"].items()
            }
    refs = static_references(truth, dwells)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        plain = {
            name: [{**e, "time": {f"{d:g}": t for d, t in e["time"].items()}} for e in entries]
            for name, entries in refs.items()
        }
        part = path.with_suffix(f".{id(refs)}.part")  # then renamed: readers never see half
        part.write_text(json.dumps({"image": digest, "dwells": [f"{d:g}" for d in dwells],
                                    "refs": plain}))  # fmt: skip
        part.replace(path)
    return refs


def time_to(entries: list[dict[str, Any]], target: float, dwell: float) -> float:
    times = [e["time"][dwell] for e in entries if e["nrmse"] <= target + 1e-12]
    return min(times) if times else math.inf


# ---------------------------------------------------------------------------- adaptive runs
def first_hit(
    truth: np.ndarray, traj: Trajectory, target: float, lo: int = 0, hi: int | None = None
) -> int | None:
    """Readings after which the scan's NRMSE is <= target, searched over segment ends.

    Bisection over the ends of the continuous moves (a step point is its own)
    with more than ``lo`` and at most ``hi`` readings (None: all; the state after
    ``hi`` readings is checked first). The answer is a real state of the scan that
    reaches the target (the first one if the NRMSE falls monotonically), so its
    time is an honest time to target; None if the state after ``hi`` does not.
    """
    if traj.n_readings == 0:
        return None
    seg = traj.segment
    ends = np.flatnonzero(np.r_[seg[1:] != seg[:-1], True]) + 1
    ends = ends[(ends > lo) & (ends <= (traj.n_readings if hi is None else hi))]
    if len(ends) == 0:
        return None

    def ok(i: int) -> bool:
        return best_nrmse(truth, mask_of(truth.shape, traj.points[: ends[i]])) <= target + 1e-12

    if not ok(len(ends) - 1):
        return None
    low, high = 0, len(ends) - 1
    while low < high:
        mid = (low + high) // 2
        if ok(mid):
            high = mid
        else:
            low = mid + 1
    return int(ends[low])


def adaptive_curve(
    name: str,
    truth: np.ndarray,
    motion: MotionModel,
    max_coverage: float,
    batch_size: int,
    n_ladder: int = 18,
) -> tuple[list[dict[str, Any]], Trajectory, float]:
    """Replay to max_coverage; (ladder of {n, nrmse}), the trajectory, wall seconds."""
    ladder = [float(c) for c in np.geomspace(0.01, max_coverage, n_ladder)]
    strategy = "fast" if name == "fast-erd-only" else name
    sampler = make_sampler(
        strategy,
        truth.shape,
        max_coverage=max_coverage,
        batch_size=batch_size,
        seed=0,
        motion=motion,
        motion_weight=0.0 if name == "fast-erd-only" else None,
        coverages=ladder,
    )
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    start = time.perf_counter()
    snaps = replay(sampler, SimulatedDetector(truth), ladder, trajectory=builder)
    wall = time.perf_counter() - start
    curve = [{"n": s.n_measured, "nrmse": best_nrmse(truth, s.measured_mask)} for s in snaps]
    return curve, builder.trajectory(), wall


def run_image(label: str, truth: np.ndarray, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    truth = np.asarray(truth, float)
    t0 = time.perf_counter()
    refs = cached_static_references(label, truth, args.dwells, args.cache)
    by_k = {e["k"]: e["nrmse"] for e in refs["fly-raster"]}
    targets = {"fly every 4th row": by_k[4], "fly every 2nd row": by_k[2]}
    log(f"{label} {truth.shape}: targets " + ", ".join(f"{k} {v:.4f}" for k, v in targets.items())
        + f" (static refs {time.perf_counter() - t0:.0f} s)")  # fmt: skip
    results: dict[str, Any] = {"shape": list(truth.shape), "targets": targets, "static": {},
                               "strategies": {}, "curves": {}}  # fmt: skip
    for dwell in args.dwells:
        for target_name, target in targets.items():
            key = f"{dwell:g}|{target_name}"
            results["static"][key] = {name: time_to(refs[name], target, dwell) for name in STATIC}
    for name in args.strategies:
        per_dwell = name in TIMED
        base = None
        found: dict[str, int | None] = {}  # readings to each target (untimed strategies)
        for dwell in args.dwells:
            motion = NANOPROBE.replace(dwell=dwell)
            if per_dwell or base is None:
                curve, traj, wall = adaptive_curve(
                    name, truth, motion, args.max_coverage, args.batch_size, args.ladder
                )
                base = (curve, traj)
                log(f"  {name:<14} dwell {dwell:g}: replay {wall:.0f} s, "
                    f"{traj.n_readings} readings, {traj.beam_time:.0f} s beam")  # fmt: skip
            curve, traj = base
            timed = traj if per_dwell else retime(traj, motion)
            points = [
                {"n": c["n"], "nrmse": c["nrmse"], "time": float(timed.t_end[c["n"] - 1])}
                for c in curve
            ]
            results["curves"][f"{name}|{dwell:g}"] = points
            for target_name, target in targets.items():
                hit = [p["time"] for p in points if p["nrmse"] <= target + 1e-12]
                if per_dwell or target_name not in found:
                    # between the last ladder snapshot short of it and the first one
                    # reaching it (the end of the scan if none does)
                    ns = [p["n"] for p in points]
                    hit_n = [p["n"] for p in points if p["nrmse"] <= target + 1e-12]
                    hi = hit_n[0] if hit_n else None
                    lo = max([n for n in ns if hi is None or n < hi], default=0)
                    found[target_name] = first_hit(truth, timed, target, lo, hi)
                if found[target_name] is not None:  # between the ladder's snapshots
                    hit.append(float(timed.t_end[found[target_name] - 1]))
                key = f"{dwell:g}|{target_name}"
                results["strategies"].setdefault(key, {})[name] = min(hit) if hit else math.inf
    results["static_curves"] = {
        name: [{"nrmse": e["nrmse"], "time": {f"{d:g}": t for d, t in e["time"].items()}}
               for e in refs[name]]
        for name in STATIC
    }  # fmt: skip
    return results


# ---------------------------------------------------------------------------- report
def fmt_time(t: float) -> str:
    return "   >cap" if not math.isfinite(t) else f"{t:7.0f}" if t >= 10 else f"{t:7.1f}"


def table(label: str, res: dict[str, Any], strategies: list[str]) -> str:
    head = f"{'dwell':>6} {'target':<18}{'NRMSE':>7}{'raster':>8}{'fly-r.':>8}{'fly-c.':>8}"
    head += f"{'best st':>8}"
    head += "".join(f"{s[:8]:>9}" for s in strategies) + f"{'best/st':>8}"
    by_rule = {"fast", "fast-fly"} <= set(strategies)
    head += f"{'rule/st':>8}" if by_rule else ""
    lines = [f"== {label} {tuple(res['shape'])}", head]
    for key, static in res["static"].items():
        dwell, target_name = key.split("|")
        best_static = min(static.values())
        mine = res["strategies"].get(key, {})
        best = min(
            [mine.get(s, math.inf) for s in strategies if s != "fast-erd-only"] or [math.inf]
        )
        ratio = best / best_static if math.isfinite(best) and best_static > 0 else math.inf
        line = (
            f"{float(dwell) * 1e3:>4g}ms {target_name[4:]:<18}{res['targets'][target_name]:>7.4f}"
        )
        line += "".join(f"{fmt_time(static.get(name, math.inf)):>8}" for name in STATIC)
        line += f"{fmt_time(best_static):>8}"
        line += "".join(f"{fmt_time(mine.get(s, math.inf)):>9}" for s in strategies)
        line += f"{ratio:>8.2f}" if math.isfinite(ratio) else f"{'-':>8}"
        if by_rule:  # the mode fastscan.fly.mode.best_strategy picks for this dwell
            pick = mine.get(best_strategy(NANOPROBE.replace(dwell=float(dwell))), math.inf)
            rule = pick / best_static if math.isfinite(pick) and best_static > 0 else math.inf
            line += f"{rule:>8.2f}" if math.isfinite(rule) else f"{'-':>8}"
        lines.append(line)
    return "\n".join(lines)


def figure(results: dict[str, Any], dwells: tuple[float, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(results)
    fig, axes = plt.subplots(len(labels), len(dwells), figsize=(4 * len(dwells), 3.2 * len(labels)),
                             squeeze=False)  # fmt: skip
    for i, label in enumerate(labels):
        res = results[label]
        for j, dwell in enumerate(dwells):
            ax = axes[i][j]
            for name, entries in res["static_curves"].items():
                pts = sorted((e["time"][f"{dwell:g}"], e["nrmse"]) for e in entries)
                style = {"raster": "k--", "fly-raster": "k:"}.get(name, "k-.")
                ax.plot(*zip(*pts), style, label=f"{name} (static)")
            for key, curve in res["curves"].items():
                name, d = key.split("|")
                if d == f"{dwell:g}":
                    ax.plot([p["time"] for p in curve], [p["nrmse"] for p in curve], "o-", ms=3,
                            label=name)  # fmt: skip
            for target in res["targets"].values():
                ax.axhline(target, color="grey", lw=0.5)
            ax.set_xscale("log")
            ax.set_title(f"{label}, dwell {dwell * 1e3:g} ms", fontsize=9)
            ax.set_xlabel("beam time (s)")
            ax.set_ylabel("NRMSE (best of IDW, linear)")
            ax.grid(alpha=0.3, which="both")
            ax.set_ylim(0, 2.5 * max(res["targets"].values()))
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def latency(truth: np.ndarray, weights=(0.0, 3.0), max_coverage: float = 0.05) -> None:
    """Batch choice time (50 points) in a real scan: ERD-only vs motion-aware, and suggest()."""
    from fastscan import Sampler

    for weight in weights:
        s = Sampler(truth.shape, batch_size=50, seed=0, max_coverage=max_coverage,
                    motion=NANOPROBE, motion_weight=weight, change_tolerance=None)  # fmt: skip
        choose, suggest = [], []
        while not s.should_stop():
            t0 = time.perf_counter()
            pts = s.suggest()
            t1 = time.perf_counter()
            if len(pts) == 50 and s.n_measured > 0 and s.coverage > 0.012:
                t2 = time.perf_counter()
                s._select(50)  # the batch choice alone, again (it changes no state)
                choose.append(time.perf_counter() - t2)
                suggest.append(t1 - t0)
            s.ingest(pts, truth[pts[:, 0], pts[:, 1]])
        c, g = np.array(choose) * 1e3, np.array(suggest) * 1e3
        print(
            f"{truth.shape} motion_weight {weight:g}: batch choice median {np.median(c):.2f} ms "
            f"(p95 {np.percentile(c, 95):.2f}); suggest incl. route median {np.median(g):.2f} "
            f"ms (p95 {np.percentile(g, 95):.2f}); {len(c)} batches to {max_coverage:.0%}"
        )


def use_fly_params(params: dict[str, Any]) -> None:
    """Make the ``fast-fly`` strategy build its FlySampler with ``params`` on top."""
    import fastscan.fly.sampler as fly

    plain = fly.fast_fly_sampler

    def with_params(shape: tuple[int, int], settings: Any) -> Any:
        sampler = plain(shape, settings)
        return fly.FlySampler(
            shape,
            motion=sampler.motion,
            max_coverage=sampler.max_coverage,
            seed=sampler.seed,
            model=settings.model,
            **params,
        )

    fly.fast_fly_sampler = with_params


def use_fly_defaults(defaults: dict[str, Any]) -> None:
    """Make every FlySampler made from now on default to ``defaults`` (keyword: value)."""
    from fastscan.fly import FlySampler

    kwdefaults = FlySampler.__init__.__kwdefaults__
    unknown = sorted(set(defaults) - set(kwdefaults))
    if unknown:
        raise ValueError(f"--fly-defaults: FlySampler has no keyword(s) {unknown}")
    kwdefaults.update(defaults)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", default=DEFAULT_IMAGE, help="WSe2 path ('' to skip)")
    p.add_argument(
        "--unseen",
        default=None,
        help=f"scikit-image names, 'none' for none (default: {','.join(DEFAULT_UNSEEN)}, none "
        f"with --set; available: {', '.join(UNSEEN)})",
    )
    p.add_argument(
        "--set",
        choices=("test", "validation", "sparse", "stop-check"),
        default=None,
        help="the validation or test set of fastscan.compare.imagesets (noise-free images); "
        "replaces --unseen",
    )
    p.add_argument("--size", type=int, default=256, help="long side of the unseen images")
    p.add_argument("--dwells", default=",".join(f"{d:g}" for d in DWELLS))
    default = ["fast", "fast-erd-only", *[n for n in STRATEGIES if n not in ("fast",)]]
    p.add_argument("--strategies", default=",".join(default))
    p.add_argument("--max-coverage", type=float, default=0.4)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--ladder", type=int, default=18,
                   help="snapshots scored per adaptive run (the times to target are then "
                        "refined between them by bisection)")  # fmt: skip
    add_cache_option(p)
    p.add_argument("--only", default="", help="keep only these of the set's images (a,b,...)")
    p.add_argument("--out", default="bench-beamtime-out")
    p.add_argument("--transpose", action="store_true",
                   help="also each image transposed, as NAME-T right after it (an axis rule "
                        "should give an image and its transpose the same ratios)")  # fmt: skip
    p.add_argument("--fly-params", default="",
                   help='FlySampler keywords for fast-fly, JSON: {"fly_axis": "rows"}')  # fmt: skip
    p.add_argument("--fly-defaults", default="",
                   help="FlySampler defaults for every FlySampler (fast-fly and fast-auto's fly "
                        'branch), JSON: {"erd_floor": 0.0}')  # fmt: skip
    p.add_argument(
        "--latency",
        action="store_true",
        help="only time the batch choice (ERD-only vs motion-aware) on the images",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="WSe2 + 2 unseen images at 128 px, dwells 0.01 and 0.1, fast strategies",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)  # fmt: skip
    if args.quick:
        args.unseen, args.size, args.dwells = "brick,cell", 128, "0.01,0.1"
        args.strategies = ",".join(s for s in ("fast", "fast-erd-only", "fast-fly")
                                   if s in STRATEGIES or s == "fast-erd-only")  # fmt: skip
        args.max_coverage = min(args.max_coverage, 0.3)
    args.dwells = tuple(float(d) for d in args.dwells.split(","))
    if args.fly_params:
        use_fly_params(json.loads(args.fly_params))
    if args.fly_defaults:
        use_fly_defaults(json.loads(args.fly_defaults))
    args.strategies = [s for s in args.strategies.split(",") if s]
    for name in args.strategies:
        if name not in STRATEGIES and name != "fast-erd-only":
            p.error(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if args.unseen is None:  # --set replaces the default images
        args.unseen = "none" if args.set is not None else ",".join(DEFAULT_UNSEEN)
    unseen = () if args.unseen in ("", "none") else tuple(args.unseen.split(","))
    only = tuple(args.only.split(",")) if args.only else None
    if args.set is None and only:
        unseen = tuple(n for n in unseen if n in only)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.latency:
        for truth in load_images(args.image or None, unseen, args.size).values():
            latency(np.asarray(truth, float))
        return 0
    images = load_images(args.image or None, unseen, args.size)
    if args.set is not None:
        images.update(set_images(args.set, args.size, only, log))
    if args.transpose:
        images = with_transposes(images)
    results = {}
    for label, truth in images.items():
        results[label] = run_image(label, truth, args, log)
        print(table(label, results[label], args.strategies), flush=True)
        summary = {
            "time_model": {**NANOPROBE.__dict__, "dwell": list(args.dwells)},
            "args": {k: v for k, v in vars(args).items()},
            "results": results,
        }  # written after every image: a long run interrupted keeps what it measured
        (out / "bench_beamtime.json").write_text(json.dumps(summary, indent=1, default=str))
    figure(results, args.dwells, out / "nrmse_vs_beam_time.png")
    print(f"wrote {out}/bench_beamtime.json and nrmse_vs_beam_time.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
