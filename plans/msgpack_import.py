"""One-shot import of runs stored by the old msgpack ``DocumentStore`` into a Tiled catalogue.

Usage::

    python -m fastscan.plans.msgpack_import OLD_DIR CATALOG_DIR

Every ``<uid>.msgpack`` file in ``OLD_DIR`` (one ``[name, doc]`` msgpack record
per document, numpy arrays as extension type 42) is replayed through
:func:`fastscan.plans.tiled_writer` into :func:`fastscan.plans.local_catalog`
``(CATALOG_DIR)``; runs already in the catalogue are skipped. This module keeps
the only reader of the old format.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

__all__ = ["import_msgpack", "read_msgpack_run"]

_NDARRAY_EXT = 42


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _NDARRAY_EXT:
        dtype, shape, raw = msgpack.unpackb(data)
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()
    return msgpack.ExtType(code, data)


def read_msgpack_run(path: str | Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The documents of one old-format run file, in order (a truncated last record is dropped)."""
    with Path(path).open("rb") as fh:
        unpacker = msgpack.Unpacker(fh, ext_hook=_ext_hook, raw=False, strict_map_key=False)
        try:
            for record in unpacker:
                yield record[0], record[1]
        except (msgpack.OutOfData, ValueError):
            return  # truncated last record (crash while writing)


def import_msgpack(directory: str | Path, catalog: Any) -> list[str]:
    """Write every old-format run of ``directory`` into ``catalog``; returns the new uids.

    A run without a stop document (the process died) gets one with
    ``exit_status="fail"`` and a reason saying so, so it is complete in Tiled.

    Examples
    --------
    >>> from fastscan.plans import local_catalog  # doctest: +SKIP
    >>> import_msgpack("old-scans", local_catalog("scans"))  # doctest: +SKIP
    """

    from fastscan.plans.writer import tiled_writer

    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"no such directory of msgpack runs: {str(directory)!r}")
    existing = set(catalog)
    writer = tiled_writer(catalog)
    imported: list[str] = []
    for path in sorted(directory.glob("*.msgpack")):
        docs = list(read_msgpack_run(path))
        if not docs or docs[0][0] != "start":
            print(f"skipped {path.name}: does not begin with a start document", file=sys.stderr)
            continue
        uid = docs[0][1]["uid"]
        if uid in existing:
            continue
        for name, doc in docs:
            writer(name, doc)
        if not any(name == "stop" for name, _ in docs):
            last = max(float(d.get("time", 0.0)) for _, d in docs)
            writer("stop", {"uid": f"{uid}-import-stop", "run_start": uid, "time": last,
                            "exit_status": "fail", "reason": "run had no stop document (import)",
                            "num_events": {}})  # fmt: skip
        imported.append(uid)
    writer.flush()
    writer.close()
    return imported


def build_parser() -> argparse.ArgumentParser:
    """The command line ``python -m fastscan.plans.msgpack_import`` (``main`` parses with it)."""
    parser = argparse.ArgumentParser(prog="python -m fastscan.plans.msgpack_import",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("old_dir", help="directory of <uid>.msgpack files")
    parser.add_argument("catalog_dir", help="local catalogue directory (created if missing)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    old = Path(args.old_dir)
    if not old.is_dir():  # before the catalogue's server starts (seconds)
        print(f"error: no such directory of msgpack runs: {str(old)!r}", file=sys.stderr)
        return 2
    if not any(old.glob("*.msgpack")):
        print(f"no *.msgpack runs in {str(old)!r}: nothing to import")
        return 0
    from fastscan.plans.catalog import local_catalog

    print(
        f"opening the catalogue {args.catalog_dir} (an embedded Tiled server; 5-25 s) ...",
        file=sys.stderr,
        flush=True,
    )
    try:
        uids = import_msgpack(args.old_dir, local_catalog(args.catalog_dir))
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"imported {len(uids)} run(s) into {args.catalog_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
