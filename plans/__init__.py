"""Bluesky plans that let a fastscan Sampler drive a scanning microscope.

Hardware comes in as arguments (bluesky protocol objects); this package never
imports ``fastscan.devices`` or ``fastscan.sim``.
"""

from fastscan.plans.autonomous import (
    BatchReport,
    ScanFault,
    ScanSummary,
    autonomous_scan,
    rel_autonomous_scan,
)
from fastscan.plans.callbacks import LivePlot, TextProgress
from fastscan.plans.fly import FlyScanSummary, SegmentReport, autonomous_fly_scan
from fastscan.plans.grid import Grid
from fastscan.plans.storage import (
    DocumentStore,
    StoredRun,
    list_runs,
    load_run,
    replay_points,
    sampler_from_run,
)

__all__ = [
    "BatchReport",
    "DocumentStore",
    "FlyScanSummary",
    "Grid",
    "LivePlot",
    "ScanFault",
    "ScanSummary",
    "SegmentReport",
    "StoredRun",
    "TextProgress",
    "autonomous_fly_scan",
    "autonomous_scan",
    "list_runs",
    "load_run",
    "rel_autonomous_scan",
    "replay_points",
    "sampler_from_run",
]
