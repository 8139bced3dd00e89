"""Feasibility of a small fully-convolutional ERD (DLADS-like) for early decisions (issue 12).

Usage (from the repository root; ``--work`` is a scratch folder, default ``cnn-erd-work``)::

    python benchmarks/bench_cnn_erd.py data                 # states of training-image scans
    python benchmarks/bench_cnn_erd.py train --minutes 25   # fit the net (CPU, one thread)
    python benchmarks/bench_cnn_erd.py scan                 # WSe2 + 4 validation images
    python benchmarks/bench_cnn_erd.py time                 # forward pass, 600 x 400 and 2048^2

``data`` runs the sampler with the shipped ``l2`` model (seeds 0, 1) and the ``default``
model (seed 0), and random uniform masks, on the TRAINING images only
(:func:`fastscan.erd.training.training_images`: camera, coins, moon, text, astronaut and the
phantoms flakes / particles / grains seeds 0, 1), and keeps the states at 1.2-20 % coverage
(weighted to 1-10 %). From each state it cuts random 112 x 112 crops of four input maps:
the sampler's IDW reconstruction scaled by the measured range to [0, 1], the measured mask,
the measured values (reconstruction times mask) and log1p of the distance to the nearest
measurement; the target is log1p of the L2 RD (:func:`fastscan.erd.target.rd_target`,
``power=2``, in units of 1 % of the measured range) of the unmeasured pixels of the central
80 x 80 (a 16-pixel margin, so the crop's borders do not stand in for image borders).

``train`` fits :class:`DilatedERD` (six 3x3 convolutions with dilations 1, 2, 4, 8, 16, 1,
a 65-pixel receptive field, 24 channels, about 27 thousand parameters, then a 1x1 output)
with MSE on the target of the unmeasured pixels, random flips and transposes, Adam, one
thread. It writes a torch state dict (``weights_only`` loading; nothing is shipped).

``scan`` runs :func:`bench_oracle.run`'s loop (default :class:`fastscan.Sampler`, 1 % Halton
start, batch 50, spread 0.5, no motion model, IDW k = 10 NRMSE from the chosen points) with
the ERD map overwritten by the net's output before every batch, next to the ``l2`` and
``default`` models in the same loop: WSe2 (600 x 400, seeds 0, 1, 5 / 10 %) and clock, cell,
particles-100, hubble_deep_field (256 px, seeds 0, 1, 5 / 10 / 20 %). All validation images;
the test set is never touched.

Figures (measured 30 Nov 2026 on 7eed297, 2-core machine shared with three other helpers,
load 7-13; NRMSE means of seeds 0, 1; docs/erd-model.md section "A CNN ERD (DLADS-like)"):

1. ``l2`` / ``default`` in the loop (``scan --labels l2,default``): WSe2 0.2682 / 0.1860 and
   0.2768 / 0.2030 at 5 / 10 %; clock 0.0246 / 0.0172 / 0.0129, cell 0.0425 / 0.0310 /
   0.0210, particles-100 0.1288 / 0.0657 / 0.0073, Hubble 0.6063 / 0.4977 / 0.3515 (``l2``,
   5 / 10 / 20 %).
2. Pure CNN (``data``; ``train --minutes 24``: 718 steps, held-out crop log-MSE 0.864,
   ``l2``'s 0.194 on the same crops; ``scan --labels cnn``): WSe2 0.4016 / 0.3582; clock
   0.1012 / 0.0985 / 0.0861, cell 0.1370 / 0.1365 / 0.1318, particles-100 0.4886 / 0.2566 /
   0.1433, Hubble 0.8139 / 0.8149 / 0.7367. ``rank``: top 1 % 0.225 / 0.213 / 0.192 at
   2 / 5 / 10 % (``l2`` 0.555 / 0.499 / 0.488).
3. CNN correcting ``l2`` (``--base l2 --work cnn-erd-work/res`` for ``data``, ``train
   --minutes 12`` (281 steps, held-out log-MSE 0.174 at step 200), ``scan --labels cnn`` and
   ``rank``): WSe2 0.2647 / 0.1826; clock 0.0251 / 0.0173 / 0.0128, cell 0.0423 / 0.0312 /
   0.0216, particles-100 0.1203 / 0.0697 / 0.0688 (a stall), Hubble 0.6052 / 0.4962 /
   0.3403. ``rank``: Spearman 0.909 / 0.896 / 0.879, top 1 % 0.646 / 0.544 / 0.523.
4. ``time`` (pure net, input maps included, load 7-9): 600 x 400 2159 ms on one thread,
   1008 ms on two; 2048 x 2048 27.8 s and 17.4 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_oracle import add_data_option  # the WSe2 benchmarks' --data

CROP = 112
MARGIN = 16
COVERAGES = (0.012, 0.02, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.15, 0.2)


#: the base ERD model (``--base l2``: a fifth input, log1p of its ERD, that the net corrects)
BASE: dict[str, object] = {"model": None}


def input_maps(recon: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """(4 or 5, H, W) float32 net inputs of one state and the measured range scaling them."""
    values = recon[mask]
    lo, hi = float(values.min()), float(values.max())
    scale = hi - lo if hi > lo else 1.0
    recon_n = (recon - lo) / scale
    d1 = ndimage.distance_transform_edt(~mask)
    maps = [recon_n, mask, recon_n * mask, np.log1p(d1) / 3.0]
    if BASE["model"] is not None:
        from fastscan.features import compute_features

        pixels, features, _ = compute_features(mask, recon, scale=100.0 / scale)
        base = np.zeros(mask.shape)
        base[pixels[:, 0], pixels[:, 1]] = np.log1p(np.maximum(BASE["model"].predict(features), 0))
        maps.append(base)
    return np.stack(maps).astype(np.float32), scale


def _states(image: np.ndarray, rng: np.random.Generator):
    """Masks and reconstructions: sampler scans (l2 seeds 0, 1; default seed 0), random masks."""
    from fastscan import Sampler
    from fastscan.compare.evaluate import idw_from_points

    for model, seed in (("l2", 0), ("l2", 1), ("default", 0)):
        sampler = Sampler(
            image.shape, batch_size=50, seed=seed, max_coverage=COVERAGES[-1] + 0.005,
            change_tolerance=None, model=model,
        )  # fmt: skip
        left = list(COVERAGES)
        while left and not sampler.should_stop():
            points = sampler.suggest()
            if len(points) == 0:
                break
            sampler.ingest(points, image[points[:, 0], points[:, 1]])
            if sampler.coverage >= left[0]:
                left.pop(0)
                yield np.array(sampler.measured_mask), np.array(sampler.reconstruction)
    for coverage in COVERAGES[::2]:
        mask = rng.random(image.shape) < coverage
        yield mask, idw_from_points(mask, np.where(mask, image, 0.0))


def make_data(work: Path, crops_per_state: int) -> None:
    """Crops of input maps and targets from the training images' states (see module doc)."""
    from fastscan.erd.target import rd_target
    from fastscan.erd.training import TrainingConfig, training_images

    rng = np.random.default_rng(0)
    inputs, targets = [], []
    for name, image in training_images(TrainingConfig()):
        start = time.perf_counter()
        for mask, recon in _states(image, rng):
            maps, scale = input_maps(recon, mask)
            d1_map = ndimage.distance_transform_edt(~mask)
            for _ in range(crops_per_state):
                r0 = int(rng.integers(0, image.shape[0] - CROP + 1))
                c0 = int(rng.integers(0, image.shape[1] - CROP + 1))
                inner = np.zeros((CROP, CROP), bool)
                inner[MARGIN:-MARGIN, MARGIN:-MARGIN] = True
                inner &= ~mask[r0 : r0 + CROP, c0 : c0 + CROP]
                local = np.argwhere(inner)
                pixels = local + np.array([r0, c0])
                d1 = d1_map[pixels[:, 0], pixels[:, 1]]
                rd = rd_target(image, recon, pixels, d1, power=2.0)
                target = np.full((CROP, CROP), np.nan, np.float32)
                target[local[:, 0], local[:, 1]] = np.log1p(rd * 100.0 / scale)
                inputs.append(maps[:, r0 : r0 + CROP, c0 : c0 + CROP].astype(np.float16))
                targets.append(target.astype(np.float16))
        print(f"{name}: {len(inputs)} crops ({time.perf_counter() - start:.0f} s)", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(work / "crops.npz", inputs=np.stack(inputs), targets=np.stack(targets))


def _net(channels: int = 24):
    import torch
    from torch import nn

    residual = BASE["model"] is not None

    class DilatedERD(nn.Module):
        """Six dilated 3x3 convolutions (1, 2, 4, 8, 16, 1) and a 1x1 output; with a base
        model, the output is the base's log1p ERD (fifth input) plus the net's correction."""

        def __init__(self) -> None:
            super().__init__()
            layers, c_in = [], 5 if residual else 4
            for dilation in (1, 2, 4, 8, 16, 1):
                layers += [nn.Conv2d(c_in, channels, 3, padding=dilation, dilation=dilation)]
                layers += [nn.LeakyReLU(0.1)]
                c_in = channels
            layers += [nn.Conv2d(c_in, 1, 1)]
            if residual:
                nn.init.zeros_(layers[-1].weight)
                nn.init.zeros_(layers[-1].bias)
            self.body = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.body(x)[:, 0]
            return out + x[:, 4] if residual else out

    return DilatedERD()


def train(work: Path, minutes: float, batch: int, threads: int) -> None:
    """Fit the net on the crops for ``minutes``; hold out one crop in ten (by state) for loss."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = np.load(work / "crops.npz")
    x_all = torch.from_numpy(data["inputs"].astype(np.float32))
    y_all = torch.from_numpy(data["targets"].astype(np.float32))
    held = np.arange(len(x_all)) % 10 == 0
    x, y = x_all[~held], y_all[~held]
    xh, yh = x_all[held], y_all[held]
    net = _net()
    print(f"{sum(p.numel() for p in net.parameters())} parameters, {len(x)} crops", flush=True)
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    start, step = time.perf_counter(), 0
    deadline = start + 60.0 * minutes

    def loss_of(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = ~torch.isnan(target)
        return ((pred - torch.nan_to_num(target)) ** 2)[valid].mean()

    while time.perf_counter() < deadline:
        take = rng.choice(len(x), batch, replace=False)
        xb, yb = x[take], y[take]
        if rng.random() < 0.5:
            xb, yb = xb.flip(-1), yb.flip(-1)
        if rng.random() < 0.5:
            xb, yb = xb.flip(-2), yb.flip(-2)
        if rng.random() < 0.5:
            xb, yb = xb.transpose(-1, -2), yb.transpose(-1, -2)
        loss = loss_of(net(xb), yb)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % 100 == 0:
            with torch.no_grad():
                held_loss = np.mean([
                    loss_of(net(xh[i : i + 32]), yh[i : i + 32]).item()
                    for i in range(0, len(xh), 32)
                ])  # fmt: skip
            seconds = time.perf_counter() - start
            print(f"step {step} train {loss.item():.4f} held {held_loss:.4f} ({seconds:.0f} s)")
            sys.stdout.flush()
            torch.save(net.state_dict(), work / "cnn_erd.pt")
            if time.perf_counter() > start + 0.7 * (deadline - start):
                for group in optimiser.param_groups:
                    group["lr"] = 5e-4
    torch.save(net.state_dict(), work / "cnn_erd.pt")
    print(f"{step} steps in {time.perf_counter() - start:.0f} s")


def load_net(work: Path):
    import torch

    net = _net()
    net.load_state_dict(torch.load(work / "cnn_erd.pt", weights_only=True))
    return net.eval()


def cnn_erd(net, recon: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The net's ERD map (RD units of the readings; -1 on measured pixels)."""
    import torch

    maps, scale = input_maps(recon, mask)
    with torch.no_grad():
        pred = net(torch.from_numpy(maps)[None])[0].numpy().astype(np.float64)
    erd = np.expm1(np.maximum(pred, 0.0)) * (scale / 100.0) + 1e-9
    erd[mask] = -1.0
    return erd


def scan(truth: np.ndarray, seed: int, coverages: list[float], net, model: str) -> list[float]:
    """NRMSE at each coverage; ``net`` None runs ``model`` alone (bench_oracle's loop)."""
    from bench_oracle import scan_loop

    from fastscan.selection import TileMax

    def replace(sampler) -> None:
        mask = np.asarray(sampler.measured_mask)
        sampler._erd[:] = cnn_erd(net, np.asarray(sampler.reconstruction), mask)
        sampler._tiles = TileMax(sampler._erd)

    return scan_loop(truth, seed, coverages, model, None if net is None else replace)


def scan_all(work: Path, data: Path, threads: int, only: str | None, labels: str) -> None:
    import torch

    from fastscan.compare.imagesets import validation_set, wse2_image

    torch.set_num_threads(threads)
    net = load_net(work) if "cnn" in labels.split(",") else None
    images = [("wse2", np.asarray(wse2_image(data).truth, float), [0.05, 0.1])]
    names = ("clock", "cell", "particles-100", "hubble_deep_field")
    for name, image in validation_set(256, names=names).items():
        images.append((name, np.asarray(image.truth, float), [0.05, 0.1, 0.2]))
    results = {}
    for name, truth, coverages in images:
        if only and name not in only.split(","):
            continue
        for label in labels.split(","):
            start = time.perf_counter()
            scores = np.array([
                scan(truth, seed, coverages, net if label == "cnn" else None,
                     "l2" if label == "cnn" else label)
                for seed in (0, 1)
            ])  # fmt: skip
            results[f"{name} {label}"] = scores.tolist()
            cells = "  ".join(f"{c:.0%}: {m:.4f}" for c, m in zip(coverages, scores.mean(0)))
            seconds = time.perf_counter() - start
            print(f"{name:<18} {label:<8} seeds 0,1  {cells}  ({seconds:.0f} s)", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"scan_{only or 'all'}_{labels}.json").write_text(json.dumps(results, indent=1))


def rank(work: Path, data: Path) -> None:
    """Spearman and top-1 % share against the true L2 RD on the ``l2`` scan's WSe2 states
    (seed 1, 2 / 5 / 10 %), as ``bench_erd_ceiling.py`` ranks the six-feature models."""
    from bench_erd_ceiling import _l2_scan_states
    from scipy.stats import spearmanr

    from fastscan.compare.imagesets import wse2_image
    from fastscan.erd.estimator import load_model

    net = load_net(work)
    truth = np.asarray(wse2_image(data).truth, float)
    truth = truth * (100.0 / truth.max())
    l2 = load_model("l2")
    for coverage, mask, pixels, features, recon, rd in _l2_scan_states(truth, 1, [0.02, 0.05, 0.1]):
        k = max(50, len(rd) // 100)
        best = np.sort(rd)[-k:].sum()
        cells = []
        for name, predicted in (
            ("cnn", cnn_erd(net, recon, mask)[pixels[:, 0], pixels[:, 1]]),
            ("l2", l2.predict(features)),
        ):
            top = np.argsort(predicted)[-k:]
            rho = spearmanr(predicted, rd)[0]
            mse = np.mean((np.log1p(np.maximum(predicted, 0.0)) - np.log1p(rd)) ** 2)
            share = rd[top].sum() / best
            cells.append(f"{name}: rho {rho:.3f} top1% {share:.3f} log-MSE {mse:.3f}")
        print(f"{coverage:4.0%}  " + "  ".join(cells), flush=True)


def time_forward(work: Path) -> None:
    import torch

    net = load_net(work)
    rng = np.random.default_rng(0)
    for shape in ((400, 600), (2048, 2048)):
        mask = rng.random(shape) < 0.05
        recon = rng.random(shape)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            cnn_erd(net, recon, mask)
            times = []
            for _ in range(3 if shape[0] < 1000 else 1):
                start = time.perf_counter()
                cnn_erd(net, recon, mask)
                times.append(time.perf_counter() - start)
            print(f"{shape[0]} x {shape[1]}, {threads} thread(s): {1e3 * min(times):.0f} ms")


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("data", "train", "scan", "rank", "time"))
    parser.add_argument("--work", type=Path, default=Path("cnn-erd-work"))
    parser.add_argument("--crops", type=int, default=3, help="crops per state")
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--base", help="a shipped ERD model the net corrects (e.g. l2)")
    parser.add_argument("--only", help="comma-separated image names for scan")
    parser.add_argument("--labels", default="cnn,l2,default", help="ERDs to scan with")
    add_data_option(parser)
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.base:
        from fastscan.erd.estimator import load_model

        BASE["model"] = load_model(args.base)
    if args.step == "data":
        make_data(args.work, args.crops)
    elif args.step == "train":
        train(args.work, args.minutes, args.batch, args.threads)
    elif args.step == "scan":
        scan_all(args.work, args.data, args.threads, args.only, args.labels)
    elif args.step == "rank":
        rank(args.work, args.data)
    else:
        time_forward(args.work)


if __name__ == "__main__":
    main()
