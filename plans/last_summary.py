"""The summary of the latest fastscan plan run in this process, also after ``RE.abort()``.

A plan's summary (:class:`~fastscan.plans.ScanSummary`,
:class:`~fastscan.plans.FlyScanSummary`) is its return value, which the RunEngine hands
back as ``RE(plan).plan_result``. After a pause and ``RE.abort()`` bluesky returns its
"no result" sentinel instead, though the plan filled the summary in as it closed (points,
coverage, run uid, elapsed time). :func:`last_summary` keeps it reachable: each of
:func:`~fastscan.plans.autonomous_scan`, :func:`~fastscan.plans.rel_autonomous_scan` and
:func:`~fastscan.plans.autonomous_fly_scan` records its summary here when the RunEngine
starts it (a plan made but never run records nothing).
"""

from __future__ import annotations

from typing import Any

__all__ = ["last_summary", "remember_summary"]

_latest: list[Any] = [None]


def remember_summary(summary: Any) -> None:
    """Record ``summary`` as the latest plan's (called by the plans as they start)."""
    _latest[0] = summary


def last_summary() -> Any:
    """The summary of the latest fastscan plan the RunEngine ran in this process.

    Returns
    -------
    ScanSummary, FlyScanSummary or None
        The same object the plan returns (or would have returned: also after an
        abort, a failure or a stop), complete once the run has closed; None before
        any fastscan plan ran.
    """
    return _latest[0]
