"""The residual-attention U-Net used by the learned denoiser and segmenter (imports torch).

Only :mod:`fastscan.models.torch_unet` and the training scripts import this
module, so the rest of fastscan runs without torch.

Architecture (widths ``(w1, w2, w3)``, default 16, 32, 48): residual blocks
(two 3x3 convolutions with a 1x1 shortcut) at full, half and quarter
resolution; average pooling down; bilinear upsampling plus a 1x1 convolution
up; additive attention gates (Oktay et al. 2018) weighting each skip connection
by the decoder's context; a 1x1 output convolution. No normalisation layers, so
a frame of any size gives the same result as tiles of it would, away from
borders. About 94 thousand parameters (0.4 MB in float32) at the default widths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ResAttUNet", "activity_gate"]

_SLOPE = 0.1


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a residual 1x1 shortcut and leaky ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.leaky_relu(self.conv1(x), _SLOPE))
        return F.leaky_relu(self.skip(x) + y, _SLOPE)


class AttentionGate(nn.Module):
    """Weight a skip connection by a sigmoid map computed from it and the decoder context."""

    def __init__(self, c_skip: int, c_context: int, c_inner: int) -> None:
        super().__init__()
        self.from_skip = nn.Conv2d(c_skip, c_inner, 1)
        self.from_context = nn.Conv2d(c_context, c_inner, 1, bias=False)
        self.psi = nn.Conv2d(c_inner, 1, 1)

    def forward(self, skip: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        weight = torch.sigmoid(self.psi(F.relu(self.from_skip(skip) + self.from_context(context))))
        return skip * weight


class ResAttUNet(nn.Module):
    """Three-level residual-attention U-Net; input H and W must be multiples of 4.

    Parameters
    ----------
    in_channels, out_channels : int
    widths : three ints, channels at full, half and quarter resolution.
    """

    def __init__(
        self, in_channels: int = 3, out_channels: int = 1, widths: tuple[int, ...] = (16, 32, 48)
    ) -> None:
        super().__init__()
        w1, w2, w3 = (int(w) for w in widths)
        self.enc1 = ResBlock(in_channels, w1)
        self.enc2 = ResBlock(w1, w2)
        self.bottom = ResBlock(w2, w3)
        self.up2 = nn.Conv2d(w3, w2, 1)
        self.gate2 = AttentionGate(w2, w2, max(w2 // 2, 1))
        self.dec2 = ResBlock(2 * w2, w2)
        self.up1 = nn.Conv2d(w2, w1, 1)
        self.gate1 = AttentionGate(w1, w1, max(w1 // 2, 1))
        self.dec1 = ResBlock(2 * w1, w1)
        self.head = nn.Conv2d(w1, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.avg_pool2d(e1, 2))
        bottom = self.bottom(F.avg_pool2d(e2, 2))
        up = self.up2(F.interpolate(bottom, scale_factor=2.0, mode="bilinear", align_corners=False))
        d2 = self.dec2(torch.cat([self.gate2(e2, up), up], dim=1))
        up = self.up1(F.interpolate(d2, scale_factor=2.0, mode="bilinear", align_corners=False))
        d1 = self.dec1(torch.cat([self.gate1(e1, up), up], dim=1))
        return self.head(d1)


def activity_gate(x: torch.Tensor, tau: float, size: int = 5) -> torch.Tensor:
    """Per-pixel weight in [0, 1] of the denoiser's correction: local std of ``x`` over ``tau``.

    ``x`` is (N, 1, H, W), the normalised reconstruction. Where it is flat over a
    ``size`` x ``size`` window (a region the measurements already pin down) the
    weight is 0 and the reconstruction is left exactly as it is; it reaches 1
    where the local standard deviation is ``tau`` or more. Not learned.
    """
    pad = size // 2
    mean = F.avg_pool2d(x, size, stride=1, padding=pad, count_include_pad=False)
    mean_sq = F.avg_pool2d(x * x, size, stride=1, padding=pad, count_include_pad=False)
    std = (mean_sq - mean * mean).clamp_min(0.0).sqrt()
    return (std / tau).clamp(0.0, 1.0)
