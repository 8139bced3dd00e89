"""Fly segments: pixels crossed, validation, reverse symmetry (hypothesis)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastscan.fly import Segment, segments_to_points

coord = st.integers(-50, 50)


def reference_pixels(start, end):
    n = max(abs(end[0] - start[0]), abs(end[1] - start[1])) + 1
    if n == 1:
        return np.array([start])
    # exact rational positions, nearest pixel, halves up
    return np.array(
        [
            [
                s + math.floor(Fraction(i * (e - s), n - 1) + Fraction(1, 2))
                for s, e in zip(start, end)
            ]
            for i in range(n)
        ],
        np.int64,
    )


@settings(max_examples=300, derandomize=True, deadline=None)
@given(coord, coord, coord, coord)
def test_pixels_match_the_nearest_pixel_of_equally_spaced_samples(r0, c0, r1, c1):
    seg = Segment((r0, c0), (r1, c1))
    pixels = seg.pixels()
    assert pixels.dtype == np.int64 and pixels.shape == (seg.n_pixels, 2)
    np.testing.assert_array_equal(pixels, reference_pixels((r0, c0), (r1, c1)))
    assert tuple(pixels[0]) == (r0, c0) and tuple(pixels[-1]) == (r1, c1)
    # consecutive readings are neighbouring pixels (8-connected), never repeated
    steps = np.abs(np.diff(pixels, axis=0))
    assert (steps.max(axis=1, initial=1) == 1).all()
    np.testing.assert_array_equal(seg.reversed().pixels()[::-1], pixels)


def test_rows_and_columns_read_every_pixel_between_the_ends():
    assert Segment((4, 9), (4, 6)).pixels().tolist() == [[4, 9], [4, 8], [4, 7], [4, 6]]
    assert Segment((1, 3), (3, 3)).is_column and Segment((1, 3), (1, 8)).is_row
    assert Segment((2, 2), (2, 2)).n_pixels == 1


@pytest.mark.parametrize("ends", [((4, 0), (4, 599)), ((599, 7), (0, 7)), ((3, 9), (3, 2)),
                                  ((0, 5), (8, 5)), ((6, 6), (6, 6))])  # fmt: skip
def test_row_and_column_pixels_equal_the_rule_of_any_direction(ends):
    seg = Segment(*ends)
    np.testing.assert_array_equal(seg.pixels(), seg._pixels_by_rounding())
    np.testing.assert_array_equal(seg.pixels(), reference_pixels(*ends))
    assert seg.pixels().dtype == np.int64


@pytest.mark.parametrize("bad", [(1.5, 2), (1, "a"), (1, 2, 3), None, (True, 1)])
def test_bad_ends_are_refused_with_the_value(bad):
    with pytest.raises(ValueError, match="segment start"):
        Segment(bad, (0, 0))


def test_check_inside_names_the_end_and_the_grid():
    with pytest.raises(ValueError, match=r"end \(3, 10\) is outside the 4 x 10 grid"):
        Segment((0, 0), (3, 10)).check_inside((4, 10))
    seg = Segment((0, 0), (3, 9))
    assert seg.check_inside((4, 10)) is seg


def test_segments_to_points_keeps_flight_order_and_segment_ids():
    points, index = segments_to_points([Segment((0, 0), (0, 2)), Segment((1, 2), (1, 1))])
    assert points.tolist() == [[0, 0], [0, 1], [0, 2], [1, 2], [1, 1]]
    assert index.tolist() == [0, 0, 0, 1, 1]
    empty_points, empty_index = segments_to_points([])
    assert empty_points.shape == (0, 2) and empty_index.shape == (0,)
