"""Cross-validation of the K-view estimators from per-fold block statistics.

The two-view searches of :mod:`.search`, for K views in one ``X``: one pass
computes the pairwise-complete statistics of every test fold
(:func:`~skcrossmodal._multiview.moments.chunk_moments`, one origin per view
for all folds); a fold's training statistics are the total minus the fold's,
block by block (:func:`remove_views_sample`, the inverse of the merge); every
candidate is solved from them and scored on the held-out rows with the
scorer ``GridSearchCV`` would call. No candidate is refitted from the rows.
"""

import numbers
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils.validation import check_is_fitted, validate_data

from .._compat import (
    IntegerInterval,
    _check_sample_weight,
    _safe_indexing,
    scorer_accepts_sample_weight,
    validate_estimator_parameters,
)
from .._linear.dask_arrays import holds_dask_array
from .._multiview.cca import GeneralizedCCA, MultiViewCCA
from .._multiview.moments import MultiViewMoments, chunk_moments, extend_shifts
from .._multiview.views import resolve_views, view_presence
from .._utils.failure_safe import FailureSafeMixin
from ..base import atomic_fit
from .search import (
    CANDIDATE_ERRORS,
    check_split,
    component_grid,
    is_partition,
    rank_scores,
    remove_sample,
)

_FLOAT_DTYPES = (np.float64, np.float32)


def remove_views_sample(total, part):
    """Statistics of ``total``'s rows without ``part``'s, view by view and pair by pair.

    Each block is downdated with :func:`~.search.remove_sample`; a block
    that ``part`` holds all the rows of is dropped (its rows left: none), one
    that ``part`` does not touch is kept as it is. Both must share their
    origins (``shifts``).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._multiview.moments import chunk_moments
    >>> from skcrossmodal._model_selection.multiview_search import (
    ...     remove_views_sample)
    >>> X = np.random.default_rng(0).normal(size=(10, 3))
    >>> X[:2, 2] = np.nan
    >>> columns, shifts = [np.arange(2), np.arange(2, 3)], [X[0, :2], X[2, 2:]]
    >>> def stats(rows):
    ...     return chunk_moments(X[rows], ~np.isnan(X[rows][:, [0, 2]]), columns,
    ...                          None, shifts)
    >>> rest = remove_views_sample(stats(np.arange(10)), stats(np.arange(4)))
    >>> bool(np.allclose(rest.pairs[0, 1].cross_xy,
    ...                  stats(np.arange(4, 10)).pairs[0, 1].cross_xy))
    True
    """
    counts = total.counts - part.counts

    def downdated(whole, piece, rows_left):
        if piece is None:
            return whole
        if rows_left <= 0:
            return None
        return remove_sample(whole, piece)

    views = [
        downdated(whole, piece, counts[k, k])
        for k, (whole, piece) in enumerate(zip(total.views, part.views, strict=True))
    ]
    pairs = {}
    for key, whole in total.pairs.items():
        rest = downdated(whole, part.pairs.get(key), counts[key])
        if rest is not None:
            pairs[key] = rest
    patterns = None
    if total.patterns is not None:
        patterns = {}
        for key, (whole, n_rows) in total.patterns.items():
            piece, n_piece = part.patterns.get(key, (None, 0))
            rest = downdated(whole, piece, n_rows - n_piece)
            if rest is not None:
                patterns[key] = (rest, n_rows - n_piece)
    return MultiViewMoments(
        shifts=total.shifts, views=views, pairs=pairs, counts=counts, patterns=patterns
    )


class _MultiViewSearchCV(FailureSafeMixin, TransformerMixin, BaseEstimator):
    """Grid search over a K-view estimator, solved from per-fold statistics.

    Subclasses set ``_estimator_class`` and document themselves.
    """

    _estimator_class = None

    _parameter_constraints: dict = {
        "views": [list, tuple, dict, None],
        "param_grid": [dict, list, None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "error_score": [numbers.Real],
        "n_jobs": [None, IntegerInterval(1, None, closed="left")],
    }

    def __init__(
        self,
        views=None,
        *,
        param_grid=None,
        cv=5,
        scoring=None,
        error_score=np.nan,
        n_jobs=None,
    ):
        self.views = views
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.error_score = error_score
        self.n_jobs = n_jobs

    @atomic_fit(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None, groups=None):
        """Cross-validate every candidate from per-fold statistics, then refit.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views side by side, as for the estimator searched (a row
            whose columns of a view are all NaN lacks that view).
        y : None
            Ignored; present for API consistency (and passed to ``cv.split``,
            as ``GridSearchCV`` does).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, used in every fold's statistics
            and, when the scorer takes ``sample_weight``, in the held-out
            scores, as ``GridSearchCV`` does.
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter such as
            :class:`~sklearn.model_selection.GroupKFold`.

        Returns
        -------
        self : object
            The fitted search; ``transform``, ``transform_view``, ``score``
            and ``retrieve`` use the best candidate refitted on all rows.
        """
        if holds_dask_array(X, sample_weight):
            raise TypeError(
                f"{type(self).__name__}.fit needs the rows in memory to score the "
                "held-out folds. Fit the estimator itself on the dask array, or "
                "search on a sample that fits in memory."
            )
        raw = X
        X = validate_data(
            self,
            X,
            dtype=_FLOAT_DTYPES,
            ensure_all_finite="allow-nan",
            ensure_min_samples=2,
        )
        is_frame = hasattr(raw, "columns") and hasattr(raw, "iloc")
        names, columns = resolve_views(self.views, raw if is_frame else X)
        present = view_presence(X, columns, names)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        candidates, estimators = self._candidates([cols.size for cols in columns])
        n_samples = X.shape[0]
        tests = [
            check_split(train, test, n_samples, k)
            for k, (train, test) in enumerate(check_cv(self.cv).split(X, y, groups))
        ]
        shifts = extend_shifts([None] * len(columns), X, present, columns)
        keep_patterns = estimators[0]._keep_patterns

        def statistics(rows):
            return chunk_moments(
                X[rows],
                present[rows],
                columns,
                None if sample_weight is None else sample_weight[rows],
                shifts,
                n_jobs=self.n_jobs,
                keep_patterns=keep_patterns,
            )

        fold_moments = [statistics(test) for test in tests]
        if is_partition(tests, n_samples):
            total = fold_moments[0]
            for part in fold_moments[1:]:
                total = total.merge(part)
        else:  # overlapping test folds (repeated splits): one more pass
            total = statistics(np.arange(n_samples))
        feature_names = getattr(self, "feature_names_in_", None)
        layout = (names, columns)

        def solved(estimator, moments, n_rows):
            return clone(estimator)._fit_from_moments(
                moments, *layout, n_rows, X.shape[1], feature_names
            )

        scorer = check_scoring(estimators[0], scoring=self.scoring)
        # GridSearchCV passes the weights on to a scorer that takes them.
        weigh_scores = sample_weight is not None and scorer_accepts_sample_weight(
            scorer
        )
        scores = np.full((len(candidates), len(tests)), np.nan)
        errors = []
        start = time.perf_counter()
        for k, test in enumerate(tests):
            train = remove_views_sample(total, fold_moments[k])
            # The rows as GridSearchCV would pass them (a DataFrame stays one).
            held_out = _safe_indexing(raw, test) if is_frame else X[test]
            for index, estimator in enumerate(estimators):
                try:
                    fitted = solved(estimator, train, n_samples - len(test))
                    scores[index, k] = (
                        scorer(
                            fitted, held_out, None, sample_weight=sample_weight[test]
                        )
                        if weigh_scores
                        else scorer(fitted, held_out, None)
                    )
                except CANDIDATE_ERRORS as error:
                    scores[index, k] = self.error_score
                    errors.append(f"{candidates[index]} on split {k}: {error}")
        search_time = time.perf_counter() - start
        if np.isnan(scores).all():
            raise ValueError(
                f"No candidate of param_grid could be fitted and scored on any of "
                f"the {len(tests)} folds; the first error was: "
                f"{errors[0] if errors else 'a NaN score'}. Check the grid against "
                "the data (n_components at most the narrowest view's width; every "
                "view and pair of views in two training rows of every split)."
            )
        if errors:
            warnings.warn(
                f"{len(errors)} of {scores.size} candidate fits failed and scored "
                f"error_score={self.error_score}; the first: {errors[0]}",
                FitFailedWarning,
                stacklevel=3,
            )
        means = scores.mean(axis=1)
        ranks = rank_scores(means)
        best_index = int(ranks.argmin())
        best = solved(estimators[best_index], total, n_samples)

        self.cv_results_ = _results(candidates, scores, means, ranks)
        self.best_index_ = best_index
        self.best_params_ = candidates[best_index]
        self.best_score_ = float(means[best_index])
        self.best_estimator_ = best
        self.n_splits_ = len(tests)
        self.search_time_ = search_time
        self.n_components_ = best.n_components_
        self.n_views_ = best.n_views_
        self.view_names_ = best.view_names_
        self.view_columns_ = best.view_columns_
        self.n_samples_seen_ = n_samples
        return self

    def _candidates(self, widths):
        base = self._estimator_class(views=self.views, n_jobs=self.n_jobs)
        grid = self.param_grid
        if grid is None:
            grid = {"n_components": component_grid(min(widths))}
        candidates = list(ParameterGrid(grid))
        if not candidates:
            raise ValueError("param_grid holds no candidate; give at least one.")
        valid = set(base.get_params()) - {"views"}
        for params in candidates:
            for key in params:
                if key not in valid:
                    raise ValueError(
                        f"param_grid has parameter {key!r}, which cannot be searched "
                        f"here; the parameters of {type(base).__name__} that can: "
                        f"{sorted(valid)} (views are the search's own parameter: "
                        "the statistics depend on them)."
                    )
        estimators = [clone(base).set_params(**p) for p in candidates]
        # The candidates are solved from statistics, never through their own
        # fit, so nothing else would check their parameters.
        for params, estimator in zip(candidates, estimators, strict=True):
            validate_estimator_parameters(
                estimator, context=f"param_grid candidate {params}"
            )
        return candidates, estimators

    # ------------------------------------------------ the best estimator ---
    def __sklearn_is_fitted__(self):
        return hasattr(self, "best_estimator_")

    def transform(self, X):
        """The best estimator's ``transform`` (each view's scores side by side).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_views_ * n_components_)
        """
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    def transform_view(self, X, view):
        """The best estimator's ``transform_view`` (one view's scores).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All columns, as at fit; only those of ``view`` are read.
        view : str or int
            The view's name or index.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_components_)
        """
        check_is_fitted(self)
        return self.best_estimator_.transform_view(X, view)

    def score(self, X, y=None, sample_weight=None):
        """The best estimator's ``score``: mean over view pairs of the two-way MRR.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        return self.best_estimator_.score(X, sample_weight=sample_weight)

    def retrieve(self, queries, gallery, **kwargs):
        """The best estimator's ``retrieve`` (any query view, any gallery view).

        Parameters
        ----------
        queries, gallery : array-like or DataFrame
            Rows laid out as at fit.
        **kwargs : dict
            ``query_view``, ``gallery_view``, ``n_neighbors``, ``similarity``
            and ``csls_k``, as for :meth:`MultiViewCCA.retrieve`.

        Returns
        -------
        similarities, indices : ndarray of shape (n_queries, n_neighbors)
        """
        check_is_fitted(self)
        return self.best_estimator_.retrieve(queries, gallery, **kwargs)

    def get_feature_names_out(self, input_features=None):
        """The best estimator's output names.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the names seen at fit.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return self.best_estimator_.get_feature_names_out(input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _results(candidates, scores, means, ranks):
    """``cv_results_`` in ``GridSearchCV``'s layout (scores only: no fit times)."""
    results = {"params": candidates}
    for name in sorted({key for params in candidates for key in params}):
        column = np.ma.MaskedArray(np.empty(len(candidates), dtype=object), mask=True)
        for index, params in enumerate(candidates):
            if name in params:
                column[index] = params[name]
        results[f"param_{name}"] = column
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    results["mean_test_score"] = means
    results["std_test_score"] = scores.std(axis=1)
    results["rank_test_score"] = ranks
    return results


_PARAMETERS = """
    Parameters
    ----------
    views : dict, list or None, default=None
        The column selections of each view, as for :class:`{estimator}`
        (the same for every candidate: the statistics depend on them).
    param_grid : dict or list of dict, default=None
        Candidates, as for :class:`~sklearn.model_selection.GridSearchCV`:
        parameters of :class:`{estimator}` other than ``views`` (typically
        ``n_components`` and ``reg``) mapped to lists of values. ``None``
        tries about eight ``n_components`` from 1 to the narrowest view's
        width, spread geometrically.
    cv : int, cross-validation generator or iterable, default=5
        Splits as for ``GridSearchCV``; each split must train on exactly the
        rows outside its test fold (K-fold, group or stratified K-fold,
        repeated K-fold), since its training statistics are the total minus
        the test fold's.
    scoring : str, callable or None, default=None
        ``None`` scores held-out rows with the estimator's ``score`` (the
        mean over pairs of views of the two-way mean reciprocal rank); any
        scikit-learn scorer name or callable ``scorer(estimator, X, y)`` is
        called on each candidate as ``GridSearchCV`` calls it (``y=None``).
    error_score : float, default=np.nan
        Score of a candidate that cannot be solved on a fold (a view or a
        pair of views in fewer than two training rows, a singular
        covariance); it ranks last when NaN. The fit raises if no candidate
        can be solved on any fold.
    n_jobs : int, default=None
        Threads that compute the statistics.

    Attributes
    ----------
    cv_results_ : dict of ndarray
        As ``GridSearchCV``'s: ``params``, ``param_<name>`` (masked arrays),
        ``split<k>_test_score``, ``mean_test_score``, ``std_test_score`` and
        ``rank_test_score``.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    best_params_ : dict
        Its parameters.
    best_score_ : float
        Its mean held-out score.
    best_estimator_ : {estimator}
        The best candidate solved from the statistics of all rows (equal to
        fitting it on all rows: the refit).
    n_components_ : int
        Dimension of the best candidate's shared space.
    n_views_ : int
        Number of views.
    view_names_ : list of str
        Name of each view.
    view_columns_ : list of ndarray of int
        Columns of ``X`` of each view.
    n_splits_ : int
        Number of cross-validation splits.
    search_time_ : float
        Seconds spent solving and scoring the candidates.
    n_samples_seen_ : int
        Number of rows.
    n_features_in_ : int
        Number of columns of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's columns, when X had string column names.

    Notes
    -----
    ``fit`` makes one pass over the rows to compute the pairwise-complete
    block statistics of every test fold (merged, they are the total's); a
    fold's training statistics are the total minus the fold's, block by
    block, exactly (the inverse of the merge of Chan, Golub & LeVeque; a
    view or pair of views the fold holds every row of is left with none,
    and the candidates of that split score ``error_score``). Every
    candidate is then solved from statistics, ``O(d^3)`` whatever the number
    of rows, and scored on the held-out rows; the best is solved once more
    from the total. The folds, scores and choice equal those of
    ``GridSearchCV({estimator}(views), param_grid, cv=cv, scoring=scoring)``
    to rounding. Scoring the held-out rows (ranking every pair of views'
    partners) is the bulk of the time with large folds. Missing views are
    handled as by the estimator (pairwise-complete moments, see
    :ref:`multiview`). The rows must be in memory (a dask array is
    refused: the held-out rows are scored).
"""


class MultiViewCCACV(_MultiViewSearchCV):
    __doc__ = (
        """Cross-validated :class:`MultiViewCCA`, solved from fold statistics.

    A grid of candidates (``n_components``, ``reg``) is cross-validated from
    one pass of per-fold block statistics instead of a refit from the rows
    per candidate and fold, as :class:`CrossModalEmbeddingCV` does for two
    views.
"""
        + _PARAMETERS.format(estimator="MultiViewCCA")
        + """
    See Also
    --------
    MultiViewCCA : The estimator searched.
    GeneralizedCCACV : The same search for :class:`GeneralizedCCA`.
    sklearn.model_selection.GridSearchCV : The general search it agrees with.

    Examples
    --------
    >>> from skcrossmodal import MultiViewCCACV
    >>> from skcrossmodal.datasets import make_multiview
    >>> X, views, _ = make_multiview(300, n_views=3, n_latent=2,
    ...                              missing_rate=0.1, random_state=0)
    >>> search = MultiViewCCACV(
    ...     views, param_grid={"n_components": [1, 2, 4], "reg": [0.0, "auto"]},
    ...     cv=3,
    ... ).fit(X)
    >>> search.cv_results_["mean_test_score"].shape
    (6,)
    >>> search.transform(X).shape == (300, 3 * search.n_components_)
    True
"""
    )

    _estimator_class = MultiViewCCA


class GeneralizedCCACV(_MultiViewSearchCV):
    __doc__ = (
        """Cross-validated :class:`GeneralizedCCA`, solved from fold statistics.

    A grid of candidates (``n_components``, ``reg``) is cross-validated from
    one pass of per-fold block statistics instead of a refit from the rows
    per candidate and fold.
"""
        + _PARAMETERS.format(estimator="GeneralizedCCA")
        + """
    See Also
    --------
    GeneralizedCCA : The estimator searched.
    MultiViewCCACV : The same search for :class:`MultiViewCCA`.

    Examples
    --------
    >>> from skcrossmodal import GeneralizedCCACV
    >>> from skcrossmodal.datasets import make_multiview
    >>> X, views, _ = make_multiview(300, n_views=3, random_state=0)
    >>> search = GeneralizedCCACV(views, param_grid={"reg": [0.0, 0.3]}, cv=3)
    >>> sorted(search.fit(X).best_params_)
    ['reg']
"""
    )

    _estimator_class = GeneralizedCCA
