"""An embedded, server-less store of Bluesky documents, and replay of stored scans.

:class:`DocumentStore` is a RunEngine callback that appends every document of a
run, as it arrives, to ``<directory>/<run uid>.msgpack`` (one msgpack record
``[name, doc]`` per document, numpy arrays as a typed binary extension, never
pickle) and flushes after each one, so a crash loses nothing already emitted.
:func:`load_run` reads a run back (a truncated last record is ignored);
:func:`replay_points` gives the measured points, values and order of an
autonomous scan.

Examples
--------
>>> from bluesky import RunEngine  # doctest: +SKIP
>>> store = DocumentStore("scans")  # doctest: +SKIP
>>> RE.subscribe(store)  # doctest: +SKIP
>>> run = load_run("scans", uid)  # doctest: +SKIP
>>> points, values, order = replay_points(run)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgpack
import numpy as np

__all__ = [
    "DocumentStore",
    "StoredRun",
    "list_runs",
    "load_run",
    "replay_points",
    "sampler_from_run",
]

_NDARRAY_EXT = 42
SUFFIX = ".msgpack"


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            return obj.tolist()
        arr = np.ascontiguousarray(obj)
        payload = msgpack.packb([arr.dtype.str, list(arr.shape), arr.tobytes()])
        return msgpack.ExtType(_NDARRAY_EXT, payload)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store object of type {type(obj).__name__}: {obj!r}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _NDARRAY_EXT:
        dtype, shape, raw = msgpack.unpackb(data)
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
    return msgpack.ExtType(code, data)


class DocumentStore:
    """RunEngine callback writing each run's documents to its own file.

    Parameters
    ----------
    directory : path
        Created if missing. One ``<uid>.msgpack`` file per run.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[bytes]] = {}  # run uid -> open file
        self._descriptors: dict[str, str] = {}  # descriptor uid -> run uid
        self._lock = threading.Lock()
        self._packer = msgpack.Packer(default=_default, use_bin_type=True)

    def path_of(self, uid: str) -> Path:
        return self.directory / f"{uid}{SUFFIX}"

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        with self._lock:
            run_uid = self._run_of(name, doc)
            if run_uid is None:
                return
            if name == "start":
                self._files[run_uid] = self.path_of(run_uid).open("ab")
            fh = self._files.get(run_uid)
            if fh is None:
                return
            fh.write(self._packer.pack([name, doc]))
            fh.flush()
            if name == "stop":
                self._close(run_uid)

    def _run_of(self, name: str, doc: dict[str, Any]) -> str | None:
        if name == "start":
            return doc["uid"]
        if name in ("stop", "descriptor"):
            run_uid = doc["run_start"]
            if name == "descriptor":
                self._descriptors[doc["uid"]] = run_uid
            return run_uid
        if name in ("event", "event_page"):
            return self._descriptors.get(doc["descriptor"])
        if name in ("resource", "stream_resource"):
            return doc.get("run_start")
        return None  # datum, stream_datum: not used by fastscan runs

    def _close(self, run_uid: str) -> None:
        fh = self._files.pop(run_uid)
        fh.close()
        for desc, run in list(self._descriptors.items()):
            if run == run_uid:
                del self._descriptors[desc]

    def close(self) -> None:
        """Close the files of runs that never got a stop document."""
        with self._lock:
            for uid in list(self._files):
                self._close(uid)


def _read_documents(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open("rb") as fh:
        unpacker = msgpack.Unpacker(fh, ext_hook=_ext_hook, raw=False, strict_map_key=False)
        try:
            for record in unpacker:
                yield record[0], record[1]
        except (msgpack.OutOfData, ValueError):
            return  # truncated last record (crash while writing)


@dataclass
class StoredRun:
    """A run read back from a :class:`DocumentStore` directory."""

    documents: list[tuple[str, dict[str, Any]]]
    start: dict[str, Any] = field(init=False)
    stop: dict[str, Any] | None = field(init=False)
    descriptors: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        if not self.documents or self.documents[0][0] != "start":
            raise ValueError("a stored run must begin with its start document")
        self.start = self.documents[0][1]
        self.stop = next((d for n, d in self.documents if n == "stop"), None)
        self.descriptors = {d["uid"]: d for n, d in self.documents if n == "descriptor"}

    @property
    def uid(self) -> str:
        return self.start["uid"]

    @property
    def streams(self) -> list[str]:
        return sorted({d.get("name", "primary") for d in self.descriptors.values()})

    def events(self, stream: str = "primary") -> list[dict[str, Any]]:
        """Events of one stream in emission order (event pages unpacked)."""
        wanted = {u for u, d in self.descriptors.items() if d.get("name", "primary") == stream}
        events: list[dict[str, Any]] = []
        for name, doc in self.documents:
            if name == "event" and doc["descriptor"] in wanted:
                events.append(doc)
            elif name == "event_page" and doc["descriptor"] in wanted:
                for i, seq in enumerate(doc["seq_num"]):
                    events.append({
                        "descriptor": doc["descriptor"], "seq_num": seq,
                        "time": doc["time"][i], "uid": doc["uid"][i],
                        "data": {k: v[i] for k, v in doc["data"].items()},
                        "timestamps": {k: v[i] for k, v in doc["timestamps"].items()},
                    })  # fmt: skip
        return events

    def table(self, stream: str = "primary") -> dict[str, np.ndarray]:
        """Column arrays of one stream's data (one row per event)."""
        events = self.events(stream)
        keys = sorted({k for e in events for k in e["data"]})
        return {k: np.array([e["data"].get(k) for e in events]) for k in keys}


def list_runs(directory: str | Path) -> list[dict[str, Any]]:
    """Start documents of every stored run, oldest first."""
    starts = []
    for path in Path(directory).glob(f"*{SUFFIX}"):
        first = next(_read_documents(path), None)
        if first is not None and first[0] == "start":
            starts.append(first[1])
    return sorted(starts, key=lambda d: d.get("time", 0.0))


def load_run(directory: str | Path, uid: str) -> StoredRun:
    """Read a stored run back; ``uid`` may be a unique prefix or -1 for the latest."""
    directory = Path(directory)
    if uid == -1 or uid == "-1":
        runs = list_runs(directory)
        if not runs:
            raise FileNotFoundError(f"no stored runs in {directory}")
        uid = runs[-1]["uid"]
    matches = sorted(directory.glob(f"{uid}*{SUFFIX}"))
    if not matches:
        raise FileNotFoundError(f"no stored run with uid {uid!r} in {directory}")
    if len(matches) > 1:
        names = [m.stem for m in matches]
        raise ValueError(f"uid prefix {uid!r} matches several runs: {names}")
    return StoredRun(list(_read_documents(matches[0])))


def replay_points(run: StoredRun, signal: str | None = None) -> tuple[np.ndarray, ...]:
    """Measured points of an autonomous scan, in measurement order.

    Returns
    -------
    points : (n, 2) int64 (row, col)
    values : (n,) float64 readings of ``signal`` (default: the run's fastscan signal)
    order : (n,) int64 sequence numbers (0, 1, ...; gaps mean unrecorded points)

    A point the RunEngine re-played after a hard pause appears once (its first
    event). Feeding ``points, values`` to a fresh Sampler with the run's
    parameters reproduces the scan's reconstruction.
    """
    if signal is None:
        signal = run.start.get("fastscan", {}).get("signal")
        if signal is None:
            raise ValueError("run has no fastscan metadata; pass signal= explicitly")
    seen: set[int] = set()
    points, values, order = [], [], []
    for event in run.events("primary"):
        data = event["data"]
        if "fastscan_seq" not in data:
            raise ValueError(f"event {event['uid']} lacks fastscan_seq: not a fastscan run")
        seq = int(data["fastscan_seq"])
        if seq in seen:
            continue
        seen.add(seq)
        if signal not in data:
            raise ValueError(f"signal {signal!r} not in the events; keys: {sorted(data)}")
        points.append((int(data["fastscan_row"]), int(data["fastscan_col"])))
        values.append(float(data[signal]))
        order.append(seq)
    idx = np.argsort(order, kind="stable")
    return (
        np.array(points, np.int64).reshape(-1, 2)[idx],
        np.array(values, np.float64)[idx],
        np.array(order, np.int64)[idx],
    )


def sampler_from_run(run: StoredRun, *, model: Any = None, **overrides: Any) -> Any:
    """A fresh ``fastscan.Sampler`` with the run's parameters that has ingested its readings.

    Readings are ingested batch by batch in measurement order, so the sampler is
    in the state the scan left it in (e.g. to continue an interrupted scan in a
    new run, or to compare reconstructions offline). ``model`` (default: the
    shipped one) and ``overrides`` (e.g. ``max_coverage=0.3``) replace stored
    settings. Non-finite readings (stored when a detector failed) are skipped.
    """
    from fastscan import Sampler

    stored = dict(run.start.get("fastscan", {}).get("sampler_params") or {})
    if "shape" not in stored:
        raise ValueError("run has no fastscan sampler parameters; not a fastscan run")
    shape = tuple(stored.pop("shape"))
    if "pixel_pitch" in stored:
        stored["pixel_pitch"] = tuple(stored["pixel_pitch"])
    accepted = set(inspect.signature(Sampler).parameters)
    params = {k: v for k, v in {**stored, **overrides}.items() if k in accepted}
    sampler = Sampler(shape, model=model, **params)
    points, values, order = replay_points(run)
    events = {int(e["data"]["fastscan_seq"]): e["data"] for e in run.events("primary")}
    batches = np.array([int(events[int(seq)]["fastscan_batch"]) for seq in order], np.int64)
    finite = np.isfinite(values)
    for batch in np.unique(batches):
        sel = (batches == batch) & finite
        if sel.any():
            sampler.ingest(points[sel], values[sel])
    return sampler
