"""Run downstream models on a live scan, off the scan loop, dropping stale frames.

The scan loop hands each new frame to :meth:`LiveModels.submit` (or
:meth:`LiveModels.submit_sampler`): it copies the frame into a one-frame mailbox
and returns at once. A worker thread takes the newest frame, runs every model on
it and publishes one :class:`ModelResult` per model. A frame that arrives while
an older one is still waiting replaces it (the older one is counted as dropped),
so memory stays bounded and results are never stale by more than one model
run. A model that raises (a bug, a NaN frame) produces a result with ``error``
set; the worker and the scan go on.

:class:`BlueskyFrames` is a Bluesky callback that feeds the ``reconstruction``
event stream of ``fastscan.plans.autonomous_scan`` to a :class:`LiveModels`
(``RE.subscribe(BlueskyFrames(live))``); it needs no Bluesky import itself.

Examples
--------
>>> import numpy as np
>>> from fastscan.models.live import LiveModels
>>> frame = np.zeros((32, 32)); mask = np.zeros((32, 32), bool); mask[::4, ::4] = True
>>> with LiveModels(["idw", "otsu"]) as live:
...     frame_id = live.submit(frame, mask)
...     live.wait_idle(timeout=10.0)
True
>>> sorted(live.latest), live.stats["processed"]
(['idw', 'otsu'], 1)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastscan.models.registry import create_model

__all__ = ["BlueskyFrames", "Frame", "LiveModels", "ModelResult"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One snapshot of a running scan (arrays owned by the frame)."""

    frame_id: int
    reconstruction: np.ndarray
    mask: np.ndarray
    timestamp: float
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelResult:
    """One model's output for one frame; ``output`` is None and ``error`` set on failure."""

    frame_id: int
    model: str
    kind: str
    output: np.ndarray | None
    error: str | None
    latency_s: float
    timestamp: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def _output_check(model: Any, output: Any, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(output)
    if arr.shape != shape:
        raise ValueError(f"model {model.name!r} returned shape {arr.shape}, expected {shape}")
    if model.kind == "segmenter":
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"segmenter {model.name!r} returned dtype {arr.dtype}, not integers")
        return arr.astype(np.int32, copy=False)
    return arr.astype(np.float64, copy=False)


class LiveModels:
    """Apply models to the newest frame of a running scan in a worker thread.

    Parameters
    ----------
    models : sequence of model names or model objects
        Each a :class:`~fastscan.models.protocols.Denoiser` or
        :class:`~fastscan.models.protocols.Segmenter` (names go through
        :func:`~fastscan.models.registry.create_model`).
    shape : (H, W) or None
        Frame shape; None takes the first frame's shape. A frame of another
        shape is refused by :meth:`submit`.
    on_result : callable or None
        Called in the worker thread with every :class:`ModelResult`; an
        exception in it is logged and ignored.
    publisher : object with ``publish_result(result)`` or None
        E.g. a :class:`fastscan.models.zmq_frames.FramePublisher` that sends the
        results to other processes.
    model_kwargs : dict
        Keyword arguments for models created from names.
    """

    def __init__(
        self,
        models: Sequence[str | Any],
        *,
        shape: tuple[int, int] | None = None,
        on_result: Callable[[ModelResult], None] | None = None,
        publisher: Any = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(models, str) or not len(models):
            raise ValueError(
                f"models must be a non-empty sequence of names or models, got {models!r}"
            )
        self.models = [
            create_model(m, **(model_kwargs or {})) if isinstance(m, str) else m for m in models
        ]
        for model in self.models:
            if not callable(model) or getattr(model, "kind", None) not in ("denoiser", "segmenter"):
                raise TypeError(
                    f"{model!r} is not a denoiser or segmenter (needs kind and __call__)"
                )
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got {names}")
        self.shape = None if shape is None else (int(shape[0]), int(shape[1]))
        self.on_result = on_result
        self.publisher = publisher
        self.latest: dict[str, ModelResult] = {}
        self.stats = {"submitted": 0, "processed": 0, "dropped": 0, "failed": 0}
        self._pending: Frame | None = None
        self._busy = False
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._next_id = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LiveModels:
        """Start the worker thread (idempotent); returns self."""
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._run, name="fastscan-live-models", daemon=True
                )
                self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Drop any waiting frame, let the running model finish (up to ``timeout`` s), stop."""
        with self._cond:
            self._stopping = True
            if self._pending is not None:
                self.stats["dropped"] += 1
                self._pending = None
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> LiveModels:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ scan side
    def submit(
        self, reconstruction: np.ndarray, mask: np.ndarray, meta: dict[str, Any] | None = None
    ) -> int:
        """Queue a copy of a frame for the models, replacing a frame still waiting; returns its id.

        Cheap (one copy of the arrays) and never blocks on a model. Raises
        ValueError for a frame of the wrong dimensions or shape; the frame's
        values are checked by the models in the worker.
        """
        recon = np.asarray(reconstruction)
        m = np.asarray(mask)
        if recon.ndim != 2 or m.shape != recon.shape:
            raise ValueError(
                f"a frame is a 2-D reconstruction and a mask of the same shape, got "
                f"{recon.shape} and {m.shape}"
            )
        with self._cond:  # shape, counters and the pending frame change together
            shape = self.shape or recon.shape
            if recon.shape != shape:
                raise ValueError(f"frame shape {recon.shape} does not match this scan's {shape}")
            self.shape = shape
            frame = Frame(
                self._next_id, np.array(recon, dtype=np.float64), np.array(m, dtype=bool),
                time.time(), dict(meta or {}),
            )  # fmt: skip
            self._next_id += 1
            if self._pending is not None:
                self.stats["dropped"] += 1
            self._pending = frame
            self.stats["submitted"] += 1
            self._cond.notify_all()
        return frame.frame_id

    def new_scan(self, shape: tuple[int, int] | None = None) -> None:
        """Forget the scan's grid shape (the next frame sets it, or ``shape`` does)."""
        with self._cond:
            self.shape = None if shape is None else (int(shape[0]), int(shape[1]))

    def counters(self) -> dict[str, int]:
        """A consistent copy of :attr:`stats`."""
        with self._cond:
            return dict(self.stats)

    def submit_sampler(self, sampler: Any, meta: dict[str, Any] | None = None) -> int | None:
        """Submit a :class:`fastscan.Sampler`'s current reconstruction and mask.

        Returns None (and submits nothing) before the sampler has a measurement.
        """
        if sampler.n_measured == 0:
            return None
        info = {"coverage": float(sampler.coverage), "n_measured": int(sampler.n_measured)}
        info.update(meta or {})
        return self.submit(sampler.reconstruction, sampler.measured_mask, info)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no frame is waiting or running; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    # ------------------------------------------------------------------ worker side
    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                frame, self._pending, self._busy = self._pending, None, True
            try:
                for model in self.models:
                    self._publish(self._apply(model, frame))
            finally:
                with self._cond:
                    self._busy = False
                    self.stats["processed"] += 1
                    self._cond.notify_all()

    def _apply(self, model: Any, frame: Frame) -> ModelResult:
        start = time.perf_counter()
        try:
            output = _output_check(model, model(frame.reconstruction, frame.mask), frame.mask.shape)
            error = None
        except Exception as exc:  # a failing model must not stop the scan or the worker
            output, error = None, f"{type(exc).__name__}: {exc}"
            with self._cond:
                self.stats["failed"] += 1
            _log.warning("model %r failed on frame %d: %s", model.name, frame.frame_id, error)
        return ModelResult(
            frame.frame_id, model.name, model.kind, output, error,
            time.perf_counter() - start, time.time(), frame.meta,
        )  # fmt: skip

    def _publish(self, result: ModelResult) -> None:
        with self._cond:
            self.latest[result.model] = result
        for sink in (self.on_result, getattr(self.publisher, "publish_result", None)):
            if sink is None:
                continue
            try:
                sink(result)
            except Exception:
                _log.exception("publishing the result of %r failed", result.model)


class BlueskyFrames:
    """Bluesky callback: submit the frames of a run's ``reconstruction`` stream to the models.

    Subscribe it to a RunEngine (``RE.subscribe(BlueskyFrames(live))``) or to a
    document stream from elsewhere. It watches for the descriptor of
    ``stream``, and for each of its events (or event pages) submits the
    reconstruction and measured-mask fields to ``live`` (cheap: one copy,
    never waits for a model). Problems with the documents (a missing field,
    data not filled in, a frame of the wrong shape) are logged and kept in
    :attr:`errors`; they never raise into the RunEngine, so the scan goes on.

    Parameters
    ----------
    live : LiveModels
        Started (or to be started) consumer the frames go to.
    stream : str
        Event stream name; ``fastscan.plans`` emits ``"reconstruction"``.
    reconstruction_field, mask_field : str
        Data keys of the reconstruction (H, W float) and measured mask (H, W,
        0/1); the defaults are those of ``fastscan.plans`` (``SamplerSnapshot``
        named "fastscan").
    meta_fields : sequence of str
        Scalar data keys copied into each frame's ``meta`` (missing ones are skipped).

    Attributes
    ----------
    submitted : int
        Frames handed to ``live``.
    errors : list of str
        What went wrong with which document (bounded to the last 100).
    """

    def __init__(
        self,
        live: LiveModels,
        *,
        stream: str = "reconstruction",
        reconstruction_field: str = "fastscan_reconstruction",
        mask_field: str = "fastscan_measured",
        meta_fields: Sequence[str] = ("fastscan_coverage", "fastscan_n_measured", "fastscan_batch"),
    ) -> None:
        if not hasattr(live, "submit"):
            raise TypeError(f"live must be a LiveModels (with submit()), got {live!r}")
        self.live = live
        self.stream = str(stream)
        self.reconstruction_field = str(reconstruction_field)
        self.mask_field = str(mask_field)
        self.meta_fields = tuple(meta_fields)
        self.submitted = 0
        self.errors: list[str] = []
        self._descriptors: set[str] = set()
        self._run_uid: str | None = None

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        """Take one ``(name, document)`` pair; never raises."""
        try:
            if name == "start":
                self._run_uid, self._descriptors = doc.get("uid"), set()
            elif name == "descriptor" and doc.get("name") == self.stream:
                self._descriptor(doc)
            elif name == "event" and doc.get("descriptor") in self._descriptors:
                self._submit(doc["data"], doc.get("seq_num"))
            elif name == "event_page" and doc.get("descriptor") in self._descriptors:
                data = doc["data"]
                for i, seq_num in enumerate(doc.get("seq_num", [])):
                    self._submit({key: values[i] for key, values in data.items()}, seq_num)
        except Exception as exc:  # a bad document must not stop the scan
            self._error(f"{name} document: {type(exc).__name__}: {exc}")

    def _descriptor(self, doc: dict[str, Any]) -> None:
        keys = doc.get("data_keys", {})
        missing = [f for f in (self.reconstruction_field, self.mask_field) if f not in keys]
        if missing:
            self._error(
                f"stream {self.stream!r} has no field(s) {missing}; its fields are "
                f"{sorted(keys)} (set reconstruction_field / mask_field)"
            )
            return
        self._descriptors.add(doc["uid"])

    def _submit(self, data: dict[str, Any], seq_num: Any) -> None:
        recon, mask = data.get(self.reconstruction_field), data.get(self.mask_field)
        for field_name, value in ((self.reconstruction_field, recon), (self.mask_field, mask)):
            if value is None or isinstance(value, str):
                raise ValueError(
                    f"event {seq_num} field {field_name!r} holds {value!r}, not an array "
                    "(external data must be filled first, e.g. with event_model.Filler)"
                )
        meta: dict[str, Any] = {"run_uid": self._run_uid, "seq_num": seq_num}
        for key in self.meta_fields:
            if key in data and np.ndim(data[key]) == 0:
                meta[key] = np.asarray(data[key]).item()
        self.live.submit(np.asarray(recon, dtype=np.float64), np.asarray(mask) != 0, meta)
        self.submitted += 1

    def _error(self, message: str) -> None:
        _log.warning("BlueskyFrames: %s", message)
        self.errors.append(message)
        del self.errors[:-100]
