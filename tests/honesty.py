"""The honesty check after a replayed scan: nothing read unasked, every time possible.

A replay is honest when the simulated detector read exactly the pixels the sampler
holds as measured (it revealed nothing the sampler did not ask for, and the sampler
kept every reading it asked for) and, given a motion model, when every trajectory of
the scan passes :func:`fastscan.beamtime.check_trajectory`. :func:`assert_honest_scan`
checks both and says what was dishonest: how many pixels, the first few ``(row, col)``,
and the trajectory violations. :func:`honest_simulation` runs ``fastscan simulate`` and
checks every trajectory file it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from fastscan.beamtime import Trajectory, check_trajectory
from fastscan.motion import NANOPROBE, MotionModel

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


def honest_simulation(
    folder: Path, truth: np.ndarray, strategies: Sequence[str], *, coverages: str, dwell: float
) -> dict[str, Trajectory]:
    """Run ``fastscan simulate`` of ``strategies`` on ``truth`` with ``--dwell dwell``.

    Parameters
    ----------
    folder : Path
        Where the image and the ``out`` folder are written.
    truth : (H, W) array
        The ground truth, saved as ``truth.npy``.
    strategies : sequence of str
        The strategies to replay.
    coverages : str
        The ``--coverages`` argument, e.g. ``"0.1,0.3"``.
    dwell : float
        The dwell; every trajectory is checked against ``NANOPROBE`` with that dwell.

    Returns
    -------
    dict of str to Trajectory
        Each strategy's ``trajectory_<strategy>.npz``, after the command returned 0 and
        every trajectory passed :func:`fastscan.beamtime.check_trajectory`.
    """
    from fastscan.cli import main

    image, out = folder / "truth.npy", folder / "out"
    np.save(image, truth)
    code = main(["simulate", "--image", str(image), "--strategies", ",".join(strategies),
                 "--coverages", coverages, "--no-biharmonic", "-q", "--out", str(out),
                 "--dwell", str(dwell)])  # fmt: skip
    assert code == 0, f"fastscan simulate returned {code}"
    motion = NANOPROBE.replace(dwell=dwell)
    trajectories = {name: Trajectory.load(out / f"trajectory_{name}.npz") for name in strategies}
    for name, trajectory in trajectories.items():
        violations = check_trajectory(trajectory, motion)
        assert violations == [], f"{name}'s trajectory breaks the time model: {violations}"
    return trajectories
