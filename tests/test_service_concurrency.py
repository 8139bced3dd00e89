"""A slow request holds up only its own session: the others keep being answered."""

from __future__ import annotations

import threading
import time

import numpy as np

from fastscan.service import Connection, SamplerServer


def test_slow_request_does_not_stall_other_sessions() -> None:
    with SamplerServer("tcp://127.0.0.1:0", workers=2) as server:
        store = server.store
        plain_export = store._export
        started = threading.Event()

        def slow_export(name, args):  # a slow request (it sleeps without holding the GIL)
            if name == "slow":
                started.set()
                time.sleep(1.5)
            return plain_export(name, args)

        store._export = slow_export
        conn = Connection(server.endpoint, timeout=10.0, retries=0)
        other = Connection(server.endpoint, timeout=10.0, retries=0)
        try:
            for name in ("slow", "quick"):
                header, _ = conn.request("create", session=name, args={"shape": [30, 40]})
                assert header["ok"], header
            replies: dict = {}

            def export_slow() -> None:
                replies["slow"] = conn.request("export", session="slow")
                replies["slow_done"] = time.perf_counter()

            thread = threading.Thread(target=export_slow)
            thread.start()
            assert started.wait(5)
            t0 = time.perf_counter()
            worst = 0.0
            for seq in range(1, 6):  # decision steps of the other session meanwhile
                s0 = time.perf_counter()
                header, arrays = other.request("suggest", session="quick")
                points = arrays["points"]
                header, _ = other.request(
                    "ingest", session="quick", seq=seq,
                    arrays={"points": points, "values": np.ones(len(points))},
                )  # fmt: skip
                assert header["ok"], header
                worst = max(worst, time.perf_counter() - s0)
            quick_done = time.perf_counter()
            header, _ = other.request("ping")
            assert header["ok"]
            thread.join(10)
            assert replies["slow"][0]["ok"] and len(replies["slow"][1]["state"]) > 0
            # five quick steps finished while the slow export was still running
            assert quick_done < replies["slow_done"]
            assert worst < 1.0 and quick_done - t0 < 1.5
        finally:
            conn.close()
            other.close()
