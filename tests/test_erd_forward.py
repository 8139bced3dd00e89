"""The ERD model's fused forward-pass kernels against NumPy, and predict against them."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan.erd._forward import _bias_relu, _lift, _lift6, _lift_any
from fastscan.erd.estimator import SHIPPED_MODELS, load_model


def lift_inputs(seed: int, n_rows: int):
    """Random features, scaling and lift constants of the shipped shapes."""
    rng = np.random.default_rng(seed)
    features = rng.uniform(-2.0, 5.0, (n_rows, 6))
    mean, scale = rng.normal(size=6), rng.uniform(0.5, 2.0, 6)
    omega, beta = rng.normal(size=(6, 50)), rng.uniform(0.0, 2 * np.pi, 50)
    return features, mean, scale, omega, beta


def test_lift_matches_numpy():
    features, mean, scale, omega, beta = lift_inputs(0, 300)
    out = np.empty((300, 50), np.float32)
    _lift(features, mean, scale, omega, beta, out)
    want = (((features - mean) / scale) @ omega + beta).astype(np.float32)
    # float64 sums in another order: equal after the float32 rounding, but for a rare ulp
    np.testing.assert_allclose(out, want, rtol=2e-7, atol=2e-7)


def test_six_feature_lift_equals_the_general_one_bit_for_bit():
    features, mean, scale, omega, beta = lift_inputs(3, 257)
    want = np.empty((257, 50), np.float32)
    _lift_any(features, mean, scale, omega, beta, want)
    got = np.full_like(want, np.nan)
    _lift6(features, mean, scale, omega, beta, got)
    np.testing.assert_array_equal(got, want)  # same products, same order of the sums


@pytest.mark.parametrize("relu", [True, False])
def test_bias_relu_matches_numpy(relu):
    rng = np.random.default_rng(1)
    h = rng.normal(size=(40, 7)).astype(np.float32)
    h[0, 0] = np.nan
    b = rng.normal(size=7).astype(np.float32)
    want = h + b
    if relu:
        want = np.maximum(want, np.float32(0.0))
    _bias_relu(h, b, relu)
    np.testing.assert_array_equal(h, want)  # NaN where NumPy has NaN


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_predict_equals_the_plain_numpy_forward_pass(name):
    model = load_model(name)
    rng = np.random.default_rng(2)
    features = np.abs(rng.normal(size=(700, 6))) * rng.uniform(0.1, 30.0, 6)
    hidden = model.transform(features)
    for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        hidden = hidden @ w + b
        if i < len(model.coefs_) - 1:
            hidden = np.maximum(hidden, 0.0)
    want = hidden[:, 0].astype(np.float64)
    if model.target_transform == "log1p":
        want = np.expm1(np.minimum(want, 50.0))
    want = np.maximum(want, 0.0)
    got = model.predict(features)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)
    # a pixel's ERD does not depend on the rows predicted with it (short blocks padded)
    np.testing.assert_allclose(model.predict(features[5:9]), got[5:9], rtol=2e-5, atol=1e-6)


_OUT_OF_ORDER = """
from threadpoolctl import ThreadpoolController
from fastscan.erd.estimator import _single_thread_blas

def blas_threads():  # NumPy's own BLAS, the one the ERD products run on
    infos = ThreadpoolController().select(user_api="blas").info()
    return [info["num_threads"] for info in infos if "numpy" in info["filepath"]]

before = blas_threads()
first, second = _single_thread_blas(), _single_thread_blas()
first.__enter__()
second.__enter__()
first.__exit__(None, None, None)  # one thread's section ends while another's still runs
still_limited = blas_threads()
second.__exit__(None, None, None)
print(json.dumps([before, still_limited, blas_threads()]))
"""


def test_single_thread_blas_sections_may_end_out_of_order():
    # a fresh interpreter: under pytest, after some earlier tests, OpenBLAS stops
    # honouring openblas_set_num_threads, which would hide what this checks
    import json
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", "import json\n" + _OUT_OF_ORDER],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    before, still_limited, after = json.loads(run.stdout.strip().splitlines()[-1])
    assert before, "NumPy's BLAS was not found"
    assert still_limited == [1] * len(before)
    assert after == before
