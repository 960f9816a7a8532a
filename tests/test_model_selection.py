"""Tests for the cross-validated searches solved from per-fold statistics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, PredefinedSplit, ShuffleSplit

from skcrossmodal import (
    CrossModalEmbedding,
    CrossModalEmbeddingCV,
    SharedLatentRegression,
    SharedLatentRegressionCV,
)
from skcrossmodal._compat import InvalidParameterError
from skcrossmodal._model_selection.search import held_out_r2, remove_sample
from skcrossmodal._numerics.moments import two_view_moments
from skcrossmodal.datasets import make_paired_views
from skcrossmodal.metrics import make_retrieval_scorer, precision_at_k


def _views(n_samples=120, seed=0, **kwargs):
    X, y, _ = make_paired_views(
        n_samples,
        n_features_x=8,
        n_features_y=6,
        n_latent=3,
        noise=0.8,
        random_state=seed,
        **kwargs,
    )
    return X, y


def _assert_same_search(ours, theirs, n_splits):
    for k in range(n_splits):
        assert_allclose(
            ours.cv_results_[f"split{k}_test_score"],
            theirs.cv_results_[f"split{k}_test_score"],
            rtol=1e-8,
            atol=1e-10,
        )
    assert_allclose(
        ours.cv_results_["mean_test_score"],
        theirs.cv_results_["mean_test_score"],
        rtol=1e-8,
    )
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    assert_allclose(
        ours.cv_results_["rank_test_score"], theirs.cv_results_["rank_test_score"]
    )
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, rel=1e-8)


@settings(max_examples=examples(20), deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(4, 40),
    st.integers(1, 3),
    st.booleans(),
)
def test_removing_a_fold_equals_the_statistics_of_the_rest(seed, n, cut, weighted):
    """total minus a fold's statistics equals the statistics of the other rows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=1e4, size=(n, 3)) * rng.uniform(0.1, 10, 3)
    y = X[:, :2] @ rng.normal(size=(2, 2)) + rng.normal(size=(n, 2))
    weights = rng.uniform(0.5, 2.0, n) if weighted else None
    fold = np.zeros(n, dtype=bool)
    fold[rng.choice(n, size=min(cut, n - 2), replace=False)] = True

    def moments(rows):
        return two_view_moments(
            X[rows],
            y[rows],
            None if weights is None else weights[rows],
            second_order_x="full",
            second_order_y="diag",
        )

    rest = remove_sample(moments(slice(None)), moments(fold))
    expected = moments(~fold)
    assert rest.weight_sum == pytest.approx(expected.weight_sum, rel=1e-12)
    for name in ("mean_x", "mean_y"):
        assert_allclose(getattr(rest, name), getattr(expected, name), rtol=1e-12)
    for name in ("cross_xy", "cross_xx", "cross_yy"):
        scale = np.abs(getattr(expected, name)).max()
        assert_allclose(getattr(rest, name), getattr(expected, name), atol=1e-9 * scale)


@pytest.mark.parametrize(
    "scoring",
    [
        None,
        "recall@1",
        "neg_median_rank",
        "neg_mean_percentile_rank",
        "mrr_csls",  # not a function of cosine ranks: scored row by row
        make_retrieval_scorer("recall", k=5, direction="y_to_x"),
    ],
)
def test_embedding_search_equals_grid_search(scoring):
    """Scores, ranks and choice equal GridSearchCV's over the same grid and folds."""
    X, y = _views()
    grid = {
        "n_components": [1, 2, 3, 6],
        "whiten": [False, True],
        "reg": [1e-3, 0.3],
        "scale": [False, True],
    }
    cv = KFold(4, shuffle=True, random_state=0)
    ours = CrossModalEmbeddingCV(grid, cv=cv, scoring=scoring).fit(X, y)
    from skcrossmodal.metrics import RETRIEVAL_SCORERS

    theirs = GridSearchCV(
        CrossModalEmbedding(),
        grid,
        cv=cv,
        scoring=RETRIEVAL_SCORERS[scoring] if isinstance(scoring, str) else scoring,
    ).fit(X, y)
    _assert_same_search(ours, theirs, 4)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-9)
    assert_allclose(ours.transform(X), theirs.best_estimator_.transform(X), atol=1e-9)


@pytest.mark.parametrize("scoring", [None, "r2"])
def test_shared_latent_search_equals_grid_search(scoring):
    """The same for SharedLatentRegression; "r2" from statistics equals it on rows."""
    X, y = _views(seed=1)
    grid = [
        {"n_components": [1, 3, 6], "alpha": [0.1, 100.0], "solver": ["closed_form"]},
        {"n_components": [2], "alpha": [1.0], "scale": [True], "tol": [1e-12]},
    ]
    cv = KFold(3, shuffle=True, random_state=1)
    ours = SharedLatentRegressionCV(grid, cv=cv, scoring=scoring).fit(X, y)
    theirs = GridSearchCV(SharedLatentRegression(), grid, cv=cv, scoring=scoring).fit(
        X, y
    )
    _assert_same_search(ours, theirs, 3)
    assert_allclose(ours.coef_, theirs.best_estimator_.coef_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "search, params",
    [
        (CrossModalEmbeddingCV(), {"whiten": True, "reg": 0.1}),
        (CrossModalEmbeddingCV(), {"whiten": False, "scale": True}),
        (CrossModalEmbeddingCV(), {"whiten": True, "reg": "auto", "scale": True}),
    ],
)
def test_shared_decomposition_gives_each_candidates_shared_space(search, params):
    """Where the search declares nested axes, the first k axes of the widest
    solution give the k-component solution's cosine similarities."""
    X, y = _views(seed=3)
    estimator = search._estimator_class(**params)
    assert search._nested_axes(estimator)
    widest = clone(estimator).set_params(n_components=6).fit(X, y)
    X_wide, y_wide = widest.transform(X[:40], y[:40])
    for k in (1, 2, 4):
        alone = clone(estimator).set_params(n_components=k).fit(X, y)
        X_k, y_k = alone.transform(X[:40], y[:40])
        assert_allclose(
            _cosines(X_wide[:, :k], y_wide[:, :k]), _cosines(X_k, y_k), atol=1e-10
        )


@pytest.mark.parametrize("solver", ["als", "closed_form"])
def test_shared_latent_candidates_are_solved_one_by_one(solver):
    """ALS stops at a tolerance, and transform whitens each rank by its own
    residuals, so no two candidates share a decomposition."""
    search = SharedLatentRegressionCV()
    assert not search._nested_axes(SharedLatentRegression(solver=solver))
    X, y = _views(seed=3)
    wide = SharedLatentRegression(4, solver=solver, tol=1e-12).fit(X, y)
    narrow = SharedLatentRegression(2, solver=solver, tol=1e-12).fit(X, y)
    X_wide, y_wide = wide.transform(X[:40], y[:40])
    X_k, y_k = narrow.transform(X[:40], y[:40])
    assert not np.allclose(
        _cosines(X_wide[:, :2], y_wide[:, :2]), _cosines(X_k, y_k), atol=1e-6
    )


def _cosines(X_scores, y_scores):
    X_unit = X_scores / np.linalg.norm(X_scores, axis=1, keepdims=True)
    y_unit = y_scores / np.linalg.norm(y_scores, axis=1, keepdims=True)
    return X_unit @ y_unit.T


def test_held_out_r2_equals_r2_score_on_the_rows():
    """The statistics' R^2 equals r2_score of predict on the rows, weighted."""
    X, y = _views(seed=2)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.1, 3.0, X.shape[0])
    model = SharedLatentRegression(n_components=2).fit(X[:80], y[:80])
    moments = two_view_moments(
        X[80:], y[80:], weights[80:], second_order_x="full", second_order_y="diag"
    )
    expected = r2_score(y[80:], model.predict(X[80:]), sample_weight=weights[80:])
    assert held_out_r2(model, moments) == pytest.approx(expected, rel=1e-10)


def test_streamed_folds_equal_fit_with_predefined_split():
    """partial_fit with fold labels equals fit with the same folds (PredefinedSplit)."""
    X, y = _views(seed=3)
    folds = np.arange(X.shape[0]) % 3
    grid = {"n_components": [1, 3], "alpha": [0.5, 50.0], "solver": ["closed_form"]}
    streamed = SharedLatentRegressionCV(grid, scoring="r2")
    for rows in np.array_split(np.arange(X.shape[0]), 4):
        streamed.partial_fit(X[rows], y[rows], folds=folds[rows])
    fitted = SharedLatentRegressionCV(
        grid, scoring="r2", cv=PredefinedSplit(folds)
    ).fit(X, y)
    _assert_same_search(streamed, fitted, 3)
    assert streamed.n_samples_seen_ == X.shape[0]
    assert_allclose(streamed.coef_, fitted.coef_, rtol=1e-9, atol=1e-12)


def test_default_grid_tries_components_up_to_the_narrower_view():
    """Without param_grid, n_components runs from 1 to min(n_features)."""
    X, y = _views()
    search = CrossModalEmbeddingCV(cv=3).fit(X, y)
    values = list(search.cv_results_["param_n_components"])
    assert values[0] == 1 and values[-1] == 6
    assert search.best_estimator_.n_components == search.best_params_["n_components"]


def test_too_many_folds_is_a_clear_error():
    """More folds than the pairs allow names the limit."""
    X, y = _views(n_samples=10)
    with pytest.raises(ValueError, match="at least 2 pairs.*at most 5 for 10"):
        CrossModalEmbeddingCV(cv=10).fit(X, y)
    with pytest.raises(ValueError, match="n_splits=20 greater than the number"):
        CrossModalEmbeddingCV(cv=20).fit(X, y)


def test_non_complementary_splits_are_refused():
    """ShuffleSplit trains on fewer rows than the complement: a clear error."""
    X, y = _views()
    cv = ShuffleSplit(3, test_size=0.2, train_size=0.5, random_state=0)
    with pytest.raises(ValueError, match="exactly the rows outside its test fold"):
        CrossModalEmbeddingCV(cv=cv).fit(X, y)


def test_grid_without_a_valid_candidate_is_a_clear_error():
    """Every candidate failing raises; some failing warn and rank last."""
    X, y = _views()
    search = CrossModalEmbeddingCV({"n_components": [7, 9]}, cv=3)
    with pytest.raises(ValueError, match="No candidate of param_grid.*upper bound"):
        search.fit(X, y)
    assert not hasattr(search, "best_estimator_")
    with pytest.warns(FitFailedWarning, match="3 of 6 candidate fits failed"):
        search = CrossModalEmbeddingCV({"n_components": [2, 9]}, cv=3).fit(X, y)
    assert search.cv_results_["rank_test_score"].tolist() == [1, 2]
    assert np.isnan(search.cv_results_["mean_test_score"][1])


@pytest.mark.parametrize(
    "grid, match",
    [
        ({"n_components": [2], "alhpa": [1.0]}, "parameter 'alhpa'"),
        ([], "no candidate"),
    ],
)
def test_bad_grids_are_named(grid, match):
    """An unknown parameter or an empty grid says what is wrong."""
    X, y = _views()
    with pytest.raises(ValueError, match=match):
        SharedLatentRegressionCV(grid, cv=3).fit(X, y)


def test_statistics_without_folds_are_refused():
    """partial_fit needs fold labels and a statistics-based score."""
    X, y = _views()
    with pytest.raises(ValueError, match="needs the fold of each row"):
        SharedLatentRegressionCV(scoring="r2").partial_fit(X, y)
    with pytest.raises(ValueError, match="scoring='r2'"):
        SharedLatentRegressionCV().partial_fit(X, y, folds=0)
    search = SharedLatentRegressionCV(scoring="r2")
    with pytest.raises(ValueError, match="one label per row"):
        search.partial_fit(X, y, folds=np.zeros(3))
    assert not hasattr(search, "n_features_in_")


def test_dask_input_points_to_partial_fit():
    """fit of dask arrays explains how to stream them."""
    da = pytest.importorskip("dask.array")
    X, y = _views()
    with pytest.raises(TypeError, match="partial_fit"):
        CrossModalEmbeddingCV().fit(da.from_array(X), da.from_array(y))


def test_a_failed_fit_leaves_the_search_as_it_was():
    """A fit that raises keeps the previous search intact."""
    X, y = _views()
    search = CrossModalEmbeddingCV({"n_components": [2, 3]}, cv=3).fit(X, y)
    before = search.coef_.copy()
    search.set_params(param_grid={"n_components": [8]})
    with pytest.raises(ValueError):
        search.fit(X[:, :5], y)
    assert search.n_features_in_ == X.shape[1]
    assert_allclose(search.coef_, before)


@pytest.mark.parametrize(
    ("search", "grid", "parameter"),
    [
        (CrossModalEmbeddingCV, {"n_components": [2, 0]}, "n_components"),
        (CrossModalEmbeddingCV, {"n_components": [-1]}, "n_components"),
        (CrossModalEmbeddingCV, {"n_components": [1.5]}, "n_components"),
        (CrossModalEmbeddingCV, {"reg": [2.0]}, "reg"),
        (SharedLatentRegressionCV, {"alpha": [-3.0]}, "alpha"),
        (SharedLatentRegressionCV, {"solver": ["bogus"]}, "solver"),
        (SharedLatentRegressionCV, {"max_iter": [0]}, "max_iter"),
        (SharedLatentRegressionCV, {"tol": [-1]}, "tol"),
    ],
)
def test_grid_values_are_validated(search, grid, parameter):
    """An invalid grid value raises naming the candidate, instead of being scored."""
    X, y = _views()
    model = search(grid, cv=3)
    match = rf"param_grid candidate .*'{parameter}' parameter of"
    with pytest.raises(InvalidParameterError, match=match):
        model.fit(X, y)
    assert not hasattr(model, "cv_results_")
    streamed = search(grid, scoring="r2")
    with pytest.raises(InvalidParameterError, match=match):
        streamed.partial_fit(X, y, folds=np.arange(X.shape[0]) % 3)
    assert not hasattr(streamed, "cv_results_")


@pytest.mark.parametrize(
    ("first", "second", "match"),
    [
        (np.r_[np.zeros(30), np.ones(30)], np.r_[np.full(59, 2.0), np.nan], "NaN"),
        ([0] * 30 + ["b"] * 30, None, r"all numbers or all strings.*\['int', 'str'\]"),
        (np.arange(60) % 3, np.array(["a", "b"] * 30), r"after labels \[0, 1, 2\]"),
    ],
)
def test_bad_fold_labels_are_clear_errors_and_change_nothing(first, second, match):
    """A NaN label or int and str labels mixed: ValueError, state restored."""
    X, y = _views()
    search = CrossModalEmbeddingCV({"n_components": [1, 2]}, scoring="r2")
    if second is None:
        with pytest.raises(ValueError, match=match):
            search.partial_fit(X[:60], y[:60], folds=first)
        assert not hasattr(search, "n_samples_seen_")
        return
    search.partial_fit(X[:60], y[:60], folds=first)
    before = {key: value for key, value in vars(search).items()}
    with pytest.raises(ValueError, match=match):
        search.partial_fit(X[60:120], y[60:120], folds=second)
    assert vars(search).keys() == before.keys()
    assert all(vars(search)[key] is before[key] for key in before)


def test_fit_routes_labels_to_a_label_aware_scorer():
    """labels reach the scorer fold by fold: the fold scores equal
    precision@5 with each test fold's own labels, as GridSearchCV computes."""
    X, y, labels = make_paired_views(
        150, n_features_x=8, n_features_y=6, n_classes=3, noise=0.8, random_state=4
    )
    scorer = make_retrieval_scorer("precision", k=5)
    grid = {"n_components": [1, 3]}
    search = CrossModalEmbeddingCV(grid, cv=KFold(3), scoring=scorer)
    search.fit(X, y, labels=labels)
    for index, params in enumerate(search.cv_results_["params"]):
        for fold, (train, test) in enumerate(KFold(3).split(X)):
            fitted = CrossModalEmbedding(**params).fit(X[train], y[train])
            expected = precision_at_k(
                *fitted.transform(X[test], y[test]), labels=labels[test], k=5
            )
            assert search.cv_results_[f"split{fold}_test_score"][index] == (
                pytest.approx(expected)
            )
    # Above the 1/k cap of exact-partner matching: the labels were used.
    assert search.best_score_ > 0.2


def test_labels_with_a_scorer_that_ignores_them_are_refused():
    """labels with the default MRR (or r2) scoring raise instead of being dropped."""
    X, y = _views()
    labels = np.arange(X.shape[0]) % 3
    for scoring in (None, "r2", "mrr"):
        search = CrossModalEmbeddingCV({"n_components": [1]}, cv=3, scoring=scoring)
        with pytest.raises(ValueError, match="does not use them"):
            search.fit(X, y, labels=labels)
        assert not hasattr(search, "cv_results_")
