"""The linear estimators at any scale, and in the input's float dtype.

Multiplying both views by a scale ``s`` changes the learnt maps only by powers
of ``s``: ``predict`` scales by ``s``, every score (cosine ranks) is unchanged,
and ``transform`` is unchanged for whitened or standardised views and scales
by ``s`` otherwise (plain Procrustes rotates the data in their own units; the
shared latent of ``SharedLatentRegression`` is in y's units). These tests hold
the estimators to that from 1e-300 to 1e300, where the statistics themselves
(sums of squares of 1e300, or of 1e-300) leave the float64 range.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skcrossmodal import (
    CrossModalEmbedding,
    CrossModalEmbeddingCV,
    SharedLatentRegression,
    SharedLatentRegressionCV,
)

# (factory, power of s that transform carries)
CASES = {
    "cca": (lambda: CrossModalEmbedding(), 0),
    "procrustes": (lambda: CrossModalEmbedding(whiten=False), 1),
    "procrustes_scaled": (lambda: CrossModalEmbedding(whiten=False, scale=True), 0),
    "ridge_gcv": (lambda: SharedLatentRegression(), 1),
    "reduced_rank": (
        lambda: SharedLatentRegression(n_components=2, solver="closed_form"),
        1,
    ),
    "reduced_rank_als": (lambda: SharedLatentRegression(n_components=2), 1),
    # With scale=True, alpha penalises the standardised problem: free of units.
    "standardised_ridge": (
        lambda: SharedLatentRegression(n_components=2, scale=True, alpha=1.0),
        0,
    ),
    "cca_search": (
        lambda: CrossModalEmbeddingCV({"n_components": [1, 3]}, cv=3),
        0,
    ),
    "ridge_search": (
        lambda: SharedLatentRegressionCV(
            {"n_components": [1, 2], "alpha": ["auto"]}, cv=3, scoring="r2"
        ),
        1,
    ),
}

# Scales as (mantissa, base, exponent): 2**k is exact in floating point; 10**k
# rounds every entry of the scaled data once more.
SCALES = st.one_of(
    st.integers(-996, 996).map(lambda k: (2, k)),
    st.integers(-300, 300).map(lambda k: (10, k)),
)


def _views(seed=0, n_samples=60):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5)) + [3.0, 0.0, -1.0, 0.0, 2.0]
    y = X[:, :3] @ rng.normal(size=(3, 4)) + 0.5 * rng.normal(size=(n_samples, 4))
    return X, y


def _scaled(values, scale):
    base, exponent = scale
    if base == 2:
        return np.ldexp(values, exponent)
    # 10**k itself leaves the float64 range beyond 1e308: multiply in two steps.
    half = exponent // 2
    return values * 10.0**half * 10.0 ** (exponent - half)


def _tolerance(factory, X, y):
    """Relative tolerance: what rounding the input once more does to the fit.

    The scaled data are the unit data rounded once more (exactly so for a
    power of two, where the rounding is nil); a fit can only be as close to
    the unit-scale fit as the fits of two roundings of the same data are to
    each other. That spread is measured by refitting on data perturbed by a
    relative 2**-52 and allowed 100 times over (plus a floor of 1e-13 for
    the product and sums that map new rows).
    """
    rng = np.random.default_rng(1)
    eps = np.finfo(np.float64).eps
    jitter = [1.0 + eps * rng.choice([-1.0, 1.0], size=v.shape) for v in (X, y)]
    reference = factory().fit(X, y).predict(X)
    perturbed = factory().fit(X * jitter[0], y * jitter[1]).predict(X)
    spread = np.max(np.abs(perturbed - reference)) / np.max(np.abs(reference))
    return max(100.0 * spread, 1e-13)


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=12, deadline=None)
@given(scale=SCALES)
def test_results_do_not_depend_on_the_scale(case, scale):
    """predict scales with s, score does not move, transform carries s**power."""
    factory, power = CASES[case]
    X, y = _views()
    unit = factory().fit(X, y)
    X_s, y_s = _scaled(X, scale), _scaled(y, scale)
    model = factory().fit(X_s, y_s)
    rtol = _tolerance(factory, X, y)

    prediction = unit.predict(X)
    scale_back = 1.0 / _scaled(np.ones(1), scale)[0]
    assert_allclose(
        model.predict(X_s) * scale_back,
        prediction,
        rtol=0,
        atol=rtol * np.max(np.abs(prediction)),
    )
    assert model.score(X_s, y_s) == pytest.approx(unit.score(X, y), abs=1e-12)
    for got, expected in zip(
        model.transform(X_s, y_s), unit.transform(X, y), strict=True
    ):
        if power:
            got = got * scale_back
        assert_allclose(got, expected, rtol=0, atol=rtol * np.max(np.abs(expected)))


@pytest.mark.parametrize("exponent", [-300, -200, -155, 155, 200, 300])
def test_the_reported_failures_are_gone(exponent):
    """The issue's reproductions: 1e-155 scored 0.033 against 1.0 at unit scale;
    1e-200 predicted 98 % off; above 1e153 the fits raised about rank."""
    X, y = _views(seed=2)
    s = 10.0**exponent
    for factory in (
        CrossModalEmbedding,
        lambda: CrossModalEmbedding(whiten=False),
        SharedLatentRegression,
    ):
        unit = factory().fit(X, y)
        model = factory().fit(X * s, y * s)
        assert model.score(X * s, y * s) == pytest.approx(unit.score(X, y))
        assert_allclose(model.predict(X * s) / s, unit.predict(X), rtol=1e-10)


def test_partial_fit_keeps_the_units_of_its_first_chunk():
    """Streaming data of 1e-250 in chunks equals fit, and fit at unit scale."""
    X, y = _views(seed=3)
    s = 1e-250
    streamed = CrossModalEmbedding()
    for rows in np.array_split(np.arange(X.shape[0]), 4):
        streamed.partial_fit(X[rows] * s, y[rows] * s)
    unit = CrossModalEmbedding().fit(X, y)
    assert_allclose(streamed.predict(X * s) / s, unit.predict(X), rtol=1e-10)
    assert_allclose(streamed.transform(X * s), unit.transform(X), rtol=1e-9)


def test_a_given_alpha_keeps_its_meaning_at_any_scale():
    """alpha=1 on X^T X of 1e-600 shrinks the map to nothing (predicts the
    mean), where it failed as "X is rank-deficient"; alpha_ is reported as given."""
    X, y = _views(seed=4)
    model = SharedLatentRegression(alpha=1.0).fit(X * 1e-300, y * 1e-300)
    assert model.alpha_ == 1.0
    assert_allclose(
        model.predict(X * 1e-300), np.tile(y.mean(axis=0) * 1e-300, (60, 1))
    )


def test_views_of_incompatible_scales_name_the_cause():
    """A map from 1e-300 to 1e300 does not fit in float64: said so, fit atomic."""
    X, y = _views(seed=5)
    model = CrossModalEmbedding()
    with pytest.raises(ValueError, match="too far apart for a map between them"):
        model.fit(X * 1e-300, y * 1e300)
    assert not hasattr(model, "coef_")


def test_overflowing_values_name_the_overflow():
    """Values at the edge of float64 give an error about overflow, not about
    rank or scipy's 'infs or NaNs'."""
    X, y = _views(seed=6)
    # Finite values whose differences (1.6e308 - -1.6e308) are not.
    X[:, 0] = np.where(np.arange(X.shape[0]) % 2, 1.6e308, -1.6e308)
    # scikit-learn's finiteness check sums the values first, which warns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="overflowed the float64 range"):
            CrossModalEmbedding().fit(X, y)


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_in_float32_out(case):
    """transform (both views) and predict keep float32 input in float32, and
    agree with the float64 results to float32 precision."""
    factory, _ = CASES[case]
    X, y = _views(seed=7)
    model = factory().fit(X, y)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    outputs = [model.transform(X32), *model.transform(X32, y32), model.predict(X32)]
    expected = [model.transform(X), *model.transform(X, y), model.predict(X)]
    for got, want in zip(outputs, expected, strict=True):
        assert got.dtype == np.float32
        scale = np.max(np.abs(want))
        assert_allclose(got, want, rtol=0, atol=1e-5 * scale)
    assert model.transform(X).dtype == np.float64


@pytest.mark.parametrize("exponent", [-250, 250])
def test_dask_input_at_any_scale(exponent):
    """dask arrays take their units from the first pair and equal fit in memory."""
    da = pytest.importorskip("dask.array")
    X, y = _views(seed=8)
    s = 10.0**exponent
    unit = SharedLatentRegression().fit(X, y)
    model = SharedLatentRegression().fit(
        da.from_array(X * s, chunks=(20, 5)), da.from_array(y * s, chunks=(20, 4))
    )
    assert_allclose(model.predict(X * s) / s, unit.predict(X), rtol=1e-9)
    assert model.score(X * s, y * s) == pytest.approx(unit.score(X, y))
