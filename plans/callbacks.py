"""Live feedback from the documents of an autonomous scan (RunEngine callbacks).

- :class:`TextProgress`: a line of text every ``every`` points: points, distinct
  pixels, coverage, points per second.
- :class:`LivePlot`: headless (Agg) figures of the sparse reconstruction with the
  measured points overlaid, and the ERD map, saved as PNG files from the
  ``reconstruction`` stream.

Both read only documents, so they work the same on a remote document stream.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from event_model import DocumentRouter

from fastscan.plans.grid import Grid

logger = logging.getLogger("fastscan.plans")

__all__ = ["LivePlot", "TextProgress"]


class _RunTracker(DocumentRouter):
    """Common bookkeeping (an event_model DocumentRouter): points per run, snapshot arrays.

    Event pages are unpacked by the router. The samples of a fly scan (stream
    ``fly``) count as points too, placed on the grid by their position readbacks.
    Snapshot arrays stored as external HDF5 assets (``stream_resource``/
    ``stream_datum``) are read back from their file when the ``reconstruction``
    event arrives, and handed to
    :meth:`on_reconstruction` inside ``doc["data"]`` like inline arrays.
    """

    def __init__(self) -> None:
        super().__init__(emit=None)
        self._streams: dict[str, str] = {}
        self._resources: dict[str, dict[str, Any]] = {}
        self._datums: dict[str, dict[str, Any]] = {}  # descriptor uid -> data_key -> datum
        self.start_doc: dict[str, Any] | None = None
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.seqs: set[int] = set()
        self._fly: tuple[str, str, Grid] | None = None  # fly stream, data key prefix, grid

    # DocumentRouter hooks --------------------------------------------------------
    def start(self, doc: dict[str, Any]) -> None:
        self.start_doc = doc
        self._fly = _fly_stream(doc)
        self._streams.clear()
        self._resources.clear()
        self._datums.clear()
        self.rows, self.cols, self.seqs = [], [], set()
        self.on_start(doc)

    def descriptor(self, doc: dict[str, Any]) -> None:
        self._streams[doc["uid"]] = doc.get("name", "primary")

    def stream_resource(self, doc: dict[str, Any]) -> None:
        self._resources[doc["uid"]] = doc

    def stream_datum(self, doc: dict[str, Any]) -> None:
        resource = self._resources.get(doc["stream_resource"])
        if resource is not None:
            self._datums.setdefault(doc["descriptor"], {})[resource["data_key"]] = (resource, doc)

    def event(self, doc: dict[str, Any]) -> None:
        stream = self._streams.get(doc["descriptor"])
        data = doc["data"]
        if stream == "primary" and "fastscan_row" in data:
            seq = int(data["fastscan_seq"])
            if seq not in self.seqs:
                self.seqs.add(seq)
                self.rows.append(int(data["fastscan_row"]))
                self.cols.append(int(data["fastscan_col"]))
                self.on_point(doc)
        elif self._fly is not None and stream == self._fly[0]:
            _, prefix, grid = self._fly
            x, y = data.get(f"{prefix}_x"), data.get(f"{prefix}_y")
            if x is not None and y is not None:  # one flown sample, placed by its readback
                row, col = grid.to_index(float(x), float(y), clip=True)
                self.rows.append(row)
                self.cols.append(col)
                self.on_point(doc)
        elif stream == "reconstruction":
            external = self._datums.pop(doc["descriptor"], {})
            if external:
                doc = {**doc, "data": {**data, **_read_external(external)}}
            self.on_reconstruction(doc)

    def stop(self, doc: dict[str, Any]) -> None:
        self.on_stop(doc)

    @property
    def shape(self) -> tuple[int, int] | None:
        if self.start_doc is None or "shape" not in self.start_doc:
            return None
        rows, cols = self.start_doc["shape"]
        return int(rows), int(cols)

    def on_start(self, doc: dict[str, Any]) -> None: ...
    def on_point(self, doc: dict[str, Any]) -> None: ...
    def on_reconstruction(self, doc: dict[str, Any]) -> None: ...
    def on_stop(self, doc: dict[str, Any]) -> None: ...


def _fly_stream(start: dict[str, Any]) -> tuple[str, str, Grid] | None:
    """(stream name, data key prefix, grid) of a fly scan's samples, from its start document."""
    info = start.get("fastscan") or {}
    detectors = start.get("detectors") or []
    if start.get("plan_pattern") != "fastscan_fly" or "grid" not in info or not detectors:
        return None
    try:
        grid = Grid(**info["grid"])
    except (TypeError, ValueError):
        return None
    return str(info.get("stream", "fly")), str(detectors[0]), grid


def _read_external(external: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Arrays of one event from HDF5 stream assets: data_key -> last frame of its datum."""
    import h5py

    out: dict[str, Any] = {}
    for key, (resource, datum) in external.items():
        if resource.get("mimetype") != "application/x-hdf5":
            continue
        path = urlparse(resource["uri"]).path
        try:
            with h5py.File(path, "r") as fh:
                out[key] = np.asarray(fh[resource["parameters"]["dataset"]][
                    datum["indices"]["stop"] - 1])  # fmt: skip
        except (OSError, KeyError) as exc:  # a live view never stops the scan
            logger.warning("could not read %s from %s: %s", key, path, exc)
    return out


class TextProgress(_RunTracker):
    """Print progress every ``every`` points and at the end of the run.

    Parameters
    ----------
    every : int
        Points between lines.
    write : callable
        Receives each line (default ``print``); e.g. ``logger.info``.
    """

    def __init__(self, every: int = 50, write: Callable[[str], Any] = print) -> None:
        super().__init__()
        if int(every) != every or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every = int(every)
        self.write = write
        self.lines: list[str] = []
        self._t0 = time.monotonic()
        self._pixels: set[tuple[int, int]] = set()

    def on_start(self, doc: dict[str, Any]) -> None:
        self._t0 = time.monotonic()
        self._pixels = set()

    def on_point(self, doc: dict[str, Any]) -> None:
        self._pixels.add((self.rows[-1], self.cols[-1]))
        if len(self.rows) % self.every == 0:
            self._emit("")

    def on_stop(self, doc: dict[str, Any]) -> None:
        reason = doc.get("reason") or ""
        self._emit(f" - run {doc.get('exit_status')}{': ' + reason if reason else ''}")

    def line(self) -> str:
        n = len(self.rows)
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        shape = self.shape
        cov = f"{100.0 * len(self._pixels) / (shape[0] * shape[1]):.2f} %" if shape else "n/a"
        return f"points {n}, pixels {len(self._pixels)}, coverage {cov}, {n / elapsed:.1f} pt/s"

    def _emit(self, suffix: str) -> None:
        text = self.line() + suffix
        self.lines.append(text)
        self.write(text)


class LivePlot(_RunTracker):
    """Save a PNG of the reconstruction (+ measured points) and ERD map.

    Drawing happens in a background thread so the scan does not wait for
    matplotlib; when frames arrive faster than they can be drawn, only the newest
    waiting one is drawn. The stop document waits for the last frame, so every
    run ends with a PNG of its final state. A fly run's documents carry its
    samples but no reconstruction: it ends with ``<uid[:8]>_fly.png``, an IDW
    reconstruction (k = 10) of its samples (the first signal key) and the pixels
    measured (no ERD).

    Parameters
    ----------
    directory : path
        Where ``<run uid[:8]>_batch<NNNNN>.png`` files go (created if missing).
    every : int
        Draw every this many ``reconstruction`` events (the plan's
        ``recon_every`` sets how often those come).
    background : bool
        Draw in a worker thread (default) or in the callback itself.
    """

    def __init__(self, directory: str | Path, every: int = 1, dpi: int = 80,
                 background: bool = True) -> None:  # fmt: skip
        super().__init__()
        if int(every) != every or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.every = int(every)
        self.dpi = int(dpi)
        self.background = bool(background)
        self.files: list[Path] = []
        self._count = 0
        self._last: dict[str, Any] | None = None
        self._pending: tuple | None = None
        self._cond = threading.Condition()
        self._busy = False
        self._worker: threading.Thread | None = None

    def on_start(self, doc: dict[str, Any]) -> None:
        self._count = 0
        self._last = None
        signal = (doc.get("fastscan") or {}).get("signal")
        self._fly_key = signal if isinstance(signal, str) else (signal or [None])[0]
        # a multichannel step run: one reconstruction panel per signal key
        self._channel_labels = [str(s) for s in signal] if isinstance(signal, list) else []
        self._fly_values: list[float] = []

    def on_point(self, doc: dict[str, Any]) -> None:
        if self._fly is not None:  # a flown sample (placed by _RunTracker): keep its reading
            value = doc["data"].get(self._fly_key)
            self._fly_values.append(float(value) if value is not None else math.nan)

    def on_reconstruction(self, doc: dict[str, Any]) -> None:
        self._count += 1
        data = doc["data"]
        if "fastscan_reconstruction" not in data:
            return
        self._last = data
        if self._count % self.every == 0:
            self._submit(data)
            self._last = None

    def on_stop(self, doc: dict[str, Any]) -> None:
        if self._last is not None:  # the final state, whatever the cadence
            self._submit(self._last)
            self._last = None
        elif self._fly is not None and self._count == 0:
            frame = self._fly_frame()
            if frame is not None:
                self._submit(frame)
        self.wait()

    def _fly_frame(self) -> dict[str, Any] | None:
        """A fly run's final frame: IDW of its finite samples (None with fewer than 2)."""
        from fastscan.reconstruction import idw_reconstruction

        shape = self.shape
        values = np.asarray(self._fly_values, float)
        points = np.stack([self.rows, self.cols], axis=1).reshape(-1, 2)[np.isfinite(values)]
        if shape is None or len(points) < 2:
            return None
        recon = idw_reconstruction(shape, points, values[np.isfinite(values)],
                                   k=min(10, len(points) - 1))  # fmt: skip
        n_pixels = len(set(zip(self.rows, self.cols)))
        return {"fastscan_reconstruction": recon, "fastscan_erd": None,
                "fastscan_coverage": n_pixels / (shape[0] * shape[1])}  # fmt: skip

    def _submit(self, data: dict[str, Any]) -> None:
        frame = (data, list(self.rows), list(self.cols), (self.start_doc or {}).get("uid", "run"))
        if not self.background:
            self.files.append(self.draw(*frame))
            return
        with self._cond:
            self._pending = frame  # replaces a frame not drawn yet
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, daemon=True)
                self._worker.start()
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                if self._pending is None:
                    self._worker = None
                    self._cond.notify_all()
                    return
                frame, self._pending = self._pending, None
                self._busy = True
            try:
                self.files.append(self.draw(*frame))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wait(self, timeout: float = 30.0) -> None:
        """Block until the frames submitted so far are drawn."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def draw(self, data: dict[str, Any], rows: list[int], cols: list[int], uid: str) -> Path:
        """Draw one frame to ``<uid[:8]>_batch<NNNNN>.png``; returns the path."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        recon = np.asarray(data["fastscan_reconstruction"], float)
        flown = data["fastscan_erd"] is None  # a fly run's final frame (no ERD stored)
        batch = int(data.get("fastscan_batch", self._count))
        # (C, H, W) for a multichannel run: one panel per channel, then the ERD
        channels = recon[None] if recon.ndim == 2 else recon
        labels = getattr(self, "_channel_labels", [])
        if len(labels) != len(channels):
            labels = [f"channel {c}" for c in range(len(channels))]
        fig = Figure(figsize=(4.5 * (len(channels) + 1), 4), dpi=self.dpi)
        FigureCanvasAgg(fig)
        *panels, ax2 = fig.subplots(1, len(channels) + 1)
        what = "fly run" if flown else f"batch {batch}"
        coverage = 100 * float(data.get("fastscan_coverage", 0.0))
        for ax1, image, label in zip(panels, channels, labels):
            im = ax1.imshow(image, cmap="gray", interpolation="nearest")
            ax1.scatter(cols, rows, s=2, c="tab:red", linewidths=0)
            name = f"{label} " if len(channels) > 1 else ""
            ax1.set_title(f"{name}reconstruction, {what}, {coverage:.1f} %")
            fig.colorbar(im, ax=ax1, shrink=0.8)
        if flown:
            measured = np.zeros(recon.shape[-2:])
            measured[rows, cols] = 1.0
            im2 = ax2.imshow(measured, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
            ax2.set_title("pixels flown")
        else:
            im2 = ax2.imshow(np.asarray(data["fastscan_erd"], float), cmap="viridis",
                             interpolation="nearest")  # fmt: skip
            ax2.set_title("ERD")
        fig.colorbar(im2, ax=ax2, shrink=0.8)
        for ax in (*panels, ax2):
            ax.set_xlabel("col (x)")
            ax.set_ylabel("row (y)")
        fig.tight_layout()
        name = f"{uid[:8]}_fly.png" if flown else f"{uid[:8]}_batch{batch:05d}.png"
        path = self.directory / name
        fig.savefig(path)
        return path
