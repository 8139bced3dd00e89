"""What a downstream model is: a callable on a live reconstruction and its measured mask.

A model sees the frame a sampler holds while a scan runs: the sparse
reconstruction (H, W) in detector units and the boolean mask of measured pixels.
A :class:`Denoiser` returns a refined (H, W) float64 image in the same units; a
:class:`Segmenter` returns an (H, W) int32 label image (0 = background, 1..n =
features). Both are plain numpy in, numpy out, so a model can run in a thread, in
another process or on another machine.

Examples
--------
>>> import numpy as np
>>> from fastscan.models.protocols import Denoiser, check_frame
>>> class Identity:
...     name, kind = "identity", "denoiser"
...     def __call__(self, reconstruction, mask):
...         reconstruction, mask = check_frame(reconstruction, mask)
...         return reconstruction.copy()
>>> isinstance(Identity(), Denoiser)
True
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np

from fastscan._validation import non_finite

__all__ = ["KINDS", "Denoiser", "Segmenter", "check_frame", "denormalise", "normalise"]

KINDS: tuple[str, ...] = ("denoiser", "segmenter")


@runtime_checkable
class Denoiser(Protocol):
    """Reconstruction + measured mask -> refined image in the same units."""

    name: str
    kind: Literal["denoiser"]

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return an (H, W) float64 image; raise ValueError for a bad frame."""
        ...


@runtime_checkable
class Segmenter(Protocol):
    """Reconstruction + measured mask -> int32 label image (0 = background)."""

    name: str
    kind: Literal["segmenter"]

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return an (H, W) int32 label image; raise ValueError for a bad frame."""
        ...


def check_frame(
    reconstruction: object, mask: object, shape: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate one frame and return it as (float64 image, bool mask).

    Parameters
    ----------
    reconstruction : array_like
        (H, W) finite real image, H and W at least 8.
    mask : array_like
        (H, W) boolean (or 0/1) mask of measured pixels with at least one True.
    shape : (H, W) or None
        Expected frame shape; None accepts any.

    Returns
    -------
    (reconstruction, mask) as float64 and bool arrays (no copy when already so).

    Raises
    ------
    ValueError
        Wrong dimensions or size, non-finite values, an empty mask or a mask that
        is not boolean.
    """
    image = np.asarray(reconstruction)
    if image.ndim != 2:
        raise ValueError(f"reconstruction must be a 2-D (H, W) image, got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer)):
        raise ValueError(f"reconstruction must hold real numbers, got dtype {image.dtype}")
    if min(image.shape) < 8:
        raise ValueError(f"reconstruction must be at least 8 x 8 pixels, got {image.shape}")
    if shape is not None and image.shape != tuple(shape):
        raise ValueError(f"frame shape {image.shape} does not match the expected {tuple(shape)}")
    image = image.astype(np.float64, copy=False)
    bad = non_finite(image)
    if bad is not None:
        count, (row, col) = bad
        raise ValueError(
            f"reconstruction has {count} non-finite values (first at row={row}, "
            f"col={col}: {image[row, col]!r}); a frame must be all finite"
        )
    m = np.asarray(mask)
    if m.shape != image.shape:
        raise ValueError(f"mask shape {m.shape} does not match reconstruction shape {image.shape}")
    if m.dtype != bool:
        if not (np.issubdtype(m.dtype, np.number) and np.isin(m, (0, 1)).all()):
            raise ValueError(f"mask must be boolean (or 0/1), got dtype {m.dtype}")
        m = m.astype(bool)
    if not m.any():
        raise ValueError("mask has no measured pixel; a frame needs at least one measurement")
    return image, m


def normalise(
    reconstruction: np.ndarray, mask: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)
) -> tuple[np.ndarray, float, float]:
    """Map a frame in detector units to about [0, 1] by robust percentiles of measured values.

    Parameters
    ----------
    reconstruction : (H, W) float64 image (already checked by :func:`check_frame`).
    mask : (H, W) bool mask of measured pixels.
    percentiles : (low, high) percentiles of the measured values that map to 0 and 1.

    Returns
    -------
    normalised : (H, W) float32 image ``(reconstruction - offset) / scale``.
    offset, scale : floats for :func:`denormalise`; scale is 1 for a flat frame.
    """
    values = reconstruction[mask]
    lo, hi = np.percentile(values, percentiles)
    scale = float(hi - lo)
    if not scale > 1e-12 * max(1.0, abs(float(hi))):
        scale = 1.0
    offset = float(lo)
    return ((reconstruction - offset) / scale).astype(np.float32), offset, scale


def denormalise(image: np.ndarray, offset: float, scale: float) -> np.ndarray:
    """Invert :func:`normalise`: back to detector units as float64."""
    return np.asarray(image, dtype=np.float64) * scale + offset
