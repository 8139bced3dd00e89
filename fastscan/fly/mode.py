"""Step or fly: which adaptive mode to run at a given dwell, from the time model alone.

A flown reading costs one pixel time (plus a share of its line's fixed cost);
a step reading costs the dwell plus a fixed part: settle, point overhead and at
least a one-pixel move. Step points are free to go anywhere, lines are not, so
the step sampler (``fast``) needs fewer readings to the same quality; it wins
once its fixed part is no larger than the dwell (a step reading then costs at
most twice a flown one). Below that, the adaptive fly scan (``fast-fly``) wins.

On the nanoprobe model the switch is at 55 ms (10 + 25 ms + a 20 ms move of one
pixel). On WSe2 (a validation image) ``fast-fly`` needs 0.69 / 0.53 of the best
static time at 10 ms and ``fast`` beats it at 100 ms (2236 s against about
4030 s to the every-4th-row target; README, "Beam time").

The registered strategy ``fast-auto`` (:mod:`fastscan.fly.auto`) also looks at the
sample where the time model alone does not decide (:mod:`fastscan.fly.choice`).

Examples
--------
>>> from fastscan.fly.mode import best_strategy, step_overhead
>>> from fastscan.motion import NANOPROBE
>>> round(step_overhead(NANOPROBE), 3)
0.055
>>> [best_strategy(NANOPROBE.replace(dwell=d)) for d in (0.001, 0.01, 0.1, 1.0)]
['fast-fly', 'fast-fly', 'fast', 'fast']
"""

from __future__ import annotations

from fastscan.motion import MotionModel, check_motion

__all__ = ["best_strategy", "step_overhead"]


def step_overhead(motion: MotionModel) -> float:
    """Seconds a step reading costs besides its dwell, at the least (a one-pixel move).

    ``settle_time + point_overhead`` + the shorter of the one-pixel moves along x
    and y (pixel units, as in ``fastscan simulate``).
    """
    check_motion(motion)
    move = min(float(motion.travel_time(1.0, 0.0)), float(motion.travel_time(0.0, 1.0)))
    return motion.settle_time + motion.point_overhead + move


def best_strategy(motion: MotionModel) -> str:
    """``"fast"`` (step) if :func:`step_overhead` is at most the dwell, else ``"fast-fly"``.

    Parameters
    ----------
    motion : MotionModel
        The time model in pixel units (its ``dwell`` decides).

    Returns
    -------
    str
        A name of :data:`fastscan.strategies.STRATEGIES`.
    """
    return "fast" if step_overhead(motion) <= motion.dwell else "fast-fly"
