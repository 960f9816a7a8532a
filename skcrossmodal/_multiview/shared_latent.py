"""Predict the views a row lacks from the views it has, through a shared latent.

For a target view ``t`` and the set ``S`` of other views a row has, the
reduced-rank ridge regression of :class:`~skcrossmodal.SharedLatentRegression`
maps the concatenated views of ``S`` to a latent of ``n_components``
dimensions from which ``t`` is read off. Its closed form needs only the
covariance of the views in ``S``, their cross-covariance with ``t`` and the
trace of ``t``'s covariance over the rows that have them all: merged from
the statistics kept per missingness pattern, so one set of statistics
serves every (available views, target) combination, each solved when a row
needs it.
"""

import dataclasses
import numbers

import numpy as np
from scipy import linalg
from scipy.linalg.lapack import dpocon
from sklearn.utils.validation import check_is_fitted

from .._compat import IntegerInterval, Interval, StrOptions
from .._linear.dask_arrays import holds_dask_array
from .._linear.shared_latent import gcv_alpha
from .._numerics.moments import TwoViewMoments
from .base import MultiViewStatistics
from .views import check_view_name


def _combination_statistics(moments, columns, sources, target):
    """Statistics of ``(x_S, x_t)`` over the rows that have all of them.

    Merged from the missingness patterns that include every view involved
    (Chan et al.'s update, exact). Returns ``(TwoViewMoments, n_rows)`` with
    absolute means, or ``(None, 0)`` when no row has them all.
    """
    needed = set(sources) | {target}
    merged, n_rows = None, 0
    for pattern, (stats, count) in sorted(moments.patterns.items()):
        if not needed <= set(pattern):
            continue
        offsets = np.cumsum([0] + [columns[k].size for k in pattern])
        where = {
            k: np.arange(offsets[i], offsets[i + 1]) for i, k in enumerate(pattern)
        }
        x_index = np.concatenate([where[k] for k in sources])
        y_index = where[target]
        part = TwoViewMoments(
            weight_sum=stats.weight_sum,
            mean_x=stats.mean_x[x_index],
            mean_y=stats.mean_x[y_index],
            cross_xy=stats.cross_xx[np.ix_(x_index, y_index)],
            cross_xx=stats.cross_xx[np.ix_(x_index, x_index)],
            cross_yy=stats.cross_xx[np.ix_(y_index, y_index)],
        )
        merged = part if merged is None else merged.merge(part)
        n_rows += count
    if merged is None:
        return None, 0
    shift_x = np.concatenate([moments.shifts[k] for k in sources])
    return (
        dataclasses.replace(
            merged,
            mean_x=merged.mean_x + shift_x,
            mean_y=merged.mean_y + moments.shifts[target],
        ),
        n_rows,
    )


def _supported_sources(moments, columns, sources, target):
    """The views to predict ``target`` from, and their statistics.

    All of ``sources`` when at least two training rows have them together
    with the target; otherwise, greedily, the view whose removal leaves the
    most such rows is dropped, until two rows support the rest. Returns
    ``(sources, statistics)``, or ``([], None)`` when no single view does.
    """
    sources = list(sources)
    while sources:
        stats, n_rows = _combination_statistics(moments, columns, sources, target)
        if n_rows >= 2:
            return sources, stats
        candidates = []
        for drop in sources:
            rest = [k for k in sources if k != drop]
            if rest:
                _, rows = _combination_statistics(moments, columns, rest, target)
                candidates.append((rows, rest))
        if not candidates:
            break
        sources = max(candidates, key=lambda candidate: candidate[0])[1]
    return [], None


def reduced_rank_ridge(cxx, cxy, trace_yy, n_samples, n_components, alpha):
    """Coefficient ``B V V^T`` of rank-``n_components`` ridge, and the penalty.

    ``B = (C_xx + alpha I)^{-1} C_xy`` and ``V`` the top eigenvectors of
    ``C_xy^T B`` (Mukherjee & Zhu), from co-moment sums; ``alpha="auto"``
    minimises generalised cross-validation (:func:`gcv_alpha`).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._multiview.shared_latent import reduced_rank_ridge
    >>> X = np.random.default_rng(0).normal(size=(50, 3)); y = X @ np.ones((3, 2))
    >>> coef, alpha = reduced_rank_ridge(X.T @ X, X.T @ y, float((y**2).sum()),
    ...                                  50, 2, 0.0)
    >>> bool(np.allclose(coef, np.ones((3, 2))))
    True
    """
    if alpha == "auto":
        alpha = gcv_alpha(cxx, cxy, trace_yy, n_samples)
    gram = cxx + alpha * np.eye(cxx.shape[0])
    norm_1 = np.abs(gram).sum(axis=0).max()
    try:
        factor = linalg.cho_factor(gram, check_finite=False)
        # Cholesky lets a numerically singular matrix through with a tiny
        # pivot; LAPACK's condition estimate (O(d^2)) catches it.
        rcond, _ = dpocon(factor[0], norm_1, uplo="L" if factor[1] else "U")
    except linalg.LinAlgError:
        rcond = 0.0
    if not rcond > 10 * gram.shape[0] * np.finfo(np.float64).eps:
        raise ValueError(
            f"The co-moment matrix of the source views plus alpha * I is singular "
            f"with alpha={alpha} (collinear or constant features, or more features "
            "than rows). Raise alpha (for example alpha=1.0)."
        )
    ridge = linalg.cho_solve(factor, cxy, check_finite=False)
    fitted = cxy.T @ ridge
    fitted = (fitted + fitted.T) / 2
    size = fitted.shape[0]
    _, vectors = linalg.eigh(
        fitted, subset_by_index=[size - n_components, size - 1], check_finite=False
    )
    return ridge @ vectors @ vectors.T, alpha


class MultiViewSharedLatentRegression(MultiViewStatistics):
    """Fill in the views a row lacks from the views it has (K views in one X).

    For a target view ``t`` and the set ``S`` of the other views a row has,
    the concatenated views of ``S`` are mapped to a shared latent of
    ``n_components`` dimensions, ``z = Z^T (x_S - mean_S)``, from which ``t``
    is read off, ``x_t ~ mean_t + W^T z`` (``W`` with orthonormal rows): the
    reduced-rank ridge regression of
    :class:`~skcrossmodal.SharedLatentRegression`,

    .. math:: \\min_{Z, W} \\sum_i s_i \\|x_{t,i} - \\bar x_t
              - W^T Z^T (x_{S,i} - \\bar x_S)\\|^2 + \\alpha \\|Z\\|_F^2
              \\quad \\text{s.t. } W W^T = I,

    solved in closed form from the statistics. With two views it is
    ``SharedLatentRegression(solver="closed_form")`` fitted on that pair.

    ``transform(X)`` returns ``X`` with every missing view of every row
    predicted from the views the row has (an imputer for whole modalities,
    usable before :class:`MultiViewCCA` in a pipeline);
    ``predict(X, target_view=...)`` predicts one view for every row from its
    other views.

    Parameters
    ----------
    views : dict, list or None, default=None
        The column selections of each view, as for :class:`MultiViewCCA`.
    n_components : int, default=None
        Rank of every map (the latent's dimension); ``None``: full rank,
        plain ridge regression. At most the narrowest view's width.
    alpha : float or "auto", default="auto"
        Ridge penalty on ``Z``, in the units of the co-moment sums (as in
        :class:`~sklearn.linear_model.Ridge`); ``"auto"`` minimises
        generalised cross-validation for each (available views, target)
        combination, from the statistics.
    n_jobs : int, default=None
        Threads that compute the statistics.

    Attributes
    ----------
    n_components_ : int
        Rank of the maps.
    n_views_ : int
        Number of views.
    view_names_ : list of str
        Name of each view.
    view_columns_ : list of ndarray of int
        Columns of ``X`` of each view.
    view_means_ : list of ndarray
        Weighted mean of each view over the rows that have it.
    n_samples_seen_ : int
        Rows seen by ``fit`` and every ``partial_fit`` since.
    n_features_in_ : int
        Number of columns of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's columns, when X had string column names.

    See Also
    --------
    skcrossmodal.SharedLatentRegression : The two-view estimator.
    MultiViewCCA : One shared space for all views.

    Notes
    -----
    Each (available views, target) combination has its own map, solved when
    a row needs it (one ``d_S x d_S`` factorisation per combination and
    call): the latent is shared by the views a row has. Its statistics come
    from the training rows that have all the views it involves: the
    statistics are kept per missingness pattern and merged exactly. Unlike
    pairwise-complete blocks (which :class:`MultiViewCCA` uses, and which
    need not form a positive semi-definite covariance when views are nearly
    collinear, so that a ridge solve on them could amplify noise), these are
    the moments of one set of rows. When fewer than two training rows have
    a combination, the view whose removal leaves the most rows is dropped
    from its sources until two rows support them. Like the pairwise
    moments, this is consistent when views are missing completely at random
    (see :ref:`multiview`).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import MultiViewSharedLatentRegression
    >>> from skcrossmodal.datasets import make_multiview
    >>> X, views, _ = make_multiview(400, n_views=3, missing_rate=0.2,
    ...                              random_state=0)
    >>> model = MultiViewSharedLatentRegression(views, n_components=3).fit(X)
    >>> filled = model.transform(X)
    >>> bool(np.isnan(X).any()), bool(np.isnan(filled).any())
    (True, False)
    >>> model.predict(X, target_view="view2").shape
    (400, 10)
    """

    _parameter_constraints: dict = {
        "views": [list, tuple, dict, None],
        "n_components": [IntegerInterval(1, None, closed="left"), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "n_jobs": [None, IntegerInterval(1, None, closed="left")],
    }

    # The maps need the moments of rows that have several views at once.
    _keep_patterns = True

    def __init__(self, views=None, *, n_components=None, alpha="auto", n_jobs=None):
        self.views = views
        self.n_components = n_components
        self.alpha = alpha
        self.n_jobs = n_jobs

    def _resolve_n_components(self, widths):
        if self.n_components is None:
            return None  # full rank for every combination
        return super()._resolve_n_components(widths)

    def _set_solution(self, moments, n_components):
        # Solve the all-other-views map of every target now, so that a
        # singular problem fails at fit rather than at the first predict.
        n_views = len(moments.views)
        for target in range(n_views):
            sources = [k for k in range(n_views) if k != target]
            self._solve(moments, sources, target, n_components)
        widths = [stats.mean_x.size for stats in moments.views]
        self.n_components_ = min(widths) if n_components is None else n_components
        self._rank = n_components
        self.view_means_ = moments.absolute_means()

    def _solve(self, moments, sources, target, rank):
        """``(sources used, coef, source mean, target mean)``, or None."""
        used, stats = _supported_sources(moments, self.view_columns_, sources, target)
        if stats is None:
            return None
        if rank is None:
            rank = min(stats.mean_x.size, stats.mean_y.size)
        coef, _ = reduced_rank_ridge(
            stats.cross_xx,
            stats.cross_xy,
            float(np.trace(stats.cross_yy)),
            stats.weight_sum,
            rank,
            self.alpha,
        )
        return used, coef, stats.mean_x, stats.mean_y

    def predict(self, X, target_view=None):
        """Predict views of every row from the other views the row has.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit; the target view's own columns are ignored.
        target_view : str, int or None, default=None
            The view to predict, by name or index; ``None`` predicts every
            view from the others (a leave-one-view-out reconstruction, in
            ``X``'s layout).

        Returns
        -------
        prediction : ndarray of shape (n_samples, n_features_of_target_view)
            In the target view's units; NaN in rows that have no other view.
            Of shape ``(n_samples, n_features_in_)`` when ``target_view`` is
            None (columns that belong to no view are NaN). A lazy dask array
            for a dask ``X``.
        """
        check_is_fitted(self)
        if holds_dask_array(X):
            from .dask_arrays import lazy_rows

            width = (
                self.n_features_in_
                if target_view is None
                else self.view_columns_[
                    check_view_name(target_view, self.view_names_)
                ].size
            )
            return lazy_rows(self, X, self.predict, width, target_view=target_view)
        X, present = self._check_views(X)
        if target_view is not None:
            targets = [check_view_name(target_view, self.view_names_)]
        else:
            targets = range(self.n_views_)
        out = np.full(X.shape, np.nan)
        for target in targets:
            others = [k for k in range(self.n_views_) if k != target]
            values = self._predict_from(X, present[:, others], others, target)
            if target_view is not None:
                return values
            out[:, self.view_columns_[target]] = values
        return out

    def _predict_from(self, X, present, others, target):
        width = self.view_columns_[target].size
        prediction = np.full((X.shape[0], width), np.nan)
        patterns, inverse = np.unique(present, axis=0, return_inverse=True)
        for p, pattern in enumerate(patterns):
            sources = [others[i] for i in np.flatnonzero(pattern)]
            solution = self._solve(self._moments, sources, target, self._rank)
            if not sources or solution is None:
                continue  # nothing to predict from
            used, coef, source_mean, target_mean = solution
            rows = np.flatnonzero(inverse.ravel() == p)
            cols = np.concatenate([self.view_columns_[k] for k in used])
            prediction[rows] = (X[np.ix_(rows, cols)] - source_mean) @ coef
            prediction[rows] += target_mean
        return prediction

    def transform(self, X):
        """``X`` with every missing view of every row predicted from the others.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit; a view missing from a row is all NaN.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            Observed values unchanged; the missing views filled in (rows
            with no view at all stay NaN). A lazy dask array for a dask
            ``X``.
        """
        check_is_fitted(self)
        if holds_dask_array(X):
            from .dask_arrays import lazy_rows

            return lazy_rows(self, X, self.transform, self.n_features_in_)
        X, present = self._check_views(X)
        filled = X.astype(np.float64, copy=True)
        for target in range(self.n_views_):
            lacking = ~present[:, target]
            if not lacking.any():
                continue
            others = [k for k in range(self.n_views_) if k != target]
            rows = np.flatnonzero(lacking)
            values = self._predict_from(
                X[rows], present[np.ix_(rows, others)], others, target
            )
            filled[np.ix_(rows, self.view_columns_[target])] = values
        return filled

    def get_feature_names_out(self, input_features=None):
        """The input's column names: ``transform`` fills, it does not rename.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Defaults to ``feature_names_in_``, or ``x0``, ``x1``, ... .

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        seen = getattr(self, "feature_names_in_", None)
        if input_features is None:
            if seen is not None:
                return np.asarray(seen, dtype=object)
            return np.asarray([f"x{j}" for j in range(self.n_features_in_)], object)
        input_features = np.asarray(input_features, dtype=object)
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features should have length equal to number of features "
                f"({self.n_features_in_}), got {len(input_features)}"
            )
        if seen is not None and not np.array_equal(seen, input_features):
            raise ValueError("input_features is not equal to feature_names_in_")
        return input_features
