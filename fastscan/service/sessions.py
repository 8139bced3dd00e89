"""Named scan sessions behind the sampler service (public names, kept for imports).

The request dispatch is :mod:`fastscan.service.dispatch`, the files on disk
:mod:`fastscan.service.persistence` and restoring :mod:`fastscan.service.restore`.
"""

from __future__ import annotations

from fastscan.service.dispatch import CREATE_KEYS, OPS, STATE_ARRAYS, ServiceError, SessionStore
from fastscan.service.persistence import read_state_log

__all__ = ["CREATE_KEYS", "OPS", "STATE_ARRAYS", "ServiceError", "SessionStore", "read_state_log"]
