"""The ``fastscan`` command: ``simulate`` (replay), ``evaluate`` (image sets), ``estimate``
(beam time before a scan), ``train``, ``serve``.

Every expected failure (bad file, bad argument, bad model) prints one line
``fastscan: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from fastscan._argtypes import int_at_least, int_between

__all__ = ["build_parser", "main"]

DEFAULT_COVERAGES = "0.01,0.05,0.1,0.2,0.3"


class CLIError(ValueError):
    """A user error, reported in one line."""


def _float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers in (0, 1], got {text!r}"
        ) from None
    if not values or not all(0.0 < v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"coverages must be numbers in (0, 1], got {text!r}")
    return sorted(set(values))


def _weight_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated weights, got {text!r}"
        ) from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(
            f"channel weights must be numbers >= 0 with a positive sum, got {text!r}"
        )
    return values


def _strategy_list(text: str) -> list[str]:
    from fastscan.strategies import STRATEGIES

    names = [v.strip() for v in text.split(",") if v.strip()]
    for name in names:
        if name not in STRATEGIES:
            import difflib

            close = difflib.get_close_matches(name, STRATEGIES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise argparse.ArgumentTypeError(
                f"unknown strategy {name!r}{hint}; choose from {', '.join(STRATEGIES)}"
            )
    if not names:
        raise argparse.ArgumentTypeError("give at least one strategy")
    return list(dict.fromkeys(names))


def _seconds(allow_zero: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        ok = value >= 0 if allow_zero else value > 0
        if not (ok and value < float("inf")):
            bound = ">= 0" if allow_zero else "> 0"
            raise argparse.ArgumentTypeError(f"expected a number of seconds {bound}, got {text!r}")
        return value

    return parse


def _positive_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


_seed = int_at_least(0)
_positive_int = int_at_least(1)


def add_motion_flags(group: Any, dwell: Any = None) -> None:
    """The beam-time model's flags (pixel units), ``fastscan.motion.NANOPROBE``'s defaults.

    ``--dwell --velocity --acceleration --settle --point-overhead --line-overhead``, shared
    by ``simulate`` and ``estimate``. ``dwell``: the group ``--dwell`` goes into (default
    ``group``), e.g. a mutually exclusive one.
    """
    from fastscan.motion import NANOPROBE

    (group if dwell is None else dwell).add_argument(
        "--dwell", type=_seconds(False), default=NANOPROBE.dwell, metavar="S",
        help="detector dwell per reading, s (default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--velocity", type=_positive_rate, default=NANOPROBE.velocity[0], metavar="PX_PER_S",
        help="top speed of each axis, also the fly speed limit (default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--acceleration", type=_positive_rate, default=NANOPROBE.acceleration[0],
        metavar="PX_PER_S2", help="acceleration of each axis (default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--settle", type=_seconds(True), default=NANOPROBE.settle_time, metavar="S",
        help="settle after every move, s (default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--point-overhead", type=_seconds(True), default=NANOPROBE.point_overhead, metavar="S",
        help="fixed cost of every step point, s (default %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--line-overhead", type=_seconds(True), default=NANOPROBE.line_overhead, metavar="S",
        help="fixed cost of every fly segment (arm, read out), s (default %(default)s)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    from fastscan import __version__
    from fastscan.erd.estimator import SHIPPED_MODELS
    from fastscan.phantoms import PHANTOMS
    from fastscan.strategies import STRATEGIES

    parser = argparse.ArgumentParser(
        prog="fastscan", description="Autonomous sparse scanning for X-ray microscopes."
    )
    parser.add_argument("--version", action="version", version=f"fastscan {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = commands.add_parser(
        "simulate",
        help="replay scans against a known image and compare strategies",
        description="Replay scans against a simulated detector that answers only the points "
        "each strategy asks for; write metrics.csv (with beam_time_s), curves.png, "
        "reconstructions.png, points_<strategy>.npy, trajectory_<strategy>.npz and summary.json. "
        "Beam time follows the time model of fastscan.beamtime in pixel units (pitch 1); the "
        "defaults are a nanoprobe: 1000 px/s and 10,000 px/s^2 per axis, settle 10 ms, 25 ms "
        "per step point, 50 ms per fly line, dwell 10 ms.",
        epilog="strategies: "
        + "; ".join(f"{name} ({s.kind}): {s.description}" for name, s in STRATEGIES.items()),
    )
    source = sim.add_mutually_exclusive_group()
    source.add_argument(
        "--image",
        metavar="PATH",
        help="ground truth: .tif/.tiff, .png or .npy; a (C, H, W) .npy or multi-page TIFF "
        "is C element maps",
    )
    source.add_argument(
        "--phantom",
        choices=(*PHANTOMS, "xrf"),
        help="built-in synthetic sample (default: flakes; xrf: five element maps)",
    )
    sim.add_argument(
        "--strategies",
        type=_strategy_list,
        default=",".join(name for name, s in STRATEGIES.items() if s.default),
        help="comma-separated (default: %(default)s)",
    )
    sim.add_argument(
        "--coverages", type=_float_list, default=DEFAULT_COVERAGES, metavar="C1,C2,...",
        help="coverages scored and shown, in (0, 1] (default %(default)s)",
    )  # fmt: skip
    sim.add_argument(
        "--batch-size", type=_positive_int, default=50,
        help="points per step batch (default %(default)s)",
    )  # fmt: skip
    sim.add_argument(
        "--seed", type=_seed, default=0, help="seed of every scan and of the noise (default 0)"
    )
    sim.add_argument(
        "--out", default="fastscan-out", metavar="DIR",
        help="output folder, created if missing (default %(default)s)",
    )  # fmt: skip
    sim.add_argument(
        "--noise", choices=("none", "poisson"), default="none",
        help="detector noise (default %(default)s)",
    )  # fmt: skip
    sim.add_argument(
        "--channel-weights",
        type=_weight_list,
        metavar="W1,W2,...",
        help="element maps: weight of each channel in the scan and the combined row "
        "(default: equal)",
    )
    sim.add_argument(
        "--no-biharmonic",
        action="store_true",
        help="skip the (slow) biharmonic completion metrics",
    )
    sim.add_argument(
        "--model",
        metavar="NAME|PATH",
        help="ERD model: a shipped name (" + ", ".join(SHIPPED_MODELS) + "; default: the "
        "sampler's own choice) or a .npz file from fastscan train",
    )
    sim.add_argument("--denoise", metavar="NAME", help="downstream denoiser to add to the report")
    sim.add_argument("--segment", metavar="NAME", help="downstream segmenter to add to the report")
    sim.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    timing = sim.add_argument_group("beam-time model (pixel units)")
    add_motion_flags(timing)
    timing.add_argument(
        "--motion-weight", type=_seconds(True), default=None, metavar="W",
        help="motion-aware step batches: 0 = ERD only; default: the sampler's",
    )  # fmt: skip
    sim.set_defaults(func=_run_simulate)

    _add_evaluate_parser(commands)
    from fastscan._estimate_cli import add_estimate_parser

    add_estimate_parser(commands)

    train = commands.add_parser(
        "train",
        help="rebuild the ERD model from generic images",
        description="Train the SLADS-Net ERD model on scikit-image samples and synthetic "
        "phantoms (never a benchmark sample). Seeded and reproducible. Evaluation is split "
        "by image: the default recipe reports its R^2 on the validation images, "
        "--cross-validate K gives the k-fold by-image R^2 over the training images; "
        "fast-classic rebuilds FAST's model (cameraman, its masks and row split) and "
        "reports its R^2 on images it never saw.",
    )
    train.add_argument(
        "--out", default="erd_model.npz", metavar="PATH",
        help="model file to write, .npz, in an existing folder (default %(default)s)",
    )  # fmt: skip
    train.add_argument(
        "--recipe",
        choices=("default", "fast-classic"),
        default="default",
        help="fastscan's recipe, or FAST's (cameraman only, raw features)",
    )
    train.add_argument(
        "--training-set",
        choices=("default", "wide"),
        default="default",
        help="default recipe: the images fitted on; 'wide' adds checkerboard, colorwheel, "
        "phantom seeds 2-5 and 8 synthetic textures (fastscan.erd.training.TRAINING_SETS)",
    )
    train.add_argument("--c", type=float, default=None, help="ERD window: sigma = d1 / c")
    train.add_argument(
        "--seed", type=_seed, default=None,
        help="seed of the training masks (default: the recipe's, 0; fast-classic 111)",
    )  # fmt: skip
    train.add_argument(
        "--max-iter", type=_positive_int, default=None,
        help="training epochs of the network (default 50)",
    )  # fmt: skip
    train.add_argument(
        "--error-power",
        type=float,
        default=None,
        metavar="P",
        help="default recipe: RD target from the error to the power P (1: SLADS; 2: the "
        "squared error NRMSE scores, as an L2 norm)",
    )
    train.add_argument(
        "--self-play-from",
        metavar="NAME",
        default=None,
        help="default recipe: add the states this shipped model's own scans reach "
        "(e.g. l2) from the first round on (DAgger)",
    )
    train.add_argument(
        "--self-play-rounds",
        type=int,
        default=None,
        metavar="N",
        help="default recipe: rounds of refitting on the states the last model's scans reach",
    )
    train.add_argument(
        "--self-play-coverages",
        type=_float_list,
        default=None,
        metavar="C,...",
        help="default recipe: coverages at which a self-play scan's state is kept",
    )
    train.add_argument(
        "--install", action="store_true", help="also replace the model shipped in the package"
    )
    train.add_argument(
        "--image",
        metavar="PATH",
        help="fast-classic: the training image, e.g. FAST's own cameraman_norm.tif (default: "
        "scikit-image's camera resized to 256 x 256)",
    )
    train.add_argument(
        "--plus-one-seed",
        type=int,
        default=None,
        metavar="K",
        help="fast-classic: seed of the one random pixel added to each training mask (FAST "
        "drew it from numpy's unseeded global generator; default 3, the shipped draw)",
    )
    train.add_argument(
        "--cross-validate",
        type=_positive_int,
        default=None,
        metavar="K",
        help="default recipe: k-fold cross-validation by image over the training images; "
        "prints the image-held-out R^2 and writes nothing",
    )
    train.set_defaults(func=_run_train)

    try:
        from fastscan.service.cli import add_serve_parser
    except ImportError:  # the service is optional at import time
        pass
    else:
        add_serve_parser(commands)
    return parser


def _seed_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or len(set(values)) != len(values) or min(values) < 0:
        raise argparse.ArgumentTypeError(
            f"expected distinct comma-separated integers >= 0, got {text!r}"
        )
    return values


def _add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    from fastscan.compare.evaluate import DEFAULT_SEEDS, DEFAULT_STRATEGIES
    from fastscan.compare.imagesets import MAX_SIZE, MIN_SIZE, SET_NAMES
    from fastscan.erd.estimator import SHIPPED_MODELS

    ev = commands.add_parser(
        "evaluate",
        help="score strategies on a whole image set over several seeds (honest evaluation)",
        description="Replay every strategy on every image of a set for several seeds and score "
        "NRMSE (IDW k=10 from the points chosen) at each coverage; write rows.csv, summary.csv "
        "(mean, std, best static, ratios), verdicts.json, ratios.png and curves.png. Sets: test "
        "(13 images; never tune on it), validation (tune here; WSe2 from --data when present), "
        "sparse (8 validation images with a flat background), noisy (8 validation images as "
        "Poisson counts), noisy-check (10 more validation images as Poisson counts, kept apart "
        "to check a choice made on noisy), "
        "wse2 (600 x 400 design image against FAST's published curve).",
    )
    ev.add_argument(
        "--set", choices=SET_NAMES, default="test",
        help="image set (default %(default)s: the final figures; tune on validation)",
    )  # fmt: skip
    ev.add_argument(
        "--size", type=int_between(MIN_SIZE, MAX_SIZE, "pixels of the long side"), default=256,
        help=f"long side in pixels, {MIN_SIZE} to {MAX_SIZE} (default %(default)s; scikit-image "
        "pictures are never enlarged; the largest grid the benchmarks measured is 2048)",
    )  # fmt: skip
    ev.add_argument(
        "--seeds",
        type=_seed_list,
        default=",".join(map(str, DEFAULT_SEEDS)),
        metavar="S1,S2,...",
        help="seeds of every strategy's scan (default %(default)s)",
    )
    ev.add_argument(
        "--coverages", type=_float_list, default="0.05,0.1,0.2,0.3", metavar="C1,C2,...",
        help="coverages scored, in (0, 1] (default %(default)s)",
    )  # fmt: skip
    ev.add_argument(
        "--strategies", type=_strategy_list, default=",".join(DEFAULT_STRATEGIES),
        help="comma-separated (default: %(default)s)",
    )  # fmt: skip
    ev.add_argument("--images", metavar="NAME,...", help="only these images of the set")
    ev.add_argument(
        "--batch-size", type=_positive_int, default=50,
        help="points per batch of each scan (default %(default)s)",
    )  # fmt: skip
    ev.add_argument(
        "--model", metavar="NAME|PATH",
        help="ERD model of the fast strategy: a shipped name (" + ", ".join(SHIPPED_MODELS)
        + ") or a .npz file (default: the sampler's own choice)",
    )  # fmt: skip
    ev.add_argument(
        "--data", default="../shared/data", metavar="DIR",
        help="folder with wse2_darkfield_600x400.tif and fast_reference.csv (default %(default)s)",
    )  # fmt: skip
    ev.add_argument("--out", metavar="DIR", help="default: fastscan-evaluate-<set>")
    ev.add_argument("--jobs", type=_positive_int, default=1, help="worker processes")
    ev.add_argument(
        "--from-rows", metavar="CSV", help="no replay: summarise an existing rows.csv into --out"
    )
    ev.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    ev.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from fastscan.compare.evaluate import EvaluateConfig, run_evaluate

    def listed(value, parse):
        return tuple(value if isinstance(value, list) else parse(value))

    config = EvaluateConfig(
        set=args.set,
        size=args.size,
        seeds=listed(args.seeds, _seed_list),
        coverages=listed(args.coverages, _float_list),
        strategies=listed(args.strategies, _strategy_list),
        images=None if args.images is None else tuple(n for n in args.images.split(",") if n),
        batch_size=args.batch_size,
        model=args.model,
        data=args.data,
        out=args.out,
        jobs=args.jobs,
        quiet=args.quiet,
    )
    if args.from_rows is not None:
        from fastscan.compare.evaluate import summarize_rows

        summarize_rows(args.from_rows, config)
        return 0
    run_evaluate(config)
    return 0


def _run_simulate(args: argparse.Namespace) -> int:
    from fastscan.compare.run import SimulateConfig, run_simulate

    config = SimulateConfig(
        image=args.image,
        phantom=args.phantom,
        strategies=tuple(
            args.strategies
            if isinstance(args.strategies, list)
            else _strategy_list(args.strategies)
        ),
        coverages=tuple(
            args.coverages if isinstance(args.coverages, list) else _float_list(args.coverages)
        ),
        batch_size=args.batch_size,
        seed=args.seed,
        out=args.out,
        noise=args.noise,
        channel_weights=None if args.channel_weights is None else tuple(args.channel_weights),
        biharmonic=not args.no_biharmonic,
        model=args.model,
        denoise=args.denoise,
        segment=args.segment,
        quiet=args.quiet,
        dwell=args.dwell,
        velocity=args.velocity,
        acceleration=args.acceleration,
        settle=args.settle,
        point_overhead=args.point_overhead,
        line_overhead=args.line_overhead,
        motion_weight=args.motion_weight,
    )
    run_simulate(config)
    return 0


def _check_self_play(changes: dict[str, Any], classic: bool) -> None:
    """CLIError naming the first bad self-play option of ``fastscan train``."""
    from fastscan.erd.estimator import SHIPPED_MODELS

    keys = ("self_play_from", "self_play_rounds", "self_play_coverages")
    given = [k for k in keys if k in changes]
    if given and classic:
        option = "--" + given[0].replace("_", "-")
        raise CLIError(f"{option} is for the default recipe (fast-classic has no self-play)")
    name = changes.get("self_play_from")
    if name is not None and name not in SHIPPED_MODELS:
        raise CLIError(
            f"--self-play-from must be a shipped model ({', '.join(SHIPPED_MODELS)}), got {name!r}"
        )
    if changes.get("self_play_rounds", 0) < 0:
        raise CLIError(f"--self-play-rounds must be >= 0, got {changes['self_play_rounds']}")
    coverages = changes.get("self_play_coverages")
    if coverages is not None and not all(0 < c < 1 for c in coverages):
        raise CLIError(f"--self-play-coverages must lie in (0, 1), got {list(coverages)}")
    if coverages is not None:
        changes["self_play_coverages"] = tuple(sorted(coverages))


def _run_train(args: argparse.Namespace) -> int:
    import dataclasses
    import shutil
    import time
    from pathlib import Path

    from fastscan.erd.classic import CLASSIC_CONFIG, train_classic
    from fastscan.erd.estimator import default_model_path
    from fastscan.erd.training import (
        cross_validate,
        image_groups,
        train_model,
        training_set_config,
    )

    classic = args.recipe == "fast-classic"
    if classic and args.training_set != "default":
        raise CLIError("--training-set is for the default recipe (fast-classic: one image)")
    config = CLASSIC_CONFIG if classic else training_set_config(args.training_set)
    changes = {
        k: v
        for k, v in (
            ("c", args.c),
            ("seed", args.seed),
            ("max_iter", args.max_iter),
            ("error_power", args.error_power),
            ("self_play_from", args.self_play_from),
            ("self_play_rounds", args.self_play_rounds),
            ("self_play_coverages", args.self_play_coverages),
        )
        if v is not None
    }
    _check_self_play(changes, classic)
    if "error_power" in changes:
        if classic:
            raise CLIError("--error-power is for the default recipe (fast-classic is FAST's RD)")
        if not (math.isfinite(changes["error_power"]) and changes["error_power"] >= 1):
            raise CLIError(f"--error-power must be a number >= 1, got {args.error_power}")
    if "c" in changes and not changes["c"] > 0:
        raise CLIError(f"--c must be > 0, got {args.c}")
    config = dataclasses.replace(config, **changes)

    def progress(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    if args.image is not None and not classic:
        raise CLIError("--image is for --recipe fast-classic (the default recipe has its own set)")
    if args.plus_one_seed is not None:
        if not classic:
            raise CLIError("--plus-one-seed is for --recipe fast-classic")
        if args.plus_one_seed < 0:
            raise CLIError(f"--plus-one-seed must be >= 0, got {args.plus_one_seed}")
        config = dataclasses.replace(config, plus_one_seed=args.plus_one_seed)
    start = time.perf_counter()
    if args.cross_validate is not None:
        if classic:
            raise CLIError(
                "--cross-validate needs several training images; fast-classic trains on one "
                "and reports its R^2 on held-out images by itself"
            )
        if args.install:
            raise CLIError("--cross-validate writes nothing; drop --install")
        n_groups = len(image_groups(config))
        if not 2 <= args.cross_validate <= n_groups:
            raise CLIError(
                f"--cross-validate must be in [2, {n_groups}] (the training set's image groups), "
                f"got {args.cross_validate}"
            )
        print(f"cross-validating by image, {args.cross_validate} folds ...", file=sys.stderr)
        result = cross_validate(config, folds=args.cross_validate, progress=progress)
        for i, fold in enumerate(result["folds"]):
            held = ", ".join(fold["held_out"])
            print(f"fold {i + 1}: held out {held}: R^2 {fold['r2']:.3f}")
        print(
            f"image-held-out R^2 ({args.cross_validate}-fold by image): mean "
            f"{result['r2_mean']:.3f} ({time.perf_counter() - start:.0f} s)"
        )
        return 0
    out = Path(args.out)
    if out.suffix != ".npz":
        raise CLIError(f"--out must end in .npz, got {str(out)!r}")
    if not out.parent.exists():
        raise CLIError(f"--out folder {str(out.parent)!r} does not exist")
    image = None
    if args.image is not None:  # a bad image is named before the training line
        from fastscan.imageio import load_image

        image, _ = load_image(args.image, min_size=8)
    print(f"training ERD model ({args.recipe} recipe) ...", file=sys.stderr, flush=True)
    if classic:
        model = train_classic(config, progress=progress, image=image)
    else:
        model = train_model(config, progress=progress)
    model.save(out)
    info = model.info_
    seconds = time.perf_counter() - start
    if classic:
        print(
            f"wrote {out}: {info['n_rows']} rows ({info['n_train']} fitted), R^2 on "
            f"held-out images {info['r2_heldout_images']:.3f} (FAST's row split, which leaks: "
            f"{info['r2_rows_fast']:.3f}), SHA-256 {model.sha256}, {seconds:.0f} s"
        )
    else:
        print(
            f"wrote {out}: {info['n_rows']} rows from {len(info['images'])} training images, "
            f"R^2 on the validation images {info['r2_validation_images']:.3f}, "
            f"SHA-256 {model.sha256}, {seconds:.0f} s"
        )
    if args.install:
        target = default_model_path("fast-classic" if classic else "default")
        shutil.copyfile(out, target)
        print(f"installed as {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastscan`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("fastscan: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`fastscan evaluate ... | head`): quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit's flush of stdout cannot fail again
        return 141  # what a shell reports for a process its pipe's reader closed (128 + SIGPIPE)
    except (ValueError, OSError) as exc:  # bad input; a TypeError is a bug: keep its traceback
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"fastscan: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
