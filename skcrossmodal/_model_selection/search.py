"""Cross-validation of the linear estimators from sufficient statistics.

The linear estimators need only weighted means and co-moments, so a grid
search need not refit from the rows for every candidate and fold (the idea of
:class:`~sklearn.linear_model.RidgeCV`). One pass computes each test fold's
statistics; a fold's training statistics are the total minus the fold's (the
inverse of Chan et al.'s merge); every candidate is solved from them and scored
on the held-out rows. Only the scoring looks at the rows again.
"""

import functools
import numbers
import time
import warnings

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .._compat import _fit_context, _safe_indexing, validate_estimator_parameters
from .._linear.dask_arrays import holds_dask_array
from .._linear.embedding import CrossModalEmbedding
from .._linear.shared_latent import SharedLatentRegression
from .._linear.sufficient_statistics import fit_from_statistics, second_order_of
from .._numerics.moments import (
    TwoViewMoments,
    shifted_two_view_moments,
    view_exponents,
)
from .._numerics.ranks import paired_partner_ranks
from ..base import (
    CrossModalEstimator,
    embed_validated,
    resolve_n_components,
    restored_on_error,
)
from ..metrics import RETRIEVAL_SCORERS, make_retrieval_scorer
from ..metrics._scorer import rank_reduction, score_from_ranks, takes_labels

_ORDER_LEVELS = (None, "diag", "full")
# Failures of one candidate on one fold, scored error_score as GridSearchCV does.
CANDIDATE_ERRORS = (ValueError, np.linalg.LinAlgError, ArithmeticError)


def remove_sample(total, part):
    """Statistics of ``total``'s rows without ``part``'s: the inverse of ``merge``.

    ``merge`` adds ``w_a w_b / (w_a + w_b) * outer(delta, delta)`` to the sum of
    the co-moments; here it is taken away again, with the rest's mean obtained
    as ``mean_total + (w_part / w_rest) (mean_total - mean_part)`` so that only
    differences of nearby numbers are formed. The co-moments of the rest are a
    difference of two sums of which the rest is at least a fraction; with
    K-fold splits that fraction is ``(K - 1) / K``, so at most a factor
    ``K / (K - 1)`` of relative precision is lost.
    """
    rest_weight = total.weight_sum - part.weight_sum
    ratio = part.weight_sum / rest_weight
    mean_x = total.mean_x + ratio * (total.mean_x - part.mean_x)
    mean_y = total.mean_y + ratio * (total.mean_y - part.mean_y)
    delta_x = part.mean_x - mean_x
    delta_y = part.mean_y - mean_y
    between = rest_weight * part.weight_sum / total.weight_sum

    def second_order(total_moment, part_moment, delta):
        if total_moment is None or part_moment is None:
            return None
        if total_moment.ndim == 1:
            return total_moment - part_moment - between * delta**2
        return total_moment - part_moment - between * np.outer(delta, delta)

    return TwoViewMoments(
        weight_sum=rest_weight,
        mean_x=mean_x,
        mean_y=mean_y,
        cross_xy=total.cross_xy - part.cross_xy - between * np.outer(delta_x, delta_y),
        cross_xx=second_order(total.cross_xx, part.cross_xx, delta_x),
        cross_yy=second_order(total.cross_yy, part.cross_yy, delta_y),
    )


def held_out_r2(estimator, moments, exponents=(0, 0)):
    """``r2_score(y, estimator.predict(X))`` on rows known only by their moments.

    ``moments`` must hold the full ``cross_xx`` and the diagonal of
    ``cross_yy``, with absolute means, in the units ``exponents`` set (see
    ``view_exponents``; R^2 is free of units, so the estimator's map is
    brought to them rather than the moments to the data's). The residual of row i is
    ``(y_i - mean_y) - (x_i - mean_x) B + offset`` with
    ``offset = mean_y - y_mean_ - (mean_x - x_mean_) B``, so its weighted sum
    of squares per column is a quadratic form in the co-moments plus
    ``weight_sum * offset**2``. Columns are averaged uniformly, and a constant
    column scores 1 when predicted exactly and 0 otherwise, as
    :func:`sklearn.metrics.r2_score` does.
    """
    e_x, e_y = exponents
    coef = np.ldexp(estimator.coef_, e_x - e_y)
    x_mean, y_mean = (
        np.ldexp(estimator.x_mean_, -e_x),
        np.ldexp(estimator.y_mean_, -e_y),
    )
    offset = moments.mean_y - y_mean - (moments.mean_x - x_mean) @ coef
    cross_yy = moments.cross_yy
    if cross_yy.ndim == 2:
        cross_yy = np.diag(cross_yy)
    explained = np.einsum("ij,ij->j", coef, moments.cross_xy)
    fitted = np.einsum("ij,ij->j", coef, moments.cross_xx @ coef)
    residual = cross_yy - 2.0 * explained + fitted + moments.weight_sum * offset**2
    residual = np.maximum(residual, 0.0)  # rounding of a perfect fit
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - residual / cross_yy
    constant = cross_yy == 0.0
    r2[constant] = np.where(residual[constant] == 0.0, 1.0, 0.0)
    return float(r2.mean())


def component_grid(upper):
    """Default ``n_components`` candidates: about eight, spread geometrically."""
    grid = np.unique(np.round(np.geomspace(1, upper, num=min(upper, 8))).astype(int))
    return [int(k) for k in grid]


def _second_order_union(estimators):
    """The most within-view co-moment information any candidate needs.

    At least the full ``X^T X`` and the diagonal of ``y^T y``, which the
    statistics-based ``"r2"`` score needs on the held-out fold.
    """
    levels_x, levels_y = [2], [1]
    for estimator in estimators:
        order_x, order_y = second_order_of(estimator)
        levels_x.append(_ORDER_LEVELS.index(order_x))
        levels_y.append(_ORDER_LEVELS.index(order_y))
    return _ORDER_LEVELS[max(levels_x)], _ORDER_LEVELS[max(levels_y)]


def _absolute(moments, shifts, exponents):
    """Moments kept relative to ``shifts`` with their means made absolute."""
    return TwoViewMoments(
        weight_sum=moments.weight_sum,
        mean_x=moments.mean_x + np.ldexp(shifts[0], -exponents[0]),
        mean_y=moments.mean_y + np.ldexp(shifts[1], -exponents[1]),
        cross_xy=moments.cross_xy,
        cross_xx=moments.cross_xx,
        cross_yy=moments.cross_yy,
    )


def _row_moments(X, y, sample_weight, rows, shifts, order, exponents):
    """Moments of the pairs ``rows`` (all when None), relative to ``shifts``,
    in the units ``exponents`` set (see ``view_exponents``)."""
    if rows is not None:
        X, y = X[rows], y[rows]
        sample_weight = None if sample_weight is None else sample_weight[rows]
    return shifted_two_view_moments(
        X,
        y,
        sample_weight,
        shift_x=shifts[0],
        shift_y=shifts[1],
        second_order_x=order[0],
        second_order_y=order[1],
        exponents=exponents,
    )


def _statistics_r2(fold_moments, shifts, exponents):
    """``score(fitted, k)``: held-out R^2 on test fold k from its statistics."""

    def score(fitted, k):
        moments = _absolute(fold_moments[k], shifts, exponents)
        return held_out_r2(fitted, moments, exponents)

    return score


def rank_scores(means):
    """``rank_test_score`` as :class:`~sklearn.model_selection.GridSearchCV` ranks.

    Failed candidates (NaN) rank last; equal means share the best rank.
    """
    if np.isnan(means).all():
        return np.ones(means.shape[0], dtype=np.int32)
    filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
    return rankdata(-filled, method="min").astype(np.int32)


class _StatisticsSearchCV(CrossModalEstimator):
    """Grid search over a linear estimator, solved from per-fold statistics.

    Subclasses set ``_estimator_class`` and document themselves.
    """

    _estimator_class = None

    # The best estimator is linear: its affine map embeds row by row.
    _embeds_in_row_blocks = True

    _parameter_constraints: dict = {
        "param_grid": [dict, list, None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "error_score": [numbers.Real],
    }

    def __init__(self, param_grid=None, *, cv=5, scoring=None, error_score=np.nan):
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.error_score = error_score

    # ----------------------------------------------------------- fitting ---
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None, labels=None):
        """Cross-validate every candidate from per-fold statistics, then refit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view, paired row by row with ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the pairs, used in every fold's statistics
            (and by the ``"r2"`` score; other scorers score rows unweighted,
            as :class:`~sklearn.model_selection.GridSearchCV` does).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter such as
            :class:`~sklearn.model_selection.GroupKFold`.
        labels : array-like of shape (n_samples,), default=None
            Class of each pair, for a label-aware ``scoring``
            (``make_retrieval_scorer("precision" | "map" | "ndcg")``): each
            held-out fold is scored with its own rows' labels, so that any
            row of the query's class counts as relevant. Refused with any
            other scoring, which would ignore it.

        Returns
        -------
        self : object
            The fitted search, which predicts and transforms with the best
            candidate refitted on all rows.
        """
        if holds_dask_array(X, y, sample_weight):
            raise TypeError(
                f"{type(self).__name__}.fit needs the rows in memory to score the "
                "held-out folds. For a dask array, stream its chunks with "
                "partial_fit(X_chunk, y_chunk, folds=...) and scoring='r2', which "
                "keeps only per-fold statistics."
            )
        with restored_on_error(self):
            self._fit_rows(X, y, sample_weight, groups, labels)
        return self

    def _fit_rows(self, X, y, sample_weight, groups, labels):
        X_valid, y_valid, sample_weight = self._validate_paired_views(
            X, y, sample_weight, reset=True
        )
        labels = self._checked_labels(labels, X_valid.shape[0])
        candidates, estimators = self._candidates()
        n_samples = X_valid.shape[0]
        cv = check_cv(self.cv)
        tests = [
            check_split(train, test, n_samples, k)
            for k, (train, test) in enumerate(cv.split(X_valid, y, groups))
        ]
        order = _second_order_union(estimators)
        shifts = (X_valid[0].astype(np.float64), y_valid[0].astype(np.float64))
        exponents = view_exponents(X_valid, y_valid)
        self._statistics_exponents = exponents
        fold_moments = []
        for k, test in enumerate(tests):
            moments = _row_moments(
                X_valid, y_valid, sample_weight, test, shifts, order, exponents
            )
            if moments is None:
                raise ValueError(
                    f"Every pair of test fold {k} has zero sample_weight, so it "
                    "cannot score a candidate. Use other folds (cv) or weights."
                )
            fold_moments.append(moments)
        if is_partition(tests, n_samples):
            total = _merge_all(fold_moments)
        else:  # overlapping test folds (repeated splits): one more pass
            total = _row_moments(
                X_valid, y_valid, sample_weight, None, shifts, order, exponents
            )
        score_fold = self._fold_scorer(
            estimators, (X, y), (X_valid, y_valid), tests, fold_moments, shifts, labels
        )
        counts = [n_samples - len(test) for test in tests]
        self._search(
            candidates,
            estimators,
            fold_moments,
            counts,
            n_samples,
            total,
            shifts,
            score_fold,
        )
        self.n_samples_seen_ = n_samples

    def partial_fit(self, X, y, sample_weight=None, *, folds=None):
        """Merge one chunk into per-fold statistics, then search and refit.

        The rows are not kept, so candidates are scored from the held-out
        statistics: ``scoring="r2"`` is required. Every row needs a fold label
        that stays fixed as the data stream in (for example its user or
        recording session, or a hash of its id); the training statistics of a
        fold are those of all the other folds. The search is redone after each
        call, once two folds and two rows outside each fold have been seen.
        Chunks of a ``dask.array`` can be passed one by one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of the first view.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            The paired chunk of the second view.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the chunk's pairs.
        folds : int or array-like of shape (n_samples,)
            The fold of every row of the chunk (one integer for the whole
            chunk, or one label per row). Required.

        Returns
        -------
        self : object
            The updated search.
        """
        name = type(self).__name__
        if folds is None:
            raise ValueError(
                f"{name}.partial_fit needs the fold of each row: pass folds=<int> "
                "for the whole chunk or folds=<array of n_samples labels>. Streamed "
                "rows are not kept, so the held-out folds must be fixed as they "
                "arrive; statistics without fold assignments cannot be "
                "cross-validated."
            )
        if self.scoring != "r2":
            raise ValueError(
                f"{name}.partial_fit keeps only statistics, so it can only score "
                "candidates with the statistics-based scoring='r2' (held-out R^2 of "
                f"predict); got scoring={self.scoring!r}. Set scoring='r2', or use "
                "fit on rows in memory to score retrieval."
            )
        with restored_on_error(self):
            self._partial_fit_chunk(X, y, sample_weight, folds)
        return self

    def _partial_fit_chunk(self, X, y, sample_weight, folds):
        first_call = not hasattr(self, "_fold_statistics")
        X, y, sample_weight = self._validate_paired_views(
            X, y, sample_weight, reset=first_call, min_samples=1
        )
        labels = _fold_labels(
            folds, X.shape[0], () if first_call else self._fold_statistics
        )
        if first_call:
            # The first chunk sets the origin and the units for the stream.
            shifts = (X[0].astype(np.float64), y[0].astype(np.float64))
            self._statistics_exponents = view_exponents(X, y)
            statistics = {}
        else:
            shifts = self._fold_shifts
            statistics = dict(self._fold_statistics)
        exponents = self._statistics_exponents
        for label in np.unique(labels):
            rows = labels == label
            # Full co-moments: any later grid can be solved from them.
            moments = _row_moments(
                X, y, sample_weight, rows, shifts, ("full", "full"), exponents
            )
            if moments is None:
                continue
            key = label.item()
            count = int(rows.sum())
            if key in statistics:
                previous, previous_count = statistics[key]
                moments, count = previous.merge(moments), previous_count + count
            statistics[key] = (moments, count)
        keys = sorted(statistics)
        fold_moments = [statistics[key][0] for key in keys]
        n_samples = sum(statistics[key][1] for key in keys)
        counts = [n_samples - statistics[key][1] for key in keys]
        if len(keys) >= 2 and min(counts) >= 2:
            candidates, estimators = self._candidates()
            total = _merge_all(fold_moments)
            score_fold = self._each_candidate(
                _statistics_r2(fold_moments, shifts, exponents)
            )
            self._search(
                candidates,
                estimators,
                fold_moments,
                counts,
                n_samples,
                total,
                shifts,
                score_fold,
            )
        self._fold_statistics = statistics
        self._fold_shifts = shifts
        self.n_samples_seen_ = n_samples

    # ------------------------------------------------------------ search ---
    def _candidates(self):
        base = self._estimator_class()
        grid = self.param_grid
        if grid is None:
            upper = min(self.n_features_in_, self.n_features_y_in_)
            grid = {"n_components": component_grid(upper)}
        candidates = list(ParameterGrid(grid))
        if not candidates:
            raise ValueError("param_grid holds no candidate; give at least one.")
        valid = base.get_params()
        for params in candidates:
            for key in params:
                if key not in valid:
                    raise ValueError(
                        f"param_grid has parameter {key!r}, which "
                        f"{type(base).__name__} does not have. Valid parameters: "
                        f"{sorted(valid)}."
                    )
        estimators = [clone(base).set_params(**p) for p in candidates]
        # The candidates are solved from statistics, never through their own
        # ``fit``, so nothing else would check their parameters.
        for params, estimator in zip(candidates, estimators, strict=True):
            validate_estimator_parameters(
                estimator, context=f"param_grid candidate {params}"
            )
        return candidates, estimators

    def _checked_labels(self, labels, n_samples):
        """``labels`` as a 1-D array of n_samples, only for a label-aware scorer."""
        if labels is None:
            return None
        scorer = self.scoring
        if isinstance(scorer, str):
            scorer = RETRIEVAL_SCORERS.get(scorer)
        if not takes_labels(scorer):
            raise ValueError(
                f"labels were passed to {type(self).__name__}.fit, but "
                f"scoring={self.scoring!r} does not use them. Use a label-aware "
                'scorer, e.g. scoring=make_retrieval_scorer("precision", k=10), '
                "or leave labels out."
            )
        labels = column_or_1d(labels)
        check_consistent_length(np.empty(n_samples), labels)
        return labels

    def _fold_scorer(
        self, estimators, rows, valid_rows, tests, fold_moments, shifts, labels=None
    ):
        """``score_fold(k, train, count, shifts, estimators, scores, errors)``.

        It fills ``scores[i]`` with candidate i's score on test fold ``k``,
        solved from the training statistics ``train`` of ``count`` rows, and
        appends ``(i, error)`` to ``errors`` for a candidate that failed.
        ``"r2"`` comes from the fold's statistics; retrieval scores that are
        functions of cosine partner ranks take the shared fast path of
        :meth:`_rank_scores_of_fold`; any other scorer is called on each
        candidate as ``GridSearchCV`` calls it.
        """
        (X, y), (X_valid, y_valid) = rows, valid_rows
        if self.scoring == "r2":
            return self._each_candidate(
                _statistics_r2(fold_moments, shifts, self._statistics_exponents)
            )
        rank_scorer = self._rank_scorer(estimators[0])
        if rank_scorer is not None:
            return functools.partial(
                self._rank_scores_of_fold,
                rank_scorer=rank_scorer,
                held_out=[(X_valid[test], y_valid[test]) for test in tests],
                groups=self._nested_groups(estimators),
            )
        if isinstance(self.scoring, str) and self.scoring in RETRIEVAL_SCORERS:
            score_rows = RETRIEVAL_SCORERS[self.scoring]
        else:
            score_rows = check_scoring(estimators[0], scoring=self.scoring)

        def score(fitted, k):
            test = tests[k]
            # Each fold is scored with its own rows' labels.
            metadata = {} if labels is None else {"labels": labels[test]}
            if hasattr(self, "feature_names_in_"):  # score with the column names
                return score_rows(
                    fitted, _safe_indexing(X, test), _safe_indexing(y, test), **metadata
                )
            y_rows = y_valid[test]
            return score_rows(
                fitted,
                X_valid[test],
                y_rows.ravel() if self._y_is_1d else y_rows,
                **metadata,
            )

        return self._each_candidate(score)

    def _rank_scorer(self, estimator):
        """The retrieval scorer when it depends on cosine partner ranks alone."""
        scoring = self.scoring
        if scoring is None:
            # GridSearchCV would call the estimator's own score: the MRR.
            if type(estimator).score is not CrossModalEstimator.score:
                return None
            scorer = make_retrieval_scorer("mrr")
        elif isinstance(scoring, str):
            scorer = RETRIEVAL_SCORERS.get(scoring)
        else:
            scorer = scoring
        if rank_reduction(scorer):
            return scorer
        return None

    def _nested_groups(self, estimators):
        """Candidates solved from one decomposition, as ``(indices, widths)``.

        Candidates that differ only in ``n_components`` share their axes when
        the estimator's ``k``-component solution is the first ``k`` axes of a
        wider one (:meth:`_nested_axes`): their shared spaces are then columns
        of the widest one's, which is solved once per fold. Any other
        candidate (or one whose ``n_components`` is invalid, which must fail
        on its own) forms a group of one.
        """
        keys, groups, widths = [], [], {}
        for index, estimator in enumerate(estimators):
            params = estimator.get_params()
            try:
                widths[index] = resolve_n_components(
                    params.pop("n_components"),
                    self.n_features_in_,
                    self.n_features_y_in_,
                )
            except ValueError:
                widths[index] = None
            if widths[index] is None or not self._nested_axes(estimator):
                keys.append(None)
                groups.append([index])
                continue
            for key, group in zip(keys, groups, strict=True):
                if key == params:
                    group.append(index)
                    break
            else:
                keys.append(params)
                groups.append([index])
        return [(group, widths) for group in groups]

    def _nested_axes(self, estimator):
        """Whether the solution's axes nest across ``n_components``."""
        return False

    def _rank_scores_of_fold(
        self,
        k,
        train,
        count,
        shifts,
        estimators,
        scores,
        errors,
        *,
        rank_scorer,
        held_out,
        groups,
    ):
        """Retrieval scores of every candidate on test fold ``k``, from ranks.

        The held-out rows are embedded once per shared decomposition, and each
        candidate's partner ranks of both directions come from one product
        (:func:`~skcrossmodal._numerics.ranks.paired_partner_ranks`); the score
        is reduced from the ranks as the scorer itself reduces them.
        """
        X_rows, y_rows = held_out[k]
        _, directions = rank_reduction(rank_scorer)
        for group, widths in groups:
            shared = None
            if len(group) > 1:
                widest = clone(estimators[group[0]]).set_params(
                    n_components=max(widths[index] for index in group)
                )
                try:
                    widest = self._solved(widest, train, count, shifts)
                    shared = embed_validated(widest, X_rows, y_rows)
                except CANDIDATE_ERRORS:
                    shared = None  # solve each candidate, to report its own error
            for index in group:
                try:
                    if shared is None:
                        fitted = self._solved(
                            clone(estimators[index]), train, count, shifts
                        )
                        X_scores, y_scores = embed_validated(fitted, X_rows, y_rows)
                    else:
                        X_scores = shared[0][:, : widths[index]]
                        y_scores = shared[1][:, : widths[index]]
                    ranks = paired_partner_ranks(
                        X_scores,
                        y_scores,
                        x_to_y="x_to_y" in directions,
                        y_to_x="y_to_x" in directions,
                    )
                    scores[index] = score_from_ranks(
                        rank_scorer, [r for r in ranks if r is not None]
                    )
                except CANDIDATE_ERRORS as error:
                    scores[index] = self.error_score
                    errors.append((index, error))

    def _each_candidate(self, score):
        """``score_fold`` that solves every candidate and calls ``score(fitted, k)``."""

        def score_fold(k, train, count, shifts, estimators, scores, errors):
            for index, estimator in enumerate(estimators):
                try:
                    fitted = self._solved(clone(estimator), train, count, shifts)
                    scores[index] = score(fitted, k)
                except CANDIDATE_ERRORS as error:
                    scores[index] = self.error_score
                    errors.append((index, error))

        return score_fold

    def _solved(self, estimator, moments, n_samples, shifts):
        """``estimator`` fitted from statistics kept relative to ``shifts``,
        in the units ``self._statistics_exponents`` (see ``view_exponents``)."""
        return fit_from_statistics(
            estimator,
            moments,
            n_samples,
            shifts,
            inputs_of=self,
            exponents=self._statistics_exponents,
        )

    def _search(
        self,
        candidates,
        estimators,
        fold_moments,
        counts,
        n_samples,
        total,
        shifts,
        score_fold,
    ):
        n_splits = len(fold_moments)
        scores = np.full((len(candidates), n_splits), np.nan)
        errors = []
        start = time.perf_counter()
        for k, moments in enumerate(fold_moments):
            train = remove_sample(total, moments)
            fold_scores = np.full(len(candidates), np.nan)
            fold_errors = []
            score_fold(
                k, train, counts[k], shifts, estimators, fold_scores, fold_errors
            )
            scores[:, k] = fold_scores
            errors += [f"{candidates[i]}: {error}" for i, error in sorted(fold_errors)]
        if np.isnan(scores).all():
            raise ValueError(
                f"No candidate of param_grid could be fitted and scored on any of "
                f"the {n_splits} folds; the first error was: "
                f"{errors[0] if errors else 'a NaN score'}. Check the grid against "
                "the data (n_components at most min(n_features of X, of y); reg or "
                "alpha large enough for collinear features)."
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
        results = {"params": candidates}
        for name in sorted({key for params in candidates for key in params}):
            column = np.ma.MaskedArray(
                np.empty(len(candidates), dtype=object), mask=True
            )
            for index, params in enumerate(candidates):
                if name in params:
                    column[index] = params[name]
            results[f"param_{name}"] = column
        for k in range(n_splits):
            results[f"split{k}_test_score"] = scores[:, k]
        results["mean_test_score"] = means
        results["std_test_score"] = scores.std(axis=1)
        results["rank_test_score"] = ranks
        search_time = time.perf_counter() - start

        best = self._solved(clone(estimators[best_index]), total, n_samples, shifts)
        self.cv_results_ = results
        self.best_index_ = best_index
        self.best_params_ = candidates[best_index]
        self.best_score_ = float(means[best_index])
        self.best_estimator_ = best
        self.n_splits_ = n_splits
        self.search_time_ = search_time
        self.n_components_ = best.n_components_
        self.coef_ = best.coef_
        self.intercept_ = best.intercept_

    # ------------------------------------------ the two-view contract ---
    def __sklearn_is_fitted__(self):
        return hasattr(self, "best_estimator_")

    def _embed_x(self, X):
        return self.best_estimator_._embed_x(X)

    def _embed_y(self, y):
        return self.best_estimator_._embed_y(y)

    def _predict_views(self, X):
        return self.best_estimator_._predict_views(X)


def check_split(train, test, n_samples, index):
    """The test rows of a split whose training rows are all the other rows."""
    train, test = np.asarray(train), np.asarray(test)
    in_test = np.zeros(n_samples, dtype=bool)
    in_test[test] = True
    if in_test.sum() != len(test) or not np.array_equal(
        np.sort(train), np.flatnonzero(~in_test)
    ):
        raise ValueError(
            f"Split {index} of cv does not train on exactly the rows outside its "
            "test fold. The training statistics are the total minus the test "
            "fold's, so cv must give complementary splits (KFold, GroupKFold, "
            "StratifiedKFold, RepeatedKFold, ...; not ShuffleSplit or a time-series "
            "split)."
        )
    if len(test) < 2 or n_samples - len(test) < 2:
        raise ValueError(
            f"Split {index} of cv has {len(test)} test and {n_samples - len(test)} "
            "training rows; each needs at least 2 pairs (to rank a partner against "
            "another, and to fit). Use fewer folds: at most "
            f"{n_samples // 2} for {n_samples} pairs."
        )
    return np.sort(test)


def _fold_labels(folds, n_rows, known):
    """The chunk's fold labels, one per row, checked against the ``known`` ones.

    Labels are sorted to order the folds, so they must be all numbers or all
    strings across every call; NaN is no label (it equals nothing, not even
    itself, so its rows would form a fold of their own at every call).
    """
    labels = np.asarray(folds)
    if labels.ndim == 0:
        labels = np.full(n_rows, labels)
    if labels.shape != (n_rows,):
        raise ValueError(
            f"folds must be one label or one label per row; got shape "
            f"{labels.shape} for a chunk of {n_rows} rows."
        )
    # The labels as given: numpy would turn [1, "a"] into the strings "1", "a".
    given = folds if isinstance(folds, np.ndarray) else np.asarray(folds, object)
    kinds = {_label_kind(label) for label in np.ravel(given).tolist()}
    kinds |= {_label_kind(label) for label in known}
    if "missing" in kinds:
        raise ValueError(
            "folds holds NaN (or None) labels; give every row the integer or "
            "string label of its fold."
        )
    if len(kinds) > 1 or kinds - {"number", "string"}:
        seen = sorted({type(label).__name__ for label in np.ravel(given).tolist()})
        raise ValueError(
            "fold labels must be all numbers or all strings, in every call (they "
            f"are sorted to order the folds); got labels of types {seen}"
            + (f" after labels {sorted(known)[:5]}." if known else ".")
        )
    return labels


def _label_kind(label):
    if label is None or (isinstance(label, numbers.Real) and not np.isfinite(label)):
        return "missing"
    if isinstance(label, numbers.Real):
        return "number"
    if isinstance(label, str):
        return "string"
    return type(label).__name__


def is_partition(tests, n_samples):
    rows = np.concatenate(tests)
    return rows.shape[0] == n_samples and np.array_equal(
        np.sort(rows), np.arange(n_samples)
    )


def _merge_all(moments):
    total = moments[0]
    for part in moments[1:]:
        total = total.merge(part)
    return total


_SEARCH_PARAMETERS = """
    Parameters
    ----------
    param_grid : dict or list of dict, default=None
        Candidates, as for :class:`~sklearn.model_selection.GridSearchCV`: any
        parameters of :class:`{estimator}` mapped to lists of values. ``None``
        tries about eight ``n_components`` from 1 to ``min(n_features,
        n_features_y)``, spread geometrically, with every other parameter at
        its default.
    cv : int, cross-validation generator or iterable, default=5
        Splits as for ``GridSearchCV``; each split must train on exactly the
        rows outside its test fold (K-fold, group or stratified K-fold,
        repeated K-fold), since its training statistics are the total minus
        the test fold's.
    scoring : str, callable or None, default=None
        ``None`` scores held-out rows with the estimator's ``score`` (mean
        reciprocal rank of true partners, both directions); a name of
        :data:`~skcrossmodal.metrics.RETRIEVAL_SCORERS` or any scikit-learn
        scorer name or callable ``scorer(estimator, X, y)`` is used as given.
        ``"r2"`` is computed from the held-out fold's statistics (equal to
        :func:`~sklearn.metrics.r2_score` of ``predict``, weighted by
        ``sample_weight``) without looking at the rows again; it is the score
        ``partial_fit`` requires.
    error_score : float, default=np.nan
        Score of a candidate that cannot be solved on a fold (too many
        components, a singular covariance); it ranks last when NaN. The fit
        raises if no candidate can be solved on any fold.

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
        fitting it on all rows); ``transform``, ``predict``, ``score`` and
        ``retrieve`` of the search use it.
    n_components_ : int
        Dimension of the best candidate's shared space.
    coef_ : ndarray of shape (n_features_in_, n_features_y_in_)
        The best candidate's ``coef_``.
    intercept_ : ndarray of shape (n_features_y_in_,)
        The best candidate's ``intercept_``.
    n_splits_ : int
        Number of cross-validation splits.
    search_time_ : float
        Seconds spent solving and scoring the candidates (after the
        statistics were computed).
    n_samples_seen_ : int
        Number of pairs the statistics hold.
    n_features_in_ : int
        Number of features of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's features, when X had string column names.
    n_features_y_in_ : int
        Number of features (columns) of y seen during fit.
"""

_SEARCH_NOTES = """
    Notes
    -----
    ``fit`` makes one pass over the rows to compute the weighted means and
    co-moments of every test fold (merged, they are the total's); each fold's
    training statistics are the total minus the fold's, exactly (the inverse
    of the merge of Chan, Golub & LeVeque). Every candidate is then solved
    from statistics, which costs ``O(d^3)`` whatever the number of rows, and
    scored on the held-out rows; the best is solved once more from the
    total. The candidates, fold scores and choice equal those of
    ``GridSearchCV({estimator}(), param_grid, cv=cv, scoring=scoring)`` to
    rounding, without refitting from the rows for every candidate and fold.
    Retrieval scores that depend on cosine partner ranks alone (the default
    MRR, recall@k, median and percentile rank) embed the held-out rows once
    per shared decomposition (candidates that differ only in
    ``n_components`` are columns of the widest one's solution) and rank both
    directions from one float32 similarity product, re-ranking near ties in
    float64, so the scores are those of the estimator's ``score``. Ranking
    every held-out pair against every other is still the bulk of the time
    with large folds; ``scoring="r2"`` is computed from statistics alone.

    ``partial_fit`` keeps one set of statistics per fold label (``O(K d^2)``
    memory) and redoes the search after every chunk.
"""


class CrossModalEmbeddingCV(_StatisticsSearchCV):
    __doc__ = (
        """Cross-validated :class:`CrossModalEmbedding`, solved from fold statistics.

    The :class:`~sklearn.linear_model.RidgeCV` idea for this library: a grid
    of candidates (``n_components``, ``reg``, ``whiten``, ``scale``, ...) is
    cross-validated from one pass of per-fold sufficient statistics instead
    of a refit from the rows per candidate and fold.
"""
        + _SEARCH_PARAMETERS.format(estimator="CrossModalEmbedding")
        + """
    See Also
    --------
    CrossModalEmbedding : The estimator searched.
    SharedLatentRegressionCV : The same search for the shared-latent regression.
    sklearn.model_selection.GridSearchCV : The general search it agrees with.
"""
        + _SEARCH_NOTES.format(estimator="CrossModalEmbedding")
        + """
    Examples
    --------
    >>> from skcrossmodal import CrossModalEmbeddingCV
    >>> from skcrossmodal.datasets import make_paired_views
    >>> X, y, _ = make_paired_views(300, n_latent=3, noise=0.5, random_state=0)
    >>> search = CrossModalEmbeddingCV(
    ...     {"n_components": [1, 3, 8], "whiten": [False, True]}, cv=3
    ... ).fit(X, y)
    >>> sorted(search.best_params_.items())
    [('n_components', 3), ('whiten', True)]
    >>> search.cv_results_["mean_test_score"].shape
    (6,)
    >>> search.transform(X).shape
    (300, 3)
    """
    )

    _estimator_class = CrossModalEmbedding

    def _nested_axes(self, estimator):
        # Axes are singular vectors in order, each weighted on its own.
        return True


class SharedLatentRegressionCV(_StatisticsSearchCV):
    __doc__ = (
        """Cross-validated :class:`SharedLatentRegression`, solved from fold statistics.

    The :class:`~sklearn.linear_model.RidgeCV` idea for this library: a grid
    of candidates (``n_components``, ``alpha``, ``scale``, ...) is
    cross-validated from one pass of per-fold sufficient statistics instead
    of a refit from the rows per candidate and fold.
"""
        + _SEARCH_PARAMETERS.format(estimator="SharedLatentRegression")
        + """
    See Also
    --------
    SharedLatentRegression : The estimator searched.
    CrossModalEmbeddingCV : The same search for the Procrustes/CCA embedding.
    sklearn.linear_model.RidgeCV : Ridge's leave-one-out search.
"""
        + _SEARCH_NOTES.format(estimator="SharedLatentRegression")
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import SharedLatentRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 8))
    >>> y = X @ rng.normal(size=(8, 2)) @ rng.normal(size=(2, 6))
    >>> y += 0.5 * rng.normal(size=y.shape)
    >>> search = SharedLatentRegressionCV(
    ...     {"n_components": [1, 2, 6], "alpha": [0.1, 10.0]}, scoring="r2", cv=4
    ... ).fit(X, y)
    >>> search.best_params_["n_components"]
    2
    >>> bool(search.best_score_ > 0.9)
    True

    Streaming chunks with a fold label per row gives the same search:

    >>> folds = np.arange(200) % 4
    >>> streamed = SharedLatentRegressionCV(
    ...     {"n_components": [1, 2, 6], "alpha": [0.1, 10.0]}, scoring="r2"
    ... )
    >>> for rows in np.array_split(np.arange(200), 5):
    ...     streamed = streamed.partial_fit(X[rows], y[rows], folds=folds[rows])
    >>> streamed.best_params_ == search.best_params_
    True
    """
    )

    _estimator_class = SharedLatentRegression

    def _nested_axes(self, estimator):
        # The closed form's latent axes nest across ranks, but transform
        # whitens them by the covariance of the rank-k fit's residuals, which
        # changes with k: every candidate is solved on its own.
        return False
