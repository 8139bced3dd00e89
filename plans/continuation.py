"""Which stored runs a sampler's readings came from, so a continued scan can be rebuilt whole.

A scan interrupted (or stopped at its cap) can go on in a new run with the same sampler:
``RE(autonomous_scan(..., sampler=last_sampler))``. The new run stores only its own new
readings, so the run alone does not hold the scan. Each fastscan plan therefore records in
its start document, under ``md["fastscan"]["continuation"]``, what the sampler held when
the run began:

- ``continues``: the uids of the earlier runs whose readings it held, in order;
- ``n_measured_at_start``: its ``n_measured`` then;
- ``unstored_at_start``: how many of those measured pixels no run of the chain stored
  (readings fed by hand, a service session attached to), 0 when the chain holds them all.

The chain is remembered on the sampler object itself when a run ends (a private
attribute, :data:`ATTR`, holding a :class:`fastscan.run_chain.RunChain`; a state file
written by :meth:`fastscan.Sampler.save` keeps it, so a sampler saved and loaded again
still names its runs); :func:`fastscan.plans.sampler_from_run` rebuilds it from
the catalogue and sets it on the sampler it returns, so a rebuilt sampler continued in a
new run is followed too.

Examples
--------
>>> import numpy as np
>>> from fastscan import Sampler
>>> s = Sampler((20, 20))
>>> at_start = continuation_md(s)  # a run begins with an empty sampler
>>> s.ingest(np.array([[2, 3], [9, 9]]), np.array([1.0, 2.0]))  # the run's readings
>>> remember_runs(s, ["run-1"], at_start)  # the run ended
>>> continuation_md(s)  # what the next run records
{'continues': ['run-1'], 'n_measured_at_start': 2, 'unstored_at_start': 0}
>>> s.ingest(np.array([[5, 5]]), np.array([0.5]))  # a reading by hand, in no run
>>> continuation_md(s)
{'continues': ['run-1'], 'n_measured_at_start': 3, 'unstored_at_start': 1}
"""

from __future__ import annotations

import logging
from typing import Any

from fastscan.plans.steps import n_measured
from fastscan.run_chain import ATTR, RunChain

__all__ = ["ATTR", "KEY", "RunChain", "continuation_md", "remember_runs", "with_continuation"]

logger = logging.getLogger("fastscan.plans")

#: the key of the record in the start document's ``md["fastscan"]``
KEY = "continuation"


def continuation_md(sampler: Any) -> dict[str, Any]:
    """What ``sampler`` holds now, for the start document of a run that continues it.

    Parameters
    ----------
    sampler : sampler object
        Anything with ``n_measured`` or ``measured_mask``.

    Returns
    -------
    dict
        ``{"continues": [uid, ...], "n_measured_at_start": int, "unstored_at_start": int}``.
    """
    n_now = n_measured(sampler)
    chain = getattr(sampler, ATTR, None)
    if n_now == 0:
        return {"continues": [], "n_measured_at_start": 0, "unstored_at_start": 0}
    if not isinstance(chain, RunChain) or n_now < chain.n_measured:
        # no chain, or one that no longer describes this sampler (it was made again)
        return {"continues": [], "n_measured_at_start": n_now, "unstored_at_start": n_now}
    unstored = chain.unstored + n_now - chain.n_measured  # + readings fed since it ended
    return {
        "continues": list(chain.uids),
        "n_measured_at_start": n_now,
        "unstored_at_start": unstored,
    }


def with_continuation(run_md: dict[str, Any], at_start: dict[str, Any]) -> dict[str, Any]:
    """A copy of the start document ``run_md`` with ``at_start`` as
    ``run_md["fastscan"]["continuation"]`` (the record the catalogue tools follow)."""
    info = {**run_md.get("fastscan", {}), KEY: dict(at_start)}
    return {**run_md, "fastscan": info}


def remember_runs(sampler: Any, run_uids: list[str], at_start: dict[str, Any]) -> None:
    """After a run ended: the sampler's readings come from ``at_start``'s chain and these runs.

    Parameters
    ----------
    sampler : sampler object
        The sampler the run used.
    run_uids : list of str
        The run(s) the plan opened (none: nothing is remembered).
    at_start : dict
        :func:`continuation_md` of the sampler when the run began.

    A sampler that refuses new attributes (``__slots__``) is left as it is; a run that
    continues it then records its readings as unstored.
    """
    if not run_uids:
        return
    chain = RunChain(
        tuple(at_start["continues"]) + tuple(run_uids),
        n_measured(sampler),
        int(at_start["unstored_at_start"]),
    )
    try:
        object.__setattr__(sampler, ATTR, chain)
    except (AttributeError, TypeError) as exc:
        logger.debug("cannot remember the runs of %s: %s", type(sampler).__name__, exc)
