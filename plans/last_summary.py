"""The summary of the latest fastscan plan a RunEngine ran, also after ``RE.abort()``.

A plan's summary (:class:`~fastscan.plans.ScanSummary`,
:class:`~fastscan.plans.FlyScanSummary`) is its return value, which the RunEngine hands
back as ``RE(plan).plan_result``. After a pause and ``RE.abort()`` bluesky returns its
"no result" sentinel instead, though the plan filled the summary in as it closed (points,
coverage, run uid, elapsed time). :func:`last_summary` keeps it reachable: each of
:func:`~fastscan.plans.autonomous_scan`, :func:`~fastscan.plans.rel_autonomous_scan` and
:func:`~fastscan.plans.autonomous_fly_scan` records its summary here when the RunEngine
starts it (a plan made but never run records nothing), under the RunEngine that runs it:
with two RunEngines in one session (a simulated and a real one), ``last_summary(RE)`` is
that engine's latest and ``last_summary()`` the latest of any. The engines are held by
weak references, so a RunEngine dropped from the session is not kept alive here.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import Any

__all__ = ["last_summary", "remember_summary"]

_lock = threading.Lock()
_latest: list[Any] = [None]  # of any RunEngine (or of a plan driven without one)
_by_engine: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def remember_summary(summary: Any) -> None:
    """Record ``summary`` as the latest plan's (called by the plans as they start).

    The RunEngine running the plan is found on the call stack (its ``_run`` loop
    resumes the plan's generators); a plan driven by anything else is recorded as
    the latest of any only.
    """
    engine = _running_engine(sys._getframe(1))
    with _lock:
        _latest[0] = summary
        if engine is not None:
            _by_engine[engine] = summary


def last_summary(RE: Any = None) -> Any:
    """The summary of the latest fastscan plan ``RE`` ran (None: any RunEngine, in this process).

    Parameters
    ----------
    RE : bluesky.RunEngine, optional
        The RunEngine whose latest fastscan plan is asked for; None: the latest
        fastscan plan of any RunEngine.

    Returns
    -------
    ScanSummary, FlyScanSummary or None
        The same object the plan returns (or would have returned: also after an
        abort, a failure or a stop), complete once the run has closed; None before
        any fastscan plan ran (on ``RE``).

    Raises
    ------
    TypeError
        ``RE`` is neither None nor a bluesky RunEngine.
    """
    if RE is None:
        return _latest[0]
    from bluesky import RunEngine

    if not isinstance(RE, RunEngine):
        raise TypeError(
            f"RE must be a bluesky RunEngine (or None for the latest of any), "
            f"got {type(RE).__name__}: {RE!r}"
        )
    with _lock:
        return _by_engine.get(RE)


def _running_engine(frame: Any) -> Any:
    """The RunEngine whose ``_run`` coroutine is on the stack above ``frame``, or None."""
    run_engine = sys.modules.get("bluesky.run_engine")
    if run_engine is None:  # bluesky not imported: no RunEngine can be running
        return None
    while frame is not None:
        if frame.f_code.co_name == "_run":
            owner = frame.f_locals.get("self")
            if isinstance(owner, run_engine.RunEngine):
                return owner
        frame = frame.f_back
    return None
