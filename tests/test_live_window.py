"""The live window in a real X display (Xvfb, Tk backend), checked on a screenshot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import matplotlib
    matplotlib.use("TkAgg")
    import numpy as np
    from bluesky import RunEngine
    from ophyd.sim import SynAxis
    from fastscan import Sampler
    from fastscan.phantoms import make_phantom
    from fastscan.plans import Grid, autonomous_scan
    from fastscan.plans.live import LiveWindow
    from fastscan.replay import mask_problems
    from fastscan.sim.detector import SimDetector

    grid = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", make_phantom("flakes", (40, 60), seed=0), grid, x, y)
    window = LiveWindow(max_rate=5.0, figsize=(8, 6), max_load=1.0)
    window.figure.canvas.manager.show()
    RE = RunEngine({}, call_returns_result=True, during_task=window.during_task())
    stamps = []
    RE.subscribe(lambda name, doc: stamps.append(time.perf_counter()), "event")
    RE.subscribe(window)
    sampler = Sampler((40, 60), batch_size=20, max_coverage=0.1, seed=0, pixel_pitch=grid.pitch)
    t0 = time.perf_counter()
    result = RE(autonomous_scan([det], x, y, grid=grid, signal="det_value", sampler=sampler,
                                recon_every=2))
    wall = time.perf_counter() - t0
    window.refresh(force=True)
    canvas = window.figure.canvas
    for _ in range(20):
        canvas.flush_events()
        time.sleep(0.05)
    widget = canvas.get_tk_widget()
    agg = np.asarray(canvas.buffer_rgba())[:, :, :3]
    np.save(sys.argv[1], agg)
    pts = window.ax_points.get_window_extent()
    json.dump({"n_points": int(result.plan_result.n_points),
               "dishonest": mask_problems(det.asked_mask, sampler.measured_mask),
               "scatter": len(window._scatter.get_offsets()),
               "title": window.ax_points.get_title(),
               "x": widget.winfo_rootx(), "y": widget.winfo_rooty(),
               "points_bbox": [pts.x0, pts.y0, pts.x1, pts.y1], "height": agg.shape[0],
               "n_draws": window.n_draws, "draw_s": window.draw_seconds, "wall": wall,
               "dt_median_ms": float(np.median(np.diff(stamps)) * 1e3)},
              open(sys.argv[2], "w"))
    open(sys.argv[3], "w").write("ready")
    time.sleep(30)  # keep the window up until the screenshot is taken (the test ends us)
    """
)


def read_xwd(path) -> np.ndarray:
    """RGB pixels of an XWD file (the Xvfb screen with -fbdir), 24/32 bits per pixel."""
    with open(path, "rb") as fh:
        raw = fh.read()
    header = np.frombuffer(raw[:100], ">u4")
    size, width, height = int(header[0]), int(header[4]), int(header[5])
    byte_order, bpp, bpl = int(header[7]), int(header[11]), int(header[12])
    ncolors = int(header[19])
    assert bpp == 32, f"expected a 32-bit framebuffer, got {bpp}"
    data = np.frombuffer(raw, np.uint8, count=bpl * height, offset=size + 12 * ncolors)
    pixels = data.reshape(height, bpl)[:, : width * 4].reshape(height, width, 4)
    return pixels[:, :, 2::-1] if byte_order == 0 else pixels[:, :, 1:]  # BGRX -> RGB


def _free_display() -> int:
    for n in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb not installed (apt xvfb)")
def test_live_window_shows_the_measured_points(tmp_path):
    pytest.importorskip("tkinter")
    display = _free_display()
    fbdir = tmp_path / "fb"
    fbdir.mkdir()
    xvfb = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1024x768x24",
                             "-fbdir", str(fbdir), "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    proc = None
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(f"/tmp/.X11-unix/X{display}"):
            assert xvfb.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.1)
        script, agg, info, ready = (tmp_path / n for n in ("s.py", "agg.npy", "i.json", "ok"))
        script.write_text(SCRIPT)
        env = {**os.environ, "DISPLAY": f":{display}", "MPLBACKEND": "TkAgg"}
        cmd = [sys.executable, str(script), str(agg), str(info), str(ready)]
        proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        deadline = time.monotonic() + 180
        while not ready.exists():
            if proc.poll() is not None:
                pytest.fail(f"live window script failed: {proc.stderr.read()[-3000:]}")
            assert time.monotonic() < deadline, "live window script timed out"
            time.sleep(0.2)
        screen = read_xwd(fbdir / "Xvfb_screen0")
        shown = json.loads(info.read_text())
        figure = np.load(agg)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            proc.stderr.close()
        xvfb.terminate()
        xvfb.wait(10)
    assert shown["dishonest"] == []  # the detector revealed exactly the sampler's pixels
    n = shown["n_points"]
    assert n > 0 and shown["scatter"] == n and shown["title"].startswith(f"{n} points")
    assert shown["n_draws"] >= 2  # it updated during the scan, not only at the end
    # the screen really shows the figure: the window's pixels equal matplotlib's rendering
    h, w = figure.shape[:2]
    x0, y0 = shown["x"], shown["y"]
    region = screen[y0 : y0 + h, x0 : x0 + w]
    assert region.shape == figure.shape
    assert np.mean(np.all(region == figure, axis=2)) > 0.99
    # and the points panel on screen has the measured points in their colour
    bx0, by0, bx1, by1 = shown["points_bbox"]
    panel = region[h - int(by1) : h - int(by0), int(bx0) : int(bx1)]
    red = np.all(panel == [255, 0, 0], axis=2)
    assert red.sum() >= n  # each point is a marker of several pixels
    assert not np.all(region[: h // 2, : w // 2] == region[0, 0])  # the reconstruction is drawn
