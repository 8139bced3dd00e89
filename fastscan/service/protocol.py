"""Wire format of the sampler service: one JSON header frame plus raw array frames.

A message is a list of ZMQ frames::

    [header (UTF-8 JSON object), array_0 bytes, array_1 bytes, ...]

The header always carries ``"v": 1`` (:data:`PROTOCOL_VERSION`) and, under
``"arrays"``, one descriptor ``{"name", "dtype", "shape"}`` per following frame.
Arrays travel as their raw C-order bytes in one of the few dtypes in
:data:`ALLOWED_DTYPES`; nothing is ever pickled. Requests add ``"op"``,
``"id"`` (chosen by the client, echoed in the reply), ``"session"``, ``"seq"``
(ingest only) and ``"args"`` (a JSON object). Replies add ``"ok"`` and either
``"result"`` (a JSON object) or ``"error"`` (``{"code", "message"}``, with any
details such as ``last_seq`` in ``"result"``); successful replies also carry
``"t_s"``, the seconds the service spent handling the request.

Operations (see :mod:`fastscan.service.sessions`): ``ping``, ``create``,
``ingest`` (arrays ``points`` (n, 2) int and ``values`` (n,) float, ``seq``),
``suggest``, ``state``, ``export``, ``load``, ``close``. Error codes:
``bad_message``, ``version``, ``bad_array``, ``too_large``, ``unknown_op``,
``bad_args``, ``no_session``, ``session_exists``, ``seq_gap``, ``busy``,
``bad_state``, ``too_many_sessions``, ``internal``.

:func:`decode` checks everything a peer could get wrong (frame count, header
size and JSON, version, descriptor dtypes and shapes against the frame sizes,
total size) and raises :class:`ProtocolError` with a code and a readable message.

Examples
--------
>>> import numpy as np
>>> frames = encode({"op": "ingest", "id": "a1"}, {"values": np.arange(3.0)})
>>> header, arrays = decode(frames)
>>> header["op"], arrays["values"].tolist()
('ingest', [0.0, 1.0, 2.0])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fastscan.jsonsafe import dumps, loads

__all__ = [
    "ALLOWED_DTYPES",
    "DEFAULT_ADDRESS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "MAX_ARRAYS",
    "MAX_HEADER_BYTES",
    "PROTOCOL_VERSION",
    "ProtocolError",
    "decode",
    "encode",
    "error_reply",
]

PROTOCOL_VERSION = 1
#: Where ``fastscan serve`` listens and :class:`RemoteSampler` connects by default.
DEFAULT_ADDRESS = "tcp://127.0.0.1:5577"
MAX_HEADER_BYTES = 64 * 1024
MAX_ARRAYS = 8
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: dtypes that may appear on the wire (little-endian numbers, bytes, booleans).
ALLOWED_DTYPES = frozenset({"<i8", "<i4", "<f8", "<f4", "|u1", "|b1"})
_MAX_NDIM = 3
_MAX_NAME = 64


class ProtocolError(ValueError):
    """A message that breaks the wire format; ``code`` names the kind of fault.

    Parameters
    ----------
    code : str
        Short machine-readable fault name (``"bad_message"``, ``"version"``,
        ``"too_large"``, ``"bad_array"``, ...).
    message : str
        What was wrong and what is allowed.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _wire_dtype(arr: np.ndarray) -> np.ndarray:
    """The array in a wire dtype (little-endian), C-contiguous."""
    dt = arr.dtype
    if dt == np.bool_:
        target = np.dtype("|b1")
    elif np.issubdtype(dt, np.integer):
        target = np.dtype("<i8") if dt.itemsize > 4 or dt == np.uint32 else np.dtype("<i4")
        if dt == np.uint8:
            target = np.dtype("|u1")
    elif np.issubdtype(dt, np.floating):
        target = np.dtype("<f4") if dt.itemsize <= 4 else np.dtype("<f8")
    else:
        raise ProtocolError(
            "bad_array", f"array dtype {dt} cannot be sent; allowed: {sorted(ALLOWED_DTYPES)}"
        )
    return np.ascontiguousarray(arr, dtype=target)


def encode(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> list:
    """Frames for ``header`` (completed with ``v`` and array descriptors) and ``arrays``.

    Parameters
    ----------
    header : mapping
        JSON-serialisable fields; ``"v"`` and ``"arrays"`` are filled in here.
    arrays : mapping of name to ndarray, optional
        Arrays to send after the header, in the mapping's order.

    Returns
    -------
    list
        ``[header_bytes, buffer, ...]`` ready for ``socket.send_multipart``.
    """
    descriptors = []
    buffers = []
    for name, value in (arrays or {}).items():
        arr = _wire_dtype(np.asarray(value))
        descriptors.append({"name": str(name), "dtype": arr.dtype.str, "shape": list(arr.shape)})
        buffers.append(memoryview(arr).cast("B") if arr.size else b"")
    full = dict(header)
    full["v"] = PROTOCOL_VERSION
    full["arrays"] = descriptors
    text = dumps(full, unknown="raise", separators=(",", ":"))
    return [text.encode(), *buffers]


def _frame_bytes(frame: Any) -> bytes | memoryview:
    return frame.buffer if hasattr(frame, "buffer") else frame


def _check_descriptor(desc: object, index: int) -> tuple[str, np.dtype, tuple[int, ...]]:
    if not isinstance(desc, dict):
        raise ProtocolError("bad_array", f"array descriptor {index} must be an object")
    name, dtype, shape = desc.get("name"), desc.get("dtype"), desc.get("shape")
    if not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME:
        raise ProtocolError("bad_array", f"array {index} needs a name of 1..{_MAX_NAME} chars")
    if dtype not in ALLOWED_DTYPES:
        raise ProtocolError(
            "bad_array",
            f"array {name!r} has dtype {dtype!r}; allowed: {sorted(ALLOWED_DTYPES)}",
        )
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_NDIM
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)
    ):
        raise ProtocolError(
            "bad_array",
            f"array {name!r} has shape {shape!r}; need a list of at most {_MAX_NDIM} "
            "non-negative integers",
        )
    return name, np.dtype(dtype), tuple(shape)


def decode(
    frames: Sequence[Any], *, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse and validate frames from :func:`encode`.

    Parameters
    ----------
    frames : sequence of bytes-like
        The message body (routing envelope already removed).
    max_bytes : int
        Largest total size of the array frames accepted.

    Returns
    -------
    header : dict
        The JSON header (``"arrays"`` removed).
    arrays : dict of name to ndarray
        Read-only arrays viewing the frames.

    Raises
    ------
    ProtocolError
        For any violation, with a code and a message naming the bad value.
    """
    if len(frames) == 0:
        raise ProtocolError("bad_message", "empty message; need a JSON header frame")
    if len(frames) > MAX_ARRAYS + 1:
        raise ProtocolError(
            "too_large", f"message has {len(frames)} frames; at most {MAX_ARRAYS + 1} allowed"
        )
    raw = _frame_bytes(frames[0])
    if len(raw) > MAX_HEADER_BYTES:
        raise ProtocolError(
            "too_large", f"header is {len(raw)} bytes; at most {MAX_HEADER_BYTES} allowed"
        )
    try:
        header = loads(bytes(raw))  # depth-limited
    except (ValueError, RecursionError) as exc:
        raise ProtocolError("bad_message", f"header is not UTF-8 JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_message", "header must be a JSON object")
    version = header.get("v")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            "version",
            f"protocol version {version!r} is not supported; this service speaks "
            f"v={PROTOCOL_VERSION}",
        )
    descriptors = header.pop("arrays", [])
    if not isinstance(descriptors, list):
        raise ProtocolError("bad_array", "header field 'arrays' must be a list")
    buffers = frames[1:]
    if len(descriptors) != len(buffers):
        raise ProtocolError(
            "bad_array",
            f"header describes {len(descriptors)} arrays but {len(buffers)} frames follow",
        )
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for index, (desc, frame) in enumerate(zip(descriptors, buffers)):
        name, dtype, shape = _check_descriptor(desc, index)
        if name in arrays:
            raise ProtocolError("bad_array", f"array name {name!r} appears twice")
        data = _frame_bytes(frame)
        expected = math.prod(shape) * dtype.itemsize
        if len(data) != expected:
            raise ProtocolError(
                "bad_array",
                f"array {name!r} ({dtype.str}, shape {list(shape)}) needs {expected} bytes, "
                f"frame has {len(data)}",
            )
        total += expected
        if total > max_bytes:
            raise ProtocolError(
                "too_large", f"arrays exceed {max_bytes} bytes (message size limit)"
            )
        arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape)
    return header, arrays


def error_reply(request_id: Any, op: Any, code: str, message: str, **result: Any) -> list:
    """Frames of an error reply (``ok: false``) echoing ``request_id``."""
    safe_id = request_id if isinstance(request_id, (str, int)) else None
    safe_op = op if isinstance(op, str) and len(op) <= _MAX_NAME else None
    header = {
        "id": safe_id,
        "op": safe_op,
        "ok": False,
        "error": {"code": code, "message": message},
        "result": result,
    }
    return encode(header)
