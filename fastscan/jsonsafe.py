"""One JSON-safe encoder: plain JSON values from numpy, dataclasses, tuples, paths.

Strict JSON has no NaN or Infinity (``json.dumps`` writes them by default, and
other readers refuse the file), so non-finite floats become ``null``. Used for
run metadata (the plans), the service's wire headers and ``summary.json``.

Examples
--------
>>> import numpy as np
>>> to_jsonable({"a": np.float32(1.5), "b": (1, np.int64(2)), "c": float("nan")})
{'a': 1.5, 'b': [1, 2], 'c': None}
>>> dumps({"x": np.array([1.0, np.inf])})
'{"x": [1.0, null]}'
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["MAX_DEPTH", "dumps", "loads", "to_jsonable"]

#: Deepest nesting :func:`loads` accepts (a header never needs more than a few levels).
MAX_DEPTH = 32

_FALLBACKS = ("repr", "raise")


def to_jsonable(value: Any, *, unknown: str = "repr") -> Any:
    """``value`` as plain JSON types (dict with str keys, list, str, int, float, bool, None).

    Parameters
    ----------
    value : Any
        Numbers, strings, None; numpy scalars and arrays; dicts, lists, tuples,
        sets; dataclass instances; paths and enums.
    unknown : {"repr", "raise"}
        What to do with any other object: its ``repr`` (metadata), or TypeError.

    Returns
    -------
    Any
        Non-finite floats become None; dict keys become strings.

    Examples
    --------
    >>> to_jsonable({1: {2.0, 3.0}})
    {'1': [2.0, 3.0]}
    """
    if unknown not in _FALLBACKS:
        raise ValueError(f"unknown must be one of {_FALLBACKS}, got {unknown!r}")
    return _convert(value, unknown)


def _convert(value: Any, unknown: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return _convert(value.tolist(), unknown)
    if isinstance(value, np.generic):
        return _convert(value.item(), unknown)
    if isinstance(value, dict):
        return {str(k): _convert(v, unknown) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convert(v, unknown) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_convert(v, unknown) for v in sorted(value, key=repr)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _convert(dataclasses.asdict(value), unknown)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return _convert(value.value, unknown)
    if unknown == "raise":
        raise TypeError(f"cannot encode {type(value).__name__} {value!r} as JSON")
    return repr(value)


def dumps(value: Any, *, unknown: str = "repr", **kwargs: Any) -> str:
    """``json.dumps`` of :func:`to_jsonable` (strict: never NaN or Infinity).

    Examples
    --------
    >>> dumps([float("-inf"), 2])
    '[null, 2]'
    """
    return json.dumps(to_jsonable(value, unknown=unknown), allow_nan=False, **kwargs)


def _depth(text: str) -> int:
    """Deepest bracket nesting of JSON text, outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses text nested deeper than ``max_depth`` (ValueError).

    Deep nesting would exhaust the parser's recursion (RecursionError) or the
    stack; the depth is checked first, by a scan that does not recurse. Invalid
    UTF-8 and invalid JSON raise ValueError too.

    Examples
    --------
    >>> loads(b'{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> loads("[" * 40 + "]" * 40)
    Traceback (most recent call last):
    ...
    ValueError: JSON nested 40 deep; at most 32 levels allowed
    """
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray, memoryview)) else data
    if not isinstance(text, str):
        raise ValueError(f"JSON text must be bytes or str, got {type(data).__name__}")
    deepest = _depth(text)
    if deepest > max_depth:
        raise ValueError(f"JSON nested {deepest} deep; at most {max_depth} levels allowed")
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError("JSON nested too deep") from None
