"""Structure-adaptive shaping of the ERD: concentrate on sparse structure, spread on texture.

The learned ERD ranks pixels by expected reduction of the *absolute* error under
a window of about their nearest-sample distance ``d_1``. What it misses:

* NRMSE is a squared error: where structure is sparse (flakes, particles on an
  empty background) a pixel whose neighbours disagree a lot is worth more than
  the L1 ERD says. ``contrast``: the score is multiplied by ``f_1 ** a`` (``f_1``
  the weighted neighbour deviation, feature 1), which turns the L1 estimate
  into an L2-like one.
* Where structure is everywhere (texture finer than the sampling), measuring a
  pixel fixes little beyond the pixel itself and the best pattern is an even one
  (raster, low discrepancy). ``fill``: the score is multiplied by ``d_1 ** b``,
  so when the ERD is flat the farthest pixel wins (farthest-point sampling).
  ``lattice``: the score is also multiplied by ``2 ** (-c * level)``, ``level``
  the pixel's level in a nested hierarchy of lattices
  (:func:`fastscan._lattice.lattice_levels`) clipped to [-1, 1]: pixels of the
  2.5 % lattice are preferred ``2 ** c`` times to those of the 5 % lattice
  (the step raster's at 5 %), and these ``2 ** c`` times to all others. On
  texture the first 5 % then form that raster (less the points the initial
  Halton pattern already covers) instead of a farthest-point set, which is
  as irregular as Halton's; farther on, the farthest-point rule fills the
  raster's cell centres, the 10 % and then 20 % diagonal and square lattices.

Which of the two applies is decided from the image itself: the Gini coefficient
``g`` of the gradient magnitude of the current reconstruction (0: gradient
spread evenly, texture; 1: concentrated on a few edges). With
``t = clip((g - GINI_TEXTURE) / (GINI_SPARSE - GINI_TEXTURE), 0, 1)`` the
exponents are ``a = contrast * t``, ``b = fill * (1 - t)`` and
``c = lattice * (1 - t)``. ``g`` is measured once, when the initial pattern is
complete (a uniform, unbiased sample of the image; later patterns are biased by
the choices made), and held for the rest of the scan, so local updates stay
exact; it is saved with the sampler state (the lattice levels depend only on
the grid).
``contrast = fill = lattice = 0`` is the plain ERD.

``hedge`` (opt-in) softens the lattice on textures whose edge energy varies
across the image (natural photographs), where the ERD's choice gains more than
the lattice's regularity; on a stationary texture (noise, gravel, foam: the
same grain everywhere) the ERD has nothing to redistribute and the lattice
stays. The variation ``v`` (:func:`energy_variation`) is the coefficient of
variation of the gradient power smoothed over ``VARIATION_SPACINGS`` initial
sample spacings; with ``s = clip((v - V_STATIONARY) / (V_VARYING -
V_STATIONARY), 0, 1)`` the lattice exponent is ``c * (1 - hedge * s)``.
Measured once with ``g``, saved with the state (files without it load with
``v = 0``: unchanged).

Defaults (:class:`fastscan.Sampler`): ``fill = 2`` and ``lattice = 3``, with
which the ``d_1`` exponent is ``LATTICE_FILL * fill = 8`` on texture (chosen on
the validation texture gravel and synthetic Gaussian textures: gravel's NRMSE
over the best static pattern at 5/10/20/30 % went from 1.004/1.018/0.988/0.990
with ``lattice = 0`` to 1.005/1.005/0.985/0.987, the smooth textures' worst from
1.14 to 1.04, ``benchmarks/bench_grace.py``). Poisson counts (``counting``) keep
``lattice`` off. ``contrast = 0``:
``contrast`` helps scenes whose structure the initial pattern has already found
(WSe2 NRMSE at 10 % 0.204 -> 0.180 with 0.5), but it starves the exploration of
flat background, so small sparse particles not yet seen are found later (a
96 x 128 particles phantom at 10 %: 0.31 -> 0.42); it stays an opt-in knob.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GINI_SPARSE",
    "GINI_TEXTURE",
    "LATTICE_FILL",
    "LATTICE_LEVELS",
    "VARIATION_SPACINGS",
    "V_STATIONARY",
    "V_VARYING",
    "energy_variation",
    "exponents",
    "gradient_gini",
    "lattice_power",
    "shape_erd",
    "shaping",
    "structure_levels",
]

#: lattice levels (:func:`fastscan._lattice.lattice_levels`) are clipped to this range: the
#: 2.5 % and coarser lattices, the 5 % lattice, everything finer
LATTICE_LEVELS = (-1, 1)
#: with the lattice weight, the exponent of d_1 is this times ``fill`` (they were chosen together)
LATTICE_FILL = 4.0
#: Gini of the reconstruction's gradient at and below which the image counts as texture
GINI_TEXTURE = 0.45
#: ... and at and above which as sparse structure (calibrated on validation images only)
GINI_SPARSE = 0.50
#: the gradient power is smoothed over this many initial sample spacings (energy_variation)
VARIATION_SPACINGS = 2.0
#: variation at and below which a texture counts as stationary (the lattice kept whole) ...
V_STATIONARY = 0.35
#: ... and at and above which as varying (validation: synthetic textures, gravel, brick and
#: their crops 0.21-0.34; the motorcycle photographs 0.46-0.62, coffee-crop 1.1)
V_VARYING = 0.45
_STRIDE_PIXELS = 65_536  # the statistic reads about this many pixels (strided)
_F1_FLOOR = 1e-3  # deviation floor (in [0, 100] units) so a flat pixel keeps its order


def gradient_gini(recon: np.ndarray, scales: np.ndarray, gains: np.ndarray) -> float:
    """Gini coefficient of the gradient magnitude of ``recon`` ((C, H, W)).

    Each channel's gradient is scaled by ``scales`` (to [0, 100] units) and the
    magnitudes are combined with ``gains`` (root mean square). Large grids are
    read on a stride, so the cost stays about that of 65 000 pixels.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.add.outer(np.arange(32.0), np.arange(32.0))[None]
    >>> step = (np.arange(32)[:, None] >= 16).repeat(32, 1)[None] * 1.0
    >>> one = np.ones(1)
    >>> gradient_gini(ramp, one, one) < 0.1 < 0.8 < gradient_gini(step, one, one)
    True
    """
    return _gini(_gradient_power(recon, scales, gains)[0])


def _gradient_power(
    recon: np.ndarray, scales: np.ndarray, gains: np.ndarray
) -> tuple[np.ndarray, int]:
    """(gradient power on a stride, the stride): channels scaled by ``scales`` and
    weighted by ``gains``; the stride keeps about 65 000 pixels."""
    n_rows, n_cols = recon.shape[1:]
    stride = max(1, int(np.sqrt(n_rows * n_cols / _STRIDE_PIXELS)))
    power = np.zeros((len(range(0, n_rows, stride)), len(range(0, n_cols, stride))))
    weights = np.asarray(gains, float) / max(float(np.sum(gains)), 1e-300)
    for channel, scale, weight in zip(recon, scales, weights):
        if weight <= 0:
            continue
        g_row, g_col = np.gradient(channel)
        power += weight * scale**2 * (g_row**2 + g_col**2)[::stride, ::stride]
    return power, stride


def _gini(power: np.ndarray) -> float:
    """Gini coefficient of the gradient magnitude ``sqrt(power)``."""
    values = np.sort(np.sqrt(power).ravel())
    total = values.sum()
    if not np.isfinite(total) or total <= 0:
        return 0.0
    n = len(values)
    return float(1.0 + 1.0 / n - 2.0 * np.cumsum(values).sum() / (n * total))


def energy_variation(
    recon: np.ndarray, scales: np.ndarray, gains: np.ndarray, spacing: float
) -> float:
    """Coefficient of variation of the gradient power of ``recon`` ((C, H, W)), smoothed
    by a Gaussian of ``VARIATION_SPACINGS * spacing`` pixels.

    Channels are combined as in :func:`gradient_gini`; large grids are read on a
    stride. About 0.2-0.35 for a stationary texture, more where the edges gather
    in parts of the image.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.random((64, 64))[None]
    >>> half = noise * (np.arange(64) < 32)[None, None, :]
    >>> one = np.ones(1)
    >>> energy_variation(noise, one, one, 4.0) < 0.35 < energy_variation(half, one, one, 4.0)
    True
    """
    return _variation(*_gradient_power(recon, scales, gains), spacing)


def structure_levels(
    recon: np.ndarray, scales: np.ndarray, gains: np.ndarray, spacing: float | None
) -> tuple[float, float]:
    """(:func:`gradient_gini`, :func:`energy_variation`) from one gradient pass; with
    ``spacing`` None the variation is not measured (0.0: the hedge is off)."""
    power, stride = _gradient_power(recon, scales, gains)
    variation = 0.0 if spacing is None else _variation(power, stride, spacing)
    return _gini(power), variation


def _variation(power: np.ndarray, stride: int, spacing: float) -> float:
    """Coefficient of variation of ``power`` (read on ``stride``) smoothed over
    VARIATION_SPACINGS sample ``spacing``s."""
    from scipy import ndimage

    sigma = VARIATION_SPACINGS * spacing / stride
    block = max(1, int(sigma // 4))  # a wide Gaussian reads block means (4+ per sigma)
    if block > 1:
        n_rows, n_cols = (n // block * block for n in power.shape)
        power = power[:n_rows, :n_cols].reshape(n_rows // block, block, -1, block).mean((1, 3))
    smooth = ndimage.gaussian_filter(power, sigma / block)
    mean = float(smooth.mean())
    if not np.isfinite(mean) or mean <= 0:
        return 0.0
    return float(smooth.std() / mean)


def _varying(variation: float) -> float:
    """``s`` in [0, 1]: 0 at and below V_STATIONARY, 1 at and above V_VARYING."""
    return min(max((variation - V_STATIONARY) / (V_VARYING - V_STATIONARY), 0.0), 1.0)


def _sparseness(gini: float) -> float:
    """``t`` in [0, 1]: 0 at and below GINI_TEXTURE (texture), 1 at and above GINI_SPARSE."""
    return min(max((gini - GINI_TEXTURE) / (GINI_SPARSE - GINI_TEXTURE), 0.0), 1.0)


def exponents(gini: float, contrast: float, fill: float) -> tuple[float, float]:
    """(a, b): the exponents of ``f_1`` and ``d_1`` for a structure level ``gini``.

    Examples
    --------
    >>> exponents(0.9, 1.0, 2.0), exponents(0.3, 1.0, 2.0)
    ((1.0, 0.0), (0.0, 2.0))
    """
    t = _sparseness(gini)
    return contrast * t, fill * (1.0 - t)


def lattice_power(gini: float, lattice: float) -> float:
    """Exponent ``c = lattice * (1 - t)`` of the lattice-level weight ``2 ** (-c * level)``.

    Examples
    --------
    >>> lattice_power(0.9, 4.0), lattice_power(0.3, 4.0)
    (0.0, 4.0)
    """
    return lattice * (1.0 - _sparseness(gini))


def shaping(
    gini: float,
    contrast: float,
    fill: float,
    lattice: float,
    counting: bool,
    variation: float = 0.0,
    hedge: float = 0.0,
) -> tuple[float, float, float]:
    """(a, b, c): exponents of ``f_1``, ``d_1`` and the lattice weight (see the module).

    ``counting``: the readings are Poisson counts (:func:`fastscan.channels.count_channels`);
    there a low ``g`` is mostly counting noise, not texture, and the lattice is off.
    ``variation`` (:func:`energy_variation`) and ``hedge``: the lattice exponent is
    scaled by ``1 - hedge * s`` (see the module).

    Examples
    --------
    >>> shaping(0.3, 0.0, 2.0, 3.0, False), shaping(0.3, 0.0, 2.0, 3.0, True)
    ((0.0, 8.0, 3.0), (0.0, 2.0, 0.0))
    >>> shaping(0.9, 0.0, 2.0, 3.0, False)
    (0.0, 0.0, 0.0)
    >>> shaping(0.3, 0.0, 2.0, 3.0, False, variation=0.6, hedge=2 / 3)
    (0.0, 8.0, 1.0)
    """
    c = 0.0 if counting else lattice_power(gini, lattice) * (1.0 - hedge * _varying(variation))
    a, b = exponents(gini, contrast, fill * (LATTICE_FILL if c > 0.0 else 1.0))
    return a, b, c


def shape_erd(
    erd: np.ndarray,
    f1: np.ndarray,
    d1: np.ndarray,
    a: float,
    b: float,
    levels: np.ndarray | None = None,
    c: float = 0.0,
) -> None:
    """Multiply ``erd`` in place by ``(f1 + floor) ** a * d1 ** b * 2 ** (-c * levels)``.

    ``levels`` are the pixels' lattice levels (:func:`fastscan._lattice.lattice_levels`),
    needed only when ``c`` is not 0 (see the module).
    """
    if a != 0.0:
        erd *= (f1 + _F1_FLOOR) ** a
    if b != 0.0:
        erd *= d1**b
    if c != 0.0:
        erd *= np.exp2(-c * levels.astype(np.float64))
