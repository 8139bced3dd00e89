"""The honesty check after a replayed scan: nothing read unasked, every time possible.

A replay is honest when the simulated detector read exactly the pixels the sampler
holds as measured (it revealed nothing the sampler did not ask for, and the sampler
kept every reading it asked for) and, given a motion model, when every trajectory of
the scan passes :func:`fastscan.beamtime.check_trajectory`. :func:`assert_honest_scan`
checks both and says what was dishonest: how many pixels, the first few ``(row, col)``,
and the trajectory violations. :func:`honest_simulation` runs ``fastscan simulate`` and
checks every trajectory file it writes; :func:`honest_replay` is
:func:`fastscan.replay.replay` followed by the pixel check; :func:`assert_honest_devices`
makes the pixel check after a Bluesky run on the ``fastscan.sim`` devices (:class:`Stored`:
a run's stored points, when the plan made the sampler; :class:`IocRecord`: the simulated
IOC's record, ``P:det:asked``). The pixel comparison is the
library's (:func:`fastscan.replay.mask_problems`, which ``fastscan evaluate`` uses too);
:class:`PeekingDetector` and :class:`ForgetfulDetector` are dishonest detectors to test
the checks with.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike

from fastscan.beamtime import Trajectory, check_trajectory
from fastscan.motion import NANOPROBE, MotionModel
from fastscan.replay import SimulatedDetector, Snapshot, replay
from fastscan.replay import mask_problems as pixel_problems


class PeekingDetector(SimulatedDetector):
    """A dishonest detector, to test the checks: with every reading it also reads the
    pixel below (its ``asked_mask`` shows them; the sampler never asked)."""

    def measure(self, points: np.ndarray) -> np.ndarray:
        below = np.asarray(points) + np.array([1, 0])
        super().measure(below[below[:, 0] < self.shape[0]])
        return super().measure(points)


class ForgetfulDetector(SimulatedDetector):
    """A dishonest record, to test the checks: it drops its first reading, so the
    sampler holds a pixel the detector never read."""

    @property
    def asked_mask(self) -> np.ndarray:
        asked = super().asked_mask
        asked[tuple(np.argwhere(asked)[0])] = False
        return asked


class Scanned(Protocol):
    """A sampler after a replay: what it holds as measured, and its trajectory.

    ``trajectory`` is read only when a motion model is given, and only if the sampler
    has one (a step sampler or a static fly raster has none: its replay's
    :class:`~fastscan.beamtime.TrajectoryBuilder` record is passed instead).
    """

    @property
    def measured_mask(self) -> ArrayLike: ...

    @property
    def trajectory(self) -> Trajectory: ...


class Asked(Protocol):
    """A detector that records every pixel it read (:class:`fastscan.replay.SimulatedDetector`)."""

    @property
    def asked_mask(self) -> np.ndarray: ...


def mask_problems(sampler: Scanned, detector: Asked) -> list[str]:
    """What differs between the pixels ``detector`` read and those ``sampler`` holds.

    Returns
    -------
    list of str
        :func:`fastscan.replay.mask_problems` of the two masks: empty when they are
        equal; else one line per direction that differs.
    """
    return pixel_problems(detector.asked_mask, sampler.measured_mask)


class Stored:
    """The pixels a stored run holds, as a sampler's ``measured_mask``: for a run whose
    sampler the plan made (``points`` from :func:`fastscan.plans.replay_points`)."""

    def __init__(self, points: ArrayLike, shape: tuple[int, int]) -> None:
        points = np.asarray(points, np.int64).reshape(-1, 2)
        self.measured_mask = np.zeros(shape, bool)
        self.measured_mask[points[:, 0], points[:, 1]] = True


class IocRecord:
    """The simulated IOC's record of the pixels it revealed (``P:det:asked``), read over
    Channel Access, as a device with an ``asked_mask``.

    Parameters
    ----------
    ioc : IocHandle
        The running IOC (``ioc.pv(suffix)`` names its PVs).
    shape : (n_rows, n_cols)
        The IOC's image grid.
    """

    def __init__(self, ioc: Any, shape: tuple[int, int]) -> None:
        self.ioc, self.shape = ioc, shape

    def clear(self) -> None:
        """Forget what the IOC revealed so far (a module-wide IOC served other tests)."""
        import epics

        assert epics.caput(self.ioc.pv("det:asked_clear"), 1, wait=True, timeout=10) == 1

    @property
    def asked_mask(self) -> np.ndarray:
        import epics

        n = epics.caget(self.ioc.pv("det:n_asked"), use_monitor=False, timeout=10)
        flat = epics.caget(self.ioc.pv("det:asked"), use_monitor=False, timeout=10)
        assert n is not None and flat is not None, "the IOC's det:asked record did not answer"
        mask = np.zeros(self.shape, bool)
        mask.flat[np.atleast_1d(flat)[: int(n)]] = True
        return mask


def assert_honest_devices(sampler: Scanned, *devices: Asked) -> None:
    """Fail, naming the pixels, unless a Bluesky run's simulated devices revealed exactly
    the pixels ``sampler`` holds.

    ``devices`` (``fastscan.sim`` detectors and flyers, each with an ``asked_mask``)
    must have read for ``sampler``'s run alone; what they revealed together is
    compared, so a run that both steps and flies passes its detector and flyer.

    Raises
    ------
    AssertionError
        With :func:`fastscan.replay.mask_problems`'s lines.
    ValueError
        If no device is given.
    """
    if not devices:
        raise ValueError("pass at least one device with an asked_mask")
    asked = np.logical_or.reduce([np.asarray(d.asked_mask, bool) for d in devices])
    if problems := pixel_problems(asked, sampler.measured_mask):
        raise AssertionError("dishonest run: " + "; ".join(problems))


def _has_trajectory(sampler: object) -> bool:
    """Whether ``sampler`` has a trajectory of its own (its class's or an attribute).

    Not :func:`hasattr`: a trajectory property that fails must fail the check, not
    pass as "no trajectory".
    """
    return hasattr(type(sampler), "trajectory") or "trajectory" in getattr(sampler, "__dict__", {})


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
        The time model; given, ``sampler.trajectory`` (if the sampler has one) and
        ``trajectory`` (if given) must pass :func:`fastscan.beamtime.check_trajectory`.
        None: the pixels only.
    trajectory : Trajectory or None
        Another record of the same scan (one a replay built) that must pass too; it
        needs ``motion``, and a sampler without a trajectory of its own needs it.

    Raises
    ------
    AssertionError
        Listing every dishonest thing found: pixels read unasked or held unread
        (count and the first few ``(row, col)``) and each trajectory's violations.
    ValueError
        If ``trajectory`` is given without ``motion``, or ``motion`` without any
        trajectory to check (the sampler has none and none is given).
    """
    if trajectory is not None and motion is None:
        raise ValueError("a trajectory is checked against a motion model: pass motion too")
    problems = mask_problems(sampler, detector)
    if motion is not None:
        records = {}
        if _has_trajectory(sampler):
            records["sampler.trajectory"] = sampler.trajectory
        if trajectory is not None:
            records["the given trajectory"] = trajectory
        if not records:
            raise ValueError(
                f"motion is given but {type(sampler).__name__} has no trajectory: pass the "
                "replay's record as trajectory= (a TrajectoryBuilder's), or no motion"
            )
        for name, record in records.items():
            if violations := check_trajectory(record, motion):
                problems.append(f"{name} breaks the time model: {violations}")
    if problems:
        raise AssertionError("dishonest scan: " + "; ".join(problems))


def honest_replay(
    sampler: Scanned, detector: SimulatedDetector, coverages: Sequence[float], **kwargs: Any
) -> list[Snapshot]:
    """:func:`fastscan.replay.replay` of ``sampler`` on ``detector``, checked honest in its pixels.

    ``detector`` must have read for ``sampler`` alone (a fresh one per sampler);
    ``kwargs`` go to ``replay``. For a step sampler (no trajectory of its own): pass a
    ``TrajectoryBuilder`` and call :func:`assert_honest_scan` with its trajectory to
    check the times too.

    Returns
    -------
    list of Snapshot
        ``replay``'s snapshots, after :func:`assert_honest_scan` passed.
    """
    snapshots = replay(sampler, detector, coverages, **kwargs)
    assert_honest_scan(sampler, detector)
    return snapshots


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
