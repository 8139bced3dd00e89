"""The user's ``md`` merged into a plan's start document without losing what fastscan records.

bluesky merges a plan's ``md`` last (the user's keys win). fastscan's plans record their
settings under the ``"fastscan"`` key (sampler class and parameters, model, grid, signal),
which :func:`fastscan.plans.load_run`, ``replay_points`` and LivePlot read back; a user
``md={"fastscan": {...}}`` used to replace that whole dict silently. Here the two dicts are
merged one level deep: the user's keys win, the recorded keys the user did not give are kept.

Examples
--------
>>> recorded = {"plan_name": "autonomous_scan", "fastscan": {"signal": "det", "version": "1"}}
>>> merged = merge_user_md(recorded, {"fastscan": {"note": "beam dump"}, "sample": "A1"})
>>> merged["fastscan"], merged["sample"]
({'signal': 'det', 'version': '1', 'note': 'beam dump'}, 'A1')
"""

from __future__ import annotations

from typing import Any

__all__ = ["merge_user_md"]

KEY = "fastscan"


def merge_user_md(run_md: dict[str, Any], md: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``run_md`` updated with ``md``; ``md["fastscan"]`` merged into the recorded one.

    Parameters
    ----------
    run_md : dict
        The start document the plan made (its ``"fastscan"`` entry a dict).
    md : dict or None
        The user's metadata, merged last (its keys win, as in bluesky).

    Returns
    -------
    dict
        The merged start document (``run_md`` and ``md`` are not changed).

    Raises
    ------
    TypeError
        If ``md["fastscan"]`` is not a dict (it cannot be merged with the recorded settings).
    """
    merged = dict(run_md)
    if not md:
        return merged
    user = md.get(KEY, None)
    if KEY in md and not isinstance(user, dict):
        raise TypeError(
            f"md[{KEY!r}] must be a dict (merged into the fastscan settings the plan records, "
            f"which the catalogue tools read back), got {type(user).__name__}: {user!r}; "
            "put other metadata under another key"
        )
    merged.update(md)
    if KEY in md:
        merged[KEY] = {**run_md.get(KEY, {}), **user}
    return merged
