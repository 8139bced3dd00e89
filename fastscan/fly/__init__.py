"""Fly scanning: straight segments flown at constant velocity, one reading per pixel crossed."""

from fastscan.fly.segment import Segment, segments_to_points

__all__ = ["Segment", "segments_to_points"]
