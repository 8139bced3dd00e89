"""Several detector channels (XRF element maps): readings, names, how the channels combine.

An X-ray fluorescence detector reports one count per element region of interest
at each point, so a reading is a row of C numbers. The sampler reconstructs
every channel; this module decides how much each channel counts in the one ERD
map that picks the next points:

* **range**: each channel's features are scaled by its own measured range (as
  a single channel is), so a 200-count matrix and a 40-count trace element speak
  in the same units;
* **weights**: the user's per-channel weights, equal by default;
* **noise**: a channel's weight is multiplied by the fraction of its measured
  variance that is *not* counting noise, ``g = 1 - var_noise / var`` (clipped to
  [0, 1], with a margin for the sampling error of ``var``). For counts the noise
  variance is the mean count (Poisson); a channel of pure counting noise gets
  ``g ~ 0`` and cannot drive the scan, a trace element whose few hot spots stand
  out of the noise keeps a share in proportion;
* **sparsity** (count channels): a count channel's weight is also multiplied
  by ``(range / rms) ** SPARSITY_POWER`` of its readings. The per-channel score
  (NRMSE) divides a channel's error by its root mean square, the features by
  its range: a trace element with a few 40-count hot spots on a 0.5-count
  background (rms about 2) would otherwise get as much weight per unit of
  relative error as a 200-count matrix (rms about 180), and under counting
  noise its relative error is the worst of all channels.

The sampler either combines the channels' intensity features (a power mean of
the gain-scaled features, exponent :data:`CHANNEL_POWER`; one ERD model pass per
pixel: :func:`combine_features`) or
averages the channels' ERDs with the gains ``gain_c = w_c g_c s_c / sum_c w_c``
(``s_c`` the sparsity factor; normalised to sum 1). With one channel the gain is exactly 1, so a
single-channel sampler behaves as before.

**Counting statistics.** Besides the gate, every count channel's squared
intensity features lose the part that counting noise alone gives
(:func:`feature_noise`, subtracted and clipped at 0), so a flat noisy region
looks flat and the scan does not chase noise; and the stop rule's
"reconstruction stopped changing" test subtracts from every count channel's
change the part that counting noise alone causes (:func:`noise_change`), so
noise does not keep a scan going. (A hard significance threshold on the
features, tried on the tuning maps, lost the trace element's hot spots.)

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> flat = rng.poisson(5.0, 2000)                       # counting noise only
>>> spots = np.where(np.arange(2000) % 50 == 0, 40, 0) + rng.poisson(0.5, 2000)
>>> gains = channel_gains(np.stack([flat, spots], 1).astype(float), np.ones(2))
>>> bool(gains[0] < 0.05), bool(gains[1] > 0.3)
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fastscan._validation import is_integer

__all__ = [
    "CHANNEL_POWER",
    "FEATURE_NOISE",
    "NOISE_MODELS",
    "SPARSITY_POWER",
    "channel_gains",
    "channel_names",
    "check_channels",
    "check_readings",
    "check_weights",
    "combine_features",
    "count_channels",
    "feature_noise",
    "noise_change",
]

#: Columns of the SLADS features that are intensities (scaled per channel).
INTENSITY_FEATURES = (0, 1, 4, 5)

#: Counting noise in the intensity features, per count of the local mean (the
#: pixel's IDW estimate), measured on flat Poisson fields of 0.5 to 50 counts at 1
#: to 30 % coverage (never on the benchmark maps): the squared weighted deviation
#: is about ``0.55 lam``, the squared deviation sum ``1.0 k lam`` and a squared
#: gradient ``0.6 (0.02 + density) lam``, with ``density = k / (pi d_k**2)`` the
#: local fraction of measured pixels. See :func:`feature_noise`.
FEATURE_NOISE = (0.55, 1.0, 0.6, 0.02)

#: Exponent of the power mean that combines the channels' intensity features
#: (2 is the root mean square). A high power lets a pixel count as much as it
#: matters to the channel that needs it most, so a sparse element (a few hot
#: spots) is not outvoted where several other channels share an edge. Chosen on
#: the tuning maps (make_xrf_maps seeds 1000-1009) among 2, 4, 8 and 16.
CHANNEL_POWER = 8.0

#: Exponent of a count channel's ``range / rms`` in its gain (:func:`channel_gains`).
#: Chosen on the tuning maps (make_xrf_maps seeds 1000-1009, Poisson counts x1)
#: among 0, 0.5, 1 and 2: the trace element's NRMSE at 20 % coverage went from
#: 1.018 to 0.983 of the best static pattern's, the other channels' ratios moved
#: by at most 0.011; 1 and 2 took more from the others (2: Fe and Ca 0.92 at
#: 20 %). On noise-free (not count) maps it moved the worst channel at 10 % from
#: 0.77 to 0.82 of the static pattern's, so it applies to count channels only.
SPARSITY_POWER = 0.5

#: Noise models of :func:`channel_gains`.
NOISE_MODELS = ("auto", "poisson", "none")


def channel_names(channels: int | Sequence[str] | None, n_channels: int) -> tuple[str, ...]:
    """Names of ``n_channels`` channels: the given sequence, or ``ch0, ch1, ...``.

    Examples
    --------
    >>> channel_names(None, 3)
    ('ch0', 'ch1', 'ch2')
    >>> channel_names(["Fe", "Cu"], 2)
    ('Fe', 'Cu')
    """
    if channels is None or isinstance(channels, (int, np.integer)):
        return tuple(f"ch{i}" for i in range(n_channels))
    names = tuple(str(name) for name in channels)
    if len(names) != n_channels or len(set(names)) != len(names):
        raise ValueError(f"need {n_channels} distinct channel names, got {list(names)!r}")
    return names


def check_channels(channels: int | Sequence[str] | None) -> int | None:
    """Number of channels that ``channels`` fixes (None: decided by the first reading)."""
    if channels is None:
        return None
    if is_integer(channels):
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels!r}")
        return int(channels)
    if isinstance(channels, str):
        raise ValueError(
            f"channels must be a count or a list of names, got the string {channels!r}"
        )
    try:
        names = [str(name) for name in channels]
    except TypeError:
        raise ValueError(
            f"channels must be None, a count or a list of names, got {channels!r}"
        ) from None
    if not names or len(set(names)) != len(names):
        raise ValueError(f"channel names must be a non-empty list of distinct names, got {names!r}")
    return len(names)


def check_weights(weights: Sequence[float] | np.ndarray | None, n_channels: int) -> np.ndarray:
    """(C,) float64 channel weights: finite, >= 0, not all zero; None gives equal weights.

    Examples
    --------
    >>> check_weights(None, 3).tolist()
    [1.0, 1.0, 1.0]
    >>> check_weights([1, -1], 2)
    Traceback (most recent call last):
    ...
    ValueError: channel weights must be finite numbers >= 0 with a positive sum, got [1.0, -1.0]
    """
    if weights is None:
        return np.ones(n_channels)
    arr = np.asarray(weights, dtype=np.float64).reshape(-1)
    if arr.shape[0] != n_channels:
        raise ValueError(f"got {arr.shape[0]} channel weights for {n_channels} channels")
    if not (np.all(np.isfinite(arr)) and np.all(arr >= 0) and arr.sum() > 0):
        raise ValueError(
            f"channel weights must be finite numbers >= 0 with a positive sum, got {arr.tolist()}"
        )
    return arr


def check_readings(values: object, n: int, n_channels: int | None) -> np.ndarray:
    """An (n, C) float64 array of finite readings; 1-D readings are one channel.

    ``n_channels`` None accepts any C (the first reading decides).
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim <= 1:
        if n_channels not in (None, 1):
            raise ValueError(
                f"got 1-D readings for a {n_channels}-channel sampler; "
                f"give an (n, {n_channels}) array, one row per point"
            )
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"readings must be (n,) or (n, C), got shape {arr.shape}")
    if arr.shape[0] != n:
        if np.ndim(values) <= 1:  # the single-channel wording
            raise ValueError(f"got {arr.shape[0]} values for {n} points; need one value per point")
        raise ValueError(f"got {arr.shape[0]} readings for {n} points; need one row per point")
    if n_channels is not None and arr.shape[1] != n_channels:
        raise ValueError(
            f"readings have {arr.shape[1]} channels, the sampler has {n_channels}; "
            f"give an (n, {n_channels}) array"
        )
    if arr.shape[1] < 1:
        raise ValueError("readings must have at least one channel")
    bad = ~np.isfinite(arr)
    if bad.any():
        i, c = (int(v) for v in np.argwhere(bad)[0])
        where = f"reading {i}" if arr.shape[1] == 1 else f"reading {i}, channel {c}"
        raise ValueError(f"{where} is {float(arr[i, c])}; readings must be finite numbers")
    return arr


def _looks_like_counts(column: np.ndarray) -> bool:
    return bool(np.all(column >= 0) and np.all(column == np.round(column)))


def count_channels(values: np.ndarray, noise: str = "auto") -> np.ndarray:
    """(C,) bool: which channels hold Poisson counts under the ``noise`` model.

    ``"poisson"``: every channel; ``"none"``: none; ``"auto"``: the channels whose
    readings are all non-negative integers.

    Examples
    --------
    >>> count_channels(np.array([[3.0, 0.5], [0.0, 2.0]])).tolist()
    [True, False]
    """
    if noise not in NOISE_MODELS:
        raise ValueError(f"noise must be one of {NOISE_MODELS}, got {noise!r}")
    values = np.asarray(values, dtype=np.float64)
    if noise != "auto":
        return np.full(values.shape[1], noise == "poisson")
    return np.array([_looks_like_counts(column) for column in values.T], bool)


def channel_gains(values: np.ndarray, weights: np.ndarray, noise: str = "auto") -> np.ndarray:
    """(C,) gains ``w_c g_c / sum(w)`` of each channel's ERD in the combined ERD.

    Parameters
    ----------
    values : (n, C) array
        Measured readings (one per measured pixel).
    weights : (C,) array
        User weights (see :func:`check_weights`).
    noise : {"auto", "poisson", "none"}
        ``"poisson"``: readings are counts, noise variance = mean;
        ``"auto"``: Poisson for channels whose readings are all non-negative
        integers, none otherwise; ``"none"``: no noise gate (``g = 1``).

    Returns
    -------
    (C,) float64 gains >= 0 with a sum <= 1: ``w_c g_c s_c / sum(w)``, where
    ``s_c = (range_c / rms_c) ** SPARSITY_POWER`` for count channels (1 for the
    others) divided by its ``w``-weighted mean, so sparse count channels (a
    trace element) weigh more. If every channel is gated to 0 (all noise), the
    plain weights ``w / sum(w)`` are returned, so the scan still proceeds.
    """
    counts = count_channels(values, noise)
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    n, n_channels = values.shape
    plain = weights / weights.sum()
    if n_channels == 1:
        return np.ones(1)
    if n < 3:
        return plain
    gate = np.ones(n_channels)
    margin = 3.0 * np.sqrt(2.0 / (n - 1))  # ~3 sigma of a sample variance
    for c in range(n_channels):
        column = values[:, c]
        if not counts[c]:
            continue
        var = float(column.var(ddof=1))
        noise_var = max(float(column.mean()), 0.0)
        if var <= 0.0:
            gate[c] = 0.0
            continue
        gate[c] = float(np.clip(1.0 - noise_var * (1.0 + margin) / var, 0.0, 1.0))
    sparsity = np.ones(n_channels)
    if counts.any():
        spread = values.max(0) - values.min(0)
        rms = np.sqrt(np.mean(values**2, axis=0))
        ratio = np.divide(spread, rms, out=np.ones(n_channels), where=rms > 0)
        sparsity[counts] = np.maximum(ratio[counts], 1e-12) ** SPARSITY_POWER
        sparsity /= plain @ sparsity
    gains = plain * gate * sparsity
    return gains if gains.sum() > 0 else plain


def feature_noise(estimate: np.ndarray, nbr_dist: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """(n, 6) expected squared intensity features that Poisson noise alone gives.

    For pixels whose IDW estimate (the local mean count) is ``estimate`` and whose
    k neighbours lie at ``nbr_dist`` (n, k), the columns 0, 1, 4, 5 hold the
    :data:`FEATURE_NOISE` amounts times ``scale**2`` (the features' scale); the
    geometric columns 2, 3 are 0.

    Examples
    --------
    >>> import numpy as np
    >>> floor = feature_noise(np.array([4.0]), np.full((1, 10), 2.0))
    >>> floor.round(2).tolist()
    [[2.2, 40.0, 0.0, 0.0, 1.96, 1.96]]
    """
    lam = np.maximum(np.asarray(estimate, np.float64), 0.0)
    nbr_dist = np.asarray(nbr_dist, np.float64)
    k = nbr_dist.shape[1]
    density = np.minimum(k / (np.pi * nbr_dist[:, -1] ** 2), 1.0)
    dev, dev_sum, grad, offset = FEATURE_NOISE
    out = np.zeros((len(lam), 6))
    out[:, 0] = dev * lam
    out[:, 1] = dev_sum * k * lam
    out[:, 4] = out[:, 5] = grad * (offset + density) * lam
    return out * scale**2


def combine_features(
    features: np.ndarray,
    gains: np.ndarray,
    noise_floor: np.ndarray | None = None,
    power: float = CHANNEL_POWER,
) -> np.ndarray:
    """One (n, 6) feature matrix from C channels' (C, n, 6) features.

    The intensity features (deviation, spread, gradients; already scaled by each
    channel's range) combine as a power mean of exponent ``power`` of the
    gain-scaled features, ``(mean_c (C' w_c f_c**2)**(p/2))**(1/p)`` over the C'
    channels of gain > 0 (``w`` = gains normalised to sum 1; ``p = 2`` is the
    gain-weighted root mean square), so a change in any one channel shows in the
    combined features. ``noise_floor`` (C, n, 6), e.g. :func:`feature_noise` of
    the count channels, is subtracted from the squared features first (clipped
    at 0), so counting noise alone does not look like structure. The geometric
    features (distance, sparsity) are the same in every channel. The ERD model
    then runs once per pixel, whatever C is.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.zeros((2, 1, 6)); f[:, 0, 2] = 3.0; f[1, 0, 0] = 8.0
    >>> combine_features(f, np.array([0.5, 0.5]), power=2)[0].round(3).tolist()
    [5.657, 0.0, 3.0, 0.0, 0.0, 0.0]
    >>> combine_features(f, np.array([0.5, 0.5]))[0].round(3).tolist()  # p = 8
    [7.336, 0.0, 3.0, 0.0, 0.0, 0.0]
    """
    features = np.asarray(features, dtype=np.float64)
    gains = np.asarray(gains, dtype=np.float64)
    used = gains > 0
    weights = gains[used] / gains.sum()
    cols = list(INTENSITY_FEATURES)
    squares = features[used][:, :, cols] ** 2
    if noise_floor is not None:
        floor = np.asarray(noise_floor, dtype=np.float64)[used][:, :, cols]
        squares = np.maximum(squares - floor, 0.0)
    out = features[0].copy()
    n_used = int(used.sum())
    half = power / 2.0
    scaled = n_used * weights[:, None, None] * squares
    out[:, cols] = np.sqrt(np.mean(scaled**half, axis=0) ** (1.0 / half))
    return out


def noise_change(new_values: np.ndarray, coverage: float) -> float:
    """Expected L1 reconstruction change that counting noise alone causes, in counts.

    A new Poisson reading ``v`` is off its mean by about ``sqrt(v + 1)`` counts;
    the IDW spreads that error over the unmeasured pixels around it, about
    ``0.5 + 0.75 / coverage`` times the error in total (calibrated on scans of
    flat Poisson fields of 0.5 to 50 counts with the noise-aware features, an
    upper envelope of the measured spread from 2 to 55 % coverage; never on
    the benchmark maps). The stop rule subtracts this from a count channel's
    change, so counting noise alone does not keep a scan going.

    Examples
    --------
    >>> round(noise_change(np.array([3.0, 8.0]), 0.2), 2)
    21.25
    """
    values = np.maximum(np.asarray(new_values, dtype=np.float64), 0.0)
    spread = 0.5 + 0.75 / max(float(coverage), 1e-3)
    return float(spread * np.sqrt(values + 1.0).sum())
