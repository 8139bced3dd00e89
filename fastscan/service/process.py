"""Run the fastscan service as a subprocess: start it, learn its endpoint, stop it.

Tests, the soak run and the stall/abuse benchmarks all start ``python -m
fastscan.service`` on a loopback port chosen by the OS and read the endpoint from
the first line it prints (``fastscan service listening on tcp://127.0.0.1:PORT``).

Examples
--------
>>> with start_service_subprocess(extra_args=["--no-warm-up"]) as service:  # doctest: +SKIP
...     print(service.endpoint)
tcp://127.0.0.1:40123
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["READY_PREFIX", "ServiceProcess", "start_service_subprocess"]

#: The first line the service prints once it serves, followed by its endpoint.
READY_PREFIX = "fastscan service listening on"


@dataclass
class ServiceProcess:
    """A service subprocess; ``endpoint`` is known once :meth:`wait_ready` has returned."""

    process: subprocess.Popen
    endpoint: str | None = None

    def wait_ready(self, timeout: float = 60.0) -> str:
        """Wait for the ready line and return the endpoint it names.

        Raises
        ------
        RuntimeError
            If the process prints something else, exits, or stays silent for ``timeout`` s.
        """
        if self.endpoint is not None:
            return self.endpoint
        stream = self.process.stdout
        if stream is None:
            raise RuntimeError("the service was started without a stdout pipe")
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.stop()
                raise RuntimeError(f"the service printed nothing within {timeout} s")
        line = stream.readline()
        if not line.startswith(READY_PREFIX):
            code = self.stop()
            raise RuntimeError(f"the service did not start (exit code {code}): {line!r}")
        self.endpoint = line.split()[-1]
        return self.endpoint

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; close the pipes; return the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return int(self.process.returncode)

    def __enter__(self) -> ServiceProcess:
        self.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_service_subprocess(
    bind: str = "tcp://127.0.0.1:0",
    *,
    state_dir: str | Path | None = None,
    extra_args: Sequence[str] = (),
    repo: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    stderr: int | None = subprocess.DEVNULL,
    wait: bool = True,
    timeout: float = 60.0,
) -> ServiceProcess:
    """Start ``python -m fastscan.service`` and (by default) wait until it serves.

    Parameters
    ----------
    bind : str
        The ZMQ endpoint to bind; port 0 lets the OS choose a free one.
    state_dir : path, optional
        Where the service keeps its snapshots and journals.
    extra_args : sequence of str
        More command-line options, e.g. ``["--no-warm-up"]``.
    repo : path, optional
        Run the service from this checkout (working directory and ``PYTHONPATH``).
    env : mapping, optional
        The environment (default: this process's), before ``repo`` is applied.
    stderr : int or None
        Where the service's stderr goes (``subprocess.PIPE`` to read it).
    wait : bool
        Wait for the ready line; with ``False`` call :meth:`ServiceProcess.wait_ready` later.
    timeout : float
        Seconds to wait for the ready line.
    """
    cmd = [sys.executable, "-m", "fastscan.service", "--bind", bind]
    if state_dir is not None:
        cmd += ["--state-dir", str(state_dir)]
    cmd += [str(arg) for arg in extra_args]
    environment = dict(os.environ if env is None else env)
    if repo is not None:
        environment["PYTHONPATH"] = str(repo)
    process = subprocess.Popen(
        cmd,
        cwd=None if repo is None else str(repo),
        env=environment,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    service = ServiceProcess(process)
    if wait:
        service.wait_ready(timeout=timeout)
    return service
