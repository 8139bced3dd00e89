"""RemoteSampler: the :class:`fastscan.Sampler` interface, decided by ``fastscan serve``.

Plans take any object with the Sampler interface; this one forwards
``suggest``/``ingest`` to a service session (see :mod:`fastscan.service.client`
for timeouts, retries and the per-batch sequence numbers) and answers
``coverage``, ``n_measured``, ``measured_mask``, ``measured_points`` and
``position`` from its own log of readings, without a round trip.

Examples
--------
>>> sampler = RemoteSampler((600, 400), address="tcp://127.0.0.1:5577",
...                         session="scan42", batch_size=50, seed=0)  # doctest: +SKIP
>>> while not sampler.should_stop():  # doctest: +SKIP
...     points = sampler.suggest()
...     sampler.ingest(points, measure(points))
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._settable import SettableMeta
from fastscan._validation import check_points, check_shape, check_values
from fastscan.patterns import halton_points
from fastscan.service.client import (
    _SAMPLER_DEFAULTS,
    Connection,
    RemoteError,
    ServiceUnavailable,
    _jsonable,
    _raise_for,
)
from fastscan.service.protocol import DEFAULT_ADDRESS
from fastscan.service.remote_options import check_options
from fastscan.service.remote_settings import RemoteSettings
from fastscan.service.sessions import CREATE_KEYS, read_state_log

__all__ = ["RemoteSampler"]

log = logging.getLogger("fastscan.service")
_FALLBACKS = ("raise", "halton")


class RemoteSampler(RemoteSettings, metaclass=SettableMeta):
    """A :class:`fastscan.Sampler` running in a ``fastscan serve`` process.

    Parameters
    ----------
    shape : (n_rows, n_cols)
        Grid size in pixels.
    address : str
        Service endpoint.
    session : str
        Session name on the service (letters, digits, ``_``, ``-``). An existing
        session with the same settings is attached to, so a restarted plan picks
        up where it stopped.
    fallback : {"raise", "halton"}
        What to do when the service does not answer: raise
        :class:`ServiceUnavailable` (the plan can suspend), or keep scanning
        unmeasured low-discrepancy (Halton) points and send the readings once the
        service is back.
    timeout, retries :
        Per-request reply timeout (s) and re-sends before giving up.
    prefetch : bool
        Ask for the next batch in the reply to each ingest (one round trip per step).
    reconnect_interval : float
        In fallback mode, seconds between attempts to reach the service again.
    restore_timeout : float
        How long to wait while the service restores the session from its saved
        state (after a restart or :meth:`load`; it replays every batch).
    curve_server_key, curve_client_key :
        CurveZMQ: the server's public certificate and this client's secret one.
    **sampler_kwargs :
        :class:`fastscan.Sampler` options (batch_size, seed, max_coverage, ...);
        ``model`` cannot be sent, the service uses its own.

    Notes
    -----
    Settings set later (``rs.max_coverage = 0.3``, ``rs.set_params(...)``) are applied
    or refused, never ignored (:mod:`fastscan.service.remote_settings`): ``timeout``,
    ``retries``, ``fallback``, ``prefetch``, ``reconnect_interval`` and
    ``restore_timeout`` at any time; any other before the first reading re-opens the
    empty session this client made, as if given here, and is refused once readings
    are in (the service cannot change a running session's settings).

    Use one RemoteSampler from one thread (the plan's); it is not thread-safe.
    One client writes to a session at a time: a second writer is detected when
    the batch counts disagree (:class:`RemoteError` ``conflict``).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        address: str = DEFAULT_ADDRESS,
        session: str = "default",
        fallback: str = "raise",
        timeout: float = 5.0,
        retries: int = 3,
        prefetch: bool = True,
        reconnect_interval: float = 5.0,
        restore_timeout: float = 600.0,
        curve_server_key: str | Path | bytes | None = None,
        curve_client_key: str | Path | None = None,
        **sampler_kwargs: Any,
    ) -> None:
        self._check_fallback(fallback)
        if "model" in sampler_kwargs:
            raise ValueError("a RemoteSampler cannot send a model; the service uses its own")
        check_options(sampler_kwargs, owner="RemoteSampler", also=self._client_names())
        self.shape = check_shape(shape)
        self.session = session
        self.fallback = fallback
        self.prefetch = bool(prefetch)
        self.reconnect_interval = float(reconnect_interval)
        self.restore_timeout = float(restore_timeout)
        self._create_args = _jsonable({"shape": list(self.shape), **sampler_kwargs})
        local = {k: v for k, v in _SAMPLER_DEFAULTS.items() if k not in ("model", "motion")}
        self._params: dict[str, Any] = _jsonable({**local, **sampler_kwargs})
        self._params["shape"] = list(self.shape)
        self._conn = Connection(
            address,
            timeout=timeout,
            retries=retries,
            curve_server_key=curve_server_key,
            curve_client_key=curve_client_key,
        )
        self._log: list[tuple[np.ndarray, np.ndarray]] = []
        self._counts = np.zeros(self.shape, np.int32)
        self._mask = np.zeros(self.shape, bool)
        self._mask.flags.writeable = False
        self._n_measured = 0
        self._acked = 0
        self._attached = False
        self._created = False  # this client made the session (not attached to one)
        self._summary: dict[str, Any] | None = None
        self._prefetched: tuple[int, np.ndarray] | None = None
        self._offline = False
        self._last_try = 0.0
        self._local_reason: str | None = None
        self._halton = np.zeros((0, 2), np.int64)
        try:
            self._sync()
        except ServiceUnavailable as exc:
            if fallback == "raise":
                self._conn.close()
                raise
            self._go_offline(exc)
        except BaseException:
            self._conn.close()
            raise

    @staticmethod
    def _check_fallback(fallback: Any) -> None:
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}, got {fallback!r}")

    # ------------------------------------------------------------------ service plumbing
    def _request(self, op: str, **kwargs: Any) -> tuple[dict, dict]:
        """One request; waits (up to ``restore_timeout``) while the session is restored."""
        deadline = None
        while True:
            header, arrays = self._conn.request(op, session=self.session, **kwargs)
            error = header.get("error") or {}
            if header.get("ok") or error.get("code") != "busy":
                return header, arrays
            if deadline is None:
                deadline = time.monotonic() + self.restore_timeout
                log.info("%s", error.get("message"))
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"session {self.session!r} was still being restored after "
                    f"{self.restore_timeout:g} s"
                )
            retry = (header.get("result") or {}).get("retry_after", 0.2)
            time.sleep(min(1.0, max(0.01, float(retry))))

    def _sync(self) -> None:
        """Attach to the session and send every batch the service lacks."""
        if not self._attached:
            self._attach()
        self._send_pending()

    def _attach(self) -> None:
        header, _ = self._request("create", args=self._create_args)
        if not header.get("ok"):
            _raise_for(header)
        result = header["result"]
        self._params = dict(result["params"])
        self._attached = True
        self._created = bool(result.get("created"))
        server_last = int(result["last_seq"])
        if server_last > len(self._log):
            if self._log:
                raise RemoteError(
                    "conflict",
                    f"session {self.session!r} holds {server_last} batches but this client sent "
                    f"only {len(self._log)}; is another client writing to it?",
                )
            self._adopt()
            if len(self._log) != server_last:  # never re-send what the service holds
                adopted = len(self._log)
                self._log.clear()
                raise RemoteError(
                    "conflict",
                    f"session {self.session!r} reports {server_last} batches but its exported "
                    f"state holds {adopted}; not attaching",
                )
        self._acked = server_last
        self._summary = result
        if result.get("created") is False:
            log.info("attached to session %r (%d batches)", self.session, server_last)

    def _adopt(self) -> None:
        """Take over the readings of an existing session (a restarted plan)."""
        header, arrays = self._request("export")
        if not header.get("ok"):
            _raise_for(header)
        with tempfile.TemporaryDirectory(prefix="fastscan-adopt-") as tmp:
            path = Path(tmp) / "state.npz"
            path.write_bytes(arrays["state"].tobytes())
            _, batches = read_state_log(path)
        for points, values in batches:
            self._record(points.astype(np.int64), values.astype(float))

    def _record(self, points: np.ndarray, values: np.ndarray) -> None:
        self._log.append((points, values))
        flat = np.unique(points[:, 0] * self.shape[1] + points[:, 1])
        self._n_measured += int(np.count_nonzero(self._counts.ravel()[flat] == 0))
        np.add.at(self._counts, (points[:, 0], points[:, 1]), 1)
        self._mask.flags.writeable = True
        self._mask[points[:, 0], points[:, 1]] = True
        self._mask.flags.writeable = False

    def _drop_last(self) -> None:
        points, _ = self._log.pop()
        np.subtract.at(self._counts, (points[:, 0], points[:, 1]), 1)
        flat = np.unique(points[:, 0] * self.shape[1] + points[:, 1])
        gone = flat[self._counts.ravel()[flat] == 0]  # pixels no other batch measured
        self._n_measured -= len(gone)
        self._mask.flags.writeable = True
        self._mask.ravel()[gone] = False
        self._mask.flags.writeable = False

    def _send_pending(self) -> None:
        guard = 2 * len(self._log) + 8
        while self._acked < len(self._log):
            guard -= 1
            if guard < 0:
                raise RemoteError("stuck", f"could not bring session {self.session!r} in step")
            seq = self._acked + 1
            points, values = self._log[seq - 1]
            last = seq == len(self._log)
            header, arrays = self._request(
                "ingest",
                seq=seq,
                args={"suggest": self.prefetch and last},
                arrays={"points": points, "values": values},
            )
            if not header.get("ok"):
                code = (header.get("error") or {}).get("code")
                if code == "seq_gap":
                    self._acked = min(int(header["result"]["last_seq"]), len(self._log))
                    log.warning("service lacks batches after seq %d; re-sending", self._acked)
                    continue
                if code == "no_session":
                    log.warning("service lost session %r; re-creating it", self.session)
                    self._attached = False
                    self._attach()
                    continue
                if code == "bad_args" and last:
                    self._drop_last()
                _raise_for(header)
            result = header["result"]
            self._acked = seq
            self._summary = result
            if "next" in arrays:
                self._prefetched = (seq, arrays["next"])

    def _session_call(self, op: str, args: dict[str, Any] | None = None) -> tuple[dict, dict]:
        for _ in range(4):
            self._sync()
            header, arrays = self._request(op, args=args)
            if not header.get("ok"):
                if (header.get("error") or {}).get("code") == "no_session":
                    self._attached = False
                    continue
                _raise_for(header)
            result = header["result"]
            if result["last_seq"] < self._acked:  # service restarted without our last batches
                log.warning(
                    "service has batches up to seq %d of %d; re-sending",
                    result["last_seq"],
                    self._acked,
                )
                self._acked = int(result["last_seq"])
                continue
            self._summary = result
            return result, arrays
        raise RemoteError("stuck", f"could not bring session {self.session!r} in step")

    # ------------------------------------------------------------------ offline mode
    def _go_offline(self, exc: Exception) -> None:
        if self.fallback == "raise":
            raise exc
        if not self._offline:
            log.warning(
                "%s; scanning Halton fallback points until the service answers again "
                "(readings are kept and sent then)",
                exc,
            )
        self._offline = True
        self._last_try = time.monotonic()

    def _try_online(self) -> bool:
        """True when the service is (again) usable; False to stay in fallback mode."""
        if not self._offline:
            return True
        if time.monotonic() - self._last_try < self.reconnect_interval:
            return False
        self._last_try = time.monotonic()
        saved = self._conn.retries
        self._conn.retries = 0
        try:
            self._sync()
        except ServiceUnavailable:
            log.info("service at %s still unreachable", self._conn.address)
            return False
        finally:
            self._conn.retries = saved
        self._offline = False
        log.warning("service at %s is back; %d batches in step", self._conn.address, self._acked)
        return True

    def _local_stop(self) -> bool:
        size = self._counts.size
        cap = float(self._params.get("max_coverage", 0.5))
        self._local_reason = None
        if self._n_measured >= size:
            self._local_reason = "every pixel is measured"
        elif self.coverage >= cap - 1e-12:
            self._local_reason = (
                f"coverage {self.coverage:.1%} reached max_coverage {cap:.1%} (checked locally, "
                "service unreachable)"
            )
        return self._local_reason is not None

    def _fallback_points(self, n: int | None) -> np.ndarray:
        count = int(self._params.get("batch_size", 50)) if n is None else int(n)
        if self._local_stop() or count == 0:
            return np.zeros((0, 2), np.int64)
        size = self._counts.size
        while True:
            cand = self._halton
            free = cand[self._counts[cand[:, 0], cand[:, 1]] == 0]
            if len(free) >= count or len(cand) == size:
                return free[:count].copy()
            want = min(size, max(2 * len(cand), self._n_measured + 4 * count))
            self._halton = halton_points(self.shape, want, seed=self._params.get("seed"))

    # ------------------------------------------------------------------ Sampler interface
    def suggest(self, n: int | None = None) -> np.ndarray:
        """Next points, (n, 2) int64 (row, col) in route order (see :meth:`Sampler.suggest`)."""
        if n is not None and (int(n) != n or n < 0):
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        if self._try_online():
            try:
                self._sync()
                cached = self._prefetched
                if n is None and cached is not None and cached[0] == self._acked:
                    return np.array(cached[1], np.int64)
                _, arrays = self._session_call("suggest", {"n": None if n is None else int(n)})
                return np.array(arrays["points"], np.int64)
            except ServiceUnavailable as exc:
                self._go_offline(exc)
        return self._fallback_points(n)

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        """Add readings at (row, col) ``points`` (sent to the service; kept locally too)."""
        points = check_points(points, self.shape)
        values = check_values(values, len(points))
        if len(points) == 0:
            return
        self._record(points.copy(), values.copy())
        if not self._try_online():
            return
        try:
            self._sync()
        except ServiceUnavailable as exc:
            if self.fallback == "raise":
                raise ServiceUnavailable(
                    f"{exc}; the {len(self._log) - self._acked} unsent batches are kept and "
                    "sent with the next call"
                ) from exc
            self._go_offline(exc)

    def should_stop(self) -> bool:
        """True once the service's stop rule fires (checked locally while it is unreachable)."""
        if self._try_online():
            try:
                if self._summary is None or self._acked < len(self._log):
                    self._sync()
                if self._summary is not None:
                    return bool(self._summary["should_stop"])
            except ServiceUnavailable as exc:
                self._go_offline(exc)
        return self._local_stop()

    @property
    def stop_reason(self) -> str | None:
        if self._offline or self._summary is None:
            return self._local_reason
        return self._summary.get("stop_reason")

    def _array(self, name: str) -> np.ndarray:
        if not self._try_online():
            raise ServiceUnavailable(f"{name} needs the service at {self._conn.address}")
        _, arrays = self._session_call("state", {"arrays": [name]})
        return arrays[name]

    @property
    def reconstruction(self) -> np.ndarray:
        """Current reconstruction from the service (one round trip, read-only)."""
        return self._array("reconstruction")

    @property
    def erd(self) -> np.ndarray:
        """Current ERD map from the service (one round trip, read-only)."""
        return self._array("erd")

    @property
    def measured_mask(self) -> np.ndarray:
        """Measured pixels, kept up to date per batch (a read-only view, no copy per call)."""
        return self._mask

    @property
    def n_measured(self) -> int:
        return self._n_measured

    @property
    def coverage(self) -> float:
        return self._n_measured / self._counts.size

    @property
    def position(self) -> np.ndarray | None:
        return self._log[-1][0][-1].copy() if self._log else None

    @property
    def measured_points(self) -> np.ndarray:
        if not self._log:
            return np.zeros((0, 2), np.int64)
        return np.concatenate([p for p, _ in self._log])

    @property
    def measured_values(self) -> np.ndarray:
        if not self._log:
            return np.zeros(0)
        return np.concatenate([v for _, v in self._log])

    @property
    def batch_size(self) -> int:
        return int(self._params["batch_size"])

    @property
    def seed(self) -> int | None:
        return self._params.get("seed")

    @property
    def timeout(self) -> float:
        """Seconds to wait for each reply (settable)."""
        return self._conn.timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {value!r}")
        self._conn.timeout = float(value)

    @property
    def retries(self) -> int:
        """Re-sends of a request before :class:`ServiceUnavailable` (settable)."""
        return self._conn.retries

    @retries.setter
    def retries(self, value: int) -> None:
        if int(value) != value or value < 0:
            raise ValueError(f"retries must be an integer >= 0, got {value!r}")
        self._conn.retries = int(value)

    @property
    def server_time(self) -> float:
        """Seconds the service spent handling this client's requests so far."""
        return self._conn.server_time

    @property
    def offline(self) -> bool:
        """True while the service is unreachable and fallback points are handed out."""
        return self._offline

    @property
    def n_pending(self) -> int:
        """Batches ingested here that the service has not confirmed yet."""
        return len(self._log) - self._acked

    def get_params(self) -> dict[str, Any]:
        return dict(self._params)

    def state(self, arrays: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The session's summary and, on request, arrays (``reconstruction``, ``erd``, ...)."""
        return self._session_call("state", {"arrays": list(arrays)})

    def save(self, path: str | Path) -> Path:
        """Fetch the session's state and write it to ``path`` (loadable by Sampler.load)."""
        path = Path(path)
        _, arrays = self._session_call("export")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(arrays["state"].tobytes())
        tmp.replace(path)
        return path

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        address: str = DEFAULT_ADDRESS,
        session: str = "default",
        overwrite: bool = False,
        **options: Any,
    ) -> RemoteSampler:
        """Upload a saved state (from :meth:`save` or Sampler.save) as a session and attach."""
        path = Path(path)
        header, _ = read_state_log(path)
        conn = Connection(
            address,
            **{
                k: options[k]
                for k in ("timeout", "retries", "curve_server_key", "curve_client_key")
                if k in options
            },
        )
        try:
            reply, _ = conn.request(
                "load",
                session=session,
                args={"overwrite": bool(overwrite)},
                arrays={"state": np.frombuffer(path.read_bytes(), np.uint8)},
            )
        finally:
            conn.close()
        if not reply.get("ok"):
            _raise_for(reply)
        # attach with the state's own settings (the service compares all of them)
        settings = {k: v for k, v in header["params"].items() if k in CREATE_KEYS}
        settings["motion"] = header.get("motion")
        shape = tuple(settings.pop("shape"))
        return cls(shape, address=address, session=session, **{**settings, **options})

    def close(self, end_session: bool = False) -> None:
        """Disconnect; with ``end_session`` also close the session on the service."""
        if end_session:
            try:
                header, _ = self._request("close")
                if not header.get("ok"):
                    _raise_for(header)
            except ServiceUnavailable as exc:
                log.warning("could not close session %r: %s", self.session, exc)
        self._conn.close()

    def __enter__(self) -> RemoteSampler:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "offline" if self._offline else self._conn.address
        return (
            f"RemoteSampler(shape={self.shape}, session={self.session!r}, {state}, "
            f"measured={self._n_measured}, coverage={self.coverage:.1%})"
        )
