"""Sampler as a ZMQ service (edge-device split).

``fastscan serve`` (or ``python -m fastscan.service``) runs
:class:`SamplerServer` on the edge device; the plan on the beamline computer
uses :class:`RemoteSampler`, which has the :class:`fastscan.Sampler` interface.
This subpackage uses pyzmq (the core ``fastscan`` package does not); the names
below are imported on first use, so ``fastscan --help`` does not load zmq.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_ADDRESS": "protocol",
    "PROTOCOL_VERSION": "protocol",
    "ProtocolError": "protocol",
    "Connection": "client",
    "RemoteError": "client",
    "ServiceUnavailable": "client",
    "RemoteSampler": "remote",
    "SamplerServer": "server",
    "is_loopback": "server",
    "warm_up": "server",
    "ServiceError": "sessions",
    "SessionStore": "sessions",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fastscan.service' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fastscan.service.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
