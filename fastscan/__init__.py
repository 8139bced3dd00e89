"""fastscan: autonomous sparse scanning for scanning X-ray microscopes.

The core (this package) is numpy + numba: :class:`Sampler` decides where to
measure next; the static baselines share its interface; :mod:`fastscan.metrics`
scores reconstructions. Bluesky plans, Ophyd devices, simulators and downstream
models live in the ``fastscan.plans``, ``fastscan.devices``, ``fastscan.sim`` and
``fastscan.models`` subpackages.
"""

from fastscan.erd.estimator import ERDModel
from fastscan.reconstruction import idw_reconstruction
from fastscan.sampler import Sampler

__version__ = "0.1.0"
__all__ = ["ERDModel", "Sampler", "__version__", "idw_reconstruction"]
