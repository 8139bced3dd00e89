"""Abuse figures: many small frames at the sampler service, oversized and deep messages at the
model-frame server; RSS before and after, and whether both still answer.

The attack of issue 9: one message of ``--frames`` frames of ``--frame-bytes`` each
(100,000 x 4 kB = 400 MB by default), every frame under the per-frame
``zmq.MAXMSGSIZE`` of the service. The service runs as a subprocess (``python -m
fastscan.service``) from ``--repo`` (default: this repository), so the same script
measures another checkout, e.g. the code before the fix. RSS is read from
``/proc/<pid>/status`` (VmRSS now, VmHWM the peak).

Run from the repository root::

    python benchmarks/bench_abuse.py
    python benchmarks/bench_abuse.py --frames 100000 --frame-bytes 1024
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zmq

REPO = Path(__file__).resolve().parents[1]


def _status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0]) / 1024
    return out


def _start(cmd: list[str], repo: Path, marker: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(
        cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    line = proc.stdout.readline()
    if marker not in line:
        proc.kill()
        raise RuntimeError(f"{cmd[2]} did not start: {line!r}")
    return proc, line.split()[-1]


def _ping(ctx: zmq.Context, endpoint: str, timeout_ms: int = 5000) -> bool:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        head = json.dumps({"v": 1, "op": "ping", "id": "p", "arrays": []}).encode()
        sock.send_multipart([b"", head])
        if not sock.poll(timeout_ms):
            return False
        reply = json.loads(sock.recv_multipart()[1])
        return bool(reply.get("ok"))
    finally:
        sock.close(0)


def attack_service(repo: Path, n_frames: int, frame_bytes: int) -> dict:
    proc, endpoint = _start(
        [sys.executable, "-m", "fastscan.service", "--bind", "tcp://127.0.0.1:0",
         "--no-warm-up"], repo, "listening on",
    )  # fmt: skip
    ctx = zmq.Context()
    try:
        assert _ping(ctx, endpoint)
        before = _status(proc.pid)
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.connect(endpoint)
        head = json.dumps({"v": 1, "op": "ping", "id": "attack", "arrays": []}).encode()
        chunk = b"x" * frame_bytes
        t0 = time.perf_counter()
        sock.send_multipart([b"", head, *([chunk] * n_frames)], copy=False)
        answered = sock.poll(120_000)
        reply = json.loads(sock.recv_multipart()[1]) if answered else None
        seconds = time.perf_counter() - t0
        sock.close(0)
        time.sleep(0.5)
        after = _status(proc.pid)
        alive = _ping(ctx, endpoint)
    finally:
        proc.terminate()
        proc.wait(30)
        ctx.term()
    return {
        "server": "service",
        "frames": n_frames,
        "bytes": n_frames * frame_bytes,
        "reply": None if reply is None else reply.get("error", {}).get("code"),
        "reply_s": round(seconds, 2),
        "rss_before_mib": round(before["VmRSS"], 1),
        "rss_after_mib": round(after["VmRSS"], 1),
        "peak_rss_mib": round(after["VmHWM"], 1),
        "still_answers": alive,
    }


def attack_frame_server(repo: Path, big_bytes: int) -> dict:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind("tcp://127.0.0.1:*")
    frames = pub.getsockopt_string(zmq.LAST_ENDPOINT)
    proc, results = _start(
        [sys.executable, "-m", "fastscan.models.zmq_frames", "serve", "--frames", frames,
         "--results", "tcp://127.0.0.1:*", "--segment", "otsu"], repo, "ready",
    )  # fmt: skip
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"result\0")
    sub.connect(results)
    sys.path.insert(0, str(repo))
    from fastscan.models.wire import encode_frame

    rng = np.random.default_rng(0)
    image, mask = rng.random((32, 40)), rng.random((32, 40)) < 0.3

    def answers(frame_id: int) -> bool:
        for _ in range(100):
            if proc.poll() is not None:
                return False
            pub.send(encode_frame(image, mask, frame_id))
            if sub.poll(200):
                sub.recv()
                return True
        return False

    try:
        assert answers(0)
        before = _status(proc.pid)
        deep = b"[" * 100_000
        messages = {
            "deep JSON header (100,000 levels)": b"frame\0" + struct.pack("<I", len(deep)) + deep,
            f"one message of {big_bytes} bytes": b"frame\0" + b"x" * big_bytes,
            "header length 4 GB": b"frame\0\xff\xff\xff\xff",
            "random bytes x 50": None,
        }
        for _name, message in messages.items():
            batch = [rng.bytes(200) for _ in range(50)] if message is None else [message]
            for m in batch:
                pub.send(m)
            time.sleep(0.3)
        alive = answers(1)
        after = _status(proc.pid) if proc.poll() is None else {"VmRSS": 0.0, "VmHWM": 0.0}
    finally:
        sub.close(0)
        pub.close(0)
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        ctx.term()
    return {
        "server": "frame server",
        "messages": list(messages),
        "bytes": big_bytes + len(deep),
        "rss_before_mib": round(before["VmRSS"], 1),
        "rss_after_mib": round(after["VmRSS"], 1),
        "peak_rss_mib": round(after["VmHWM"], 1),
        "still_answers": alive,
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose code to attack")
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--frame-bytes", type=int, default=4096)
    parser.add_argument("--big-bytes", type=int, default=400 * 1024 * 1024,
                        help="size of the one oversized message at the frame server")  # fmt: skip
    parser.add_argument("--skip-frame-server", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rows = [attack_service(args.repo.resolve(), args.frames, args.frame_bytes)]
    if not args.skip_frame_server:
        rows.append(attack_frame_server(args.repo.resolve(), args.big_bytes))
    for row in rows:
        print(json.dumps(row))
    return 0 if all(r["still_answers"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
