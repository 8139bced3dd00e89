"""Quality scores for downstream models: image fidelity and segmentation overlap.

Image scores follow the project's protocol: NRMSE is scikit-image's
``normalized_root_mse`` (euclidean), SSIM and PSNR use
``data_range = truth.max() - truth.min()``.

Examples
--------
>>> import numpy as np
>>> truth = np.zeros((8, 8), np.int32); truth[2:6, 2:6] = 1
>>> pred = np.zeros((8, 8), np.int32); pred[2:6, 2:5] = 4
>>> round(foreground_scores(truth, pred)["iou"], 3), round(instance_iou(truth, pred), 3)
(0.75, 0.75)
"""

from __future__ import annotations

import numpy as np

__all__ = ["foreground_scores", "image_scores", "instance_iou"]


def image_scores(truth: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """PSNR (dB), SSIM and NRMSE of ``estimate`` against ``truth`` (same shape, finite)."""
    from skimage.metrics import (
        normalized_root_mse,
        peak_signal_noise_ratio,
        structural_similarity,
    )

    truth = np.asarray(truth, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if truth.shape != estimate.shape or truth.ndim != 2:
        raise ValueError(
            f"need two 2-D images of one shape, got {truth.shape} and {estimate.shape}"
        )
    data_range = float(truth.max() - truth.min())
    if data_range <= 0:
        raise ValueError("truth image is flat (max == min); PSNR/SSIM are undefined")
    return {
        "psnr": float(peak_signal_noise_ratio(truth, estimate, data_range=data_range)),
        "ssim": float(structural_similarity(truth, estimate, data_range=data_range)),
        "nrmse": float(normalized_root_mse(truth, estimate)),
    }


def _check_labels(truth: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if truth.shape != predicted.shape:
        raise ValueError(f"label images differ in shape: {truth.shape} vs {predicted.shape}")
    for name, arr in (("truth", truth), ("predicted", predicted)):
        if not np.issubdtype(arr.dtype, np.integer) or (arr.size and arr.min() < 0):
            raise ValueError(f"{name} labels must be non-negative integers, got dtype {arr.dtype}")
    return truth, predicted


def foreground_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """IoU and Dice of the foregrounds (label > 0); 1.0 when both are empty."""
    truth, predicted = _check_labels(truth, predicted)
    a, b = truth > 0, predicted > 0
    inter, union, total = (a & b).sum(), (a | b).sum(), a.sum() + b.sum()
    return {
        "iou": float(inter / union) if union else 1.0,
        "dice": float(2 * inter / total) if total else 1.0,
    }


def instance_iou(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean over true features of the best IoU with any predicted feature (0 if none overlaps).

    Rewards outlining each feature separately: merging two touching features or
    splitting one lowers it. NaN when ``truth`` has no feature.
    """
    truth, predicted = _check_labels(truth, predicted)
    t, p = truth.ravel().astype(np.int64), predicted.ravel().astype(np.int64)
    n_t, n_p = int(t.max()) + 1, int(p.max()) + 1
    overlap = np.bincount(t * n_p + p, minlength=n_t * n_p).reshape(n_t, n_p)[1:, 1:]
    present = np.bincount(t, minlength=n_t)[1:] > 0
    if not present.any():
        return float("nan")
    if overlap.shape[1] == 0:
        return 0.0
    sizes_t = np.bincount(t, minlength=n_t)[1:, None]
    sizes_p = np.bincount(p, minlength=n_p)[None, 1:]
    iou = overlap / np.maximum(sizes_t + sizes_p - overlap, 1)
    return float(iou.max(axis=1)[present].mean())
