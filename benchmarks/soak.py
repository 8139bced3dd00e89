"""Fault soak: an autonomous scan on the simulated beamline that keeps being broken.

The beamline is real processes on loopback: the caproto IOC (``fastscan.sim.ioc``),
the Bluesky RunEngine with the project's Ophyd devices, and ``fastscan serve`` as a
subprocess with a state directory. Each plan run gets one fault, chosen at random,
at a random reading:

- ``service_kill``: SIGKILL the service and start it again (same endpoint and state);
- ``ioc_restart``: SIGKILL the IOC;
- ``nan_burst``: ``P:det:nan`` = 1 (NaN readings);
- ``motor_stall``: ``P:fault:stall`` = 1 (the motors never arrive);
- ``ca_disconnect``: ``P:det:disconnect`` = 1 (the detector PVs go away).

After each run the operator-style recovery clears the fault (restarting the IOC
where it is gone or its detector disconnected) and starts a new plan run with a
new :class:`fastscan.service.RemoteSampler` on the same service session. After
every recovery the script checks that the service's session holds exactly the
finite readings of the documents, in order: none lost, none duplicated. At the
end a local :class:`fastscan.Sampler` is given the same readings in the same
batches, and its reconstruction, ERD and stop decision must equal the
service's. A NaN reading is stored in the documents but, by design, never
ingested (the pixel stays unmeasured).

"30 minutes of scanning" is counted in readings: ``--seconds-per-point`` (default
0.2 s, a fluorescence dwell of 100-200 ms plus the move) times the readings taken;
the defaults (150 x 200 grid to 30 % coverage: 9,000 readings) make 30 minutes.

Run from the repository root (writes a JSON report)::

    python benchmarks/soak.py --out soak_report.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.service.process import ServiceProcess, start_service_subprocess

FAULTS = ("service_kill", "ioc_restart", "nan_burst", "motor_stall", "ca_disconnect")


class _Segment:
    """The RemoteSampler for one plan run, which the operator ends after ``limit`` readings.

    Everything else is the RemoteSampler's (the scan's own stop rule included).
    """

    def __init__(self, sampler: Any, limit: int) -> None:
        self._sampler = sampler
        self._until = sampler.n_measured + limit

    def should_stop(self) -> bool:
        return self._sampler.should_stop() or self._sampler.n_measured >= self._until

    @property
    def stop_reason(self) -> str | None:
        return self._sampler.stop_reason or "end of this run's segment"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sampler, name)


class Soak:
    """One soak: the processes, the documents, the counters (see the module doc)."""

    def __init__(self, *, shape: tuple[int, int], batch_size: int, max_coverage: float,
                 seed: int, work_dir: Path, prefix: str, env: dict[str, str],
                 log: Any = print) -> None:  # fmt: skip
        from fastscan.plans import Grid

        self.shape = shape
        self.grid = Grid(0.0, shape[1] - 1.0, shape[1], 0.0, shape[0] - 1.0, shape[0])
        self.opts = {"batch_size": batch_size, "seed": seed, "max_coverage": max_coverage,
                     "pixel_pitch": self.grid.pitch}  # fmt: skip
        self.rng = np.random.default_rng(seed)
        self.work_dir = work_dir
        self.prefix = prefix
        self.env = env
        self.log = log
        self.docs: list[tuple[str, dict]] = []
        self.faults: list[dict[str, Any]] = []
        self.checks: list[dict[str, int]] = []
        self.service: ServiceProcess | None = None
        self.endpoint = "tcp://127.0.0.1:0"
        self.ioc = None
        self.stage = self.det = None

    # ------------------------------------------------------------------ processes
    def start_service(self) -> None:
        self.service = start_service_subprocess(
            self.endpoint, state_dir=self.work_dir / "state", extra_args=["--no-warm-up"]
        )
        self.endpoint = self.service.endpoint

    def start_ioc(self) -> None:
        from fastscan.sim.ioc import start_ioc_subprocess

        self.ioc = start_ioc_subprocess(self.prefix, env=self.env, shape=self.shape,
                                        velocity=1000.0)  # fmt: skip

    def connect(self) -> None:
        from fastscan.devices import EpicsScalarDetector, NanoprobeStage

        if self.stage is None:
            self.stage = NanoprobeStage(self.ioc.pv("x"), self.ioc.pv("y"), name="stage")
            self.det = EpicsScalarDetector(self.ioc.pv("det:"), name="det")
        deadline = time.monotonic() + 120  # CA reconnects by search back-off (no repeater)
        while True:  # connected, and a real read of every device goes through
            try:
                self.stage.wait_for_connection(timeout=5)
                self.det.wait_for_connection(timeout=5)
                self.stage.x.read()
                self.stage.y.read()
                self.det.read()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        for dev in (self.stage, self.det):
            if dev is not None:
                dev.destroy()
        if self.ioc is not None:
            self.ioc.stop()
        if self.service is not None:
            self.service.stop()

    # ------------------------------------------------------------------ faults
    def _inject(self, kind: str) -> None:
        import epics

        pv = {"nan_burst": "det:nan", "motor_stall": "fault:stall",
              "ca_disconnect": "det:disconnect"}  # fmt: skip
        if kind == "service_kill":
            self.service.process.kill()  # SIGKILL: no chance to save anything
            self.service.stop()
            self.start_service()  # the RemoteSampler retries until it answers
        elif kind == "ioc_restart":
            threading.Thread(target=self.ioc.kill).start()
        else:
            epics.caput(self.ioc.pv(pv[kind]), 1, wait=False)

    def _recover(self, kind: str) -> None:
        import epics

        if kind in ("ioc_restart", "ca_disconnect"):
            self.ioc.stop()
            self.start_ioc()
        elif kind == "nan_burst":
            epics.caput(self.ioc.pv("det:nan"), 0, wait=True)
        elif kind == "motor_stall":
            epics.caput(self.ioc.pv("fault:stall"), 0, wait=True)
            self.stage.x.stop()
            self.stage.y.stop()
        self.connect()

    # ------------------------------------------------------------------ runs
    def run_once(self, fault: str | None) -> dict[str, Any]:
        """One plan run (with one fault injected at a random reading), then its recovery."""
        from bluesky import RunEngine

        from fastscan.plans import ScanFault, autonomous_scan
        from fastscan.service import RemoteSampler

        sampler = RemoteSampler(self.shape, address=self.endpoint, session="soak", timeout=2.0,
                                retries=30, **self.opts)  # fmt: skip
        batch = self.opts["batch_size"]
        at = int(self.rng.integers(3, 4 * batch))  # the fault's reading in this run
        state = {"n": 0, "injected": False}

        def inject(name: str, doc: dict) -> None:
            if fault is None or state["injected"] or name != "event":
                return
            if "det_value" in doc["data"]:
                state["n"] += 1
                if state["n"] == at:
                    state["injected"] = True
                    self._inject(fault)

        RE = RunEngine({}, call_returns_result=True)
        RE.subscribe(lambda name, doc: self.docs.append((name, doc)))
        RE.subscribe(inject)
        outcome = "success"
        t0 = time.monotonic()
        try:
            RE(autonomous_scan([self.det], self.stage.x, self.stage.y, grid=self.grid,
                               signal="det_value", sampler=_Segment(sampler, 6 * batch),
                               recon_every=0, move_timeout=1.0, read_timeout=1.0))  # fmt: skip
        except ScanFault as exc:
            outcome = f"ScanFault: {str(exc)[:120]}"
        finally:
            stop = sampler.should_stop()
            sampler.close()
        record = {"fault": fault, "injected": state["injected"], "outcome": outcome,
                  "run_s": round(time.monotonic() - t0, 2), "done": bool(stop)}  # fmt: skip
        if fault is not None and state["injected"]:
            self._recover(fault)
        elif outcome != "success":  # e.g. a channel still reconnecting: reconnect, go on
            self.connect()
        record["check"] = self.check()
        self.log(json.dumps(record))
        return record

    def readings(self) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]]]:
        """Finite readings of the documents in order, and the (run, batch) of each."""
        run_of = {}
        points, values, batches = [], [], []
        for name, doc in self.docs:
            if name == "descriptor":
                run_of[doc["uid"]] = doc["run_start"]
            elif name == "event" and "det_value" in doc["data"]:
                data = doc["data"]
                if np.isfinite(data["det_value"]):
                    points.append((data["fastscan_row"], data["fastscan_col"]))
                    values.append(data["det_value"])
                    batches.append((run_of[doc["descriptor"]], data["fastscan_batch"]))
        return np.array(points, np.int64).reshape(-1, 2), np.array(values), batches

    def service_state(self, arrays: tuple[str, ...]) -> tuple[dict, dict]:
        from fastscan.service import Connection

        conn = Connection(self.endpoint, timeout=10.0, retries=3)
        try:
            for _ in range(600):
                header, out = conn.request("state", session="soak", args={"arrays": list(arrays)})
                if header["ok"] or header["error"]["code"] != "busy":
                    break
                time.sleep(0.1)
        finally:
            conn.close()
        if not header["ok"]:
            raise RuntimeError(f"the service lost the session: {header['error']}")
        return header["result"], out

    def check(self) -> dict[str, int]:
        """Readings lost (in the documents, not the service) and duplicated (the reverse)."""
        points, values, _ = self.readings()
        _, out = self.service_state(("measured_points", "measured_values"))
        docs = [(*p, v) for p, v in zip(points.tolist(), values.tolist())]
        held = [(*p, v) for p, v in zip(out["measured_points"].tolist(),
                                        out["measured_values"].tolist())]  # fmt: skip
        remaining = list(held)
        lost = 0
        for item in docs:
            if item in remaining:
                remaining.remove(item)
            else:
                lost += 1
        result = {"readings": len(docs), "lost": lost, "duplicated": len(remaining),
                  "in_order": int(docs == held)}  # fmt: skip
        self.checks.append(result)
        return result

    def final_comparison(self) -> dict[str, Any]:
        """A local Sampler fed the same readings in the same batches equals the service's.

        It asks for each batch before ingesting it, as the service's client did: the
        decisions are where the sampler changes its model (the late switch at 15 %).
        """
        from fastscan import Sampler

        points, values, batches = self.readings()
        reference = Sampler(self.shape, **self.opts)
        start = 0
        for i in range(1, len(batches) + 1):
            if i == len(batches) or batches[i] != batches[start]:
                reference.suggest()
                reference.ingest(points[start:i], values[start:i])
                start = i
        result, out = self.service_state(("reconstruction", "erd"))
        return {
            "reconstruction_equal": bool(
                np.allclose(out["reconstruction"], reference.reconstruction)
            ),
            "erd_equal": bool(np.allclose(out["erd"], reference.erd)),
            "should_stop_equal": bool(result["should_stop"] == reference.should_stop()),
            "n_measured": int(result["n_measured"]),
        }


def run_soak(*, n_faults: int, shape: tuple[int, int] = (40, 60), batch_size: int = 10,
             max_coverage: float = 0.5, seed: int = 0, env: dict[str, str],
             prefix: str = "SOAK:", seconds_per_point: float = 0.2,
             log: Any = print) -> dict[str, Any]:  # fmt: skip
    """Run a soak with ``n_faults`` faults (cycling through every kind, shuffled)."""
    rng = np.random.default_rng(seed)
    kinds = [FAULTS[i % len(FAULTS)] for i in range(n_faults)]
    rng.shuffle(kinds)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fastscan-soak-") as tmp:
        soak = Soak(shape=shape, batch_size=batch_size, max_coverage=max_coverage, seed=seed,
                    work_dir=Path(tmp), prefix=prefix, env=env, log=log)  # fmt: skip
        try:
            soak.start_service()
            soak.start_ioc()
            soak.connect()
            runs: list[dict[str, Any]] = []
            pending = list(kinds)
            while pending and len(runs) < 3 * n_faults:
                runs.append(soak.run_once(pending[0]))
                if runs[-1]["injected"]:
                    pending.pop(0)
                elif runs[-1]["done"]:
                    break  # the scan finished before the fault's reading
            while not runs[-1]["done"] and len(runs) < 4 * n_faults + 4:
                runs.append(soak.run_once(None))  # finish the scan without faults
            final = soak.final_comparison()
        finally:
            soak.close()
    readings = soak.checks[-1]["readings"]
    return {
        "faults_injected": sum(r["injected"] for r in runs),
        "faults_by_kind": {k: sum(r["fault"] == k and r["injected"] for r in runs) for k in FAULTS},
        "recoveries": sum(r["injected"] for r in runs),
        "plan_runs": len(runs),
        "readings": readings,
        "readings_lost": sum(c["lost"] for c in soak.checks),
        "readings_duplicated": sum(c["duplicated"] for c in soak.checks),
        "every_check_in_order": all(c["in_order"] for c in soak.checks),
        "checks": len(soak.checks),
        "final": final,
        "equivalent_scan_minutes": round(readings * seconds_per_point / 60, 1),
        "wall_s": round(time.monotonic() - t0, 1),
        "runs": runs,
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=25)
    parser.add_argument("--shape", type=int, nargs=2, default=(150, 200))
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--max-coverage", type=float, default=0.3)
    parser.add_argument("--seconds-per-point", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("soak_report.json"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from fastscan.sim.ioc import loopback_env

    env = loopback_env()
    os.environ.update(env)  # before the first Channel Access channel of this process
    report = run_soak(n_faults=args.faults, shape=tuple(args.shape), batch_size=args.batch_size,
                      max_coverage=args.max_coverage, seed=args.seed, env=env,
                      seconds_per_point=args.seconds_per_point)  # fmt: skip
    args.out.write_text(json.dumps(report, indent=1))
    summary = {k: v for k, v in report.items() if k != "runs"}
    print(json.dumps(summary, indent=1))
    ok = report["readings_lost"] == 0 and report["readings_duplicated"] == 0
    ok = ok and all(report["final"][k] for k in ("reconstruction_equal", "erd_equal"))
    return 0 if ok else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
