"""Tests for SharedLatentRegression (reduced-rank ridge through a shared latent)."""

import io
import warnings

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose
from sklearn.covariance import oas
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import SharedLatentRegression
from skcrossmodal.metrics import mean_reciprocal_rank

PROPERTY = settings(max_examples=examples(25), deadline=None)


def reduced_rank_ridge(X, y, n_components, alpha, sample_weight=None):
    """Mukherjee & Zhu's closed form, from the raw data with plain numpy.

    Returns ``(coef, intercept)`` minimising
    ``sum_i w_i ||y_i - ybar - B^T (x_i - xbar)||^2 + alpha ||B||_F^2`` over
    rank-``n_components`` matrices ``B``.
    """
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    x_mean = w @ X / w.sum()
    y_mean = w @ y / w.sum()
    Xc, yc = X - x_mean, y - y_mean
    gram = Xc.T @ (w[:, None] * Xc) + alpha * np.eye(X.shape[1])
    ridge = np.linalg.solve(gram, Xc.T @ (w[:, None] * yc))
    fitted = yc.T @ (w[:, None] * Xc) @ ridge
    _, eigenvectors = np.linalg.eigh((fitted + fitted.T) / 2)
    top = eigenvectors[:, -n_components:]
    coef = ridge @ top @ top.T
    return coef, y_mean - x_mean @ coef


def raw_objective(X, y, coef, latent_map, alpha, sample_weight=None):
    """The pinned objective evaluated on the raw rows (no sufficient statistics)."""
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    x_mean = w @ X / w.sum()
    y_mean = w @ y / w.sum()
    residual = (y - y_mean) - (X - x_mean) @ coef
    return w @ (residual**2).sum(axis=1) + alpha * (latent_map**2).sum()


def relative_error(actual, expected):
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


@st.composite
def planted_low_rank(draw, noise=0.1):
    """Views y = X B + t + noise with B of rank k and a clear spectral gap at k."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_features_x = draw(st.integers(2, 8))
    n_features_y = draw(st.integers(2, 8))
    n_components = draw(st.integers(1, min(n_features_x, n_features_y)))
    n_samples = draw(st.integers(n_features_x + 5, 80))
    alpha = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0, 10.0]))
    weighted = draw(st.booleans())
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features_x)) * rng.uniform(0.5, 3, n_features_x)
    X += rng.normal(scale=5.0, size=n_features_x)
    left = np.linalg.qr(rng.normal(size=(n_features_x, n_components)))[0]
    right = np.linalg.qr(rng.normal(size=(n_features_y, n_components)))[0]
    strengths = rng.uniform(1.0, 3.0, n_components)
    y = X @ (left * strengths) @ right.T + rng.normal(scale=10.0, size=n_features_y)
    y += rng.normal(scale=noise, size=y.shape)
    sample_weight = rng.uniform(0.2, 2.0, n_samples) if weighted else None
    return X, y, n_components, alpha, sample_weight


@PROPERTY
@given(planted_low_rank(), st.sampled_from(["pls", "random"]))
def test_converged_als_equals_closed_form(data, init):
    """Converged alternating fits predict what the closed form predicts, to 1e-8."""
    X, y, n_components, alpha, sample_weight = data
    coef, intercept = reduced_rank_ridge(X, y, n_components, alpha, sample_weight)
    model = SharedLatentRegression(
        n_components, alpha=alpha, init=init, tol=1e-12, max_iter=5000, random_state=0
    ).fit(X, y, sample_weight=sample_weight)
    assert relative_error(model.predict(X), X @ coef + intercept) < 1e-8
    assert relative_error(model.coef_, coef) < 1e-8


@PROPERTY
@given(planted_low_rank())
def test_closed_form_solver_equals_numpy_closed_form(data):
    """solver='closed_form' gives the reduced-rank ridge solution, with no iteration."""
    X, y, n_components, alpha, sample_weight = data
    coef, intercept = reduced_rank_ridge(X, y, n_components, alpha, sample_weight)
    model = SharedLatentRegression(n_components, alpha=alpha, solver="closed_form")
    model.fit(X, y, sample_weight=sample_weight)
    assert relative_error(model.predict(X), X @ coef + intercept) < 1e-8
    assert model.n_iter_ == 0


@PROPERTY
@given(planted_low_rank(noise=3.0), st.integers(0, 100))
def test_objective_never_increases(data, seed):
    """Each alternating iteration lowers the objective or leaves it unchanged."""
    X, y, n_components, alpha, sample_weight = data
    model = SharedLatentRegression(
        n_components, alpha=alpha, init="random", random_state=seed, tol=0, max_iter=30
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight=sample_weight)
    path = model.objective_path_
    assert np.all(np.diff(path) <= 1e-10 * path[0])


@PROPERTY
@given(planted_low_rank(noise=3.0), st.booleans())
def test_objective_path_ends_at_raw_objective(data, scale):
    """The last recorded objective is the objective evaluated on the raw rows."""
    X, y, n_components, alpha, sample_weight = data
    if scale:  # the scaled problem is the plain one on standardised views
        w = np.ones(len(X)) if sample_weight is None else sample_weight
        X = X / np.sqrt(w @ (X - w @ X / w.sum()) ** 2 / w.sum())
        y = y / np.sqrt(w @ (y - w @ y / w.sum()) ** 2 / w.sum())
    model = SharedLatentRegression(n_components, alpha=alpha, tol=1e-10, scale=scale)
    model.fit(X, y, sample_weight=sample_weight)
    expected = raw_objective(X, y, model.coef_, model.x_weights_, alpha, sample_weight)
    assert_allclose(model.objective_path_[-1], expected, rtol=1e-8)
    assert len(model.objective_path_) == model.n_iter_ + 1


@PROPERTY
@given(planted_low_rank(noise=3.0))
def test_scale_solves_the_standardised_problem(data):
    """scale=True equals the closed form on standardised views, in y's units."""
    X, y, n_components, alpha, sample_weight = data
    w = np.ones(len(X)) if sample_weight is None else sample_weight
    x_std = np.sqrt(w @ (X - w @ X / w.sum()) ** 2 / w.sum())
    y_std = np.sqrt(w @ (y - w @ y / w.sum()) ** 2 / w.sum())
    coef, intercept = reduced_rank_ridge(
        X / x_std, y / y_std, n_components, alpha, sample_weight
    )
    expected = ((X / x_std) @ coef + intercept) * y_std
    model = SharedLatentRegression(n_components, alpha=alpha, scale=True, tol=1e-12)
    model.fit(X, y, sample_weight=sample_weight)
    assert relative_error(model.predict(X), expected) < 1e-8


@PROPERTY
@given(planted_low_rank(noise=3.0))
def test_full_rank_without_penalty_is_ordinary_least_squares(data):
    """alpha=0 and n_components=min(d_x, d_y) give LinearRegression's fit."""
    X, y, _, _, sample_weight = data
    model = SharedLatentRegression(alpha=0.0).fit(X, y, sample_weight=sample_weight)
    ols = LinearRegression().fit(X, y, sample_weight=sample_weight)
    assert relative_error(model.coef_, ols.coef_.T) < 1e-8
    assert relative_error(model.predict(X), ols.predict(X)) < 1e-8


def test_tiny_alpha_tends_to_ordinary_least_squares():
    """As alpha shrinks to zero the coefficients approach np.linalg.lstsq's."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = X @ rng.normal(size=(4, 6)) + rng.normal(size=(50, 6))
    design = np.column_stack([X, np.ones(len(X))])
    ols = np.linalg.lstsq(design, y, rcond=None)[0][:4]
    errors = [
        relative_error(SharedLatentRegression(alpha=alpha).fit(X, y).coef_, ols)
        for alpha in (1e-2, 1e-5, 1e-8)
    ]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-8


def test_larger_alpha_shrinks_coef():
    """The norm of coef_ decreases strictly as the penalty grows."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 7))
    y = X @ rng.normal(size=(7, 5)) + rng.normal(size=(80, 5))
    norms = [
        np.linalg.norm(SharedLatentRegression(3, alpha=alpha).fit(X, y).coef_)
        for alpha in (0.0, 1.0, 10.0, 100.0, 1000.0)
    ]
    assert np.all(np.diff(norms) < 0)


def test_integer_sample_weight_equals_repeating_rows():
    """A weight of m counts as the pair repeated m times."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 5))
    y = X @ rng.normal(size=(5, 4)) + rng.normal(size=(30, 4))
    counts = rng.integers(0, 4, size=30)
    weighted = SharedLatentRegression(2).fit(X, y, sample_weight=counts)
    repeated = SharedLatentRegression(2).fit(
        np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0)
    )
    assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-8, atol=1e-12)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-8, atol=1e-12)
    assert_allclose(weighted.transform(X), repeated.transform(X), atol=1e-10)


def test_fitted_maps_reproduce_transform_and_predict():
    """Scores use x_rotations_/y_rotations_; predictions go through the latent."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 6)) * 4.0 + 2.0
    y = X @ rng.normal(size=(6, 3)) + rng.normal(size=(40, 3)) * 0.5 + 7.0
    model = SharedLatentRegression(2, scale=True).fit(X, y)
    X_scores, y_scores = model.transform(X, y)
    assert X_scores.shape == y_scores.shape == (40, 2)
    assert_allclose(X_scores, (X - model.x_mean_) @ model.x_rotations_)
    assert_allclose(y_scores, (y - model.y_mean_) @ model.y_rotations_)
    latent = (X - model.x_mean_) @ model.x_weights_
    assert_allclose(model.predict(X), latent @ model.y_loadings_.T + model.y_mean_)
    assert_allclose(model.predict(X), X @ model.coef_ + model.intercept_)
    assert isinstance(model.n_iter_, int) and model.n_iter_ >= 1


def _noisy_views(n=300, seed=0):
    """y = X B + noise whose covariance is far from isotropic."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    mixing = rng.normal(size=(4, 4)) * [0.3, 1.0, 3.0, 0.5]
    y = X @ rng.normal(size=(5, 4)) + rng.normal(size=(n, 4)) @ mixing
    return X, y


@pytest.mark.parametrize("n_components", [2, 4])
def test_transform_is_the_noise_whitened_least_squares_latent(n_components):
    """Score inner products are those of GLS under the OAS-shrunk residuals.

    By hand from the rows: ``S`` is ``sklearn.covariance.oas`` of the training
    residuals of ``predict`` (scaled to mean variance 1), ``W`` the latent
    axes in y, ``M = W S^-1 W^T`` and ``z_y = y S^-1 W^T M^-1`` y's latent.
    Then ``x x^T = yhat S^-1 yhat^T``, ``x y^T = yhat S^-1 y^T`` and
    ``y y^T = z_y M z_y^T`` for the two views' scores ``x`` and ``y``.
    """
    X, y = _noisy_views()
    model = SharedLatentRegression(n_components, alpha=1.0).fit(X, y)
    residuals = y - model.predict(X)
    S = oas(residuals, assume_centered=True)[0]
    S /= np.trace(S) / len(S)
    W = model.y_weights_.T  # orthonormal rows: the latent axes in y
    S_inv = np.linalg.inv(S)
    M = W @ S_inv @ W.T
    fitted = model.predict(X) - model.y_mean_
    yc = y - model.y_mean_
    gls_latent = yc @ S_inv @ W.T @ np.linalg.inv(M)  # z read from y
    X_scores, y_scores = model.transform(X, y)
    assert_allclose(X_scores @ X_scores.T, fitted @ S_inv @ fitted.T, atol=1e-8)
    assert_allclose(X_scores @ y_scores.T, fitted @ S_inv @ yc.T, atol=1e-8)
    assert_allclose(y_scores @ y_scores.T, gls_latent @ M @ gls_latent.T, atol=1e-8)


def test_full_rank_unshrunk_transform_is_likelihood_weighted_cca(monkeypatch):
    """Without penalty or shrinkage, scores' inner products are weighted CCA's.

    ``x_scores y_scores^T`` is proportional to ``u diag(rho / (1 - rho^2)) v^T``
    with ``u, v`` the canonical variates (unit variance) from numpy's SVD, and
    the error between the two views' scores has covariance ``c I``.
    """
    from skcrossmodal._linear import shared_latent as _shared_latent

    monkeypatch.setattr(_shared_latent, "oas_shrinkage", lambda cov, n: 0.0)
    X, y = _noisy_views(n=200, seed=1)
    model = SharedLatentRegression(alpha=0.0).fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean(0)
    roots = []
    for A in (Xc, yc):
        values, vectors = np.linalg.eigh(A.T @ A / len(A))
        roots.append(vectors / np.sqrt(values) @ vectors.T)
    U, rho, Vt = np.linalg.svd(roots[0] @ (Xc.T @ yc / len(X)) @ roots[1])
    u, v = Xc @ roots[0] @ U[:, :4], yc @ roots[1] @ Vt.T
    expected = u * (rho / (1 - rho**2)) @ v.T
    X_scores, y_scores = model.transform(X, y)
    actual = X_scores @ y_scores.T
    factor = np.vdot(actual, expected) / np.vdot(expected, expected)
    assert factor > 0
    assert_allclose(actual, factor * expected, atol=1e-8 * np.abs(actual).max())
    # Unshrunk, the error between the views' training scores is isotropic.
    error = (y_scores - X_scores).T @ (y_scores - X_scores)
    assert_allclose(error, np.eye(4) * error[0, 0], atol=1e-8 * error[0, 0])


def test_noise_whitening_beats_plain_projections_on_held_out_retrieval():
    """A loud y direction that X cannot predict no longer swamps the cosine."""
    rng = np.random.default_rng(7)
    n = 400
    X = rng.normal(size=(n, 4))
    signal = X @ rng.normal(size=(4, 3))
    loud = 20.0 * rng.normal(size=(n, 1))  # y's largest variance, all noise
    y = np.hstack([signal + 0.3 * rng.normal(size=(n, 3)), loud + X[:, :1]])
    train, test = slice(0, 300), slice(300, None)
    model = SharedLatentRegression(alpha=1.0).fit(X[train], y[train])
    plain = (
        (X[test] - model.x_mean_) @ model.x_weights_,
        (y[test] - model.y_mean_) @ model.y_weights_,
    )
    whitened = model.transform(X[test], y[test])
    assert mean_reciprocal_rank(*whitened) > mean_reciprocal_rank(*plain) + 0.1


@pytest.mark.parametrize("scale", [False, True])
def test_noise_free_views_share_the_latent(scale):
    """When y is exactly rank-k in X, both views land on the same latent."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 6)) * rng.uniform(0.5, 5, 6) + 3.0
    y = X @ rng.normal(size=(6, 2)) @ rng.normal(size=(2, 5)) - 1.0
    model = SharedLatentRegression(2, alpha=1e-10, scale=scale, tol=1e-12).fit(X, y)
    X_scores, y_scores = model.transform(X, y)
    assert_allclose(X_scores, y_scores, atol=1e-7 * np.abs(y_scores).max())
    assert model.score(X, y) == 1.0


def test_solvers_agree_on_the_latent_axes():
    """ALS and the closed form return the same axes, ordered and signed alike."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 8))
    factors = np.linalg.qr(rng.normal(size=(8, 3)))[0] * [6.0, 3.0, 1.5]
    y = X @ factors @ np.linalg.qr(rng.normal(size=(6, 3)))[0].T
    y += 0.1 * rng.normal(size=y.shape)
    als = SharedLatentRegression(3, tol=1e-12, init="random", random_state=0)
    closed = SharedLatentRegression(3, solver="closed_form")
    assert_allclose(als.fit(X, y).transform(X), closed.fit(X, y).transform(X))
    explained = np.var(als.transform(X), axis=0)
    assert np.all(np.diff(explained) < 0)


def test_convergence_warning_when_max_iter_is_reached():
    """Stopping at max_iter before tol is met warns with a ConvergenceWarning."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(60, 6))
    y = X @ rng.normal(size=(6, 6)) + rng.normal(size=(60, 6))
    model = SharedLatentRegression(2, max_iter=2, tol=1e-14, init="random")
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model.fit(X, y)
    assert model.n_iter_ == 2
    assert np.all(np.isfinite(model.coef_))


def test_negative_alpha_is_rejected():
    """alpha < 0 raises a ValueError naming alpha."""
    X = np.random.default_rng(7).normal(size=(10, 3))
    with pytest.raises(ValueError, match="'alpha' parameter"):
        SharedLatentRegression(alpha=-1.0).fit(X, X)


def test_too_many_components_is_rejected():
    """n_components above min(d_x, d_y) raises a ValueError saying the bound."""
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(10, 5)), rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"n_components upper bound .* = 3"):
        SharedLatentRegression(n_components=4).fit(X, y)


@pytest.mark.parametrize(
    "make_X",
    [
        pytest.param(lambda X: np.column_stack([X, 2 * X[:, 0]]), id="collinear"),
        pytest.param(
            lambda X: np.column_stack([X, X @ [0.3, 1.7, -0.2, 0.9]]),
            id="linear-combination",  # Cholesky succeeds here, with a tiny pivot
        ),
        pytest.param(lambda X: np.column_stack([X, np.ones(len(X))]), id="constant"),
        pytest.param(lambda X: np.tile(X, 4)[:5], id="more-features-than-samples"),
    ],
)
@pytest.mark.parametrize("solver", ["als", "closed_form"])
def test_rank_deficient_x_without_penalty_says_raise_alpha(make_X, solver):
    """alpha=0 on rank-deficient X raises a ValueError telling to raise alpha."""
    rng = np.random.default_rng(9)
    X = make_X(rng.normal(size=(30, 4)))
    y = rng.normal(size=(len(X), 2))
    with pytest.raises(ValueError, match="rank-deficient.*Raise alpha"):
        SharedLatentRegression(alpha=0.0, solver=solver).fit(X, y)
    coef = SharedLatentRegression(alpha=1e-3, solver=solver).fit(X, y).coef_
    assert np.all(np.isfinite(coef))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(bad):
    """NaN or inf in either view raises a ValueError naming the problem."""
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    X_bad, y_bad = X.copy(), y.copy()
    X_bad[2, 1] = y_bad[3, 0] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        SharedLatentRegression().fit(X_bad, y)
    with pytest.raises(ValueError, match="Input y contains"):
        SharedLatentRegression().fit(X, y_bad)


def test_mismatched_rows_are_rejected():
    """X and y with different row counts raise a ValueError saying so."""
    rng = np.random.default_rng(11)
    with pytest.raises(ValueError, match="same number of rows"):
        SharedLatentRegression().fit(rng.normal(size=(10, 3)), rng.normal(size=(9, 2)))


def test_wrong_feature_count_after_fit_is_rejected():
    """transform and predict reject a view with another number of features."""
    rng = np.random.default_rng(12)
    X, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 3))
    model = SharedLatentRegression(2).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features"):
        model.predict(rng.normal(size=(5, 5)))
    with pytest.raises(ValueError, match="X has 3 features"):
        model.transform(rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match="y has 2 features"):
        model.transform(X, rng.normal(size=(20, 2)))


def test_joblib_round_trip_gives_identical_outputs():
    """A pickled and reloaded model transforms and predicts bit for bit the same."""
    rng = np.random.default_rng(13)
    X, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 4))
    model = SharedLatentRegression(2).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_grid_search_in_a_pipeline_tunes_alpha():
    """GridSearchCV over Pipeline([StandardScaler(), model]) runs and picks an alpha."""
    rng = np.random.default_rng(14)
    latent = rng.normal(size=(120, 2))
    X = latent @ rng.normal(size=(2, 10)) + 0.3 * rng.normal(size=(120, 10))
    y = latent @ rng.normal(size=(2, 6)) + 0.3 * rng.normal(size=(120, 6))
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("latent", SharedLatentRegression(2))]
    )
    search = GridSearchCV(pipeline, {"latent__alpha": [0.1, 10.0, 1e6]}, cv=3)
    search.fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 3
    assert search.best_score_ > 5 * np.log(40) / 40  # well above chance MRR
    assert search.best_estimator_[-1].alpha == search.best_params_["latent__alpha"]


@pytest.mark.parametrize("n_components", [1, 2])
def test_warm_start_orthogonal_to_the_signal_still_finds_it(n_components):
    """A first chunk without signal does not trap streaming ALS at coef_ = 0."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = np.zeros((200, 4))
    y[:, 2:] = X @ rng.normal(size=(5, 2)) + 0.1 * rng.normal(size=(200, 2))
    y[:10] = 0.0
    streamed = SharedLatentRegression(n_components=n_components)
    streamed.partial_fit(X[:10], y[:10]).partial_fit(X[10:], y[10:])
    fitted = SharedLatentRegression(n_components=n_components).fit(X, y)
    assert_allclose(streamed.coef_, fitted.coef_, atol=1e-6)
    assert np.abs(streamed.coef_).max() > 0.1


def test_auto_alpha_minimises_generalised_cross_validation():
    """alpha="auto" is the grid penalty with the least GCV, computed from rows."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 12)) * rng.uniform(0.5, 2.0, 12)
    y = X[:, :2] @ rng.normal(size=(2, 3)) + 2.0 * rng.normal(size=(40, 3))
    model = SharedLatentRegression(alpha="auto").fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean(0)
    gram = Xc.T @ Xc
    alphas = np.geomspace(1e-6, 1e3, 61) * np.trace(gram) / 12
    criteria = []
    for alpha in alphas:
        hat = Xc @ np.linalg.solve(gram + alpha * np.eye(12), Xc.T)
        residual = ((yc - hat @ yc) ** 2).sum()
        criteria.append(residual / (40 - 1 - np.trace(hat)) ** 2)
    assert model.alpha_ == pytest.approx(alphas[np.argmin(criteria)], rel=1e-12)
    fixed = SharedLatentRegression(alpha=model.alpha_).fit(X, y)
    assert_allclose(model.coef_, fixed.coef_, rtol=1e-10)


def test_auto_alpha_regularises_more_features_than_samples():
    """With d > n, alpha="auto" fits where alpha=0 is singular."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(15, 30))
    y = X[:, :3] + rng.normal(size=(15, 3))
    model = SharedLatentRegression(alpha="auto", n_components=2).fit(X, y)
    assert model.alpha_ > 0 and np.all(np.isfinite(model.coef_))
