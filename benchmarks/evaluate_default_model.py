"""``fastscan evaluate`` as if ``DEFAULT_MODEL`` were another shipped model (issue 12).

Usage (from the repository root; VALIDATION images and WSe2 only, never ``--set test``)::

    python benchmarks/evaluate_default_model.py l2 --set validation --seeds 0,1,2 --jobs 1 \\
        --out OUT
    python benchmarks/evaluate_default_model.py l1+l2 --set wse2 --out OUT
    python benchmarks/evaluate_default_model.py default --late l1+l2@0.1 --set sparse --out OUT

The first argument replaces :data:`fastscan.erd.estimator.DEFAULT_MODEL` for this process
(the one constant the README names for switching the default); the rest are
``fastscan evaluate`` arguments. Unlike ``--model NAME``, which fixes the model of every scan,
this runs the default rules: a texture scan (the structure level turns the lattice on)
switches to :data:`fastscan.sampler.TEXTURE_MODEL`, a multichannel one to
``MULTICHANNEL_MODEL``. ``--jobs 1`` keeps the patch in this process (worker processes
would import the unpatched constant). ``--late NAME@C`` (right after MODEL) also sets
:data:`fastscan.sampler.LATE_MODEL` to NAME and :data:`~fastscan.sampler.LATE_COVERAGE` to C
(``--late none`` turns the late switch off).
"""

from __future__ import annotations

import sys
import textwrap

import fastscan.erd.estimator as estimator
import fastscan.sampler as sampler
from fastscan.cli import main

USAGE = "usage: evaluate_default_model.py MODEL [--late NAME@C|none] [fastscan evaluate args]"


def wrapper_args(argv: list[str], usage: str, doc: str | None) -> bool:
    """The checks every patch-and-evaluate wrapper makes before it patches anything.

    Parameters
    ----------
    argv : list of str
        The wrapper's arguments: the patched value first, then the wrapped program's.
    usage : str
        The wrapper's usage line.
    doc : str or None
        The wrapper's module docstring (its ``--help`` notes).

    Returns
    -------
    bool
        False when ``argv`` asked for ``--help`` (or ``-h``) and the usage line and ``doc``
        were printed (exit 0); True when the wrapper is to run.

    Raises
    ------
    SystemExit
        With the usage line when the first argument is missing or an option; when
        ``--set test`` is asked for (the test set is the coordinator's).
    """
    if argv[:1] in (["-h"], ["--help"]):
        print(f"{usage}\n\n{textwrap.dedent(doc or '').strip()}\n", end="")
        return False
    if not argv or argv[0].startswith("-"):
        raise SystemExit(f"{usage}\n(--help for the details)")
    if "--set" in argv and argv[argv.index("--set") + 1 :][:1] == ["test"]:
        raise SystemExit("the test set is measured once by the coordinator, not here")
    return True


def run(argv: list[str]) -> int:
    """Patch the default model to ``argv[0]`` and run ``fastscan evaluate argv[1:]``."""
    if not wrapper_args(argv, USAGE, __doc__):
        return 0
    estimator.load_model(argv[0])  # a bad name fails here, with its hint
    estimator.DEFAULT_MODEL = sampler.DEFAULT_MODEL = argv[0]
    rest = argv[1:]
    if rest[:1] == ["--late"]:
        late, rest = (rest[1:2] or [""])[0], rest[2:]
        if late == "none":
            sampler.LATE_COVERAGE = None
        else:
            name, _, coverage = late.partition("@")
            try:
                value = float(coverage)
            except ValueError:
                value = -1.0
            if not 0.0 < value < 1.0:
                raise SystemExit(f"--late wants NAME@COVERAGE with 0 < COVERAGE < 1, got {late!r}")
            estimator.load_model(name)
            sampler.LATE_MODEL, sampler.LATE_COVERAGE = name, value
    return main(["evaluate", *rest])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
