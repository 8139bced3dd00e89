"""Frames and model results over ZMQ: run the models in another process or on another machine.

Why frames and not the Bluesky document stream: the point-reading events do not
carry the sampler's reconstruction, and ``bluesky.callbacks.zmq.Publisher``
pickles documents by default and needs a proxy process. (For a plan that emits
the ``reconstruction`` stream, :class:`fastscan.models.live.BlueskyFrames` feeds
those events to the models in-process.) A frame here is one message in the
format of :mod:`fastscan.models.wire` (a JSON header and raw arrays, no pickle),
so a model server can trust what it parses. Publishing never blocks the scan,
and frame sockets are *conflating* (``ZMQ_CONFLATE``): each side keeps only the
newest frame, so a slow model server always gets the latest reconstruction and
memory stays bounded.

Everything binds to loopback unless told otherwise: the model server refuses
non-loopback endpoints without ``--allow-remote``, drops messages over
``--max-message-bytes``, parses headers with a depth limit and survives any
message (malformed ones are counted and skipped). A model server::

    python -m fastscan.models.zmq_frames serve --frames tcp://127.0.0.1:5591 \\
        --results tcp://127.0.0.1:5592 --denoise unet-denoiser --segment unet-segmenter

connects to the scan's frame publisher, binds a result publisher and prints
``ready <results endpoint>`` once listening.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from typing import Any

import numpy as np
import zmq

from fastscan._validation import is_loopback
from fastscan.models.live import Frame, LiveModels, ModelResult
from fastscan.models.registry import create_model, describe_model
from fastscan.models.wire import MAX_HEADER_BYTES, decode, encode_frame, encode_result

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "FramePublisher", "FrameSubscriber", "main", "serve"]

_log = logging.getLogger(__name__)


#: Largest message a subscriber accepts by default: a 4096 x 4096 frame (float64 and
#: uint8 mask) plus its header; larger messages make libzmq drop the connection.
DEFAULT_MAX_MESSAGE_BYTES = 9 * 4096 * 4096 + MAX_HEADER_BYTES + 1024


def _socket(
    kind: int, address: str, bind: bool, conflate: bool, hwm: int, max_bytes: int | None = None
) -> zmq.Socket:
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    if max_bytes is not None:
        sock.setsockopt(zmq.MAXMSGSIZE, int(max_bytes))
    if conflate:
        sock.setsockopt(zmq.CONFLATE, 1)  # keep only the newest message (set before bind/connect)
    sock.setsockopt(zmq.SNDHWM if kind == zmq.PUB else zmq.RCVHWM, int(hwm))
    try:
        sock.bind(address) if bind else sock.connect(address)
    except zmq.ZMQError as exc:
        sock.close()
        raise ValueError(f"cannot {'bind' if bind else 'connect'} to {address!r}: {exc}") from None
    return sock


class FramePublisher:
    """PUB socket for frames (scan side) or results (model side); never blocks.

    Parameters
    ----------
    address : str
        Endpoint, e.g. ``tcp://127.0.0.1:5591``; ``tcp://127.0.0.1:*`` picks a free port
        (see :attr:`endpoint`).
    bind : bool
        Bind (default) or connect.
    conflate : bool
        Keep only the newest unsent message per subscriber (frames). Use False for
        results, so that every model's result of a frame gets through.
    hwm : int
        Messages queued per subscriber before new ones are dropped (without conflate).
    """

    def __init__(
        self,
        address: str = "tcp://127.0.0.1:5591",
        *,
        bind: bool = True,
        conflate: bool = True,
        hwm: int = 16,
    ) -> None:
        self._socket = _socket(zmq.PUB, address, bind, conflate, hwm)
        self.endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT) if bind else address
        self._next_id = 0
        self.sent = 0
        self.dropped = 0
        self._lock = threading.Lock()

    def _send(self, message: bytes) -> bool:
        with self._lock:
            try:
                self._socket.send(message, flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                self.dropped += 1
                return False
            self.sent += 1
            return True

    def publish(
        self, reconstruction: np.ndarray, mask: np.ndarray, meta: dict | None = None
    ) -> int:
        """Send a frame (copied first); returns its frame id (unique, also across threads)."""
        with self._lock:
            frame_id = self._next_id
            self._next_id += 1
        self._send(encode_frame(reconstruction, mask, frame_id, meta))
        return frame_id

    def publish_sampler(self, sampler: Any, meta: dict | None = None) -> int | None:
        """Send a :class:`fastscan.Sampler`'s reconstruction and mask (None before any reading)."""
        if sampler.n_measured == 0:
            return None
        info = {"coverage": float(sampler.coverage), "n_measured": int(sampler.n_measured)}
        return self.publish(sampler.reconstruction, sampler.measured_mask, {**info, **(meta or {})})

    def publish_result(self, result: ModelResult) -> bool:
        """Send one model result (for :class:`~fastscan.models.live.LiveModels`' ``publisher``)."""
        return self._send(encode_result(result))

    def close(self) -> None:
        self._socket.close(linger=0)

    def __enter__(self) -> FramePublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameSubscriber:
    """SUB socket that returns frames or results, the newest first.

    Parameters
    ----------
    address : str
        Endpoint of a :class:`FramePublisher`.
    topics : tuple of bytes
        ``(b"frame",)``, ``(b"result",)`` or both.
    bind : bool
        Connect (default) or bind.
    conflate : bool
        Keep only the newest message (frames). Use False for results.
    hwm : int
        Messages queued before new ones are dropped (without conflate).
    max_message_bytes : int
        Largest message accepted (``zmq.MAXMSGSIZE``: libzmq drops a peer that sends more).
    """

    def __init__(
        self,
        address: str,
        *,
        topics: tuple[bytes, ...] = (b"frame",),
        bind: bool = False,
        conflate: bool = True,
        hwm: int = 64,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        self._args = (address, bind, conflate, hwm, max_message_bytes)
        self._topics = tuple(bytes(t) + b"\0" for t in topics)
        self._monitor: zmq.Socket | None = None
        self._socket = self._open()
        self.skipped = 0
        self.malformed = 0
        #: times the connection was opened again after libzmq dropped it (e.g. a message
        #: over max_message_bytes is a protocol error, after which libzmq never reconnects)
        self.reconnects = 0

    def _open(self) -> zmq.Socket:
        address, bind, conflate, hwm, max_bytes = self._args
        sock = _socket(zmq.SUB, address, bind, conflate, hwm, max_bytes)
        for topic in self._topics:
            sock.setsockopt(zmq.SUBSCRIBE, topic)
        if not bind:
            self._monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        return sock

    def _dropped(self) -> bool:
        """True when the monitor saw the connection go (then the socket is opened again)."""
        if self._monitor is None or not self._monitor.poll(0):
            return False
        while self._monitor.poll(0):
            self._monitor.recv_multipart()
        self._close_sockets()
        self._socket = self._open()
        self.reconnects += 1
        _log.warning("frame connection to %s dropped; connecting again", self._args[0])
        return True

    def recv(self, timeout: float = 1.0, latest: bool = True) -> Frame | ModelResult | None:
        """Next message (the newest queued one if ``latest``) or None after ``timeout`` s.

        Malformed messages are counted in :attr:`malformed`, logged and skipped; a
        connection libzmq dropped is opened again (:attr:`reconnects`).
        """
        deadline = time.monotonic() + timeout
        while True:
            self._dropped()
            remaining = max(0, int(1000 * (deadline - time.monotonic())))
            poll_ms = remaining if self._monitor is None else min(remaining, 100)
            if not self._socket.poll(poll_ms):
                if time.monotonic() >= deadline:
                    return None
                continue
            message = self._socket.recv()
            while latest and self._socket.poll(0):
                message = self._socket.recv()
                self.skipped += 1
            try:
                return decode(message)
            except Exception as exc:  # whatever a peer sends, the subscriber goes on
                self.malformed += 1
                _log.warning("dropping a malformed message: %s", exc)
                if time.monotonic() >= deadline:
                    return None

    def _close_sockets(self) -> None:
        if self._monitor is not None:
            self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        self._socket.close(linger=0)

    def close(self) -> None:
        self._close_sockets()

    def __enter__(self) -> FrameSubscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    frames: str,
    results: str,
    models: list[Any],
    *,
    stop: threading.Event | None = None,
    max_frames: int | None = None,
    ready: Any = None,
    model_kwargs: dict[str, Any] | None = None,
    allow_remote: bool = False,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> dict[str, int]:
    """Receive frames, run ``models`` (names or objects) on the newest, publish the results.

    Returns counters (frames received, skipped, malformed, refused; the worker's stats).

    Runs until ``stop`` is set or ``max_frames`` frames have been taken. ``ready``
    is called with the results endpoint once both sockets are up. Both endpoints
    must be loopback unless ``allow_remote``; messages over ``max_message_bytes``
    are dropped by libzmq, malformed ones are counted and skipped, and a frame the
    models cannot take is counted in ``refused``: no message stops the server.
    """
    for label, address in (("frames", frames), ("results", results)):
        if not allow_remote and not is_loopback(address):
            raise ValueError(
                f"refusing {label} endpoint {address!r}: not a loopback address; pass "
                "allow_remote=True (--allow-remote) to talk to other machines"
            )
    stop = stop or threading.Event()
    publisher = FramePublisher(results, conflate=False)
    try:
        subscriber = FrameSubscriber(
            frames, topics=(b"frame",), max_message_bytes=max_message_bytes
        )
    except Exception:
        publisher.close()
        raise
    live = LiveModels(models, publisher=publisher, model_kwargs=model_kwargs).start()
    received = refused = 0
    try:
        if ready is not None:
            ready(publisher.endpoint)
        while not stop.is_set() and (max_frames is None or received < max_frames):
            frame = subscriber.recv(timeout=0.1)
            if not isinstance(frame, Frame):
                continue
            try:
                if live.shape is not None and frame.reconstruction.shape != live.shape:
                    live.new_scan()  # a new scan with another grid
                live.submit(
                    frame.reconstruction, frame.mask, {**frame.meta, "frame_id": frame.frame_id}
                )
            except Exception as exc:  # a frame the models cannot take: skip it
                refused += 1
                _log.warning("skipping frame %r: %s", frame.frame_id, exc)
                continue
            received += 1
        live.wait_idle(timeout=60.0)
    finally:
        live.stop()
        subscriber.close()
        publisher.close()
    return {"received": received, "skipped": subscriber.skipped, "malformed": subscriber.malformed,
            "refused": refused, "reconnects": subscriber.reconnects,
            **live.counters()}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The command line ``python -m fastscan.models.zmq_frames`` (``main`` parses with it)."""
    parser = argparse.ArgumentParser(prog="python -m fastscan.models.zmq_frames")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run models on frames from a scan and publish the results")
    p.add_argument("--frames", default="tcp://127.0.0.1:5591", help="frame publisher to connect to")
    p.add_argument("--results", default="tcp://127.0.0.1:5592", help="endpoint to bind for results")
    p.add_argument("--denoise", default=None, help="denoiser name")
    p.add_argument("--segment", default=None, help="segmenter name")
    p.add_argument("--device", default=None, help="device for torch models (auto, cpu, cuda)")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow non-loopback --frames/--results endpoints (traffic is not encrypted)",
    )
    p.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help=f"largest frame message accepted (default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """``python -m fastscan.models.zmq_frames serve ...``"""
    parser = build_parser()
    args = parser.parse_args(argv)
    models = [name for name in (args.denoise, args.segment) if name]
    if not models:
        parser.error("give --denoise and/or --segment")
    for option, name, kind in (("--denoise", args.denoise, "denoiser"),
                               ("--segment", args.segment, "segmenter")):  # fmt: skip
        try:
            found = None if name is None else describe_model(name).kind
        except ValueError as exc:
            parser.error(f"{option}: {exc}")
        if found not in (None, kind):
            parser.error(f"{option} {name!r} is a {found}, not a {kind}")
    for address in (args.frames, args.results):
        if not args.allow_remote and not is_loopback(address):
            parser.error(f"{address!r} is not a loopback address; add --allow-remote")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    torch_kwargs = {"device": args.device} if args.device else {}
    instances = [
        create_model(name, **(torch_kwargs if describe_model(name).needs_torch else {}))
        for name in models
    ]

    def ready(endpoint: str) -> None:
        print(f"ready {endpoint}", flush=True)

    try:
        counts = serve(args.frames, args.results, instances, stop=stop,
                       max_frames=args.max_frames, ready=ready, allow_remote=args.allow_remote,
                       max_message_bytes=args.max_message_bytes)  # fmt: skip
    except ValueError as exc:
        print(f"python -m fastscan.models.zmq_frames: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(counts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
