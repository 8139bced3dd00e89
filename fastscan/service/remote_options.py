"""The Sampler options a RemoteSampler may send: exactly those the service's ``create`` takes.

A :class:`fastscan.Sampler` takes more options than the service makes a session with
(:data:`fastscan.service.dispatch.CREATE_KEYS`). ``RemoteSampler(shape, tie_break=...)``
used to be accepted by the client and refused late, by the service's ``unknown option``
reply (or, set before the first reading, by re-opening the session, failing and restoring
it). The client now refuses such an option itself, when it is given, naming it, what the
service accepts, and the likely option for a misspelling (:mod:`difflib`). The one list is
the service's own ``CREATE_KEYS``, imported here, never copied.

Examples
--------
>>> check_options(["batch_size", "seed"], owner="RemoteSampler")
>>> check_options(["batch_sise"], owner="RS")  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
Traceback (most recent call last):
    ...
TypeError: RS got an option the service does not accept: 'batch_sise' (did you
mean 'batch_size'?); the service accepts: [...]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from fastscan.service.client import _SAMPLER_DEFAULTS
from fastscan.service.dispatch import CREATE_KEYS

__all__ = ["SESSION_OPTIONS", "check_options", "describe_unknown"]

#: the Sampler options a RemoteSampler forwards: the service's CREATE_KEYS but ``shape``
#: (a RemoteSampler's own first argument)
SESSION_OPTIONS = CREATE_KEYS - {"shape"}


def describe_unknown(names: Iterable[str], also: Iterable[str] = ()) -> str:
    """What is wrong with each of ``names`` (not a service option), and what is allowed.

    Parameters
    ----------
    names : iterable of str
        Options that are not in :data:`SESSION_OPTIONS` (nor in ``also``).
    also : iterable of str
        Further names that are allowed (the client's own settings), offered as
        suggestions too.

    Returns
    -------
    str
        ``"'x' (did you mean 'y'?), 'z' (a fastscan.Sampler option the service does not
        accept); the service accepts: [...]"``, plus the client's own settings when given.
    """
    extra = sorted(set(also))
    candidates = sorted(SESSION_OPTIONS | set(extra))
    parts = []
    for name in sorted(set(names)):
        close = difflib.get_close_matches(name, candidates, n=1)
        if name in _SAMPLER_DEFAULTS:
            why = "a fastscan.Sampler option the service does not accept"
        elif close:
            why = f"did you mean {close[0]!r}?"
        else:
            why = "no such option"
        parts.append(f"{name!r} ({why})")
    text = f"{', '.join(parts)}; the service accepts: {sorted(SESSION_OPTIONS)}"
    return f"{text}; the client's own: {extra}" if extra else text


def check_options(names: Iterable[str], *, owner: str, also: Iterable[str] = ()) -> None:
    """Refuse any of ``names`` the service does not make a session with.

    Parameters
    ----------
    names : iterable of str
        The Sampler options given (e.g. a RemoteSampler's ``**sampler_kwargs``).
    owner : str
        What got them, for the message (``"RemoteSampler"``).
    also : iterable of str
        Names allowed besides the service's options (suggested for a misspelling).

    Raises
    ------
    TypeError
        Naming each option the service does not accept, the allowed ones and, for a
        misspelling, the likely option.
    """
    unknown = sorted(set(names) - SESSION_OPTIONS - set(also))
    if unknown:
        noun = "an option" if len(unknown) == 1 else "options"
        raise TypeError(
            f"{owner} got {noun} the service does not accept: {describe_unknown(unknown, also)}"
        )
