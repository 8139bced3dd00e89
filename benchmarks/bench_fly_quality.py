"""Beam time for ``fast-fly`` to reach a fly raster's NRMSE, as a fraction of the raster's time.

Targets: the NRMSE of a serpentine fly raster of every 4th and of every 2nd row; the figure is
(time fast-fly needs) / (time the raster needs), under the nanoprobe model at each dwell. NRMSE
is that of the IDW (k=10) reconstruction of the measured pixels (conservative: the best of IDW
and linear interpolation can only be lower). Checkpoints every 5 % of each raster's time; a run
stops once both targets are reached; ``None`` = not reached within the every-2nd-row raster's
time.

Usage (from the repository root)::

    python benchmarks/bench_fly_quality.py --images wse2 --dwells 0.001,0.01,0.1,1
    python benchmarks/bench_fly_quality.py --images page,text,clock --dwells 0.01

Images: ``wse2`` (from ``--data``, default ``../shared/data``), ``ph-<phantom>`` (300 x 400),
or a scikit-image bundled image by name (RGB converted to grey).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fastscan.beamtime import TrajectoryBuilder
from fastscan.fly import FlySampler, Segment, segments_to_points
from fastscan.metrics import nrmse
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom
from fastscan.reconstruction import idw_reconstruction


def load(name: str, data: str) -> np.ndarray:
    if name == "wse2":
        from fastscan.imageio import load_image

        return load_image(Path(data) / "wse2_darkfield_600x400.tif")[0].astype(float)
    if name.startswith("ph-"):
        return make_phantom(name[3:], (300, 400), seed=3)
    import skimage.data
    from skimage.color import rgb2gray

    image = getattr(skimage.data, name)()
    return (rgb2gray(image[..., :3]) if image.ndim == 3 else image).astype(float)


def score(image: np.ndarray, mask: np.ndarray) -> float:
    recon = idw_reconstruction(image.shape, np.argwhere(mask), image[mask], k=10)
    return nrmse(image, recon)


def fly_raster(shape: tuple[int, int], k: int) -> list[Segment]:
    n_rows, n_cols = shape
    rows = range(0, n_rows, k)
    return [
        Segment((r, 0), (r, n_cols - 1)) if i % 2 == 0 else Segment((r, n_cols - 1), (r, 0))
        for i, r in enumerate(rows)
    ]


def time_to_targets(image: np.ndarray, dwell: float, kw: dict) -> tuple[dict, dict, list]:
    motion = NANOPROBE.replace(dwell=dwell)
    ref = {}
    for k in (4, 2):
        builder = TrajectoryBuilder(motion)
        segments = fly_raster(image.shape, k)
        builder.add_segments(segments)
        points, _ = segments_to_points(segments)
        mask = np.zeros(image.shape, bool)
        mask[points[:, 0], points[:, 1]] = True
        ref[k] = (score(image, mask), builder.time)
    fs = FlySampler(image.shape, motion=motion, max_coverage=1.0, time_budget=ref[2][1], **kw)
    checks = sorted(
        {round(f * ref[k][1], 6) for k in (4, 2) for f in np.arange(0.05, 1.0001, 0.05)}
    )
    hit: dict[int, float | None] = {4: None, 2: None}
    state = {"next": 0}
    decide: list[float] = []

    def evaluate(upto: float) -> None:
        trajectory = fs.trajectory
        while state["next"] < len(checks) and checks[state["next"]] <= upto:
            t = checks[state["next"]]
            state["next"] += 1
            n = int(np.searchsorted(trajectory.t_end, t, side="right"))
            if n < 50:
                continue
            mask = np.zeros(image.shape, bool)
            mask[trajectory.points[:n, 0], trajectory.points[:n, 1]] = True
            error = score(image, mask)
            for k in (4, 2):
                if hit[k] is None and error <= ref[k][0]:
                    hit[k] = t / ref[k][1]

    while not fs.should_stop() and (hit[4] is None or hit[2] is None):
        start = time.perf_counter()
        segments = fs.suggest_segments()
        decide.append(time.perf_counter() - start)
        if not segments:
            break
        for segment in segments:
            points = segment.pixels()
            fs.ingest(points, image[points[:, 0], points[:, 1]])
        evaluate(fs.trajectory.beam_time)
    evaluate(np.inf)
    return ref, hit, decide


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="wse2")
    parser.add_argument("--dwells", default="0.001,0.01,0.1,1")
    parser.add_argument("--kw", default="{}", help="FlySampler keywords, as JSON")
    parser.add_argument("--data", default=str(Path("..") / "shared" / "data"))
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    kw = json.loads(args.kw)
    for name in args.images.split(","):
        image = load(name, args.data)
        for dwell in (float(d) for d in args.dwells.split(",")):
            start = time.perf_counter()
            ref, hit, decide = time_to_targets(image, dwell, kw)
            ratio = {k: None if hit[k] is None else round(hit[k], 3) for k in (4, 2)}
            print(
                f"{name:12s} {image.shape!s:11s} dwell {dwell:<6}"
                f" | every-4th target {ref[4][0]:.4f}, raster {ref[4][1]:8.1f} s,"
                f" fast-fly/raster {ratio[4]}"
                f" | every-2nd target {ref[2][0]:.4f}, raster {ref[2][1]:8.1f} s,"
                f" fast-fly/raster {ratio[2]}"
                f" | decide p95 {np.percentile(decide, 95) * 1e3:.1f} ms,"
                f" wall {time.perf_counter() - start:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
