"""Which channels of a multichannel (XRF) run a live view shows: the user's choice, resolved.

A multichannel step run records its signal keys (``md["fastscan"]["signal"]``, e.g.
``["Fe_value", "Cu_value"]``) and stores its reconstruction as (C, H, W). A live view
shows every channel as its own panel when there are at most :data:`MAX_PANELS`, else the
first one. A user names the channels to show by index, by signal key, or by a part of the
key between underscores (``"Cu"`` for ``"Cu_value"`` or ``"xrf_Cu"``), one or several.

Examples
--------
>>> labels = ["Fe_value", "Cu_value"]
>>> resolve_channels(None, labels), resolve_channels("Cu", labels), resolve_channels(0, labels)
([0, 1], [1], [0])
>>> resolve_channels(["Cu_value", "Fe"], labels)
[1, 0]
>>> resolve_channels("cu", labels)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: no channel 'cu' in this run (did you mean 'Cu'?); its channels: 0 'Fe_value', ...
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from fastscan._validation import is_integer

__all__ = ["MAX_PANELS", "ChannelChoice", "check_choice", "resolve_channels"]

MAX_PANELS = 4
"""Default: every channel as a panel up to this many channels, else the first only."""

ChannelChoice = str | int | Sequence[str | int] | None

_SEPARATORS = re.compile(r"[_.:\-\s]+")


def check_choice(choice: object) -> tuple[str | int, ...] | None:
    """The choice as a tuple of names and indices (None: the default), or TypeError.

    Parameters
    ----------
    choice : str, int, sequence of str or int, or None
        A channel name or index, several of them, or None.

    Returns
    -------
    tuple of str or int, or None
    """
    if choice is None:
        return None
    items = [choice] if isinstance(choice, str) or is_integer(choice) else choice
    try:
        items = list(items)  # type: ignore[call-overload]
    except TypeError:
        items = None
    if not items or not all(isinstance(c, str) or is_integer(c) for c in items):
        raise TypeError(
            f"channel must be a channel name (str), an index (int >= 0), a non-empty list of "
            f"them, or None (every channel up to {MAX_PANELS}, else the first), got {choice!r}"
        )
    for c in items:
        if is_integer(c) and c < 0:
            raise ValueError(f"a channel index must be >= 0, got {c}")
    return tuple(c if isinstance(c, str) else int(c) for c in items)


def resolve_channels(choice: ChannelChoice, labels: Sequence[str]) -> list[int]:
    """Indices of the channels to show, in the order asked for.

    Parameters
    ----------
    choice : str, int, sequence of str or int, or None
        None: every channel if there are at most :data:`MAX_PANELS`, else the first.
        A name matches a label equal to it, else the one label with it as a part
        between separators (``_ . : -``, e.g. ``"Cu"`` in ``"Cu_value"``).
    labels : sequence of str
        The run's channel names (its signal keys), one per channel.

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        An index out of range, or a name that matches no label or several (the
        message lists the run's channels, with a "did you mean" for a close name).
    """
    items = check_choice(choice)
    if items is None:
        return list(range(len(labels))) if len(labels) <= MAX_PANELS else [0]
    out: list[int] = []
    for item in items:
        index = _index(item, list(labels))
        if index not in out:
            out.append(index)
    return out


def _index(item: str | int, labels: list[str]) -> int:
    listing = ", ".join(f"{i} {label!r}" for i, label in enumerate(labels))
    if isinstance(item, int):
        if item < len(labels):
            return item
        raise ValueError(
            f"channel index {item} is out of range: this run has {len(labels)} "
            f"channel{'s' if len(labels) != 1 else ''}: {listing}"
        )
    if item in labels:
        return labels.index(item)
    parts = {i: _SEPARATORS.split(label) for i, label in enumerate(labels)}
    found = [i for i, p in parts.items() if item in p]
    if len(found) == 1:
        return found[0]
    if found:
        which = ", ".join(repr(labels[i]) for i in found)
        raise ValueError(f"channel {item!r} is ambiguous in this run: it names {which}; "
                         f"give the whole name or the index")  # fmt: skip
    names = list(dict.fromkeys([*labels, *(q for p in parts.values() for q in p if q)]))
    lower = {name.lower(): name for name in reversed(names)}  # the first spelling wins
    close = difflib.get_close_matches(item.lower(), list(lower), n=1)
    hint = f" (did you mean {lower[close[0]]!r}?)" if close else ""
    raise ValueError(f"no channel {item!r} in this run{hint}; its channels: {listing}")
