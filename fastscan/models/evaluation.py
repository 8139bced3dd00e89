"""Downstream models in the replay report (``fastscan simulate --denoise NAME --segment NAME``).

:func:`evaluate_models` runs a denoiser and/or a segmenter on a replayed scan's
frame and scores them against the ground truth; :func:`save_model_figure`
draws the result as one PNG.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from fastscan import idw_reconstruction
>>> truth = np.zeros((40, 40)); truth[10:30, 12:28] = 1.0
>>> mask = np.random.default_rng(0).random(truth.shape) < 0.2
>>> recon = idw_reconstruction(truth.shape, np.argwhere(mask), truth[mask])
>>> result = evaluate_models(truth, recon, mask, denoise="tv", segment="otsu")
>>> sorted(k for k in result["metrics"] if k.startswith("denoise_"))
['denoise_model', 'denoise_nrmse', 'denoise_psnr', 'denoise_seconds', 'denoise_ssim']
>>> with tempfile.TemporaryDirectory() as out:
...     path = save_model_figure(pathlib.Path(out) / "models.png", truth, recon, mask, result)
...     path.stat().st_size > 0
True
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.models.protocols import check_frame
from fastscan.models.registry import create_model
from fastscan.models.scores import foreground_scores, image_scores, instance_iou

__all__ = ["evaluate_models", "save_model_figure"]


def _model(spec: Any, kind: str, model_kwargs: dict[str, Any]) -> Any:
    if isinstance(spec, str):
        return create_model(spec, kind=kind, **model_kwargs)
    if getattr(spec, "kind", None) != kind or not callable(spec):
        raise ValueError(f"{spec!r} is not a {kind} (a model name or an object with kind={kind!r})")
    return spec


def evaluate_models(
    truth: np.ndarray,
    reconstruction: np.ndarray,
    mask: np.ndarray,
    *,
    denoise: Any = None,
    segment: Any = None,
    labels: np.ndarray | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a denoiser and/or a segmenter on one frame and score them.

    Parameters
    ----------
    truth : (H, W) ground-truth image of the replay.
    reconstruction : (H, W) the strategy's reconstruction (e.g. ``Sampler.reconstruction``).
    mask : (H, W) bool, the measured pixels (e.g. ``Sampler.measured_mask``).
    denoise, segment : model name (see ``fastscan.models.list_models``), model object or None.
    labels : optional (H, W) non-negative int true labels (phantoms) for IoU / Dice.
    model_kwargs : keyword arguments for ``create_model`` of named models (e.g.
        ``{"device": "cpu"}``); only used for names.

    Returns
    -------
    dict with
        ``"metrics"``: flat dict of floats/strings: ``denoise_model``,
        ``denoise_psnr``, ``denoise_ssim``, ``denoise_nrmse``, ``denoise_seconds``
        and ``input_psnr/ssim/nrmse`` for the reconstruction itself;
        ``segment_model``, ``segment_regions``, ``segment_foreground_fraction``,
        ``segment_seconds`` and, with ``labels``, ``segment_iou``,
        ``segment_dice``, ``segment_instance_iou``;
        ``"denoised"``: (H, W) float64 image or None;
        ``"segmentation"``: (H, W) int32 labels or None;
        ``"labels"``: the true labels given (or None).

    Raises
    ------
    ValueError
        Bad frame (see ``check_frame``), a truth or labels of another shape, an
        unknown model name or a model of the wrong kind.
    """
    recon, mask = check_frame(reconstruction, mask)
    truth = np.asarray(truth, dtype=np.float64)
    if truth.shape != recon.shape:
        raise ValueError(f"truth shape {truth.shape} does not match reconstruction {recon.shape}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != recon.shape:
            raise ValueError(
                f"labels shape {labels.shape} does not match reconstruction {recon.shape}"
            )
    kwargs = dict(model_kwargs or {})
    denoiser = None if denoise is None else _model(denoise, "denoiser", kwargs)
    segmenter = None if segment is None else _model(segment, "segmenter", kwargs)
    metrics: dict[str, Any] = {}
    result: dict[str, Any] = {"metrics": metrics, "denoised": None, "segmentation": None}
    result["labels"] = labels
    if denoiser is not None:
        start = time.perf_counter()
        refined = np.asarray(denoiser(recon, mask), dtype=np.float64)
        metrics["denoise_model"] = denoiser.name
        metrics["denoise_seconds"] = time.perf_counter() - start
        metrics.update({f"denoise_{k}": v for k, v in image_scores(truth, refined).items()})
        metrics.update({f"input_{k}": v for k, v in image_scores(truth, recon).items()})
        result["denoised"] = refined
    if segmenter is not None:
        start = time.perf_counter()
        predicted = np.asarray(segmenter(recon, mask)).astype(np.int32, copy=False)
        metrics["segment_model"] = segmenter.name
        metrics["segment_seconds"] = time.perf_counter() - start
        metrics["segment_regions"] = int(len(np.unique(predicted[predicted > 0])))
        metrics["segment_foreground_fraction"] = float((predicted > 0).mean())
        if labels is not None:
            metrics.update(
                {f"segment_{k}": v for k, v in foreground_scores(labels, predicted).items()}
            )
            metrics["segment_instance_iou"] = instance_iou(labels, predicted)
        result["segmentation"] = predicted
    return result


def save_model_figure(
    path: str | Path,
    truth: np.ndarray,
    reconstruction: np.ndarray,
    mask: np.ndarray,
    result: dict[str, Any],
    *,
    dpi: int = 100,
) -> Path:
    """Write one PNG of an :func:`evaluate_models` result; returns the path.

    Panels: ground truth, reconstruction (with coverage), the denoised image
    and its absolute error (if a denoiser ran), the segmentation and the true
    labels (if given).
    """
    from matplotlib.figure import Figure
    from skimage.color import label2rgb

    truth = np.asarray(truth, dtype=np.float64)
    recon = np.asarray(reconstruction, dtype=np.float64)
    metrics = result.get("metrics", {})
    lo, hi = float(truth.min()), float(truth.max())
    grey = {"cmap": "gray", "vmin": lo, "vmax": hi}
    panels: list[tuple[str, np.ndarray, dict[str, Any]]] = [
        ("ground truth", truth, grey),
        (f"reconstruction ({np.mean(mask):.1%} measured)", recon, grey),
    ]
    if result.get("denoised") is not None:
        refined = result["denoised"]
        title = (
            f"{metrics.get('denoise_model', 'denoised')}: {metrics.get('denoise_psnr', 0):.2f} dB"
        )
        title += f" (input {metrics.get('input_psnr', 0):.2f} dB)"
        panels.append((title, refined, grey))
        panels.append(("|denoised - truth|", np.abs(refined - truth), {"cmap": "magma"}))
    if result.get("segmentation") is not None:
        title = str(metrics.get("segment_model", "segmentation"))
        if "segment_iou" in metrics:
            title += f": IoU {metrics['segment_iou']:.3f}"
        overlay = label2rgb(result["segmentation"], image=(recon - lo) / max(hi - lo, 1e-12),
                            bg_label=0, alpha=0.35)  # fmt: skip
        panels.append((title, np.clip(overlay, 0, 1), {"interpolation": "nearest"}))
        if result.get("labels") is not None:
            true_rgb = label2rgb(np.asarray(result["labels"]), bg_label=0)
            panels.append(("true labels", true_rgb, {"interpolation": "nearest"}))
    aspect = truth.shape[0] / max(truth.shape[1], 1)
    fig = Figure(figsize=(3.2 * len(panels), 3.2 * aspect + 0.6), layout="constrained")
    for i, (title, image, kwargs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(image, **kwargs)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
