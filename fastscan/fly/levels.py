"""Coarse-to-fine refinement: which pixels are at the next bisection level of their gap.

A fly raster refines coarse to fine: every 8th row, then the rows halfway in
between, then halfway again. The adaptive fly scan keeps that structure but lets
the ERD choose *where* to refine: a pixel is a candidate for a row segment only
if it is the midpoint of its gap along its column (the run of unmeasured pixels
between the nearest measured ones above and below), and for a column segment only
if it is the midpoint of its gap along its row. On an image full of detail the
ERD is flat along the candidate rows, so the planner flies them whole, level by
level, as a fly raster would; on a sparse image it flies only the parts of them
where the ERD is, and gaps in empty regions stay coarse.

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.levels import midpoint_gaps
>>> measured = np.zeros((9, 2), bool); measured[[0, 8], :] = True
>>> midpoint_gaps(measured, "rows")[:, 0].tolist()
[0, 0, 0, 0, 8, 0, 0, 0, 0]
>>> measured[4] = True
>>> np.flatnonzero(midpoint_gaps(measured, "rows")[:, 0]).tolist()
[2, 6]
"""

from __future__ import annotations

import numpy as np

from fastscan.fly import _kernels as _k

__all__ = ["level_weights", "midpoint_gaps", "union_level_weights"]


def midpoint_gaps(measured: np.ndarray, axis: str, origin: int = 0) -> np.ndarray:
    """Gap length at each gap's midpoint pixel, 0 elsewhere (int64, the grid's shape).

    Parameters
    ----------
    measured : (n_rows, n_cols) bool
        Pixels measured (or planned).
    axis : {"rows", "columns"}
        ``"rows"``: gaps run along columns (the candidates of row segments);
        ``"columns"``: gaps run along rows (candidates of column segments).
    origin : int
        Line the dyadic lattice of candidates counts from (a coarse raster of
        every ``2**j``-th line from ``origin`` bisects onto its lines
        ``origin + i 2**(j - 1)``).

    Returns
    -------
    numpy.ndarray
        Gap lengths in pixels at the midpoints (see
        :func:`fastscan.fly._kernels._gap_midpoints` for the edges).
    """
    measured = np.asarray(measured)
    if measured.ndim != 2 or measured.dtype != bool:
        raise ValueError(
            f"measured must be a 2-D bool array, got {measured.dtype} of shape {measured.shape}"
        )
    if axis not in ("rows", "columns"):
        raise ValueError(f"axis must be 'rows' or 'columns', got {axis!r}")
    if int(origin) != origin or origin < 0:
        raise ValueError(f"origin must be an integer >= 0, got {origin!r}")
    out = np.empty(measured.shape, np.int64)  # C order for both axes
    if axis == "rows":  # gaps down each column, walked row by row
        _k._gap_midpoints_rows(np.ascontiguousarray(measured), out, int(origin))
    else:  # gaps along each row: the rows of measured are the columns of measured.T
        _k._gap_midpoints(np.asfortranarray(measured.T), out.T, int(origin))
    return out


def level_weights(
    erd: np.ndarray,
    measured: np.ndarray,
    axis: str,
    *,
    gap_power: float = 0.0,
    floor: float = 0.0,
    origin: int = 0,
) -> np.ndarray:
    """The ERD kept only at the gap midpoints of ``axis``, with a floor along each line.

    Each candidate pixel's weight is at least ``floor`` times the mean weight of
    the candidates on its line (its row for ``"rows"``): where the ERD is flat
    along a line (texture) the dips are filled and the line is flown whole;
    where it is concentrated the mean is small and the empty parts stay cheap to
    skip. Weights are then multiplied by ``(gap / 2) ** gap_power``. ``origin``
    is that of :func:`midpoint_gaps`.

    Examples
    --------
    >>> import numpy as np
    >>> measured = np.zeros((5, 3), bool); measured[[0, 4]] = True
    >>> level_weights(np.ones((5, 3)), measured, "rows")[:, 1].tolist()
    [0.0, 0.0, 1.0, 0.0, 0.0]
    >>> erd = np.zeros((5, 3)); erd[2] = [3.0, 0.0, 0.0]
    >>> level_weights(erd, measured, "rows", floor=0.5)[2].tolist()
    [3.0, 0.5, 0.5]
    """
    return union_level_weights(erd, measured, {axis: origin}, gap_power=gap_power, floor=floor)


def union_level_weights(
    erd: np.ndarray,
    measured: np.ndarray,
    origins: dict[str, int],
    *,
    gap_power: float = 0.0,
    floor: float = 0.0,
) -> np.ndarray:
    """Elementwise maximum of :func:`level_weights` over the axes in ``origins``.

    ``origins`` maps each axis ("rows", "columns") to its ``origin``; one map of
    the union of candidates, built in place (no per-axis arrays).

    Examples
    --------
    >>> import numpy as np
    >>> measured = np.zeros((5, 5), bool); measured[[0, 4]] = True; measured[:, [0, 4]] = True
    >>> union_level_weights(np.ones((5, 5)), measured, {"rows": 0, "columns": 0})[2].tolist()
    [0.0, 1.0, 1.0, 1.0, 0.0]
    """
    if not (np.isfinite(floor) and floor >= 0):
        raise ValueError(f"floor must be a finite number >= 0, got {floor!r}")
    if not (np.isfinite(gap_power) and gap_power >= 0):
        raise ValueError(f"gap_power must be a finite number >= 0, got {gap_power!r}")
    erd = np.ascontiguousarray(erd, dtype=float)
    weights = np.zeros(erd.shape)
    for axis, origin in origins.items():
        gaps = midpoint_gaps(measured, axis, origin)
        if gaps.shape != erd.shape:
            raise ValueError(f"erd must have the shape of measured {gaps.shape}, got {erd.shape}")
        _k._floor_weights(gaps, erd, float(floor), float(gap_power), axis == "rows", weights)
    return weights
