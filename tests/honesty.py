"""The honesty check after a replayed scan: nothing read unasked, every time possible.

A replay is honest when the simulated detector read exactly the pixels the sampler
holds as measured (it revealed nothing the sampler did not ask for, and the sampler
kept every reading it asked for) and, given a motion model, when every trajectory of
the scan passes :func:`fastscan.beamtime.check_trajectory`. :func:`assert_honest_scan`
checks both and says what was dishonest: how many pixels, the first few ``(row, col)``,
and the trajectory violations.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from fastscan.beamtime import Trajectory, check_trajectory
from fastscan.motion import MotionModel

#: How many ``(row, col)`` of a dishonest pixel set a failure message lists.
FIRST_PIXELS = 5


class Scanned(Protocol):
    """A sampler after a replay: what it holds as measured, and its trajectory.

    ``trajectory`` is read only when a motion model is given (a step sampler has none).
    """

    @property
    def measured_mask(self) -> ArrayLike: ...

    @property
    def trajectory(self) -> Trajectory: ...


class Asked(Protocol):
    """A detector that records every pixel it read (:class:`fastscan.replay.SimulatedDetector`)."""

    @property
    def asked_mask(self) -> np.ndarray: ...


def _pixels(mask: np.ndarray) -> str:
    """``N pixel(s), first (row, col): [...]`` for the True pixels of ``mask``."""
    where = [(int(r), int(c)) for r, c in np.argwhere(mask)[:FIRST_PIXELS]]
    return f"{int(mask.sum())} pixel(s), first (row, col): {where}"


def mask_problems(sampler: Scanned, detector: Asked) -> list[str]:
    """What differs between the pixels ``detector`` read and those ``sampler`` holds.

    Returns
    -------
    list of str
        Empty when the two masks are equal; else one line per direction that differs.
    """
    asked = np.asarray(detector.asked_mask)
    held = np.asarray(sampler.measured_mask)
    if asked.shape != held.shape:
        return [f"the detector's grid is {asked.shape} but the sampler's is {held.shape}"]
    problems = []
    if (unasked := asked & ~held).any():
        problems.append(f"the detector read {_pixels(unasked)} the sampler did not ask for")
    if (unread := held & ~asked).any():
        problems.append(f"the sampler holds {_pixels(unread)} the detector never read")
    return problems


def assert_honest_scan(
    sampler: Scanned,
    detector: Asked,
    motion: MotionModel | None = None,
    trajectory: Trajectory | None = None,
) -> None:
    """Fail, saying what was dishonest, unless a replayed scan was honest.

    Parameters
    ----------
    sampler : Scanned
        The sampler after the scan; its ``measured_mask`` must equal the detector's
        ``asked_mask``.
    detector : Asked
        The simulated detector the scan read.
    motion : MotionModel or None
        The time model; given, ``sampler.trajectory`` must pass
        :func:`fastscan.beamtime.check_trajectory`. None: the pixels only.
    trajectory : Trajectory or None
        Another record of the same scan (one a replay built) that must pass too; it
        needs ``motion``.

    Raises
    ------
    AssertionError
        Listing every dishonest thing found: pixels read unasked or held unread
        (count and the first few ``(row, col)``) and each trajectory's violations.
    ValueError
        If ``trajectory`` is given without ``motion``.
    """
    if trajectory is not None and motion is None:
        raise ValueError("a trajectory is checked against a motion model: pass motion too")
    problems = mask_problems(sampler, detector)
    if motion is not None:
        records = {"sampler.trajectory": sampler.trajectory}
        if trajectory is not None:
            records["the given trajectory"] = trajectory
        for name, record in records.items():
            if violations := check_trajectory(record, motion):
                problems.append(f"{name} breaks the time model: {violations}")
    if problems:
        raise AssertionError("dishonest scan: " + "; ".join(problems))
