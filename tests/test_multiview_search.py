"""Statistics-based CV of the K-view estimators equals GridSearchCV."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    RepeatedKFold,
    ShuffleSplit,
)

from skcrossmodal import GeneralizedCCA, GeneralizedCCACV, MultiViewCCA, MultiViewCCACV
from skcrossmodal._model_selection.multiview_search import remove_views_sample
from skcrossmodal._multiview.moments import chunk_moments, extend_shifts
from skcrossmodal._multiview.views import view_presence
from skcrossmodal.datasets import make_multiview
from skcrossmodal.metrics import recall_at_k

GRID = {"n_components": [1, 2, 4], "reg": [0.0, 0.3, "auto"]}
SEARCHES = [(MultiViewCCACV, MultiViewCCA), (GeneralizedCCACV, GeneralizedCCA)]


def _data(seed=0, n_samples=240, missing_rate=0.2):
    X, views, _ = make_multiview(
        n_samples, n_views=3, n_features=[5, 4, 6], missing_rate=missing_rate,
        noise=0.5, random_state=seed,
    )  # fmt: skip
    return X, views


def _assert_same_search(search, grid_search):
    ours, theirs = search.cv_results_, grid_search.cv_results_
    assert [dict(p) for p in ours["params"]] == [dict(p) for p in theirs["params"]]
    for k in range(grid_search.n_splits_):
        key = f"split{k}_test_score"
        assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-10)
    assert_allclose(ours["mean_test_score"], theirs["mean_test_score"], atol=1e-10)
    assert_allclose(ours["std_test_score"], theirs["std_test_score"], atol=1e-10)
    assert_array_equal(ours["rank_test_score"], theirs["rank_test_score"])
    assert search.best_params_ == grid_search.best_params_
    best, expected = search.best_estimator_, grid_search.best_estimator_
    assert_allclose(best.eigenvalues_, expected.eigenvalues_, rtol=1e-10)
    for mine, theirs_ in zip(best.rotations_, expected.rotations_, strict=True):
        assert_allclose(mine, theirs_, atol=1e-10 * np.abs(theirs_).max())


@pytest.mark.parametrize(("search_class", "estimator_class"), SEARCHES)
@pytest.mark.parametrize("weighted", [False, True])
def test_search_equals_grid_search_cv(search_class, estimator_class, weighted):
    """Missing views, weights: every split score equals GridSearchCV's to 1e-10."""
    X, views = _data()
    weights = (
        np.random.default_rng(2).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    )
    cv = KFold(4, shuffle=True, random_state=0)
    search = search_class(views, param_grid=GRID, cv=cv).fit(X, sample_weight=weights)
    grid_search = GridSearchCV(estimator_class(views), GRID, cv=cv).fit(
        X, sample_weight=weights
    )
    _assert_same_search(search, grid_search)
    assert_allclose(search.transform(X), grid_search.transform(X), atol=1e-10)
    assert search.n_splits_ == 4 and search.n_samples_seen_ == X.shape[0]


def test_groups_repeated_splits_and_another_scorer():
    """GroupKFold, overlapping repeated folds and a retrieval scorer agree too."""
    X, views = _data(seed=1)
    groups = np.arange(X.shape[0]) % 7

    def scorer(estimator, X, y=None):
        rows = ~np.isnan(X[:, :9]).any(axis=1)  # views 0 and 1 both present
        queries = estimator.transform_view(X[rows], 0)
        return recall_at_k(queries, estimator.transform_view(X[rows], 1), k=5)

    for cv, fit_params in [
        (GroupKFold(3), {"groups": groups}),
        (RepeatedKFold(n_splits=3, n_repeats=2, random_state=0), {}),
    ]:
        search = MultiViewCCACV(views, param_grid=GRID, cv=cv, scoring=scorer)
        grid_search = GridSearchCV(MultiViewCCA(views), GRID, cv=cv, scoring=scorer)
        _assert_same_search(
            search.fit(X, **fit_params), grid_search.fit(X, **fit_params)
        )


def test_dataframe_views_by_name_equal_grid_search():
    """Views named by column, X a DataFrame: the held-out rows are scored as frames."""
    X, views = _data(seed=3)
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    named = {name: list(frame.columns[cols]) for name, cols in views.items()}
    grid = {"n_components": [1, 3]}
    search = MultiViewCCACV(named, param_grid=grid, cv=3).fit(frame)
    grid_search = GridSearchCV(MultiViewCCA(named), grid, cv=3).fit(frame)
    _assert_same_search(search, grid_search)
    assert_array_equal(search.feature_names_in_, frame.columns)
    assert search.get_feature_names_out()[0] == "view0__multiviewcca0"


def test_default_grid_spans_the_narrowest_view():
    """param_grid=None tries n_components from 1 to the narrowest view's width."""
    X, views = _data()
    search = MultiViewCCACV(views, cv=3).fit(X)
    assert [p["n_components"] for p in search.cv_results_["params"]] == [1, 2, 3, 4]


def test_training_statistics_are_the_rest_of_the_rows():
    """Total minus a fold equals the statistics of the other rows, per pattern too."""
    X, views = _data(seed=4, missing_rate=0.3)
    columns = [np.arange(s.start, s.stop) for s in views.values()]
    present = view_presence(X, columns, list(views))
    shifts = extend_shifts([None] * 3, X, present, columns)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])

    def stats(rows):
        return chunk_moments(
            X[rows], present[rows], columns, weights[rows], shifts, keep_patterns=True
        )

    fold, rest = np.arange(0, 80), np.arange(80, X.shape[0])
    downdated = remove_views_sample(stats(np.arange(X.shape[0])), stats(fold))
    expected = stats(rest)
    assert_array_equal(downdated.counts, expected.counts)
    for mine, theirs in zip(downdated.views, expected.views, strict=True):
        assert_allclose(mine.cross_xx, theirs.cross_xx, rtol=1e-10)
        assert_allclose(mine.mean_x, theirs.mean_x, rtol=1e-10, atol=1e-12)
    for key, theirs in expected.pairs.items():
        assert_allclose(downdated.pairs[key].cross_xy, theirs.cross_xy, atol=1e-9)
    assert set(downdated.patterns) == set(expected.patterns)
    for key, (theirs, count) in expected.patterns.items():
        mine, my_count = downdated.patterns[key]
        assert my_count == count
        assert_allclose(mine.cross_xx, theirs.cross_xx, atol=1e-9)


def test_split_without_a_pair_of_views_scores_error_score():
    """A fold holding every row with two views together fails only that split."""
    X, views = _data(seed=5, missing_rate=0.0)
    X = X.copy()
    # view1 and view2 together only in rows 40-79, which KFold(6) makes fold 1.
    X[80:, views["view2"]] = np.nan
    X[:40, views["view1"]] = np.nan
    search = MultiViewCCACV(views, param_grid={"n_components": [1]}, cv=KFold(6))
    with pytest.warns(FitFailedWarning, match="1 of 6 candidate fits failed"):
        search.fit(X)
    assert np.isnan(search.cv_results_["split1_test_score"]).all()
    assert np.isfinite(search.cv_results_["split0_test_score"]).all()
    # Never together in two rows: no candidate can be solved anywhere.
    X[40:80, views["view1"]] = np.nan
    with pytest.raises(ValueError, match="No candidate of param_grid"):
        search.fit(X)


def test_bad_search_input_is_refused():
    """views in the grid, non-complementary splits and dask input raise clearly."""
    X, views = _data()
    with pytest.raises(ValueError, match="'views', which cannot be searched"):
        MultiViewCCACV(views, param_grid={"views": [views]}).fit(X)
    with pytest.raises(ValueError, match="does not train on exactly the rows"):
        split = ShuffleSplit(3, test_size=0.2, train_size=0.5, random_state=0)
        MultiViewCCACV(views, cv=split).fit(X)
    with pytest.raises(ValueError, match="param_grid candidate"):
        MultiViewCCACV(views, param_grid={"reg": [2.0]}).fit(X)
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="needs the rows in memory"):
        MultiViewCCACV(views).fit(da.from_array(X, chunks=50))
