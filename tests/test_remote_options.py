"""A RemoteSampler refuses, when given, any Sampler option the service does not make a
session with (naming it, the allowed ones and the likely option for a misspelling), at
construction and in its settable path; over a real ZMQ loopback service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fastscan.service import RemoteSampler, SamplerServer, dispatch
from fastscan.service.remote_options import SESSION_OPTIONS

SHAPE = (40, 60)
VALUES = np.add.outer(np.sin(np.arange(40.0) / 4.0), np.cos(np.arange(60.0) / 6.0))
ALLOWED = str(sorted(SESSION_OPTIONS)).replace("[", r"\[").replace("]", r"\]")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SamplerServer]:
    with SamplerServer("tcp://127.0.0.1:0", state_dir=tmp_path / "state") as srv:
        yield srv


def remote(address: str, **kwargs) -> RemoteSampler:
    options = {"session": "scan", "timeout": 1.0, "retries": 2, "batch_size": 12, "seed": 3,
               "max_coverage": 0.1}  # fmt: skip
    return RemoteSampler(SHAPE, address=address, **{**options, **kwargs})


def test_the_client_allows_exactly_the_services_options() -> None:
    assert SESSION_OPTIONS == dispatch.CREATE_KEYS - {"shape"}  # the one list, shared


def test_an_option_the_service_refuses_is_refused_at_construction(server) -> None:
    with pytest.raises(
        TypeError,
        match=r"^RemoteSampler got an option the service does not accept: 'tie_break' \(a "
        rf"fastscan\.Sampler option the service does not accept\); the service accepts: "
        rf"{ALLOWED}; the client's own: \[",
    ):
        remote(server.endpoint, tie_break="random")
    assert server.store.names == []  # refused here: the service never saw a request for it
    with pytest.raises(TypeError, match=r"'batch_sise' \(did you mean 'batch_size'\?\)"):
        remote(server.endpoint, batch_sise=10)
    with pytest.raises(TypeError, match=r"'timout' \(did you mean 'timeout'\?\)"):
        remote(server.endpoint, timout=2.0)
    with pytest.raises(TypeError, match=r"options the service .*'fill' .*'noise' \(a fastscan"):
        remote(server.endpoint, noise="poisson", fill=0.3)
    with pytest.raises(TypeError, match=r"'zzz' \(no such option\)"):
        remote(server.endpoint, zzz=1)
    assert server.store.names == []
    with remote(server.endpoint, spread=2.0, k=8) as rs:  # every allowed option still goes
        assert rs.get_params()["k"] == 8 and server.store.names == ["scan"]


def test_an_option_the_service_refuses_is_refused_when_set(server) -> None:
    with remote(server.endpoint) as rs:
        with pytest.raises(
            TypeError,
            match=r"^RemoteSampler\.set_params got unknown settings \['tie_break'\]: "
            r"'tie_break' \(a fastscan\.Sampler option the service does not accept\)",
        ):
            rs.tie_break = "random"  # (before: the session re-opened, failed and came back)
        assert "tie_break" not in rs.__dict__
        with pytest.raises(TypeError, match=r"'max_coverge' \(did you mean 'max_coverage'\?\)"):
            rs.set_params(max_coverge=0.2)
        with pytest.raises(TypeError, match=r"'model' \(a fastscan\.Sampler option"):
            rs.set_params(model="default")
        rs.max_coverage = 0.05  # a service option still re-opens the empty session
        points = rs.suggest()
        rs.ingest(points, VALUES[points[:, 0], points[:, 1]])
        assert rs.get_params()["max_coverage"] == 0.05
        with pytest.raises(TypeError, match=r"'contrast' \(a fastscan\.Sampler option"):
            rs.contrast = 1.0  # refused the same way once readings are in
