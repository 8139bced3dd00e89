"""How long one slow request on one session holds up another session's decision steps.

Session "quick" scans a phantom (``--shape``, batch 50) step by step through a
RemoteSampler; meanwhile session "slow" sends slow requests: ``create`` of a
``--big`` x ``--big`` grid, an ``ingest`` of 1 % of its pixels (a full update
of the reconstruction and ERD), ``state`` with its reconstruction and ERD, then
``export``. Printed: the quick session's median step time alone, and its longest
step while each slow request ran (also in units of median steps). The service runs
as a subprocess from ``--repo`` (default: this repository), so the same script
measures another checkout.

Run from the repository root::

    python benchmarks/bench_stall.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# the slow session's requests, run as ``python -c _SLOW_CLIENT ENDPOINT BIG``; prints
# {op: [start, end, ok]} in time.monotonic() seconds (one clock for every process)
_SLOW_CLIENT = """
import json, sys, time
import numpy as np
from fastscan.service import Connection
endpoint, big = sys.argv[1], int(sys.argv[2])
conn = Connection(endpoint, timeout=600.0, retries=0)
rng = np.random.default_rng(0)
points = np.unique(rng.integers(0, big, (big * big // 100, 2)), axis=0)
values = rng.random(len(points))
windows = {}
for op, kwargs in (
    ("create", {"args": {"shape": [big, big], "batch_size": 50}}),
    ("ingest", {"seq": 1, "arrays": {"points": points, "values": values}}),
    ("state", {"args": {"arrays": ["reconstruction", "erd"]}}),
    ("export", {}),
):
    t0 = time.monotonic()
    header, _ = conn.request(op, session="slow", **kwargs)
    windows[op] = [t0, time.monotonic(), bool(header.get("ok"))]
conn.close()
print(json.dumps(windows))
"""


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--shape", type=int, nargs=2, default=(200, 300))
    parser.add_argument("--big", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=30, help="quick steps before and after")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    from fastscan.phantoms import make_phantom
    from fastscan.service import RemoteSampler

    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastscan.service", "--bind", "tcp://127.0.0.1:0"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    endpoint = proc.stdout.readline().split()[-1]
    truth = make_phantom("flakes", tuple(args.shape), seed=3)
    steps: list[tuple[float, float]] = []  # (start, end) of each quick step
    stop = threading.Event()
    try:
        quick = RemoteSampler(tuple(args.shape), address=endpoint, session="quick",
                              batch_size=50, max_coverage=0.9, timeout=120.0)  # fmt: skip

        def scan() -> None:
            while not stop.is_set():
                t0 = time.monotonic()
                points = quick.suggest()
                quick.ingest(points, truth[points[:, 0], points[:, 1]])
                steps.append((t0, time.monotonic()))

        worker = threading.Thread(target=scan, daemon=True)
        worker.start()
        while len(steps) < args.steps:
            time.sleep(0.05)
        # the slow session's client runs in its own process, so decoding its large replies
        # cannot hold up the quick client's thread (that would be this script's stall, not
        # the service's)
        slow = subprocess.run(
            [sys.executable, "-c", _SLOW_CLIENT, endpoint, str(args.big)],
            cwd=repo, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        windows = {op: tuple(w) for op, w in json.loads(slow.stdout).items()}
        n_before = len(steps)
        while len(steps) < n_before + args.steps:
            time.sleep(0.05)
        stop.set()
        worker.join(60)
        quick.close()
    finally:
        stop.set()
        proc.terminate()
        proc.wait(30)
    durations = np.array([b - a for a, b in steps])
    median = float(np.median(durations[: args.steps]))
    report = {"repo": str(repo), "quick_shape": list(args.shape), "median_step_s": round(median, 4)}
    for op, (t0, t1, ok) in windows.items():
        overlapping = [b - a for a, b in steps if a < t1 and b > t0]
        longest = max(overlapping, default=0.0)
        report[op] = {
            "ok": ok,
            "slow_request_s": round(t1 - t0, 3),
            "quick_steps_meanwhile": len(overlapping),
            "longest_quick_step_s": round(longest, 4),
            "longest_in_median_steps": round(longest / median, 1),
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
