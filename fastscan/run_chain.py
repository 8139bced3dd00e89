"""The stored runs a sampler's readings came from (kept on the sampler, and in its state file).

A scan can go on in a new run with the same sampler, or with one loaded from a state file
(:meth:`fastscan.Sampler.save` / :meth:`~fastscan.Sampler.load`). The Bluesky plans
(:mod:`fastscan.plans.continuation`) remember on the sampler which runs stored its
readings; the state file carries that record, so a sampler saved and loaded again still
names its runs, and a run that continues it can be rebuilt whole from the catalogue.

Examples
--------
>>> chain = RunChain(("run-1", "run-2"), n_measured=40)
>>> chain_to_json(chain)
{'uids': ['run-1', 'run-2'], 'n_measured': 40, 'unstored': 0}
>>> chain_from_json(chain_to_json(chain), n_measured=40) == chain
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ATTR", "RunChain", "chain_from_json", "chain_to_json"]

#: the sampler attribute holding its :class:`RunChain`
ATTR = "_fastscan_run_chain"


@dataclass(frozen=True)
class RunChain:
    """The stored runs a sampler's readings came from.

    Attributes
    ----------
    uids : tuple of str
        The runs, in the order they ran.
    n_measured : int
        The sampler's ``n_measured`` when the last of them ended.
    unstored : int
        Measured pixels among those that no run of the chain stored.
    """

    uids: tuple[str, ...]
    n_measured: int
    unstored: int = 0


def chain_to_json(chain: RunChain) -> dict[str, Any]:
    """``chain`` as a JSON-ready dict (a state file's header)."""
    return {"uids": list(chain.uids), "n_measured": chain.n_measured, "unstored": chain.unstored}


def chain_from_json(record: Any, n_measured: int) -> RunChain:
    """The :class:`RunChain` of a state file's record, checked against the sampler it
    belongs to (``n_measured`` measured pixels).

    Raises
    ------
    ValueError
        Naming the field that is not what a record holds: ``uids`` a list of strings,
        ``n_measured`` an integer from 0 to the sampler's, ``unstored`` an integer from 0
        to ``n_measured``.
    """
    if not isinstance(record, dict):
        raise ValueError(f"the run record must be a JSON object, got {record!r}")

    def integer(name: str, high: int) -> int:
        value = record.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise ValueError(
                f"the run record's {name} must be an integer in [0, {high}], got {value!r}"
            )
        return value

    uids = record.get("uids")
    if not isinstance(uids, list) or not all(isinstance(uid, str) and uid for uid in uids):
        raise ValueError(f"the run record's uids must be a list of run uids, got {uids!r}")
    n_chain = integer("n_measured", n_measured)
    return RunChain(tuple(uids), n_chain, integer("unstored", n_chain))
