"""Downstream models on the live reconstruction: denoisers and segmenters.

A model is a callable ``model(reconstruction, mask) -> array`` with ``name`` and
``kind`` attributes (see :mod:`fastscan.models.protocols`). Find and create models
by name with :func:`list_models` / :func:`create_model`; run them on a scan
without slowing it with :class:`fastscan.models.live.LiveModels` (worker thread)
or :mod:`fastscan.models.zmq_frames` (another process or machine).

Torch is imported only when a U-Net model is created.

Examples
--------
>>> from fastscan.models import list_models
>>> list_models("segmenter")
['otsu', 'unet-segmenter', 'watershed']
"""

from fastscan.models.channels import PerChannel, per_channel
from fastscan.models.protocols import Denoiser, Segmenter, check_frame
from fastscan.models.registry import create_model, describe_model, list_models, register_model

__all__ = [
    "Denoiser",
    "PerChannel",
    "Segmenter",
    "check_frame",
    "create_model",
    "describe_model",
    "list_models",
    "per_channel",
    "register_model",
]
