"""The sampler's k-nearest-neighbour plumbing: the sparse-scan cell index, the offset
table search and the stored neighbour lists, kept in step with the measured pixels.

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

import numpy as np

from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan._neighbor_lists import NeighborLists
from fastscan.neighbors import CellIndex, table_knn


class NeighborPlumbing:
    """k nearest measured pixels: cell index, offset table, stored lists (a Sampler mixin)."""

    def _knn(
        self, pixels: np.ndarray, bounded: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k nearest measured pixels; ``bounded``: ``_dk`` still holds an upper bound."""
        if self._cells is not None:
            bound = self._dk[pixels[:, 0], pixels[:, 1]] if bounded else None
            return self._cells.knn(pixels, self.k, bound)
        return table_knn(self._mask, pixels, self.k, self._table)

    def _neighbor_lists(self) -> NeighborLists | None:
        """The stored neighbour lists (made, all invalid, on first use); None if not kept."""
        if self._lists is None and self.k <= _sampler._LISTS_MAX_K:
            self._lists = NeighborLists(self.shape, self.k)
        return self._lists

    def _lists_ready(self, region: np.ndarray) -> bool:
        """True if every pixel of ``region`` has a stored list (searching the missing ones
        first; a pixel with a neighbour beyond the lists' reach leaves it False)."""
        lists = self._lists
        if lists is None:
            return False
        valid = lists.valid_of(region)
        if valid.all():
            return True
        missing = region[~valid]
        self._search_and_store(missing)
        return bool(lists.valid_of(missing).all())

    def _search_and_store(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Search the k nearest measured pixels of ``pixels`` and store them in the lists."""
        found = self._knn(pixels, bounded=True)
        self._lists.store(pixels, found[0], found[1])
        return found

    def _region_knn(
        self, region: np.ndarray, store: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k nearest measured pixels of ``region`` from the lists; searched where invalid
        (and the search stored in the lists unless ``store`` is False).

        ``_dk`` must bound each pixel's k-th distance from above (it may still hold the
        distance from before the latest points).
        """
        lists = self._lists
        if lists is None:
            return self._knn(region, bounded=True)
        valid = lists.valid_of(region)
        if valid.all():
            return lists.gather(region)
        nbr = lists.gather(region)  # the invalid rows are overwritten just below
        missing = region[~valid]
        found = self._search_and_store(missing) if store else self._knn(missing, bounded=True)
        for array, part in zip(nbr, found):
            array[~valid] = part
        return nbr

    def _index_new_points(self, new_points: np.ndarray) -> None:
        """Keep the sparse-scan k-NN index in step (rebuilt as the density doubles)."""
        too_big = max(self.shape) > _sampler.MAX_SIDE  # (the offset table serves any grid)
        if too_big or self._n_measured >= _sampler._CELL_DENSITY * self._mask.size:
            self._cells = None
        elif self._cells is None or self._n_measured >= 2 * self._cells_built_at:
            cell = CellIndex.cell_for(self.shape, self._n_measured, self.k)
            self._cells = CellIndex(self._mask, cell)
            self._cells_built_at = self._n_measured
        else:
            self._cells.add(new_points)
