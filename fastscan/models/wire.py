"""The wire format of frames and model results: one message, JSON header + raw arrays, no pickle.

A message is a single ZMQ frame (so ``ZMQ_CONFLATE`` can keep the newest)::

    topic (b"frame" | b"result") + b"\0" + header length (uint32, little endian)
    + header (JSON, UTF-8) + payload bytes

* frame header ``{"schema": "fastscan.frame/1", "frame_id", "shape", "timestamp",
  "meta", "sizes"}``, payload the reconstruction (float64, C order) then the mask
  (uint8);
* result header ``{"schema": "fastscan.result/1", "frame_id", "model", "kind",
  "shape", "dtype", "error", "latency_s", "timestamp", "meta", "sizes"}``, payload
  the output (empty when ``error`` is set).

Decoding trusts nothing: sizes, dtypes (a fixed allow-list) and shapes are
checked against the payload, and anything malformed is a ``ValueError``.

Examples
--------
>>> import numpy as np
>>> from fastscan.models.wire import decode, encode_frame
>>> frame = decode(encode_frame(np.ones((8, 8)), np.eye(8, dtype=bool), 3, {"coverage": 0.1}))
>>> frame.frame_id, frame.reconstruction.shape, int(frame.mask.sum()), frame.meta
(3, (8, 8), 8, {'coverage': 0.1})
"""

from __future__ import annotations

import itertools
import struct
import time
from typing import Any

import numpy as np

from fastscan.jsonsafe import dumps, loads
from fastscan.models.live import Frame, ModelResult

__all__ = ["FRAME_SCHEMA", "MAX_HEADER_BYTES", "RESULT_SCHEMA", "decode", "encode_frame",
           "encode_result"]  # fmt: skip

FRAME_SCHEMA = "fastscan.frame/1"
RESULT_SCHEMA = "fastscan.result/1"
_DTYPES = {"float64", "float32", "int32", "uint8"}
#: Largest JSON header a message may carry.
MAX_HEADER_BYTES = 64 * 1024


def _pack(topic: bytes, header: dict, payloads: list[np.ndarray]) -> bytes:
    header = {**header, "sizes": [int(p.nbytes) for p in payloads]}
    blob = dumps(header).encode()  # strict JSON: a NaN in meta becomes null
    return b"".join(
        [topic, b"\0", struct.pack("<I", len(blob)), blob, *(p.tobytes() for p in payloads)]
    )


def encode_frame(
    reconstruction: np.ndarray, mask: np.ndarray, frame_id: int, meta: dict | None = None
) -> bytes:
    """One frame as a message (a copy: the caller may change its arrays afterwards)."""
    recon = np.ascontiguousarray(reconstruction, dtype=np.float64)
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if recon.ndim != 2 or m.shape != recon.shape:
        raise ValueError(
            f"frame needs a 2-D image and same-shape mask, got {recon.shape}, {m.shape}"
        )
    header = {
        "schema": FRAME_SCHEMA,
        "frame_id": int(frame_id),
        "shape": list(recon.shape),
        "timestamp": time.time(),
        "meta": meta or {},
    }
    return _pack(b"frame", header, [recon, m])


def encode_result(result: ModelResult) -> bytes:
    """One model result as a message."""
    output = None if result.output is None else np.ascontiguousarray(result.output)
    header = {
        "schema": RESULT_SCHEMA,
        "frame_id": int(result.frame_id),
        "model": result.model,
        "kind": result.kind,
        "shape": None if output is None else list(output.shape),
        "dtype": None if output is None else str(output.dtype),
        "error": result.error,
        "latency_s": float(result.latency_s),
        "timestamp": float(result.timestamp),
        "meta": result.meta,
    }
    return _pack(b"result", header, [] if output is None else [output])


def _array(buffer: bytes, dtype: Any, shape: Any, what: str) -> np.ndarray:
    if dtype not in _DTYPES:
        raise ValueError(f"{what} dtype {dtype!r} is not one of {sorted(_DTYPES)}")
    ok = isinstance(shape, list) and len(shape) == 2
    if not (ok and all(isinstance(v, int) and v > 0 for v in shape)):
        raise ValueError(f"{what} shape must be two positive integers, got {shape!r}")
    expected = shape[0] * shape[1] * np.dtype(dtype).itemsize
    if len(buffer) != expected:
        raise ValueError(
            f"{what} has {len(buffer)} bytes, shape {shape} of {dtype} needs {expected}"
        )
    return np.frombuffer(buffer, dtype=dtype).reshape(shape).copy()


def _unpack(message: bytes) -> tuple[bytes, dict, list[bytes]]:
    topic, sep, rest = bytes(message).partition(b"\0")
    if not sep or len(rest) < 4:
        raise ValueError("message is too short: expected topic, NUL and a header length")
    (n_header,) = struct.unpack("<I", rest[:4])
    if n_header > MAX_HEADER_BYTES:
        raise ValueError(f"message header is {n_header} bytes; at most {MAX_HEADER_BYTES} allowed")
    if len(rest) < 4 + n_header:
        raise ValueError(f"message header claims {n_header} bytes, only {len(rest) - 4} present")
    try:
        header = loads(rest[4 : 4 + n_header])  # depth-limited: no RecursionError
    except ValueError as exc:
        raise ValueError(f"message header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError("message header must be a JSON object")
    sizes = header.get("sizes")
    if not (isinstance(sizes, list) and all(isinstance(n, int) and n >= 0 for n in sizes)):
        raise ValueError(f"message header has invalid payload sizes {sizes!r}")
    payload = rest[4 + n_header :]
    if sum(sizes) != len(payload):
        raise ValueError(f"message payload has {len(payload)} bytes, header says {sum(sizes)}")
    offsets = [0, *np.cumsum(sizes).tolist()]
    return topic, header, [payload[a:b] for a, b in itertools.pairwise(offsets)]


def decode(message: bytes) -> Frame | ModelResult:
    """Parse a frame or result message; ValueError for anything malformed."""
    try:
        return _decode(message)
    except ValueError:
        raise
    except (KeyError, TypeError, AttributeError, OverflowError, struct.error) as exc:
        raise ValueError(f"malformed message ({type(exc).__name__}: {exc})") from None


def _decode(message: bytes) -> Frame | ModelResult:
    topic, header, parts = _unpack(message)
    if topic == b"frame":
        if header.get("schema") != FRAME_SCHEMA or len(parts) != 2:
            raise ValueError(f"frame schema {header.get('schema')!r} with {len(parts)} arrays; "
                             f"this fastscan reads {FRAME_SCHEMA!r} with 2")  # fmt: skip
        shape = header.get("shape")
        recon = _array(parts[0], "float64", shape, "frame reconstruction")
        mask = _array(parts[1], "uint8", shape, "frame mask").astype(bool)
        return Frame(int(header["frame_id"]), recon, mask, float(header["timestamp"]),
                     dict(header.get("meta") or {}))  # fmt: skip
    if topic == b"result":
        if header.get("schema") != RESULT_SCHEMA or len(parts) > 1:
            raise ValueError(f"result schema {header.get('schema')!r}; this fastscan reads "
                             f"{RESULT_SCHEMA!r}")  # fmt: skip
        output = None
        if header.get("error") is None:
            if len(parts) != 1:
                raise ValueError("result without error has no output array")
            output = _array(parts[0], header.get("dtype"), header.get("shape"), "result")
        return ModelResult(
            int(header["frame_id"]), str(header["model"]), str(header["kind"]), output,
            header.get("error"), float(header["latency_s"]), float(header["timestamp"]),
            dict(header.get("meta") or {}),
        )  # fmt: skip
    raise ValueError(f"unknown message topic {topic!r}; expected b'frame' or b'result'")
