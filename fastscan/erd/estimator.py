"""SLADS-Net ERD regressor: RBF random Fourier features (6 -> 50) and a small ReLU MLP.

The lift is ``z = sqrt(2 / D) cos(f @ omega + beta)`` with ``omega = sqrt(2 gamma) G``,
``G`` standard normal (6 x D) and ``beta`` uniform on [0, 2 pi), both drawn from
numpy's legacy ``RandomState(random_state)`` in that order, exactly as FAST and
scikit-learn's ``RBFSampler`` do. The MLP is fitted with scikit-learn and stored as
plain arrays; prediction is a float32 numpy forward pass, clipped at 0.

Models are saved as ``.npz`` files (no pickle) with a JSON header carrying the
schema version and how the model was made.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._npz import existing_npz
from fastscan.erd._forward import _bias_relu, _lift
from fastscan.features import N_FEATURES, feature_radius

__all__ = [
    "DEFAULT_MODEL",
    "SCHEMA",
    "SHIPPED_MODELS",
    "ERDModel",
    "default_model_path",
    "load_model",
]

SCHEMA = "fastscan.erd-model/1"
_MAX_HEADER_CHARS = 1_000_000
_MAX_LAYERS = 16
_MAX_WIDTH = 4096  # largest n_components or hidden layer accepted from a file
_PREDICT_ROWS = 2048  # rows per block of the forward pass (intermediates stay in cache)
# OpenBLAS multiplies small matrices (m * n * k <= 1e6: the 50 x 50 layer below ~400 rows)
# with other kernels, whose float32 rounding differs: shorter blocks are padded to this
# many rows, so a pixel's ERD depends on its features only, not on which rows came with it
_PREDICT_MIN_ROWS = 512
# and a block's last rows (its row count modulo the kernels' tile) took other kernels again:
# every block is padded to a multiple of this many rows (2047 rows gave two rows other bits)
_PREDICT_ROW_MULTIPLE = 64


class ERDModel:
    """Predict the expected reduction in distortion (ERD) from the six SLADS features.

    Parameters
    ----------
    n_components : int
        Dimension of the random Fourier feature lift.
    gamma : float
        RBF kernel parameter of the lift.
    hidden_layer_sizes : tuple of int
        Hidden ReLU layers of the MLP.
    random_state : int
        Seed of the lift (legacy ``RandomState``) and of the MLP initialisation.
    max_iter, alpha, learning_rate_init, batch_size :
        Adam training settings passed to scikit-learn's ``MLPRegressor``.
    feature_transform : {"none", "log1p"}
        "none" lifts the raw features (FAST). "log1p" lifts ``log1p`` of the
        features standardised with the training set's mean and spread, so the
        RBF kernel resolves small deviations as well as large ones.
    sparsity_clip : (low, high) or None
        With FAST's image-size dependent sparsity numerator (``sparsity_area``
        None), the range of numerators the training images had; other grid sizes
        are clipped into it so the feature stays inside what the model has seen.
    target_transform : {"none", "log1p"}
        "log1p" fits the MLP to ``log1p(RD)`` (predictions are mapped back), so
        small RDs late in a scan are still ranked, not all squashed to one value.
    sparsity_area : float or None
        Numerator of the local-sparsity feature the model was trained with
        (None: FAST's image-size dependent ``1 + pi rho**2``); the sampler
        computes features the same way.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((500, 6)) * 10
    >>> model = ERDModel(max_iter=5).fit(X, X[:, 0] * 3)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> model.name, len(model.sha256)
    ('custom', 64)
    """

    #: Where the model came from: a shipped name ("default", "fast-classic"), the
    #: path it was loaded from, or "custom" (set by :func:`load_model` and
    #: :meth:`load`; recorded with scans next to :attr:`sha256`).
    name: str = "custom"

    def __init__(
        self,
        n_components: int = 50,
        gamma: float = 0.01,
        hidden_layer_sizes: tuple[int, ...] = (50, 5),
        random_state: int = 1,
        max_iter: int = 50,
        alpha: float = 1e-4,
        learning_rate_init: float = 1e-3,
        batch_size: int = 200,
        feature_transform: str = "none",
        sparsity_area: float | None = None,
        target_transform: str = "none",
        sparsity_clip: tuple[float, float] | None = None,
    ) -> None:
        self.n_components = n_components
        self.gamma = gamma
        self.hidden_layer_sizes = hidden_layer_sizes
        self.random_state = random_state
        self.max_iter = max_iter
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.feature_transform = feature_transform
        self.sparsity_area = sparsity_area
        self.target_transform = target_transform
        self.sparsity_clip = sparsity_clip

    # -- lift -------------------------------------------------------------------------
    def _init_lift(self) -> None:
        rng = np.random.RandomState(self.random_state)
        gauss = rng.normal(size=(N_FEATURES, self.n_components))
        self.omega_ = (np.sqrt(2.0 * self.gamma) * gauss).astype(np.float64)
        self.beta_ = rng.uniform(0.0, 2.0 * np.pi, size=self.n_components).astype(np.float64)

    def _prepare(self, features: np.ndarray) -> np.ndarray:
        if self.feature_transform == "none":
            return features
        logged = np.log1p(np.maximum(features, 0.0))
        return (logged - self.feature_mean_) / self.feature_scale_

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Lift (n, 6) features to (n, n_components) float32 random Fourier features."""
        self._check_fitted("omega_")
        features = self._check_features(features)
        proj = self._prepare(features) @ self.omega_
        proj += self.beta_
        lifted = proj.astype(np.float32)  # float32 cos is vectorised: ~10x faster, 1e-7 error
        np.cos(lifted, out=lifted)
        lifted *= np.float32(np.sqrt(2.0 / self.n_components))
        return lifted

    # -- estimator contract -----------------------------------------------------------
    def _scaled_regressor(self, features: np.ndarray) -> Any:
        """Record the log1p feature scaling of ``features``; the unfitted MLP of these settings."""
        from sklearn.neural_network import MLPRegressor

        logged = np.log1p(np.maximum(features, 0.0))
        self.feature_mean_ = logged.mean(axis=0)
        self.feature_scale_ = np.maximum(logged.std(axis=0), 1e-12)
        return MLPRegressor(
            hidden_layer_sizes=self.hidden_layer_sizes,
            activation="relu",
            solver="adam",
            alpha=self.alpha,
            batch_size=self.batch_size,
            learning_rate_init=self.learning_rate_init,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )

    def fit(self, features: np.ndarray, target: np.ndarray) -> ERDModel:
        """Fit the MLP on lifted features; returns self."""
        from sklearn.exceptions import ConvergenceWarning

        features = self._check_features(features)
        target = np.asarray(target, dtype=np.float64).reshape(-1)
        if target.shape[0] != features.shape[0] or not np.all(np.isfinite(target)):
            raise ValueError("target must be finite with one value per feature row")
        if self.feature_transform not in ("none", "log1p"):
            raise ValueError(
                f"feature_transform must be 'none' or 'log1p', got {self.feature_transform!r}"
            )
        if self.target_transform not in ("none", "log1p"):
            raise ValueError(
                f"target_transform must be 'none' or 'log1p', got {self.target_transform!r}"
            )
        if self.target_transform == "log1p":
            target = np.log1p(np.maximum(target, 0.0))
        self._init_lift()
        mlp = self._scaled_regressor(features)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(self.transform(features), target.astype(np.float32))
        self.coefs_ = [np.asarray(w, np.float32) for w in mlp.coefs_]
        self.intercepts_ = [np.asarray(b, np.float32) for b in mlp.intercepts_]
        self.loss_curve_ = [float(v) for v in mlp.loss_curve_]
        self.n_iter_ = int(mlp.n_iter_)
        return self

    def sparsity_numerator(self, shape: tuple[int, int]) -> float:
        """Numerator A of the sparsity feature this model expects on a grid of ``shape``."""
        if self.sparsity_area is not None:
            return float(self.sparsity_area)
        rho = feature_radius(shape)
        area = 1.0 + np.pi * rho * rho
        if self.sparsity_clip is not None:
            area = float(np.clip(area, *self.sparsity_clip))
        return area

    def predict(self, features: np.ndarray) -> np.ndarray:
        """ERD of each feature row: MLP forward pass, negatives clipped to 0 (float64)."""
        self._check_fitted("coefs_")
        features = self._check_features(features)
        with _single_thread_blas():
            return self._predict_rows(features)

    def _predict_rows(self, features: np.ndarray) -> np.ndarray:
        """:meth:`predict` of checked (n, 6) float64 ``features``, BLAS already limited to
        one thread by the caller (so two threads may each predict a part of the rows;
        parts that start at multiples of ``_PREDICT_ROWS`` give :meth:`predict`'s bits)."""
        out = np.empty(features.shape[0])
        # the products are small (n x 50 @ 50 x 50): BLAS threads only add overhead,
        # 2-3x on a busy 2-core edge device, so the forward pass runs on one thread;
        # blocks of rows keep every intermediate in cache (about 2x faster)
        with np.errstate(invalid="ignore", over="ignore"):
            for start in range(0, features.shape[0], _PREDICT_ROWS):
                block = features[start : start + _PREDICT_ROWS]
                n_rows = len(block)
                padded = max(
                    _PREDICT_MIN_ROWS, -(-n_rows // _PREDICT_ROW_MULTIPLE) * _PREDICT_ROW_MULTIPLE
                )
                if n_rows < padded:
                    padding = np.zeros((padded - n_rows, N_FEATURES))
                    block = np.concatenate([block, padding])
                out[start : start + n_rows] = self._forward(block)[:n_rows]
        if self.target_transform == "log1p":
            out = np.expm1(np.minimum(out, 50.0))
        out[~np.isfinite(out)] = 0.0
        return np.maximum(out, 0.0, out=out)

    def _forward(self, features: np.ndarray) -> np.ndarray:
        """:meth:`transform` and the MLP, with the element-wise passes fused (Numba)."""
        if self.feature_transform == "none":
            logged, mean, scale = features, np.zeros(N_FEATURES), np.ones(N_FEATURES)
        else:
            logged = np.log1p(np.maximum(features, 0.0))
            mean, scale = self.feature_mean_, self.feature_scale_
        out = np.empty((len(features), self.n_components), np.float32)
        _lift(logged, mean, scale, self.omega_, self.beta_, out)
        np.cos(out, out=out)
        out *= np.float32(np.sqrt(2.0 / self.n_components))
        last = len(self.coefs_) - 1
        for i, (w, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            out = out @ w
            _bias_relu(out, b, i < last)
        return out[:, 0]

    def score(self, features: np.ndarray, target: np.ndarray) -> float:
        """Coefficient of determination R^2 of the raw (unclipped) predictions."""
        pred = self.predict(features)
        target = np.asarray(target, dtype=np.float64).reshape(-1)
        ss_res = float(np.sum((target - pred) ** 2))
        ss_tot = float(np.sum((target - target.mean()) ** 2))
        return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0

    def get_params(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "gamma": self.gamma,
            "hidden_layer_sizes": list(self.hidden_layer_sizes),
            "random_state": self.random_state,
            "max_iter": self.max_iter,
            "alpha": self.alpha,
            "learning_rate_init": self.learning_rate_init,
            "batch_size": self.batch_size,
            "feature_transform": self.feature_transform,
            "sparsity_area": self.sparsity_area,
            "target_transform": self.target_transform,
            "sparsity_clip": None if self.sparsity_clip is None else list(self.sparsity_clip),
        }

    # -- persistence ------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted model as named plain arrays (a JSON header and the layers)."""
        self._check_fitted("coefs_")
        header = {"schema": SCHEMA, "params": self.get_params(), "info": getattr(self, "info_", {})}
        arrays: dict[str, np.ndarray] = {"header": np.array(json.dumps(header))}
        arrays["feature_mean"] = self.feature_mean_
        arrays["feature_scale"] = self.feature_scale_
        for i, (w, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            arrays[f"coef_{i}"] = w
            arrays[f"intercept_{i}"] = b
        return arrays

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of what decides the model's predictions.

        Hashed in this canonical order: the JSON of :meth:`get_params` (keys
        sorted, separators ``","`` and ``":"``), then ``feature_mean``,
        ``feature_scale``, ``coef_0``, ``intercept_0``, ``coef_1``, ... each as its
        name, dtype string, shape and C-order little-endian bytes. The training
        record (``info_``) and :attr:`name` are not part of it, so the same
        weights give the same hash wherever they were loaded from.

        Examples
        --------
        >>> from fastscan.erd.estimator import load_model
        >>> len(load_model("default").sha256)
        64
        """
        self._check_fitted("coefs_")
        digest = hashlib.sha256()
        params = json.dumps(self.get_params(), sort_keys=True, separators=(",", ":"))
        digest.update(params.encode())
        arrays = {"feature_mean": self.feature_mean_, "feature_scale": self.feature_scale_}
        for i, (w, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            arrays[f"coef_{i}"], arrays[f"intercept_{i}"] = w, b
        for key, value in arrays.items():
            value = np.ascontiguousarray(value, value.dtype.newbyteorder("<"))
            digest.update(f"|{key}|{value.dtype.str}|{value.shape}|".encode())
            digest.update(value.tobytes())
        return digest.hexdigest()

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], source: str = "arrays", name: str = "custom"
    ) -> ERDModel:
        """Inverse of :meth:`to_arrays`; ``name`` becomes :attr:`name`.

        Every parameter and array is checked (schema, types, ranges, finite values,
        layers that chain, bounded sizes) before anything is allocated; a bad one
        is a ValueError naming ``source`` and the value.
        """
        try:
            header_text = str(arrays["header"])
            if len(header_text) > _MAX_HEADER_CHARS:
                raise ValueError(f"header of {len(header_text)} characters")
            header = json.loads(header_text)
            if not isinstance(header, dict):
                raise ValueError("the header is not a JSON object")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise ValueError(f"{source} is not a fastscan ERD model ({exc})") from None
        if header.get("schema") != SCHEMA:
            raise ValueError(
                f"{source} has model schema {header.get('schema')!r}; "
                f"this fastscan reads {SCHEMA!r}"
            )
        try:
            n_layers = sum(1 for key in arrays if str(key).startswith("coef_"))
            if not 1 <= n_layers <= _MAX_LAYERS:
                raise ValueError(f"{n_layers} layers; allowed 1 to {_MAX_LAYERS}")
            coefs = [_stored_array(arrays, f"coef_{i}", 2) for i in range(n_layers)]
            intercepts = [_stored_array(arrays, f"intercept_{i}", 1) for i in range(n_layers)]
            moments = [
                _stored_array(arrays, key, 1) if key in arrays else None
                for key in ("feature_mean", "feature_scale")
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source} is not a fastscan ERD model ({exc})") from None
        params = _checked_params(header.get("params"), source)
        expected_in = params["n_components"]
        for i, (w, b) in enumerate(zip(coefs, intercepts)):
            if w.shape[0] != expected_in or b.shape != (w.shape[1],):
                raise ValueError(
                    f"{source}: layer {i} shapes {w.shape}/{b.shape} do not chain "
                    f"(expected {expected_in} inputs)"
                )
            expected_in = w.shape[1]
        if expected_in != 1:
            raise ValueError(f"{source}: the last layer must have 1 output, got {expected_in}")
        for moment in moments:
            if moment is not None and moment.shape != (N_FEATURES,):
                raise ValueError(f"{source}: feature moments must have shape ({N_FEATURES},)")
        if moments[1] is not None and not (moments[1] > 0).all():
            raise ValueError(f"{source}: feature_scale must be > 0")
        model = cls(**params)
        model._init_lift()
        model.coefs_ = [w.astype(np.float32) for w in coefs]
        model.intercepts_ = [b.astype(np.float32) for b in intercepts]
        mean, spread = moments
        model.feature_mean_ = np.zeros(N_FEATURES) if mean is None else mean.astype(np.float64)
        model.feature_scale_ = np.ones(N_FEATURES) if spread is None else spread.astype(np.float64)
        info = header.get("info", {})
        model.info_ = info if isinstance(info, dict) else {}
        model.name = str(name)
        return model

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to an ``.npz`` file (no pickle)."""
        path = Path(path)
        with path.open("wb") as fh:
            np.savez(fh, **self.to_arrays())
        return path

    @classmethod
    def load(cls, path: str | Path) -> ERDModel:
        """Read a model written by :meth:`save`; refuses files of another schema."""
        path = existing_npz(path, "ERD model file")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path} is not a fastscan ERD model file ({exc})") from None
        return cls.from_arrays(arrays, source=str(path), name=str(path))

    # -- helpers ----------------------------------------------------------------------
    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise RuntimeError("this ERDModel is not fitted yet; call fit() or ERDModel.load()")

    @staticmethod
    def _check_features(features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != N_FEATURES:
            raise ValueError(f"features must be (n, {N_FEATURES}), got shape {features.shape}")
        return features

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"ERDModel({args})"


class _OneBlasThread:
    """Process-wide "BLAS on one thread" section, safe to enter from several threads.

    The first thread to enter limits BLAS to one thread and the last one to leave
    restores the limit it found, so concurrent sections never restore each
    other's limits half-way (threadpoolctl's limiter alone would).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._controller: Any = None
        self._limiter: Any = None

    def __enter__(self) -> _OneBlasThread:
        with self._lock:
            if self._depth == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


_ONE_BLAS_THREAD = _OneBlasThread()


def _single_thread_blas() -> _OneBlasThread:
    """Context manager limiting BLAS to one thread (about 13 us to enter).

    Reference counted over the whole process: nested or concurrent sections keep
    the limit until the last one leaves.
    """
    return _ONE_BLAS_THREAD


#: Models shipped inside the package, by name.
SHIPPED_MODELS = {
    "default": "erd_default.npz",
    "fast-classic": "erd_fast_classic.npz",
    # the default recipe with an L2 RD target: ``fastscan train --error-power 2``
    "l2": "erd_l2.npz",
    # "default" and "l2" side by side in one network, their ERDs averaged at a common level
    # (:func:`fastscan.erd.blend.blend_models`, weight 0.5, scale ``blend.L2_SCALE``)
    "l1+l2": "erd_l1_l2.npz",
    # the default recipe on the wider generic training set (33 images, textures included):
    # ``fastscan train --training-set wide [--error-power 2]``; opt-in (docs/erd-model.md, "A wider
    # training set")
    "wide": "erd_wide.npz",
    "wide-l2": "erd_wide_l2.npz",
}

#: The shipped model ``load_model(None)`` gives (what a one-channel :class:`fastscan.Sampler`
#: uses by default). "default" (the L1 RD target) stays: "l2" is better on WSe2 and in the
#: validation medians but loses to a static pattern at 10 % on two validation textures where
#: "default" does not (docs/erd-model.md, "Is `l2` the default?"). With the texture rule
#: (``fastscan.sampler.TEXTURE_MODEL``) those losses go, but Hubble stays worse
#: (docs/erd-model.md, "A blended ERD and the texture model"); "l2" here switches it
#: (multichannel scans, texture scans and fast-fly keep "default" either way).
DEFAULT_MODEL = "default"


def default_model_path(name: str = "default") -> Path:
    """Path of a model shipped inside the package (a name of :data:`SHIPPED_MODELS`)."""
    if name not in SHIPPED_MODELS:
        raise ValueError(
            f"unknown shipped model {name!r}{_did_you_mean(name)}; "
            f"choose one of {', '.join(SHIPPED_MODELS)}"
        )
    return Path(str(resources.files("fastscan.erd") / SHIPPED_MODELS[name]))


def load_model(model: ERDModel | str | Path | None = None) -> ERDModel:
    """Resolve the ``model`` argument of :class:`fastscan.Sampler`.

    None gives :data:`DEFAULT_MODEL` ("default": the shipped model of the
    default recipe on SLADS's L1 RD target); "l2" the default recipe trained on
    the L2 RD target (``fastscan train --error-power 2``), "l1+l2" the two in one
    network, their ERDs averaged (:mod:`fastscan.erd.blend`), "wide" and "wide-l2"
    the default and l2 recipes on the wider training set (``--training-set
    wide``), "fast-classic" the shipped model trained with FAST's recipe; a fitted
    :class:`ERDModel` is used as is; any other string or path is read with
    :meth:`ERDModel.load`. The result's :attr:`ERDModel.name` is the shipped
    name, the file path, or (for a model given as an object) whatever it
    already had ("custom" unless set).
    """
    if model is None:
        model = DEFAULT_MODEL
    if isinstance(model, ERDModel):
        model._check_fitted("coefs_")
        return model
    if isinstance(model, str) and model in SHIPPED_MODELS:
        shipped = ERDModel.load(default_model_path(model))
        shipped.name = model
        return shipped
    hint = _did_you_mean(model) if isinstance(model, str) and not Path(model).exists() else ""
    if hint:
        raise ValueError(
            f"unknown ERD model {model!r}{hint}; give a shipped name "
            f"({', '.join(SHIPPED_MODELS)}) or the path of a model file"
        )
    if isinstance(model, (str, Path)):
        if not Path(model).is_file():
            raise FileNotFoundError(
                f"ERD model {str(model)!r} is neither a shipped model "
                f"({', '.join(SHIPPED_MODELS)}) nor a model file (.npz from `fastscan train`)"
            )
        return ERDModel.load(model)
    raise TypeError(
        f"model must be None, a name, an ERDModel or a path, got {type(model).__name__}"
    )


def _did_you_mean(name: str) -> str:
    """ " (did you mean 'l2'?)" for a name close to a shipped one, else ""."""
    import difflib

    close = difflib.get_close_matches(str(name), list(SHIPPED_MODELS), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _stored_array(arrays: dict[str, np.ndarray], key: str, ndim: int) -> np.ndarray:
    """``arrays[key]`` if it is a finite real ``ndim``-D array of a bounded size."""
    value = arrays[key]
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        raise ValueError(f"{key} must be a real numeric array")
    if value.ndim != ndim or value.size > _MAX_WIDTH * _MAX_WIDTH:
        raise ValueError(f"{key} must be {ndim}-D with at most {_MAX_WIDTH}**2 entries")
    if not np.isfinite(value).all():
        raise ValueError(f"{key} holds non-finite values")
    return value


def _checked_params(params: object, source: str) -> dict[str, Any]:
    """Model parameters from a file header, each checked before anything is allocated."""
    if not isinstance(params, dict):
        raise ValueError(f"{source}: model params must be a JSON object, got {params!r:.80}")
    allowed = set(ERDModel().get_params())
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"{source}: unknown model params {sorted(unknown)}")
    out = dict(params)

    def bad(key: str, what: str) -> ValueError:
        return ValueError(f"{source}: model param {key}={params.get(key)!r:.80}; {what}")

    def is_int(value: object, low: int, high: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    def is_real(value: object) -> bool:
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )

    if not is_int(params.get("n_components"), 1, _MAX_WIDTH):
        raise bad("n_components", f"an integer in [1, {_MAX_WIDTH}] is allowed")
    hidden = params.get("hidden_layer_sizes", [50, 5])
    if not (
        isinstance(hidden, list)
        and len(hidden) < _MAX_LAYERS
        and all(is_int(v, 1, _MAX_WIDTH) for v in hidden)
    ):
        raise bad("hidden_layer_sizes", f"a list of integers in [1, {_MAX_WIDTH}] is allowed")
    out["hidden_layer_sizes"] = tuple(hidden)
    if not is_int(params.get("random_state", 1), 0, 2**32 - 1):
        raise bad("random_state", "an integer in [0, 2**32 - 1] is allowed")
    for key in ("max_iter", "batch_size"):
        if not is_int(params.get(key, 1), 1, 10**9):
            raise bad(key, "a positive integer is allowed")
    for key in ("gamma", "alpha", "learning_rate_init"):
        value = params.get(key, 1.0)
        if not is_real(value) or value < 0 or (key == "gamma" and value == 0):
            raise bad(key, "a finite number >= 0 (gamma > 0) is allowed")
    for key in ("feature_transform", "target_transform"):
        if params.get(key, "none") not in ("none", "log1p"):
            raise bad(key, "'none' or 'log1p' is allowed")
    area = params.get("sparsity_area")
    if area is not None and not (is_real(area) and area > 0):
        raise bad("sparsity_area", "None or a finite number > 0 is allowed")
    clip = params.get("sparsity_clip")
    if clip is not None:
        if not (isinstance(clip, list) and len(clip) == 2 and all(is_real(v) for v in clip)):
            raise bad("sparsity_clip", "None or two finite numbers is allowed")
        if clip[0] > clip[1]:
            raise bad("sparsity_clip", "low must not exceed high")
        out["sparsity_clip"] = tuple(clip)
    return out
