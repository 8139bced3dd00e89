"""Find downstream models by name: built-ins, runtime registrations and entry points.

Built-in models are listed by name only; their modules (and torch, for the U-Nets)
are imported when a model is created. Third-party packages add models through
the ``fastscan.models`` entry-point group: the entry point's name is the model
name and its object is a factory (usually a class) whose ``kind`` attribute is
"denoiser" or "segmenter" and whose call returns the model::

    [project.entry-points."fastscan.models"]
    my-denoiser = "mypkg.models:MyDenoiser"

Examples
--------
>>> from fastscan.models import create_model, list_models
>>> "biharmonic" in list_models("denoiser")
True
>>> create_model("otsu").kind
'segmenter'
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from fastscan.models.protocols import KINDS

__all__ = [
    "ENTRY_POINT_GROUP",
    "ModelSpec",
    "create_model",
    "describe_model",
    "list_models",
    "register_model",
]

ENTRY_POINT_GROUP = "fastscan.models"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, kind, where its factory lives, and a summary."""

    name: str
    kind: str
    target: str | Callable[..., Any]  # "module:attribute" (imported lazily) or a callable
    description: str = ""
    needs_torch: bool = False

    def factory(self) -> Callable[..., Any]:
        """Import (if needed) and return the factory."""
        if callable(self.target):
            return self.target
        module_name, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module_name), attr)


_BUILTINS: tuple[ModelSpec, ...] = (
    ModelSpec("idw", "denoiser", "fastscan.models.classical:IDWPassthrough",
              "the sampler's IDW reconstruction unchanged (reference)"),
    ModelSpec("tv", "denoiser", "fastscan.models.classical:TVDenoiser",
              "total-variation (Chambolle) smoothing of the reconstruction"),
    ModelSpec("biharmonic", "denoiser", "fastscan.models.classical:BiharmonicDenoiser",
              "biharmonic inpainting of the measured pixels (slow on large frames)"),
    ModelSpec("unet-denoiser", "denoiser", "fastscan.models.torch_unet:UNetDenoiser",
              "residual-attention U-Net trained to remove sparse-sampling artefacts", True),
    ModelSpec("otsu", "segmenter", "fastscan.models.classical:OtsuSegmenter",
              "Otsu threshold + connected components"),
    ModelSpec("watershed", "segmenter", "fastscan.models.classical:WatershedSegmenter",
              "marker watershed on the gradient, regions above Otsu kept"),
    ModelSpec("unet-segmenter", "segmenter", "fastscan.models.torch_unet:UNetSegmenter",
              "U-Net (foreground + boundary) trained on labelled phantoms, then watershed", True),
)  # fmt: skip
_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _BUILTINS}


def register_model(
    name: str,
    factory: Callable[..., Any] | str,
    kind: str,
    description: str = "",
    *,
    replace: bool = False,
) -> None:
    """Register a model factory under ``name`` for this process.

    Parameters
    ----------
    name : str
        Model name (non-empty, no whitespace).
    factory : callable or "module:attribute"
        Called with :func:`create_model`'s keyword arguments; returns the model.
    kind : {"denoiser", "segmenter"}
    description : str
        One line for :func:`list_models` users.
    replace : bool
        Allow replacing an existing name.
    """
    if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
        raise ValueError(f"model name must be a non-empty string without spaces, got {name!r}")
    if kind not in KINDS:
        raise ValueError(f"model kind must be one of {KINDS}, got {kind!r}")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TypeError(f"factory must be a callable or 'module:attribute', got {factory!r}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"model {name!r} is already registered; pass replace=True to replace it")
    _REGISTRY[name] = ModelSpec(name, kind, factory, description)


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _entry_point_spec(ep: metadata.EntryPoint) -> ModelSpec:
    try:
        factory = ep.load()
    except Exception as exc:  # a broken third-party package must not break the core
        raise RuntimeError(
            f"model {ep.name!r} from entry point {ep.value!r} failed to import: {exc}"
        ) from exc
    kind = getattr(factory, "kind", None)
    if kind not in KINDS:
        raise TypeError(
            f"entry point {ep.name!r} ({ep.value}) must have a 'kind' attribute in {KINDS}, "
            f"got {kind!r}"
        )
    return ModelSpec(ep.name, kind, factory, (factory.__doc__ or "").strip().split("\n")[0])


def _all_names() -> list[str]:
    return sorted(set(_REGISTRY) | set(_entry_points()))


def list_models(kind: str | None = None) -> list[str]:
    """Names of the available models, sorted.

    Parameters
    ----------
    kind : {"denoiser", "segmenter"} or None
        Only models of this kind. Filtering imports third-party entry points
        (not built-ins); one that fails to import is left out and logged.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None, got {kind!r}")
    names = []
    entry_points = _entry_points()
    for name in _all_names():
        if kind is None:
            names.append(name)
            continue
        spec = _REGISTRY.get(name)
        if spec is None:
            try:
                spec = _entry_point_spec(entry_points[name])
            except (RuntimeError, TypeError) as exc:
                _log.warning("skipping model %r: %s", name, exc)
                continue
        if spec.kind == kind:
            names.append(name)
    return names


def describe_model(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of a model name (imports a third-party entry point)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    entry_points = _entry_points()
    if name in entry_points:
        return _entry_point_spec(entry_points[name])
    hint = difflib.get_close_matches(str(name), _all_names(), n=1, cutoff=0.65)
    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ValueError(
        f"unknown model {name!r}{did_you_mean}; available models: {', '.join(_all_names())}"
    )


def create_model(name: str, kind: str | None = None, **kwargs: Any) -> Any:
    """Create the model registered as ``name``.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    kind : {"denoiser", "segmenter"} or None
        If given, the model must be of this kind (e.g. a ``--denoise`` option
        refusing a segmenter).
    **kwargs
        Passed to the model's factory (e.g. ``weights=`` or ``device=`` for U-Nets).

    Returns
    -------
    A callable model with ``name`` and ``kind`` attributes.

    Raises
    ------
    ValueError
        Unknown name (with a "did you mean" hint) or a model of the wrong kind.
    """
    spec = describe_model(name)
    if kind is not None and spec.kind != kind:
        others = ", ".join(list_models(kind)) if kind in KINDS else ""
        raise ValueError(f"model {name!r} is a {spec.kind}, not a {kind}; {kind}s: {others}")
    model = spec.factory()(**kwargs)
    if getattr(model, "kind", None) != spec.kind or not callable(model):
        raise TypeError(
            f"factory of model {name!r} returned {type(model).__name__}, which is not a "
            f"callable {spec.kind} with kind={spec.kind!r}"
        )
    return model
