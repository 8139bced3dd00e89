"""Output and state folders: created if missing, checked to be writable, errors in one line.

A command that writes its results at the end (``fastscan simulate``, ``evaluate``)
or after every batch (``fastscan serve --state-dir``) checks its folder first, so
a file in the way, a folder that cannot be created or one that cannot be written
is named at once, not as a raw ``[Errno ...]`` after minutes of work.

Examples
--------
>>> import tempfile, pathlib
>>> writable_folder(pathlib.Path(tempfile.mkdtemp()) / "run", "--out").name
'run'
"""

from __future__ import annotations

import tempfile
from pathlib import Path

__all__ = ["os_error_reason", "writable_folder"]


def writable_folder(path: str | Path, what: str = "folder") -> Path:
    """``path`` as a folder, created (with its parents) if missing and checked writable.

    Parameters
    ----------
    path : str or Path
        The folder.
    what : str
        How the error names it, e.g. ``"--out"`` or ``"state folder"``.

    Returns
    -------
    Path
        ``path`` as a path.

    Raises
    ------
    ValueError
        One line naming ``what``, the path and what is wrong: a file (or a path
        through a file), a folder that cannot be created or cannot be written.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{what} {str(folder)!r} is a file, not a folder; name a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create {what} {str(folder)!r}: {os_error_reason(exc)}") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ValueError(
            f"cannot write in {what} {str(folder)!r}: {os_error_reason(exc)}"
        ) from None
    return folder


def os_error_reason(exc: OSError) -> str:
    """Why making or writing a path failed, in words (a file in the way named as such)."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a part of the path is a file, not a folder"
    return exc.strerror or type(exc).__name__
