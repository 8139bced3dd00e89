"""The validation and test image sets of the honest evaluation (issue 12).

Training, validation and test are split **by image**. ``fastscan train`` fits on
scikit-image camera, coins, moon, text, astronaut and the fastscan phantoms
(flakes, particles, grains) with seeds 0 and 1. Everything may be tuned, swept
and chosen on the :func:`validation_set`; nothing is ever chosen on the
:func:`test_set`, which only gives the final figures (``fastscan evaluate --set
test``).

Every image is built offline and deterministically: scikit-image's bundled
images (grey by luminance, alpha dropped, long side resized to ``size`` pixels
with anti-aliasing, never enlarged, min-max scaled to [0, 100]) and generators
seeded apart from the training ones. The count maps (``xrf-*``) are expected
counts scaled by ``100 / max`` (zero stays zero); ``lowcount`` is the ``shapes``
image as 4 to 100 expected counts (about 20 on average), each reading a seeded
Poisson draw.

Examples
--------
>>> from fastscan.compare.imagesets import test_set
>>> images = test_set(size=64)
>>> len(images), images["lowcount"].noise, images["grass"].kind
(13, 'poisson', 'texture')
>>> max(float(im.truth.max()) for im in images.values()) <= 100.0
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastscan.replay import SimulatedDetector

__all__ = [
    "MAX_SIZE",
    "MIN_SIZE",
    "SET_NAMES",
    "TEST_SEED",
    "TRAINING_IMAGES",
    "TestImage",
    "image_set",
    "noisy_check_set",
    "noisy_set",
    "sparse_set",
    "stop_check_set",
    "test_set",
    "validation_set",
    "wse2_image",
]

#: Seed of the generated test images (no training or validation generator uses it).
TEST_SEED = 12
#: What ``fastscan train`` fits on (for reference; never evaluated as held-out). The
#: "wide" training set (``fastscan train --training-set wide``) adds checkerboard,
#: colorwheel, phantom seeds 2-5 and eight textures with seeds 0-7; its list is
#: ``fastscan.erd.training.TRAINING_SETS["wide"]``.
TRAINING_IMAGES = (
    "camera",
    "coins",
    "moon",
    "text",
    "astronaut",
    "phantom flakes/particles/grains seeds 0, 1",
)
#: Smallest ``size`` (long side, pixels) of the generated images and resized pictures.
MIN_SIZE = 32
#: Largest ``size``: 2048, the largest grid any benchmark measured (2048 x 2048 flakes in
#: ``bench_latency.py``, ``bench_fly.py``); a generated image is 0.75 size x size pixels and
#: every strategy keeps several float maps of it, so far larger sizes can exhaust memory.
MAX_SIZE = 2048
#: Names understood by :func:`image_set`.
SET_NAMES = ("test", "validation", "sparse", "stop-check", "noisy", "noisy-check", "wse2")
#: The WSe2 design image in the shared data folder.
WSE2_FILE = "wse2_darkfield_600x400.tif"
_LOWCOUNT_FLOOR = 4.0  # expected counts of the lowcount substrate (mean about 20)


@dataclass(frozen=True)
class TestImage:
    """One evaluation image: ground truth, a kind label and its detector noise.

    ``truth`` is (H, W) float64, read-only: the noise-free image (expected
    counts for a Poisson image). ``noise`` is a :class:`SimulatedDetector` noise
    model ("none" or "poisson"); :meth:`detector` gives the detector of one
    evaluation seed.
    """

    __test__ = False  # not a pytest class, despite the name

    name: str
    kind: str
    truth: np.ndarray
    noise: str = "none"
    source: str = ""

    def detector(self, seed: int | None = 0) -> SimulatedDetector:
        """A detector over ``truth`` that answers only the pixels asked (noise seeded)."""
        return SimulatedDetector(self.truth, noise=self.noise, seed=seed)


def _frozen(image: np.ndarray) -> np.ndarray:
    image = np.ascontiguousarray(image, dtype=np.float64)
    image.flags.writeable = False
    return image


def _grey(image: np.ndarray, size: int | None) -> np.ndarray:
    """Grey float image, long side resized to ``size`` (never enlarged), in [0, 100]."""
    from skimage import color, transform

    image = np.asarray(image)
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])  # alpha dropped
    image = image.astype(np.float64)
    long_side = max(image.shape)
    if size is not None and long_side > size:
        shape = tuple(max(1, int(round(n * size / long_side))) for n in image.shape)
        image = transform.resize(image, shape, anti_aliasing=True)
    return _stretch(image)


def _stretch(image: np.ndarray) -> np.ndarray:
    """Min-max scaled to [0, 100] (clipped, so rounding never leaves the range)."""
    low, high = float(image.min()), float(image.max())
    return np.clip(100.0 * (image - low) / (high - low), 0.0, 100.0)


def _counts(image: np.ndarray) -> np.ndarray:
    """Expected counts scaled by ``100 / max`` (zero stays zero)."""
    return np.clip(100.0 * image / float(image.max()), 0.0, 100.0)


def _scan_shape(size: int) -> tuple[int, int]:
    """Grid of the generated images: long side ``size``, 3:4 like a typical scan."""
    return (int(round(0.75 * size)), int(size))


def _shapes(size: int) -> np.ndarray:
    """Flakes-like faceted shapes on a dark substrate (skimage random_shapes, seed 12)."""
    from scipy import ndimage
    from skimage.draw import random_shapes

    shape = _scan_shape(size)
    image, _ = random_shapes(
        shape,
        max_shapes=9,
        min_shapes=5,
        min_size=max(2, size // 10),
        max_size=max(3, size // 3),
        channel_axis=None,
        intensity_range=(70, 230),
        allow_overlap=True,
        rng=TEST_SEED,
    )
    image = np.where(image == 255, 20, image).astype(np.float64)  # white background -> substrate
    return _stretch(ndimage.gaussian_filter(image, 0.7))  # finite beam


def _blobs(size: int, seed: int = TEST_SEED, fraction: float = 0.04) -> np.ndarray:
    """Sparse particles: binary_blobs at a low volume ``fraction``, blurred (test: seed 12)."""
    from scipy import ndimage
    from skimage.data import binary_blobs

    shape = _scan_shape(size)
    blobs = binary_blobs(length=size, blob_size_fraction=0.03, volume_fraction=fraction, rng=seed)
    image = ndimage.gaussian_filter(blobs[: shape[0], : shape[1]].astype(np.float64), 1.0)
    return _counts(image + 0.02)


def _xrf(size: int, element: str, seed: int = TEST_SEED) -> np.ndarray:
    from fastscan.phantoms import make_xrf_maps

    maps, names = make_xrf_maps(_scan_shape(size), seed=seed)
    return _counts(maps[names.index(element)])


def _lowcount(size: int) -> np.ndarray:
    """``shapes`` as expected counts from 4 (substrate) to 100, about 20 on average."""
    return _LOWCOUNT_FLOOR + (1.0 - _LOWCOUNT_FLOOR / 100.0) * _shapes(size)


def _skimage(name: str) -> Callable[[int], np.ndarray]:
    def build(size: int) -> np.ndarray:
        from skimage import data

        return _grey(getattr(data, name)(), size)

    return build


# name -> (kind, builder(size), noise, source)
_TEST = {
    "grass": ("texture", _skimage("grass"), "none", "skimage.data.grass"),
    "rocket": ("natural", _skimage("rocket"), "none", "skimage.data.rocket"),
    "chelsea": ("natural", _skimage("chelsea"), "none", "skimage.data.chelsea"),
    "horse": ("binary", _skimage("horse"), "none", "skimage.data.horse"),
    "retina": ("biomedical", _skimage("retina"), "none", "skimage.data.retina"),
    "microaneurysms": ("biomedical", _skimage("microaneurysms"), "none",
                       "skimage.data.microaneurysms (102 px)"),
    "logo": ("graphic", _skimage("logo"), "none", "skimage.data.logo"),
    "immunohistochemistry": ("histology", _skimage("immunohistochemistry"), "none",
                             "skimage.data.immunohistochemistry"),
    "shapes": ("flakes", _shapes, "none", "skimage.draw.random_shapes, seed 12"),
    "blobs": ("particles", _blobs, "none", "skimage.data.binary_blobs 4 %, seed 12"),
    "xrf-cu": ("xrf", lambda size: _xrf(size, "Cu"), "none", "make_xrf_maps seed 12, Cu trace"),
    "xrf-ti": ("xrf", lambda size: _xrf(size, "Ti"), "none", "make_xrf_maps seed 12, Ti grains"),
    "lowcount": ("lowcount", _lowcount, "poisson",
                 "shapes as 4-100 counts (mean ~20), Poisson readings"),
}  # fmt: skip


def _phantom(name: str, seed: int) -> Callable[[int], np.ndarray]:
    def build(size: int) -> np.ndarray:
        from fastscan.phantoms import make_phantom

        return np.clip(100.0 * make_phantom(name, _scan_shape(size), seed=seed), 0.0, 100.0)

    return build


def _native_crop(image: np.ndarray, corner: tuple[int, int], size: int) -> np.ndarray:
    """A native-resolution window (no resizing) of the scan shape at ``corner`` (row, col);
    a negative coordinate puts the window against the bottom / right edge."""
    n_rows, n_cols = _scan_shape(size)
    row, col = (c if c >= 0 else n - w for c, n, w in zip(corner, image.shape, (n_rows, n_cols)))
    return _grey(image[row : row + n_rows, col : col + n_cols], None)


def _motorcycle(corner: tuple[int, int] | None) -> Callable[[int], np.ndarray]:
    """The left image of the stereo pair, whole (resized) or a native crop at ``corner``."""

    def build(size: int) -> np.ndarray:
        from skimage import data

        left = data.stereo_motorcycle()[0]
        return _grey(left, size) if corner is None else _native_crop(left, corner, size)

    return build


def _skimage_crop(name: str, corner: tuple[int, int] = (0, 0)) -> Callable[[int], np.ndarray]:
    """A native-resolution window of the scan shape at ``corner`` of a scikit-image image
    (the texture at its own scale, coarser than the resized whole image)."""

    def build(size: int) -> np.ndarray:
        from skimage import data

        return _native_crop(getattr(data, name)(), corner, size)

    return build


def _texture(kind: str, seed: int) -> Callable[[int], np.ndarray]:
    """A synthetic texture of :mod:`fastscan.compare.textures` on the scan shape."""

    def build(size: int) -> np.ndarray:
        from fastscan.compare import textures

        shape = _scan_shape(size)
        if kind == "noise-fine":
            return textures.band_noise(shape, 1.5, seed)
        if kind == "noise-coarse":
            return textures.band_noise(shape, 4.0, seed)
        if kind == "fractal":
            return textures.fractal_noise(shape, 3.0, seed)
        if kind == "voronoi":
            return textures.voronoi_cells(shape, shape[0] * shape[1] // 120, seed)
        return textures.fibres(shape, seed)

    return build


def _coffee_crop(size: int) -> np.ndarray:
    """A native-resolution crop of coffee at the bottom right (a natural low-Gini window)."""
    from skimage import data

    return _native_crop(data.coffee(), (-1, -1), size)


_VALIDATION = {
    **{
        name: (kind, _skimage(name), "none", f"skimage.data.{name}")
        for name, kind in (
            ("brick", "texture"),
            ("cell", "biomedical"),
            ("clock", "natural"),
            ("page", "graphic"),
            ("coffee", "natural"),
            ("gravel", "texture"),
            ("shepp_logan_phantom", "graphic"),
            ("hubble_deep_field", "particles"),
        )
    },
    **{
        f"{name}-100": (kind, _phantom(name, 100), "none", f"fastscan phantom {name}, seed 100")
        for name, kind in (("flakes", "flakes"), ("particles", "particles"), ("grains", "texture"))
    },
    "motorcycle": ("natural", _motorcycle(None), "none",
                   "skimage.data.stereo_motorcycle, left image"),
    "motorcycle-crop": ("natural", _motorcycle((100, 200)), "none",
                        "skimage.data.stereo_motorcycle left, native crop rows 100+, cols 200+"),
    "motorcycle-corner": ("natural", _motorcycle((0, 0)), "none",
                          "skimage.data.stereo_motorcycle left, native crop at the top left"),
    "coffee-crop": ("natural", _coffee_crop, "none",
                    "skimage.data.coffee, native crop at the bottom right"),
    "motorcycle-top-right": ("natural", _motorcycle((0, -1)), "none",
                             "skimage.data.stereo_motorcycle left, native crop at the top right"),
    "cell-crop": ("biomedical", _skimage_crop("cell", (0, -1)), "none",
                  "skimage.data.cell, native crop at the top right"),
    "cell-middle": ("biomedical", _skimage_crop("cell", (200, 100)), "none",
                    "skimage.data.cell, native crop rows 200+, cols 100+"),
    "cell-corner": ("biomedical", _skimage_crop("cell", (-1, 0)), "none",
                    "skimage.data.cell, native crop at the bottom left"),
    "gravel-crop": ("texture", _skimage_crop("gravel"), "none",
                    "skimage.data.gravel, native crop at the top left"),
    "brick-crop": ("texture", _skimage_crop("brick"), "none",
                   "skimage.data.brick, native crop at the top left"),
    "noise-fine": ("texture", _texture("noise-fine", 100), "none",
                   "white noise, Gaussian 1.5 px, seed 100 (fastscan.compare.textures)"),
    "noise-coarse": ("texture", _texture("noise-coarse", 101), "none",
                     "white noise, Gaussian 4 px, seed 101"),
    "fractal": ("texture", _texture("fractal", 102), "none", "1/f^3 power noise, seed 102"),
    "voronoi": ("texture", _texture("voronoi", 103), "none",
                "Voronoi cells (one per 120 px), dark boundaries, seed 103"),
    "fibres": ("texture", _texture("fibres", 104), "none",
               "short strokes along a turning direction field (fur-like), seed 104"),
    "xrf-cu-1000": ("xrf", lambda size: _xrf(size, "Cu", seed=1000), "none",
                    "make_xrf_maps seed 1000, Cu trace"),
    "xrf-ti-1000": ("xrf", lambda size: _xrf(size, "Ti", seed=1000), "none",
                    "make_xrf_maps seed 1000, Ti grains"),
}  # fmt: skip


def _disk(name: str) -> Callable[[int], np.ndarray]:
    """A validation photograph inside a centred disk, black outside (a round sample mount,
    like a fundus photograph): the disk's diameter is 0.95 of the short side, its rim
    blurred by 1 pixel."""

    def build(size: int) -> np.ndarray:
        from scipy import ndimage

        image = _skimage(name)(size)
        rows, cols = np.indices(image.shape, dtype=np.float64)
        centre = ((image.shape[0] - 1) / 2.0, (image.shape[1] - 1) / 2.0)
        radius = 0.475 * min(image.shape)
        inside = np.hypot(rows - centre[0], cols - centre[1]) <= radius
        return _stretch(image * ndimage.gaussian_filter(inside.astype(np.float64), 1.0))

    return build


# validation images with a flat background and structure spread over many rows (issue 10:
# where fast-fly pays for readings of nothing); generators seeded >= 100, photographs of the
# validation set, nothing of the test set
_SPARSE = {
    **{
        f"blobs-{seed}": ("particles", lambda size, s=seed, f=fraction: _blobs(size, s, f), "none",
                          f"skimage.data.binary_blobs {fraction:.0%}, blurred, seed {seed}")
        for seed, fraction in ((100, 0.04), (101, 0.03), (102, 0.06))
    },
    **{
        f"xrf-cu-{seed}": ("xrf", lambda size, s=seed: _xrf(size, "Cu", seed=s), "none",
                           f"make_xrf_maps seed {seed}, Cu trace")
        for seed in (1001, 1002, 1003)
    },
    "coffee-disk": ("biomedical", _disk("coffee"), "none",
                    "skimage.data.coffee inside a disk, black corners"),
    "hubble-disk": ("particles", _disk("hubble_deep_field"), "none",
                    "skimage.data.hubble_deep_field inside a disk, black corners"),
}  # fmt: skip


# noise-free validation generators nothing was chosen on at 1 ms (stop1ms24: the early stop
# of fast-fly with flat_pixel_share 0); seeds apart from every other noise-free set
_STOP_CHECK = {
    **{
        f"xrf-{element.lower()}-{seed}": (
            "xrf", lambda size, e=element, s=seed: _xrf(size, e, seed=s), "none",
            f"make_xrf_maps seed {seed}, {what}",
        )
        for seed in (1004, 1005, 1006, 1007, 1008)
        for element, what in (("Ti", "Ti grains"), ("Cu", "Cu trace"))
    },
    **{
        f"{phantom}-{seed}": (phantom, _phantom(phantom, seed), "none",
                              f"fastscan phantom {phantom}, seed {seed}")
        for phantom in ("particles", "flakes")
        for seed in (101, 102, 103)
    },
}  # fmt: skip


def _low_counts(build: Callable[[int], np.ndarray], peak: float) -> Callable[[int], np.ndarray]:
    """``build``'s [0, 100] image as expected counts from ``peak / 25`` to ``peak`` (the test
    set's ``lowcount`` mapping when ``peak`` is 100)."""

    def counts(size: int) -> np.ndarray:
        floor = _LOWCOUNT_FLOOR * peak / 100.0
        return floor + (peak - floor) / 100.0 * build(size)

    return counts


def _count_images(phantoms: tuple, images: tuple, xrf: tuple) -> dict:
    """A table of Poisson-count images: ``phantoms`` as (phantom, kind, seed, peak),
    ``images`` as (name, kind, build, source, peak) and ``xrf`` as (element, seed)
    channels of :func:`make_xrf_maps` up to 100 counts."""
    listed = [
        (
            f"{phantom}-{seed}",
            kind,
            _phantom(phantom, seed),
            f"fastscan phantom {phantom}, seed {seed}",
            peak,
        )
        for phantom, kind, seed, peak in phantoms
    ] + list(images)
    table = {
        f"{name}-c{peak}": (kind, _low_counts(build, peak), "poisson",
                            f"{source} as {peak / 25:g}-{peak} counts, Poisson readings")
        for name, kind, build, source, peak in listed
    }  # fmt: skip
    what = {"Ti": "Ti grains", "Cu": "Cu trace"}
    for element, seed in xrf:
        table[f"xrf-{element.lower()}-{seed}"] = (
            "xrf",
            lambda size, element=element, seed=seed: _xrf(size, element, seed=seed),
            "poisson",
            f"make_xrf_maps seed {seed}, {what[element]} as counts up to 100, Poisson readings",
        )
    return table


# validation images as Poisson counts (issue 12: noisy low-count data must degrade
# gracefully); validation photographs and generators seeded >= 100, nothing of the test set
_NOISY = _count_images(
    phantoms=(
        ("flakes", "flakes", 100, 100),
        ("particles", "particles", 100, 100),
        ("grains", "texture", 100, 100),
        ("flakes", "flakes", 101, 25),
        ("grains", "texture", 101, 25),
    ),
    images=(
        ("clock", "natural", _skimage("clock"), "skimage.data.clock", 100),
        ("cell", "biomedical", _skimage("cell"), "skimage.data.cell", 25),
    ),
    xrf=(("Ti", 1004),),
)
# Poisson-count validation images nothing was chosen on when the noise cost was (noise12b)
_NOISY_CHECK = _count_images(
    phantoms=(
        ("flakes", "flakes", 102, 25),
        ("particles", "particles", 101, 25),
        ("particles", "particles", 102, 100),
        ("grains", "texture", 102, 25),
        ("flakes", "flakes", 103, 100),
    ),
    images=(
        ("brick", "texture", _skimage("brick"), "skimage.data.brick", 25),
        ("hubble_deep_field", "natural", _skimage("hubble_deep_field"),
         "skimage.data.hubble_deep_field", 100),
        ("page", "graphic", _skimage("page"), "skimage.data.page", 25),
    ),
    xrf=(("Ti", 1005), ("Cu", 1006)),
)  # fmt: skip


def _check_size(size: int | None) -> None:
    if size is not None and (int(size) != size or not MIN_SIZE <= size <= MAX_SIZE):
        raise ValueError(
            f"size must be an integer from {MIN_SIZE} to {MAX_SIZE} (pixels of the long side), "
            f"got {size!r}"
        )


def _build(table: dict, size: int, names: tuple[str, ...] | None) -> dict[str, TestImage]:
    unknown = [n for n in (names or ()) if n not in table]
    if unknown:
        raise ValueError(f"unknown image {unknown[0]!r}; choose from {', '.join(table)}")
    images = {}
    for name, (kind, build, noise, source) in table.items():
        if names is None or name in names:
            truth = build(int(size))
            images[name] = TestImage(name, kind, _frozen(truth), noise, source)
    return images


def test_set(size: int = 256, names: tuple[str, ...] | None = None) -> dict[str, TestImage]:
    """The 13 test images (or those ``names``), long side ``size`` pixels.

    Never tune, sweep or choose anything on these; they give the final figures only.

    Parameters
    ----------
    size : int
        Long side in pixels (>= 32); scikit-image images are never enlarged.
    names : tuple of str, optional
        A subset, by name.

    Returns
    -------
    dict name -> :class:`TestImage`, in the documented order.

    Examples
    --------
    >>> images = test_set(size=64, names=("horse", "xrf-cu"))
    >>> {n: (im.kind, im.truth.shape) for n, im in images.items()}
    {'horse': ('binary', (52, 64)), 'xrf-cu': ('xrf', (48, 64))}
    """
    _check_size(size)
    return _build(_TEST, size, names)


test_set.__test__ = False  # type: ignore[attr-defined]  # a builder, not a pytest test


def wse2_image(data: str | Path) -> TestImage:
    """The WSe2 dark-field image (600 x 400, native values) from the folder ``data``."""
    import tifffile

    path = Path(data) / WSE2_FILE
    if not path.is_file():
        raise ValueError(f"WSe2 image not found: {str(path)!r} (give --data, the shared data)")
    truth = tifffile.imread(path).astype(np.float64)
    return TestImage("wse2", "design", _frozen(truth), "none", str(path))


def validation_set(
    size: int = 256, data: str | Path | None = None, names: tuple[str, ...] | None = None
) -> dict[str, TestImage]:
    """The validation images: tune, sweep and choose on these freely.

    WSe2 (resized like the others) comes first when ``data`` holds it; then
    scikit-image brick, cell, clock, page, coffee, gravel, shepp_logan_phantom,
    hubble_deep_field; natural photographs whose gradient Gini (the texture
    measure of :mod:`fastscan._structure`) lies in or near the texture band:
    ``motorcycle`` (the left image of ``stereo_motorcycle``, resized),
    ``motorcycle-crop`` and ``motorcycle-corner`` (native-resolution windows of
    the scan shape from it) and ``coffee-crop`` (one of coffee); the phantoms
    flakes/particles/grains with seed 100 and the XRF Cu and Ti maps with seed 1000.

    Examples
    --------
    >>> sorted(validation_set(size=64, names=("brick", "flakes-100")))
    ['brick', 'flakes-100']
    """
    _check_size(size)
    images = {}
    if data is not None and (Path(data) / WSE2_FILE).is_file() and (not names or "wse2" in names):
        wse2 = wse2_image(data)
        images["wse2"] = TestImage(
            "wse2", "design", _frozen(_grey(wse2.truth, size)), "none", wse2.source
        )
    rest = None if names is None else tuple(n for n in names if n != "wse2")
    if names is None or rest:
        images.update(_build(_VALIDATION, size, rest))
    return images


def sparse_set(size: int = 256, names: tuple[str, ...] | None = None) -> dict[str, TestImage]:
    """Validation images with a flat background and spread structure (tune on them freely).

    Kept apart from :func:`validation_set` so that its runtime stays as it was:
    sparse particles ``blobs-100`` to ``blobs-102`` (binary_blobs at 4, 3 and 6 %
    volume, blurred), the Cu trace maps of ``make_xrf_maps`` seeds 1001 to 1003,
    and ``coffee-disk`` / ``hubble-disk``: validation photographs inside a disk
    with black corners (a round sample mount). None is a test or training image.

    Examples
    --------
    >>> images = sparse_set(size=64, names=("blobs-100", "coffee-disk"))
    >>> {n: im.truth.shape for n, im in images.items()}
    {'blobs-100': (48, 64), 'coffee-disk': (43, 64)}
    """
    _check_size(size)
    return _build(_SPARSE, size, names)


def stop_check_set(size: int = 256, names: tuple[str, ...] | None = None) -> dict[str, TestImage]:
    """Noise-free validation images kept apart from every other set (tune nothing on them).

    They check a choice made on :func:`sparse_set` and :func:`validation_set` (stop1ms24:
    fast-fly's early stop at 1 ms): the Ti grains and the Cu trace of ``make_xrf_maps``
    seeds 1004 to 1008 (``xrf-ti-1004``, ``xrf-cu-1004``, ...) and the particles and
    flakes phantoms seeds 101 to 103. The Poisson-count sets use some of these
    generators as counts; no noise-free set does, and none is a test or training image.

    Examples
    --------
    >>> images = stop_check_set(size=64, names=("xrf-cu-1004", "flakes-101"))
    >>> {n: (im.kind, im.noise, im.truth.shape) for n, im in images.items()}
    {'xrf-cu-1004': ('xrf', 'none', (48, 64)), 'flakes-101': ('flakes', 'none', (48, 64))}
    """
    _check_size(size)
    return _build(_STOP_CHECK, size, names)


def noisy_set(size: int = 256, names: tuple[str, ...] | None = None) -> dict[str, TestImage]:
    """Validation images as Poisson counts (tune on them freely; issue 12's noisy data).

    Each reading is a seeded Poisson draw of the expected counts in ``truth``.
    ``*-c100`` images use the test set's ``lowcount`` mapping (4 to 100 counts:
    flakes, particles and grains phantoms seed 100 and ``clock``); ``*-c25`` are
    a quarter of that (1 to 25 counts: flakes and grains seed 101, ``cell``);
    ``xrf-ti-1004`` is the Ti grain map of ``make_xrf_maps`` seed 1004 as
    expected counts up to 100. None is a test or training image.

    Examples
    --------
    >>> images = noisy_set(size=64, names=("clock-c100", "cell-c25"))
    >>> {n: (im.noise, round(float(im.truth.max()), 6)) for n, im in images.items()}
    {'clock-c100': ('poisson', 100.0), 'cell-c25': ('poisson', 25.0)}
    """
    _check_size(size)
    return _build(_NOISY, size, names)


def noisy_check_set(size: int = 256, names: tuple[str, ...] | None = None) -> dict[str, TestImage]:
    """More validation images as Poisson counts, kept apart from :func:`noisy_set`.

    Nothing was chosen on them when the ERD's noise cost was (on :func:`noisy_set`), so
    they check that choice: ``flakes-102-c25``, ``particles-101-c25``,
    ``particles-102-c100``, ``grains-102-c25``, ``flakes-103-c100``, ``brick-c25``,
    ``hubble_deep_field-c100``, ``page-c25`` (the ``noisy_set`` mappings: ``-c100``
    4 to 100 counts, ``-c25`` 1 to 25) and ``xrf-ti-1005`` / ``xrf-cu-1006`` (the Ti
    grains and the Cu trace of ``make_xrf_maps``, up to 100 counts). Validation
    images only: no test or training image.

    Examples
    --------
    >>> images = noisy_check_set(size=64, names=("page-c25", "xrf-cu-1006"))
    >>> {n: (im.noise, round(float(im.truth.max()), 6)) for n, im in images.items()}
    {'page-c25': ('poisson', 25.0), 'xrf-cu-1006': ('poisson', 100.0)}
    """
    _check_size(size)
    return _build(_NOISY_CHECK, size, names)


def image_set(
    name: str, size: int = 256, data: str | Path | None = None, names: tuple[str, ...] | None = None
) -> dict[str, TestImage]:
    """One set by name: "test", "validation", "sparse", "stop-check", "noisy", "noisy-check"
    or "wse2" (native 600 x 400 from ``data``)."""
    if name == "test":
        return test_set(size, names)
    if name == "sparse":
        return sparse_set(size, names)
    if name == "stop-check":
        return stop_check_set(size, names)
    if name == "noisy":
        return noisy_set(size, names)
    if name == "noisy-check":
        return noisy_check_set(size, names)
    if name == "validation":
        return validation_set(size, data, names)
    if name == "wse2":
        if data is None:
            raise ValueError("the wse2 set needs the shared data folder (--data)")
        return {"wse2": wse2_image(data)}
    raise ValueError(f"unknown image set {name!r}; choose from {', '.join(SET_NAMES)}")
