"""Blend two ERD models into one network of the same kind (one forward pass).

Two models of the default recipe (same lift size, ``gamma``, ``random_state`` and
feature transform; e.g. the L1-target "default" and the L2-target "l2") share the
random Fourier lift up to the features' standardisation. :func:`blend_models` puts
them side by side in one :class:`~fastscan.erd.estimator.ERDModel`:

- the lift and the feature moments are the first model's (the second model sees
  its features standardised with the first model's moments: its own differ by
  about 1 %, and its ranking of a scan's pixels keeps a Spearman correlation of
  0.9997);
- the hidden layers are the two models' layers, concatenated (first layer) and
  block-diagonal (the rest), so each half computes its own model exactly;
- the output layer returns ``(1 - weight) * first + weight * scale * second``
  before the usual clip at 0 (``scale`` brings the second model to the first
  one's level, e.g. the ratio of their median predictions).

The shipped "l1+l2" (``erd_l1_l2.npz``) is ``blend_models(load_model("default"),
load_model("l2"), weight=0.5, scale=L2_SCALE)``; its header records how it was made.

Examples
--------
>>> import numpy as np
>>> from fastscan.erd.estimator import load_model
>>> first, second = load_model("default"), load_model("l2")
>>> blend = blend_models(first, second, weight=0.5, scale=2.0)
>>> blend.hidden_layer_sizes
(100, 10)
>>> x = np.random.default_rng(0).random((4, 6)) * 5
>>> second.feature_mean_, second.feature_scale_ = first.feature_mean_, first.feature_scale_
>>> want = np.maximum(0.5 * first._forward(x) + 0.5 * 2.0 * second._forward(x), 0)
>>> bool(np.allclose(blend.predict(x), want, rtol=1e-4, atol=1e-3))
True
"""

from __future__ import annotations

import numpy as np

from fastscan.erd.estimator import ERDModel

__all__ = ["L2_SCALE", "blend_models"]

#: Scale of "l2" against "default" in the shipped "l1+l2": the ratio of their median ERD
#: (17.4 / 9.8) over the pixels predicted while scanning five validation images at 128 px
#: (cell-middle, noise-coarse, hubble_deep_field, clock, brick) to 20 % with the default Sampler
L2_SCALE = 1.774266377733983

_SHARED = ("n_components", "gamma", "random_state", "feature_transform", "sparsity_area")


def blend_models(
    first: ERDModel, second: ERDModel, weight: float = 0.5, scale: float = 1.0
) -> ERDModel:
    """One ERD model predicting ``(1 - weight) * first + weight * scale * second``.

    Parameters
    ----------
    first, second : ERDModel
        Fitted models with the same lift (``n_components``, ``gamma``,
        ``random_state``, ``feature_transform``, ``sparsity_area``), no output
        transform, and the same number of layers. ``first`` gives the lift, the
        feature moments and the sparsity clip.
    weight : float
        Share of ``second`` in [0, 1].
    scale : float
        Factor (> 0) bringing ``second``'s ERD to ``first``'s level.

    Returns
    -------
    ERDModel
        A fitted model (name "custom") whose hidden layers are the two models'
        side by side; :meth:`ERDModel.save` writes it like any other.

    Examples
    --------
    >>> from fastscan.erd.estimator import load_model
    >>> blend_models(load_model("default"), load_model("l2"), 0.5, 1.5).n_components
    50
    """
    for model in (first, second):
        model._check_fitted("coefs_")
    if not (isinstance(weight, (int, float)) and 0.0 <= weight <= 1.0):
        raise ValueError(f"weight must be a number in [0, 1], got {weight!r}")
    if not (isinstance(scale, (int, float)) and np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    one, two = first.get_params(), second.get_params()
    differ = [key for key in _SHARED if one[key] != two[key]]
    if differ:
        raise ValueError(
            f"the models must share the lift; they differ in {differ} "
            f"({[one[k] for k in differ]} against {[two[k] for k in differ]})"
        )
    for model in (first, second):
        if model.target_transform != "none":
            raise ValueError(
                f"blend_models needs target_transform 'none', got {model.target_transform!r}"
            )
    if len(first.coefs_) != len(second.coefs_):
        raise ValueError(
            f"the models must have as many layers; got {len(first.coefs_)} and {len(second.coefs_)}"
        )
    coefs, intercepts = [], []
    last = len(first.coefs_) - 1
    for i, (wa, wb, ba, bb) in enumerate(
        zip(first.coefs_, second.coefs_, first.intercepts_, second.intercepts_)
    ):
        if i == 0:  # both read the same lift: side by side
            coef = np.concatenate([wa, wb], axis=1)
        elif i < last:  # each half reads its own model's units
            coef = np.zeros((wa.shape[0] + wb.shape[0], wa.shape[1] + wb.shape[1]), np.float32)
            coef[: wa.shape[0], : wa.shape[1]] = wa
            coef[wa.shape[0] :, wa.shape[1] :] = wb
        else:  # the weighted sum of the two outputs (weighted in float64, then rounded)
            share_a, share_b = np.float64(1.0 - weight), np.float64(weight * scale)
            coef = np.concatenate([share_a * wa, share_b * wb], axis=0)
            ba, bb = share_a * ba, share_b * bb
        coefs.append(np.asarray(coef, np.float32))
        intercept = ba + bb if i == last else np.concatenate([ba, bb])
        intercepts.append(np.asarray(intercept, np.float32))
    params = dict(first.get_params())
    params["hidden_layer_sizes"] = tuple(w.shape[1] for w in coefs[:-1])
    params["sparsity_clip"] = first.sparsity_clip
    blend = ERDModel(**params)
    blend._init_lift()
    blend.feature_mean_ = np.array(first.feature_mean_, np.float64)
    blend.feature_scale_ = np.array(first.feature_scale_, np.float64)
    blend.coefs_, blend.intercepts_ = coefs, intercepts
    blend.info_ = {
        "blend": {
            "first": {"name": first.name, "sha256": first.sha256},
            "second": {"name": second.name, "sha256": second.sha256},
            "weight": float(weight),
            "scale": float(scale),
        },
        # the first model's training record (error power, recipe), which the blend inherits
        "config": dict(getattr(first, "info_", {}).get("config", {})),
    }
    return blend
