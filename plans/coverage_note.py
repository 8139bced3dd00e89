"""A warning, before a plan opens its run, that its sampler stops before any decision of its own.

A step ``Sampler`` first measures its whole initial pattern (1 % of the grid) and a
``FlySampler`` flies its coarse raster (12.5 % of README's 200 x 300 grid at 5 ms:
every 8th row) before the first adaptive decision (``initial_count`` pixels). A
``max_coverage`` below that share gives a scan that is not adaptive at all: a step
scan measures the initial pattern anyway (asked 0.3 %, it measured 1 % in 100 s on
the simulated beamline), and a fly scan stops inside its raster, on the lines of the
top of the sample only, with no reconstruction between them (the ERD map is made when
the raster is almost in; NRMSE 0.99 at 5 %).
:func:`note_early_stop` says so in one line before the run starts.

Examples
--------
>>> from fastscan import Sampler
>>> note_early_stop(Sampler((200, 300), max_coverage=0.003))
"max_coverage 0.3% is below the sampler's initial pattern (600 pixels, 1.0%): the scan \
measures that whole pattern and stops there, before any adaptive decision"
>>> note_early_stop(Sampler((200, 300), max_coverage=0.05)) is None
True
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

__all__ = ["note_early_stop", "warn_early_stop"]

logger = logging.getLogger("fastscan.plans")


def note_early_stop(sampler: Any) -> str | None:
    """The warning for ``sampler``, or None when it gets past its initial pixels.

    Reads ``max_coverage``, ``initial_count`` and ``shape``; a sampler without
    them (a remote or custom one) gets no note.
    """
    try:
        cap = float(sampler.max_coverage)
        n_initial = int(sampler.initial_count)
        size = int(np.prod(sampler.shape))
    except (AttributeError, TypeError, ValueError):
        return None
    share = n_initial / size if size else 0.0
    if cap >= share - 1e-12 or float(getattr(sampler, "coverage", 0.0)) >= share:
        return None  # (or a continued scan, past its initial pixels)
    if hasattr(sampler, "suggest_segments"):  # a fly sampler: the raster stops part-way
        return (
            f"max_coverage {cap:.1%} is below the sampler's coarse raster ({n_initial} "
            f"pixels, {share:.1%}): the scan stops inside the raster, on part of the grid, "
            "before any adaptive decision and with no reconstruction between the lines; "
            f"give max_coverage above {share:.1%} (or a larger initial_spacing)"
        )
    return (
        f"max_coverage {cap:.1%} is below the sampler's initial pattern ({n_initial} "
        f"pixels, {share:.1%}): the scan measures that whole pattern and stops there, "
        "before any adaptive decision"
    )


def warn_early_stop(sampler: Any) -> None:
    """Log :func:`note_early_stop`'s warning on the ``fastscan.plans`` logger, if any."""
    note = note_early_stop(sampler)
    if note is not None:
        logger.warning(note)
