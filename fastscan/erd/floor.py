"""An exploration floor under the learned ERD: unseen error may hide anywhere.

A regressor of the six SLADS features predicts one constant where every
neighbour agrees (a flat background: the L1 ``default`` model exactly 0, ``l2``
about 0.09), however far the pixel is from the nearest sample, so a wide empty
area looks no more worth measuring than a small one, and structure hidden in it
is found late or never.

The floor is the RD the model's own target would give a pixel at distance
``d_1`` from the nearest sample if an error of ``level`` (in the [0, 100] units
the model sees) lay everywhere around it. The target of a model trained with
error power ``p`` (:func:`fastscan.erd.target.rd_target`) sums ``E**p`` under an
unnormalised Gaussian of sigma ``d_1 / 2``, whose sum is ``2 pi sigma**2 = pi
d_1**2 / 2``, so a uniform error ``e`` gives

``floor(d_1) = e * (pi d_1**2 / 2) ** (1 / p)``

(``e d_1 sqrt(pi / 2)`` for ``p = 2``). The sampler scores each pixel with
``max(ERD, floor)``: where the model sees structure it ranks as before; where it
sees none the farthest pixel wins (farthest-point exploration). The floor reads
only ``d_1``, so a local update keeps it exact.

Examples
--------
>>> import numpy as np
>>> features = np.zeros((3, 6)); features[:, 2] = [1.0, 2.0, 4.0]
>>> erd_floor(features, level=1.0, power=2.0).round(3).tolist()
[1.253, 2.507, 5.013]
>>> erd_floor(features, level=1.0, power=1.0).round(3).tolist()
[1.571, 6.283, 25.133]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "AUTO",
    "AUTO_SCALE",
    "apply_floor",
    "check_floor",
    "erd_floor",
    "flat_surprise_level",
    "line_lattice_flat_share",
    "line_lattice_level",
    "model_error_power",
]

#: ``erd_floor="auto"``: the level is measured from the initial pattern (flat_surprise_level)
AUTO = "auto"
#: share of the initial pattern's flat-context error taken as the floor's level; the one
#: constant of the auto floor, chosen on the sparse validation images (blobs: 1/3 of the
#: measured 2.7-4.8 gains as much at 10 % as the full level and more from 20 % on)
AUTO_SCALE = 1.0 / 3.0
#: neighbours that agree within this many [0, 100] units make a flat context
FLAT_RANGE = 1.0
#: fewer flat points than this share of the pattern count as this share (a level read
#: from a handful of points is shrunk towards 0)
MIN_FLAT_SHARE = 0.05


def model_error_power(model: Any) -> float:
    """Error power ``p`` of a model's training target (1: SLADS's L1 RD, 2: ``l2``).

    Read from the training record (``info_["config"]["error_power"]``); a model
    without one was trained on the L1 target.

    Examples
    --------
    >>> from fastscan.erd.estimator import load_model
    >>> model_error_power(load_model("default")), model_error_power(load_model("l2"))
    (1.0, 2.0)
    """
    info = getattr(model, "info_", None)
    config = info.get("config") if isinstance(info, dict) else None
    power = config.get("error_power", 1.0) if isinstance(config, dict) else 1.0
    if isinstance(power, bool) or not isinstance(power, (int, float)):
        return 1.0
    power = float(power)
    return power if math.isfinite(power) and power > 0 else 1.0


def check_floor(level: float | str) -> float | str:
    """``level`` as a float if it is a finite number >= 0, or ``"auto"``; else a
    ValueError naming it."""
    if isinstance(level, str) and level == AUTO:
        return AUTO
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ValueError(
            f"erd_floor must be a finite number >= 0 or 'auto', got {level!r}"
        ) from None
    if isinstance(level, bool) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"erd_floor must be a finite number >= 0 or 'auto', got {level!r}")
    return value


def erd_floor(features: np.ndarray, level: float, power: float) -> np.ndarray:
    """Floor of each feature row: ``level * (pi d_1**2 / 2) ** (1 / power)``.

    Parameters
    ----------
    features : (n, 6) array
        SLADS features (:mod:`fastscan.features`); column 2 is ``d_1``.
    level : float
        Error assumed around every unmeasured pixel, in the model's [0, 100] units.
    power : float
        Error power of the model's target (:func:`model_error_power`).

    Returns
    -------
    (n,) float64 array.
    """
    d1 = np.asarray(features, np.float64)[:, 2]
    area = (0.5 * math.pi) * d1 * d1
    if power == 2.0:
        return level * np.sqrt(area)
    if power == 1.0:
        return level * area
    return level * area ** (1.0 / power)


def apply_floor(erd: np.ndarray, features: np.ndarray, level: float, power: float) -> np.ndarray:
    """``erd`` raised to the floor in place (``max(erd, floor)``); returns it.

    ``features`` holds one row per entry of ``erd``; ``level = 0`` leaves ``erd`` as is.

    Examples
    --------
    >>> import numpy as np
    >>> features = np.zeros((2, 6)); features[:, 2] = [1.0, 8.0]
    >>> apply_floor(np.array([5.0, 5.0]), features, 1.0, 2.0).round(3).tolist()
    [5.0, 10.027]
    """
    if level > 0:
        np.maximum(erd, erd_floor(features, level, power), out=erd)
    return erd


def flat_surprise_level(
    points: np.ndarray,
    values: np.ndarray,
    k: int = 10,
    scale: float = AUTO_SCALE,
    power: float = 1.0,
) -> float:
    """The auto floor's level: how wrong a flat background's prediction is, measured.

    Each point of a (uniform) pattern is predicted from its ``k`` nearest other
    points (IDW, 1/d**2: leave-one-out). Where those neighbours agree within
    :data:`FLAT_RANGE` ([0, 100] units) the ERD model sees nothing there, and the
    point's error is what such a pixel actually hides (a small particle the
    pattern's spacing skipped). The level is ``scale`` times the power mean
    (``power``: the model's error power, so the floor's uniform error sums to
    what the measured errors sum to under the model's target) of those errors,
    the sum divided by at least ``MIN_FLAT_SHARE`` of the points (a level read
    from a handful of flat points is shrunk towards 0). With the L1 model sparse
    particles give 0.9-1.7, trace maps and photographs 0-0.12 (docs/erd-model.md).

    Parameters
    ----------
    points : (n, 2) int array
        (row, col) of the pattern's points.
    values : (n,) array
        Their readings in the model's [0, 100] units.
    k : int
        Neighbours of each prediction (lowered to ``n - 1``).
    scale : float
        Share of the mean flat error taken as the level.
    power : float
        Error power of the model's target (:func:`model_error_power`); 1: the mean.

    Returns
    -------
    float, >= 0 (0 for fewer than 3 points).

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.mgrid[0:40:4, 0:40:4]
    >>> points = np.column_stack([rows.ravel(), cols.ravel()])
    >>> values = np.zeros(len(points))
    >>> flat_surprise_level(points, values)
    0.0
    >>> values[55] = 100.0  # a particle only one point hits: error 100 where 91 agree
    >>> round(flat_surprise_level(points, values), 3)  # 100 / 91 / 3
    0.366
    >>> round(flat_surprise_level(points, values, power=2.0), 3)  # sqrt(100**2 / 91) / 3
    3.494
    """
    points = np.asarray(points, np.float64).reshape(-1, 2)
    values = np.asarray(values, np.float64).ravel()
    n = len(points)
    if n < 3:
        return 0.0
    distance, neighbours, flat = _flat_contexts(points, values, k)
    weights = 1.0 / np.maximum(distance, 1e-12) ** 2
    predicted = (weights * neighbours).sum(1) / weights.sum(1)
    error = (np.abs(predicted - values)[flat] ** power).sum()
    mean = error / max(int(flat.sum()), MIN_FLAT_SHARE * n, 1.0)
    return float(scale * mean ** (1.0 / power))


def line_lattice_level(
    points: np.ndarray,
    values: np.ndarray,
    k: int = 10,
    *,
    spacing: int,
    axis: int,
    origin: int = 0,
    scale: float = AUTO_SCALE,
    power: float = 1.0,
) -> float:
    """The auto floor's level measured on parallel lines ``spacing`` apart (a fly raster).

    Along a line every pixel is read, so a point's ``k`` nearest neighbours lie
    on its own line within ``k / 2`` pixels, and :func:`flat_surprise_level` would
    ask what a flat stretch of one line hides a pixel away, not what the gap
    between lines hides. Here the lines' pixels are split into the ``spacing``
    square lattices of that spacing (the pixels ``origin + j * spacing`` of each
    line along it, for each offset ``origin`` .. ``origin + spacing - 1``), each
    lattice is measured as an initial pattern is (:func:`flat_surprise_level`,
    ``scale`` 1) and the level is ``scale`` times the power mean of their levels.

    Parameters
    ----------
    points : (n, 2) int array
        (row, col) of measured pixels; only those on the lines count.
    values : (n,) array
        Their readings in the model's [0, 100] units.
    k : int
        Neighbours of each leave-one-out prediction.
    spacing : int
        Distance between the lines (>= 1), also the lattices' spacing along them.
    axis : {0, 1}
        0: the lines are rows (``points[:, 0]`` is the line), 1: columns.
    origin : int
        Index of one of the lines (the lines are ``origin`` mod ``spacing``).
    scale : float
        Share of the measured level taken as the floor's level.
    power : float
        Error power of the model's target (:func:`model_error_power`).

    Returns
    -------
    float, >= 0 (0 if no lattice has 3 points).

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.mgrid[2:80:8, 0:80]  # every 8th row, whole
    >>> points = np.column_stack([rows.ravel(), cols.ravel()])
    >>> values = np.zeros(len(points))
    >>> values[(points[:, 0] == 42) & (abs(points[:, 1] - 40) <= 1)] = 100.0  # a small particle
    >>> round(flat_surprise_level(points, values), 3)  # along the line it is not flat context
    0.0
    >>> # 3 of the 8 lattices hold one particle pixel among about 90 flat points
    >>> round(line_lattice_level(points, values, spacing=8, axis=0, origin=2, scale=1.0), 3)
    0.414
    """
    levels = [
        flat_surprise_level(p, v, k, 1.0, power)
        for p, v in _line_lattices(points, values, spacing, axis, origin)
    ]
    mean = float(np.mean(np.power(levels, power)))
    return float(scale * mean ** (1.0 / power))


def line_lattice_flat_share(
    points: np.ndarray,
    values: np.ndarray,
    k: int = 10,
    *,
    spacing: int,
    axis: int,
    origin: int = 0,
) -> float:
    """Share of the lines' lattice points in a flat context: how much of a scene is background.

    The lattices are those of :func:`line_lattice_level`; a point is in a flat
    context when its ``k`` nearest other points of its lattice agree within
    :data:`FLAT_RANGE` (the contexts :func:`flat_surprise_level` reads).

    Parameters
    ----------
    points, values, k, spacing, axis, origin :
        As :func:`line_lattice_level`.

    Returns
    -------
    float in [0, 1] (0 if no lattice has 3 points).

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.mgrid[2:80:8, 0:80]
    >>> points = np.column_stack([rows.ravel(), cols.ravel()])
    >>> line_lattice_flat_share(points, np.zeros(len(points)), spacing=8, axis=0, origin=2)
    1.0
    >>> ramp = 2.0 * points[:, 0]  # neighbours a line apart differ by 16: nothing is flat
    >>> line_lattice_flat_share(points, ramp, spacing=8, axis=0, origin=2)
    0.0
    """
    n_flat = n = 0
    for p, v in _line_lattices(points, values, spacing, axis, origin):
        if len(p) < 3:
            continue
        n_flat += int(_flat_contexts(p, v, k)[2].sum())
        n += len(p)
    return n_flat / n if n else 0.0


def _flat_contexts(
    points: np.ndarray, values: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each point's ``k`` nearest other points (at least 3 points, ``k`` lowered to the
    others): their distances, their values, and whether those agree within FLAT_RANGE."""
    from scipy.spatial import cKDTree

    k = min(int(k), len(points) - 1)
    distance, index = cKDTree(points).query(points, k + 1)
    distance, index = distance[:, 1:], index[:, 1:]  # leave each point out
    neighbours = values[index]
    return distance, neighbours, np.ptp(neighbours, axis=1) < FLAT_RANGE


def _line_lattices(
    points: np.ndarray, values: np.ndarray, spacing: int, axis: int, origin: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The points on lines ``origin`` mod ``spacing`` of ``axis``, split into the
    ``spacing`` square lattices along the lines; (points, values) of each."""
    if isinstance(spacing, bool) or not isinstance(spacing, (int, np.integer)) or spacing < 1:
        raise ValueError(f"spacing must be an integer >= 1, got {spacing!r}")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 (rows) or 1 (columns), got {axis!r}")
    points = np.asarray(points).reshape(-1, 2)
    values = np.asarray(values, np.float64).ravel()
    on_lines = (points[:, axis] - origin) % spacing == 0
    points, values = points[on_lines], values[on_lines]
    along = points[:, 1 - axis] % spacing
    return [(points[along == o], values[along == o]) for o in range(spacing)]
