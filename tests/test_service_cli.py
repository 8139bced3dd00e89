"""``python -m fastscan.service`` / ``fastscan serve``: arguments and a real subprocess."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

import numpy as np
import pytest
from subprocesses import reaped

from fastscan.service import RemoteSampler
from fastscan.service.cli import add_serve_parser, main, run_serve


def test_add_serve_parser_registers_serve_with_its_options(tmp_path) -> None:
    parser = argparse.ArgumentParser(prog="fastscan")
    add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "serve",
            "--bind",
            "tcp://127.0.0.1:0",
            "--state-dir",
            str(tmp_path),
            "--allow-remote",
            "--curve-secret-key",
            "s.key_secret",
            "--curve-clients",
            "clients",
        ]
    )
    assert args.func is run_serve and args.bind == "tcp://127.0.0.1:0"
    assert args.state_dir == tmp_path and args.allow_remote
    assert str(args.curve_secret_key) == "s.key_secret" and str(args.curve_clients) == "clients"
    defaults = parser.parse_args(["serve"])
    assert defaults.bind == "tcp://127.0.0.1:5577" and not defaults.allow_remote


def test_serve_refuses_a_public_bind_without_allow_remote(capsys) -> None:
    assert main(["--bind", "tcp://0.0.0.0:0", "--no-warm-up"]) == 2
    assert "not a loopback address" in capsys.readouterr().err


def test_serve_subprocess_serves_saves_and_stops_on_sigterm(tmp_path) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fastscan.service",
            "--bind",
            "tcp://127.0.0.1:0",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(proc):
        line = proc.stdout.readline()
        assert line.startswith("fastscan service listening on tcp://127.0.0.1:"), line
        endpoint = line.split()[-1]
        truth = np.linspace(0.0, 1.0, 20 * 30).reshape(20, 30)
        with RemoteSampler(
            (20, 30), address=endpoint, session="cli", timeout=5.0, batch_size=6, max_coverage=0.1
        ) as rs:
            for _ in range(3):
                points = rs.suggest()
                rs.ingest(points, truth[points[:, 0], points[:, 1]])
            measured = rs.n_measured
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    from fastscan import Sampler

    restored = Sampler.load(state / "cli.npz")  # a clean stop leaves a full snapshot
    assert restored.n_measured == measured > 0
    assert not (state / "cli.journal").exists()


@pytest.mark.parametrize(
    ("bind", "local"),
    [
        ("tcp://127.0.0.1:0", True),
        ("tcp://localhost:5577", True),
        ("tcp://[::1]:0", True),
        ("ipc:///tmp/fastscan.sock", True),
        ("tcp://10.0.0.1:5577", False),
        ("tcp://*:5577", False),
        ("tcp://0.0.0.0:5577", False),
        ("tcp://127.0.0.1.example.org:5577", False),
    ],
)
def test_loopback_endpoints_are_recognised(bind: str, local: bool) -> None:
    from fastscan.service import is_loopback

    assert is_loopback(bind) is local


def test_service_process_helper_reports_the_endpoint_and_stops_cleanly() -> None:
    from fastscan.service.process import start_service_subprocess

    with start_service_subprocess(extra_args=["--no-warm-up"]) as service:
        assert service.endpoint.startswith("tcp://127.0.0.1:")
        assert not service.endpoint.endswith(":0")
        with RemoteSampler((8, 10), address=service.endpoint, session="helper", timeout=5.0,
                           batch_size=3) as rs:  # fmt: skip
            points = rs.suggest()
            assert points.ndim == 2 and points.shape[1] == 2 and len(points) > 0
    assert service.process.returncode == 0


def test_service_process_helper_names_the_failure() -> None:
    from fastscan.service.process import start_service_subprocess

    with pytest.raises(RuntimeError, match="did not start"):
        start_service_subprocess(extra_args=["--no-such-option"], stderr=subprocess.DEVNULL)
