"""Ophyd devices for a scanning X-ray microscope (EPICS, pyepics underneath)."""

from fastscan.devices.detector import EpicsScalarDetector
from fastscan.devices.stage import NanoprobeStage

__all__ = ["EpicsScalarDetector", "NanoprobeStage"]
