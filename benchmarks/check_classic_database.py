"""fast-classic's training rows against FAST's own code, state by state (a one-off check).

Runs FAST's database builder (``fast.core.training.generate_training_databases``,
c = 2, its notebook's settings) from a checkout of FAST's repository on the given
image, with numpy's global generator seeded (FAST leaves it unseeded: it draws the
extra pixel of every second state). Then rebuilds every state with
:func:`fastscan.erd.classic.fast_state_rows` and :func:`fastscan.erd.target.rd_target`
(same masks, same extra pixels, measured in FAST's order) and compares FAST's stored
rows: the float32 random-Fourier lift and the float32 RD target of every pixel.

Usage::

    python benchmarks/check_classic_database.py --fast-repo PATH/fast_smart_scanning \\
        --image PATH/cameraman_norm.tif [--global-seed 0]

FAST's code needs two shims on today's libraries, both outside its computation:
``scipy.signal.gaussian`` (moved to ``scipy.signal.windows``) and a plain ``tqdm``
for its notebook progress bars. FAST writes its database (a pickle) into a
temporary folder that is deleted unread; the rows are taken from the returned object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def fast_database(fast_repo: Path, image: np.ndarray, global_seed: int) -> list[dict]:
    """FAST's c = 2 training states: [{"mask", "lift", "rd"}, ...] in FAST's order."""
    import scipy.signal
    import scipy.signal.windows
    import tqdm.std

    if not hasattr(scipy.signal, "gaussian"):
        scipy.signal.gaussian = scipy.signal.windows.gaussian
    sys.path.insert(0, str(fast_repo))
    from fast import input_params
    from fast.core import sampling, training

    training.tqdm = sampling.tqdm = tqdm.std.tqdm
    np.random.seed(global_seed)  # noqa: NPY002 - FAST draws from the legacy global generator
    params = input_params.TrainingInputParams(test_c_values=[2], verbose_training=False)
    with tempfile.TemporaryDirectory() as folder:
        result = training.generate_training_databases(params, folder, image_arrays=[image])[0]
    states = []
    for i in range(result.size):
        state = result.get_by_index(i)
        mask = state["masks"].astype(bool)
        states.append({"mask": mask, "lift": state["poly_features"], "rd": state["erds"][~mask]})
    return states


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-repo", type=Path, required=True, help="FAST checkout (has fast/)")
    parser.add_argument("--image", type=Path, required=True, help="training image, e.g. .tif")
    parser.add_argument("--global-seed", type=int, default=0)
    return parser


def main() -> None:
    from sklearn.kernel_approximation import RBFSampler

    from fastscan.erd.classic import _percent, fast_state_rows
    from fastscan.erd.target import rd_target
    from fastscan.imageio import load_image

    parser = build_parser()
    args = parser.parse_args()
    if not (args.fast_repo / "fast" / "core" / "training.py").is_file():
        parser.error(f"--fast-repo {args.fast_repo} has no fast/core/training.py")
    image, _ = load_image(args.image, min_size=8)
    start = time.perf_counter()
    states = fast_database(args.fast_repo, image, args.global_seed)
    print(f"FAST's database: {len(states)} states in {time.perf_counter() - start:.0f} s")
    image = _percent(np.asarray(image, dtype=np.float64))
    lift = RBFSampler(gamma=0.01, n_components=50, random_state=1).fit(np.zeros((1, 6)))
    n_rows = n_lift = n_rd = 0
    base = None
    for i, state in enumerate(states):
        mask = state["mask"]
        if i % 2 == 0:  # FAST's order: the mask's pixels row-major, then the extra pixel
            base, measured = mask, np.transpose(np.where(mask))
        else:
            measured = np.vstack([np.transpose(np.where(base)), np.argwhere(mask & ~base)])
        pixels, features, recon = fast_state_rows(image, measured)
        rd = rd_target(image, recon, pixels, features[:, 2], c=2.0).astype(np.float32)
        ours = lift.transform(features).astype(np.float32)
        same_lift = np.all(ours == state["lift"], axis=1)
        same_rd = rd == state["rd"]
        n_rows += len(rd)
        n_lift += int((~same_lift).sum())
        n_rd += int((~same_rd).sum())
        print(
            f"state {i:2d} ({mask.mean():.3f} measured): {len(rd)} rows, lift differs in "
            f"{(~same_lift).sum()}, RD differs in {(~same_rd).sum()}"
        )
    verdict = "IDENTICAL" if n_lift == n_rd == 0 else "DIFFERENT"
    print(f"{n_rows} rows: lift differs in {n_lift}, RD in {n_rd} -> {verdict}")
    raise SystemExit(0 if verdict == "IDENTICAL" else 1)


if __name__ == "__main__":
    main()
