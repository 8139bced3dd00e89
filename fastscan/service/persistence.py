"""Where the service keeps its sessions on disk: snapshots, journals, retired files.

Each session ``name`` in ``state_dir`` has a full snapshot ``<name>.npz``
(:meth:`fastscan.Sampler.save`, atomic) and, after it, a journal
``<name>.journal`` of the batches ingested since (:mod:`fastscan.service.journal`).
A closed session's files are renamed ``<name>.closed.npz`` / ``.closed.journal``
(kept, never deleted: nothing measured is lost).

Examples
--------
>>> import tempfile
>>> files = SessionFiles(tempfile.mkdtemp())
>>> files.snapshot("scan42").name
'scan42.npz'
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._npz import refuse_non_npz
from fastscan.folders import writable_folder
from fastscan.service.journal import append_batch

__all__ = ["SESSION_NAME", "SessionFiles", "prepare_state_dir", "read_state_log"]

#: Allowed session names (matched with ``fullmatch``: no trailing newline slips through).
SESSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def read_state_log(path: str | Path) -> tuple[dict[str, Any], list[tuple[np.ndarray, np.ndarray]]]:
    """Header and ingest batches of a :meth:`fastscan.Sampler.save` file.

    Parameters
    ----------
    path : str or Path
        A sampler state file (npz, read without pickle).

    Returns
    -------
    header : dict
        The file's JSON header (``schema``, ``params``, ``batches``, ...).
    batches : list of (points, values)
        The ingested batches in order (empty entries of the file's list are skipped).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from fastscan import Sampler
    >>> s = Sampler((20, 30), batch_size=5)
    >>> p = s.suggest(); s.ingest(p, np.ones(len(p)))
    >>> header, batches = read_state_log(s.save(pathlib.Path(tempfile.mkdtemp()) / "s.npz"))
    >>> len(batches), header["params"]["shape"]
    (1, [20, 30])
    """
    refuse_non_npz(path, "fastscan sampler state file")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            points, values = data["points"], data["values"]
        sizes = [int(n) for n in header["batches"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a fastscan sampler state file ({exc})") from None
    if sum(sizes) != len(points) or len(points) != len(values):
        raise ValueError(f"{path}: batch sizes do not add up to the number of readings")
    if any(n < 0 for n in sizes):
        raise ValueError(f"{path}: negative batch size in {sizes}")
    # an ingest always carries readings: an empty entry is not a batch (a state that was
    # loaded and saved again may list one), and counting it would shift every seq after it
    sizes = [n for n in sizes if n > 0]
    cuts = np.cumsum(sizes)[:-1] if sizes else []
    batches = list(zip(np.split(points, cuts), np.split(values, cuts))) if sizes else []
    return header, batches


def prepare_state_dir(state_dir: str | Path) -> Path:
    """The service's state folder, created if missing and checked to be writable.

    Parameters
    ----------
    state_dir : str or Path
        A folder (created with its parents if missing).

    Returns
    -------
    Path
        ``state_dir`` as a path.

    Raises
    ------
    ValueError
        One line naming the path and what is wrong with it: a file (or a path
        through a file), a folder that cannot be created or cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> prepare_state_dir(pathlib.Path(tempfile.mkdtemp()) / "state").name
    'state'
    """
    return writable_folder(state_dir, "state folder")


class SessionFiles:
    """The files of the service's sessions in one directory.

    Parameters
    ----------
    state_dir : str or Path
        Created if missing; see :func:`prepare_state_dir` for what is refused.
    """

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = prepare_state_dir(state_dir)

    def snapshot(self, name: str) -> Path:
        """Path of the session's full snapshot."""
        return self.state_dir / f"{name}.npz"

    def journal(self, name: str) -> Path:
        """Path of the session's journal (batches after the snapshot)."""
        return self.state_dir / f"{name}.journal"

    def names(self) -> list[str]:
        """Sessions with a snapshot on disk (files with other names are ignored)."""
        found = (p.name[:-4] for p in self.state_dir.glob("*.npz"))
        return sorted(n for n in found if SESSION_NAME.fullmatch(n))

    def has(self, name: str) -> bool:
        """True when the session has a snapshot on disk."""
        return self.snapshot(name).is_file()

    def write_snapshot(self, name: str, sampler: Any) -> None:
        """Save the whole state, then drop the journal it includes."""
        sampler.save(self.snapshot(name))
        self.journal(name).unlink(missing_ok=True)

    def append(self, name: str, batches: list[tuple[int, np.ndarray, np.ndarray]]) -> None:
        """Append ``(seq, points, values)`` batches to the session's journal."""
        for seq, points, values in batches:
            append_batch(self.journal(name), seq, points, values)

    def drop_journal(self, name: str) -> None:
        """Forget journaled batches (the session is being replaced)."""
        self.journal(name).unlink(missing_ok=True)

    def retire(self, name: str) -> bool:
        """Rename a closed session's files to ``<name>.closed.*``; True if there were any."""
        if not self.has(name):
            return False
        self.snapshot(name).replace(self.state_dir / f"{name}.closed.npz")
        if self.journal(name).is_file():
            self.journal(name).replace(self.state_dir / f"{name}.closed.journal")
        return True
