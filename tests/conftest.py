"""Shared fixtures: a private loopback EPICS environment and simulated IOCs.

pyepics reads the EPICS_CA_* variables once, when its CA context starts (first
channel), so they are set here at import time, before any test creates an
Ophyd EPICS device. Every IOC of this pytest session serves on the session's
own free port (one IOC at a time; module-scoped fixtures are torn down before
the next module's start) with a new PV prefix (pyepics caches channels by name).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator

import pytest

from fastscan.sim.ioc import IocHandle, loopback_env, start_ioc_subprocess

EPICS_ENV = loopback_env()
os.environ.update(EPICS_ENV)

_prefixes = itertools.count()


def new_prefix(tag: str = "T") -> str:
    """A PV prefix unique within this test session (and this process)."""
    return f"FS{os.getpid()}{tag}{next(_prefixes)}:"


def start_test_ioc(tag: str = "T", **kwargs) -> IocHandle:
    """Start a simulated IOC on this session's loopback environment.

    Defaults suit fast tests: a 40 x 60 'flakes' phantom in pixel units,
    1000 units/s, instant acceleration. Keyword arguments go to
    :func:`fastscan.sim.ioc.start_ioc_subprocess`.
    """
    kwargs.setdefault("shape", (40, 60))
    kwargs.setdefault("velocity", 1000.0)
    return start_ioc_subprocess(new_prefix(tag), env=EPICS_ENV, **kwargs)


@pytest.fixture(scope="module")
def sim_ioc() -> Iterator[IocHandle]:
    """A module-wide simulated IOC (40 x 60 flakes phantom, pixel-unit grid)."""
    handle = start_test_ioc("M")
    yield handle
    handle.stop()


@pytest.fixture
def ioc_factory() -> Iterator[Callable[..., IocHandle]]:
    """Start IOCs inside a test (e.g. one to kill); all are stopped afterwards."""
    started: list[IocHandle] = []

    def factory(**kwargs) -> IocHandle:
        handle = start_test_ioc("F", **kwargs)
        started.append(handle)
        return handle

    yield factory
    for handle in started:
        handle.stop()


@pytest.fixture(scope="module")
def devices(sim_ioc: IocHandle) -> Iterator[tuple]:
    """The Ophyd stage and detector connected to the module's IOC."""
    from fastscan.devices import EpicsScalarDetector, NanoprobeStage

    stage = NanoprobeStage(sim_ioc.pv("x"), sim_ioc.pv("y"), name="stage")
    det = EpicsScalarDetector(sim_ioc.pv("det:"), name="det")
    stage.wait_for_connection(timeout=20)
    det.wait_for_connection(timeout=20)
    yield stage, det
    stage.destroy()
    det.destroy()


@pytest.fixture(scope="session")
def catalog(tmp_path_factory):
    """One embedded Tiled catalogue for the whole session (starting one takes seconds)."""
    from fastscan.plans import local_catalog
    from fastscan.plans.catalog import close_local_catalogs

    client = local_catalog(tmp_path_factory.mktemp("catalog"))
    yield client
    client.context.close()
    close_local_catalogs()


@pytest.fixture
def writer(catalog):
    """A fresh tiled_writer on the session catalogue, closed after the test."""
    from fastscan.plans import tiled_writer

    w = tiled_writer(catalog)
    yield w
    w.flush()
    w.close()


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder this user cannot create files in (read-only for a user, sysfs for root)."""
    if os.geteuid() != 0:
        folder = tmp_path / "readonly"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)  # so tmp_path can be cleaned up
        return
    if not (sys.platform.startswith("linux") and os.path.isdir("/sys")):
        pytest.skip("running as root and no folder that refuses root's writes")
    yield "/sys"  # sysfs refuses new files even to root
