"""Classical baselines: IDW passthrough, TV and biharmonic denoisers, Otsu and watershed segmenters.

They need only numpy, scipy and scikit-image. Every model normalises the frame by
robust percentiles of the measured values (see :func:`fastscan.models.protocols.normalise`)
so its parameters do not depend on the detector's units.

Examples
--------
>>> import numpy as np
>>> from fastscan.models.classical import OtsuSegmenter
>>> image = np.zeros((32, 32)); image[8:20, 8:20] = 5e4
>>> labels = OtsuSegmenter(sigma=0.0)(image, np.ones_like(image, bool))
>>> int(labels.max()), int((labels > 0).sum())
(1, 144)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from fastscan.models.protocols import check_frame, denormalise, normalise

__all__ = [
    "BiharmonicDenoiser",
    "IDWPassthrough",
    "OtsuSegmenter",
    "TVDenoiser",
    "WatershedSegmenter",
    "drop_small_regions",
]


def _check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        allowed = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")
    return value


class IDWPassthrough:
    """The reconstruction unchanged: the reference every denoiser must beat."""

    name = "idw"
    kind = "denoiser"

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        image, _ = check_frame(reconstruction, mask)
        return image.copy()


class TVDenoiser:
    """Total-variation (Chambolle) smoothing of the reconstruction.

    Parameters
    ----------
    weight : float
        TV weight on the frame normalised to about [0, 1]; larger is smoother.
    keep_measured : bool
        Put the measured readings back after smoothing.
    """

    name = "tv"
    kind = "denoiser"

    def __init__(self, weight: float = 0.05, keep_measured: bool = True) -> None:
        from skimage.restoration import denoise_tv_chambolle

        self._tv = denoise_tv_chambolle
        self.weight = _check_positive("weight", weight)
        self.keep_measured = bool(keep_measured)

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        image, mask = check_frame(reconstruction, mask)
        x, offset, scale = normalise(image, mask)
        out = denormalise(self._tv(x.astype(np.float64), weight=self.weight), offset, scale)
        if self.keep_measured:
            out[mask] = image[mask]
        return out


class BiharmonicDenoiser:
    """Biharmonic inpainting of the unmeasured pixels from the measured ones.

    The FAST paper's completion step. It solves a sparse linear system over the
    unmeasured pixels, so it takes seconds on a 600 x 400 frame at low coverage.
    """

    name = "biharmonic"
    kind = "denoiser"

    def __init__(self) -> None:
        from skimage.restoration import inpaint_biharmonic

        self._inpaint = inpaint_biharmonic

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        image, mask = check_frame(reconstruction, mask)
        x, offset, scale = normalise(image, mask)
        filled = self._inpaint(np.where(mask, x, 0.0).astype(np.float64), ~mask)
        out = denormalise(filled, offset, scale)
        out[mask] = image[mask]
        return out


def drop_small_regions(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Set regions smaller than ``min_size`` pixels to 0 and renumber the rest 1..n (int32)."""
    labels = np.asarray(labels)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= int(min_size)
    keep[0] = False
    new_ids = np.zeros(len(sizes), np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[labels]


class OtsuSegmenter:
    """Otsu threshold of the smoothed reconstruction, then connected components.

    Parameters
    ----------
    sigma : float
        Gaussian smoothing (pixels) before thresholding; 0 for none.
    min_size : int
        Components smaller than this many pixels become background.
    """

    name = "otsu"
    kind = "segmenter"

    def __init__(self, sigma: float = 1.0, min_size: int = 16) -> None:
        self.sigma = _check_positive("sigma", sigma, allow_zero=True)
        self.min_size = int(_check_positive("min_size", min_size, allow_zero=True))

    def foreground(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Boolean foreground of a normalised frame and the Otsu threshold used."""
        from skimage.filters import threshold_otsu

        smooth = ndimage.gaussian_filter(x, self.sigma) if self.sigma > 0 else x
        if float(smooth.max() - smooth.min()) < 1e-9:
            return np.zeros(x.shape, bool), float(smooth.max())
        threshold = float(threshold_otsu(smooth))
        return smooth > threshold, threshold

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        image, mask = check_frame(reconstruction, mask)
        x = normalise(image, mask)[0].astype(np.float64)
        fg, _ = self.foreground(x)
        labels, _ = ndimage.label(fg)
        return drop_small_regions(labels, self.min_size)


class WatershedSegmenter:
    """Otsu foreground split into features by a marker watershed of the gradient.

    Markers are the connected foreground areas whose gradient is below
    ``marker_level`` times the foreground's 99th-percentile gradient, so touching
    features with a visible boundary between them get separate labels; a
    foreground blob with no marker keeps one label of its own.

    Parameters
    ----------
    sigma : float
        Gaussian smoothing (pixels) before the threshold and the gradient.
    marker_level : float
        Marker threshold as a fraction of the strong gradients, in (0, 1).
    min_size : int
        Regions smaller than this many pixels become background.
    """

    name = "watershed"
    kind = "segmenter"

    def __init__(self, sigma: float = 1.0, marker_level: float = 0.15, min_size: int = 16) -> None:
        self.sigma = _check_positive("sigma", sigma, allow_zero=True)
        if not 0.0 < float(marker_level) < 1.0:
            raise ValueError(f"marker_level must be in (0, 1), got {marker_level!r}")
        self.marker_level = float(marker_level)
        self.min_size = int(_check_positive("min_size", min_size, allow_zero=True))

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        from skimage.filters import sobel
        from skimage.segmentation import watershed

        image, mask = check_frame(reconstruction, mask)
        x = normalise(image, mask)[0].astype(np.float64)
        smooth = ndimage.gaussian_filter(x, self.sigma) if self.sigma > 0 else x
        fg, _ = OtsuSegmenter(sigma=0.0).foreground(smooth)
        if not fg.any():
            return np.zeros(x.shape, np.int32)
        elevation = sobel(smooth)
        level = self.marker_level * np.percentile(elevation[fg], 99)
        markers, n_markers = ndimage.label(fg & (elevation <= level))
        regions = watershed(elevation, markers, mask=fg)
        orphans, _ = ndimage.label(fg & (regions == 0))
        regions = np.where(orphans > 0, orphans + n_markers, regions)
        return drop_small_regions(regions, self.min_size)
