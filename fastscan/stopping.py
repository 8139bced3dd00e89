"""Stop rules: when is the image done?

A scan stops at the first of:

* coverage reached ``max_coverage``;
* nothing is left to measure;
* the largest ERD fell below ``erd_threshold`` (in the model's RD units, about
  [0, 100] intensity units summed over a Gaussian window);
* the reconstruction stopped changing: over the last ``patience`` batches, the
  summed absolute change of the reconstruction per measured point, in units of
  the measured intensity range, stayed below ``change_tolerance`` (0.01 means a
  new reading moves the image by 1 % of the range at one pixel, on average).
"""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["StopRule"]


class StopRule:
    """Decide whether a scan is done; :attr:`reason` says why in words."""

    def __init__(
        self,
        max_coverage: float = 0.5,
        erd_threshold: float | None = None,
        change_tolerance: float | None = 0.005,
        patience: int = 10,
    ) -> None:
        if not 0.0 < max_coverage <= 1.0:
            raise ValueError(f"max_coverage must be in (0, 1], got {max_coverage!r}")
        if erd_threshold is not None and not (np.isfinite(erd_threshold) and erd_threshold >= 0):
            raise ValueError(f"erd_threshold must be None or a number >= 0, got {erd_threshold!r}")
        if change_tolerance is not None and not (
            np.isfinite(change_tolerance) and change_tolerance > 0
        ):
            raise ValueError(
                f"change_tolerance must be None or a number > 0, got {change_tolerance!r}"
            )
        if int(patience) != patience or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience!r}")
        self.max_coverage = float(max_coverage)
        self.erd_threshold = None if erd_threshold is None else float(erd_threshold)
        self.change_tolerance = None if change_tolerance is None else float(change_tolerance)
        self.patience = int(patience)
        self._changes: deque[float] = deque(maxlen=self.patience)
        self.reason: str | None = None

    def record_change(self, relative_change: float, n_points: int) -> None:
        """Record one batch's L1 reconstruction change (in intensity ranges) over ``n_points``."""
        self._changes.append(relative_change / max(n_points, 1))

    @property
    def recent_change(self) -> float | None:
        """Largest per-point relative change over the last ``patience`` batches."""
        return max(self._changes) if self._changes else None

    def settled(self, tolerance: float | None = None) -> bool:
        """True if the last ``patience`` batches all changed the image less than ``tolerance``.

        ``tolerance`` defaults to :attr:`change_tolerance`; passing one lets a caller
        watch the change rule without letting it stop the scan.
        """
        tolerance = self.change_tolerance if tolerance is None else tolerance
        return (
            tolerance is not None
            and len(self._changes) == self.patience
            and max(self._changes) < tolerance
        )

    def check(self, *, coverage: float, n_left: int, max_erd: float | None) -> bool:
        """Evaluate the rule now; sets :attr:`reason` (None while the scan should go on)."""
        self.reason = None
        if n_left <= 0:
            self.reason = "every pixel is measured"
        elif coverage >= self.max_coverage - 1e-12:
            self.reason = f"coverage {coverage:.1%} reached max_coverage {self.max_coverage:.1%}"
        elif (
            self.erd_threshold is not None and max_erd is not None and max_erd < self.erd_threshold
        ):
            self.reason = (
                f"largest ERD {max_erd:.3g} fell below erd_threshold {self.erd_threshold:g}"
            )
        elif self.settled():
            self.reason = (
                f"reconstruction change {max(self._changes):.3g} per point stayed below "
                f"change_tolerance {self.change_tolerance:g} for {self.patience} batches"
            )
        return self.reason is not None
