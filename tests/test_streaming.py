"""partial_fit: streamed chunks give the model that fit learns from all rows."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal
from scipy import linalg
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skcrossmodal import CrossModalEmbedding, SharedLatentRegression

N_SAMPLES, N_FEATURES_X, N_FEATURES_Y = 40, 5, 4

ESTIMATORS = [
    CrossModalEmbedding(),
    CrossModalEmbedding(n_components=2, scale=True),
    CrossModalEmbedding(whiten=True, reg=0.01),
    SharedLatentRegression(n_components=2, solver="closed_form"),
    # A tight tolerance: the warm-started and the cold solver meet to rounding.
    SharedLatentRegression(
        n_components=2, alpha=1.0, tol=1e-13, max_iter=5000, scale=True
    ),
]
IDS = ["procrustes", "scaled-k2", "whitened", "latent-closed", "latent-als"]

# Fitted attributes that together determine every output of the model.
SOLUTION = {
    CrossModalEmbedding: ["x_mean_", "y_mean_", "x_rotations_", "y_rotations_"],
    SharedLatentRegression: ["x_mean_", "y_mean_", "x_weights_", "y_loadings_"],
}


def _views(seed=0, offset=0.0, n_samples=N_SAMPLES):
    """Two views of a 4-D latent, well separated strengths, plus noise.

    The latent axes are orthonormal in both views, so the singular values of
    the cross-covariance (and the canonical correlations) are far apart: the
    solution is well conditioned, and agreement to 1e-10 is a fair demand.
    """
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_samples, 4)) * [3.0, 1.5, 0.8, 0.4]
    x_axes = linalg.qr(rng.normal(size=(N_FEATURES_X, 4)), mode="economic")[0]
    y_axes = linalg.qr(rng.normal(size=(N_FEATURES_Y, 4)))[0]
    X = latent @ x_axes.T + 0.3 * rng.normal(size=(n_samples, N_FEATURES_X))
    y = latent @ y_axes.T + 0.3 * rng.normal(size=(n_samples, N_FEATURES_Y))
    return X + offset, y - offset


def _assert_same_model(streamed, fitted, rtol=1e-10):
    """Equal solutions, relative to each attribute's largest entry."""
    for name in [*SOLUTION[type(fitted)], "coef_", "intercept_"]:
        expected = getattr(fitted, name)
        scale = np.abs(expected).max()
        assert_allclose(
            getattr(streamed, name),
            expected,
            rtol=rtol,
            atol=rtol * scale,
            err_msg=name,
        )


def _stream(estimator, X, y, sample_weight=None, cuts=()):
    """partial_fit ``estimator`` on the chunks between the sorted ``cuts``."""
    bounds = [0, *cuts, X.shape[0]]
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        weights = None if sample_weight is None else sample_weight[start:stop]
        estimator.partial_fit(X[start:stop], y[start:stop], sample_weight=weights)
    return estimator


def _cuts(n_samples):
    """Any split of ``n_samples`` rows into non-empty chunks (sorted cut points)."""
    return st.lists(
        st.integers(1, n_samples - 1), unique=True, max_size=n_samples - 1
    ).map(sorted)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@settings(max_examples=examples(15), deadline=None)
@given(cuts=_cuts(N_SAMPLES))
def test_any_split_equals_fit(estimator, cuts):
    """Streaming any split of the rows gives fit's model to 1e-10."""
    X, y = _views()
    fitted = clone(estimator).fit(X, y)
    streamed = _stream(clone(estimator), X, y, cuts=cuts)
    _assert_same_model(streamed, fitted)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@settings(max_examples=examples(15), deadline=None)
@given(cuts=_cuts(N_SAMPLES), seed=st.integers(0, 2**32 - 1))
def test_any_split_with_weights_equals_fit(estimator, cuts, seed):
    """With sample weights, streaming any split gives the weighted fit."""
    X, y = _views()
    weights = np.random.default_rng(seed).uniform(0.1, 5.0, size=N_SAMPLES)
    fitted = clone(estimator).fit(X, y, sample_weight=weights)
    streamed = _stream(clone(estimator), X, y, weights, cuts)
    _assert_same_model(streamed, fitted)
    assert streamed.weight_sum_ == pytest.approx(weights.sum(), rel=1e-12)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@settings(max_examples=examples(15), deadline=None)
@given(cuts=_cuts(N_SAMPLES))
def test_large_offset_split_equals_fit(estimator, cuts):
    """With mean 1e6 and spread about 1, streaming still matches fit to 1e-10."""
    X, y = _views(offset=1e6)
    fitted = clone(estimator).fit(X, y)
    streamed = _stream(clone(estimator), X, y, cuts=cuts)
    _assert_same_model(streamed, fitted)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@settings(max_examples=examples(15), deadline=None)
@given(cuts=_cuts(N_SAMPLES))
def test_float32_chunks_equal_fit(estimator, cuts):
    """float32 chunks give the fit on the same float32 rows (moments in float64)."""
    X, y = (view.astype(np.float32) for view in _views(offset=50.0))
    fitted = clone(estimator).fit(X, y)
    streamed = _stream(clone(estimator), X, y, cuts=cuts)
    _assert_same_model(streamed, fitted)
    assert streamed.coef_.dtype == np.float64


def test_large_offset_keeps_the_spread():
    """At mean 1e6, streamed co-moments match a two-pass centred computation."""
    X, y = _views(offset=1e6, n_samples=400)
    streamed = _stream(CrossModalEmbedding(whiten=True), X, y, cuts=range(7, 400, 7))
    X_centred = X - X.mean(axis=0)
    y_centred = y - y.mean(axis=0)
    assert_allclose(
        streamed._moments.cross_xy, X_centred.T @ y_centred, rtol=1e-9, atol=1e-9
    )
    assert_allclose(
        streamed._moments.cross_xx, X_centred.T @ X_centred, rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_partial_fit_continues_after_fit(estimator):
    """partial_fit after fit adds to fit's statistics (as IncrementalPCA does)."""
    X, y = _views()
    model = clone(estimator).fit(X[:25], y[:25]).partial_fit(X[25:], y[25:])
    _assert_same_model(model, clone(estimator).fit(X, y))
    assert model.n_samples_seen_ == N_SAMPLES


def test_fit_after_partial_fit_starts_over():
    """fit forgets the statistics of earlier partial_fit calls."""
    X, y = _views()
    model = CrossModalEmbedding().partial_fit(X[:20], y[:20]).fit(X[20:], y[20:])
    _assert_same_model(model, CrossModalEmbedding().fit(X[20:], y[20:]))
    assert model.n_samples_seen_ == N_SAMPLES - 20


def test_bookkeeping_counts_rows_and_weights():
    """n_samples_seen_ counts pairs, weight_sum_ sums their weights."""
    X, y = _views()
    model = CrossModalEmbedding().partial_fit(X[:10], y[:10])
    model.partial_fit(X[10:13], y[10:13], sample_weight=[2.0, 0.0, 0.5])
    assert model.n_samples_seen_ == 13
    assert model.weight_sum_ == pytest.approx(12.5)


def test_one_row_chunks_define_no_model_until_two_rows():
    """After one row the model is not fitted; after two it equals fit on both."""
    X, y = _views()
    # Rank one, so that the solution from two rows is unique.
    model = SharedLatentRegression(n_components=1, solver="closed_form")
    model.partial_fit(X[:1], y[:1])
    assert model.n_samples_seen_ == 1
    with pytest.raises(NotFittedError, match="not fitted"):
        model.predict(X)
    model.partial_fit(X[1:2], y[1:2])
    _assert_same_model(model, clone(model).fit(X[:2], y[:2]))


def test_one_dimensional_y_chunks():
    """A 1-D y streams like a one-column y, and predict stays 1-D."""
    X, y = _views()
    model = _stream(SharedLatentRegression(), X, y[:, 0], cuts=[10, 30])
    _assert_same_model(model, SharedLatentRegression().fit(X, y[:, 0]))
    assert model.predict(X).shape == (N_SAMPLES,)


@pytest.mark.parametrize("estimator", ESTIMATORS[:1] + ESTIMATORS[3:4], ids=str)
def test_empty_chunk_is_an_error_and_changes_nothing(estimator):
    """A chunk of 0 rows raises a clear error; the statistics are untouched."""
    X, y = _views()
    model = clone(estimator).partial_fit(X, y)
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match="0 sample"):
        model.partial_fit(X[:0], y[:0])
    assert model.n_samples_seen_ == N_SAMPLES
    assert_array_equal(model.coef_, coef)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_non_finite_chunk_is_skipped_cleanly(estimator, bad):
    """A NaN/inf chunk raises; the next good chunk gives the fit on good rows."""
    X, y = _views()
    X_bad = X[10:20].copy()
    X_bad[3, 1] = bad
    model = clone(estimator).partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        model.partial_fit(X_bad, y[10:20])
    assert model.n_samples_seen_ == 10
    model.partial_fit(X[20:], y[20:])
    good = np.r_[0:10, 20:N_SAMPLES]
    fitted = clone(estimator).fit(X[good], y[good])
    _assert_same_model(model, fitted)


def test_nan_in_y_chunk_is_an_error():
    """NaN in y's chunk raises the same error as in fit, and changes nothing."""
    X, y = _views()
    model = CrossModalEmbedding().partial_fit(X[:10], y[:10])
    y_bad = y[10:20].copy()
    y_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        model.partial_fit(X[10:20], y_bad)
    assert model.n_samples_seen_ == 10


def test_chunk_with_other_feature_count_names_both_counts():
    """A chunk of X with another feature count raises, naming both counts."""
    X, y = _views()
    model = CrossModalEmbedding().partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="X has 4 features, but .* expecting 5"):
        model.partial_fit(X[10:20, :4], y[10:20])


def test_y_chunk_with_other_feature_count_names_both_counts():
    """A chunk of y with another feature count raises, naming both counts."""
    X, y = _views()
    model = SharedLatentRegression().partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="y has 3 features, but .* expecting 4"):
        model.partial_fit(X[10:20], y[10:20, :3])


@pytest.mark.parametrize(
    ("estimator", "change"),
    [
        (CrossModalEmbedding(n_components=3), {"n_components": 2}),
        (CrossModalEmbedding(), {"scale": True}),
        (CrossModalEmbedding(), {"whiten": False}),
        (SharedLatentRegression(n_components=3), {"n_components": None}),
    ],
    ids=["cme-n_components", "scale", "whiten", "slr-n_components"],
)
def test_statistics_parameters_cannot_change(estimator, change):
    """Changing a parameter the statistics depend on between calls is an error."""
    X, y = _views()
    model = clone(estimator).fit(X[:20], y[:20]).set_params(**change)
    (name,) = change
    with pytest.raises(ValueError, match=f"{name}.* cannot change between calls"):
        model.partial_fit(X[20:], y[20:])
    assert model.n_samples_seen_ == 20


def test_solver_parameters_may_change_between_calls():
    """alpha only enters the solve: changing it refits from all statistics."""
    X, y = _views()
    model = SharedLatentRegression(n_components=2, solver="closed_form")
    model.fit(X[:20], y[:20]).set_params(alpha=10.0).partial_fit(X[20:], y[20:])
    expected = SharedLatentRegression(n_components=2, solver="closed_form", alpha=10.0)
    _assert_same_model(model, expected.fit(X, y))


def test_failed_solve_leaves_the_estimator_unchanged():
    """A first chunk too small to solve (alpha=0) raises and is not kept."""
    X, y = _views()
    model = SharedLatentRegression(alpha=0.0, solver="closed_form")
    with pytest.raises(ValueError, match="singular"):
        model.partial_fit(X[:3], y[:3])
    assert not hasattr(model, "n_samples_seen_")
    model.partial_fit(X, y)
    _assert_same_model(model, clone(model).fit(X, y))


def test_warm_start_needs_fewer_iterations():
    """After many rows, one more chunk re-solves in fewer iterations than fit."""
    X, y = _views(n_samples=400)
    model = SharedLatentRegression(n_components=2, tol=1e-10)
    model.partial_fit(X[:390], y[:390])
    cold = clone(model).fit(X, y)
    model.partial_fit(X[390:], y[390:])
    assert model.n_iter_ < cold.n_iter_
    _assert_same_model(model, cold, rtol=1e-6)


def _run_python(code):
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_import_does_not_import_dask():
    """Importing the package and fitting numpy arrays never imports dask."""
    code = (
        "import sys, numpy as np, skcrossmodal\n"
        "X = np.random.default_rng(0).normal(size=(30, 3))\n"
        "skcrossmodal.CrossModalEmbedding().fit(X, X).partial_fit(X, X).predict(X)\n"
        "print(any(name.startswith('dask') for name in sys.modules))\n"
    )
    assert _run_python(code) == "False"


def test_linear_estimators_work_without_dask():
    """Where dask cannot be imported, fit, partial_fit and predict still work."""
    code = (
        "import sys\n"
        "sys.modules['dask'] = sys.modules['dask.array'] = None  # not installed\n"
        "import numpy as np, skcrossmodal\n"
        "X = np.random.default_rng(0).normal(size=(30, 3))\n"
        "m = skcrossmodal.SharedLatentRegression().partial_fit(X[:10], X[:10])\n"
        "print(m.partial_fit(X[10:], X[10:]).predict(X).shape)\n"
    )
    assert _run_python(code) == "(30, 3)"


def test_extreme_units_and_weights_give_the_same_model():
    """Weights of 1e300 merged across chunks, data of 3e150 and 3e-151: no overflow."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = X @ rng.normal(size=(4, 3)) + 0.1 * rng.normal(size=(300, 3))
    # Weights count as repetitions, so the data-driven shrinkage of 3e302
    # "rows" differs from that of 300: compare with the same weights in one fit.
    reference = CrossModalEmbedding().fit(X, y, sample_weight=np.full(300, 1e300))
    heavy = CrossModalEmbedding()
    for rows in np.array_split(np.arange(300), 3):
        heavy.partial_fit(X[rows], y[rows], sample_weight=np.full(rows.size, 1e300))
    np.testing.assert_allclose(heavy.coef_, reference.coef_, rtol=1e-10, atol=1e-12)
    # 2**500 is about 3e150: the squares that whitening and predict need (1e301,
    # times 300 rows) stay inside the float range, where the raw data could not
    # be squared in float64 without the per-column exponents.
    reference = CrossModalEmbedding().fit(X, y)
    huge = CrossModalEmbedding().fit(np.ldexp(X, 500), np.ldexp(y, -500))
    np.testing.assert_allclose(
        huge.transform(np.ldexp(X, 500)), reference.transform(X), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        huge.predict(np.ldexp(X, 500)), np.ldexp(reference.predict(X), -500), rtol=1e-9
    )
    np.testing.assert_allclose(huge.x_mean_, np.ldexp(reference.x_mean_, 500))
