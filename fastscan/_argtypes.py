"""argparse types shared by the command lines (``fastscan ...`` and the U-Net trainers)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["int_at_least"]


def int_at_least(minimum: int, unit: str = "") -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum``, else an error naming the value.

    ``unit`` (optional) says what the number counts, in the message.

    Examples
    --------
    >>> int_at_least(1)("3")
    3
    >>> int_at_least(32, "pixels of the long side")("3")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer >= 32 (pixels of the long side), got '3'
    """
    what = f"an integer >= {minimum}" + (f" ({unit})" if unit else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse
