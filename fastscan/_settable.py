"""Constructor settings changed after construction: applied, or refused, never ignored.

A mixin (with its metaclass) for :class:`fastscan.Sampler`, :class:`fastscan.fly.FlySampler`
and :class:`fastscan.fly.auto.AutoSampler`. ``fs.initial_spacing = 4`` or
``fs.set_params(initial_spacing=4)`` used to set an attribute that ``get_params()`` (and so
the run metadata) reported but the scan never read: the value had been used, or derived
into other state, when the sampler was made. scikit-learn's contract holds here instead:

- before the first reading, a constructor argument set either way takes effect exactly
  as if it had been passed to the constructor (the sampler is made again, in place, from
  the arguments it was made with and the new ones: checks, derived defaults and all);
- once readings are in, only the stop knobs (``LIVE_KNOBS`` of the class: e.g.
  ``max_coverage``) may change; any other is refused with a ValueError naming it and
  saying to make a new sampler (the scan so far was made with the old value).

``model`` is not routed through here (the sampler changes it itself in a scan; pass it to
:meth:`set_params` to change it before the first reading).

Examples
--------
>>> from fastscan import Sampler
>>> s = Sampler((40, 60))
>>> s.initial_fraction = 0.02  # before any reading: as if given to Sampler(...)
>>> len(s.suggest()), s.get_params()["initial_fraction"]
(48, 0.02)
>>> s.set_params(k=5).k
5
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["Settable", "SettableMeta"]

#: attribute writes that are not constructor settings (the sampler sets them itself)
NOT_ROUTED = frozenset({"model", "choose"})
_GIVEN = "_given_params"  # the constructor's arguments, set once construction is over


class SettableMeta(type):
    """Records the arguments a sampler was made with once its whole ``__init__`` (a
    subclass's included) has run; from then on its settings are routed (:class:`Settable`)."""

    @property
    def __signature__(cls) -> inspect.Signature:
        """The constructor's signature (``inspect.signature(Sampler)``), not ``__call__``'s."""
        signature = inspect.signature(cls.__init__)
        return signature.replace(parameters=list(signature.parameters.values())[1:])

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__call__(*args, **kwargs)
        object.__setattr__(obj, _GIVEN, _arguments(cls, args, kwargs))
        return obj


def _arguments(cls: type, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``cls(*args, **kwargs)``'s arguments by name (a ``**kwargs`` parameter flattened)."""
    signature = inspect.signature(cls.__init__)
    bound = signature.bind(None, *args, **kwargs).arguments
    named: dict[str, Any] = {}
    for name, value in list(bound.items())[1:]:  # (not self)
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[name] = value
    return named


@functools.cache
def constructor_names(klass: type) -> frozenset[str]:
    """The named parameters of ``klass.__init__`` (not ``self``, not ``*args``/``**kwargs``)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
    return frozenset(p.name for p in parameters if p.kind in kinds)


@functools.cache
def _settings(cls: type) -> frozenset[str]:
    """The named constructor parameters of ``cls`` and of its Settable bases (a subclass
    that fixes some of its base's settings, e.g. ClassicSampler, refuses them itself)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if issubclass(klass, Settable) and "__init__" in klass.__dict__:
            names.update(constructor_names(klass))
    return frozenset(names)


class Settable:
    """``set_params`` and attribute writes of constructor settings (module docstring)."""

    #: settings that may change once readings are in (each applied by the class itself)
    LIVE_KNOBS: frozenset[str] = frozenset()

    n_measured: int

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            name[0] != "_"
            and _GIVEN in self.__dict__
            and name not in NOT_ROUTED
            and name in _settings(type(self))
        ):
            self.set_params(**{name: value})
        else:
            object.__setattr__(self, name, value)

    def set_params(self, **params: Any) -> Any:
        """Change constructor settings; returns the sampler.

        Before the first reading each takes effect exactly as if given to the
        constructor (the sampler is made again in place with the arguments it was
        made with and these; a bad value raises as the constructor does, and the
        sampler is left unchanged). Once readings are in, only ``LIVE_KNOBS`` (the
        stop rule's settings) may change; any other raises a ValueError naming it.

        Raises
        ------
        TypeError
            For a name that is not a constructor argument.
        ValueError
            For a bad value, or a setting that cannot change once readings are in.
        """
        cls = type(self)
        unknown = sorted(set(params) - _settings(cls))
        if unknown:
            raise TypeError(
                f"{cls.__name__}.set_params got unknown settings {unknown}; "
                f"its settings: {sorted(_settings(cls))}"
            )
        if not params:
            return self
        if self.n_measured > 0:
            fixed = [name for name in params if name not in self.LIVE_KNOBS]
            if fixed:
                raise ValueError(
                    f"{fixed[0]} cannot change once readings are in ({self.n_measured} "
                    f"measured): this scan was made with {fixed[0]}="
                    f"{self._reported(fixed[0])!r}; make a new {cls.__name__}(..., "
                    f"{fixed[0]}=...) for a new scan (settable mid-scan: "
                    f"{sorted(self.LIVE_KNOBS)})"
                )
            for name, value in params.items():
                self._set_live(name, value)
            return self
        given = {**self.__dict__[_GIVEN], **params}
        cls(**given)  # checks everything first: a bad value leaves this sampler as it was
        self.__dict__.clear()  # (nothing routed while the constructor runs again)
        cls.__init__(self, **given)
        object.__setattr__(self, _GIVEN, given)
        return self

    def _reported(self, name: str) -> Any:
        """``name``'s value as ``get_params`` reports it (the attribute where it has none)."""
        params = self.get_params() if hasattr(self, "get_params") else {}
        return params.get(name, getattr(self, name, None))

    def _set_live(self, name: str, value: Any) -> None:
        """Apply a live knob once readings are in (a class with LIVE_KNOBS overrides it)."""
        object.__setattr__(self, name, value)
