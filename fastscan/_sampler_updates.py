"""How readings change the sampler's maps: ingest parts cut at events, exact local
updates of what the changed pixels reach, and full updates (activation, rescale).

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

import numpy as np

from fastscan import _prepared_update, _readings, _row_merge, _update
from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan._neighbor_lists import NeighborLists
from fastscan._structure import structure_levels
from fastscan.channels import channel_gains, count_channels
from fastscan.erd.floor import AUTO as AUTO_FLOOR
from fastscan.neighbors import OffsetTable
from fastscan.selection import TileMax


class ExactUpdates:
    """Ingest parts, exact local updates and full updates (a Sampler mixin)."""

    def _apply(self, points: np.ndarray, values: np.ndarray) -> None:
        """Apply readings in parts cut after each reading that makes the ERD map, completes
        the initial pattern or the suggested batch, or grows the measured range past a
        rescale; so every state change happens at the same reading whatever the ingest
        granularity."""
        while len(points):
            cut = self._next_event(points, values)
            self._apply_part(points[:cut], values[:cut])
            points, values = points[cut:], values[cut:]
            batch = self._batch_flat
            completed = batch is not None and bool(self._mask.reshape(-1)[batch].all())
            if self._shadow_due or (
                self._shadow is not None and self._shadow_rows < len(self._mask)
            ):
                self._late_prepare(int(cut > completed))  # (any grouping: the same bits)
            if completed:
                self._record_change()  # the suggested batch is in: one record
                self._batch_flat = None

    def _next_event(self, points: np.ndarray, values: np.ndarray) -> int:
        """Number of readings up to and including the first event (or all of them)."""
        cut = len(points)
        if not self.initial_complete:
            flat = points[:, 0] * self.shape[1] + points[:, 1]
            _, first = np.unique(flat, return_index=True)
            first = np.sort(first)
            initial = self._initial_pixels()  # sorted, distinct
            at = np.minimum(np.searchsorted(initial, flat[first]), len(initial) - 1)
            is_initial = initial[at] == flat[first]
            arrivals = first[is_initial & ~self._mask.reshape(-1)[flat[first]]]
            n_done = int(self._mask.reshape(-1)[initial].sum())
            targets = [len(initial)] + ([] if self._active else [self.activation_count])
            for target in targets:
                need = max(target - n_done, 1)
                if need <= len(arrivals):
                    cut = min(cut, int(arrivals[need - 1]) + 1)
        batch = self._batch_flat
        if batch is not None:
            left = batch[~self._mask.reshape(-1)[batch]]
            if 0 < len(left) <= len(points):  # (else it cannot complete in these readings)
                flat = points[:, 0] * self.shape[1] + points[:, 1]
                arrived = np.flatnonzero(np.isin(flat, left))
                _, first = np.unique(flat[arrived], return_index=True)
                if len(first) == len(left):
                    cut = min(cut, int(arrived[first].max()) + 1)
        if self._active:
            low = np.minimum.accumulate(np.minimum(values, self._value_min), axis=0)
            high = np.maximum.accumulate(np.maximum(values, self._value_max), axis=0)
            grown = np.flatnonzero((high - low > _sampler._RESCALE_GROWTH * self._ref_range).any(1))
            if len(grown):
                cut = min(cut, int(grown[0]) + 1)
        return cut

    def _apply_part(self, points: np.ndarray, values: np.ndarray) -> None:
        complete = self.initial_complete  # before this part: the completing part is the tail
        prepared, self._prepared = self._prepared, None  # only the next part may use it
        # sums in reading order: the means equal idw_reconstruction's to the last bit
        pixels, is_new, moved = _readings.accumulate(
            self._sums, self._counts, self._values, self._mask, points, values
        )
        u_rows, u_cols = pixels[:, 0], pixels[:, 1]
        self._n_measured += int(is_new.sum())
        self._value_min = np.minimum(self._value_min, values.min(0))
        self._value_max = np.maximum(self._value_max, values.max(0))
        new_points = pixels[is_new]
        # pixels whose value changed: every new one and each repeat that moved its mean
        changed = np.concatenate([new_points, moved])
        if not self._active:
            self._recon[:, u_rows, u_cols] = self._values[:, u_rows, u_cols]
            n_done = int(self._mask.reshape(-1)[self._initial_pixels()].sum())
            if n_done >= self.activation_count:
                self._full_update()
            return
        if self._needs_rescale():
            self._pending_full = self._pending_full or complete
            self._full_update()
            return
        if complete:  # the change rule watches ERD batches, not the initial pattern
            self._pending_readings += len(points)
            self._pending_new.append(new_points)
        if len(moved):
            prepared = None
        self._local_update(new_points, changed, watch=complete, prepared=prepared)

    def _local_update(
        self,
        new_points: np.ndarray,
        changed: np.ndarray,
        watch: bool = False,
        prepared: _prepared_update.PreparedMerge | None = None,
    ) -> None:
        """Update exactly what the changed pixels can change.
        ``watch``: keep the old reconstruction of what changes for the stop rule.

        ``changed`` holds every pixel whose mean reading changed (the new points
        and the repeats that moved a mean). An unmeasured pixel's reconstruction
        changes only if a changed pixel lies within its old k-th neighbour
        distance; its ERD also changes when the reconstruction of one of its
        4-neighbours (the gradient features) does.
        """
        if len(changed) == 0:
            return
        rows, cols = changed[:, 0], changed[:, 1]
        if watch:
            self._keep_old(changed)
        for values, recon in zip(self._values, self._recon):
            _update.scatter(recon, changed, values[rows, cols])
        self._erd[new_points[:, 0], new_points[:, 1]] = -1.0
        if self._shadow is not None:
            self._shadow[new_points[:, 0], new_points[:, 1]] = -1.0
        self._dk[new_points[:, 0], new_points[:, 1]] = 0.0
        self._index_new_points(new_points)
        lists = self._neighbor_lists()
        version = self._n_measured - len(new_points)  # the state before these points
        if lists is not None:  # (preparing needs the lists)
            prepared = _prepared_update.take(prepared, changed, version=version)
        else:
            prepared = None
        if prepared is not None:  # made while the segment flew
            _prepared_update.apply_lists(lists, prepared)
            affected, region = prepared.affected, prepared.region
        else:
            if lists is None:
                affected = _update.affected_pixels(
                    self._mask, self._dk, self._dk_max, self._dk_tile, changed, self._touched
                )
            else:  # the new points also enter the stored lists they belong to
                is_new = np.arange(len(changed)) < len(new_points)
                affected = _row_merge.affected_merge(  # one visit a pixel for a flown row
                    lists, self._mask, self._dk, self._dk_max, self._dk_tile, changed, is_new,
                    self._touched,
                )  # fmt: skip
            region = _update.dilate_unmeasured(
                self._mask, np.concatenate([affected, changed]), self._touched
            )
        if watch:
            self._keep_old(region)
        if len(region) and self.n_channels == 1 and self._lists_ready(region):
            # one channel, every list stored: read the neighbours straight from the lists
            _, features = lists.update(
                self._values[0],
                self._recon[0],
                self._dk,
                region,
                rho=self._rho,
                scale=float(self._scale[0]),
                sparsity_area=self._sparsity_area,
            )

            def dk_bounds() -> None:  # d_k is final: its tile bounds, while the model runs
                _update.tile_dk_max(self._mask, self._dk, self._dk_tile, self._dk_max, region)

            _update.put(self._erd, region, self._region_erd(features, region, dk_bounds))
            if self._shadow is not None:  # the same features, LATE_MODEL's forward pass
                erd = self._region_erd(features, region, model=self._shadow_model, late=True)
                _update.put(self._shadow, region, erd)
        elif len(region):
            nbr = self._update_recon(region, nbr=self._region_knn(region))
            self._update_erd(region, nbr)
            _update.tile_dk_max(self._mask, self._dk, self._dk_tile, self._dk_max, region)
        self._tiles.refresh(region)
        self._tiles.refresh(new_points)
        if self._shadow_tiles is not None:
            self._shadow_tiles.refresh(region)
            self._shadow_tiles.refresh(new_points)

    def _needs_rescale(self) -> bool:
        value_range = self._value_max - self._value_min
        return bool(np.any(value_range > _sampler._RESCALE_GROWTH * self._ref_range))

    def _full_update(self) -> None:
        """Recompute reconstruction, neighbours, channel gains and ERD of every pixel."""
        self._cells = None
        self._index_new_points(np.zeros((0, 2), np.int64))  # a sparse scan: index the mask
        self._ref_range = self._value_max - self._value_min
        # map each channel's measured range to the [0, 100] the model was trained on
        # (guard a near-constant channel: a range below 1e-200 would overflow the scale)
        self._scale = np.where(
            self._ref_range > 1e-200, 100.0 / np.maximum(self._ref_range, 1e-200), 1.0
        )
        if self.n_channels > 1:
            measured = self._values[:, self._mask].T
            self._gains = channel_gains(measured, self._weights, self.noise)
            self._count_channels = count_channels(measured, self.noise)
        self._table = OffsetTable(OffsetTable.radius_for(self.shape, self._n_measured, self.k))
        self._recon[:, self._mask] = self._values[:, self._mask]
        self._erd[self._mask] = -1.0
        if self._shadow is not None:  # every unmeasured pixel's shadow is made just below
            self._shadow[self._mask] = -1.0
            self._shadow_rows = self.shape[0]
        self._dk[self._mask] = 0.0
        pixels = np.argwhere(~self._mask)
        lists = self._neighbor_lists()
        for start in range(0, len(pixels), _sampler._CHUNK):
            chunk = pixels[start : start + _sampler._CHUNK]
            nbr = self._update_recon(chunk, bounded=False)
            if lists is not None:
                lists.store(chunk, nbr[0], nbr[1])
        if not self._active:  # from the unbiased initial pattern, then held
            counting = count_channels(self._values[:, self._mask].T, self.noise).any()
            # the edge-energy variation only serves the hedge: not measured when it is off
            spacing = np.sqrt(self._mask.size / max(self._n_measured, 1)) if self.hedge else None
            gini, variation = structure_levels(self._recon, self._scale, self._gains, spacing)
            self._set_structure(gini, bool(counting), variation)
            if self.erd_floor == AUTO_FLOOR:
                self._floor_level = self._measure_floor_level()
        self._erd_pass(pixels, lists)
        self._active = True
        _sampler._warm_up(self.model)  # once per process, with a full garbage collection

    def _erd_pass(self, pixels: np.ndarray, lists: NeighborLists | None) -> None:
        """ERD of ``pixels`` (every unmeasured one) from the current neighbours, then the
        tile maxima the selection reads."""
        for start in range(0, len(pixels), _sampler._CHUNK):
            chunk = pixels[start : start + _sampler._CHUNK]
            self._update_erd(chunk, None if lists is None else self._region_knn(chunk))
        _update.tile_dk_max(self._mask, self._dk, self._dk_tile, self._dk_max)
        self._tiles = TileMax(self._erd)
        if self._shadow is not None:  # (every row made by the full update)
            self._shadow_tiles = TileMax(self._shadow)
