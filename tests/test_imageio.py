"""fastscan.imageio: the one image loader (replay, CLI and the sim IOC)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from fastscan.imageio import ImageError, check_image, load_image


def test_min_size_is_a_parameter(tmp_path) -> None:
    path = tmp_path / "tiny.npy"
    np.save(path, np.arange(9.0).reshape(3, 3))
    with pytest.raises(ImageError, match="at least 4 x 4"):
        load_image(path)
    image, note = load_image(path, min_size=2)
    assert image.shape == (3, 3) and note is None and image.dtype == np.float64
    with pytest.raises(ValueError, match="min_size must be"):
        check_image(image, min_size=0)


def test_png_keeps_integer_levels_and_rgb_uses_luminance(tmp_path) -> None:
    from skimage.io import imsave

    camera = data.camera()[:64, :80]
    imsave(tmp_path / "cam.png", camera, check_contrast=False)
    image, note = load_image(tmp_path / "cam.png")
    np.testing.assert_array_equal(image, camera.astype(float))
    assert note is None
    rgb = data.astronaut()[:40, :50]
    grey, note = check_image(rgb)
    expected = rgb.astype(float) @ np.array([0.2125, 0.7154, 0.0721])
    np.testing.assert_allclose(grey, expected)
    assert "RGB" in note
