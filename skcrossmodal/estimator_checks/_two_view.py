"""The contract checks of the two-view estimators (``fit(X, y)``)."""

import io
import warnings

import joblib
import numpy as np
from numpy.testing import assert_allclose
from scipy import sparse
from sklearn import config_context
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from ..metrics import make_retrieval_scorer, mean_reciprocal_rank
from ._common import _SIMILARITY_TOLERANCE, _raises


def _paired_data(n_samples=60, n_features_x=6, n_features_y=4, seed=0):
    """Two views linked through a 3-D latent, plus noise."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_samples, 3))
    X = latent @ rng.normal(size=(3, n_features_x)) + 0.1 * rng.normal(
        size=(n_samples, n_features_x)
    )
    y = latent @ rng.normal(size=(3, n_features_y)) + 0.1 * rng.normal(
        size=(n_samples, n_features_y)
    )
    return X, y


def check_transform_shapes(name, estimator):
    """transform(X) gives X's scores; transform(X, y) the pair; fit_transform X's."""
    X, y = _paired_data()
    model = clone(estimator).fit(X, y)
    X_scores = model.transform(X)
    k = model.n_components_
    assert X_scores.shape == (X.shape[0], k), name
    pair = model.transform(X, y)
    assert isinstance(pair, tuple) and len(pair) == 2, name
    assert_allclose(pair[0], X_scores)
    assert pair[1].shape == (y.shape[0], k), name
    assert model.get_feature_names_out().shape == (k,), name
    assert_allclose(
        clone(estimator).fit_transform(X, y), X_scores, rtol=1e-5, atol=1e-8
    )


def check_predict_in_y_units(name, estimator):
    """predict(X) has y's shape, and is 1-D when y was 1-D."""
    X, y = _paired_data()
    model = clone(estimator).fit(X, y)
    assert model.predict(X).shape == y.shape, name
    assert np.all(np.isfinite(model.predict(X))), name
    model_1d = clone(estimator).fit(X, y[:, 0])
    assert model_1d.predict(X).shape == (X.shape[0],), name


def check_score_is_two_way_mrr(name, estimator):
    """score(X, y) is the mean reciprocal rank of partners, both directions."""
    X, y = _paired_data()
    model = clone(estimator).fit(X, y)
    expected = mean_reciprocal_rank(*model.transform(X, y), direction="both")
    assert model.score(X, y) == expected, name
    assert 0.0 < expected <= 1.0, name


def check_retrieve_matches_transform(name, estimator):
    """retrieve ranks the gallery by cosine similarity in the shared space."""
    # Neural estimators embed in float32: similarities agree to its precision.
    X, y = _paired_data()
    model = clone(estimator).fit(X, y)
    X_scores, y_scores = model.transform(X, y)
    X_unit = X_scores / np.linalg.norm(X_scores, axis=1, keepdims=True)
    y_unit = y_scores / np.linalg.norm(y_scores, axis=1, keepdims=True)
    similarities = X_unit[:5] @ y_unit.T
    scores, indices = model.retrieve(X[:5], y, n_neighbors=3)
    assert_allclose(
        scores, np.sort(similarities, axis=1)[:, ::-1][:, :3], **_SIMILARITY_TOLERANCE
    )
    assert_allclose(
        np.take_along_axis(similarities, indices, axis=1),
        scores,
        **_SIMILARITY_TOLERANCE,
    )
    scores_back, indices_back = model.retrieve(y[:5], X, query_view="y", n_neighbors=2)
    reverse = y_unit[:5] @ X_unit.T
    assert_allclose(
        np.take_along_axis(reverse, indices_back, axis=1),
        scores_back,
        **_SIMILARITY_TOLERANCE,
    )
    assert_allclose(
        scores_back, np.sort(reverse, axis=1)[:, ::-1][:, :2], **_SIMILARITY_TOLERANCE
    )


def check_bad_paired_input(name, estimator):
    """Bad paired input fails early with an error that names the problem."""
    X, y = _paired_data()
    unfitted = clone(estimator)
    _raises(ValueError, "requires y", unfitted.fit, X, None)
    _raises(ValueError, "same number of rows", unfitted.fit, X, y[:-1])
    for view in ("X", "y"):
        X_bad, y_bad = X.copy(), y.copy()
        (X_bad if view == "X" else y_bad)[3, 1] = np.nan
        _raises(ValueError, "NaN", unfitted.fit, X_bad, y_bad)
        (X_bad if view == "X" else y_bad)[3, 1] = np.inf
        _raises(ValueError, "infinity", unfitted.fit, X_bad, y_bad)
    _raises(ValueError, "minimum of 2 is required", unfitted.fit, X[:1], y[:1])
    _raises(ValueError, "Complex data not supported", unfitted.fit, X + 1j, y)
    _raises(TypeError, "dense data is required", unfitted.fit, sparse.csr_matrix(X), y)
    _raises(TypeError, "dense data is required", unfitted.fit, X, sparse.csr_matrix(y))
    _raises(
        ValueError, "Negative values", unfitted.fit, X, y, sample_weight=-np.ones(60)
    )
    _raises(ValueError, "sample_weight.shape", unfitted.fit, X, y, np.ones(59))
    _raises(
        ValueError,
        "at least one non-zero",
        unfitted.fit,
        X,
        y,
        sample_weight=np.zeros(60),
    )
    # The tag of skcrossmodal.base.CrossModalTags; estimators built otherwise
    # make no promise about the bound.
    two_view_tags = getattr(get_tags(unfitted), "two_view_tags", None)
    if two_view_tags is not None and two_view_tags.n_components_bounded_by_views:
        # A meta-estimator (TwoViewPipeline) sets it on its inner estimator.
        key = min(
            (k for k in unfitted.get_params() if k.split("__")[-1] == "n_components"),
            key=len,
        )
        too_many = clone(estimator).set_params(**{key: y.shape[1] + 1})
        _raises(ValueError, "n_components", too_many.fit, X, y)

    model = clone(estimator).fit(X, y)
    _raises(ValueError, "X has 5 features", model.transform, X[:, :5])
    _raises(ValueError, "X has 5 features", model.predict, X[:, :5])
    _raises(ValueError, "y has 3 features", model.transform, X, y[:, :3])
    _raises(ValueError, "same number of rows", model.transform, X, y[:-1])
    _raises(ValueError, "NaN", model.predict, np.full_like(X, np.nan))


def check_sample_weight_routed(name, estimator):
    """sample_weight reaches fit through scikit-learn's metadata routing."""
    X, y = _paired_data()
    weights = np.random.default_rng(1).uniform(0.1, 3.0, size=X.shape[0])
    cv = KFold(n_splits=3)
    with config_context(enable_metadata_routing=True):
        routed = clone(estimator)
        routed.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        results = cross_validate(
            routed,
            X,
            y,
            cv=cv,
            params={"sample_weight": weights},
            return_estimator=True,
        )
    for model, (train, _) in zip(results["estimator"], cv.split(X), strict=True):
        direct = clone(estimator).fit(X[train], y[train], sample_weight=weights[train])
        assert_allclose(model.transform(X), direct.transform(X), rtol=1e-6, atol=1e-9)


def check_pandas_output(name, estimator):
    """set_output(transform="pandas") gives DataFrames for both views' scores."""
    try:
        import pandas as pd
    except ImportError:  # set_output needs pandas; the test extra installs it
        return

    X, y = _paired_data()
    X_frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    model = clone(estimator).set_output(transform="pandas").fit(X_frame, y)
    X_scores, y_scores = model.transform(X_frame, y)
    names = list(model.get_feature_names_out())
    assert isinstance(X_scores, pd.DataFrame) and list(X_scores.columns) == names
    assert isinstance(y_scores, pd.DataFrame) and list(y_scores.columns) == names
    assert_allclose(
        X_scores.to_numpy(),
        clone(estimator).fit(X, y).transform(X),
        rtol=1e-5,
        atol=1e-8,
    )
    assert list(model.feature_names_in_) == list(X_frame.columns)


def check_joblib_round_trip(name, estimator):
    """A joblib round trip gives identical transforms and predictions."""
    X, y = _paired_data()
    model = clone(estimator).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.transform(X, y)[1], model.transform(X, y)[1])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def check_pipeline_grid_search(name, estimator):
    """The estimator is tunable as the last step of a Pipeline with GridSearchCV."""
    X, y = _paired_data()
    pipeline = Pipeline([("scale", StandardScaler()), ("model", clone(estimator))])
    scorer = make_retrieval_scorer("recall", k=5)
    with warnings.catch_warnings():
        # Small folds can leave iterative solvers short of convergence.
        warnings.simplefilter("ignore", category=UserWarning)
        search = GridSearchCV(
            pipeline,
            {"scale": [StandardScaler(), "passthrough"]},
            cv=3,
            scoring={"recall@5": scorer},
            refit="recall@5",
        ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_recall@5"])), name
    assert 0.0 <= search.score(X, y) <= 1.0
    default = GridSearchCV(pipeline, {"scale": ["passthrough"]}, cv=3).fit(X, y)
    assert np.isfinite(default.best_score_), name


_CHECKS = (
    check_transform_shapes,
    check_predict_in_y_units,
    check_score_is_two_way_mrr,
    check_retrieve_matches_transform,
    check_bad_paired_input,
    check_sample_weight_routed,
    check_pandas_output,
    check_joblib_round_trip,
    check_pipeline_grid_search,
)


def all_two_view_checks():
    """Return the contract checks, each a callable ``check(name, estimator)``.

    Returns
    -------
    checks : tuple of callable

    Examples
    --------
    >>> from skcrossmodal.estimator_checks import all_two_view_checks
    >>> [check.__name__ for check in all_two_view_checks()][:2]
    ['check_transform_shapes', 'check_predict_in_y_units']
    """
    return _CHECKS


def check_two_view_estimator(estimator):
    """Run every two-view contract check on an (unfitted) estimator.

    Parameters
    ----------
    estimator : estimator instance
        A two-view estimator; it is cloned before each check.

    Raises
    ------
    AssertionError
        When a check fails, naming the check and the problem.

    Examples
    --------
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal.estimator_checks import check_two_view_estimator
    >>> check_two_view_estimator(CrossModalEmbedding())
    """
    name = type(estimator).__name__
    for check in _CHECKS:
        check(name, estimator)


# ------------------------------------------------------------- K views ---
# The K-view checks draw three views of one shared latent (widths 5, 4, 3, so
# that a transposed or mis-sliced view map changes a shape) in one X.
