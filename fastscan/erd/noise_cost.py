"""The ERD net of counting noise: what a raw Poisson reading removes minus what it adds.

The evaluation's reconstruction (IDW, and the sampler's own) returns a measured
pixel's raw reading. On Poisson counts that reading carries a noise of
``sqrt(counts)``: measuring a pixel removes the interpolation error the ERD
predicts there, in the model's [0, 100] units, and puts a noise of about
``scale * sqrt(counts)`` in its place (``scale`` = 100 / the measured count range).
On bright, low-count objects whose shape is already found, the second outweighs
the first, and an ERD that ranks by the first alone keeps measuring them
(docs/erd-model.md, "Noisy low counts").

The net gain of a pixel is ``ERD - cost * sigma`` with ``sigma = scale *
sqrt(counts)`` (the pixel's reconstruction taken as its expected counts) and
``cost`` a weight (about the number of noise standard deviations a reading must
beat); the score is ``max(ERD - cost * sigma, 0) + FALLBACK * ERD / (1 + cost *
sigma)``. The small second term (at most ``FALLBACK`` times the ERD) orders the
pixels without a net gain, below those with a clear one, by the division form,
which prefers dim, far pixels (where a reading adds the least noise), so a scan
whose every ERD is below the noise spreads instead of chasing bright noise. The
result depends only on the pixel's own ERD and reconstruction, so a local update keeps it exact.

Examples
--------
>>> import numpy as np
>>> erd = np.array([30.0, 5.0, 5.0])
>>> counts = np.array([100.0, 100.0, 1.0])
>>> net_of_count_noise(erd, counts, cost=2.0, scale=1.0)
>>> erd.round(4).tolist()
[10.0014, 0.0002, 3.0017]
"""

from __future__ import annotations

import numpy as np

__all__ = ["FALLBACK", "net_of_count_noise"]

#: weight of the division form where a pixel has no net gain (far below any gain)
FALLBACK = 1e-3


def net_of_count_noise(erd: np.ndarray, counts: np.ndarray, cost: float, scale: float) -> None:
    """Replace ``erd`` in place by its gain net of the noise of a raw Poisson reading.

    Parameters
    ----------
    erd : (n,) float64 array
        The model's ERD (after the exploration floor, before the structure
        shaping), in the model's [0, 100] units; overwritten.
    counts : (n,) array
        Each pixel's reconstruction in counts (negative values count as 0).
    cost : float
        Weight of the noise, >= 0 (0 leaves ``erd`` as it is).
    scale : float
        Model units per count (100 / the measured count range), > 0.

    Examples
    --------
    >>> import numpy as np
    >>> erd = np.array([10.0, 1.0])
    >>> net_of_count_noise(erd, np.array([4.0, 4.0]), cost=1.0, scale=2.0)
    >>> erd.round(4).tolist()
    [6.002, 0.0002]
    """
    if not (np.isfinite(cost) and cost >= 0.0):
        raise ValueError(f"cost must be a finite number >= 0, got {cost!r}")
    if not (np.isfinite(scale) and scale > 0.0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    if cost == 0.0:
        return
    noise = (cost * scale) * np.sqrt(np.maximum(counts, 0.0))
    fallback = (FALLBACK * erd) / (1.0 + noise)
    erd -= noise
    np.maximum(erd, 0.0, out=erd)
    erd += fallback
