"""Deprecated alias: the phantoms moved to :mod:`fastscan.phantoms`.

The core owns the phantoms (training and replay must not reach into ``sim``);
this module only forwards the old import path and warns.
"""

import warnings

from fastscan.phantoms import PHANTOMS, make_phantom, make_phantom_with_labels

__all__ = ["PHANTOMS", "make_phantom", "make_phantom_with_labels"]

warnings.warn(
    "fastscan.sim.phantoms moved to fastscan.phantoms; import it from there",
    DeprecationWarning,
    stacklevel=2,
)
