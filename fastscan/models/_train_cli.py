"""The command line shared by ``python -m fastscan.models.train_denoiser`` and ``train_segmenter``.

Both train for many minutes and write the weights at the end, so everything a
user can get wrong (a count below its minimum, an ``--out`` that cannot be
written) is refused while parsing, naming the value, before any data is built.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fastscan._argtypes import int_at_least
from fastscan.folders import os_error_reason

__all__ = ["int_at_least", "training_parser", "weights_path"]


def weights_path(text: str) -> Path:
    """argparse type of ``--out``: a file whose folder exists or can be made, and is writable.

    The folder is created now (training would create it at the end anyway), so a
    path through a file or a folder that cannot be written is named at once.

    Examples
    --------
    >>> weights_path("net.pt").name
    'net.pt'
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; name the weights file in it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"cannot write {text!r} in folder {str(path.parent)!r}: {os_error_reason(exc)}"
        ) from None
    return path


def training_parser(
    module: str,
    description: str,
    default_out: Path,
    *,
    steps: int,
    sampler_runs: int,
    seed: int = 0,
) -> argparse.ArgumentParser:
    """Parser with ``--out``, ``--seed``, ``--threads``, ``--steps`` and ``--sampler-runs``;
    the caller adds its own count of training data.

    Parameters
    ----------
    module : str
        The module run with ``python -m`` (its name in the usage line).
    description : str
        First line of the module's docstring.
    default_out : Path
        The shipped weights file (``--out``'s default: training replaces it).
    steps, sampler_runs : int
        Defaults of ``--steps`` (optimiser steps) and ``--sampler-runs`` (training states
        measured under real-sampler masks): the trainer's config defaults.
    seed : int
        Default ``--seed``.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument(
        "--out", type=weights_path, default=default_out, metavar="PATH",
        help="weights file to write (default: the shipped %(default)s, replaced)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int_at_least(0), default=seed, help="training seed (default %(default)s)"
    )
    parser.add_argument(
        "--threads", type=int_at_least(1), default=1,
        help="torch CPU threads (default %(default)s, as the shipped weights)",
    )  # fmt: skip
    parser.add_argument(
        "--steps", type=int_at_least(1), default=steps,
        help="optimiser steps (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--sampler-runs", type=int_at_least(0), default=sampler_runs,
        help="states measured under real-sampler masks (default %(default)s)",
    )  # fmt: skip
    return parser
