"""The sampler service: a ZMQ ROUTER socket in front of a :class:`SessionStore`.

One thread receives a request, decodes and validates it
(:mod:`fastscan.service.protocol`), runs it on the named session and sends the
reply; anything wrong with a request (bad frames, wrong version, unknown op, bad
arguments, even an unexpected exception) becomes an error reply and the loop
goes on serving. Replies to state-changing requests are remembered by request id
for a while (keyed by request id and header bytes), so a client that re-sends after a
timeout gets the same answer; errors are not cached (repeating them changes nothing).

The socket binds to loopback unless ``allow_remote`` is set, and then only with a
CurveZMQ secret key (a non-loopback bind without one is refused). CurveZMQ encrypts
and authenticates when a server secret key is given: clients must then present a
key whose public half is in ``curve_clients`` (a directory of ``*.key`` public
certificates, see :func:`zmq.auth.create_certificates`).

Examples
--------
>>> with SamplerServer("tcp://127.0.0.1:0") as server:  # doctest: +SKIP
...     print(server.endpoint)
tcp://127.0.0.1:49731
"""

from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import ctypes.util
import dataclasses
import json
import logging
import queue
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from fastscan._validation import is_loopback
from fastscan.sampler import Sampler
from fastscan.service.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_ARRAYS,
    MAX_HEADER_BYTES,
    ProtocolError,
    decode,
    encode,
    error_reply,
)
from fastscan.service.sessions import ServiceError, SessionStore

__all__ = ["SamplerServer", "is_loopback", "warm_up"]

log = logging.getLogger("fastscan.service")

_CACHED_OPS = {"create", "ingest", "load", "close"}
_REPLY_CACHE = 256


@dataclasses.dataclass
class _Job:
    """One decoded request waiting for a worker."""

    envelope: list[bytes]
    request_id: Any
    op: Any
    header: dict[str, Any]
    arrays: dict[str, np.ndarray]
    cache_key: tuple | None


def _trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    libzmq holds every frame of a multipart message until the last one arrives
    (atomic delivery), so an oversized message of many small frames occupies memory
    before any check can run; once it is dropped, its many small blocks stay in the
    allocator's free lists unless trimmed.
    """
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim  # noqa: B018 - glibc only
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC: Any = None


def _as_bytes(frame: Any) -> bytes:
    return frame.bytes if isinstance(frame, zmq.Frame) else bytes(frame)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel a scan step uses.

    A few steps on a small grid with 50-point batches, so the route's local search
    for long batches is compiled too, not only the exact solver for short ones;
    otherwise the first real batch would stall the service for seconds.
    """
    truth = np.add.outer(np.sin(np.arange(48.0) / 5.0), np.cos(np.arange(64.0) / 7.0))
    sampler = Sampler((48, 64), batch_size=50, seed=0, max_coverage=0.5)
    for n in (None, None, None, 1, 3):
        pts = sampler.suggest(n)
        sampler.ingest(pts, truth[pts[:, 0], pts[:, 1]])
    sampler.should_stop()


class SamplerServer:
    """Serve named sampler sessions on a ZMQ ROUTER socket.

    Parameters
    ----------
    bind : str
        ZMQ endpoint; port 0 (or ``*``) picks a free port, see :attr:`endpoint`.
    state_dir : str, Path or None
        Where sessions are autosaved after each change and restored from after a restart.
    allow_remote : bool
        Needed to bind anything but a loopback address (which also needs ``curve_secret_key``).
    curve_secret_key : str, Path or None
        Server certificate file with the secret key (enables CurveZMQ).
    curve_clients : str, Path or None
        Directory of authorised client public certificates; without it any
        client that speaks CURVE is let in (encryption without authentication).
    max_message_bytes : int
        Largest request accepted (``zmq.MAXMSGSIZE`` plus the decoder's own check).
    max_sessions, max_pixels, max_total_pixels : int
        Quotas on sessions held and grid pixels, see :class:`SessionStore`.
    max_points_per_ingest, max_batch_size : int
        Quotas on one request, see :class:`SessionStore`.
    snapshot_every : int
        Batches between full snapshots, see :class:`SessionStore`.
    workers : int
        Threads that run requests. Requests of one session run one at a time, in
        the order they start; other sessions' requests run meanwhile, so a slow
        request (a large ``create``, ``export`` or ``state``) holds up only its
        own session. ``ping`` is answered by the socket thread at once.
    """

    def __init__(
        self,
        bind: str = "tcp://127.0.0.1:0",
        *,
        state_dir: str | Path | None = None,
        allow_remote: bool = False,
        curve_secret_key: str | Path | None = None,
        curve_clients: str | Path | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_sessions: int = 16,
        max_pixels: int = 4096 * 4096,
        max_total_pixels: int | None = None,
        max_points_per_ingest: int = 1 << 20,
        max_batch_size: int = 10_000,
        snapshot_every: int = 100,
        workers: int = 4,
    ) -> None:
        if isinstance(workers, bool) or int(workers) != workers or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        if not is_loopback(bind) and not allow_remote:
            raise ValueError(
                f"refusing to bind {bind!r}: not a loopback address; pass allow_remote=True "
                "(--allow-remote) and CurveZMQ keys to serve other machines"
            )
        if not is_loopback(bind) and curve_secret_key is None:
            raise ValueError(
                f"refusing to bind {bind!r} without CurveZMQ: anyone who can reach it could "
                "drive the scan; pass curve_secret_key (--curve-secret-key), ideally with "
                "curve_clients (--curve-clients)"
            )
        if curve_clients is not None and curve_secret_key is None:
            raise ValueError("curve_clients needs curve_secret_key (the server's certificate)")
        if curve_secret_key is not None and not zmq.has("curve"):
            raise RuntimeError("this libzmq was built without CURVE support")
        self.store = SessionStore(
            state_dir,
            max_sessions=max_sessions,
            max_pixels=max_pixels,
            max_total_pixels=max_total_pixels,
            max_points_per_ingest=max_points_per_ingest,
            max_batch_size=max_batch_size,
            snapshot_every=snapshot_every,
        )
        restoring = self.store.restore_all()
        #: sessions saved in ``state_dir`` whose restore started with the server
        self.restoring: list[str] = restoring
        if restoring:
            log.info("restoring saved sessions %s from %s", restoring, state_dir)
        self.max_message_bytes = int(max_message_bytes)
        #: identity, delimiter, header and MAX_ARRAYS array frames
        self.max_frames = MAX_ARRAYS + 3
        #: the whole message: arrays plus a header and a small routing envelope
        self.max_total_bytes = self.max_message_bytes + MAX_HEADER_BYTES + 512
        self._context = zmq.Context()
        self._auth: ThreadAuthenticator | None = None
        self._socket = self._context.socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes + MAX_HEADER_BYTES)
        try:
            if curve_secret_key is not None:
                self._setup_curve(Path(curve_secret_key), curve_clients)
            self._socket.bind(bind[:-2] + ":*" if bind.endswith(":0") else bind)
        except Exception:
            self._close_sockets()
            raise
        self.endpoint: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._replies: collections.OrderedDict[tuple, list] = collections.OrderedDict()
        self._stats_lock = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(64)]
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=int(workers), thread_name_prefix="fastscan-session"
        )
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self.max_inflight = 4 * int(workers) + 16
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.n_requests = 0
        self.n_errors = 0
        self.busy_s = 0.0  # time spent handling requests that succeeded

    def _setup_curve(self, secret_file: Path, clients: str | Path | None) -> None:
        try:
            public, secret = zmq.auth.load_certificate(secret_file)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read CURVE certificate {secret_file}: {exc}") from None
        if secret is None:
            raise ValueError(f"{secret_file} holds no secret key; pass the *.key_secret file")
        self._auth = ThreadAuthenticator(self._context, log=logging.getLogger("fastscan.zap"))
        self._auth.start()
        if clients is None:
            log.warning("CURVE without --curve-clients: traffic is encrypted, clients not checked")
            self._auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
        else:
            if not Path(clients).is_dir():
                raise ValueError(f"curve_clients {clients} is not a directory of public keys")
            self._auth.configure_curve(domain="*", location=str(clients))
        self._socket.curve_secretkey = secret
        self._socket.curve_publickey = public
        self._socket.curve_server = True

    # ------------------------------------------------------------------ loop
    def serve(self, stop: threading.Event | None = None) -> None:
        """Answer requests until ``stop`` (or :meth:`stop`) is set."""
        stop = stop or self._stop
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        log.info("fastscan service listening on %s", self.endpoint)
        inflight = 0
        try:
            while not stop.is_set() and not self._stop.is_set():
                # short polls while workers run, so their replies go out promptly
                ready = poller.poll(2 if inflight else 100)
                while True:  # replies of finished jobs
                    try:
                        envelope, reply = self._done.get_nowait()
                    except queue.Empty:
                        break
                    inflight -= 1
                    self._send(envelope, reply)
                if not ready:
                    continue
                try:
                    frames, refusal = self._receive()
                except zmq.Again:
                    continue
                try:
                    if refusal is not None:
                        job, reply, envelope = None, *self._refuse(frames, refusal)
                        _trim_heap()
                    else:
                        job, reply, envelope = self._prepare(frames)
                    if job is not None and inflight >= self.max_inflight:
                        self._count(errors=1)
                        job, reply = None, error_reply(
                            job.request_id, job.op, "busy",
                            f"{inflight} requests are running (max_inflight); retry shortly",
                            retry_after=0.2,
                        )  # fmt: skip
                except Exception:  # never let one message end the service
                    log.exception("could not handle a message")
                    self._count(errors=1)
                    continue
                if job is not None:
                    inflight += 1
                    self._pool.submit(self._work, job)
                else:
                    self._send(envelope, reply)
        finally:
            self._pool.shutdown(wait=True)
            while not self._done.empty():
                self._send(*self._done.get_nowait())
            self.store.stop_restores()
            self.store.snapshot_all()

    def _send(self, envelope: list[bytes] | None, reply: list) -> None:
        if envelope is None:
            return
        try:
            self._socket.send_multipart(envelope + reply, zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # peer gone or queue full: it will retry
            log.info("reply not sent: %s", exc)

    def _receive(self) -> tuple[list[zmq.Frame], str | None]:
        """One message, frame by frame, keeping frames only while within the limits.

        ``recv_multipart`` would copy every frame of a message before any check
        could run (100,000 frames of 1 kB each pass the per-frame ``MAXMSGSIZE``).
        Here the frame count and the running byte total are checked as each frame
        arrives; past a limit the rest of the message is read and dropped at once,
        and the second value names the limit (the frames kept are the routing
        envelope and the header, enough for an error reply).
        """
        frames: list[zmq.Frame] = []
        total = 0
        refusal = None
        flags = zmq.NOBLOCK
        while True:
            frame = self._socket.recv(flags, copy=False)
            flags = 0  # the other parts of a message are already here (atomic delivery)
            more = frame.more
            if refusal is None:
                total += len(frame)
                if len(frames) >= self.max_frames:
                    refusal = (
                        f"message has more than {self.max_frames} frames (routing envelope "
                        f"included); at most {MAX_ARRAYS} arrays are allowed"
                    )
                elif total > self.max_total_bytes:
                    refusal = (
                        f"message is over {self.max_total_bytes} bytes in total "
                        f"(max_message_bytes={self.max_message_bytes} plus the header)"
                    )
                else:
                    frames.append(frame)
            if not more:
                return frames, refusal

    def _refuse(self, frames: list, refusal: str) -> tuple[list, list[bytes] | None]:
        """Error reply to a message stopped at a limit (its id, if the header got in)."""
        self.n_requests += 1
        self.n_errors += 1
        frames = [_as_bytes(f) for f in frames[:3]]
        if not frames:
            return [], None
        envelope = frames[:2] if len(frames) > 1 and frames[1] == b"" else frames[:1]
        rest = frames[len(envelope) :]
        request_id = op = None
        if rest and len(rest[0]) <= MAX_HEADER_BYTES:
            try:
                header = json.loads(rest[0])
                request_id, op = header.get("id"), header.get("op")
            except (ValueError, RecursionError, AttributeError):
                pass
        return error_reply(request_id, op, "too_large", refusal), envelope

    def _handle_frames(self, frames: list[Any]) -> tuple[list, list[bytes] | None]:
        """Reply frames and routing envelope for one received message (in this thread)."""
        job, reply, envelope = self._prepare(frames)
        if job is None:
            return reply, envelope
        return self._execute(job), job.envelope

    def _count(self, errors: int = 0, busy_s: float = 0.0) -> None:
        with self._stats_lock:
            self.n_errors += errors
            self.busy_s += busy_s

    def _prepare(self, frames: list[Any]) -> tuple[_Job | None, list, list[bytes] | None]:
        """Decode a message: a job to run, or at once a reply (errors, re-sends, ping)."""
        with self._stats_lock:
            self.n_requests += 1
        if len(frames) < 2:
            return None, [], None
        frames = [_as_bytes(f) if i < 3 else f for i, f in enumerate(frames)]
        envelope, body = (frames[:2], frames[2:]) if frames[1] == b"" else (frames[:1], frames[1:])
        try:
            header, arrays = decode(body, max_bytes=self.max_message_bytes)
        except ProtocolError as exc:
            self._count(errors=1)
            return None, error_reply(None, None, exc.code, str(exc)), envelope
        request_id, op = header.get("id"), header.get("op")
        # a re-sent request repeats id and header byte for byte
        cache_key = (request_id, bytes(body[0])) if isinstance(request_id, str) else None
        with self._stats_lock:
            cached = self._replies.get(cache_key) if cache_key is not None else None
        if cached is not None:
            return None, cached, envelope
        job = _Job(envelope, request_id, op, header, arrays, cache_key)
        if op == "ping":  # answered at once, whatever the sessions are doing
            return None, self._execute(job), envelope
        return job, [], envelope

    def _execute(self, job: _Job) -> list:
        """Run one request on the store; the reply frames (errors included)."""
        header, request_id, op = job.header, job.request_id, job.op
        t0 = time.perf_counter()
        try:
            result, out = self.store.handle(
                op, header.get("session"), header.get("seq"), header.get("args", {}), job.arrays
            )
            if op == "ping":
                with self._stats_lock:
                    stats = {"requests": self.n_requests, "errors": self.n_errors}
                    result.update(stats, busy_s=self.busy_s)
            elapsed = time.perf_counter() - t0
            self._count(busy_s=elapsed)
            reply_header = {
                "id": request_id,
                "op": op,
                "ok": True,
                "result": result,
                "t_s": elapsed,
            }
            reply = encode(reply_header, out)
        except ServiceError as exc:
            self._count(errors=1)
            return error_reply(request_id, op, exc.code, exc.message, **exc.extra)
        except Exception as exc:  # a bug must not take the service down
            self._count(errors=1)
            log.exception("request %r (%r) failed", request_id, op)
            message = f"{type(exc).__name__}: {exc}"
            return error_reply(request_id, op, "internal", message)
        if job.cache_key is not None and op in _CACHED_OPS:
            with self._stats_lock:
                self._replies[job.cache_key] = reply
                while len(self._replies) > _REPLY_CACHE:
                    self._replies.popitem(last=False)
        return reply

    def _stripe(self, session: Any) -> threading.Lock:
        """The lock that serialises the requests of one session (striped: bounded memory)."""
        key = session if isinstance(session, str) else ""
        return self._stripes[zlib.crc32(key.encode("utf-8", "replace")) % len(self._stripes)]

    def _work(self, job: _Job) -> None:
        """Run a job in a worker thread; its reply goes to the socket thread."""
        try:
            with self._stripe(job.header.get("session")):
                reply = self._execute(job)
                session = job.header.get("session")
                if isinstance(session, str):
                    self.store.flush([session])  # the disk write overlaps the next move
        except Exception:  # pragma: no cover - _execute answers every failure itself
            log.exception("worker failed on request %r", job.request_id)
            reply = error_reply(job.request_id, job.op, "internal", "worker failed")
        self._done.put((job.envelope, reply))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SamplerServer:
        """Serve in a daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        self._thread = threading.Thread(target=self._run_thread, name="fastscan-service")
        self._thread.daemon = True
        self._thread.start()
        return self

    def _run_thread(self) -> None:
        try:
            self.serve()
        finally:
            self._close_sockets()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket (joins the thread if :meth:`start` was used)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self._close_sockets()

    def _close_sockets(self) -> None:
        pool = getattr(self, "_pool", None)  # absent when __init__ failed early
        if pool is not None:
            pool.shutdown(wait=True)
        if not self._socket.closed:
            self._socket.close(0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if not self._context.closed:
            self._context.term()

    def __enter__(self) -> SamplerServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
