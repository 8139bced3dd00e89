"""Named scan sessions behind the sampler service: the request dispatch, no sockets.

Files on disk live in :mod:`fastscan.service.persistence`, restoring in
:mod:`fastscan.service.restore`; :mod:`fastscan.service.sessions` re-exports
the public names.

:class:`SessionStore` holds one :class:`fastscan.Sampler` per session name and
answers the service's operations (``ping``, ``create``, ``ingest``,
``suggest``, ``state``, ``export``, ``load``, ``close``). Every ingest carries a
per-session sequence number ``seq`` (1, 2, 3, ... = the number of batches the
session holds once it is applied), which makes retries harmless: a batch whose
``seq`` was already applied is answered from the cached reply, never applied
twice, and a gap is reported with the session's ``last_seq`` so the client can
re-send what the service lacks.

With a ``state_dir`` each session is saved there after every change: a full
snapshot ``<name>.npz`` (:meth:`fastscan.Sampler.save`, atomic) when it is
created and every ``snapshot_every`` batches, and in between each batch is
appended to ``<name>.journal`` (:mod:`fastscan.service.journal`), so a step's
save costs in proportion to the batch, not the scan. A restarted
service restores the saved sessions (:meth:`SessionStore.restore_all`, or on
first use), and ``last_seq`` is the number of batches in the file. Restoring
loads the snapshot (:meth:`fastscan.Sampler.load`, with the service's own ERD
model) and applies the journal's batches after it; it runs in a background
thread and requests for that session are answered with the error code ``busy``
(and ``retry_after`` seconds) meanwhile; uploaded states (``load``) are restored
the same way. An uploaded state made with another ERD model is refused: clients
cannot choose the model.

Quotas bound what clients can make the service hold: ``max_sessions``,
``max_pixels`` per session, ``max_total_pixels`` over all sessions,
``max_points_per_ingest`` and ``max_batch_size`` (the create option and
``suggest(n)``); a request over one gets ``too_large`` (``too_many_sessions``
for the session count) naming the limit.

:meth:`SessionStore.flush` does the saving; the server calls it right after
sending the reply, so the disk write overlaps the
next motor move. A crash between reply and save loses nothing: the client keeps
every batch and re-sends those the reloaded session lacks.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

import fastscan
from fastscan.erd.estimator import load_model
from fastscan.jsonsafe import dumps
from fastscan.route import MotionModel
from fastscan.sampler import Sampler
from fastscan.service.persistence import SESSION_NAME, SessionFiles, read_state_log
from fastscan.service.restore import RestoreJob

__all__ = ["CREATE_KEYS", "OPS", "STATE_ARRAYS", "ServiceError", "SessionStore"]

log = logging.getLogger("fastscan.service")

#: Sampler keyword arguments a client may set when creating a session.
CREATE_KEYS = frozenset(
    {
        "shape",
        "batch_size",
        "initial_fraction",
        "seed",
        "max_coverage",
        "erd_threshold",
        "change_tolerance",
        "patience",
        "spread",
        "k",
        "pixel_pitch",
        "motion",
    }
)
#: Arrays the ``state`` operation can return.
STATE_ARRAYS = frozenset(
    {"reconstruction", "erd", "measured_mask", "measured_points", "measured_values"}
)
#: Operations the service answers.
OPS = ("ping", "create", "ingest", "suggest", "state", "export", "load", "close")
_CREATE_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(Sampler.__init__).parameters.items()
    if p.default is not inspect.Parameter.empty
}
_INT_DTYPES = ("<i8", "<i4")
_FLOAT_DTYPES = ("<f8", "<f4")


class ServiceError(Exception):
    """A request the service refuses; ``code`` and ``extra`` go into the error reply."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


@dataclasses.dataclass
class _Session:
    name: str
    sampler: Sampler
    last_seq: int
    snapshot_seq: int = 0  # batches in the last full snapshot on disk
    needs_snapshot: bool = False
    pending: list[tuple[int, np.ndarray, np.ndarray]] = dataclasses.field(default_factory=list)
    reply: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None


def _normalise(value: Any) -> Any:
    """JSON round trip, so tuples and lists (and 1 and 1.0) compare equal."""
    return json.loads(dumps(value))


class SessionStore:
    """The service's sessions and the handling of one decoded request.

    Parameters
    ----------
    state_dir : str, Path or None
        Directory for the autosaved session files; None keeps sessions in memory only.
    max_sessions : int
        Largest number of sessions held at once.
    max_pixels : int
        Largest grid (rows x cols) a session may have.
    max_total_pixels : int or None
        Largest sum of grid sizes over all sessions held (None: ``4 * max_pixels``).
    max_points_per_ingest : int
        Largest batch of readings one ingest may carry.
    max_batch_size : int
        Largest ``batch_size`` a session may be created with and ``n`` a suggest may ask for.
    snapshot_every : int
        Batches between full state snapshots; in between, batches go to the journal.
    model : ERDModel, path or None
        The ERD model every session runs. None (the default): each session chooses
        the shipped models exactly as an in-process :class:`~fastscan.Sampler` given
        no model does (the multichannel model for several channels, the texture
        model on texture, the late switch to ``LATE_MODEL``), so a scan through the
        service is the same scan as in process. A given model is run by every
        session as it is, never switched.
    """

    def __init__(
        self,
        state_dir: str | Path | None = None,
        *,
        max_sessions: int = 16,
        max_pixels: int = 4096 * 4096,
        max_total_pixels: int | None = None,
        max_points_per_ingest: int = 1 << 20,
        max_batch_size: int = 10_000,
        snapshot_every: int = 100,
        model: Any = None,
    ) -> None:
        limits = {
            "snapshot_every": snapshot_every,
            "max_sessions": max_sessions,
            "max_pixels": max_pixels,
            "max_total_pixels": 4 * max_pixels if max_total_pixels is None else max_total_pixels,
            "max_points_per_ingest": max_points_per_ingest,
            "max_batch_size": max_batch_size,
        }
        for key, value in limits.items():
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {value!r}")
        self.snapshot_every = int(snapshot_every)
        self.max_sessions = int(max_sessions)
        self.max_pixels = int(max_pixels)
        self.max_total_pixels = int(limits["max_total_pixels"])
        self.max_points_per_ingest = int(max_points_per_ingest)
        self.max_batch_size = int(max_batch_size)
        self.files = None if state_dir is None else SessionFiles(state_dir)
        self.state_dir = None if self.files is None else self.files.state_dir
        #: the model every session runs; None: the sessions choose the shipped models
        self.model = None if model is None else load_model(model)
        self._sessions: dict[str, _Session] = {}
        self._restoring: dict[str, tuple[RestoreJob, int]] = {}  # job, grid pixels
        self._dirty: set[str] = set()
        self._creating: dict[str, int] = {}  # sessions whose Sampler is being built: pixels
        # guards the session tables above (not the samplers: a caller that runs requests
        # in several threads serialises the requests of each session itself, as the
        # server does); held briefly, never while a Sampler works
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ dispatch
    def handle(
        self, op: Any, session: Any, seq: Any, args: Any, arrays: dict[str, np.ndarray]
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Run one operation; returns ``(result, arrays)`` or raises :class:`ServiceError`."""
        if not isinstance(args, dict):
            kind = type(args).__name__
            raise ServiceError("bad_args", f"'args' must be a JSON object, got {kind}")
        if not isinstance(op, str) or op not in OPS:
            raise ServiceError("unknown_op", f"unknown op {op!r}; known: {', '.join(OPS)}")
        if op == "ping":
            with self._lock:
                return self._ping(), {}
        name = self._check_name(session)
        if op == "ingest":
            return self._ingest(name, seq, args, arrays)
        if op in ("load", "close"):
            with self._lock:
                return getattr(self, f"_{op}")(name, args, arrays)
        return getattr(self, f"_{op}")(name, args)

    def flush(self, names: list[str] | None = None) -> None:
        """Save sessions changed since their last flush (no-op without ``state_dir``).

        New batches are appended to the session's journal; every ``snapshot_every``
        batches (and for a new or uploaded session) the full state is written
        instead and the journal starts afresh. ``names`` limits it to those sessions
        (the server flushes the session a request changed, in that request's thread).
        """
        with self._lock:
            todo = sorted(self._dirty if names is None else self._dirty & set(names))
            self._dirty.difference_update(todo)
            entries = [(name, self._sessions.get(name)) for name in todo]
        for name, entry in entries:
            if entry is None or self.files is None:
                continue
            try:
                if entry.needs_snapshot or (
                    entry.last_seq - entry.snapshot_seq >= self.snapshot_every
                ):
                    self.files.write_snapshot(name, entry.sampler)
                    entry.snapshot_seq = entry.last_seq
                    entry.needs_snapshot = False
                else:
                    self.files.append(name, entry.pending)
                entry.pending.clear()
            except OSError as exc:  # keep serving; the client still holds every batch
                log.error("could not save session %r to %s: %s", name, self.state_dir, exc)

    def snapshot_all(self) -> None:
        """Write a full snapshot of every session with journaled batches (on shutdown)."""
        for entry in self._sessions.values():
            if entry.last_seq > entry.snapshot_seq or entry.needs_snapshot:
                entry.needs_snapshot = True
                self._dirty.add(entry.name)
        self.flush()

    def stop_restores(self, timeout: float = 5.0) -> None:
        """Cancel every restore still running and wait for its thread (on shutdown)."""
        jobs = [job for job, _ in self._restoring.values()]
        for job in jobs:
            job.cancel()
        for job in jobs:
            job.thread.join(timeout)

    @property
    def names(self) -> list[str]:
        """Sessions in memory, being restored or saved in ``state_dir``."""
        names = set(self._sessions) | set(self._restoring)
        if self.files is not None:
            names.update(self.files.names())
        return sorted(names)

    @property
    def held_names(self) -> list[str]:
        """Sessions in memory or being restored (not those only saved in ``state_dir``)."""
        with self._lock:
            return sorted(set(self._sessions) | set(self._restoring))

    @property
    def pixels_held(self) -> int:
        """Grid pixels of every session held or being restored (the total-pixel quota)."""
        held = sum(e.sampler.shape[0] * e.sampler.shape[1] for e in self._sessions.values())
        held += sum(self._creating.values())
        return held + sum(pixels for _, pixels in self._restoring.values())

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_name(session: Any) -> str:
        if not isinstance(session, str) or not SESSION_NAME.fullmatch(session):
            raise ServiceError(
                "bad_args",
                f"session name {session!r} is not allowed; use 1-64 letters, digits, '_' or "
                "'-', starting with a letter or digit",
            )
        return session

    def _get(self, name: str) -> _Session:
        with self._lock:
            return self._get_locked(name)

    def _get_locked(self, name: str) -> _Session:
        entry = self._sessions.get(name)
        if entry is not None:
            return entry
        job = self._restoring.get(name, (None, 0))[0]
        if job is None and self.files is not None and self.files.has(name):
            job = self._start_restore(name, self.files.snapshot(name))
        if job is None:
            raise ServiceError("no_session", f"no session named {name!r}; create it first")
        if not job.done.is_set():
            raise ServiceError(
                "busy",
                f"session {name!r} is being restored from its saved state ({job.n_batches} "
                "batches); retry shortly",
                retry_after=0.2,
            )
        del self._restoring[name]
        if job.error is not None:
            raise ServiceError("bad_state", f"cannot restore session {name!r}: {job.error}")
        entry = _Session(name, job.sampler, job.n_batches, snapshot_seq=job.snapshot_seq)
        self._sessions[name] = entry
        if job.save:
            entry.needs_snapshot = True
            self._dirty.add(name)
        log.info("restored session %r (last_seq %d)", name, entry.last_seq)
        return entry

    def _start_restore(self, name: str, path: Path, *, temporary: bool = False) -> RestoreJob:
        """Check a state file, then rebuild its Sampler in a background thread."""
        self._check_room()
        try:
            header, _ = read_state_log(path)
            shape = header.get("params", {}).get("shape")
            self._check_shape(shape)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ServiceError("bad_state", f"cannot restore session {name!r}: {exc}") from None
        except ServiceError as exc:
            message = f"cannot restore session {name!r}: {exc.message}"
            raise ServiceError(exc.code, message) from None
        journal = None if temporary or self.files is None else self.files.journal(name)
        job = RestoreJob(
            path,
            len(header["batches"]),
            model=self.model,
            journal=journal,
            temporary=temporary,
        )
        self._restoring[name] = (job, shape[0] * shape[1])
        return job

    def _cancel_restore(self, name: str) -> None:
        job = self._restoring.pop(name, (None, 0))[0]
        if job is not None:
            job.cancel()

    def restore_all(self) -> list[str]:
        """Start restoring every session saved in ``state_dir``; returns their names."""
        started = []
        for name in self.names:
            if name not in self._sessions and name not in self._restoring:
                try:
                    self._start_restore(name, self.files.snapshot(name))
                    started.append(name)
                except ServiceError as exc:
                    log.error("%s", exc.message)
        return started

    def _check_room(self) -> None:
        held = len(self._sessions) + len(self._restoring) + len(self._creating)
        if held >= self.max_sessions:
            raise ServiceError(
                "too_many_sessions",
                f"the service holds {held} sessions (max_sessions); close one",
            )

    def _check_shape(self, shape: Any) -> None:
        ok = (
            isinstance(shape, list)
            and len(shape) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
        )
        if not ok:
            raise ServiceError("bad_args", f"shape must be [n_rows, n_cols] > 0, got {shape!r}")
        pixels = shape[0] * shape[1]
        if pixels > self.max_pixels:
            raise ServiceError(
                "bad_args",
                f"grid {shape[0]} x {shape[1]} has more than max_pixels={self.max_pixels} pixels",
            )
        held = self.pixels_held
        if held + pixels > self.max_total_pixels:
            raise ServiceError(
                "too_large",
                f"grid {shape[0]} x {shape[1]} would bring the sessions to {held + pixels} "
                f"pixels; the service holds at most max_total_pixels={self.max_total_pixels} "
                "(close a session)",
            )

    def _check_count(self, key: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value > self.max_batch_size:
            raise ServiceError(
                "too_large", f"{key}={value} is over max_batch_size={self.max_batch_size}"
            )

    @staticmethod
    def summary(entry: _Session) -> dict[str, Any]:
        """The small state every session reply carries."""
        s = entry.sampler
        stop = s.should_stop()
        return {
            "session": entry.name,
            "last_seq": entry.last_seq,
            "n_measured": s.n_measured,
            "coverage": s.coverage,
            "should_stop": stop,
            "stop_reason": s.stop_reason,
        }

    # ------------------------------------------------------------------ operations
    def _ping(self) -> dict[str, Any]:
        return {"service": "fastscan", "version": fastscan.__version__, "sessions": self.names}

    def _create(self, name: str, args: dict[str, Any]) -> tuple[dict, dict]:
        unknown = set(args) - CREATE_KEYS
        if unknown:
            raise ServiceError(
                "bad_args",
                f"unknown Sampler option(s) {sorted(unknown)}; allowed: {sorted(CREATE_KEYS)}",
            )
        if "shape" not in args:
            raise ServiceError("bad_args", "create needs 'shape': [n_rows, n_cols]")
        self._check_count("batch_size", args.get("batch_size"))
        with self._lock:
            try:
                entry = self._get_locked(name)
            except ServiceError as exc:
                if exc.code != "no_session":
                    raise
                entry = None
            if entry is None:
                if name in self._creating:
                    raise ServiceError(
                        "busy", f"session {name!r} is being created; retry shortly", retry_after=0.2
                    )
                self._check_shape(args["shape"])
                self._check_room()
                self._creating[name] = args["shape"][0] * args["shape"][1]
        if entry is not None:
            self._check_same(entry, args)
            params = entry.sampler.get_params()
            return {**self.summary(entry), "params": params, "created": False}, {}
        try:  # built outside the lock: a large grid must not hold up other sessions
            sampler = self._new_sampler(args)
        finally:
            with self._lock:
                del self._creating[name]
        entry = _Session(name, sampler, 0, needs_snapshot=True)
        with self._lock:
            self._sessions[name] = entry
            self._dirty.add(name)
        log.info("created session %r: %s", name, sampler)
        return {**self.summary(entry), "params": sampler.get_params(), "created": True}, {}

    def _new_sampler(self, args: dict[str, Any]) -> Sampler:
        kwargs = dict(args)
        shape = tuple(kwargs.pop("shape"))
        try:
            if kwargs.get("motion") is not None:
                motion = kwargs["motion"]
                kwargs["motion"] = MotionModel(
                    **{k: tuple(v) if isinstance(v, list) else v for k, v in motion.items()}
                )
            if "pixel_pitch" in kwargs:
                kwargs["pixel_pitch"] = tuple(kwargs["pixel_pitch"])
            sampler = Sampler(shape, model=self.model, **kwargs)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ServiceError("bad_args", f"cannot create a Sampler: {exc}") from None
        return sampler

    @staticmethod
    def _check_same(entry: _Session, args: dict[str, Any]) -> None:
        """Refuse to attach unless EVERY setting matches (unsent ones at their defaults)."""
        params = entry.sampler.get_params()
        motion = entry.sampler.motion
        params["motion"] = None if motion is None else dataclasses.asdict(motion)
        wanted_all = {key: _CREATE_DEFAULTS.get(key) for key in CREATE_KEYS if key != "shape"}
        wanted_all.update(args)
        for key in sorted(wanted_all):
            wanted, have = wanted_all[key], params.get(key)
            if _normalise(wanted) != _normalise(have):
                sent = "" if key in args else " (not sent: the default)"
                raise ServiceError(
                    "session_exists",
                    f"session {entry.name!r} exists with {key}={have!r}, not {wanted!r}{sent}; "
                    "use another name or the same settings",
                )

    def _ingest(
        self, name: str, seq: Any, args: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> tuple[dict, dict]:
        entry = self._get(name)
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ServiceError("bad_args", f"ingest needs an integer seq >= 1, got {seq!r}")
        if seq <= entry.last_seq:
            if seq == entry.last_seq and entry.reply is not None:
                return entry.reply
            result = {**self.summary(entry), "seq": seq, "duplicate": True}
            return result, self._maybe_suggest(entry, args)
        if seq != entry.last_seq + 1:
            raise ServiceError(
                "seq_gap",
                f"session {name!r} has batches up to seq {entry.last_seq}; got seq {seq}",
                last_seq=entry.last_seq,
            )
        points, values = arrays.get("points"), arrays.get("values")
        if points is None or values is None or set(arrays) != {"points", "values"}:
            raise ServiceError(
                "bad_args",
                f"ingest needs exactly arrays 'points' and 'values', got {sorted(arrays)}",
            )
        if points.dtype.str not in _INT_DTYPES or points.ndim != 2 or points.shape[1] != 2:
            raise ServiceError(
                "bad_args",
                f"points must be an (n, 2) int64/int32 array, got {points.dtype} {points.shape}",
            )
        if values.dtype.str not in _FLOAT_DTYPES or values.shape != (len(points),):
            raise ServiceError(
                "bad_args",
                f"values must be a ({len(points)},) float64/float32 array, got "
                f"{values.dtype} {values.shape}",
            )
        if len(points) == 0:
            raise ServiceError("bad_args", "ingest needs at least one point")
        if len(points) > self.max_points_per_ingest:
            raise ServiceError(
                "too_large",
                f"ingest of {len(points)} points is over max_points_per_ingest="
                f"{self.max_points_per_ingest}; send smaller batches",
            )
        try:
            entry.sampler.ingest(points, values)
        except ValueError as exc:
            raise ServiceError("bad_args", str(exc)) from None
        entry.last_seq = seq
        if self.files is not None:
            entry.pending.append((seq, np.array(points, np.int64), np.array(values, float)))
            with self._lock:
                self._dirty.add(name)
        result = {**self.summary(entry), "seq": seq, "duplicate": False}
        reply = (result, self._maybe_suggest(entry, args))
        entry.reply = reply
        return reply

    @staticmethod
    def _maybe_suggest(entry: _Session, args: dict[str, Any]) -> dict[str, np.ndarray]:
        return {"next": entry.sampler.suggest()} if args.get("suggest") is True else {}

    def _suggest(self, name: str, args: dict[str, Any]) -> tuple[dict, dict]:
        entry = self._get(name)
        n = args.get("n")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
            raise ServiceError("bad_args", f"n must be null or an integer >= 0, got {n!r}")
        self._check_count("n", n)
        return self.summary(entry), {"points": entry.sampler.suggest(n)}

    def _state(self, name: str, args: dict[str, Any]) -> tuple[dict, dict]:
        entry = self._get(name)
        wanted = args.get("arrays", [])
        if not isinstance(wanted, list) or not set(wanted) <= STATE_ARRAYS:
            raise ServiceError(
                "bad_args", f"arrays must be a list from {sorted(STATE_ARRAYS)}, got {wanted!r}"
            )
        s = entry.sampler
        position = s.position
        result = {
            **self.summary(entry),
            "params": s.get_params(),
            "position": None if position is None else position.tolist(),
        }
        return result, {key: np.asarray(getattr(s, key)) for key in wanted}

    def _export(self, name: str, args: dict[str, Any]) -> tuple[dict, dict]:
        entry = self._get(name)
        with tempfile.TemporaryDirectory(prefix="fastscan-export-") as tmp:
            path = entry.sampler.save(Path(tmp) / "state.npz")
            data = np.frombuffer(path.read_bytes(), np.uint8)
        return self.summary(entry), {"state": data}

    def _load(self, name: str, args: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple:
        state = arrays.get("state")
        if state is None or state.dtype.str != "|u1" or state.ndim != 1:
            raise ServiceError("bad_args", "load needs one 1-D uint8 array 'state' (an npz file)")
        exists = name in self._sessions or name in self._restoring
        if exists or (self.files is not None and self.files.has(name)):
            if args.get("overwrite") is not True:
                raise ServiceError(
                    "session_exists", f"session {name!r} exists; pass overwrite=true to replace it"
                )
            self._sessions.pop(name, None)
            self._dirty.discard(name)
            self._cancel_restore(name)
            if self.files is not None:  # its batches must not be replayed onto the new one
                self.files.drop_journal(name)
        fd, tmp = tempfile.mkstemp(prefix="fastscan-load-", suffix=".npz")
        with open(fd, "wb") as fh:
            fh.write(state.tobytes())
        try:
            job = self._start_restore(name, Path(tmp), temporary=True)
        except ServiceError as exc:
            Path(tmp).unlink(missing_ok=True)
            code = exc.code if exc.code in ("too_large", "too_many_sessions") else "bad_args"
            raise ServiceError(code, f"not a usable sampler state: {exc.message}") from None
        return {"session": name, "last_seq": job.n_batches, "restoring": True}, {}

    def _close(self, name: str, args: dict[str, Any], arrays: Any = None) -> tuple[dict, dict]:
        self._cancel_restore(name)
        entry = self._sessions.pop(name, None)
        self._dirty.discard(name)
        closed = entry is not None
        if self.files is not None and self.files.has(name):
            if entry is not None:  # newest state, then retire the files
                self.files.write_snapshot(name, entry.sampler)
            closed = self.files.retire(name)
        log.info("closed session %r", name)
        return {"session": name, "closed": closed}, {}
