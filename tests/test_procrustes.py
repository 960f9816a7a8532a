"""Tests for CrossModalEmbedding (closed-form orthogonal Procrustes)."""

import io

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group
from sklearn.covariance import oas
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding

PROPERTY = settings(max_examples=examples(25), deadline=None)


@st.composite
def planted_rotations(draw):
    """A random X, an orthogonal R and an offset t, for y = X R + t."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_features = draw(st.integers(1, 8))
    n_samples = draw(st.integers(n_features + 2, 60))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3.0, n_features)
    X += rng.normal(scale=5.0, size=n_features)
    rotation = (
        ortho_group.rvs(n_features, random_state=seed) if n_features > 1 else [[1.0]]
    )
    offset = rng.normal(scale=10.0, size=n_features)
    return X, np.asarray(rotation), offset, rng


@PROPERTY
@given(planted_rotations())
def test_planted_rotation_is_recovered(data):
    """y = X R + t is predicted exactly and R comes back as the map."""
    X, rotation, offset, _ = data
    y = X @ rotation + offset
    model = CrossModalEmbedding(whiten=False).fit(X, y)
    assert_allclose(model.predict(X), y, atol=1e-8 * (1 + np.abs(y).max()))
    assert_allclose(model.coef_, rotation, atol=1e-8)


@PROPERTY
@given(planted_rotations(), st.integers(1, 8))
def test_map_is_orthogonal(data, n_features_y):
    """The map U V^T has orthonormal rows or columns, whatever the dimensions."""
    X, _, _, rng = data
    y = X @ rng.normal(size=(X.shape[1], n_features_y)) + rng.normal(
        size=(X.shape[0], n_features_y)
    )
    model = CrossModalEmbedding(whiten=False).fit(X, y)
    coef = model.x_rotations_ @ model.y_rotations_.T
    small = min(coef.shape)
    gram = coef.T @ coef if coef.shape[0] >= coef.shape[1] else coef @ coef.T
    assert_allclose(gram, np.eye(small), atol=1e-8)


@PROPERTY
@given(planted_rotations())
def test_rotating_x_rotates_nothing_else(data):
    """Fitting on X Q gives, for X Q, the predictions that X gave (Q orthogonal)."""
    X, _, _, rng = data
    y = X @ rng.normal(size=(X.shape[1], 3)) + rng.normal(size=(X.shape[0], 3))
    Q = ortho_group.rvs(X.shape[1], random_state=1) if X.shape[1] > 1 else np.eye(1)
    plain = CrossModalEmbedding(whiten=False).fit(X, y).predict(X)
    rotated = CrossModalEmbedding(whiten=False).fit(X @ Q, y).predict(X @ Q)
    assert_allclose(rotated, plain, atol=1e-8 * (1 + np.abs(plain).max()))


@PROPERTY
@given(planted_rotations())
def test_row_order_does_not_matter(data):
    """Shuffling the pairs jointly leaves the fitted model unchanged."""
    X, _, _, rng = data
    y = X @ rng.normal(size=(X.shape[1], 2)) + rng.normal(size=(X.shape[0], 2))
    order = rng.permutation(X.shape[0])
    first = CrossModalEmbedding(whiten=False).fit(X, y)
    second = CrossModalEmbedding(whiten=False).fit(X[order], y[order])
    assert_allclose(second.coef_, first.coef_, atol=1e-9)
    assert_allclose(second.transform(X), first.transform(X), atol=1e-8)


def test_matches_scipy_orthogonal_procrustes():
    """On square views the map is scipy's Procrustes; predict adds its LS scale."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)) + 4.0
    y = rng.normal(size=(200, 6)) + X @ rng.normal(size=(6, 6)) - 2.0
    Xc, yc = X - X.mean(0), y - y.mean(0)
    rotation, _ = orthogonal_procrustes(Xc, yc)
    model = CrossModalEmbedding(whiten=False).fit(X, y)
    assert_allclose(model.x_rotations_ @ model.y_rotations_.T, rotation, atol=1e-10)
    # predict adds the least-squares scale of the extended problem (one lstsq).
    scale = np.linalg.lstsq((Xc @ rotation).reshape(-1, 1), yc.ravel(), rcond=None)[0][
        0
    ]
    assert_allclose(model.coef_, scale * rotation, atol=1e-10)
    assert_allclose(model.predict(X), y.mean(0) + scale * Xc @ rotation, atol=1e-9)


def test_truncation_keeps_top_singular_pairs():
    """n_components=k keeps the k leading singular pairs, scaled by least squares."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 7))
    y = X[:, :5] @ rng.normal(size=(5, 5)) + 0.1 * rng.normal(size=(150, 5))
    Xc, yc = X - X.mean(0), y - y.mean(0)
    U, singular_values, Vt = np.linalg.svd(Xc.T @ yc / 150, full_matrices=False)
    model = CrossModalEmbedding(n_components=2, whiten=False).fit(X, y)
    assert_allclose(model.singular_values_, singular_values[:2])
    assert_allclose(np.abs(model.x_rotations_), np.abs(U[:, :2]), atol=1e-10)
    truncated = U[:, :2] @ Vt[:2]
    scale = np.sum(Xc @ truncated * yc) / np.sum((Xc @ truncated) ** 2)
    assert_allclose(model.coef_, scale * truncated, atol=1e-10)
    assert model.transform(X).shape == (150, 2)


def test_whitening_reproduces_cca():
    """whiten=True, reg=0 gives sklearn CCA's canonical correlations and scores."""
    rng = np.random.default_rng(2)
    latent = rng.normal(size=(400, 3))
    X = latent @ rng.normal(size=(3, 6)) + rng.normal(size=(400, 6))
    y = latent @ rng.normal(size=(3, 4)) + rng.normal(size=(400, 4))
    model = CrossModalEmbedding(n_components=3, whiten=True, reg=0.0).fit(X, y)
    cca = CCA(n_components=3, max_iter=5000, tol=1e-12).fit(X, y)
    cca_x, cca_y = cca.transform(X, y)
    correlations = [np.corrcoef(cca_x[:, j], cca_y[:, j])[0, 1] for j in range(3)]
    assert_allclose(model.singular_values_, correlations, rtol=1e-6)
    X_scores, y_scores = model.transform(X, y)
    ours = [np.corrcoef(X_scores[:, j], y_scores[:, j])[0, 1] for j in range(3)]
    assert_allclose(ours, correlations, rtol=1e-6)
    for j in range(3):  # the same directions, up to sign and scale
        assert abs(np.corrcoef(X_scores[:, j], cca_x[:, j])[0, 1]) > 1 - 1e-6


def test_whitened_full_rank_predict_is_least_squares():
    """whiten=True, reg=0, all components: predict is ordinary least squares."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(120, 4)) * [1.0, 10.0, 0.1, 3.0] + 5.0
    y = X @ rng.normal(size=(4, 6)) + rng.normal(size=(120, 6)) * 40.0
    model = CrossModalEmbedding(whiten=True, reg=0.0).fit(X, y)
    expected = LinearRegression().fit(X, y)
    assert_allclose(model.coef_, expected.coef_.T, rtol=1e-8)
    assert_allclose(model.predict(X), expected.predict(X), rtol=1e-8)


def test_whitened_predict_reads_out_each_canonical_axis():
    """Truncated CCA predicts y from each canonical score by its LS slope."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 5))
    y = X[:, :3] @ rng.normal(size=(3, 4)) * 100.0 + rng.normal(size=(200, 4))
    model = CrossModalEmbedding(n_components=2, whiten=True, reg=0.2).fit(X, y)
    X_scores, y_scores = model.transform(X, y)
    slopes = np.sum(X_scores * y_scores, 0) / np.sum(X_scores**2, 0)
    # The canonical axes of y, V = S^(1/2) y_rotations_, are carried back to
    # y's units by S^(1/2) again: together, by the shrunk covariance S itself.
    cov = np.cov(y, rowvar=False, bias=True)
    shrunk = 0.8 * cov + 0.2 * np.trace(cov) / 4 * np.eye(4)
    # Both scores carry the axis weights (the correlations), hence the division.
    weights = model.singular_values_**2
    expected = y.mean(0) + (X_scores * slopes / weights) @ model.y_rotations_.T @ shrunk
    assert_allclose(model.predict(X), expected, rtol=1e-8, atol=1e-8)


def test_whitened_axes_are_weighted_by_their_correlation():
    """With whiten=True, each score column has variance rho_j^2 on the training rows."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 5))
    y = X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(300, 4))
    model = CrossModalEmbedding(whiten=True, reg=0.0).fit(X, y)
    X_scores, y_scores = model.transform(X, y)
    rho = model.singular_values_
    assert_allclose(X_scores.var(axis=0), rho**2, rtol=1e-8)
    assert_allclose(y_scores.var(axis=0), rho**2, rtol=1e-8)
    assert np.all(np.diff(rho) <= 1e-12)


@pytest.mark.parametrize("reg", [0.0, 0.3, 0.9])
def test_canonical_correlations_never_exceed_one(reg):
    """With whiten=True, singular_values_ are the scores' correlations, <= 1."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 6)) * np.arange(1, 7)
    y = X[:, :4] + 0.01 * rng.normal(size=(60, 4))
    model = CrossModalEmbedding(whiten=True, reg=reg).fit(X, y)
    X_scores, y_scores = model.transform(X, y)
    correlations = [np.corrcoef(X_scores[:, j], y_scores[:, j])[0, 1] for j in range(4)]
    assert_allclose(model.singular_values_, correlations, rtol=1e-10)
    assert np.all(model.singular_values_ <= 1.0)


def test_auto_reg_is_the_oas_shrinkage_of_each_view():
    """reg="auto" shrinks each view as sklearn.covariance.oas does."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(25, 12)) @ rng.normal(size=(12, 12))
    y = X[:, :7] + rng.normal(size=(25, 7))
    model = CrossModalEmbedding(whiten=True, reg="auto").fit(X, y)
    assert model.x_shrinkage_ == pytest.approx(oas(X)[1], rel=1e-10)
    assert model.y_shrinkage_ == pytest.approx(oas(y)[1], rel=1e-10)
    reference = CrossModalEmbedding(whiten=True, reg=oas(X)[1]).fit(X, y)
    assert reference.y_shrinkage_ == pytest.approx(model.x_shrinkage_)


def test_singular_covariance_needs_regularised_whitening():
    """Whitening a rank-deficient view without shrinkage says to raise reg."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 3))
    X = np.c_[X, X[:, 0] + X[:, 1]]
    y = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="covariance of X is singular.*Increase reg"):
        CrossModalEmbedding(whiten=True, reg=0.0).fit(X, y)
    model = CrossModalEmbedding(whiten=True, reg=0.1).fit(X, y)
    assert np.all(np.isfinite(model.coef_))


def test_scale_is_unit_free():
    """With scale=True, rescaling features of either view changes no score."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 4))
    y = X @ rng.normal(size=(4, 3)) + 0.5 * rng.normal(size=(100, 3))
    units_x, units_y = np.array([1, 10, 100, 0.1]), np.array([1000.0, 1, 0.01])
    plain = CrossModalEmbedding(scale=True, whiten=False).fit(X, y)
    rescaled = CrossModalEmbedding(scale=True, whiten=False).fit(
        X * units_x, y * units_y
    )
    assert_allclose(rescaled.transform(X * units_x), plain.transform(X), atol=1e-10)
    assert_allclose(
        rescaled.predict(X * units_x), plain.predict(X) * units_y, rtol=1e-9
    )


def test_integer_weights_equal_repeated_rows():
    """sample_weight=k gives the model fitted on the row repeated k times."""
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(40, 5)), rng.normal(size=(40, 3))
    weights = rng.integers(0, 4, size=40)
    for options in ({}, {"scale": True}, {"whiten": False}):
        weighted = CrossModalEmbedding(**options).fit(X, y, sample_weight=weights)
        repeated = CrossModalEmbedding(**options).fit(
            np.repeat(X, weights, axis=0), np.repeat(y, weights, axis=0)
        )
        assert_allclose(weighted.coef_, repeated.coef_, atol=1e-10)
        assert_allclose(weighted.transform(X), repeated.transform(X), atol=1e-10)


def test_large_offset_keeps_precision():
    """Data with mean 1e6 and spread 1 fit as well as the same data centred."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 4))
    y = X @ ortho_group.rvs(4, random_state=6) + 0.01 * rng.normal(size=(300, 4))
    centred = CrossModalEmbedding(whiten=False).fit(X, y)
    shifted = CrossModalEmbedding(whiten=False).fit(X + 1e6, y - 1e6)
    assert_allclose(shifted.coef_, centred.coef_, atol=1e-7)


def test_float32_input_is_accepted():
    """float32 views fit to the same model as their float64 copies."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(100, 4)).astype(np.float32)
    y = (X @ rng.normal(size=(4, 4))).astype(np.float32)
    assert_allclose(
        CrossModalEmbedding(whiten=False).fit(X, y).coef_,
        CrossModalEmbedding(whiten=False)
        .fit(X.astype(np.float64), y.astype(np.float64))
        .coef_,
        atol=1e-10,
    )


def test_grid_search_over_preprocessing_pipeline():
    """GridSearchCV tunes Pipeline([StandardScaler, PCA, CrossModalEmbedding])."""
    rng = np.random.default_rng(8)
    latent = rng.normal(size=(150, 2))
    X = latent @ rng.normal(size=(2, 10)) + 0.3 * rng.normal(size=(150, 10))
    y = latent @ rng.normal(size=(2, 4)) + 0.3 * rng.normal(size=(150, 4))
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("pca", PCA()),
            ("embed", CrossModalEmbedding(whiten=False)),
        ]
    )
    grid = {"pca__n_components": [2, 8], "embed__n_components": [1, 2]}
    search = GridSearchCV(pipeline, grid, cv=3).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    # Extra noisy dimensions only blur retrieval: two components should win.
    assert search.best_params_["embed__n_components"] == 2


def test_joblib_round_trip_is_exact():
    """A fitted model reloads from joblib with identical outputs."""
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 3))
    model = CrossModalEmbedding(whiten=True).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 4}, "n_components upper bound is .* = 3. Got 4"),
        (
            {"n_components": 0},
            "'n_components' parameter .* must be an int in the range",
        ),
        (
            {"reg": 1.5},
            "'reg' parameter .* must be a float in the range \\[0.0, 1.0\\] or a str",
        ),
        ({"whiten": "yes"}, "'whiten' parameter .* must be an instance of 'bool'"),
    ],
)
def test_invalid_parameters_are_named(params, match):
    """Invalid parameters raise errors that name the parameter and the bound."""
    rng = np.random.default_rng(10)
    X, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match=match):
        CrossModalEmbedding(**params).fit(X, y)


def test_non_numeric_input_is_rejected():
    """Strings that are not numbers fail with a conversion error naming them."""
    X = np.array([["a", "b"], ["c", "d"], ["e", "f"]])
    with pytest.raises(ValueError, match="could not convert string to float"):
        CrossModalEmbedding(whiten=False).fit(X, np.ones((3, 2)))


@pytest.mark.parametrize("seed", range(3))
def test_null_direction_of_a_view_gets_no_correlation(seed):
    """A combination of y's features that is constant has no canonical axis.

    Its spread after whitening is a rounding error, and so would be a
    correlation computed as a ratio of two of them (0.12 on numpy 1.24 for
    one-hot class indicators): it must be exactly 0 and carry no weight.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(100, 4))
    y2 = X[:, :2] @ rng.normal(size=(2, 2)) + 0.5 * rng.normal(size=(100, 2))
    y = np.column_stack([y2, 0.1 * y2[:, 0] + 0.3 * y2[:, 1]])
    model = CrossModalEmbedding(reg=1e-9).fit(X, y)
    assert model.singular_values_[2] == 0.0
    assert model.singular_values_[1] > 0.1
    X_scores, y_scores = model.transform(X, y)
    assert not X_scores[:, 2].any() and not y_scores[:, 2].any()


@pytest.mark.parametrize("reg", ["auto", 1.0, 0.5])
def test_constant_view_is_named_not_blamed_on_reg(reg):
    """A constant X says so; no value of reg would help, so none is suggested."""
    y = np.random.default_rng(4).normal(size=(40, 2))
    with pytest.raises(ValueError, match="Every feature of X is constant") as error:
        CrossModalEmbedding(whiten=True, reg=reg).fit(np.full((40, 3), 7.0), y)
    assert "reg" not in str(error.value)
