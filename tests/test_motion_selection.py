"""Motion-aware batches: the rate kernel against brute force, the knob, the Sampler hook."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan import Sampler
from fastscan.beamtime import step_times
from fastscan.motion import NANOPROBE, MotionModel, axis_time
from fastscan.neighbors import OffsetTable
from fastscan.phantoms import make_phantom
from fastscan.selection import TileMax, select_batch, select_batch_motion

MOTION = MotionModel(
    velocity=(200.0, 50.0),
    acceleration=(1000.0, 400.0),
    settle_time=0.01,
    dwell=0.02,
    point_overhead=0.03,
)


def inputs(seed, shape=(40, 50)):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < 0.05
    erd = np.where(mask, -1.0, rng.random(shape))
    return mask, erd, OffsetTable(12)


def rate_reference(erd, cur, motion, weight, pitch=(1.0, 1.0)):
    """Brute force over every pixel: argmax ERD / (fixed + weight * travel)."""
    rows, cols = np.nonzero(erd >= 0)
    (vx, vy), (ax, ay) = motion.velocity, motion.acceleration
    travel = np.maximum(
        axis_time((cols - cur[1]) * pitch[0], vx, ax), axis_time((rows - cur[0]) * pitch[1], vy, ay)
    )
    fixed = motion.settle_time + motion.point_overhead + motion.dwell
    score = erd[rows, cols] / (fixed + weight * travel)
    best = int(np.argmax(score))
    return rows[best], cols[best]


@pytest.mark.parametrize("weight", [0.5, 1.0, 5.0])
@pytest.mark.parametrize("pitch", [(1.0, 1.0), (0.5, 2.0)])
def test_picks_follow_the_brute_force_rate_path(weight, pitch):
    mask, erd, table = inputs(3)
    before = erd.copy()
    tiles = TileMax(erd, tile=8)
    got = select_batch_motion(
        tiles, mask, 25, spread=0.0, offsets=table.offsets, offset_dist=table.distances,
        start=(20.0, 3.0), motion=MOTION, weight=weight, pixel_pitch=pitch,
    )  # fmt: skip
    # replay the path with the reference: each pick is the best rate from the previous one
    work, cur = before.copy(), (20.0, 3.0)
    for r, c in got:
        assert (r, c) == rate_reference(work, cur, MOTION, weight, pitch)
        work[r, c] = -1.0
        cur = (float(r), float(c))
    np.testing.assert_array_equal(erd, before)  # restored
    np.testing.assert_array_equal(tiles.maxima, TileMax(before.copy(), tile=8).maxima)


def test_weight_zero_is_the_erd_only_choice():
    mask, erd, table = inputs(4)
    kwargs = {"spread": 0.5, "offsets": table.offsets, "offset_dist": table.distances}
    plain = select_batch(TileMax(erd.copy(), tile=8), mask, 40, **kwargs)
    aware = select_batch_motion(
        TileMax(erd.copy(), tile=8), mask, 40, start=(0, 0), motion=MOTION, weight=0.0, **kwargs
    )
    np.testing.assert_array_equal(np.sort(plain, axis=0), np.sort(aware, axis=0))


def test_motion_aware_batches_cost_less_beam_time_and_stay_valid():
    mask, erd, table = inputs(5, shape=(120, 160))
    kwargs = {"spread": 0.5, "offsets": table.offsets, "offset_dist": table.distances}
    costs, values = {}, {}
    for weight in (0.0, 3.0):
        pts = select_batch_motion(
            TileMax(erd.copy()), mask, 50, start=(60, 80), motion=NANOPROBE, weight=weight,
            **kwargs,
        )  # fmt: skip
        assert len(pts) == 50 and len({tuple(p) for p in pts.tolist()}) == 50
        assert not mask[pts[:, 0], pts[:, 1]].any()
        costs[weight] = step_times(pts, (60, 80), NANOPROBE)[-1]
        values[weight] = erd[pts[:, 0], pts[:, 1]].sum()
    assert costs[3.0] < 0.7 * costs[0.0]  # much less motion
    assert values[3.0] < values[0.0]  # and it gives up some ERD for it


def test_select_batch_motion_rejects_bad_input():
    mask, erd, table = inputs(6)
    kwargs = {"spread": 0.5, "offsets": table.offsets, "offset_dist": table.distances}
    tiles = TileMax(erd)
    with pytest.raises(ValueError, match=r"motion weight .* got -1"):
        select_batch_motion(tiles, mask, 5, start=(0, 0), motion=MOTION, weight=-1, **kwargs)
    with pytest.raises(ValueError, match="start must be"):
        select_batch_motion(tiles, mask, 5, start=(0, np.inf), motion=MOTION, **kwargs)


def test_sampler_knob_trades_points_for_motion():
    truth = make_phantom("flakes", (96, 128), seed=11)
    motion = NANOPROBE.replace(dwell=0.1)
    results = {}
    for weight in (0.0, 3.0):
        s = Sampler(truth.shape, batch_size=20, seed=0, max_coverage=0.12, motion=motion,
                    motion_weight=weight, change_tolerance=None)  # fmt: skip
        while not s.should_stop():
            pts = s.suggest()
            s.ingest(pts, truth[pts[:, 0], pts[:, 1]])
        points = s.measured_points
        assert len({tuple(p) for p in points.tolist()}) == len(points)
        results[weight] = step_times(points, (0, 0), motion)[-1]
        assert s.get_params()["motion_weight"] == weight
    assert results[3.0] < results[0.0]
    with pytest.raises(ValueError, match=r"motion_weight .* got -0\.5"):
        Sampler((10, 10), motion_weight=-0.5)
