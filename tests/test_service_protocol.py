"""Wire format of the sampler service: encode/decode and its validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastscan.service.protocol import (
    MAX_ARRAYS,
    MAX_HEADER_BYTES,
    PROTOCOL_VERSION,
    ProtocolError,
    decode,
    encode,
    error_reply,
)


def _header(frames: list) -> dict:
    return json.loads(bytes(frames[0]))


def test_round_trip_keeps_arrays_and_fields() -> None:
    points = np.array([[1, 2], [3, 4]], np.int64)
    values = np.array([0.5, -1.5])
    frames = encode({"op": "ingest", "id": "x-1", "seq": 7}, {"points": points, "values": values})
    assert _header(frames)["v"] == PROTOCOL_VERSION
    header, arrays = decode(frames)
    assert header["op"] == "ingest" and header["seq"] == 7 and "arrays" not in header
    assert arrays["points"].dtype == np.int64 and np.array_equal(arrays["points"], points)
    assert np.array_equal(arrays["values"], values)


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (np.arange(4, dtype=np.int32), "<i4"),
        (np.arange(4, dtype=np.uint8), "|u1"),
        (np.arange(4, dtype=np.float32), "<f4"),
        (np.arange(4, dtype=">f8"), "<f8"),
        (np.ones(4, bool), "|b1"),
        (np.zeros((0, 2), np.int64), "<i8"),
    ],
)
def test_arrays_travel_in_little_endian_wire_dtypes(value: np.ndarray, wire: str) -> None:
    frames = encode({"op": "x"}, {"a": value})
    assert _header(frames)["arrays"][0]["dtype"] == wire
    _, arrays = decode(frames)
    assert arrays["a"].shape == value.shape
    assert np.array_equal(arrays["a"], value)


def test_object_arrays_are_refused_when_encoding() -> None:
    with pytest.raises(ProtocolError, match="cannot be sent"):
        encode({"op": "x"}, {"a": np.array(["text"], object)})


def _raw(header: dict, *buffers: bytes) -> list[bytes]:
    return [json.dumps(header).encode(), *buffers]


@pytest.mark.parametrize(
    ("frames", "code", "match"),
    [
        ([], "bad_message", "empty message"),
        ([b"\xff\xfe"], "bad_message", "not UTF-8 JSON"),
        ([b"{not json"], "bad_message", "not UTF-8 JSON"),
        ([b"[1, 2]"], "bad_message", "JSON object"),
        (_raw({"op": "ping"}), "version", "version None"),
        (_raw({"v": 2, "op": "ping"}), "version", "version 2"),
        (
            _raw({"v": 1, "arrays": [{"name": "a", "dtype": "|O", "shape": [1]}]}, b"x" * 8),
            "bad_array",
            "dtype '|O'",
        ),
        (
            _raw({"v": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [3]}]}, b"x" * 8),
            "bad_array",
            "needs 24 bytes, frame has 8",
        ),
        (
            _raw({"v": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [-1]}]}, b""),
            "bad_array",
            "non-negative",
        ),
        (
            _raw(
                {"v": 1, "arrays": [{"name": "a", "dtype": "<f8", "shape": [1, 1, 1, 1]}]}, b"x" * 8
            ),
            "bad_array",
            "at most 3",
        ),
        (_raw({"v": 1, "arrays": []}, b"stray"), "bad_array", "describes 0 arrays but 1"),
        (_raw({"v": 1, "arrays": "nope"}), "bad_array", "must be a list"),
        (
            _raw(
                {
                    "v": 1,
                    "arrays": [
                        {"name": "a", "dtype": "|u1", "shape": [1]},
                        {"name": "a", "dtype": "|u1", "shape": [1]},
                    ],
                },
                b"x",
                b"y",
            ),
            "bad_array",
            "appears twice",
        ),
        ([b"{}" + b" " * MAX_HEADER_BYTES], "too_large", "header is"),
        ([b'{"v": 1}'] + [b""] * (MAX_ARRAYS + 1), "too_large", "frames"),
    ],
)
def test_malformed_messages_raise_protocol_error(frames: list, code: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match) as info:
        decode(frames)
    assert info.value.code == code


def test_total_size_limit_is_enforced() -> None:
    frames = encode({"op": "x"}, {"a": np.zeros(1000)})
    decode(frames, max_bytes=8000)
    with pytest.raises(ProtocolError, match="exceed 7999 bytes") as info:
        decode(frames, max_bytes=7999)
    assert info.value.code == "too_large"


def test_error_reply_drops_ids_it_cannot_echo() -> None:
    header, _ = decode(error_reply({"weird": 1}, "op" * 100, "bad_args", "boom", last_seq=3))
    assert header["ok"] is False and header["id"] is None and header["op"] is None
    assert header["error"] == {"code": "bad_args", "message": "boom"}
    assert header["result"] == {"last_seq": 3}
