"""Child processes in tests: whatever a test does, the child is gone when it ends."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def reaped(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Yield ``proc``; on leaving, kill it if it still runs, close its pipes and wait for it.

    A failed assertion inside the block thus neither leaves the child running nor hangs
    waiting for it, and no pipe is left open (an unclosed one warns, and warnings are
    errors in these tests).

    Examples
    --------
    >>> import sys
    >>> with reaped(subprocess.Popen([sys.executable, "-c", "input()"],
    ...                              stdin=subprocess.PIPE)) as child:
    ...     pass
    >>> child.returncode != 0  # killed: it was still waiting for its input
    True
    """
    with proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
