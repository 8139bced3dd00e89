"""The one JSON-safe encoder: strict JSON from numpy, dataclasses, tuples and friends."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from fastscan.jsonsafe import dumps, to_jsonable


@dataclasses.dataclass
class _Point:
    x: float
    y: tuple[int, int]


def _strict(text: str):
    def refuse(name: str):
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


def test_every_kind_becomes_plain_json() -> None:
    value = {
        "f32": np.float32(0.25),
        "i64": np.int64(7),
        "arr": np.arange(3.0).reshape(1, 3),
        "tuple": (1, (2, 3)),
        "dc": _Point(1.5, (2, 3)),
        "path": Path("a") / "b",
        5: "int key",
        "bool": np.bool_(True),
    }
    out = to_jsonable(value)
    assert out == {
        "f32": 0.25,
        "i64": 7,
        "arr": [[0.0, 1.0, 2.0]],
        "tuple": [1, [2, 3]],
        "dc": {"x": 1.5, "y": [2, 3]},
        "path": str(Path("a") / "b"),
        "5": "int key",
        "bool": True,
    }
    assert type(out["i64"]) is int and type(out["bool"]) is bool


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float32("nan")])
def test_non_finite_numbers_become_null(bad) -> None:
    text = dumps({"v": bad, "list": [1.0, bad], "arr": np.array([bad, 2.0])})
    assert _strict(text) == {"v": None, "list": [1.0, None], "arr": [None, 2.0]}


def test_unknown_objects_repr_or_raise() -> None:
    marker = object()
    assert to_jsonable([marker]) == [repr(marker)]
    with pytest.raises(TypeError, match="cannot encode object"):
        to_jsonable({"m": marker}, unknown="raise")
    with pytest.raises(ValueError, match="unknown must be one of"):
        to_jsonable(1, unknown="drop")


def test_the_plans_metadata_and_the_service_header_use_it() -> None:
    from fastscan.plans.steps import jsonable
    from fastscan.service.protocol import decode, encode

    assert _strict(json.dumps(jsonable({"c": float("nan")}))) == {"c": None}
    header, _ = decode(encode({"op": "ping", "coverage": float("inf")}))
    assert header["coverage"] is None
