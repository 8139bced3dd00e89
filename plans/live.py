"""``LiveWindow``: a matplotlib window that follows an autonomous scan from its documents.

Four panels: the reconstruction, the ERD map, the measured points with the
route of the current batch, and coverage and stop-rule progress over time. A
multichannel (XRF) run gets one reconstruction panel per channel, above the
other three, when it has at most :data:`~fastscan.plans.live_channels.MAX_PANELS`
channels; with more, the first channel only, and a log line says how to choose.
``LiveWindow(channel="Cu")`` (or ``window.channel = ["Fe", "Cu"]`` between or
during runs) shows the channels named, by signal key, a part of it, or index.

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

import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from bluesky.utils import DuringTask

from fastscan.plans.callbacks import _RunTracker
from fastscan.plans.live_channels import (
    MAX_PANELS,
    ChannelChoice,
    check_choice,
    resolve_channels,
)

__all__ = ["LiveWindow"]

logger = logging.getLogger("fastscan.plans")

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
    channel : str, int, list of them, or None
        The channels of a multichannel run to show, one reconstruction panel
        each: a signal key (``"Cu_value"``), a part of one between underscores
        (``"Cu"``), or an index. None (default): every channel if the run has at
        most :data:`~fastscan.plans.live_channels.MAX_PANELS`, else the first.
        A name the run does not have is logged (with its channels and a "did you
        mean") and the default is shown; setting :attr:`channel` while a run is
        known raises ValueError instead.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    ax_channels : list of matplotlib.axes.Axes
        The reconstruction panels, one per channel shown (``ax_recon`` is the first).
    channels : tuple of str
        The current run's channel names (its signal keys).
    n_draws : int
        Redraws so far; ``draw_seconds`` their total time in the GUI thread.
    """

    def __init__(
        self,
        max_rate: float = 4.0,
        directory: str | Path | None = None,
        figsize: tuple[float, float] = (9.0, 7.0),
        max_load: float = 0.1,
        channel: ChannelChoice = None,
    ) -> None:
        super().__init__()
        self._choice = check_choice(channel)
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
        self._labels: tuple[str, ...] = ()  # the run's channels (signal keys)
        self._shown: list[int] = [0]  # indices of the channels shown
        self._told_how_to_choose = False
        self.figure = plt.figure(figsize=figsize)
        self._built: tuple[tuple[str, ...], tuple[int, ...]] = ((), (0,))
        self._build()
        self.interactive = self.figure.canvas.manager is not None and (
            type(self.figure.canvas).__name__ != "FigureCanvasAgg"
        )
        self._timer = self.figure.canvas.new_timer(interval=int(1000 / self.max_rate))
        self._timer.add_callback(self.refresh)
        self._timer.start()

    # ------------------------------------------------------------------ channels
    @property
    def channels(self) -> tuple[str, ...]:
        """The current (or last) run's channel names, its signal keys; () before a run."""
        return self._labels

    @property
    def channel(self) -> tuple[str | int, ...] | None:
        """The channels asked for (None: the default); see the ``channel`` parameter."""
        return self._choice

    @channel.setter
    def channel(self, choice: ChannelChoice) -> None:
        items = check_choice(choice)
        with self._lock:
            if self._labels:
                self._shown = resolve_channels(items, self._labels)  # ValueError: unknown
            self._choice = items
            self._dirty = True

    def _choose(self, labels: tuple[str, ...]) -> list[int]:
        """The channels to show of a new run (document thread: logs instead of raising)."""
        try:
            shown = resolve_channels(self._choice, labels)
        except ValueError as exc:
            shown = resolve_channels(None, labels)
            logger.warning("LiveWindow: %s; showing %s", exc, _names(labels, shown))
            return shown
        if self._choice is None and len(labels) > MAX_PANELS and not self._told_how_to_choose:
            self._told_how_to_choose = True
            logger.warning(
                "LiveWindow: this run has %d channels (%s); showing the first, %r. Choose with "
                "LiveWindow(channel=...) or window.channel = [...] (a name, a part of it such "
                "as %r, or an index; one panel each)",
                len(labels), ", ".join(labels), labels[0], _short(labels[-1]),
            )  # fmt: skip
        return shown

    # ------------------------------------------------------------------ documents (any thread)
    def on_start(self, doc: dict[str, Any]) -> None:
        params = (doc.get("fastscan") or {}).get("sampler_params") or {}
        signal = (doc.get("fastscan") or {}).get("signal")
        labels = tuple(str(s) for s in signal) if isinstance(signal, list) and signal else ()
        labels = labels or (str(signal) if signal else "reconstruction",)
        shown = self._choose(labels)
        with self._lock:
            self._labels, self._shown = labels, shown
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
            # (a one-channel run keeps the layout the window was made with)
            layout = (self._labels if len(self._labels) > 1 else (), tuple(self._shown))
            recon, erd = self._recon, self._erd
            rows, cols = list(self.rows), list(self.cols)
            route = (list(self._batch_cols), list(self._batch_rows))
            history = list(self._history)
            status = self._status
        if layout != self._built:
            self.figure.clear()
            self._built = layout
            self._build()
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
        labels, shown = self._built
        # several channels: constrained layout, which sizes panels spanning columns well
        fig.set_layout_engine("constrained" if len(shown) > 1 else None)
        if len(shown) == 1:  # recon, ERD / points, progress
            (self.ax_recon, self.ax_erd), (self.ax_points, self.ax_progress) = fig.subplots(2, 2)
            self.ax_channels = [self.ax_recon]
        else:  # a row of channels above ERD, points, progress
            n = len(shown)
            spec = fig.add_gridspec(2, 3 * n)
            self.ax_channels = [fig.add_subplot(spec[0, 3 * i : 3 * i + 3]) for i in range(n)]
            self.ax_erd, self.ax_points, self.ax_progress = (
                fig.add_subplot(spec[1, n * j : n * j + n]) for j in range(3))  # fmt: skip
            self.ax_recon = self.ax_channels[0]
        blank = np.zeros((2, 2))
        self._im_channels = [ax.imshow(blank, cmap="gray", interpolation="nearest")
                             for ax in self.ax_channels]  # fmt: skip
        self._im_recon = self._im_channels[0]
        self._im_erd = self.ax_erd.imshow(blank, cmap="viridis", interpolation="nearest")
        self._scatter = self.ax_points.scatter([], [], s=6, marker="s", c=POINT_COLOR,
                                               linewidths=0)  # fmt: skip
        (self._route,) = self.ax_points.plot([], [], "-", color=ROUTE_COLOR, lw=1)
        self.ax_points.invert_yaxis()
        (self._cov_line,) = self.ax_progress.plot([], [], label="coverage (%)")
        (self._stop_line,) = self.ax_progress.plot([], [], label="of the coverage cap (%)")
        self.ax_progress.set_xlabel("time (s)")
        self.ax_progress.legend(loc="upper left", fontsize="small")
        for ax in (*self.ax_channels, self.ax_erd, self.ax_points):
            ax.set_xlabel("col (x)")
            ax.set_ylabel("row (y)" if ax not in self.ax_channels[1:] else "")  # one per row
        small = "small" if len(shown) > 2 else None
        for ax, index in zip(self.ax_channels, shown):
            ax.set_title(_title(labels, index), fontsize=small)
        self.ax_erd.set_title("ERD")
        self.ax_points.set_title("0 points")
        if len(shown) == 1:
            fig.tight_layout()

    def _update_artists(self, recon, erd, rows, cols, route, history, status) -> None:
        shape = self.shape
        images: list[tuple[Any, np.ndarray | None]] = [(self._im_erd, erd)]
        for im, index in zip(self._im_channels, self._built[1]):
            if recon is None or recon.ndim == 2:  # one channel
                images.append((im, recon if index == 0 else None))
            elif index < len(recon):  # (C, H, W)
                images.append((im, recon[index]))
        for im, arr in images:
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


def _names(labels: tuple[str, ...], shown: list[int]) -> str:
    return ", ".join(repr(labels[i]) for i in shown)


def _short(label: str) -> str:
    """The first part of a signal key (``"Cu"`` of ``"Cu_value"``), for the log's example."""
    return label.split("_")[0] or label


def _title(labels: tuple[str, ...], index: int) -> str:
    if len(labels) <= 1:
        return "reconstruction"
    return f"{labels[index]} ({index + 1} of {len(labels)})"


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
