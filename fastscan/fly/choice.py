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
validation images only (docs/fly-scanning.md, "The flown probe"): the gain observed there,
``R * t_fly / t_step`` from the times of ``fast-fly`` and ``fast`` to each target,
is nearly the same at 10 ms, 100 ms and 1 s for each image, as the model assumes.

The flown probe of ``fast-auto`` (a few whole rows, no stepped pattern) has its
own structure measure, :func:`row_gini`: the Gini of the rows' gradient along x
after a Gaussian blur of :data:`ROW_SIGMA` pixels (about the spacing of the
step sampler's 1 % initial pattern, whose reconstruction the gradient Gini
above is measured on). :func:`choose_mode_rows` maps it to the same gains,
with its own bounds ``ROW_GINI_LOW`` and ``ROW_GINI_HIGH`` (fitted on the
validation images only, docs/fly-scanning.md, "The flown probe").

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

import numpy as np
from scipy.ndimage import gaussian_filter1d

from fastscan.motion import MotionModel, check_motion

__all__ = [
    "GAIN_SPARSE",
    "GAIN_TEXTURE",
    "GINI_HIGH",
    "GINI_LOW",
    "ROW_GINI_HIGH",
    "ROW_GINI_LOW",
    "ROW_SIGMA",
    "STEP_MOVE",
    "ModeChoice",
    "choose_mode",
    "choose_mode_rows",
    "cost_ratio",
    "mode_without_data",
    "row_gini",
    "step_gain",
]

#: typical move between consecutive routed step points of an adaptive batch, pixels
STEP_MOVE = 4.0
#: predicted step gain on texture (gradient Gini at or below GINI_LOW) ...
GAIN_TEXTURE = 1.5
#: ... and on sparse structure (at or above GINI_HIGH); log-linear in between: the
#: least-squares line of log(gain) on the Gini, fitted on the validation images at
#: 10 ms, 100 ms and 1 s, is log G = -0.586 + 2.533 g (docs/fly-scanning.md, "The flown probe")
GAIN_SPARSE = 6.2
GINI_LOW = 0.40
GINI_HIGH = 0.95
#: Gaussian blur along the probe rows before their gradient (pixels), :func:`row_gini`
ROW_SIGMA = 4.0
#: :func:`row_gini` at and below which the gain is GAIN_TEXTURE, at and above which
#: GAIN_SPARSE (log-linear between; fitted on the validation images,
#: docs/fly-scanning.md, "The flown probe")
ROW_GINI_LOW = 0.48
ROW_GINI_HIGH = 1.01


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


def step_gain(gini: float, low: float = GINI_LOW, high: float = GINI_HIGH) -> float:
    """Predicted readings(fly) / readings(step) to the same quality, from the structure.

    ``GAIN_TEXTURE`` at and below ``low``, ``GAIN_SPARSE`` at and above ``high``,
    log-linear between (``low``, ``high``: the bounds of the structure measure,
    :data:`GINI_LOW` and :data:`GINI_HIGH` for the gradient Gini).

    Examples
    --------
    >>> step_gain(0.2), round(step_gain(0.7), 2), round(step_gain(0.99), 2)
    (1.5, 3.25, 6.2)
    """
    if not math.isfinite(gini):
        raise ValueError(f"gini must be a finite number, got {gini!r}")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"low < high must be finite, got low={low!r}, high={high!r}")
    t = min(max((gini - low) / (high - low), 0.0), 1.0)
    return float(GAIN_TEXTURE * (GAIN_SPARSE / GAIN_TEXTURE) ** t)


def row_gini(rows: np.ndarray, sigma: float = ROW_SIGMA) -> float:
    """Structure of flown rows: Gini of their gradient along x, after a Gaussian blur.

    0: the gradient is spread evenly (texture); 1: concentrated on a few edges.
    Rows with no gradient at all give 1: whatever structure the sample has lies
    outside them (sparse).

    Parameters
    ----------
    rows : (n_rows, n_cols) array
        Readings of whole rows.
    sigma : float
        Blur along each row, pixels (0: none).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> texture = np.random.default_rng(0).uniform(0, 100, (4, 256))
    >>> edge = np.zeros((4, 256)); edge[:, 128:] = 100.0
    >>> row_gini(texture) < 0.5 < row_gini(edge), row_gini(np.zeros((4, 256)))
    (True, 1.0)
    """
    rows = np.asarray(rows, float)
    if rows.ndim != 2 or rows.shape[1] < 2:
        raise ValueError(f"rows must be a 2-D array of whole rows (>= 2 columns), got {rows.shape}")
    if not np.isfinite(rows).all():
        raise ValueError("rows must be finite readings")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
    smooth = gaussian_filter1d(rows, sigma, axis=1, mode="nearest") if sigma > 0 else rows
    values = np.sort(np.abs(np.diff(smooth, axis=1)).ravel())
    total = values.sum()
    if not total > 0:
        return 1.0
    n = len(values)
    return float(min(max(1.0 + 1.0 / n - 2.0 * np.cumsum(values).sum() / (n * total), 0.0), 1.0))


def choose_mode_rows(
    motion: MotionModel, line_pixels: int, gini: float, move: float = STEP_MOVE
) -> ModeChoice:
    """:func:`choose_mode` for the flown probe's :func:`row_gini` (its own bounds).

    Examples
    --------
    >>> from fastscan.motion import NANOPROBE
    >>> [choose_mode_rows(NANOPROBE.replace(dwell=0.1), 256, g).mode for g in (0.3, 0.9)]
    ['fly', 'step']
    """
    return choose_mode(motion, line_pixels, gini, move, low=ROW_GINI_LOW, high=ROW_GINI_HIGH)


def choose_mode(
    motion: MotionModel,
    line_pixels: int,
    gini: float,
    move: float = STEP_MOVE,
    *,
    low: float = GINI_LOW,
    high: float = GINI_HIGH,
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
    low, high : float
        Bounds of the structure measure (:func:`step_gain`).

    Returns
    -------
    ModeChoice
    """
    ratio = cost_ratio(motion, line_pixels, move)
    gain = step_gain(gini, low, high)
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
