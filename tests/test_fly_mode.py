"""Step or fly by dwell (fastscan.fly.mode) and the planner's move weight."""

from __future__ import annotations

import numpy as np
import pytest
from docstring_examples import assert_examples_pass

from fastscan.fly import FlySampler, levels, mode
from fastscan.fly import _kernels as _k
from fastscan.fly.mode import best_strategy, step_overhead
from fastscan.motion import NANOPROBE, MotionModel
from fastscan.strategies import STRATEGIES


@pytest.mark.parametrize("module", [mode, levels])
def test_docstring_examples(module):
    assert_examples_pass(module)


def test_the_switch_is_where_a_step_readings_fixed_part_equals_the_dwell():
    motion = MotionModel(velocity=(500, 800), acceleration=(2e3, 1e4), settle_time=0.02,
                         point_overhead=0.03)  # fmt: skip
    one_pixel = min(2 * np.sqrt(1 / 2e3), 2 * np.sqrt(1 / 1e4))  # trapezoid, never at top speed
    overhead = step_overhead(motion)
    assert overhead == pytest.approx(0.02 + 0.03 + one_pixel)
    assert best_strategy(motion.replace(dwell=overhead * 0.99)) == "fast-fly"
    assert best_strategy(motion.replace(dwell=overhead * 1.01)) == "fast"
    assert best_strategy(motion.replace(point_overhead=0.0, settle_time=0.0, dwell=0.05)) == "fast"
    for dwell in (1e-4, 0.01, 0.1, 10.0):
        assert best_strategy(NANOPROBE.replace(dwell=dwell)) in STRATEGIES
    with pytest.raises(TypeError, match="MotionModel"):
        step_overhead({"dwell": 0.01})


@pytest.mark.parametrize("weight", [1.0, 2.5])
def test_move_weight_scales_every_planned_move(weight):
    fs = FlySampler((32, 40), motion=NANOPROBE, move_weight=weight)
    stage = np.asarray(fs._stage, float)
    for d_row, d_col in ((0, 1), (3, 0), (7, 120), (400, 2)):
        real = float(NANOPROBE.travel_time(d_col, d_row))
        assert _k._travel(float(d_row), float(d_col), stage) == pytest.approx(weight * real)
    assert fs.get_params()["move_weight"] == weight
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="move_weight"):
            FlySampler((32, 40), move_weight=bad)
