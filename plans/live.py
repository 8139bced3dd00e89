"""``LiveWindow``: a matplotlib window that follows an autonomous scan from its documents.

Four panels: the reconstruction, the ERD map, the measured points with the
route of the current batch, and coverage and stop-rule progress over time.

The document callback only copies numbers under a lock (microseconds); drawing
happens in the GUI thread, at most ``max_rate`` times per second, from a
matplotlib timer. The RunEngine runs plans on its own thread while ``RE(...)``
blocks the main thread, so the GUI event loop must be pumped while it waits:
bluesky's default ``during_task`` does that for Qt; for Tk (or any backend) pass
``RunEngine(during_task=window.during_task())``. With a non-interactive
backend (Agg) every refresh writes ``live.png`` into ``directory`` instead.

Examples
--------
>>> import matplotlib.pyplot as plt  # doctest: +SKIP
>>> window = LiveWindow()  # doctest: +SKIP
>>> RE = RunEngine({}, during_task=window.during_task())  # doctest: +SKIP
>>> RE.subscribe(window)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from bluesky.utils import DuringTask

from fastscan.plans.callbacks import _RunTracker

__all__ = ["LiveWindow"]

POINT_COLOR = "#ff0000"  # pure red: measured points (tests look for it in screenshots)
ROUTE_COLOR = "#0000ff"


class LiveWindow(_RunTracker):
    """Live figure of an autonomous scan, updated from its documents.

    Parameters
    ----------
    max_rate : float
        At most this many redraws per second (> 0).
    max_load : float
        At most this fraction of wall time is spent drawing (0 < max_load <= 1):
        after a redraw that took ``d`` seconds the next waits at least
        ``d / max_load``, so a slow figure on a busy machine draws less often
        instead of taking CPU (and the GIL) from the scan.
    directory : path, optional
        With a non-interactive backend, where ``live.png`` is written.
    figsize : (float, float)
        Figure size in inches.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    n_draws : int
        Redraws so far; ``draw_seconds`` their total time in the GUI thread.
    """

    def __init__(
        self,
        max_rate: float = 4.0,
        directory: str | Path | None = None,
        figsize: tuple[float, float] = (9.0, 7.0),
        max_load: float = 0.1,
    ) -> None:
        super().__init__()
        if not (np.isfinite(max_rate) and max_rate > 0):
            raise ValueError(f"max_rate must be a positive number of redraws/s, got {max_rate!r}")
        if not 0.0 < max_load <= 1.0:
            raise ValueError(f"max_load must be in (0, 1], got {max_load!r}")
        import matplotlib.pyplot as plt

        self.max_rate = float(max_rate)
        self.max_load = float(max_load)
        self._gap = 1.0 / self.max_rate
        self.directory = None if directory is None else Path(directory)
        self._lock = threading.Lock()
        self._dirty = False
        self._last_draw = 0.0
        self.n_draws = 0
        self.draw_seconds = 0.0
        self._recon: np.ndarray | None = None
        self._erd: np.ndarray | None = None
        self._batch_rows: list[int] = []
        self._batch_cols: list[int] = []
        self._batch = -1
        self._history: list[tuple[float, float]] = []  # (seconds since start, coverage)
        self._t0 = time.time()
        self._max_coverage: float | None = None
        self._status = ""
        self.figure = plt.figure(figsize=figsize)
        self._build()
        self.interactive = self.figure.canvas.manager is not None and (
            type(self.figure.canvas).__name__ != "FigureCanvasAgg"
        )
        self._timer = self.figure.canvas.new_timer(interval=int(1000 / self.max_rate))
        self._timer.add_callback(self.refresh)
        self._timer.start()

    # ------------------------------------------------------------------ documents (any thread)
    def on_start(self, doc: dict[str, Any]) -> None:
        params = (doc.get("fastscan") or {}).get("sampler_params") or {}
        with self._lock:
            self._t0 = float(doc.get("time", time.time()))
            self._history = []
            self._recon = self._erd = None
            self._batch_rows, self._batch_cols, self._batch = [], [], -1
            self._max_coverage = params.get("max_coverage")
            self._status = "running"
            self._dirty = True

    def on_point(self, doc: dict[str, Any]) -> None:
        data = doc["data"]
        batch = int(data.get("fastscan_batch", -1))
        with self._lock:
            if batch != self._batch:
                self._batch, self._batch_rows, self._batch_cols = batch, [], []
            self._batch_rows.append(self.rows[-1])
            self._batch_cols.append(self.cols[-1])
            shape = self.shape
            if shape:
                cov = len(set(zip(self.rows, self.cols))) / (shape[0] * shape[1])
                self._history.append((float(doc["time"]) - self._t0, cov))
            self._dirty = True

    def on_reconstruction(self, doc: dict[str, Any]) -> None:
        data = doc["data"]
        with self._lock:
            if "fastscan_reconstruction" in data:
                self._recon = np.asarray(data["fastscan_reconstruction"], float)
            if "fastscan_erd" in data:
                self._erd = np.asarray(data["fastscan_erd"], float)
            self._dirty = True

    def on_stop(self, doc: dict[str, Any]) -> None:
        with self._lock:
            self._status = f"run {doc.get('exit_status')}"
            self._dirty = True

    # ------------------------------------------------------------------ GUI thread
    def refresh(self, force: bool = False) -> bool:
        """Redraw if something changed and the rate allows (GUI thread); True if drawn."""
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_draw < self._gap):
            return False
        t0 = time.perf_counter()
        with self._lock:
            self._dirty = False
            recon, erd = self._recon, self._erd
            rows, cols = list(self.rows), list(self.cols)
            route = (list(self._batch_cols), list(self._batch_rows))
            history = list(self._history)
            status = self._status
        self._update_artists(recon, erd, rows, cols, route, history, status)
        if self.interactive:
            self.figure.canvas.draw_idle()
            self.figure.canvas.flush_events()
        else:
            self.figure.canvas.draw()
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self.figure.savefig(self.directory / "live.png")
        self._last_draw = time.monotonic()
        took = time.perf_counter() - t0
        self._gap = max(1.0 / self.max_rate, took / self.max_load)
        self.n_draws += 1
        self.draw_seconds += took
        return True

    def during_task(self) -> Any:
        """A bluesky ``during_task`` that keeps this window live while ``RE(...)`` blocks."""
        return _PumpEvents(self)

    def close(self) -> None:
        import matplotlib.pyplot as plt

        self._timer.stop()
        plt.close(self.figure)

    # ------------------------------------------------------------------ drawing
    def _build(self) -> None:
        fig = self.figure
        (self.ax_recon, self.ax_erd), (self.ax_points, self.ax_progress) = fig.subplots(2, 2)
        blank = np.zeros((2, 2))
        self._im_recon = self.ax_recon.imshow(blank, cmap="gray", interpolation="nearest")
        self._im_erd = self.ax_erd.imshow(blank, cmap="viridis", interpolation="nearest")
        self._scatter = self.ax_points.scatter([], [], s=6, marker="s", c=POINT_COLOR,
                                               linewidths=0)  # fmt: skip
        (self._route,) = self.ax_points.plot([], [], "-", color=ROUTE_COLOR, lw=1)
        self.ax_points.invert_yaxis()
        (self._cov_line,) = self.ax_progress.plot([], [], label="coverage (%)")
        (self._stop_line,) = self.ax_progress.plot([], [], label="of the coverage cap (%)")
        self.ax_progress.set_xlabel("time (s)")
        self.ax_progress.legend(loc="upper left", fontsize="small")
        for ax in (self.ax_recon, self.ax_erd, self.ax_points):
            ax.set_xlabel("col (x)")
            ax.set_ylabel("row (y)")
        self.ax_recon.set_title("reconstruction")
        self.ax_erd.set_title("ERD")
        self.ax_points.set_title("0 points")
        fig.tight_layout()

    def _update_artists(self, recon, erd, rows, cols, route, history, status) -> None:
        shape = self.shape
        if recon is not None and recon.ndim == 3:  # C channels: the first one
            recon = recon[0]
        for im, arr in ((self._im_recon, recon), (self._im_erd, erd)):
            if arr is not None:
                im.set_data(arr)
                im.set_extent((-0.5, arr.shape[1] - 0.5, arr.shape[0] - 0.5, -0.5))
                finite = arr[np.isfinite(arr)]
                if finite.size:
                    im.set_clim(float(finite.min()), float(finite.max()) or 1.0)
        self._scatter.set_offsets(np.column_stack([cols, rows]) if rows else np.empty((0, 2)))
        self._route.set_data(*route)
        if shape:
            self.ax_points.set_xlim(-0.5, shape[1] - 0.5)
            self.ax_points.set_ylim(shape[0] - 0.5, -0.5)
        self.ax_points.set_title(f"{len(rows)} points, {status}")
        if history:
            t, cov = np.array(history).T
            self._cov_line.set_data(t, 100 * cov)
            if self._max_coverage:
                self._stop_line.set_data(t, 100 * cov / self._max_coverage)
            self.ax_progress.set_xlim(0, max(float(t[-1]), 1e-3))
            self.ax_progress.set_ylim(0, 105)


class _PumpEvents(DuringTask):
    """bluesky DuringTask: wait for the plan while refreshing the window and its GUI events."""

    def __init__(self, window: LiveWindow) -> None:
        super().__init__()
        self.window = window

    def block(self, blocking_event: threading.Event) -> None:
        period = 0.5 / self.window.max_rate
        while not blocking_event.wait(period):
            self.window.refresh()
            if self.window.interactive:
                self.window.figure.canvas.flush_events()
        self.window.refresh()
