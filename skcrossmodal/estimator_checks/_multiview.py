"""The contract checks of the K-view estimators (one ``X``, ``views=``)."""

import io
import itertools
import warnings

import joblib
import numpy as np
from numpy.testing import assert_allclose
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .._multiview.views import resolve_views
from ..datasets import make_multiview
from ..metrics import mean_reciprocal_rank
from ._common import _SIMILARITY_TOLERANCE, _raises

_VIEW_WIDTHS = (5, 4, 3)


def _multiview_data(n_samples=90, *, missing_rate=0.0, seed=0):
    """Three views of a 2-D shared latent side by side, and their views."""
    X, views, _ = make_multiview(
        n_samples,
        n_views=len(_VIEW_WIDTHS),
        n_features=list(_VIEW_WIDTHS),
        n_latent=2,
        n_private=1,
        missing_rate=missing_rate,
        random_state=seed,
    )
    return X, views


def _shortest_param(estimator, parameter):
    """The shortest ``get_params`` key naming ``parameter`` (nested ones too)."""
    keys = [k for k in estimator.get_params() if k.split("__")[-1] == parameter]
    return min(keys, key=len) if keys else None


def _with_views(estimator):
    """A clone of ``estimator`` whose views are the checks' own when it had none."""
    model = clone(estimator)
    key = _shortest_param(model, "views")
    if key is None:
        raise AssertionError(
            f"{type(estimator).__name__} has no views parameter: it is not a "
            "K-view estimator of one X."
        )
    if model.get_params()[key] is None:
        model.set_params(**{key: _multiview_data(2)[1]})
    return model


def _view_layout(model, X):
    """``(names, columns)`` the views of ``model`` select on ``X``."""
    return resolve_views(model.get_params()[_shortest_param(model, "views")], X)


def _same_model(actual, expected, *, rtol=1e-5):
    """Outputs of one estimator fitted two ways (float32-tolerant, NaN equal)."""
    scale = np.nanmax(np.abs(expected), initial=1.0)
    assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def _declares(estimator, promise):
    """Whether the estimator makes ``promise`` (see the module docstring)."""
    return bool(getattr(estimator, promise, False))


def check_multiview_transform_layout(name, estimator):
    """transform puts each view's transform_view side by side, NaN where absent."""
    X, _ = _multiview_data()
    model = _with_views(estimator).fit(X)
    names, columns = _view_layout(model, X)
    # A meta-estimator need not expose n_components_ and n_views_ itself.
    k, n_views = model.transform_view(X, 0).shape[1], len(names)
    assert list(model.view_names_) == names, name
    assert getattr(model, "n_components_", k) == k, name
    assert getattr(model, "n_views_", n_views) == n_views, name
    X_missing = X.copy()
    X_missing[:7, columns[1]] = np.nan  # rows 0-6 lack view 1
    X_missing[5:9, columns[2]] = np.nan  # rows 5-8 lack view 2
    scores = model.transform(X_missing)
    assert scores.shape == (X.shape[0], n_views * k), name
    out_names = model.get_feature_names_out()
    assert out_names.shape == (n_views * k,), name
    # fit_transform is fit, then transform (rows lacking views in both).
    on_missing = clone(model).fit(X_missing).transform(X_missing)
    _same_model(clone(model).fit_transform(X_missing), on_missing)
    for view, view_name in enumerate(names):
        block = scores[:, view * k : (view + 1) * k]
        by_index = model.transform_view(X_missing, view)
        by_name = model.transform_view(X_missing, view_name)
        np.testing.assert_array_equal(by_index, by_name)
        _same_model(block, by_index)
        # Block k's columns are named after view k: "<view>__...".
        block_names = out_names[view * k : (view + 1) * k]
        assert all(str(n).startswith(f"{view_name}__") for n in block_names), name
        lacking = np.isnan(X_missing[:, columns[view]]).all(axis=1)
        assert np.isnan(block[lacking]).all(), (name, view_name)
        assert np.isfinite(block[~lacking]).all(), (name, view_name)
    # A row lacking every view is all NaN, not an error.
    no_view = X_missing.copy()
    no_view[3] = np.nan
    assert np.isnan(model.transform(no_view)[3]).all(), name
    _same_model(np.delete(model.transform(no_view), 3, 0), np.delete(scores, 3, 0))
    # A row's block is a function of that row's view alone.
    changed = X_missing.copy()
    changed[20:30, columns[1]] = X[30:40, columns[1]][::-1]
    changed[10:15, columns[2]] = np.nan
    _same_model(model.transform_view(changed, 0), model.transform_view(X_missing, 0))
    only_view0 = np.full_like(X, np.nan)
    only_view0[:, columns[0]] = X[:, columns[0]]
    _same_model(model.transform_view(only_view0, 0), model.transform_view(X, 0))
    # No axis collapses: the scores span as many dimensions as the view allows
    # (a non-linear encoder may span more).
    rank = np.linalg.matrix_rank(model.transform_view(X, 0))
    assert rank >= min(k, columns[0].size), name


def _pairwise_mrr(model, X, sample_weight=None):
    """The mean over view pairs of the two-way MRR, from transform_view."""
    n_views = len(model.view_names_)
    blocks = [model.transform_view(X, view) for view in range(n_views)]
    values = []
    for a, b in itertools.combinations(range(n_views), 2):
        rows = ~np.isnan(blocks[a]).any(axis=1) & ~np.isnan(blocks[b]).any(axis=1)
        weights = None if sample_weight is None else sample_weight[rows]
        if rows.sum() < 2 or (weights is not None and not weights.any()):
            continue
        values.append(
            mean_reciprocal_rank(
                blocks[a][rows],
                blocks[b][rows],
                direction="both",
                sample_weight=weights,
            )
        )
    return float(np.mean(values))


def check_multiview_score_is_mean_pairwise_mrr(name, estimator):
    """score is the mean over view pairs of the two-way MRR of partners."""
    X, _ = _multiview_data(missing_rate=0.2, seed=1)
    model = _with_views(estimator).fit(X)
    weights = np.random.default_rng(2).uniform(0.0, 2.0, size=X.shape[0])
    for sample_weight in (None, weights):
        expected = _pairwise_mrr(model, X, sample_weight)
        assert_allclose(model.score(X, sample_weight=sample_weight), expected)
    assert 0.0 < _pairwise_mrr(model, X) <= 1.0, name


def check_multiview_retrieve_matches_transform_view(name, estimator):
    """retrieve is a brute-force cosine top-k over the transform_view embeddings."""
    X, _ = _multiview_data()
    model = _with_views(estimator).fit(X)
    names, columns = _view_layout(model, X)
    only_view0 = np.full((6, X.shape[1]), np.nan)  # only the query view is read
    only_view0[:, columns[0]] = X[:6, columns[0]]
    gallery = X[10:]
    for queries, query_view, gallery_view in (
        (only_view0, 0, names[2]),
        (X[:6], names[1], 0),
    ):
        scores, indices = model.retrieve(
            queries,
            gallery,
            query_view=query_view,
            gallery_view=gallery_view,
            n_neighbors=4,
        )
        q = model.transform_view(queries, query_view)
        g = model.transform_view(gallery, gallery_view)
        cosine = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (
            g / np.linalg.norm(g, axis=1, keepdims=True)
        ).T
        order = np.argsort(-cosine, axis=1, kind="stable")[:, :4]
        best = np.take_along_axis(cosine, order, axis=1)
        assert scores.shape == indices.shape == (6, 4), name
        assert_allclose(scores, best, **_SIMILARITY_TOLERANCE)
        assert_allclose(
            np.take_along_axis(cosine, indices, axis=1), scores, **_SIMILARITY_TOLERANCE
        )
        # Indices must agree wherever the brute-force order is not a near tie.
        sorted_all = -np.sort(-cosine, axis=1)[:, :5]
        gaps = np.minimum(
            np.abs(np.diff(sorted_all, axis=1))[:, :4],
            np.abs(np.diff(sorted_all, axis=1, prepend=np.inf))[:, :4],
        )
        clear = gaps > 1e-6
        np.testing.assert_array_equal(indices[clear], order[clear])
    lacking = X[10:].copy()
    lacking[3, columns[2]] = np.nan
    _raises(
        ValueError,
        "lacks view",
        model.retrieve,
        X[:3],
        lacking,
        query_view=0,
        gallery_view=2,
    )


def check_multiview_bad_input(name, estimator):
    """Bad K-view input fails with a named error and leaves the model as it was."""
    X, _ = _multiview_data()
    unfitted = _with_views(estimator)
    names, columns = _view_layout(unfitted, X)
    partly = X.copy()
    partly[4, columns[1][0]] = np.nan  # one column of view 1 NaN, the rest not
    failed = clone(unfitted)
    _raises(ValueError, repr(names[1]), failed.fit, partly)
    infinite = X.copy()
    infinite[3, columns[2][0]] = np.inf
    _raises(ValueError, "infinity", failed.fit, infinite)
    _raises(NotFittedError, "not fitted", failed.transform, X)  # still unfitted

    model = clone(unfitted).fit(X)
    before = model.transform(X)
    _raises(ValueError, repr(names[1]), model.transform, partly)
    _raises(ValueError, f"{X.shape[1] - 1} features", model.transform, X[:, :-1])
    _raises(ValueError, "infinity", model.transform, infinite)
    if hasattr(model, "transform_view"):
        _raises(ValueError, "'no such view'", model.transform_view, X, "no such view")
    if hasattr(model, "retrieve"):
        for views in (("no such view", names[0]), (names[0], "no such view")):
            _raises(
                ValueError,
                "'no such view'",
                model.retrieve,
                X[:2],
                X,
                query_view=views[0],
                gallery_view=views[1],
            )
    # Failed fits and partial_fits leave the fitted model exactly as it was.
    _raises(ValueError, repr(names[1]), model.fit, partly)
    _raises(ValueError, "infinity", model.fit, infinite)
    if hasattr(model, "partial_fit"):
        _raises(ValueError, "features", model.partial_fit, X[:, :-1])
    np.testing.assert_array_equal(model.transform(X), before)
    if hasattr(model, "partial_fit"):
        # A failed chunk leaves no trace in what later chunks build on.
        streamed = clone(unfitted).partial_fit(X[:40])
        _raises(ValueError, repr(names[1]), streamed.partial_fit, partly[:50])
        _raises(ValueError, "infinity", streamed.partial_fit, infinite[:50])
        streamed.partial_fit(X[40:])
        reference = clone(unfitted).partial_fit(X[:40]).partial_fit(X[40:])
        _same_model(streamed.transform(X), reference.transform(X))


def check_multiview_views_by_name_and_pandas_output(name, estimator):
    """Views by column name on a DataFrame equal views by position on the array."""
    try:
        import pandas as pd
    except ImportError:  # set_output needs pandas; the test extra installs it
        return

    X, _ = _multiview_data(missing_rate=0.2)
    positional = _with_views(estimator)
    names, columns = _view_layout(positional, X)
    frame = pd.DataFrame(
        X,
        columns=[f"feature_{j}" for j in range(X.shape[1])],
        index=np.arange(1000, 1000 + 3 * X.shape[0], 3),
    )
    by_name = {
        view: [frame.columns[j] for j in cols]
        for view, cols in zip(names, columns, strict=True)
    }
    named = clone(positional).set_params(
        **{_shortest_param(positional, "views"): by_name}
    )
    named.set_output(transform="pandas").fit(frame)
    expected = positional.fit(X).transform(X)
    output = named.transform(frame)
    assert isinstance(output, pd.DataFrame), name
    assert list(output.columns) == list(named.get_feature_names_out()), name
    assert output.index.equals(frame.index), name
    _same_model(output.to_numpy(), expected)
    assert list(named.feature_names_in_) == list(frame.columns), name
    # The other methods read a DataFrame as transform does.
    if hasattr(named, "transform_view"):
        _same_model(
            named.transform_view(frame, names[1]), positional.transform_view(X, 1)
        )
    if hasattr(named, "score"):
        assert_allclose(named.score(frame), positional.score(X), rtol=1e-5)
    if hasattr(named, "retrieve"):
        queries = np.flatnonzero(~np.isnan(X[:, columns[2]]).any(axis=1))[:4]
        gallery = np.flatnonzero(~np.isnan(X[:, columns[0]]).any(axis=1))
        found = named.retrieve(
            frame.iloc[queries],
            frame.iloc[gallery],
            query_view=names[2],
            gallery_view=names[0],
        )
        expected_found = positional.retrieve(
            X[queries], X[gallery], query_view=2, gallery_view=0
        )
        assert_allclose(found[0], expected_found[0], **_SIMILARITY_TOLERANCE)
    # As scikit-learn: columns in another order than at fit are refused.
    reordered = frame[frame.columns[::-1]]
    _raises(ValueError, "feature names", named.transform, reordered)


def check_multiview_sample_weight(name, estimator):
    """sample_weight is routed to fit; integer weights repeat rows when declared.

    The repetition half runs for estimators whose class sets
    ``_weights_are_repetitions = True`` (see the module docstring).
    """
    X, _ = _multiview_data(missing_rate=0.2, seed=3)
    unfitted = _with_views(estimator)
    weights = np.random.default_rng(1).uniform(0.1, 3.0, size=X.shape[0])
    cv = KFold(n_splits=3)
    scoring = None
    if not hasattr(unfitted, "score"):
        # Any scorer will do: the point is the weights that reach fit.
        def scoring(model, X_test, y=None):
            return float(np.mean(np.isfinite(model.transform(X_test))))

    with config_context(enable_metadata_routing=True):
        routed = clone(unfitted).set_fit_request(sample_weight=True)
        if hasattr(routed, "score"):
            routed.set_score_request(sample_weight=True)
        results = cross_validate(
            routed,
            X,
            cv=cv,
            scoring=scoring,
            params={"sample_weight": weights},
            return_estimator=True,
        )
    folds = zip(results["estimator"], results["test_score"], cv.split(X), strict=True)
    for model, test_score, (train, test) in folds:
        direct = clone(unfitted).fit(X[train], sample_weight=weights[train])
        unweighted = clone(unfitted).fit(X[train])
        _same_model(model.transform(X), direct.transform(X))
        if scoring is None:  # the weights reach score too
            assert_allclose(
                test_score, direct.score(X[test], sample_weight=weights[test])
            )
        assert not np.allclose(
            model.transform(X), unweighted.transform(X), equal_nan=True
        ), f"{name}: the routed weights changed nothing"
    if not _declares(estimator, "_weights_are_repetitions"):
        return
    # Zero drops a row; every view and pair keeps dozens of rows.
    counts = np.random.default_rng(4).integers(0, 4, size=X.shape[0])
    weighted = clone(unfitted).fit(X, sample_weight=counts.astype(float))
    repeated = clone(unfitted).fit(np.repeat(X, counts, axis=0))
    _same_model(weighted.transform(X), repeated.transform(X), rtol=1e-7)


def check_multiview_persistence_and_clone(name, estimator):
    """joblib round trips and clones keep the parameters; the model survives."""
    X, _ = _multiview_data(missing_rate=0.2)
    unfitted = _with_views(estimator)
    model = clone(unfitted).fit(X)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).transform(X), model.transform(X))
    for original in (unfitted, model):
        twin = clone(original)
        assert repr(twin.get_params()) == repr(original.get_params()), name
        _raises(NotFittedError, "not fitted", twin.transform, X)
    refitted = clone(model).fit(X)
    _same_model(refitted.transform(X), model.transform(X))


def check_multiview_pipeline_grid_search(name, estimator):
    """Pipeline + GridSearchCV over n_components with the estimator's own score."""
    X, _ = _multiview_data(missing_rate=0.1, seed=5)
    # StandardScaler ignores NaN when fitting and keeps it: absent views stay so.
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("model", _with_views(estimator))]
    )
    key = "model__" + _shortest_param(pipeline.named_steps["model"], "n_components")
    cv = KFold(n_splits=3)
    with warnings.catch_warnings():
        # Small folds can leave iterative solvers short of convergence.
        warnings.simplefilter("ignore", category=UserWarning)
        search = GridSearchCV(pipeline, {key: [1, 2]}, cv=cv).fit(X)
        # The candidates are scored by the pipeline's score: fit, then score
        # each fold.
        by_hand = [
            clone(pipeline).set_params(**{key: 1}).fit(X[train]).score(X[test])
            for train, test in cv.split(X)
        ]
    assert_allclose(search.cv_results_["mean_test_score"][0], np.mean(by_hand))
    best = search.best_params_[key]
    assert search.best_estimator_.get_params()[key] == best, name
    refit = clone(pipeline).set_params(**{key: best}).fit(X)
    _same_model(search.transform(X), refit.transform(X))
    assert_allclose(search.score(X), refit.score(X), rtol=1e-5)


def check_multiview_partial_fit(name, estimator):
    """partial_fit on two chunks equals fit, for estimators that declare it.

    The equality is asserted for estimators whose class sets
    ``_partial_fit_equals_fit = True``; for the others, two ``partial_fit``
    calls must give a fitted estimator of ``fit``'s output shape.
    """
    X, _ = _multiview_data(missing_rate=0.2, seed=6)
    unfitted = _with_views(estimator)
    streamed = clone(unfitted).partial_fit(X[:50]).partial_fit(X[50:])
    fitted = clone(unfitted).fit(X)
    assert streamed.transform(X).shape == fitted.transform(X).shape, name
    if _declares(estimator, "_partial_fit_equals_fit"):
        _same_model(streamed.transform(X), fitted.transform(X), rtol=1e-7)
    else:
        np.testing.assert_array_equal(
            np.isnan(streamed.transform(X)), np.isnan(fitted.transform(X))
        )


_MULTIVIEW_CHECKS = (
    check_multiview_transform_layout,
    check_multiview_score_is_mean_pairwise_mrr,
    check_multiview_retrieve_matches_transform_view,
    check_multiview_bad_input,
    check_multiview_views_by_name_and_pandas_output,
    check_multiview_sample_weight,
    check_multiview_persistence_and_clone,
    check_multiview_pipeline_grid_search,
    check_multiview_partial_fit,
)

# What a check needs beyond fit and transform: methods (an imputer of whole
# views, MultiViewSharedLatentRegression, has no shared space to score or
# search), and parameters (a search tunes n_components from its own grid).
_MULTIVIEW_NEEDS = {
    check_multiview_transform_layout: ("transform_view",),
    check_multiview_score_is_mean_pairwise_mrr: ("transform_view", "score"),
    check_multiview_retrieve_matches_transform_view: ("transform_view", "retrieve"),
    check_multiview_pipeline_grid_search: ("score", "n_components parameter"),
    check_multiview_partial_fit: ("partial_fit",),
}


def _applies(check, estimator):
    for need in _MULTIVIEW_NEEDS.get(check, ()):
        if need.endswith(" parameter"):
            if _shortest_param(estimator, need.split()[0]) is None:
                return False
        elif not hasattr(estimator, need):
            return False
    return True


def all_multiview_checks(estimator=None):
    """Return the K-view contract checks, each a callable ``check(name, estimator)``.

    Parameters
    ----------
    estimator : estimator instance, default=None
        When given, only the checks that apply to it: those whose methods
        beyond ``fit`` and ``transform`` (``transform_view``, ``score``,
        ``retrieve``, ``partial_fit``) it has, and, for the ``GridSearchCV``
        check, an ``n_components`` parameter (nested ones count). An imputer
        of whole views such as
        :class:`~skcrossmodal.MultiViewSharedLatentRegression` has no shared
        space to score or search, so the checks of that API do not apply to
        it.

    Returns
    -------
    checks : tuple of callable

    Examples
    --------
    >>> from skcrossmodal import MultiViewCCA, MultiViewSharedLatentRegression
    >>> from skcrossmodal.estimator_checks import all_multiview_checks
    >>> len(all_multiview_checks()), len(all_multiview_checks(MultiViewCCA()))
    (9, 9)
    >>> [check.__name__ for check in all_multiview_checks(
    ...     MultiViewSharedLatentRegression())][:2]
    ['check_multiview_bad_input', 'check_multiview_views_by_name_and_pandas_output']
    """
    if estimator is None:
        return _MULTIVIEW_CHECKS
    return tuple(check for check in _MULTIVIEW_CHECKS if _applies(check, estimator))


def check_multiview_estimator(estimator):
    """Run every K-view contract check that applies to an (unfitted) estimator.

    The checks draw three views of a shared latent (5, 4 and 3 columns, in
    that order) and put them in one ``X``. An estimator whose ``views`` (or,
    in a meta-estimator, the shortest nested ``...__views``) is ``None``
    gets the checks' views, named ``"view0"``, ``"view1"``, ``"view2"``; an
    estimator with views of its own must select those columns. An
    estimator with randomness must have a fixed ``random_state``: some
    checks compare it with itself, fitted twice.

    Parameters
    ----------
    estimator : estimator instance
        A K-view estimator of one ``X`` with a ``views`` parameter; it is
        cloned before each check. Which checks apply is decided by
        :func:`all_multiview_checks`.

    Raises
    ------
    AssertionError
        When a check fails, naming the check and the problem.

    Examples
    --------
    >>> from skcrossmodal import MultiViewCCA
    >>> from skcrossmodal.estimator_checks import check_multiview_estimator
    >>> views = {"image": slice(0, 5), "audio": slice(5, 9), "text": slice(9, 12)}
    >>> check_multiview_estimator(MultiViewCCA(views=views, n_components=2))
    """
    name = type(estimator).__name__
    for check in all_multiview_checks(estimator):
        check(name, estimator)
