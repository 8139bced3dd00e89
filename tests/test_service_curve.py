"""CurveZMQ: a curve-enabled service answers only clients with authorised keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zmq
import zmq.auth

from fastscan.service import RemoteSampler, SamplerServer, ServiceUnavailable

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("curve")
    server_dir, allowed, other = root / "server", root / "allowed", root / "other"
    for d in (server_dir, allowed, other):
        d.mkdir()
    server_public, server_secret = zmq.auth.create_certificates(server_dir, "server")
    zmq.auth.create_certificates(allowed, "client")
    _, stranger_secret = zmq.auth.create_certificates(other, "stranger")
    (allowed / "client.key_secret").rename(root / "client.key_secret")  # dir holds public keys
    return {
        "server_public": Path(server_public),
        "server_secret": Path(server_secret),
        "allowed": allowed,
        "client_secret": root / "client.key_secret",
        "stranger_secret": Path(stranger_secret),
    }


def test_curve_server_rejects_clients_without_authorised_keys(keys) -> None:
    with SamplerServer(
        "tcp://127.0.0.1:0",
        curve_secret_key=keys["server_secret"],
        curve_clients=keys["allowed"],
    ) as server:
        quick = {"timeout": 0.4, "retries": 0, "batch_size": 5, "max_coverage": 0.1}
        with pytest.raises(ServiceUnavailable, match="no reply"):
            RemoteSampler((20, 30), address=server.endpoint, session="plain", **quick)
        with pytest.raises(ServiceUnavailable, match="no reply"):
            RemoteSampler(
                (20, 30),
                address=server.endpoint,
                session="stranger",
                curve_server_key=keys["server_public"],
                curve_client_key=keys["stranger_secret"],
                **quick,
            )
        assert server.store.names == []  # neither got as far as creating a session
        with RemoteSampler(
            (20, 30),
            address=server.endpoint,
            session="trusted",
            curve_server_key=keys["server_public"],
            curve_client_key=keys["client_secret"],
            timeout=2.0,
            batch_size=5,
            max_coverage=0.1,
        ) as rs:
            points = rs.suggest()
            rs.ingest(points, np.ones(len(points)))
            assert rs.n_measured == len(points) > 0
        assert server.store.names == ["trusted"]


def test_curve_options_are_checked() -> None:
    with pytest.raises(ValueError, match="needs curve_secret_key"):
        SamplerServer("tcp://127.0.0.1:0", curve_clients=".")
    with pytest.raises(ValueError, match="both curve_server_key and curve_client_key"):
        RemoteSampler((20, 30), curve_server_key=b"x" * 40)


def test_public_certificate_is_not_a_server_secret(keys) -> None:
    with pytest.raises(ValueError, match="no secret key"):
        SamplerServer("tcp://127.0.0.1:0", curve_secret_key=keys["server_public"])
