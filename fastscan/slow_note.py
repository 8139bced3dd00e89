"""A line on stderr when a step that is usually quick is still running after a while.

The first run on a machine compiles fastscan's numba kernels (about a minute on
two cores; cached afterwards), and until then a command that normally answers in
seconds says nothing. :class:`SlowNote` prints one line if, and only if, the step
is still running after ``after`` seconds, so a cached run stays quiet.

Examples
--------
>>> with SlowNote("still compiling ...", after=60.0):
...     pass  # done long before the note would be printed
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

__all__ = ["FIRST_RUN", "SlowNote"]

#: why a first step is slow on a fresh install
FIRST_RUN = "the first run on a machine compiles the numba kernels: about a minute, then cached"


class SlowNote:
    """Print ``message`` once if not cancelled within ``after`` seconds.

    Parameters
    ----------
    message : str
        The line to print.
    after : float
        Seconds to wait, > 0.
    stream : file, optional
        Where to print (default: ``sys.stderr`` at the time of printing).
    """

    def __init__(self, message: str, after: float = 10.0, stream: TextIO | None = None) -> None:
        if not after > 0:
            raise ValueError(f"after must be a number of seconds > 0, got {after!r}")
        self.message = message
        self.after = float(after)
        self.stream = stream
        self.printed = False
        self._lock = threading.Lock()
        self._cancelled = False
        self._timer = threading.Timer(self.after, self._print)
        self._timer.daemon = True

    def start(self) -> SlowNote:
        """Start waiting; returns self."""
        self._timer.start()
        return self

    def cancel(self) -> None:
        """Do not print (a no-op once printed)."""
        with self._lock:
            self._cancelled = True
        self._timer.cancel()

    def _print(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self.printed = True
            stream = self.stream if self.stream is not None else sys.stderr
            print(self.message, file=stream, flush=True)

    def __enter__(self) -> SlowNote:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cancel()
