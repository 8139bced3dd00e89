"""argparse types shared by the command lines (``fastscan ...`` and the U-Net trainers)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["int_at_least", "int_between"]


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
    return _integer(minimum, math.inf, f"an integer >= {minimum}", unit)


def int_between(minimum: int, maximum: int, unit: str = "") -> Callable[[str], int]:
    """argparse type: an integer from ``minimum`` to ``maximum``, else an error naming both.

    ``unit`` (optional) says what the number counts, in the message.

    Examples
    --------
    >>> int_between(32, 2048)("256")
    256
    >>> int_between(32, 2048, "pixels")("4096")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected an integer from 32 to 2048 (pixels), got '4096'
    """
    if maximum < minimum:
        raise ValueError(f"maximum {maximum} is below minimum {minimum}")
    return _integer(minimum, maximum, f"an integer from {minimum} to {maximum}", unit)


def _integer(minimum: int, maximum: float, what: str, unit: str) -> Callable[[str], int]:
    what += f" ({unit})" if unit else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse
