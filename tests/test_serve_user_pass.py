"""``fastscan serve`` for a beamline scientist (helper ux24): stopping, folders, options.

Each test is one thing a new user met: the service stopped by SIGTERM or Ctrl-C without
a word (or, on Ctrl-C right after the ready line, 'fastscan: interrupted', exit 130), a bad
``--state-dir`` answered with a raw errno after the warm-up, limits of 0 accepted,
CurveZMQ and ``--bind`` mistakes named by library argument names or as the wrong problem.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import types

import numpy as np
import pytest
from subprocesses import reaped

from fastscan.service.cli import main as serve_main
from fastscan.service.cli import stopped_message
from fastscan.service.dispatch import SessionStore
from fastscan.service.persistence import prepare_state_dir


# ---------------------------------------------------------------- fastscan serve: stopping
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_says_it_stopped_and_where_the_sessions_are(tmp_path, signum) -> None:
    from fastscan.service import RemoteSampler

    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastscan", "serve", "--bind", "tcp://127.0.0.1:0",
         "--state-dir", str(state), "--no-warm-up"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with reaped(proc):
        endpoint = proc.stdout.readline().split()[-1]
        with RemoteSampler((12, 16), address=endpoint, session="s1", timeout=10.0,
                           batch_size=4) as rs:  # fmt: skip
            points = rs.suggest()
            rs.ingest(points, np.ones(len(points)))
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    name = signal.Signals(signum).name
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "interrupted" not in err, err
    assert err.strip().splitlines()[-1] == (
        f"fastscan service stopped ({name}); 1 session saved in {state} "
        f"(restart with --state-dir {state} to resume it)"
    )
    assert (state / "s1.npz").is_file()
    if signum != signal.SIGTERM:
        return
    again = subprocess.Popen(  # a restart says what it resumes
        [sys.executable, "-m", "fastscan", "serve", "--bind", "tcp://127.0.0.1:0",
         "--state-dir", str(state), "--no-warm-up"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with reaped(again):
        assert again.stdout.readline().startswith("fastscan service listening on ")
        again.send_signal(signum)
        _, err = again.communicate(timeout=30)
    assert again.returncode == 0, err
    assert err.splitlines()[0] == f"fastscan serve: resuming 1 session saved in {state}: s1"


def test_the_stop_line_without_a_state_folder_says_nothing_was_saved(tmp_path) -> None:
    held = types.SimpleNamespace(state_dir=None, held_names=["a", "b"])
    assert stopped_message(held, "SIGTERM") == (
        "fastscan service stopped (SIGTERM); no --state-dir, so its 2 sessions were not saved"
    )
    one = types.SimpleNamespace(state_dir=None, held_names=["a"])
    assert stopped_message(one, None).endswith("so its 1 session was not saved")
    empty = types.SimpleNamespace(state_dir=None, held_names=[])
    assert stopped_message(empty, "SIGINT") == (
        "fastscan service stopped (SIGINT); no sessions were open"
    )
    store = SessionStore(tmp_path)
    assert stopped_message(store, "SIGINT") == (
        f"fastscan service stopped (SIGINT); no sessions to save in {tmp_path}"
    )


# ---------------------------------------------------------------- --state-dir checks
def test_a_file_as_state_folder_is_named(tmp_path) -> None:
    path = tmp_path / "afile"
    path.write_text("x")
    with pytest.raises(ValueError, match=re.escape(f"'{path}' is a file, not a folder")):
        prepare_state_dir(path)
    with pytest.raises(ValueError, match="a part of the path is a file, not a folder") as err:
        prepare_state_dir(path / "sub")
    assert f"'{path / 'sub'}'" in str(err.value) and "Errno" not in str(err.value)


def test_an_unwritable_state_folder_is_named(unwritable_folder) -> None:
    folder = unwritable_folder
    with pytest.raises(ValueError, match=re.escape(f"cannot write in state folder '{folder}'")):
        prepare_state_dir(folder)


def test_serve_names_a_bad_state_dir_before_the_warm_up(tmp_path, capsys, monkeypatch) -> None:
    import fastscan.service.server as server

    def no_warm_up() -> None:
        raise AssertionError("the state folder must be checked before the warm-up")

    monkeypatch.setattr(server, "warm_up", no_warm_up)
    path = tmp_path / "afile"
    path.write_text("x")
    assert serve_main(["--bind", "tcp://127.0.0.1:0", "--state-dir", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"fastscan serve: --state-dir: state folder '{path}' is a file, not a folder; name a folder"
    )


@pytest.mark.parametrize(
    "option",
    ["--max-message-bytes", "--max-sessions", "--max-pixels", "--max-total-pixels",
     "--max-points-per-ingest", "--max-batch-size", "--workers", "--snapshot-every"],
)  # fmt: skip
def test_serve_limits_below_one_are_refused_naming_the_option(option, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        serve_main(["--no-warm-up", option, "0"])
    assert stop.value.code == 2
    assert f"argument {option}: expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_serve_names_bad_curve_options_by_their_flags(tmp_path, capsys, monkeypatch) -> None:
    import fastscan.service.server as server

    monkeypatch.setattr(server, "warm_up", lambda: pytest.fail("checked after the warm-up"))
    key = tmp_path / "server.key_secret"
    key.write_text("not read: the clients folder is wrong first")
    cases = [
        (["--curve-clients", str(tmp_path)], "--curve-clients needs --curve-secret-key"),
        (["--curve-secret-key", str(tmp_path / "nosuch")],
         f"--curve-secret-key '{tmp_path / 'nosuch'}': no such file"),
        (["--curve-secret-key", str(key), "--curve-clients", str(tmp_path / "nodir")],
         f"--curve-clients '{tmp_path / 'nodir'}' is not a folder"),
    ]  # fmt: skip
    for args, message in cases:
        assert serve_main(["--bind", "tcp://127.0.0.1:0", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"fastscan serve: {message}") and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "bind", ["tcp://127.0.0.1:notaport", "tcp://127.0.0.1", "tcp://127.0.0.1:70000", "tcp://:5"]
)
def test_serve_names_a_tcp_endpoint_without_a_usable_port(bind, capsys) -> None:
    assert serve_main(["--no-warm-up", "--bind", bind]) == 2
    assert capsys.readouterr().err == (
        "fastscan serve: --bind expects tcp://HOST:PORT with a port 0-65535 (0 or * picks a "
        f"free one), got {bind!r}\n"
    )


def test_serve_on_a_taken_port_says_what_to_do(capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"tcp://127.0.0.1:{taken.getsockname()[1]}"
        assert serve_main(["--no-warm-up", "--bind", bind]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fastscan serve: cannot bind {bind!r}: Address already in use")
    assert err.endswith("(another fastscan serve? stop it, or --bind another port; 0 picks one)\n")
