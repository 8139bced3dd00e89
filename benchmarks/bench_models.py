"""Downstream-model benchmark: denoisers and segmenters on fast-strategy scans (not run by CI).

Samples, none of them used in training:

* the WSe2 dark-field image (``../shared/data/wse2_darkfield_600x400.tif``, held out);
* phantoms "flakes", "particles", "grains" at 600 x 400 with evaluation seeds
  (>= 1000; training uses seeds 100-999), noise-free, and the same phantoms
  with Poisson noise (``+p500``: 500 counts at the brightest pixel; the noisy
  image is the truth, as the full raster of a real sample would be).

For each, ``fastscan.Sampler(shape, batch_size=50, seed=0)`` scans against the
image (``change_tolerance=None`` so that it runs on to the coverage; nothing
else changed) and the frame (``sampler.reconstruction``, ``sampler.measured_mask``)
is taken at 5, 10 and 20 % coverage. Printed:

1. PSNR / SSIM / NRMSE (skimage; ``data_range = gt.max() - gt.min()``) of the IDW
   reconstruction, biharmonic inpainting of the measured pixels
   (``skimage.restoration.inpaint_biharmonic``), TV and the U-Net denoiser, and
   whether the U-Net beats both IDW and biharmonic on all three metrics;
2. foreground IoU / Dice and instance IoU of each segmenter against the
   phantoms' true labels at 10 and 20 %;
3. CPU latency per 600 x 400 frame of every model (one torch thread).

Usage::

    python benchmarks/bench_models.py [--out runs/bench_models] [--quick]

Frames and biharmonic results are cached in ``--out``; figures and
``bench_models.json`` are written there.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fastscan import Sampler
from fastscan.models import create_model
from fastscan.models._data import EVAL_PHANTOM_SEEDS
from fastscan.models.evaluation import evaluate_models, save_model_figure
from fastscan.models.scores import foreground_scores, image_scores, instance_iou
from fastscan.phantoms import PHANTOMS, make_phantom_with_labels

#: default --wse2: ../shared/data relative to the repository
_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
WSE2 = _DATA / "wse2_darkfield_600x400.tif"
COVERAGES = (0.05, 0.1, 0.2)
SEG_COVERAGES = (0.1, 0.2)
DENOISERS = ("idw", "biharmonic", "tv", "unet-denoiser")
SEGMENTERS = ("otsu", "watershed", "unet-segmenter")
POISSON_PEAK = 500.0


def fast_frames(name: str, truth: np.ndarray, out: Path) -> dict[float, tuple[np.ndarray, ...]]:
    """Sampler frames (reconstruction, mask) at each coverage, cached in ``out``."""
    cache = out / f"frames_{name}.npz"
    if cache.exists():
        data = np.load(cache)
        return {c: (data[f"recon_{c}"], data[f"mask_{c}"]) for c in COVERAGES}
    sampler = Sampler(
        truth.shape, batch_size=50, seed=0, max_coverage=max(COVERAGES), change_tolerance=None
    )
    frames: dict[float, tuple[np.ndarray, ...]] = {}
    start = time.perf_counter()
    while len(frames) < len(COVERAGES):
        points = sampler.suggest()
        if len(points) == 0:
            raise RuntimeError(f"sampler stopped at {sampler.coverage:.1%}: {sampler.stop_reason}")
        sampler.ingest(points, truth[points[:, 0], points[:, 1]])
        for c in COVERAGES:
            if c not in frames and sampler.coverage >= c - 1e-9:
                frames[c] = (sampler.reconstruction.copy(), sampler.measured_mask.copy())
    print(f"  scanned {name} to {sampler.coverage:.1%} in {time.perf_counter() - start:.0f} s")
    np.savez_compressed(
        cache,
        **{f"recon_{c}": frames[c][0] for c in frames},
        **{f"mask_{c}": frames[c][1] for c in frames},
    )
    return frames


def biharmonic(name: str, coverage: float, truth: np.ndarray, mask: np.ndarray, out: Path):
    """skimage biharmonic inpainting of the measured pixels (cached: seconds per frame)."""
    from skimage.restoration import inpaint_biharmonic

    cache = out / f"biharmonic_{name}_{coverage}.npy"
    if cache.exists():
        return np.load(cache), float("nan")
    start = time.perf_counter()
    image = inpaint_biharmonic(np.where(mask, truth, 0.0), ~mask)
    seconds = time.perf_counter() - start
    np.save(cache, image)
    return image, seconds


def samples(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(name, truth in detector-like units, true labels or None)."""
    out: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    if WSE2.exists():
        import tifffile

        out.append(("wse2", tifffile.imread(WSE2).astype(np.float64), None))
    else:
        print(f"note: {WSE2} not found; phantoms only")
    seeds = EVAL_PHANTOM_SEEDS[:1] if quick else EVAL_PHANTOM_SEEDS
    rng = np.random.default_rng(12345)
    for phantom in PHANTOMS:
        for seed in seeds:
            image, labels = make_phantom_with_labels(phantom, (600, 400), seed=seed)
            out.append((f"{phantom}-{seed}", image * 1e5, labels))
            counts = rng.poisson(image * POISSON_PEAK).astype(np.float64)
            out.append((f"{phantom}-{seed}+p{POISSON_PEAK:g}", counts, labels))
    return out


def _table_row(rows, name, coverage, model):
    return next(
        r for r in rows if (r["image"], r["coverage"], r["model"]) == (name, coverage, model)
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench_models"))
    parser.add_argument("--wse2", type=Path, default=WSE2,
                        help="the WSe2 image (default ../shared/data/... relative to the "
                        "repository; phantoms only when absent)")  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="one phantom seed (1000) instead of two"
    )
    return parser


def main() -> None:
    global WSE2
    parser = build_parser()
    args = parser.parse_args()
    WSE2 = args.wse2
    import torch

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    cases = samples(args.quick)
    denoisers = {n: create_model(n, device="cpu") if n.startswith("unet") else create_model(n)
                 for n in DENOISERS if n != "biharmonic"}  # fmt: skip
    segmenters = {n: create_model(n, device="cpu") if n.startswith("unet") else create_model(n)
                  for n in SEGMENTERS}  # fmt: skip
    rows, seg_rows = [], []
    for name, truth, labels in cases:
        frames = fast_frames(name, truth, args.out)
        for coverage, (recon, mask) in frames.items():
            image, seconds = biharmonic(name, coverage, truth, mask, args.out)
            outputs = {"biharmonic": (image, seconds)}
            for model_name, model in denoisers.items():
                start = time.perf_counter()
                refined = model(recon, mask)
                outputs[model_name] = (refined, time.perf_counter() - start)
            for model_name, (image, seconds) in outputs.items():
                rows.append({"image": name, "coverage": coverage, "model": model_name,
                             "seconds": seconds, **image_scores(truth, image)})  # fmt: skip
            if name == "wse2" and coverage == 0.1:
                result = {"metrics": {"denoise_model": "unet-denoiser",
                                      "denoise_psnr": rows[-1]["psnr"],
                                      "input_psnr": image_scores(truth, recon)["psnr"]},
                          "denoised": outputs["unet-denoiser"][0]}  # fmt: skip
                save_model_figure(args.out / "wse2_10pct_unet.png", truth, recon, mask, result)
            if labels is None or coverage not in SEG_COVERAGES:
                continue
            for model_name, model in segmenters.items():
                predicted = model(recon, mask)
                seg_rows.append({"image": name, "coverage": coverage, "model": model_name,
                                 **foreground_scores(labels, predicted),
                                 "instance_iou": instance_iou(labels, predicted)})  # fmt: skip
            if coverage == 0.1 and "+" not in name:
                for model_name in ("watershed", "unet-segmenter"):
                    result = evaluate_models(truth, recon, mask, segment=segmenters[model_name],
                                             labels=labels)  # fmt: skip
                    path = args.out / f"{name}_10pct_{model_name}.png"
                    save_model_figure(path, truth, recon, mask, result)

    print("\nDenoising (fast-strategy frames): PSNR dB / SSIM / NRMSE")
    print(f"{'image':22s} {'cov':>4s} " + " ".join(f"{m:>24s}" for m in DENOISERS) + "  beats")
    wins = 0
    for name, *_ in cases:
        for coverage in COVERAGES:
            cells = []
            for m in DENOISERS:
                r = _table_row(rows, name, coverage, m)
                cells.append(f"{r['psnr']:6.2f} / {r['ssim']:.4f} / {r['nrmse']:.4f}")
            ours = _table_row(rows, name, coverage, "unet-denoiser")
            beats = all(
                ours["psnr"] > _table_row(rows, name, coverage, b)["psnr"]
                and ours["ssim"] > _table_row(rows, name, coverage, b)["ssim"]
                and ours["nrmse"] < _table_row(rows, name, coverage, b)["nrmse"]
                for b in ("idw", "biharmonic")
            )
            wins += beats
            line = f"{name:22s} {coverage:4.0%} " + " ".join(f"{c:>24s}" for c in cells)
            print(line + ("  yes" if beats else "  NO"))
    n_cases = len(cases) * len(COVERAGES)
    print(f"U-Net beats IDW and biharmonic on PSNR, SSIM and NRMSE: {wins}/{n_cases} cases")

    print("\nSegmentation (phantoms, fast strategy): foreground IoU / Dice / instance IoU")
    print(f"{'image':22s} {'cov':>4s} " + " ".join(f"{m:>22s}" for m in SEGMENTERS))
    for name, _, labels in cases:
        if labels is None:
            continue
        for coverage in SEG_COVERAGES:
            cells = []
            for m in SEGMENTERS:
                r = _table_row(seg_rows, name, coverage, m)
                cells.append(f"{r['iou']:.3f} / {r['dice']:.3f} / {r['instance_iou']:.3f}")
            print(f"{name:22s} {coverage:4.0%} " + " ".join(f"{c:>22s}" for c in cells))
    for coverage in SEG_COVERAGES:
        for m in SEGMENTERS:
            sel = [r for r in seg_rows if r["model"] == m and r["coverage"] == coverage]
            print(f"  mean at {coverage:.0%} {m:15s} IoU {np.mean([r['iou'] for r in sel]):.3f} "
                  f"Dice {np.mean([r['dice'] for r in sel]):.3f} "
                  f"instance IoU {np.mean([r['instance_iou'] for r in sel]):.3f}")  # fmt: skip

    latency = {}
    recon, mask = fast_frames(cases[0][0], cases[0][1], args.out)[0.1]
    print(f"\nCPU latency per {recon.shape[0]} x {recon.shape[1]} frame (10 % coverage), "
          "one torch thread, median of 5 (biharmonic: 1)")  # fmt: skip
    models = {**denoisers, "biharmonic": create_model("biharmonic"), **segmenters}
    models["unet-denoiser tta=1"] = create_model("unet-denoiser", device="cpu", tta=1)
    for name, model in models.items():
        repeats = 1 if name == "biharmonic" else 5
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            model(recon, mask)
            times.append(time.perf_counter() - start)
        latency[name] = float(np.median(times[1:]))
        print(f"  {name:20s} {1e3 * latency[name]:8.1f} ms")
    (args.out / "bench_models.json").write_text(
        json.dumps({"denoise": rows, "segment": seg_rows, "latency_s": latency}, indent=1)
    )
    print(f"\nwrote {args.out / 'bench_models.json'} and figures in {args.out}")


if __name__ == "__main__":
    main()
