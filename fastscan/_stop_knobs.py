"""The stop rule's settings as attributes of the Sampler, to read and to change between runs.

A Sampler mixin. ``sampler.max_coverage = 0.3`` (to continue a scan that stopped at its
cap, or to tune between runs) used to set an attribute nothing read: the scan kept
stopping at the old cap and ``get_params()`` (the run metadata) kept reporting it.
These properties read and write :attr:`Sampler.stop_rule` instead, checked as the
constructor checks them; the rule's memory of recent changes is kept.

Examples
--------
>>> from fastscan import Sampler
>>> s = Sampler((40, 60), max_coverage=0.1)
>>> s.max_coverage = 0.3
>>> s.stop_rule.max_coverage, s.get_params()["max_coverage"]
(0.3, 0.3)
>>> s.patience = 0
Traceback (most recent call last):
...
ValueError: patience must be an integer >= 1, got 0
"""

from __future__ import annotations

from collections import deque

from fastscan.stopping import StopRule

__all__ = ["STOP_KNOBS", "StopKnobs"]

#: the stop rule's settings, settable also once readings are in
STOP_KNOBS = ("max_coverage", "erd_threshold", "change_tolerance", "patience")


class StopKnobs:
    """``max_coverage``, ``erd_threshold``, ``change_tolerance``, ``patience`` of
    ``self.stop_rule`` as attributes (a Sampler mixin)."""

    stop_rule: StopRule

    def _set_stop_knob(self, name: str, value: object) -> None:
        rule = self.stop_rule
        settings = {knob: getattr(rule, knob) for knob in STOP_KNOBS}
        settings[name] = value
        checked = StopRule(**settings)  # raises naming the bad value, as the constructor does
        setattr(rule, name, getattr(checked, name))
        if name == "patience":
            rule._changes = deque(rule._changes, maxlen=rule.patience)

    @property
    def max_coverage(self) -> float:
        """Stop once this fraction of the grid is measured (in (0, 1]; settable)."""
        return self.stop_rule.max_coverage

    @max_coverage.setter
    def max_coverage(self, value: float) -> None:
        self._set_stop_knob("max_coverage", value)

    @property
    def erd_threshold(self) -> float | None:
        """Stop once the largest ERD falls below this (None: off; settable)."""
        return self.stop_rule.erd_threshold

    @erd_threshold.setter
    def erd_threshold(self, value: float | None) -> None:
        self._set_stop_knob("erd_threshold", value)

    @property
    def change_tolerance(self) -> float | None:
        """Per-point change of the reconstruction below which it counts as settled
        (None: off; settable)."""
        return self.stop_rule.change_tolerance

    @change_tolerance.setter
    def change_tolerance(self, value: float | None) -> None:
        self._set_stop_knob("change_tolerance", value)

    @property
    def patience(self) -> int:
        """Batches the change must stay below ``change_tolerance`` (>= 1; settable)."""
        return self.stop_rule.patience

    @patience.setter
    def patience(self, value: int) -> None:
        self._set_stop_knob("patience", value)
