"""Grid: (row, col) <-> (x, y) conversion and validation."""

import numpy as np
import pytest

from fastscan.plans import Grid


def test_round_trip_and_axes():
    g = Grid(x_start=1.0, x_stop=-1.0, n_cols=21, y_start=5.0, y_stop=7.0, n_rows=11)
    assert g.shape == (11, 21)
    assert g.pitch == pytest.approx((0.1, 0.2))
    rc = np.array([[0, 0], [10, 20], [3, 7]])
    xy = g.to_positions(rc)
    # col -> x (decreasing here), row -> y
    assert xy[0].tolist() == pytest.approx([1.0, 5.0])
    assert xy[1].tolist() == pytest.approx([-1.0, 7.0])
    assert xy[2].tolist() == pytest.approx([1.0 - 0.7, 5.0 + 0.6])
    np.testing.assert_array_equal(g.to_indices(xy), rc)
    # nearest pixel within half a pitch
    assert g.to_index(0.3 + 0.04, 5.6 - 0.09) == (3, 7)
    assert Grid(**g.to_dict()) == g


def test_outside_positions_raise_or_clip():
    g = Grid(0.0, 5.9, 60, 0.0, 3.9, 40)
    with pytest.raises(ValueError, match="outside the grid"):
        g.to_index(6.1, 0.0)
    assert g.to_index(6.1, -3.0, clip=True) == (0, 59)


def test_centered_and_shifted():
    g = Grid.centered(10.0, -2.0, width=4.0, height=2.0, n_cols=5, n_rows=3)
    assert (g.x_start, g.x_stop, g.y_start, g.y_stop) == (8.0, 12.0, -3.0, -1.0)
    assert g.center == (10.0, -2.0)
    assert g.shifted(1.0, 1.0).center == (11.0, -1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_cols": 1}, "n_cols must be an integer >= 2"),
        ({"n_rows": 2.5}, "n_rows must be an integer >= 2"),
        ({"x_stop": 0.0}, "x_start and x_stop must differ"),
        ({"y_start": float("nan")}, "y_start must be a finite number"),
    ],
)
def test_invalid_grid(kwargs, match):
    base = {"x_start": 0.0, "x_stop": 1.0, "n_cols": 4, "y_start": 0.0, "y_stop": 1.0,
            "n_rows": 3}  # fmt: skip
    with pytest.raises(ValueError, match=match):
        Grid(**{**base, **kwargs})
