"""Small in-memory readables the plan reads alongside the hardware.

They implement the ``bluesky.protocols.Readable`` interface (``name``, ``parent``,
``read``, ``describe``) directly, so the plans need no Ophyd and the event
descriptors carry exact shapes and dtypes.

- :class:`PointInfo`: per-point bookkeeping (sequence number, row, col, batch),
  read in the *same* event as the detector and motors. One event then holds
  everything needed to replay that point; no joining of streams by time.
- :class:`SamplerSnapshot`: reconstruction, ERD map and measured mask as arrays,
  read into the ``reconstruction`` stream at a chosen cadence.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["PointInfo", "SamplerSnapshot"]


def _number_key(source: str, dtype_numpy: str) -> dict[str, Any]:
    dtype = "integer" if np.dtype(dtype_numpy).kind in "iu" else "number"
    return {"source": source, "dtype": dtype, "shape": [], "dtype_numpy": dtype_numpy}


class _Readable:
    parent = None

    def __init__(self, name: str) -> None:
        self.name = name
        self._timestamp = time.time()

    def read_configuration(self) -> dict[str, Any]:
        return {}

    def describe_configuration(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class PointInfo(_Readable):
    """Which grid point an event belongs to.

    Keys (``name`` = "fastscan"): ``fastscan_seq`` (0, 1, 2, ... in measurement
    order, unique per point even if the RunEngine re-plays a point after a
    pause), ``fastscan_row``, ``fastscan_col``, ``fastscan_batch``.
    """

    FIELDS = ("seq", "row", "col", "batch")

    def __init__(self, name: str = "fastscan") -> None:
        super().__init__(name)
        self._values = dict.fromkeys(self.FIELDS, -1)

    def set_point(self, seq: int, row: int, col: int, batch: int) -> None:
        self._values = {"seq": int(seq), "row": int(row), "col": int(col), "batch": int(batch)}
        self._timestamp = time.time()

    def key(self, field: str) -> str:
        return f"{self.name}_{field}"

    def describe(self) -> dict[str, Any]:
        return {self.key(f): _number_key("fastscan:plan", "<i8") for f in self.FIELDS}

    def read(self) -> dict[str, Any]:
        return {
            self.key(f): {"value": self._values[f], "timestamp": self._timestamp}
            for f in self.FIELDS
        }


class SamplerSnapshot(_Readable):
    """The sampler's current reconstruction, ERD and measured mask, as arrays.

    Keys (``name`` = "fastscan"): ``fastscan_reconstruction`` (H, W float64;
    (C, H, W) for a sampler of C channels),
    ``fastscan_erd`` (H, W float64), ``fastscan_measured`` (H, W uint8),
    ``fastscan_coverage`` (float), ``fastscan_n_measured`` (int),
    ``fastscan_batch`` (int).
    """

    def __init__(self, sampler: Any, shape: tuple[int, int], name: str = "fastscan") -> None:
        super().__init__(name)
        self._sampler = sampler
        self._shape = (int(shape[0]), int(shape[1]))
        self._batch = -1

    def set_batch(self, batch: int) -> None:
        self._batch = int(batch)
        self._timestamp = time.time()

    def describe(self) -> dict[str, Any]:
        n = self.name
        shape = list(self._shape)
        array = {"source": "fastscan:sampler", "dtype": "array", "shape": shape}
        n_channels = int(getattr(self._sampler, "n_channels", 1))
        recon_shape = shape if n_channels == 1 else [n_channels, *shape]
        return {
            f"{n}_reconstruction": {**array, "shape": recon_shape, "dtype_numpy": "<f8"},
            f"{n}_erd": {**array, "dtype_numpy": "<f8"},
            f"{n}_measured": {**array, "dtype_numpy": "|u1"},
            f"{n}_coverage": _number_key("fastscan:sampler", "<f8"),
            f"{n}_n_measured": _number_key("fastscan:sampler", "<i8"),
            f"{n}_batch": _number_key("fastscan:plan", "<i8"),
        }

    def read(self) -> dict[str, Any]:
        s, n, ts = self._sampler, self.name, self._timestamp
        values = {
            f"{n}_reconstruction": np.array(s.reconstruction, dtype=np.float64),
            f"{n}_erd": np.array(s.erd, dtype=np.float64),
            f"{n}_measured": np.array(s.measured_mask, dtype=np.uint8),
            f"{n}_coverage": float(s.coverage),
            f"{n}_n_measured": int(np.count_nonzero(s.measured_mask)),
            f"{n}_batch": self._batch,
        }
        return {k: {"value": v, "timestamp": ts} for k, v in values.items()}
