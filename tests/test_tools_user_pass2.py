"""Leftovers of ux24's pass over the other tools (helper ux24b): the IOC's stop, script help.

Each test is one thing a new user met: the simulated IOC ending without a word on Ctrl-C
and killed by SIGTERM (exit -15), and two benchmark scripts answering ``--help`` with a
usage line and exit 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from subprocesses import reaped

from fastscan.sim.ioc import READY, free_port, loopback_env

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- simulated IOC: stopping
@pytest.mark.epics
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_ioc_stops_cleanly_and_says_what_it_served(signum) -> None:
    port = free_port()
    env = {**os.environ, **loopback_env(port), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastscan.sim.ioc", "--shape", "16,20", "--prefix", "UX24B:",
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    with reaped(proc):
        ready = proc.stdout.readline()
        assert ready == f"{READY} port={port}\n"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert err.splitlines() == [
        f"python -m fastscan.sim.ioc stopped ({signum.name}); it served prefix UX24B: on "
        f"127.0.0.1 port {port}"
    ]
    assert out == ""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_ioc_stopped_while_it_builds_says_so(signum, monkeypatch, capsys) -> None:
    # a signal before the server takes the signals (while it builds its image) used to end
    # it with a traceback (SIGINT) or kill it (SIGTERM, exit -15); in process, the signal
    # arrives from inside the build
    from fastscan.sim import ioc_cli

    def build_then_signalled(args):
        os.kill(os.getpid(), signum)
        raise AssertionError("the signal should have stopped the build")

    monkeypatch.setattr(ioc_cli, "build_ioc", build_then_signalled)
    monkeypatch.setenv("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1")

    def guard(received, frame):  # a SIGTERM that main did not take must not kill pytest
        raise RuntimeError("SIGTERM reached the test: the IOC's build did not take it")

    before = signal.signal(signal.SIGTERM, guard)
    try:
        ioc_cli.main(["--shape", "16,20", "--prefix", "EARLY:", "--port", str(free_port())])
    except KeyboardInterrupt:  # nor may a SIGINT it did not take end the test session
        pytest.fail("Ctrl-C during the build ended main with KeyboardInterrupt")
    finally:
        restored = signal.signal(signal.SIGTERM, before)
    assert capsys.readouterr().err.splitlines() == [
        f"python -m fastscan.sim.ioc stopped ({signum.name}) before it served"
    ]
    assert restored is guard  # main put the handler it found back


# ---------------------------------------------------------------- benchmark scripts: --help
@pytest.mark.parametrize(
    ("script", "usage"),
    [
        (
            "evaluate_default_model.py",
            "usage: evaluate_default_model.py MODEL [--late NAME@C|none] [fastscan evaluate args]",
        ),
        (
            "evaluate_noise_cost.py",
            "usage: evaluate_noise_cost.py COST [fastscan evaluate args | --xrf bench_xrf args]",
        ),
    ],
    ids=["default_model", "noise_cost"],
)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_benchmark_scripts_answer_help_with_usage_and_exit_0(script, usage, flag) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), flag],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout.splitlines()[0] == usage
    assert "never ``--set test``" in run.stdout  # the docstring's rule comes with it


@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        ("evaluate_default_model.py", [], "usage: evaluate_default_model.py MODEL"),
        ("evaluate_noise_cost.py", [], "usage: evaluate_noise_cost.py COST"),
        ("evaluate_noise_cost.py", ["abc"], "COST must be a number >= 0, got 'abc'"),
        ("evaluate_noise_cost.py", ["nan"], "COST must be a number >= 0, got 'nan'"),
    ],
)
def test_benchmark_scripts_still_refuse_bad_arguments_with_exit_1(script, args, message) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines()[0].startswith(message)
