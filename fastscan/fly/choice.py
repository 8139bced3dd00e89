"""Step or fly, from the time model and the data: the decision of ``fast-auto``.

:class:`fastscan.fly.auto.AutoSampler` asks whether the scan is cheaper as step
batches (``fast``) or as adaptive fly segments (``fast-fly``). Two numbers
decide:

- **cost ratio** ``R`` (:func:`cost_ratio`): seconds of one step reading
  (dwell + settle + point overhead + a typical move of ``STEP_MOVE`` pixels)
  over seconds of one flown reading (pixel time + a whole row's fixed cost,
  settle + line overhead + both ramps, shared by its readings);
- **step gain** ``G`` (:func:`step_gain`): how many times fewer readings the
  step sampler needs than the fly sampler to the same quality, predicted from
  the structure of the coarse raster's reconstruction, its gradient Gini ``g``
  (:func:`fastscan._structure.gradient_gini`, as the composed sampler measures
  it): ``G = GAIN_TEXTURE`` at and below ``GINI_LOW`` (texture: free points
  buy little over whole lines) rising log-linearly to ``GAIN_SPARSE`` at and
  above ``GINI_HIGH`` (sparse structure: points go where the edges are).

Step wins when ``G >= R``. Where ``R <= GAIN_TEXTURE`` step wins and where
``R > GAIN_SPARSE`` fly wins whatever the data (:func:`mode_without_data`), so
the sampler measures nothing to decide. The constants were fitted on the
validation images only (README, "fast-auto"): the gain observed there,
``R * t_fly / t_step`` from the times of ``fast-fly`` and ``fast`` to each target,
is nearly the same at 10 ms, 100 ms and 1 s for each image, as the model assumes.

Examples
--------
>>> from fastscan.fly.choice import choose_mode, cost_ratio
>>> from fastscan.motion import NANOPROBE
>>> [round(cost_ratio(NANOPROBE.replace(dwell=d), 256), 2) for d in (0.01, 0.1, 1.0)]
[8.24, 1.75, 1.07]
>>> [choose_mode(NANOPROBE.replace(dwell=d), 256, 0.3).mode for d in (0.01, 0.1, 1.0)]
['fly', 'fly', 'step']
>>> [choose_mode(NANOPROBE.replace(dwell=d), 256, 0.7).mode for d in (0.01, 0.1, 1.0)]
['fly', 'step', 'step']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastscan.motion import MotionModel, check_motion

__all__ = [
    "GAIN_SPARSE",
    "GAIN_TEXTURE",
    "GINI_HIGH",
    "GINI_LOW",
    "STEP_MOVE",
    "ModeChoice",
    "choose_mode",
    "cost_ratio",
    "mode_without_data",
    "step_gain",
]

#: typical move between consecutive routed step points of an adaptive batch, pixels
STEP_MOVE = 4.0
#: predicted step gain on texture (gradient Gini at or below GINI_LOW) ...
GAIN_TEXTURE = 1.5
#: ... and on sparse structure (at or above GINI_HIGH); log-linear in between: the
#: least-squares line of log(gain) on the Gini, fitted on the validation images at
#: 10 ms, 100 ms and 1 s, is log G = -0.586 + 2.533 g (README, "fast-auto")
GAIN_SPARSE = 6.2
GINI_LOW = 0.40
GINI_HIGH = 0.95


@dataclass(frozen=True)
class ModeChoice:
    """What :func:`choose_mode` decided and from what (kept by the sampler, reported)."""

    mode: str  #: "step" or "fly"
    cost_ratio: float  #: seconds per step reading / seconds per flown reading
    gain: float  #: predicted readings fly / readings step to the same quality
    gini: float  #: gradient Gini of the coarse raster's reconstruction


def cost_ratio(motion: MotionModel, line_pixels: int, move: float = STEP_MOVE) -> float:
    """Seconds of a step reading over seconds of a flown reading (``R``).

    Parameters
    ----------
    motion : MotionModel
        The time model in pixel units.
    line_pixels : int
        Readings per flown row (the grid's width): they share the row's fixed cost.
    move : float
        Pixels the stage moves between step points (along x, the row axis).

    Returns
    -------
    float

    Examples
    --------
    >>> from fastscan.motion import NANOPROBE
    >>> round(cost_ratio(NANOPROBE.replace(dwell=1.0), 256), 3)
    1.075
    """
    from fastscan.fly.sampler import line_costs

    check_motion(motion)
    if int(line_pixels) != line_pixels or line_pixels < 1:
        raise ValueError(f"line_pixels must be an integer >= 1, got {line_pixels!r}")
    if not (math.isfinite(move) and move >= 0):
        raise ValueError(f"move must be a finite number of pixels >= 0, got {move!r}")
    step = motion.dwell + motion.settle_time + motion.point_overhead
    step += float(motion.travel_time(move, 0.0))
    (fixed, _), (pixel_time, _) = line_costs(motion)
    return step / (pixel_time + fixed / int(line_pixels))


def step_gain(gini: float) -> float:
    """Predicted readings(fly) / readings(step) to the same quality, from the structure.

    Examples
    --------
    >>> step_gain(0.2), round(step_gain(0.7), 2), round(step_gain(0.99), 2)
    (1.5, 3.25, 6.2)
    """
    if not math.isfinite(gini):
        raise ValueError(f"gini must be a finite number, got {gini!r}")
    t = min(max((gini - GINI_LOW) / (GINI_HIGH - GINI_LOW), 0.0), 1.0)
    return float(GAIN_TEXTURE * (GAIN_SPARSE / GAIN_TEXTURE) ** t)


def choose_mode(
    motion: MotionModel, line_pixels: int, gini: float, move: float = STEP_MOVE
) -> ModeChoice:
    """``"step"`` if the predicted step gain is at least the cost ratio, else ``"fly"``.

    Parameters
    ----------
    motion : MotionModel
        The time model in pixel units (its dwell matters most).
    line_pixels : int
        Readings per flown row (the grid's width).
    gini : float
        Gradient Gini of the reconstruction from the coarse raster.
    move : float
        Pixels between step points (:func:`cost_ratio`).

    Returns
    -------
    ModeChoice
    """
    ratio = cost_ratio(motion, line_pixels, move)
    gain = step_gain(gini)
    return ModeChoice("step" if gain >= ratio else "fly", ratio, gain, float(gini))


def mode_without_data(motion: MotionModel, line_pixels: int, move: float = STEP_MOVE) -> str | None:
    """``"step"`` or ``"fly"`` if :func:`choose_mode` gives it for every structure, else None.

    Examples
    --------
    >>> from fastscan.motion import NANOPROBE
    >>> [mode_without_data(NANOPROBE.replace(dwell=d), 256) for d in (0.001, 0.1, 10.0)]
    ['fly', None, 'step']
    """
    ratio = cost_ratio(motion, line_pixels, move)
    if ratio <= GAIN_TEXTURE:
        return "step"
    if ratio > GAIN_SPARSE:
        return "fly"
    return None
