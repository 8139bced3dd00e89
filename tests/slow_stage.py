"""A slow stage for the command line's beam-time flags (``fastscan simulate``, ``estimate``).

Motion is a visible part of every gap, and no value is a default, so a flag that does not
reach a command shows in its times.
"""

from __future__ import annotations

SHAPE = (48, 64)  # the grid both commands are checked on
TIMING = {
    "dwell": 0.004,
    "velocity": 300.0,
    "acceleration": 2000.0,
    "settle": 0.008,
    "point_overhead": 0.02,
    "line_overhead": 0.04,
}
#: ``TIMING`` as command-line flags
FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TIMING.items()]
