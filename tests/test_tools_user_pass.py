"""The other commands a beamline scientist meets (helper ux24): import, U-Net training, IOC.

Each test is one thing a new user met: the msgpack import starting a Tiled server before
finding its folder missing, the U-Net training commands refusing a bad ``--out`` only after
training, the simulated IOC quietly serving another port, and the try-it session without
an IOC ending in ophyd's list of 38 unconnected signals.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


# ---------------------------------------------------------------- msgpack import
def test_msgpack_import_names_a_missing_folder_before_starting_the_catalogue(
    tmp_path, capsys
) -> None:
    from fastscan.plans.msgpack_import import main as import_main

    catalog = tmp_path / "catalog"
    assert import_main([str(tmp_path / "nosuch"), str(catalog)]) == 2
    assert capsys.readouterr().err == (
        f"error: no such directory of msgpack runs: '{tmp_path / 'nosuch'}'\n"
    )
    assert not catalog.exists()  # no Tiled server was started for nothing
    empty = tmp_path / "empty"
    empty.mkdir()
    assert import_main([str(empty), str(catalog)]) == 0
    assert "nothing to import" in capsys.readouterr().out
    assert not catalog.exists()


# ---------------------------------------------------------------- U-Net training commands
@pytest.mark.parametrize("module", ["train_denoiser", "train_segmenter"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--steps", "0"], "argument --steps: expected an integer >= 1, got '0'"),
        (["--threads", "0"], "argument --threads: expected an integer >= 1, got '0'"),
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
        (["--sampler-runs", "-2"], "argument --sampler-runs: expected an integer >= 0, got '-2'"),
    ],
)
def test_unet_training_refuses_bad_options_before_building_data(module, args, message, capsys):
    import importlib

    main = importlib.import_module(f"fastscan.models.{module}").main
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"python -m fastscan.models.{module}: error: {message}" in err


def test_unet_training_names_an_unwritable_out_before_training(tmp_path, capsys):
    from fastscan.models.train_denoiser import main

    afile = tmp_path / "afile"
    afile.write_text("x")
    out = afile / "net.pt"
    with pytest.raises(SystemExit):
        main(["--out", str(out)])
    err = capsys.readouterr().err
    assert f"argument --out: cannot write '{out}' in folder '{afile}': " in err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path)])
    assert f"argument --out: '{tmp_path}' is a folder" in capsys.readouterr().err


# ---------------------------------------------------------------- simulated IOC: a taken port
def test_ioc_on_a_taken_port_warns_which_port_it_serves_instead() -> None:
    import socket

    from fastscan.sim.ioc import loopback_env, start_ioc_subprocess
    from fastscan.sim.ioc_server import port_note

    assert port_note(5094, 5094) is None
    with socket.socket() as taken:  # someone else listens on the port the IOC is given
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = loopback_env()
        env["EPICS_CA_SERVER_PORT"] = str(port)
        handle = start_ioc_subprocess("UX24T:", env=env, shape=(16, 20))
        try:
            log = handle.log()
        finally:
            handle.stop()
    served = int(re.search(r"FASTSCAN-IOC-READY port=(\d+)", log).group(1))
    assert served != port
    assert port_note(served, port) in log


# ---------------------------------------------------------------- the try-it session, no IOC
def test_try_it_startup_without_an_ioc_says_what_to_start(tmp_path) -> None:
    from pathlib import Path

    from fastscan.sim.ioc import free_port

    script = Path(__file__).resolve().parents[1] / "examples" / "ipython_startup.py"
    port = free_port()
    env = dict(os.environ, FASTSCAN_CA_PORT=str(port), FASTSCAN_CONNECT_TIMEOUT="1")
    env.pop("FASTSCAN_SIM", None)
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f"no IOC answers for SIM:x, SIM:y and SIM:det: on 127.0.0.1 port {port} "
        "(no PV connected for 1 s): "
        f"start terminal 1's IOC first (python -m fastscan.sim.ioc ... --prefix SIM: --port "
        f"{port}; FASTSCAN_CA_PORT and FASTSCAN_PREFIX must match it), or set FASTSCAN_SIM=1 "
        "to run without one"
    )
    assert not (tmp_path / "scans").exists()  # stopped before the catalogue


# ---------------------------------------------------------------- a slow catalogue start
def test_a_slow_catalogue_start_says_what_it_waits_for(tmp_path, monkeypatch, capsys) -> None:
    import time

    import tiled.server

    import fastscan.plans.catalog as catalog

    class SlowServer:  # stands in for SimpleTiledServer: starts slowly, serves nothing
        uri = "http://127.0.0.1:1/api/v1?api_key=x"

        def __init__(self, *args, **kwargs) -> None:
            time.sleep(0.5)

    monkeypatch.setattr(tiled.server, "SimpleTiledServer", SlowServer)
    monkeypatch.setattr(catalog, "_SLOW_START_S", 0.05)
    monkeypatch.setattr(catalog, "_servers", {})
    monkeypatch.setattr(catalog, "_at_exit", lambda func: None)
    assert isinstance(catalog._start_server(tmp_path), SlowServer)
    assert capsys.readouterr().err == (
        f"starting the embedded Tiled catalogue server for {tmp_path} (10-25 s when busy) ...\n"
    )
