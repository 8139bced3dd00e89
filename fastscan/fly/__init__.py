"""Fly scanning: straight segments flown at constant velocity, one reading per pixel crossed."""

from fastscan.fly.segment import Segment, segments_to_points

__all__ = ["FlySampler", "Segment", "segments_to_points"]


def __getattr__(name: str):  # FlySampler imports the sampler stack: load it on first use
    if name == "FlySampler":
        from fastscan.fly.sampler import FlySampler

        return FlySampler
    raise AttributeError(f"module 'fastscan.fly' has no attribute {name!r}")
