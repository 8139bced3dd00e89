"""Sampler service latency: ingest + suggest over loopback ZMQ vs in-process (not run by CI).

Brings a :class:`fastscan.Sampler` to ``--coverage`` (default 10 %) on the
WSe2 image (600 x 400; a phantom if the file is missing), then times
``--steps`` steps of "ingest a 50-point batch, suggest the next one":

1. in-process: the Sampler's own calls;
2. remote: a :class:`fastscan.service.RemoteSampler` talking to
   ``python -m fastscan.service`` in another process over ``tcp://127.0.0.1``,
   starting from the same state (uploaded with ``RemoteSampler.load``), with
   the next batch prefetched in the ingest reply (one round trip per step) and
   without (two round trips); each with and without ``--state-dir`` autosave,
   and with an emulated acquisition gap between steps (autosave runs after the
   reply, so a gap hides it).

Both samplers step in lockstep (same state, same pixels, alternating) so they
see the same machine load. Prints median / 90th percentile per step, the median
of the per-step differences, and the service overhead measured directly: the
client's wall time per step minus the time the service reports spending in its
handler (so it holds transport, (de)serialisation, validation and the client's
bookkeeping, not the sampler's own work). Also the bare round trip of a ``ping``
and how long restoring the session (``Sampler.load``) takes.

Usage::

    python benchmarks/bench_service.py [--image PATH] [--coverage 0.1] [--steps 100]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fastscan import Sampler
from fastscan.service import Connection, RemoteSampler

#: default --image: ../shared/data relative to the repository
_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
WSE2 = _DATA / "wse2_darkfield_600x400.tif"


def load_truth(path: Path | None) -> tuple[np.ndarray, str]:
    if path is not None and path.is_file():
        import tifffile

        image = np.asarray(tifffile.imread(path), float)
        if image.ndim == 3:
            image = image.mean(axis=-1)
        return image, path.name
    from fastscan.phantoms import make_phantom

    return make_phantom("flakes", (600, 400), seed=0), "phantom flakes 600x400"


def start_server(state_dir: Path | None, blas_threads: int = 1) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "fastscan.service", "--bind", "tcp://127.0.0.1:0"]
    cmd += ["--blas-threads", str(blas_threads)]
    if state_dir is not None:
        cmd += ["--state-dir", str(state_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("fastscan service listening on"):
        proc.kill()
        raise RuntimeError(f"service did not start: {line!r}")
    return proc, line.split()[-1]


def lockstep(local, remote, truth: np.ndarray, steps: int, gap: float):
    """Seconds per (ingest batch, suggest next) step for both samplers, step by step.

    Both start from the same state and take the same pixels each step, so they do
    the same work; alternating them exposes both to the same machine load.
    """
    times = np.zeros((steps, 2))
    overhead = np.zeros(steps)
    todo = [local.suggest(), remote.suggest()]
    for i in range(steps):
        for k, sampler in enumerate((local, remote)):
            points = todo[k]
            values = truth[points[:, 0], points[:, 1]]
            if gap:
                time.sleep(gap)
            served = getattr(sampler, "server_time", 0.0)
            t0 = time.perf_counter()
            sampler.ingest(points, values)
            todo[k] = sampler.suggest()
            times[i, k] = time.perf_counter() - t0
            overhead[i] = times[i, k] - (getattr(sampler, "server_time", 0.0) - served)
    return times[:, 0], times[:, 1], overhead


def describe(label: str, times: np.ndarray, base: np.ndarray | None = None) -> None:
    med, p90 = np.median(times) * 1e3, np.percentile(times, 90) * 1e3
    added = ""
    if base is not None:
        added = f"   added: median of per-step differences {np.median(times - base) * 1e3:+.2f} ms"
    print(f"  {label:<44s} median {med:7.2f} ms   p90 {p90:7.2f} ms{added}")


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=WSE2)
    parser.add_argument("--coverage", type=float, default=0.10)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.02, help="emulated acquisition, s")
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="npz file to keep the starting sampler state in between runs",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads, here and in the service (0: library default)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.blas_threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")

    truth, name = load_truth(args.image)
    print(
        f"image: {name} {truth.shape}, batch {args.batch_size}, from "
        f"{args.coverage:.0%} coverage, {args.steps} steps per case, "
        f"BLAS threads {args.blas_threads or 'default'}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        start = Path(tmp) / "start.npz"
        if args.cache is not None and args.cache.is_file():
            start = args.cache
        else:
            sampler = Sampler(
                truth.shape,
                batch_size=args.batch_size,
                seed=0,
                max_coverage=0.9,
                change_tolerance=None,
            )
            t0 = time.perf_counter()
            while sampler.coverage < args.coverage:
                pts = sampler.suggest()
                sampler.ingest(pts, truth[pts[:, 0], pts[:, 1]])
            print(
                f"reached {sampler.coverage:.1%} ({sampler.n_measured} points) in "
                f"{time.perf_counter() - t0:.1f} s"
            )
            sampler.save(start if args.cache is None else args.cache)
            start = start if args.cache is None else args.cache
        t0 = time.perf_counter()
        local = Sampler.load(start)
        print(
            f"Sampler.load of that state (what a restarted service does): "
            f"{time.perf_counter() - t0:.1f} s"
        )
        for state_dir in (None, Path(tmp) / "state"):
            proc, endpoint = start_server(state_dir, args.blas_threads)
            try:
                if state_dir is None:
                    conn = Connection(endpoint, timeout=5.0)
                    rtt = []
                    for _ in range(200):
                        t = time.perf_counter()
                        conn.request("ping")
                        rtt.append(time.perf_counter() - t)
                    conn.close()
                    describe("ZMQ round trip (ping, no sampler work)", np.array(rtt))
                here = Path(tmp) / "here.npz"
                local.save(here)
                t0 = time.perf_counter()
                remote = RemoteSampler.load(
                    here, address=endpoint, session="bench", timeout=5.0, restore_timeout=900.0
                )
                where = "autosave (--state-dir)" if state_dir else "no autosave"
                print(
                    f"service {where}: session restored in {time.perf_counter() - t0:.1f} s, "
                    f"coverage {remote.coverage:.1%}"
                )
                cases = [("prefetch: 1 round trip per step", True, 0.0)]
                if state_dir is None:
                    cases.append(("no prefetch: 2 round trips per step", False, 0.0))
                else:
                    cases.append(
                        (f"prefetch, {args.gap * 1e3:.0f} ms acquisition gap", True, args.gap)
                    )
                for label, prefetch, gap in cases:
                    remote.prefetch = prefetch
                    t_local, t_remote, overhead = lockstep(local, remote, truth, args.steps, gap)
                    print(f" {label} (coverage now {local.coverage:.1%}):")
                    describe("in-process Sampler", t_local)
                    describe("RemoteSampler over tcp://127.0.0.1", t_remote, t_local)
                    describe("service overhead (step minus server work)", overhead)
                remote.close(end_session=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    main()
