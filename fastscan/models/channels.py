"""Downstream models on element maps: any (H, W) model applied to every channel of (C, H, W).

A multichannel sampler holds a (C, H, W) reconstruction (one map per XRF
element) and one (H, W) measured mask, shared by all channels. :func:`per_channel`
wraps a denoiser or segmenter so it takes that frame: each channel goes through
the model with the shared mask, and the results stack to (C, H, W) (float64
images for a denoiser, int32 labels for a segmenter). An (H, W) frame passes
straight through, so a wrapped model serves one channel as before.

Examples
--------
>>> import numpy as np
>>> from fastscan.models import create_model
>>> model = per_channel(create_model("idw"))
>>> frames = np.random.default_rng(0).random((3, 16, 16))
>>> mask = np.zeros((16, 16), bool); mask[::3, ::3] = True
>>> model(frames, mask).shape, model.kind
((3, 16, 16), 'denoiser')
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PerChannel", "per_channel"]


class PerChannel:
    """A 2-D denoiser or segmenter applied channel by channel (see the module docstring)."""

    def __init__(self, model: Any) -> None:
        kind = getattr(model, "kind", None)
        if kind not in ("denoiser", "segmenter") or not callable(model):
            raise TypeError(f"expected a denoiser or segmenter model, got {model!r}")
        self.model = model
        self.kind = kind
        self.name = f"{model.name}[per-channel]"

    def __call__(self, reconstruction: np.ndarray, mask: np.ndarray) -> np.ndarray:
        frames = np.asarray(reconstruction)
        if frames.ndim == 2:
            return self.model(frames, mask)
        if frames.ndim != 3 or frames.shape[0] < 1:
            raise ValueError(
                f"reconstruction must be (H, W) or (C, H, W) with C >= 1, got shape {frames.shape}"
            )
        if np.shape(mask) != frames.shape[1:]:
            raise ValueError(
                f"mask shape {np.shape(mask)} must be the channels' (H, W) {frames.shape[1:]}"
            )
        dtype = np.float64 if self.kind == "denoiser" else np.int32
        return np.stack([np.asarray(self.model(frame, mask), dtype) for frame in frames])

    def __repr__(self) -> str:
        return f"PerChannel({self.model!r})"


def per_channel(model: Any) -> PerChannel:
    """Wrap a denoiser or segmenter so it accepts (C, H, W) element maps."""
    return PerChannel(model)
