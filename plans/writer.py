"""``tiled_writer``: bluesky's TiledWriter behind a queue, so storage never holds up a scan.

The RunEngine hands each document to :class:`BufferedTiledWriter`, which only
puts it on a queue (microseconds). One background thread feeds the queue to
``bluesky_tiled_plugins.TiledWriter``, which writes events in batches. At a
run's stop document the callback waits (by default) until that run is in the
catalogue, so ``catalog[uid]`` works as soon as ``RE(...)`` returns; the scan
itself never waits. At interpreter exit what is queued is written.

A run whose writing fails is not lost: its documents are kept (``failed``)
and, with ``backup_directory``, written there as JSON lines; the error is
logged at once and raised by :meth:`BufferedTiledWriter.flush`.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.plans.catalog import _at_exit

__all__ = ["BufferedTiledWriter", "StorageError", "tiled_writer"]

logger = logging.getLogger("fastscan.plans")

_CLOSE = object()


class StorageError(RuntimeError):
    """Documents could not be written to the catalogue (they are kept in ``failed``)."""


def tiled_writer(
    client: Any,
    *,
    batch_size: int = 500,
    wait_at_stop: bool = True,
    stop_timeout: float = 120.0,
    backup_directory: str | Path | None = None,
) -> BufferedTiledWriter:
    """The RunEngine callback that stores runs in a Tiled catalogue without blocking.

    Parameters
    ----------
    client : tiled client
        From :func:`fastscan.plans.local_catalog` or
        :func:`fastscan.plans.connect_catalog` (needs write access).
    batch_size : int
        Events per table write (TiledWriter's ``batch_size``). Readers of the
        catalogue see a running scan's points in steps of this many.
    wait_at_stop : bool
        At a stop document, wait until the run is written (so it is readable
        when ``RE(...)`` returns). False returns at once.
    stop_timeout : float
        Seconds to wait at a stop document before giving up waiting (the
        writing goes on in the background; a warning is logged).
    backup_directory : path, optional
        Where the documents of a run that could not be written go (JSON lines).

    Returns
    -------
    BufferedTiledWriter

    Examples
    --------
    >>> from fastscan.plans import local_catalog, tiled_writer  # doctest: +SKIP
    >>> writer = tiled_writer(local_catalog("scans"))  # doctest: +SKIP
    >>> RE.subscribe(writer)  # doctest: +SKIP
    """
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if not stop_timeout > 0:
        raise ValueError(f"stop_timeout must be > 0 seconds, got {stop_timeout!r}")
    for method in ("create_container", "new"):
        if not hasattr(client, method):
            raise TypeError(
                f"client must be a writable tiled client (container), got {type(client).__name__}"
            )
    return BufferedTiledWriter(
        client, int(batch_size), bool(wait_at_stop), float(stop_timeout), backup_directory
    )


class BufferedTiledWriter:
    """A TiledWriter fed from a queue by a background thread. Make it with :func:`tiled_writer`.

    Attributes
    ----------
    errors : list of (run uid, exception)
        Failures so far (also logged).
    failed : dict
        Run uid -> every document of that run, for runs that could not be written.
    """

    def __init__(self, client: Any, batch_size: int, wait_at_stop: bool, stop_timeout: float,
                 backup_directory: str | Path | None) -> None:  # fmt: skip
        from bluesky_tiled_plugins import TiledWriter

        self._writer = TiledWriter(client, batch_size=batch_size)
        self.wait_at_stop = wait_at_stop
        self.stop_timeout = stop_timeout
        self.backup_directory = None if backup_directory is None else Path(backup_directory)
        self.errors: list[tuple[str | None, BaseException]] = []
        self.failed: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.written: list[str] = []
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._docs: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._run_of: dict[str, str] = {}  # descriptor / stream resource uid -> run uid
        self._done = threading.Condition()
        self._processed = 0
        self._submitted = 0
        self._thread = threading.Thread(target=self._drain, name="fastscan-tiled-writer",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        _at_exit(self.close)  # before the embedded catalogue stops (registered earlier)

    # ------------------------------------------------------------------ RunEngine side
    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        if not self._thread.is_alive():
            raise StorageError("the tiled writer is closed; subscribe a new one")
        self._submitted += 1
        ticket = self._submitted
        self._queue.put((name, doc))
        if name == "stop" and self.wait_at_stop:
            t0 = time.monotonic()
            if not self._wait_for(ticket, self.stop_timeout):
                logger.warning(
                    "run %s not yet in the catalogue after %.0f s; writing goes on in the "
                    "background", doc.get("run_start"), time.monotonic() - t0,
                )  # fmt: skip

    def flush(self, timeout: float = 120.0) -> None:
        """Wait until everything queued is written; raise :class:`StorageError` on failures."""
        if not self._wait_for(self._submitted, timeout):
            raise StorageError(f"documents still queued after {timeout} s")
        if self.errors:
            uids = sorted({uid or "?" for uid, _ in self.errors})
            where = f"; documents kept in .failed and in {self.backup_directory}" if (
                self.backup_directory) else "; documents kept in .failed"  # fmt: skip
            raise StorageError(
                f"{len(self.errors)} error(s) writing run(s) {uids}: {self.errors[0][1]!r}{where}"
            ) from self.errors[0][1]

    def close(self, timeout: float = 120.0) -> None:
        """Write what is queued and stop the thread (also done at interpreter exit)."""
        if self._thread.is_alive():
            self._queue.put((_CLOSE, None))
            self._thread.join(timeout)

    @property
    def pending(self) -> int:
        """Documents received but not yet handed to TiledWriter."""
        return self._submitted - self._processed

    def _wait_for(self, ticket: int, timeout: float) -> bool:
        with self._done:
            return (
                self._done.wait_for(
                    lambda: self._processed >= ticket or not self._thread.is_alive(), timeout
                )
                and self._processed >= ticket
            )

    # ------------------------------------------------------------------ writer thread
    def _drain(self) -> None:
        while True:
            name, doc = self._queue.get()
            if name is _CLOSE:
                with self._done:
                    self._done.notify_all()
                return
            try:
                self._write(name, doc)
            finally:
                with self._done:
                    self._processed += 1
                    self._done.notify_all()

    def _write(self, name: str, doc: dict[str, Any]) -> None:
        uid = self._track(name, doc)
        if uid is not None:
            self._docs.setdefault(uid, []).append((name, doc))
        if uid in self.failed:
            self.failed[uid].append((name, doc))
            self._maybe_backup(name, uid)
            return
        try:
            self._writer(name, doc)
        except Exception as exc:
            logger.error("writing %s of run %s to the catalogue failed: %r", name, uid, exc)
            self.errors.append((uid, exc))
            if uid is not None:
                self.failed[uid] = self._docs.pop(uid, [])
                self._maybe_backup(name, uid)
            return
        if name == "stop" and uid is not None:
            self._docs.pop(uid, None)
            self.written.append(uid)

    def _track(self, name: str, doc: dict[str, Any]) -> str | None:
        if name == "start":
            return doc["uid"]
        if name in ("descriptor", "stream_resource", "resource"):
            run = doc.get("run_start")
            if run:
                self._run_of[doc["uid"]] = run
            return run
        if name == "stop":
            return doc["run_start"]
        if name in ("event", "event_page"):
            return self._run_of.get(doc["descriptor"])
        if name == "stream_datum":
            return self._run_of.get(doc["stream_resource"])
        return None

    def _maybe_backup(self, name: str, uid: str) -> None:
        if self.backup_directory is None or name != "stop":
            return
        self.backup_directory.mkdir(parents=True, exist_ok=True)
        path = self.backup_directory / f"{uid}.jsonl"
        with path.open("w") as fh:
            for doc_name, doc in self.failed[uid]:
                fh.write(json.dumps([doc_name, doc], default=_json_default) + "\n")
        logger.error("documents of run %s written to %s", uid, path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON: {obj!r}")
