"""The K-view contract: K views in one ``X``, declared by column selections.

A multiview estimator is a single-input transformer: ``fit(X)`` takes one
``X`` (array or DataFrame) whose columns are split into views by the
``views`` parameter, so ``Pipeline``, ``GridSearchCV``, ``cross_validate``,
metadata routing and ``set_output`` work unchanged. A row whose columns of
one view are all NaN lacks that modality; the statistics of each view, and
of each pair of views, come from the rows that have them.

:class:`MultiViewStatistics` owns the validation and the running statistics
(``fit`` and ``partial_fit`` both merge chunk statistics, so any chunking
gives the model ``fit`` learns); a subclass implements
``_set_solution(moments, n_components)``, which must raise before assigning
anything. :class:`SharedSpaceMixin` owns the output of every K-view
embedding (``transform``, ``transform_view``, ``score``, ``retrieve``, the
output names) on one hook, ``_embed(X, present, view)``;
:class:`MultiViewEstimator` is the two together, with linear maps.
"""

import itertools

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._compat import _check_sample_weight, validate_estimator_parameters
from .._linear.dask_arrays import holds_dask_array
from .._utils.failure_safe import FailureSafeMixin, restored_on_error
from .._utils.threads import one_blas_thread
from ..base import atomic_fit
from ..metrics import mean_reciprocal_rank
from ..retrieval import search_top_k
from .moments import chunk_moments, extend_shifts
from .views import check_view_name, resolve_views, view_presence

FLOAT_DTYPES = (np.float64, np.float32)

# A view, and a pair of views, needs a spread of rows to define a covariance.
_MIN_ROWS = 2


class ViewsMixin:
    """The views of ``X`` after fit: validation and presence of each view.

    Shared by every K-view estimator (statistics-based or trained): a fitted
    estimator has ``view_names_`` and ``view_columns_``.
    """

    def _check_views(self, X):
        X = validate_data(
            self, X, reset=False, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan"
        )
        return X, view_presence(X, self.view_columns_, self.view_names_)

    def _validate_views(self, X, sample_weight, *, reset, min_samples):
        """Validate the rows of a ``fit``/``partial_fit`` call and find the views.

        Returns ``(X, present, names, columns, sample_weight)``: ``X`` as a
        float array (NaN allowed), which rows have which view, the views'
        names and columns, and the weights checked (None stays None). Unless
        ``reset``, the views must be those of the fitted model.
        """
        raw = X
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=FLOAT_DTYPES,
            ensure_all_finite="allow-nan",
            ensure_min_samples=min_samples,
        )
        names, columns = resolve_views(self.views, raw if _is_frame(raw) else X)
        if not reset:
            self._check_same_views(names, columns)
        present = view_presence(X, columns, names)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return X, present, names, columns, sample_weight

    def _check_same_views(self, names, columns):
        """Refuse views (resolved from a new chunk) other than the fitted ones."""
        same = names == self.view_names_ and all(
            np.array_equal(a, b)
            for a, b in zip(columns, self.view_columns_, strict=True)
        )
        if not same:
            raise ValueError(
                "The views of this chunk differ from those of the fitted model "
                f"({self.view_names_}); views cannot change between partial_fit "
                "calls. Call fit to start over."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN marks a missing modality (a whole view of a row).
        tags.input_tags.allow_nan = True
        return tags


class MultiViewStatistics(
    ViewsMixin, FailureSafeMixin, TransformerMixin, BaseEstimator
):
    """Base class of the K-view estimators solved from block statistics.

    Owns ``fit`` and ``partial_fit`` (validation, the views, the running
    pairwise-complete statistics). Subclasses declare their parameters
    (``views``, ``n_components`` and ``n_jobs`` among them) and implement
    ``_set_solution(moments, n_components)``, which sets ``n_components_``
    and whatever else the model holds, and must raise before assigning
    anything.
    """

    _parameter_constraints: dict = {}

    # Whether the solution needs the statistics of each missingness pattern
    # (the rows that have several views at once), not only views and pairs.
    _keep_patterns = False

    # Promises that skcrossmodal.estimator_checks asserts: the model depends on
    # the rows only through their weighted statistics, so an integer weight is
    # a repetition and partial_fit merges chunks into what fit computes.
    _weights_are_repetitions = True
    _partial_fit_equals_fit = True

    def __sklearn_is_fitted__(self):
        # partial_fit keeps the statistics of too few rows without a solution.
        return hasattr(self, "n_components_")

    # ----------------------------------------------------------------- fit ---
    @atomic_fit
    def fit(self, X, y=None, sample_weight=None):
        """Learn from the K views of ``X`` (all rows: a model from scratch).

        A call that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : array-like, DataFrame or dask array of shape (n_samples, n_features)
            All views side by side; ``views`` says which columns are which.
            A row whose columns of a view are all NaN lacks that view. A
            ``dask.array.Array`` (here or in ``sample_weight``) is reduced
            block by block by dask, never gathered in one place; its views
            are selected by position.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like or dask array of shape (n_samples,), \
default=None
            Non-negative weight of each row, not all zero; an integer weight
            counts as repeating the row.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if holds_dask_array(X, sample_weight):
            # Imported here: dask is an optional extra.
            from .dask_arrays import dask_multiview_moments

            moments, names, columns, n_samples, n_features = dask_multiview_moments(
                self, X, sample_weight
            )
            return self._fit_from_moments(
                moments, names, columns, n_samples, n_features
            )
        for name in ("_moments", "n_samples_seen_"):
            if hasattr(self, name):
                delattr(self, name)
        self._accumulate(X, sample_weight, first_call=True, min_samples=2)
        if not self.__sklearn_is_fitted__():
            self._raise_too_few_rows()
        return self

    @atomic_fit
    def partial_fit(self, X, y=None, sample_weight=None):
        """Merge one more chunk of rows into the statistics and re-solve.

        After any split of the rows into chunks the model equals ``fit`` on
        all of them (to rounding). Until every view and every pair of views
        has been seen in two rows, the statistics are kept but define no
        solution (``transform`` raises ``NotFittedError``). A call that
        raises leaves the estimator as it was.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            A chunk of rows, with at least one row.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the chunk's rows.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not hasattr(self, "_moments")
        self._accumulate(X, sample_weight, first_call=first_call, min_samples=1)
        return self

    def _accumulate(self, X, sample_weight, *, first_call, min_samples):
        X, present, names, columns, sample_weight = self._validate_views(
            X, sample_weight, reset=first_call, min_samples=min_samples
        )
        shifts = [None] * len(columns) if first_call else self._moments.shifts
        shifts = extend_shifts(shifts, X, present, columns)
        moments = chunk_moments(
            X,
            present,
            columns,
            sample_weight,
            shifts,
            n_jobs=self.n_jobs,
            keep_patterns=self._keep_patterns,
        )
        n_samples = X.shape[0]
        if not first_call:
            moments = self._moments.merge(moments)
            moments.shifts = shifts
            n_samples += self.n_samples_seen_
        self._commit_moments(moments, names, columns, n_samples)

    def _commit_moments(self, moments, names, columns, n_samples):
        """Solve from ``moments`` when every view and pair has two rows; keep them.

        The data attributes (``n_features_in_``, ``feature_names_in_``) are
        the caller's to set.
        """
        widths = [cols.size for cols in columns]
        n_components = self._resolve_n_components(widths)
        if np.all(moments.counts >= _MIN_ROWS):
            # The solve comes first (the callers restore the estimator if it
            # raises, see restored_on_error).
            self.view_names_ = names
            self.view_columns_ = columns
            self._set_solution(moments, n_components)
        self.view_names_ = names
        self.view_columns_ = columns
        self._moments = moments
        self.n_samples_seen_ = n_samples
        self.n_views_ = len(columns)

    def _fit_from_moments(
        self, moments, names, columns, n_samples, n_features_in, feature_names_in=None
    ):
        """Fit from statistics computed elsewhere (dask, a search, a pipeline).

        Sets what ``fit`` on the rows behind ``moments`` would set (with
        ``feature_names_in_`` only when given: statistics carry no column
        names). Raises, leaving the estimator as it was, when a view or a pair
        of views has fewer than two rows or the solve fails.
        """
        validate_estimator_parameters(self)
        with restored_on_error(self):
            for name in ("_moments", "n_samples_seen_", "n_components_"):
                if hasattr(self, name):
                    delattr(self, name)
            if feature_names_in is not None:
                self.feature_names_in_ = feature_names_in
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self.n_features_in_ = n_features_in
            self._commit_moments(moments, names, columns, n_samples)
            if not self.__sklearn_is_fitted__():
                self._raise_too_few_rows()
        return self

    def _resolve_n_components(self, widths):
        upper = min(widths)
        if self.n_components is None:
            return upper
        if self.n_components > upper:
            raise ValueError(
                f"n_components upper bound is the number of features of the "
                f"narrowest view, min({', '.join(map(str, widths))}) = {upper}. Got "
                f"{self.n_components} instead. Reduce n_components."
            )
        return self.n_components

    def _raise_too_few_rows(self):
        counts = self._moments.counts
        k, m = np.unravel_index(np.argmin(counts), counts.shape)
        what = (
            f"view {self.view_names_[k]!r} is present in"
            if k == m
            else f"views {self.view_names_[k]!r} and {self.view_names_[m]!r} are "
            "both present in"
        )
        raise ValueError(
            f"{type(self).__name__} needs every view, and every pair of views, in at "
            f"least {_MIN_ROWS} rows of positive weight; {what} {counts[k, m]}. "
            "Their covariance cannot be estimated: add rows that have them, or "
            "drop a view."
        )


class SharedSpaceMixin(ViewsMixin, TransformerMixin):
    """The shared-space half of a K-view embedding, on an ``_embed`` hook.

    ``transform``, ``transform_view``, ``score``, ``retrieve`` and
    ``get_feature_names_out`` for any estimator that maps each view to one
    space of ``n_components_`` dimensions: a subclass implements
    ``_embed(X, present, view)`` and has ``view_names_``, ``view_columns_``,
    ``n_views_`` and ``n_components_`` once fitted. The statistics-based
    estimators (:class:`MultiViewEstimator`) and the trained ones
    (``MultiViewContrastiveAligner``) share it.
    """

    # ------------------------------------------------------- shared space ---
    def transform(self, X):
        """Each view's scores in the shared space, side by side.

        Parameters
        ----------
        X : array-like, DataFrame or dask array of shape (n_samples, n_features)
            All views, as at fit.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_views_ * n_components_)
            A lazy dask array, computed block by block, for a dask ``X``.
            Columns ``k * n_components_`` to ``(k + 1) * n_components_ - 1``
            hold view ``k``'s scores (named ``"<view>__<estimator><j>"`` by
            ``get_feature_names_out``); NaN where a row lacks view ``k``.
        """
        check_is_fitted(self)
        if holds_dask_array(X):
            from .dask_arrays import lazy_rows

            return lazy_rows(
                self, X, self.transform, self.n_views_ * self.n_components_
            )
        X, present = self._check_views(X)
        k = self.n_components_
        scores = np.full((X.shape[0], self.n_views_ * k), np.nan)
        for view in range(self.n_views_):
            scores[:, view * k : (view + 1) * k] = self._embed(X, present, view)
        return scores

    def transform_view(self, X, view):
        """One view's scores in the shared space.

        Parameters
        ----------
        X : array-like, DataFrame or dask array of shape (n_samples, n_features)
            All columns, as at fit; only those of ``view`` are read (the
            others may be NaN). A dask ``X`` gives a lazy dask array.
        view : str or int
            The view's name (see ``view_names_``) or index.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_components_)
            NaN in the rows that lack the view.
        """
        check_is_fitted(self)
        index = check_view_name(view, self.view_names_)
        if holds_dask_array(X):
            from .dask_arrays import lazy_rows

            return lazy_rows(
                self, X, self.transform_view, self.n_components_, view=view
            )
        X = validate_data(
            self, X, reset=False, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan"
        )
        cols = self.view_columns_[index]
        present = view_presence(X[:, cols], [np.arange(cols.size)], [view])
        return self._embed(X, np.repeat(present, self.n_views_, axis=1), index)

    def _embed(self, X, present, view):
        """Scores of ``view`` for the rows ``present[:, view]`` marks, NaN elsewhere.

        ``X`` is validated (an ndarray with every column); returns an array of
        shape ``(n_samples, n_components_)``.
        """
        raise NotImplementedError

    def score(self, X, y=None, sample_weight=None):
        """Mean over view pairs of the two-way mean reciprocal rank of partners.

        For each pair of views, the rows that have both are embedded, each
        row of one view queries the rows of the other (cosine similarity) and
        vice versa (:func:`~skcrossmodal.metrics.mean_reciprocal_rank`); the
        pairs' values are averaged. Greater is better.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in every pair's average.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X, present = self._check_views(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        embedded = [self._embed(X, present, v) for v in range(self.n_views_)]
        values = []
        for k, m in itertools.combinations(range(self.n_views_), 2):
            rows = present[:, k] & present[:, m]
            if rows.sum() < 2:
                continue
            weights = None if sample_weight is None else sample_weight[rows]
            if weights is not None and not weights.any():
                continue
            values.append(
                mean_reciprocal_rank(
                    embedded[k][rows], embedded[m][rows], sample_weight=weights
                )
            )
        if not values:
            raise ValueError(
                "No pair of views is present together in two rows of X: there is "
                "no cross-view retrieval to score."
            )
        return float(np.mean(values))

    def retrieve(
        self,
        queries,
        gallery,
        *,
        query_view,
        gallery_view,
        n_neighbors=5,
        similarity="cosine",
        csls_k=10,
    ):
        """Find the best partners of each query among a gallery of another view.

        Parameters
        ----------
        queries : array-like or DataFrame of shape (n_queries, n_features)
            Rows laid out as at fit; only the columns of ``query_view`` are
            read (the others may be NaN).
        gallery : array-like or DataFrame of shape (n_gallery, n_features)
            Rows laid out as at fit; only the columns of ``gallery_view``
            are read.
        query_view, gallery_view : str or int
            The views (names or indices) of the queries and of the gallery.
        n_neighbors : int, default=5
            How many gallery rows to return per query.
        similarity : {"cosine", "csls"}, default="cosine"
            Cosine similarity in the shared space, or CSLS.
        csls_k : int, default=10
            Neighbourhood size of the CSLS correction.

        Returns
        -------
        similarities : ndarray of shape (n_queries, n_neighbors)
            Best first.
        indices : ndarray of shape (n_queries, n_neighbors)
            Row indices into ``gallery``.
        """
        # BLAS held to one thread for the whole call, embedding included: the
        # search's worker threads would otherwise share the cores with BLAS's
        # idle threads, which spin after a multi-threaded product.
        with one_blas_thread():
            embedded = []
            for rows, view, role in (
                (queries, query_view, "queries"),
                (gallery, gallery_view, "gallery"),
            ):
                scores = self.transform_view(rows, view)
                lacking = np.flatnonzero(np.isnan(scores).any(axis=1))
                if lacking.size:
                    raise ValueError(
                        f"Row {int(lacking[0])} of the {role} lacks view {view!r} "
                        f"({lacking.size} such rows); every row searched must have it."
                    )
                embedded.append(scores)
            if n_neighbors > embedded[1].shape[0]:
                raise ValueError(
                    f"n_neighbors={n_neighbors} is larger than the gallery "
                    f"({embedded[1].shape[0]} rows). Reduce n_neighbors."
                )
            return search_top_k(
                embedded[0],
                embedded[1],
                n_neighbors=n_neighbors,
                similarity=similarity,
                csls_k=csls_k,
            )

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of ``transform``: ``"<view>__<estimator><j>"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen at fit.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features should have length equal to number of "
                    f"features ({self.n_features_in_}), got {len(input_features)}"
                )
            seen = getattr(self, "feature_names_in_", None)
            if seen is not None and not np.array_equal(seen, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
        prefix = type(self).__name__.lower()
        return np.asarray(
            [
                f"{view}__{prefix}{j}"
                for view in self.view_names_
                for j in range(self.n_components_)
            ],
            dtype=object,
        )


class MultiViewEstimator(SharedSpaceMixin, MultiViewStatistics):
    """Base class of the K-view embeddings solved from block statistics.

    ``_set_solution`` sets ``rotations_`` (one ``(n_features_k,
    n_components_)`` map per view) and ``view_means_``; the scores of a view
    are its centred columns times its map, and :class:`SharedSpaceMixin`
    turns them into ``transform``, ``transform_view``, ``score`` and the
    names of the output columns.
    """

    def _embed(self, X, present, view):
        rows = present[:, view]
        out = np.full((X.shape[0], self.n_components_), np.nan)
        block = X[np.ix_(rows, self.view_columns_[view])]
        out[rows] = (block - self.view_means_[view]) @ self.rotations_[view]
        return out


def _is_frame(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")
