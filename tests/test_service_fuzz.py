"""Garbage, truncated, oversized and wrong messages never take the service down."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
import zmq

from fastscan.service import Connection, RemoteSampler, SamplerServer
from fastscan.service.protocol import decode, encode

LIMIT = 64 * 1024  # small message limit so "oversized" stays cheap


@pytest.fixture(scope="module")
def server() -> Iterator[SamplerServer]:
    with SamplerServer("tcp://127.0.0.1:0", max_message_bytes=LIMIT) as srv:
        yield srv


@pytest.fixture
def raw(server) -> Iterator[zmq.Socket]:
    """A plain DEALER socket that sends whatever a test gives it."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    yield sock
    sock.close(0)
    ctx.term()


def exchange(sock: zmq.Socket, frames: list, timeout_ms: int = 2000) -> dict | None:
    """Send ``[b"", *frames]``; the decoded reply header, or None if none came."""
    sock.send_multipart([b"", *frames])
    if not sock.poll(timeout_ms):
        return None
    reply = sock.recv_multipart()
    assert reply[0] == b""
    header, _ = decode(reply[1:])
    return header


_IDS = iter(range(10**9))


def request(op: str, arrays: dict | None = None, **fields) -> list:
    return encode({"op": op, "id": f"fz-{next(_IDS)}", **fields}, arrays)


def assert_healthy(server: SamplerServer) -> None:
    conn = Connection(server.endpoint, timeout=2.0, retries=0)
    try:
        header, _ = conn.request("ping")
    finally:
        conn.close()
    assert header["ok"] and header["result"]["service"] == "fastscan"


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([b"\x00\x01garbage"], "bad_message"),
        ([b'{"v": 1, "op": "ping"'], "bad_message"),  # truncated JSON
        ([b"[" * 60_000], "bad_message"),  # nesting deep enough to exhaust the JSON parser
        ([b'{"v": 1, "op": "ping", "id": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"], "bad_message"),
        ([json.dumps({"v": 99, "op": "ping", "id": 1}).encode()], "version"),
        ([json.dumps({"v": 1, "op": "launch", "id": 1}).encode()], "unknown_op"),
        ([json.dumps({"v": 1, "op": ["ping"], "id": 1}).encode()], "unknown_op"),
        ([json.dumps({"v": 1, "op": "suggest", "session": None}).encode()], "bad_args"),
        ([json.dumps({"v": 1, "op": "suggest", "session": "nope"}).encode()], "no_session"),
        ([json.dumps({"v": 1, "op": "create", "session": "s", "args": []}).encode()], "bad_args"),
        (
            [json.dumps({"v": 1, "op": "create", "session": "s", "args": {"shape": [2]}}).encode()],
            "bad_args",
        ),
        (
            [
                json.dumps(
                    {"v": 1, "op": "create", "session": "s", "args": {"shape": [99999, 99999]}}
                ).encode()
            ],
            "bad_args",
        ),
        (
            [
                json.dumps(
                    {
                        "v": 1,
                        "op": "create",
                        "session": "s",
                        "args": {"shape": [20, 20], "model": "/etc/passwd"},
                    }
                ).encode()
            ],
            "bad_args",
        ),
    ],
)
def test_bad_requests_get_error_replies(server, raw, frames, code) -> None:
    header = exchange(raw, frames)
    assert header is not None and header["ok"] is False
    assert header["error"]["code"] == code
    assert_healthy(server)


def test_wrong_arrays_in_ingest_are_refused(server, raw) -> None:
    create = exchange(raw, request("create", session="arr", args={"shape": [20, 30]}))
    assert create["ok"], create
    cases = [
        ({"points": np.zeros((2, 2), np.float64), "values": np.ones(2)}, "int64/int32"),
        ({"points": np.zeros((2, 3), np.int64), "values": np.ones(2)}, "int64/int32"),
        ({"points": np.zeros((2, 2), np.int64), "values": np.ones(3)}, "float64/float32"),
        ({"points": np.zeros((2, 2), np.int64), "values": np.ones(2, np.int64)}, "float64"),
        ({"points": np.zeros((2, 2), np.int64)}, "exactly arrays"),
        ({"points": np.zeros((0, 2), np.int64), "values": np.ones(0)}, "at least one point"),
        ({"points": np.array([[99, 0]]), "values": np.ones(1)}, "outside the grid"),
        ({"points": np.array([[1, 1]]), "values": np.array([np.inf])}, "finite"),
    ]
    for arrays, match in cases:
        header = exchange(raw, request("ingest", session="arr", seq=1, arrays=arrays))
        header = header or {}
        assert header.get("ok") is False and match in header["error"]["message"], header
    for seq in (0, -1, True, "1", None, 1.5):
        arrays = {"points": np.array([[1, 1]]), "values": np.ones(1)}
        header = exchange(raw, request("ingest", session="arr", seq=seq, arrays=arrays))
        assert header["ok"] is False and header["error"]["code"] == "bad_args"
    state = exchange(raw, request("state", session="arr"))
    assert state["ok"] and state["result"]["n_measured"] == 0 and state["result"]["last_seq"] == 0


def test_oversized_messages_do_not_stop_the_service(server, raw) -> None:
    # over the total limit but under the socket's per-frame limit: an error reply
    over = encode({"op": "ping", "id": "big"}, {"a": np.zeros(LIMIT // 8 + 16)})
    header = exchange(raw, over)
    assert header["ok"] is False and header["error"]["code"] == "too_large"
    parts = {f"a{i}": np.zeros(LIMIT // 16) for i in range(3)}
    header = exchange(raw, encode({"op": "ping", "id": "x"}, parts))
    assert header["ok"] is False and header["error"]["code"] == "too_large"
    huge_header = [json.dumps({"v": 1, "op": "ping", "pad": "x" * 70_000}).encode()]
    header = exchange(raw, huge_header)
    assert header["ok"] is False and header["error"]["code"] == "too_large"
    assert_healthy(server)
    # a frame over zmq.MAXMSGSIZE: libzmq drops that connection, the service goes on
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    try:
        giant = encode({"op": "ping", "id": "giant"}, {"a": np.zeros(LIMIT)})
        assert exchange(sock, giant, timeout_ms=300) is None
    finally:
        sock.close(0)
        ctx.term()
    assert_healthy(server)


def test_many_small_frames_are_stopped_at_the_total_limits(server, raw) -> None:
    """The limits bound the whole message: many frames under MAXMSGSIZE each are refused."""
    head = request("ping")[0]
    small = b"x" * 1024
    # frame count: a few more frames than the protocol allows, each tiny
    header = exchange(raw, [head, *[small] * 20])
    assert header["ok"] is False and header["error"]["code"] == "too_large"
    assert "frames" in header["error"]["message"] and header["id"] == json.loads(head)["id"]
    # total bytes: few frames, each under the per-frame limit, together over it
    part = b"y" * (LIMIT - 1000)
    assert 3 * len(part) > server.max_total_bytes - LIMIT and 4 < server.max_frames
    header = exchange(raw, [head, part, part, part])
    assert header["ok"] is False and header["error"]["code"] == "too_large"
    assert "bytes in total" in header["error"]["message"]
    assert_healthy(server)


def test_receiving_keeps_only_frames_within_the_limits() -> None:
    """Frames past a limit are read and dropped, not kept until the whole message is in."""
    srv = SamplerServer("tcp://127.0.0.1:0", max_message_bytes=LIMIT)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(srv.endpoint)
        sock.send_multipart([b"", request("ping")[0], *[b"z" * 1024] * 2000])
        assert srv._socket.poll(5000)
        frames, refusal = srv._receive()
        assert refusal is not None and len(frames) <= srv.max_frames
        assert sum(len(f) for f in frames) <= srv.max_total_bytes
        assert not srv._socket.getsockopt(zmq.RCVMORE)  # the rest was drained
    finally:
        sock.close(0)
        ctx.term()
        srv.stop()


def test_random_garbage_never_crashes_the_service(server, raw) -> None:
    rng = np.random.default_rng(1234)
    valid = request("ping")[0]
    errors_before = server.n_errors
    n_messages = 300
    for i in range(n_messages):
        kind = i % 4
        if kind == 0:  # random bytes, random number of frames
            frames = [rng.bytes(int(rng.integers(0, 200))) for _ in range(rng.integers(1, 12))]
        elif kind == 1:  # a valid header cut short
            frames = [valid[: int(rng.integers(0, len(valid)))]]
        elif kind == 2:  # a valid header with random bytes flipped
            b = bytearray(valid)
            for j in rng.integers(0, len(b), 3):
                b[j] = int(rng.integers(0, 256))
            frames = [bytes(b)]
        else:  # plausible JSON with random field values and a random trailing frame
            fields = {
                "v": 1,
                "op": str(rng.choice(["ingest", "create", "state", "suggest"])),
                "session": str(rng.choice(["s", "", "a/b", "arr"])),
                "seq": int(rng.integers(-3, 5)),
                "args": {
                    "shape": [int(v) for v in rng.integers(-5, 50, 2)],
                    "n": int(rng.integers(-2, 5)),
                },
                "arrays": [
                    {
                        "name": "points",
                        "dtype": str(rng.choice(["<i8", "<f8", "x"])),
                        "shape": [int(rng.integers(0, 4)), 2],
                    }
                ],
            }
            frames = [json.dumps(fields).encode(), rng.bytes(int(rng.integers(0, 64)))]
        raw.send_multipart([b"", *frames])
    replies = 0
    while raw.poll(2000):
        raw.recv_multipart()
        replies += 1
        if replies == n_messages:
            break
    assert replies == n_messages  # every message, however broken, got an answer
    assert server.n_errors > errors_before
    assert_healthy(server)
    with RemoteSampler(
        (20, 30),
        address=server.endpoint,
        session="after-fuzz",
        timeout=2.0,
        batch_size=5,
        max_coverage=0.1,
    ) as rs:
        points = rs.suggest()
        rs.ingest(points, np.ones(len(points)))
        assert rs.n_measured == len(points) and len(rs.suggest()) == 5


def test_message_without_delimiter_frame_from_a_router_peer(server) -> None:
    """DEALER peers may skip the empty delimiter frame; the reply comes back the same way."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    try:
        sock.send_multipart(request("ping"))
        assert sock.poll(2000)
        header, _ = decode(sock.recv_multipart())
        assert header["ok"] and header["id"].startswith("fz-")
    finally:
        sock.close(0)
        ctx.term()


def test_frame_server_survives_any_message() -> None:
    """The model-frame server: garbage, deep JSON, oversized and odd frames never stop it."""
    import struct
    import threading

    from fastscan.models.wire import encode_frame
    from fastscan.models.zmq_frames import FrameSubscriber, serve

    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind("tcp://127.0.0.1:*")
    frames_ep = pub.getsockopt_string(zmq.LAST_ENDPOINT)
    with pytest.raises(ValueError, match="not a loopback address"):
        serve("tcp://0.0.0.0:5", "tcp://127.0.0.1:*", ["otsu"])
    ready: list[str] = []
    stop = threading.Event()
    counts: dict = {}
    thread = threading.Thread(
        target=lambda: counts.update(
            serve(
                frames_ep,
                "tcp://127.0.0.1:*",
                ["otsu"],
                stop=stop,
                ready=ready.append,
                max_message_bytes=200_000,
            )
        ),
        daemon=True,
    )
    thread.start()
    rng = np.random.default_rng(7)
    image = rng.random((24, 32))
    mask = rng.random((24, 32)) < 0.3

    def header_message(header: bytes, payload: bytes = b"") -> bytes:
        return b"frame\0" + struct.pack("<I", len(header)) + header + payload

    try:
        for _ in range(100):
            if ready:
                break
            threading.Event().wait(0.05)
        results = FrameSubscriber(ready[0], topics=(b"result",), conflate=False)

        def answered(frame_id: int) -> bool:
            for _ in range(60):  # also covers the subscription's slow start
                pub.send(encode_frame(image, mask, frame_id))
                got = results.recv(timeout=0.2, latest=False)
                if got is not None and got.meta.get("frame_id") == frame_id:
                    return True
            return False

        assert answered(1)
        garbage = [
            b"",
            b"frame",
            b"frame\0\xff\xff\xff\xff",
            header_message(b"[" * 50_000),  # deep JSON: a RecursionError before the fix
            header_message(b'{"schema": "fastscan.frame/1", "sizes": [1e400]}'),
            header_message(b'{"schema": "fastscan.frame/1", "frame_id": 1e400, "sizes": []}'),
            header_message(
                json.dumps(
                    {
                        "schema": "fastscan.frame/1",
                        "frame_id": "x",
                        "shape": [1, 1],
                        "sizes": [8, 1],
                    }
                ).encode(),
                b"\0" * 9,
            ),
            header_message(
                json.dumps(
                    {"schema": "fastscan.frame/1", "frame_id": 3, "shape": [-1, 5], "sizes": [0, 0]}
                ).encode()
            ),
            encode_frame(np.zeros((5, 7)), np.zeros((5, 7), bool), 4),  # another grid: refused?
            b"frame\0" + b"x" * 300_000,  # over max_message_bytes: libzmq drops the connection
            *[b"frame\0" + rng.bytes(int(rng.integers(1, 300))) for _ in range(30)],
        ]
        for message in garbage:
            pub.send(message)
            threading.Event().wait(0.01)
        assert answered(2) and thread.is_alive()
        results.close()
    finally:
        stop.set()
        thread.join(30)
        pub.close(0)
    assert not thread.is_alive()
    assert counts["malformed"] >= 5 and counts["received"] >= 2
    assert counts["reconnects"] >= 1  # the oversized message: libzmq dropped the connection
