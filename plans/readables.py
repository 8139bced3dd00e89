"""Small in-memory readables the plan reads alongside the hardware.

They implement the ``bluesky.protocols.Readable`` interface (``name``, ``parent``,
``read``, ``describe``) directly, so the plans need no Ophyd and the event
descriptors carry exact shapes and dtypes.

- :class:`PointInfo`: per-point bookkeeping (sequence number, row, col, batch),
  read in the *same* event as the detector and motors. One event then holds
  everything needed to replay that point; no joining of streams by time.
- :class:`SamplerSnapshot`: reconstruction, ERD map and measured mask, written to an
  HDF5 file and announced as external stream assets (StreamResource/StreamDatum)
  in the ``reconstruction`` stream at a chosen cadence.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
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
    """The sampler's reconstruction, ERD and measured mask, stored as external HDF5 assets.

    Each read appends the three arrays to one HDF5 file per scan (in
    ``asset_dir``, default :func:`fastscan.plans.catalog.asset_directory`) and
    announces them with ``stream_resource`` / ``stream_datum`` documents, so
    the events carry only the scalars. Keys (``name`` = "fastscan"):
    ``fastscan_reconstruction`` (H, W float64; (C, H, W) for a sampler of C
    channels), ``fastscan_erd`` (H, W float64), ``fastscan_measured`` (H, W
    uint8) -- external --, and
    ``fastscan_coverage`` (float), ``fastscan_n_measured`` (int),
    ``fastscan_batch`` (int) in the event.
    """

    ARRAYS = (("reconstruction", "<f8"), ("erd", "<f8"), ("measured", "|u1"))

    def __init__(self, sampler: Any, shape: tuple[int, int], name: str = "fastscan",
                 asset_dir: str | Path | None = None) -> None:  # fmt: skip
        super().__init__(name)
        self._sampler = sampler
        self._shape = (int(shape[0]), int(shape[1]))
        self._batch = -1
        self._asset_dir = None if asset_dir is None else Path(asset_dir)
        self._path: Path | None = None
        self._count = 0
        self._bundles: dict[str, Any] = {}
        self._asset_docs: list[tuple[str, dict[str, Any]]] = []

    @property
    def path(self) -> Path | None:
        """The HDF5 file of this scan's snapshots (None before the first one)."""
        return self._path

    def set_batch(self, batch: int) -> None:
        self._batch = int(batch)
        self._timestamp = time.time()

    def describe(self) -> dict[str, Any]:
        n = self.name
        frames = self._frame_shapes()
        keys: dict[str, Any] = {
            f"{n}_{key}": {"source": "fastscan:sampler", "dtype": "array",
                           "shape": list(frames[key]), "dtype_numpy": dtype,
                           "external": "STREAM:"}
            for key, dtype in self.ARRAYS
        }  # fmt: skip
        keys[f"{n}_coverage"] = _number_key("fastscan:sampler", "<f8")
        keys[f"{n}_n_measured"] = _number_key("fastscan:sampler", "<i8")
        keys[f"{n}_batch"] = _number_key("fastscan:plan", "<i8")
        return keys

    def _frame_shapes(self) -> dict[str, tuple[int, ...]]:
        n_channels = int(getattr(self._sampler, "n_channels", 1))
        recon = self._shape if n_channels == 1 else (n_channels, *self._shape)
        return {"reconstruction": recon, "erd": self._shape, "measured": self._shape}

    def read(self) -> dict[str, Any]:
        s, n, ts = self._sampler, self.name, self._timestamp
        arrays = {
            "reconstruction": np.array(s.reconstruction, dtype=np.float64),
            "erd": np.array(s.erd, dtype=np.float64),
            "measured": np.array(s.measured_mask, dtype=np.uint8),
        }
        self._append(arrays)
        values = {
            f"{n}_coverage": float(s.coverage),
            f"{n}_n_measured": int(np.count_nonzero(s.measured_mask)),
            f"{n}_batch": self._batch,
        }
        return {k: {"value": v, "timestamp": ts} for k, v in values.items()}

    def get_index(self) -> int:
        return self._count

    def collect_asset_docs(self, index: int | None = None):
        docs, self._asset_docs = self._asset_docs, []
        yield from docs

    def _append(self, arrays: dict[str, np.ndarray]) -> None:
        import h5py
        from event_model import compose_stream_resource

        if self._path is None:
            from fastscan.plans.catalog import asset_directory

            directory = self._asset_dir or asset_directory()
            directory.mkdir(parents=True, exist_ok=True)
            self._path = directory / f"fastscan_snapshots_{uuid.uuid4().hex}.h5"
        frames = self._frame_shapes()
        with h5py.File(self._path, "a", libver="latest") as fh:
            for key, dtype in self.ARRAYS:
                if key not in fh:
                    frame = frames[key]
                    fh.create_dataset(key, shape=(0, *frame), maxshape=(None, *frame),
                                      dtype=np.dtype(dtype), chunks=(1, *frame))  # fmt: skip
                dataset = fh[key]
                dataset.resize(self._count + 1, axis=0)
                dataset[self._count] = arrays[key]
        for key, _ in self.ARRAYS:
            data_key = f"{self.name}_{key}"
            if data_key not in self._bundles:
                bundle = compose_stream_resource(
                    mimetype="application/x-hdf5", uri=self._path.as_uri(), data_key=data_key,
                    parameters={"dataset": f"/{key}"},
                )  # fmt: skip
                self._bundles[data_key] = bundle
                self._asset_docs.append(("stream_resource", bundle.stream_resource_doc))
            datum = self._bundles[data_key].compose_stream_datum(
                indices={"start": self._count, "stop": self._count + 1}
            )
            self._asset_docs.append(("stream_datum", datum))
        self._count += 1
