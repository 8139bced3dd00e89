"""Ophyd devices for a scanning X-ray microscope (EPICS, pyepics underneath)."""

from fastscan.devices.detector import EpicsScalarDetector
from fastscan.devices.stage import NanoprobeStage, StageMotor
from fastscan.devices.xrf import EpicsXRFDetector

__all__ = ["EpicsScalarDetector", "EpicsXRFDetector", "NanoprobeStage", "StageMotor"]
