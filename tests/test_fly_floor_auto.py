"""fast-fly's erd_floor="auto": the floor's level measured on the coarse lines' lattices."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from fly_source import fly_replay
from honesty import assert_honest_scan
from scipy import ndimage
from skimage.data import binary_blobs, brick

from fastscan.erd.floor import (
    FLAT_RANGE,
    flat_surprise_level,
    line_lattice_flat_share,
    line_lattice_level,
)
from fastscan.fly import FlySampler
from fastscan.fly.sampler import FLY_FLOOR_SCALE, default_erd_floor, default_sweep, line_costs
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector

MOTION = NANOPROBE.replace(dwell=0.01)


def _lines(shape: tuple[int, int], spacing: int, origin: int) -> np.ndarray:
    """(row, col) of every pixel of every ``spacing``-th row from ``origin``."""
    rows, cols = np.mgrid[origin : shape[0] : spacing, 0 : shape[1]]
    return np.column_stack([rows.ravel(), cols.ravel()])


def _particles(shape: tuple[int, int], seed: int = 100) -> np.ndarray:
    """Sparse blurred particles on a zero background, in [0, 100]."""
    length = max(shape)  # particles about 6 px across, as the sparse set's at 256 px
    blobs = binary_blobs(length, blob_size_fraction=6 / length, volume_fraction=0.04, rng=seed)
    image = ndimage.gaussian_filter(blobs[: shape[0], : shape[1]].astype(float), 1.0)
    return 100.0 * image / image.max()


def test_lattice_level_is_the_power_mean_of_each_lattices_level():
    points = _lines((96, 128), 8, 2)
    values = _particles((96, 128))[points[:, 0], points[:, 1]]
    for power in (1.0, 2.0):
        per_lattice = [
            flat_surprise_level(
                points[points[:, 1] % 8 == o], values[points[:, 1] % 8 == o], 10, 1.0, power
            )
            for o in range(8)
        ]
        expected = 0.5 * np.mean(np.power(per_lattice, power)) ** (1 / power)
        assert expected > 0
        level = line_lattice_level(
            points, values, spacing=8, axis=0, origin=2, scale=0.5, power=power
        )
        assert level == pytest.approx(expected, rel=1e-12)


def test_lattice_level_sees_what_the_lines_own_neighbours_hide():
    points = _lines((96, 128), 8, 2)
    values = _particles((96, 128))[points[:, 0], points[:, 1]]
    # along a line the 10 nearest readings are within 5 px: no flat context hides much
    along_line = flat_surprise_level(points, values, 10, 1.0)
    across = line_lattice_level(points, values, spacing=8, axis=0, origin=2, scale=1.0)
    assert across > 10 * along_line


def test_lattice_level_transposes_and_ignores_pixels_off_the_lines():
    image = _particles((96, 128))
    points = _lines((96, 128), 8, 2)
    values = image[points[:, 0], points[:, 1]]
    level = line_lattice_level(points, values, spacing=8, axis=0, origin=2)
    assert level > 0
    assert line_lattice_level(points[:, ::-1], values, spacing=8, axis=1, origin=2) == level
    extra = np.array([[5, c] for c in range(128)])  # a row between the lines
    more = np.concatenate([points, extra])
    more_values = np.concatenate([values, np.full(128, 50.0)])
    assert line_lattice_level(more, more_values, spacing=8, axis=0, origin=2) == level
    flat = np.full(len(points), 30.0)
    assert line_lattice_level(points, flat, spacing=8, axis=0, origin=2) == pytest.approx(
        0, abs=1e-12
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spacing": 0, "axis": 0}, "spacing must be an integer >= 1, got 0"),
        ({"spacing": 2.5, "axis": 0}, "spacing must be an integer >= 1, got 2.5"),
        ({"spacing": 8, "axis": 2}, "axis must be 0 .rows. or 1 .columns., got 2"),
    ],
)
def test_lattice_level_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        line_lattice_level(_lines((16, 16), 8, 2), np.zeros(32), **kwargs)


def _scan(truth: np.ndarray, **kwargs) -> FlySampler:
    fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3, seed=0, **kwargs)
    detector = SimulatedDetector(truth)
    fly_replay(fs, detector, max_decisions=25)
    assert_honest_scan(fs, detector, fs.motion)
    return fs


def test_fly_sampler_measures_the_level_on_its_coarse_lines():
    truth = _particles((96, 128))
    fs = _scan(truth, erd_floor="auto")
    inner = fs._sampler
    assert fs.get_params()["erd_floor"] == "auto"
    assert FlySampler(truth.shape, motion=MOTION).get_params()["erd_floor"] == "auto"  # 10 ms
    assert fs.get_params()["floor_scale"] == FLY_FLOOR_SCALE
    # the coarse raster (every 8th row from row 2) is what the composed sampler activated on
    coarse = _lines(truth.shape, fs.initial_spacing, 2)
    values = truth[coarse[:, 0], coarse[:, 1]]
    expected = line_lattice_level(
        coarse, values, spacing=fs.initial_spacing, axis=0, origin=2, scale=FLY_FLOOR_SCALE
    )
    assert expected > 0.1  # sparse particles: the lattices' flat contexts hide them
    # measured at activation, before the coarse raster's last readings were in
    assert inner._floor_level == pytest.approx(expected, rel=0.3)
    assert inner._floor_level > 0.1
    off = _scan(truth, erd_floor=0.0)
    assert not np.array_equal(off.measured_mask, fs.measured_mask)
    twice = _scan(truth, erd_floor="auto", floor_scale=2 * FLY_FLOOR_SCALE)
    assert twice._sampler._floor_level == pytest.approx(2 * inner._floor_level, rel=1e-12)


def test_fly_sampler_on_columns_splits_its_lattices_along_the_columns():
    truth = np.ascontiguousarray(_particles((96, 128)).T)  # portrait: coarse columns
    fs = FlySampler(truth.shape, motion=MOTION, erd_floor="auto")
    assert fs._line_axis == "columns"
    measure, seen = fs._sampler._floor_measure, []

    def spy(points, values, k, **kwargs):
        seen.append((points.copy(), values.copy(), measure(points, values, k, **kwargs)))
        return seen[-1][2]

    fs._sampler._floor_measure = spy
    detector = SimulatedDetector(truth)
    while not fs._sampler._active:  # the coarse raster, one line per decision
        fly_replay(fs, detector, max_decisions=1)
    assert_honest_scan(fs, detector, fs.motion)
    assert len(seen) == 1  # measured once, at activation
    points, values, level = seen[0]
    assert set(np.unique(points[:, 1] % fs.initial_spacing)) == {2}  # on the coarse columns
    assert len(points) >= 0.9 * fs.measured_mask.sum()
    expected = line_lattice_level(
        points, values, spacing=8, axis=1, origin=2, scale=FLY_FLOOR_SCALE
    )
    assert level == expected > 0.1
    assert fs._sampler._floor_level == level
    # the transposed points as rows give the same lattices (up to neighbour ties)
    as_rows = line_lattice_level(
        points[:, ::-1], values, spacing=8, axis=0, origin=2, scale=FLY_FLOOR_SCALE
    )
    assert as_rows == pytest.approx(level, rel=0.2)


def test_fly_sampler_level_zero_scans_as_without_the_floor():
    truth = brick()[:96, :128].astype(float) / 2.55  # texture: no flat context anywhere
    auto = _scan(truth, erd_floor="auto")
    assert auto._sampler._floor_level == 0.0
    off = _scan(truth, erd_floor=0.0)
    np.testing.assert_array_equal(auto.measured_points, off.measured_points)
    assert auto.beam_time == off.beam_time


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_fly_sampler_bad_floor_scale_is_named(bad):
    with pytest.raises(ValueError, match=f"floor_scale must be a finite number >= 0, got {bad}"):
        FlySampler((32, 32), erd_floor="auto", floor_scale=bad)


@pytest.mark.parametrize("bad", ["Auto", "on", ""])
def test_fly_sampler_bad_floor_name_is_named(bad):
    with pytest.raises(ValueError, match="erd_floor must be a finite number >= 0 or 'auto'"):
        FlySampler((32, 32), erd_floor=bad)


def _trace_map(shape: tuple[int, int], seed: int = 100) -> np.ndarray:
    """A few small bright spots on a zero background (an XRF trace map), in [0, 100]."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape)
    rows, cols = (rng.integers(4, n - 4, 4) for n in shape)
    image[rows, cols] = 1.0
    image = ndimage.gaussian_filter(image, 1.0)
    return 100.0 * image / image.max()


def test_flat_share_counts_the_lattice_points_in_flat_context():
    points = _lines((96, 128), 8, 2)
    trace = _trace_map((96, 128))[points[:, 0], points[:, 1]]
    blobs = _particles((96, 128))[points[:, 0], points[:, 1]]
    flat = line_lattice_flat_share(points, trace, spacing=8, axis=0, origin=2)
    busy = line_lattice_flat_share(points, blobs, spacing=8, axis=0, origin=2)
    assert 0.8 < flat < 1.0
    assert 0.0 < busy < 0.5
    # by brute force on one lattice: the 10 nearest other points agree within FLAT_RANGE;
    # with distance ties at the 10th the count lies between taking all tied points and none
    lattice = points[:, 1] % 8 == 3
    p, v = points[lattice], trace[lattice]
    all_tied = none_tied = 0
    for i in range(len(p)):
        d = np.hypot(*(p - p[i]).T)
        d[i] = np.inf
        tenth = np.sort(d)[9]
        all_tied += np.ptp(v[d <= tenth]) < FLAT_RANGE
        none_tied += np.ptp(v[d < tenth]) < FLAT_RANGE
    share = line_lattice_flat_share(p, v, spacing=8, axis=0, origin=2)
    assert all_tied / len(p) <= share <= none_tied / len(p)
    assert all_tied > 0.8 * len(p)


def _activate(fs: FlySampler, truth: np.ndarray) -> None:
    detector = SimulatedDetector(truth)
    while not fs._sampler._active:  # the coarse raster, one line per decision
        fly_replay(fs, detector, max_decisions=1)
    assert_honest_scan(fs, detector, fs.motion)


def _segment_lengths(fs: FlySampler, truth: np.ndarray, decisions: int = 30) -> list[int]:
    """Scan ``decisions`` decisions; the lengths of the segments after the coarse raster."""
    detector, lengths = SimulatedDetector(truth), []
    for _ in range(decisions):
        segments = fs.suggest_segments()
        if fs._sampler.initial_complete:
            lengths += [s.n_pixels for s in segments]
        for segment in segments:
            fs.ingest(segment.pixels(), detector.measure(segment.pixels()))
    assert_honest_scan(fs, detector, fs.motion)
    return lengths


def test_flat_scene_frees_partial_segments_on_flat_scenes_only():
    trace, blobs = _trace_map((96, 128)), _particles((96, 128))
    plain = line_costs(MOTION)
    for truth, switched in ((trace, True), (blobs, False)):
        fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3, flat_scene=0.75)
        biased = FlySampler(truth.shape, motion=MOTION, flat_scene=0.75, flat_scene_line_bias=0.5)
        _activate(biased, truth)
        fixed, pixel_time = plain
        expected = tuple(f + 0.5 * n * t for f, n, t in zip(fixed, truth.shape[::-1], pixel_time))
        assert (biased._planner_costs == (expected, pixel_time)) == switched
        off = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3)
        lengths, off_lengths = _segment_lengths(fs, truth), _segment_lengths(off, truth)
        assert (fs._flat_scene_share >= 0.75) == switched
        assert (fs._planner_costs == plain) == switched
        assert fs._level_floor == (0.0 if switched else fs.floor)
        assert fs.get_params()["flat_scene"] == 0.75
        assert off._flat_scene_share is None
        assert off._planner_costs != plain
        if switched:  # partial segments cost nothing extra: shorter ones are flown
            assert np.mean(lengths) < 0.8 * np.mean(off_lengths)
        else:  # the same scan as without flat_scene
            assert lengths == off_lengths
            np.testing.assert_array_equal(fs.measured_points, off.measured_points)


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, float("nan"), "0.8", True])
def test_fly_sampler_bad_flat_scene_is_named(bad):
    with pytest.raises(ValueError, match=r"flat_scene must be a number in \(0, 1\] or None"):
        FlySampler((32, 32), flat_scene=bad)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_fly_sampler_bad_flat_scene_line_bias_is_named(bad):
    with pytest.raises(
        ValueError, match=f"flat_scene_line_bias must be a finite number >= 0, got {bad}"
    ):
        FlySampler((32, 32), flat_scene=0.8, flat_scene_line_bias=bad)


def test_floor_scan_is_bit_identical_to_rebuilding_the_levels():
    truth = _particles((72, 88))
    runs = []
    for incremental in (True, False):
        fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3, erd_floor="auto")
        fs._incremental_levels = incremental  # False: the level map rebuilt every decision
        detector = SimulatedDetector(truth)
        fly_replay(fs, detector, max_decisions=40)
        assert_honest_scan(fs, detector, fs.motion)
        runs.append(fs)
    assert runs[0]._sampler._floor_level > 0.1
    assert runs[0].coverage > 0.25
    np.testing.assert_array_equal(runs[0].measured_points, runs[1].measured_points)
    assert runs[0].beam_time == runs[1].beam_time
    np.testing.assert_array_equal(runs[0].erd, runs[1].erd)


def test_multichannel_rescale_after_activation_is_a_full_update():
    # a (C,) intensity range replaced by a rescale once made `full` an ambiguous array
    # comparison (a crash in ingest); seen first with the floor's route on an XRF map
    base = _particles((48, 64))
    truth = np.stack([base, 0.5 * base], axis=-1)
    truth[31:34, 20:40, 1] += 400.0  # off the coarse rows (2, 6, ...): found after activation
    fs = FlySampler((48, 64), motion=MOTION, max_coverage=0.5, channels=2, erd_floor=0.0)
    builds = []
    build = fs._build_levels
    fs._build_levels = lambda: (builds.append(fs.coverage), build())[1]
    asked = np.zeros((48, 64), bool)
    activation_range = None
    for _ in range(80):
        segments = fs.suggest_segments()
        if not segments:
            break
        for segment in segments:
            points = segment.pixels()
            asked[points[:, 0], points[:, 1]] = True
            fs.ingest(points, truth[points[:, 0], points[:, 1]])
        if activation_range is None and fs._sampler._active:
            activation_range = fs._sampler._ref_range.copy()
    assert fs._sampler._ref_range[1] > 2 * activation_range[1]  # rescaled
    assert len(builds) >= 2  # the level map rebuilt at activation and at the rescale
    assert_honest_scan(fs, SimpleNamespace(asked_mask=asked), fs.motion)


@pytest.mark.parametrize(("dwell", "floor"), [(0.001, 0.0), (0.01, "auto"), (0.1, "auto")])
def test_fast_fly_and_fast_auto_fly_with_the_dwell_gated_floor(dwell, floor):
    from fastscan.fly.auto import AutoSampler
    from fastscan.fly.sampler import fast_fly_sampler

    motion = NANOPROBE.replace(dwell=dwell)
    assert (default_sweep((64, 256), motion) == 0) == (floor == "auto")
    settings = SimpleNamespace(motion=motion, max_coverage=0.3, seed=0, model=None)
    assert fast_fly_sampler((64, 256), settings).get_params()["erd_floor"] == floor
    assert FlySampler((64, 256), motion=motion).get_params()["erd_floor"] == floor
    if dwell < 0.1:  # 1 and 10 ms: fast-auto flies from the start
        auto = AutoSampler((64, 256), motion=motion, max_coverage=0.3)
        assert auto.flying
        assert auto._fly.get_params()["erd_floor"] == floor


def test_default_floor_follows_the_sweep_and_yields_to_explicit_values():
    assert default_erd_floor(0) == "auto" and default_erd_floor(16) == 0.0
    ten_ms, one_ms = NANOPROBE.replace(dwell=0.01), NANOPROBE.replace(dwell=0.001)
    # the gate reads the sweep the sampler flies, given or not
    assert FlySampler((64, 256), motion=ten_ms, sweep=16).get_params()["erd_floor"] == 0.0
    assert FlySampler((64, 256), motion=one_ms, sweep=0).get_params()["erd_floor"] == "auto"
    # explicit values keep their meaning at every dwell
    assert FlySampler((64, 256), motion=one_ms, erd_floor="auto").get_params()["erd_floor"] == (
        "auto"
    )
    assert FlySampler((64, 256), motion=ten_ms, erd_floor=0.0).get_params()["erd_floor"] == 0.0
    assert FlySampler((64, 256), motion=ten_ms, erd_floor=0.3).get_params()["erd_floor"] == 0.3
    assert FlySampler((64, 256), motion=ten_ms).get_params()["erd_floor"] == "auto"


@pytest.mark.parametrize("bad", [-1, 2.5, "16", None])
def test_default_floor_bad_sweep_is_named(bad):
    with pytest.raises(ValueError, match=f"sweep must be an integer >= 0, got {bad!r}"):
        default_erd_floor(bad)


def test_default_scans_are_the_gated_floors_scans():
    truth = _particles((64, 256))

    def scan(dwell: float, **kwargs) -> FlySampler:
        fs = FlySampler(truth.shape, motion=NANOPROBE.replace(dwell=dwell), max_coverage=0.3,
                        seed=0, **kwargs)  # fmt: skip
        detector = SimulatedDetector(truth)
        fly_replay(fs, detector, max_decisions=12)
        assert_honest_scan(fs, detector, fs.motion)
        return fs

    # 1 ms (sweeps on): exactly the scan without the floor
    default, off = scan(0.001), scan(0.001, erd_floor=0.0)
    np.testing.assert_array_equal(default.measured_points, off.measured_points)
    assert default.beam_time == off.beam_time
    # 10 ms: exactly the auto floor's scan, which differs from the scan without it here
    default, auto, off = scan(0.01), scan(0.01, erd_floor="auto"), scan(0.01, erd_floor=0.0)
    assert default._sampler._floor_level > 0
    np.testing.assert_array_equal(default.measured_points, auto.measured_points)
    assert default.beam_time == auto.beam_time
    assert not np.array_equal(default.measured_points, off.measured_points)
