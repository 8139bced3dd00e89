"""Deprecated alias: ``fastscan simulate``'s engine moved to :mod:`fastscan.compare`.

The old name was too close to :mod:`fastscan.sim` (the simulated beamline).
"""

import warnings

from fastscan.compare.run import SimulateConfig, run_simulate

__all__ = ["SimulateConfig", "run_simulate"]

warnings.warn(
    "fastscan.simulate moved to fastscan.compare; import run_simulate from there",
    DeprecationWarning,
    stacklevel=2,
)
