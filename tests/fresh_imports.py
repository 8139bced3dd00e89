"""What a fresh interpreter has imported after running some code (import-weight tests)."""

from __future__ import annotations

import json
import subprocess
import sys


def modules_loaded_by(code: str, *, timeout: float = 60.0) -> set[str]:
    """The names in ``sys.modules`` of a new interpreter after it ran ``code``.

    Parameters
    ----------
    code : str
        Python statements, e.g. ``"import fastscan, fastscan.replay"``.
    timeout : float
        Seconds the interpreter may take.

    Returns
    -------
    set of str
        Every module loaded, the interpreter's own start-up modules included.

    Raises
    ------
    subprocess.CalledProcessError
        If ``code`` fails (its stderr is in the exception).
    """
    report = "import json as _j, sys as _s; print(_j.dumps(sorted(_s.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        capture_output=True, text=True, check=True, timeout=timeout,
    )  # fmt: skip
    return set(json.loads(done.stdout.splitlines()[-1]))
