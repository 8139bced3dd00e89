"""LiveWindow of a multichannel (XRF) step run, headless (Agg): which channels it shows.

Before, it showed the first channel only. Now: every channel as its own panel up to
MAX_PANELS (4), else the first and a log line saying how to choose; ``channel=`` (a
signal key, a part of one, an index, or a list) chooses, also between and during runs
(``window.channel = ...``), with a "did you mean" for a name the run does not have.
"""

from __future__ import annotations

import doctest
import logging

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky_rig import GRID, SHAPE, point_rig
from ophyd.sim import SynAxis

from fastscan.phantoms import make_xrf_maps
from fastscan.plans import autonomous_scan
from fastscan.plans.callbacks import _RunTracker
from fastscan.plans.live import LiveWindow
from fastscan.plans.live_channels import resolve_channels
from fastscan.sim.detector import SimDetector

ELEMENTS = ("Fe", "Ca", "Ti", "Cu", "Au")  # make_xrf_maps' channels


class Snapshots(_RunTracker):
    """The last reconstruction snapshot of a run (read from its HDF5 asset)."""

    def on_reconstruction(self, doc) -> None:
        self.last = np.asarray(doc["data"]["fastscan_reconstruction"], float)


def _run(window: LiveWindow, elements: tuple[str, ...]) -> tuple[np.ndarray, str]:
    """An XRF step scan of ``elements`` watched by ``window``: (last snapshot, exit status)."""
    maps, names = make_xrf_maps(SHAPE, seed=41)
    assert tuple(names) == ELEMENTS
    x, y = SynAxis(name="x"), SynAxis(name="y")
    rois = [SimDetector(e, maps[names.index(e)], GRID, x, y) for e in elements]
    snapshots = Snapshots()
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(snapshots)
    RE.subscribe(window)
    result = RE(autonomous_scan(rois, x, y, grid=GRID, signal=[f"{e}_value" for e in elements],
                                max_coverage=0.03, recon_every=2,
                                sampler_kwargs={"batch_size": 10, "seed": 0}))  # fmt: skip
    window.refresh(force=True)
    return snapshots.last, result.exit_status


def _shown(window: LiveWindow) -> list[np.ndarray]:
    return [np.asarray(im.get_array()) for im in window._im_channels]


@pytest.fixture
def window(tmp_path):
    made = []

    def make(**kwargs) -> LiveWindow:
        made.append(LiveWindow(directory=tmp_path, **kwargs))
        return made[-1]

    yield make
    for w in made:
        w.close()


def test_two_channels_are_two_panels(window, tmp_path) -> None:
    w = window()
    recon, status = _run(w, ("Fe", "Cu"))
    assert status == "success" and recon.shape == (2, *SHAPE)
    assert w.channels == ("Fe_value", "Cu_value")
    assert [ax.get_title() for ax in w.ax_channels] == ["Fe_value (1 of 2)", "Cu_value (2 of 2)"]
    fe, cu = _shown(w)
    np.testing.assert_array_equal(fe, recon[0])
    np.testing.assert_array_equal(cu, recon[1])
    assert not np.allclose(fe, cu)  # two maps, not one twice
    assert w.ax_recon is w.ax_channels[0]
    assert w.ax_points.get_title().startswith(f"{len(w.rows)} points")
    assert (tmp_path / "live.png").stat().st_size > 5000


def test_a_channel_chosen_by_name_then_changed_at_the_prompt(window) -> None:
    w = window(channel="Cu")
    recon, _ = _run(w, ("Fe", "Cu"))
    assert [ax.get_title() for ax in w.ax_channels] == ["Cu_value (2 of 2)"]
    np.testing.assert_array_equal(_shown(w)[0], recon[1])
    w.channel = ["Fe_value", 1]  # a whole key and an index, in the order asked
    w.refresh(force=True)
    assert [ax.get_title() for ax in w.ax_channels] == ["Fe_value (1 of 2)", "Cu_value (2 of 2)"]
    np.testing.assert_array_equal(_shown(w)[0], recon[0])
    with pytest.raises(ValueError) as refused:
        w.channel = "cu"
    assert str(refused.value) == (
        "no channel 'cu' in this run (did you mean 'Cu'?); its channels: 0 'Fe_value', 1 'Cu_value'"
    )
    with pytest.raises(ValueError, match="channel index 2 is out of range: this run has 2"):
        w.channel = 2
    assert w.channel == ("Fe_value", 1)  # a refused choice changes nothing
    w.refresh(force=True)
    assert len(w.ax_channels) == 2


def test_five_channels_show_the_first_and_say_how_to_choose(window, caplog) -> None:
    w = window()
    with caplog.at_level(logging.WARNING, logger="fastscan.plans"):
        recon, status = _run(w, ELEMENTS)
    assert status == "success" and recon.shape == (5, *SHAPE)
    assert [ax.get_title() for ax in w.ax_channels] == ["Fe_value (1 of 5)"]
    np.testing.assert_array_equal(_shown(w)[0], recon[0])
    told = [r.getMessage() for r in caplog.records if "LiveWindow" in r.getMessage()]
    assert told == [
        "LiveWindow: this run has 5 channels (Fe_value, Ca_value, Ti_value, Cu_value, Au_value); "
        "showing the first, 'Fe_value'. Choose with LiveWindow(channel=...) or window.channel = "
        "[...] (a name, a part of it such as 'Au', or an index; one panel each)"
    ]
    w.channel = ["Au", "Ti", "Ca", "Cu", "Fe"]  # as many as asked for
    w.refresh(force=True)
    assert [ax.get_title()[:2] for ax in w.ax_channels] == ["Au", "Ti", "Ca", "Cu", "Fe"]
    for image, c in zip(_shown(w), (4, 2, 1, 3, 0)):
        np.testing.assert_array_equal(image, recon[c])


def test_an_unknown_name_is_logged_and_the_scan_runs_on(window, caplog) -> None:
    w = window(channel="Zn")
    with caplog.at_level(logging.WARNING, logger="fastscan.plans"):
        _, status = _run(w, ("Fe", "Cu"))
    assert status == "success"  # a live view never stops the scan
    assert [r.getMessage() for r in caplog.records if "LiveWindow" in r.getMessage()] == [
        "LiveWindow: no channel 'Zn' in this run; its channels: 0 'Fe_value', 1 'Cu_value'; "
        "showing 'Fe_value', 'Cu_value'"
    ]
    assert len(w.ax_channels) == 2


def test_a_single_channel_run_keeps_its_four_panels(window) -> None:
    w = window(channel="Cu")  # a choice the run cannot meet: its one channel is shown
    det, x, y = point_rig()
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(w)
    RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", max_coverage=0.02))
    w.refresh(force=True)
    assert w.channels == ("det_value",)
    assert [ax.get_title() for ax in w.ax_channels] == ["reconstruction"]
    assert len(w.figure.axes) == 4
    assert np.shape(_shown(w)[0]) == SHAPE


@pytest.mark.parametrize(
    ("channel", "error"),
    [(1.5, TypeError), ([], TypeError), (["Fe", None], TypeError), (True, TypeError),
     (-1, ValueError)],
)  # fmt: skip
def test_a_bad_choice_is_refused_when_the_window_is_made(channel, error) -> None:
    with pytest.raises(error, match="channel"):
        LiveWindow(channel=channel)


def test_resolve_channels_parts_and_ambiguity() -> None:
    labels = ["xrf_Cu_K", "xrf_Cu_L", "xrf_Fe_K"]
    assert resolve_channels("Fe", labels) == [2]
    assert resolve_channels(["xrf_Cu_L", 0, "xrf_Cu_L"], labels) == [1, 0]  # once each
    with pytest.raises(ValueError) as refused:
        resolve_channels("Cu", labels)
    assert str(refused.value) == (
        "channel 'Cu' is ambiguous in this run: it names 'xrf_Cu_K', 'xrf_Cu_L'; "
        "give the whole name or the index"
    )
    assert resolve_channels(None, [f"c{i}" for i in range(4)]) == [0, 1, 2, 3]
    assert resolve_channels(None, [f"c{i}" for i in range(5)]) == [0]


def test_live_channels_examples_run() -> None:
    from docstring_examples import assert_examples_pass

    assert_examples_pass("fastscan.plans.live_channels", doctest.ELLIPSIS)
