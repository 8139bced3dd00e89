"""A file meant to be an ``.npz`` archive that is not one, named as such."""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["existing_npz", "refuse_non_npz"]


def refuse_non_npz(path: str | Path, what: str) -> None:
    """ValueError if ``path`` is a file but no ``.npz`` (zip) archive; ``what`` names the kind.

    numpy would otherwise read such a file as a pickle and suggest loading it with
    ``allow_pickle=True``. A missing path is left to the caller (numpy or its own check).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "run.npz"
    >>> _ = bad.write_text("not an archive")
    >>> refuse_non_npz(bad, "trajectory file")
    Traceback (most recent call last):
    ...
    ValueError: ... is not a trajectory file (not an .npz archive)
    """
    if Path(path).is_file() and not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a {what} (not an .npz archive)")


def existing_npz(path: str | Path, what: str) -> Path:
    """``path``, checked to be a file that is an ``.npz`` archive, before numpy reads it.

    Parameters
    ----------
    path : str or Path
        The file to read.
    what : str
        The kind of fastscan file, as the messages name it (e.g. ``"ERD model file"``).

    Returns
    -------
    Path

    Raises
    ------
    FileNotFoundError
        ``"<what> not found: <path>"`` when no file is there.
    ValueError
        From :func:`refuse_non_npz` (``"fastscan <what>"``) when the file is no archive.

    Examples
    --------
    >>> existing_npz("no/such.npz", "sampler state file")
    Traceback (most recent call last):
    ...
    FileNotFoundError: sampler state file not found: no/such.npz
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    refuse_non_npz(path, f"fastscan {what}")
    return path
