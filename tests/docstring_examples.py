"""The docstring-examples check the test files share: a module's examples exist and pass."""

from __future__ import annotations

import doctest
import importlib
from types import ModuleType


def assert_examples_pass(module: ModuleType | str, optionflags: int = 0) -> None:
    """Run the examples in ``module``'s docstrings (a module or its dotted name).

    Parameters
    ----------
    module : module or str
        The module, or its name for :func:`importlib.import_module`.
    optionflags : int
        :mod:`doctest` option flags, e.g. ``doctest.ELLIPSIS`` (default: none, exact output).

    Raises
    ------
    AssertionError
        If the module has no examples, or naming how many of them failed (doctest has
        printed which, and what they gave).
    """
    if isinstance(module, str):
        module = importlib.import_module(module)
    result = doctest.testmod(module, optionflags=optionflags)
    if result.attempted == 0:
        raise AssertionError(f"{module.__name__} has no docstring examples")
    if result.failed:
        raise AssertionError(
            f"{module.__name__}: {result.failed} of {result.attempted} docstring examples failed"
        )
