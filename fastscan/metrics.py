"""Image-quality metrics, defined as in the FAST paper's protocol.

NRMSE is scikit-image's ``normalized_root_mse`` (euclidean normalisation); SSIM
and PSNR use ``data_range = truth.max() - truth.min()``. Each strategy is scored
on its own reconstruction and on a biharmonic inpainting of the pixels it
measured, so strategies are compared on the same reconstruction method too.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity
from skimage.restoration import inpaint_biharmonic

__all__ = ["biharmonic_reconstruction", "image_scores", "nrmse", "psnr", "ssim"]


def _pair(truth: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    truth = np.asarray(truth, float)
    estimate = np.asarray(estimate, float)
    if truth.ndim != 2 or truth.shape != estimate.shape:
        raise ValueError(
            f"truth and estimate must be 2-D images of one shape, got {truth.shape} "
            f"and {estimate.shape}"
        )
    data_range = float(truth.max() - truth.min())
    return truth, estimate, data_range if data_range > 0 else 1.0


def nrmse(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Normalised RMSE ``||truth - estimate|| / ||truth||``.

    Examples
    --------
    >>> import numpy as np
    >>> round(nrmse(np.ones((4, 4)), np.full((4, 4), 1.1)), 3)
    0.1
    """
    truth, estimate, _ = _pair(truth, estimate)
    return float(normalized_root_mse(truth, estimate, normalization="euclidean"))


def ssim(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Structural similarity with ``data_range = truth.max() - truth.min()``."""
    truth, estimate, data_range = _pair(truth, estimate)
    return float(structural_similarity(truth, estimate, data_range=data_range))


def psnr(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (inf for a perfect estimate)."""
    truth, estimate, data_range = _pair(truth, estimate)
    if np.array_equal(truth, estimate):
        return float("inf")
    return float(peak_signal_noise_ratio(truth, estimate, data_range=data_range))


def biharmonic_reconstruction(measured_mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Biharmonic inpainting of the unmeasured pixels of ``values``.

    Parameters
    ----------
    measured_mask : (H, W) bool
        True where a pixel was measured; ``values`` is only read there.
    values : (H, W) float
        Image holding the measured values (anything elsewhere is ignored).

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((8, 8), bool); mask[::2, ::2] = True
    >>> filled = biharmonic_reconstruction(mask, np.where(mask, 3.0, np.nan))
    >>> bool(np.allclose(filled, 3.0))
    True
    """
    mask = np.asarray(measured_mask, bool)
    values = np.asarray(values, float)
    if mask.shape != values.shape or mask.ndim != 2:
        raise ValueError(f"mask {mask.shape} and values {values.shape} must be one 2-D shape")
    if not mask.any():
        raise ValueError("biharmonic reconstruction needs at least one measured pixel")
    known = np.where(mask, values, 0.0)  # unmeasured values never reach the solver
    return inpaint_biharmonic(known, ~mask)


def image_scores(truth: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """``{"nrmse", "ssim", "psnr"}`` of ``estimate`` against ``truth``."""
    return {
        "nrmse": nrmse(truth, estimate),
        "ssim": ssim(truth, estimate),
        "psnr": psnr(truth, estimate),
    }
