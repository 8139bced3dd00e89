"""Append-only journal of ingested batches, between two full sampler snapshots.

Saving the whole sampler state after every batch costs in proportion to the
scan so far; appending the batch costs in proportion to the batch. The service
therefore writes a full :meth:`fastscan.Sampler.save` snapshot now and then and,
in between, appends each batch to ``<session>.journal``. A record is::

    b"FSJ1" | seq (int64) | n (int64) | crc32 (uint32) | points (n x 2 int64) | values (n float64)

little-endian, the CRC covering seq, n and the payload. :func:`read_journal`
returns the records up to the first truncated or corrupt one (a crash in the
middle of an append loses only that batch, which the client still holds and
re-sends).

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "s.journal"
>>> append_batch(path, 1, np.array([[1, 2]]), np.array([0.5]))
>>> [(seq, p.tolist(), v.tolist()) for seq, p, v in read_journal(path)]
[(1, [[1, 2]], [0.5])]
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["append_batch", "read_journal"]

_MAGIC = b"FSJ1"
_HEAD = struct.Struct("<4sqqI")
_MAX_POINTS = 1 << 26


def _crc(seq: int, n: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<qq", seq, n))) & 0xFFFFFFFF


def append_batch(
    path: str | Path, seq: int, points: np.ndarray, values: np.ndarray, *, fsync: bool = False
) -> None:
    """Append one batch (``seq``, (n, 2) points, (n,) values) to the journal at ``path``."""
    pts = np.ascontiguousarray(points, dtype="<i8").reshape(-1, 2)
    vals = np.ascontiguousarray(values, dtype="<f8").reshape(-1)
    if len(pts) != len(vals):
        raise ValueError(f"{len(pts)} points but {len(vals)} values")
    payload = pts.tobytes() + vals.tobytes()
    record = _HEAD.pack(_MAGIC, int(seq), len(pts), _crc(int(seq), len(pts), payload)) + payload
    with open(path, "ab") as fh:
        fh.write(record)
        fh.flush()
        if fsync:
            os.fsync(fh.fileno())


def read_journal(path: str | Path) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Records of the journal at ``path`` (none if it does not exist), in file order.

    Reading stops at the first record that is truncated or fails its checks.
    """
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    records = []
    offset = 0
    while offset + _HEAD.size <= len(data):
        magic, seq, n, crc = _HEAD.unpack_from(data, offset)
        if magic != _MAGIC or not 0 < n <= _MAX_POINTS:
            break
        start = offset + _HEAD.size
        end = start + 24 * n
        if end > len(data):
            break
        payload = data[start:end]
        if _crc(seq, n, payload) != crc:
            break
        points = np.frombuffer(payload[: 16 * n], "<i8").reshape(n, 2).astype(np.int64)
        values = np.frombuffer(payload[16 * n :], "<f8").astype(np.float64)
        records.append((seq, points, values))
        offset = end
    return records
