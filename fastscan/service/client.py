"""Client side of the sampler service: requests with timeouts and retries.

:class:`Connection` sends one request and waits for its reply; the
:class:`fastscan.service.remote.RemoteSampler` built on it has the
:class:`fastscan.Sampler` interface. Robustness:

* every request has a timeout and is re-sent (on a fresh socket, "lazy pirate")
  a few times before :class:`ServiceUnavailable` is raised;
* the client keeps every batch it ingested, numbered 1, 2, 3, ... (``seq``); the
  service applies a batch once per ``seq``, so a re-sent batch is never counted
  twice, and whenever the service turns out to lack batches (restarted without
  its state, or it died between reply and autosave) the client re-sends them;
* with ``fallback="halton"`` an unreachable service does not stop the scan: the
  client hands out unmeasured low-discrepancy points, keeps the readings, sends
  them once the service answers again, and says so through :mod:`logging`.

Examples
--------
>>> conn = Connection("tcp://127.0.0.1:5577", timeout=1.0)  # doctest: +SKIP
>>> header, arrays = conn.request("ping")  # doctest: +SKIP
>>> header["result"]["sessions"]  # doctest: +SKIP
['scan42']
"""

from __future__ import annotations

import inspect
import itertools
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import zmq
import zmq.auth

from fastscan.jsonsafe import to_jsonable
from fastscan.sampler import Sampler
from fastscan.service.protocol import (
    DEFAULT_ADDRESS,
    DEFAULT_MAX_MESSAGE_BYTES,
    ProtocolError,
    decode,
    encode,
)

__all__ = ["DEFAULT_ADDRESS", "Connection", "RemoteError", "ServiceUnavailable"]

log = logging.getLogger("fastscan.service")

_SAMPLER_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(Sampler.__init__).parameters.items()
    if p.default is not inspect.Parameter.empty
}


class ServiceUnavailable(ConnectionError):
    """The sampler service did not answer (after all retries)."""


class RemoteError(RuntimeError):
    """The service refused a request; ``code`` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} [{code}]")
        self.code = code


def _curve_key(value: str | Path | bytes, *, secret: bool) -> tuple[bytes, bytes | None]:
    """(public, secret) from a certificate file, or a raw z85 public key."""
    if isinstance(value, bytes) and len(value) == 40:
        return value, None
    public, secret_key = zmq.auth.load_certificate(Path(value))
    if secret and secret_key is None:
        raise ValueError(f"{value} holds no secret key; pass the client's *.key_secret file")
    return public, secret_key


class Connection:
    """Request/reply over a DEALER socket with timeouts and retries (lazy pirate).

    Parameters
    ----------
    address : str
        Service endpoint, e.g. ``tcp://127.0.0.1:5577``.
    timeout : float
        Seconds to wait for each reply.
    retries : int
        Re-sends after the first try before :class:`ServiceUnavailable`.
    curve_server_key : str, Path, bytes or None
        The server's public certificate file (or z85 key); enables CurveZMQ.
    curve_client_key : str, Path or None
        This client's secret certificate file (``*.key_secret``); needed with CURVE.
    max_message_bytes : int
        Largest request this client sends and reply it accepts.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        curve_server_key: str | Path | bytes | None = None,
        curve_client_key: str | Path | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        if int(retries) != retries or retries < 0:
            raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
        if (curve_server_key is None) != (curve_client_key is None):
            raise ValueError("CURVE needs both curve_server_key and curve_client_key")
        self.address = address
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.max_message_bytes = int(max_message_bytes)
        self._curve = None
        if curve_server_key is not None:
            server_public, _ = _curve_key(curve_server_key, secret=False)
            public, secret = _curve_key(curve_client_key, secret=True)
            self._curve = (server_public, public, secret)
        # one context per process (zmq's shared instance), not one per connection: each
        # context starts an I/O thread, and a plan may open many connections
        self._context = zmq.Context.instance()
        self._socket: zmq.Socket | None = None
        self._prefix = uuid.uuid4().hex[:12]
        #: seconds the service reported spending on this connection's requests
        self.server_time = 0.0
        self._counter = itertools.count(1)

    def _open(self) -> zmq.Socket:
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes + 65536)
        if self._curve is not None:
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = self._curve
        sock.connect(self.address)
        return sock

    def _reset(self) -> None:
        if self._socket is not None:
            self._socket.close(0)
            self._socket = None

    def request(
        self,
        op: str,
        *,
        session: str | None = None,
        seq: int | None = None,
        args: dict[str, Any] | None = None,
        arrays: dict[str, np.ndarray] | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Send one request; returns the reply ``(header, arrays)`` (``header["ok"]`` may be False).

        Raises
        ------
        ServiceUnavailable
            No reply after ``retries + 1`` tries of ``timeout`` seconds each.
        """
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        request_id = f"{self._prefix}-{next(self._counter)}"
        header = {"op": op, "id": request_id, "session": session, "seq": seq, "args": args or {}}
        frames = [b"", *encode(header, arrays)]
        size = sum(len(f) for f in frames)
        if size > self.max_message_bytes:
            limit = self.max_message_bytes
            raise ValueError(f"request {op!r} is {size} bytes; the limit is {limit}")
        for attempt in range(retries + 1):
            if self._socket is None:
                self._socket = self._open()
            self._socket.send_multipart(frames, copy=False)
            reply = self._wait(request_id, timeout)
            if reply is not None:
                return reply
            log.info(
                "no reply to %r from %s within %g s (try %d)",
                op,
                self.address,
                timeout,
                attempt + 1,
            )
            self._reset()  # drop queued messages and any late reply
        raise ServiceUnavailable(
            f"no reply from the fastscan service at {self.address} to {op!r} after "
            f"{retries + 1} tries of {timeout:g} s (is `fastscan serve` running there, with "
            "matching CURVE keys?)"
        )

    def _wait(self, request_id: str, timeout: float) -> tuple[dict, dict] | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not self._socket.poll(max(1, int(left * 1000)), zmq.POLLIN):
                continue
            frames = self._socket.recv_multipart()
            body = frames[1:] if frames and frames[0] == b"" else frames
            try:
                header, arrays = decode(body, max_bytes=self.max_message_bytes)
            except ProtocolError as exc:
                log.info("ignoring a malformed reply from %s: %s", self.address, exc)
                continue
            if header.get("id") == request_id:
                t_s = header.get("t_s")
                if isinstance(t_s, (int, float)):
                    self.server_time += float(t_s)
                return header, arrays
        return None

    def close(self) -> None:
        """Close the socket (the process-wide ZMQ context stays for other connections)."""
        self._reset()


def _jsonable(value: Any) -> Any:
    return to_jsonable(value, unknown="raise")


def _raise_for(header: dict[str, Any]) -> None:
    error = header.get("error") or {}
    code, message = str(error.get("code")), str(error.get("message"))
    if code == "bad_args":
        raise ValueError(message)
    raise RemoteError(code, message)
