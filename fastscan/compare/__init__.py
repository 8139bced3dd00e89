"""Replay strategies against a simulated detector and compare them (``fastscan simulate``).

:func:`run_simulate` runs the comparison behind the command line;
:mod:`fastscan.compare.report` writes its tables and figures.
"""

from fastscan.compare.run import SimulateConfig, run_simulate

__all__ = ["SimulateConfig", "run_simulate"]
