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
from fastscan.plans.catalog import asset_directory, connect_catalog, local_catalog
from fastscan.plans.fly import (
    DecisionReport,
    FlyScanSummary,
    SegmentReport,
    autonomous_fly_scan,
)
from fastscan.plans.grid import Grid
from fastscan.plans.last_summary import last_summary
from fastscan.plans.storage import load_run, replay_points, run_start, sampler_from_run
from fastscan.plans.writer import BufferedTiledWriter, StorageError, tiled_writer

__all__ = [
    "BatchReport",
    "BufferedTiledWriter",
    "DecisionReport",
    "FlyScanSummary",
    "Grid",
    "LivePlot",
    "ScanFault",
    "ScanSummary",
    "SegmentReport",
    "StorageError",
    "TextProgress",
    "asset_directory",
    "autonomous_fly_scan",
    "autonomous_scan",
    "connect_catalog",
    "last_summary",
    "load_run",
    "local_catalog",
    "rel_autonomous_scan",
    "replay_points",
    "run_start",
    "sampler_from_run",
    "tiled_writer",
]
