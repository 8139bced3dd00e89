"""The Bluesky-level simulated devices keep a record of the pixels they revealed.

``SimDetector``, ``SimXRFDetector`` and ``SimFlyer`` (``fastscan.sim``) each have an
``asked_mask`` like the in-process :class:`fastscan.replay.SimulatedDetector`: True at
every pixel whose value left the device. A flyer's sample reads every pixel its
path crosses (:func:`fastscan.sim.fly_motion.path_weights`), and only once the
sample is collected. The plan tests compare these records with the sampler's
pixels (tests/honesty.py ``assert_honest_devices``); these tests check the records.
"""

from __future__ import annotations

import numpy as np
import pytest
from bluesky import RunEngine
from honesty import Stored, assert_honest_devices
from ophyd.sim import SynAxis

from fastscan import Sampler
from fastscan.fly import Segment
from fastscan.phantoms import make_phantom, make_xrf_maps
from fastscan.plans import Grid, autonomous_scan
from fastscan.sim.detector import SimDetector
from fastscan.sim.fly_motion import FlyProfile, fly_capture, path_average, path_weights
from fastscan.sim.flyer import SimFlyer
from fastscan.sim.xrf_detector import SimXRFDetector

SHAPE = (20, 30)
GRID = Grid(0.0, 29.0, 30, 0.0, 19.0, 20)  # pixel units
IMAGE = make_phantom("flakes", SHAPE, seed=2)


def _request(seg: Segment, period: float = 0.01) -> dict:
    xy = GRID.to_positions(np.array([seg.start, seg.end]))
    step = float(np.hypot(*(xy[1] - xy[0]))) / (seg.n_pixels - 1)
    return {"start": tuple(xy[0]), "end": tuple(xy[1]), "velocity": step / period,
            "period": period}  # fmt: skip


def _fly(flyer: SimFlyer, seg: Segment, *, collect: bool = True) -> list[dict]:
    flyer.prepare(_request(seg))
    flyer.kickoff().wait(1)
    flyer.complete().wait(1)
    return list(flyer.collect_pages()) if collect else []


def _mask(pixels) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    for row, col in pixels:
        mask[row, col] = True
    return mask


def test_sim_detector_records_each_pixel_it_read_and_hands_out_a_copy():
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", IMAGE, GRID, x, y)
    assert not det.asked_mask.any()
    for col, row in ((3.0, 2.0), (7.2, 11.9), (3.0, 2.0)):
        x.set(col), y.set(row)
        det.trigger().wait(1)
    np.testing.assert_array_equal(det.asked_mask, _mask([(2, 3), (12, 7)]))
    det.asked_mask[:] = True  # a copy: the record is the detector's
    assert det.asked_mask.sum() == 2


def test_sim_detector_with_a_dwell_records_the_pixel_when_it_reads():
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", IMAGE, GRID, x, y, dwell=0.05)
    x.set(4.0), y.set(5.0)
    status = det.trigger()
    status.wait(2)
    np.testing.assert_array_equal(det.asked_mask, _mask([(5, 4)]))


def test_sim_xrf_detector_records_each_pixel_it_read():
    maps, names = make_xrf_maps(SHAPE, seed=0)
    x, y = SynAxis(name="x"), SynAxis(name="y")
    xrf = SimXRFDetector("xrf", maps, GRID, x, y, elements=names)
    x.set(29.0), y.set(0.0)
    xrf.trigger().wait(1)
    np.testing.assert_array_equal(xrf.asked_mask, _mask([(0, 29)]))


@pytest.mark.parametrize("seg", [Segment((4, 0), (4, 29)), Segment((19, 6), (0, 6))])
def test_sim_flyer_reveals_a_row_or_column_flown_at_one_pixel_per_sample(seg):
    flyer = SimFlyer("fl", IMAGE, GRID)
    (page,) = _fly(flyer, seg)
    assert len(page["data"]["fl_value"]) == seg.n_pixels
    np.testing.assert_array_equal(flyer.asked_mask, _mask(seg.pixels()))


def test_sim_flyer_reveals_a_flight_when_it_is_collected_and_not_after_a_pause():
    flyer = SimFlyer("fl", IMAGE, GRID)
    _fly(flyer, Segment((1, 0), (1, 29)), collect=False)
    assert not flyer.asked_mask.any()  # landed, not yet collected
    flyer.pause()  # the RunEngine drops it and flies it again
    assert list(flyer.collect_pages()) == [] and not flyer.asked_mask.any()
    _fly(flyer, Segment((2, 0), (2, 29)))
    np.testing.assert_array_equal(flyer.asked_mask, _mask(Segment((2, 0), (2, 29)).pixels()))


def test_a_diagonal_flight_reveals_every_pixel_its_samples_cross():
    seg = Segment((0, 0), (10, 20))  # two columns per row: samples straddle rows
    flyer = SimFlyer("fl", IMAGE, GRID)
    _fly(flyer, seg)
    asked = flyer.asked_mask
    assert asked[tuple(seg.pixels().T)].all()
    assert asked.sum() > seg.n_pixels  # the paths cross pixels off the nominal ones
    profile = FlyProfile(**_request(seg))
    half = 0.5 * profile.spacing * np.array(profile.direction)
    crossed = set()
    for xy in profile.sample_positions():
        crossed |= set(path_weights(SHAPE, GRID, tuple(xy - half), tuple(xy + half)))
    np.testing.assert_array_equal(asked, _mask(crossed))


def test_fly_capture_lists_each_samples_pixels_and_its_values_are_unchanged():
    seg = Segment((0, 0), (10, 20))
    profile = FlyProfile(**_request(seg))
    capture = fly_capture(IMAGE, GRID, profile)
    assert len(capture.pixels) == capture.n_samples
    half = 0.5 * profile.spacing * np.array(profile.direction)
    for xy, pixels, value in zip(profile.sample_positions(), capture.pixels, capture.values):
        a, b = tuple(xy - half), tuple(xy + half)
        assert value == path_average(IMAGE, GRID, a, b)
        assert [tuple(p) for p in pixels.tolist()] == list(path_weights(SHAPE, GRID, a, b))
    assert capture.revealed(2).shape == (sum(len(p) for p in capture.pixels[:2]), 2)
    assert capture.revealed(0).shape == (0, 2)


def test_path_weights_split_a_path_by_the_length_in_each_pixel():
    # from the middle of pixel (0, 0) to the middle of (0, 2): a half, a whole, a half pixel
    weights = path_weights(SHAPE, GRID, (0.0, 0.0), (2.0, 0.0))
    assert list(weights) == [(0, 0), (0, 1), (0, 2)]
    np.testing.assert_allclose(list(weights.values()), [0.25, 0.5, 0.25])
    assert path_weights(SHAPE, GRID, (3.1, 4.2), (3.3, 4.1)) == {(4, 3): 1.0}


def test_a_reading_the_sampler_never_got_fails_the_run_check(catalog, writer):
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", IMAGE, GRID, x, y)
    sampler = Sampler(SHAPE, batch_size=10, max_coverage=0.05, seed=0)
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    assert_honest_devices(sampler, det)
    row, col = np.argwhere(~sampler.measured_mask)[0]
    x.set(float(col)), y.set(float(row))
    det.trigger().wait(1)  # a peek behind the sampler's back
    peeked = rf"the detector read 1 pixel\(s\), first \(row, col\): \[\({row}, {col}\)\]"
    with pytest.raises(AssertionError, match=rf"^dishonest run: {peeked} the sampler did not"):
        assert_honest_devices(sampler, det)
    held = Stored(np.argwhere(det.asked_mask), SHAPE)
    assert_honest_devices(held, det)
    with pytest.raises(ValueError, match="at least one device"):
        assert_honest_devices(held)
