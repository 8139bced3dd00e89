"""Read a ground-truth image for replay or the simulated beamline: .tif/.tiff, .png or .npy.

The one image loader of fastscan (the replay, ``fastscan simulate`` and the sim
IOC all use it), with one set of rules: numbers only (no pickled objects), 2-D or
RGB(A) (converted to grey with luminance weights), at least ``min_size`` pixels
on each side, every pixel finite; PNG keeps its integer levels (0..255 or
0..65535), TIFF and NPY their values. Every problem is a :class:`ImageError`
(a ``ValueError``) whose message names the file and what is allowed, so the CLI
can print one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fastscan._validation import non_finite

__all__ = ["SUFFIXES", "ImageError", "check_image", "load_image", "load_maps"]

SUFFIXES = (".tif", ".tiff", ".png", ".npy")


_LUMINANCE = np.array([0.2125, 0.7154, 0.0721])  # ITU-R BT.709, as skimage.color.rgb2gray


class ImageError(ValueError):
    """An image that cannot be used as a scan's ground truth."""


def check_image(
    image: np.ndarray, source: str = "image", *, min_size: int = 4
) -> tuple[np.ndarray, str | None]:
    """Validate a 2-D image; convert RGB(A) to grey.

    Parameters
    ----------
    image : array
        2-D, or RGB(A) with the colour last.
    source : str
        Named in error messages (the file).
    min_size : int
        Fewest pixels along each side (4 for a replay; the sim IOC's grids may be smaller).

    Returns
    -------
    image : (H, W) float64
    note : str or None
        What was converted, if anything (for the user to see).

    Examples
    --------
    >>> import numpy as np
    >>> img, note = check_image(np.ones((4, 5, 3)))
    >>> img.shape, note
    ((4, 5), 'image: RGB image converted to grey (luminance weights)')
    >>> check_image(np.ones(5))
    Traceback (most recent call last):
    ...
    fastscan.imageio.ImageError: image: must be a 2-D image (or RGB), got shape (5,)
    """
    array = np.asarray(image)
    note = None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ImageError(f"{source}: must hold numbers, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3].astype(float) @ _LUMINANCE
        note = f"{source}: RGB image converted to grey (luminance weights)"
    if array.ndim != 2:
        raise ImageError(f"{source}: must be a 2-D image (or RGB), got shape {array.shape}")
    if array.size == 0:
        raise ImageError(f"{source}: image is empty (shape {array.shape})")
    if isinstance(min_size, bool) or int(min_size) != min_size or min_size < 1:
        raise ValueError(f"min_size must be an integer >= 1, got {min_size!r}")
    if min(array.shape) < min_size:
        raise ImageError(
            f"{source}: image must be at least {min_size} x {min_size} pixels, got {array.shape}"
        )
    array = array.astype(float)
    bad = non_finite(array)
    if bad is not None:
        count, (row, col) = bad
        raise ImageError(
            f"{source}: {count} non-finite pixel(s) (NaN/inf), first at "
            f"(row {row}, col {col}); ground truth must be finite"
        )
    return array, note


def load_image(path: str | Path, *, min_size: int = 4) -> tuple[np.ndarray, str | None]:
    """Load and validate an image file; returns ``(image, note)`` like :func:`check_image`.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.npy"
    >>> np.save(path, np.ones((3, 3)))
    >>> load_image(path, min_size=2)[0].shape
    (3, 3)
    """
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, expected an image file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ImageError(f"{path}: unsupported file type {suffix!r}; use one of {SUFFIXES}")
    magic = _MAGIC.get(suffix)
    if magic is not None and not _starts_with(path, magic):  # readers' own errors mislead
        kind = suffix.lstrip(".").upper()
        raise ImageError(f"{path}: cannot read {suffix} file (no {kind} header)")
    try:
        if suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            array = tifffile.imread(path)
        else:
            from skimage.io import imread

            array = imread(path)
    except Exception as exc:  # any reader failure becomes one clear line
        reason = f"{type(exc).__name__}: {exc}"
        raise ImageError(f"{path}: cannot read {suffix} file ({reason})") from None
    return check_image(array, str(path), min_size=min_size)


#: first bytes of the formats whose readers answer garbage with a misleading message
#: (numpy suggests unpickling it, the PNG reader says it has no backend)
_MAGIC = {".npy": b"\x93NUMPY", ".png": b"\x89PNG\r\n\x1a\n"}


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(magic)) == magic


def load_maps(path: str | Path, *, min_size: int = 4) -> tuple[np.ndarray, str | None]:
    """Load a ground truth that may be element maps: ``(image or maps, note)``.

    A 3-D ``.npy`` or multi-page TIFF whose last axis is not an RGB(A) axis (3 or
    4) is C element maps, returned as (C, H, W) float64 with every channel
    checked like an image; anything else goes through :func:`load_image`.
    ``min_size`` is the smallest side allowed, as in :func:`check_image`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".npy", ".tif", ".tiff"):
        try:
            if suffix == ".npy":
                array = np.load(path, allow_pickle=False, mmap_mode="r")
            else:
                import tifffile

                array = tifffile.imread(path)
        except Exception:  # load_image names the problem
            return load_image(path, min_size=min_size)
        if array.ndim == 3 and array.shape[-1] not in (3, 4):
            maps = [
                check_image(np.asarray(m), f"{path} channel {i}", min_size=min_size)[0]
                for i, m in enumerate(array)
            ]
            if not maps:
                raise ImageError(f"{path}: element maps hold no channel (shape {array.shape})")
            return np.stack(maps), None
    return load_image(path, min_size=min_size)
