"""Preprocess each of K views with its own transformer, inside one estimator.

``ColumnTransformer`` followed by a multiview estimator would fit every
transformer on all rows, including the rows where that view is missing
(all NaN), which most transformers refuse (PCA) or learn from (a scaler's
mean ignores NaN, but a vectoriser does not). ``MultiViewPipeline`` fits
each view's transformer on the rows that have the view, then the multiview
estimator on the transformed views side by side, missing rows kept missing.

``partial_fit`` streams chunks through affine transformers with a
``partial_fit`` of their own: the statistics of the raw views are kept and
carried through the transformers as they are after each chunk, so that every
row is seen through the final transformers, as ``fit`` sees it.
"""

import copy
import dataclasses

import numpy as np
from scipy import linalg, sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from .._compat import HasMethods, _check_sample_weight
from .._utils.failure_safe import FailureSafeMixin
from ..base import atomic_fit
from .base import MultiViewStatistics, ViewsMixin
from .moments import MultiViewMoments, chunk_moments, extend_shifts
from .views import named_selections, resolve_views, view_presence


def _rows_of(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _view_block(X, columns, scalar):
    """The columns of one view; one 1-D column when selected by a scalar."""
    if hasattr(X, "iloc"):
        block = X.iloc[:, columns]
        return block.iloc[:, 0] if scalar else block
    block = np.asarray(X)[:, columns]
    return block[:, 0] if scalar else block


def _absent_rows(block, name):
    """Rows where the view is missing: every value NaN or None."""
    if hasattr(block, "isna"):  # pandas: NaN and None in any dtype
        missing = np.asarray(block.isna())
    else:
        values = np.asarray(block)
        if values.dtype.kind in "fc":
            missing = np.isnan(values)
        elif values.dtype.kind == "O":
            missing = np.vectorize(lambda v: v is None or v != v, otypes=[bool])(values)
        else:
            missing = np.zeros(values.shape, dtype=bool)
    if missing.ndim == 1:
        return missing
    absent = missing.all(axis=1)
    partial = np.flatnonzero(missing.any(axis=1) & ~absent)
    if partial.size:
        raise ValueError(
            f"View {name!r} is missing in only some of its columns in row "
            f"{int(partial[0])}. A view of a row is either complete or entirely "
            "missing; impute partly observed views first."
        )
    return absent


def _dense(output, name):
    if sparse.issparse(output):
        raise TypeError(
            f"The transformer of view {name!r} returned a sparse matrix; the "
            "multiview estimators need dense input. End it with a step that "
            "returns a dense array (for text, TruncatedSVD after TfidfVectorizer)."
        )
    output = np.asarray(output, dtype=np.float64)
    return output.reshape(-1, 1) if output.ndim == 1 else output


def _numeric(X):
    """Whether every column of X holds numbers (a bool counts as one)."""
    if hasattr(X, "dtypes"):
        return all(dtype.kind in "biuf" for dtype in X.dtypes)
    return np.asarray(X).dtype.kind in "biuf"


def _streamable(transformer):
    return transformer == "passthrough" or hasattr(transformer, "partial_fit")


def _check_streamable(transformers):
    """Raise, naming the view, if a transformer cannot be updated chunk by chunk."""
    for name, transformer in transformers.items():
        if not _streamable(transformer):
            raise TypeError(
                f"The transformer of view {name!r} ({type(transformer).__name__}) "
                "has no partial_fit, so MultiViewPipeline.partial_fit cannot update "
                "it chunk by chunk. Use a transformer with partial_fit "
                "(StandardScaler, MinMaxScaler, MaxAbsScaler, IncrementalPCA) or "
                "fit on all rows."
            )


def _affine_map(transformer, X, columns, scalar, name):
    """``(A, b)`` with ``transformer.transform(x) == x A + b``, checked on X's rows.

    Read off the transformer by transforming the zero row (``b``) and the
    unit rows (``b`` plus a row of ``A``); the rows of ``X`` that have the
    view then check that the map is affine, to rounding.
    """
    width = columns.size
    if transformer == "passthrough":
        return np.eye(width), np.zeros(width)
    probe = np.vstack([np.zeros(width), np.eye(width)])
    if hasattr(X, "iloc"):  # the transformer saw named columns
        probe = type(X)(probe, columns=X.columns[columns])
    out = _dense(transformer.transform(_view_block(probe, slice(None), scalar)), name)
    offset, matrix = out[0], out[1:] - out[0]
    block = _view_block(X, columns, scalar)
    present = np.flatnonzero(~_absent_rows(block, name))
    if present.size:
        rows = _rows_of(block, present)
        actual = _dense(transformer.transform(rows), name)
        values = np.asarray(rows, dtype=np.float64).reshape(len(present), width)
        predicted = values @ matrix + offset
        scale = np.abs(values) @ np.abs(matrix) + np.abs(offset)
        if not np.all(np.abs(actual - predicted) <= 1e-8 * (scale + 1e-300)):
            raise ValueError(
                f"The transformer of view {name!r} ({type(transformer).__name__}) is "
                "not affine (x -> x A + b), so MultiViewPipeline.partial_fit cannot "
                "carry the raw statistics through it. Use an affine transformer "
                "(StandardScaler, MinMaxScaler, MaxAbsScaler, IncrementalPCA) or "
                "fit on all rows."
            )
    return matrix, offset


def _mapped_moments(moments, maps):
    """The statistics of every view ``x_k A_k + b_k``, from those of the ``x_k``.

    Means (kept relative to each view's origin ``s_k``) map by ``A_k`` and the
    origins by the whole map; co-moments by ``A_k^T C A_l``.
    """

    def mapped(stats, a, b):
        return dataclasses.replace(
            stats,
            mean_x=stats.mean_x @ a,
            mean_y=stats.mean_y @ b,
            cross_xy=a.T @ stats.cross_xy @ b,
            cross_xx=None if stats.cross_xx is None else a.T @ stats.cross_xx @ a,
            cross_yy=None if stats.cross_yy is None else b.T @ stats.cross_yy @ b,
        )

    empty = np.zeros((0, 0))
    views = [
        None if stats is None else mapped(stats, maps[k][0], empty)
        for k, stats in enumerate(moments.views)
    ]
    pairs = {
        (k, m): mapped(stats, maps[k][0], maps[m][0])
        for (k, m), stats in moments.pairs.items()
    }
    patterns = None
    if moments.patterns is not None:
        patterns = {
            key: (
                mapped(stats, linalg.block_diag(*[maps[k][0] for k in key]), empty),
                count,
            )
            for key, (stats, count) in moments.patterns.items()
        }
    shifts = [
        None if shift is None else shift @ matrix + offset
        for shift, (matrix, offset) in zip(moments.shifts, maps, strict=True)
    ]
    return MultiViewMoments(
        shifts=shifts,
        views=views,
        pairs=pairs,
        counts=moments.counts,
        patterns=patterns,
    )


def _estimator_has(method):
    """Whether the pipeline's estimator (fitted, else as given) has ``method``."""

    def check(pipeline):
        return hasattr(getattr(pipeline, "estimator_", pipeline.estimator), method)

    return check


def _estimator_streams_statistics(pipeline):
    """Whether the estimator is solved from statistics the pipeline can stream."""
    return isinstance(pipeline.estimator, MultiViewStatistics)


class MultiViewPipeline(FailureSafeMixin, TransformerMixin, BaseEstimator):
    """A multiview estimator with its own preprocessing of each view.

    ``fit`` resolves the estimator's ``views`` on ``X``, fits a clone of
    each view's transformer on the rows that have that view, and fits a
    clone of ``estimator`` on the transformed views side by side (its
    ``views`` replaced by the transformed blocks, under the same names). A
    row missing a view stays missing: its transformed block is NaN. Inside
    ``GridSearchCV`` every transformer is refitted on each training fold.
    ``partial_fit`` streams chunks when every transformer is affine and has
    a ``partial_fit`` (a scaler, ``IncrementalPCA``); it then equals ``fit``.

    Parameters
    ----------
    estimator : MultiViewCCA, GeneralizedCCA, MultiViewSharedLatentRegression \
            or MultiViewContrastiveAligner
        The multiview estimator; its ``views`` select the raw columns of each
        view (a view selected by a single column name or index is passed to
        its transformer as one 1-D column, as ``ColumnTransformer`` does, so
        that a text vectoriser can take it).
    transformers : dict, default=None
        ``{view name: transformer}``; views not listed, or mapped to
        ``"passthrough"``, are passed through (they must be numeric). A
        transformer must return a dense array.

    Attributes
    ----------
    estimator_ : object
        The fitted clone of ``estimator``, on the transformed views.
    transformers_ : dict
        The fitted clone of each view's transformer (``"passthrough"``
        for the others).
    view_names_ : list of str
        Name of each view.
    n_features_in_ : int
        Number of columns of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's columns, when X had string column names.

    See Also
    --------
    skcrossmodal.TwoViewPipeline : The two-view case.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcrossmodal import MultiViewCCA, MultiViewPipeline
    >>> from skcrossmodal.datasets import make_multiview
    >>> X, views, _ = make_multiview(300, n_views=3, missing_rate=0.2,
    ...                              random_state=0)
    >>> model = MultiViewPipeline(
    ...     MultiViewCCA(views, n_components=3),
    ...     transformers={"view0": PCA(5), "view1": StandardScaler()},
    ... ).fit(X)
    >>> model.transform(X).shape
    (300, 9)
    >>> model.estimator_.view_columns_[0].tolist()
    [0, 1, 2, 3, 4]
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform"])],
        "transformers": [dict, None],
    }

    # Promises that skcrossmodal.estimator_checks asserts: the transformers are
    # fitted unweighted, so a weight is not a repetition; partial_fit carries
    # the raw statistics through the final transformers, as fit sees the rows,
    # so it equals fit when the estimator's own partial_fit does.
    _weights_are_repetitions = False

    @property
    def _partial_fit_equals_fit(self):
        return bool(getattr(self.estimator, "_partial_fit_equals_fit", False))

    def __init__(self, estimator, *, transformers=None):
        self.estimator = estimator
        self.transformers = transformers

    @atomic_fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit each view's transformer, then the estimator on their outputs.

        A call that raises leaves the estimator as it was.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views side by side.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's ``fit`` (the transformers are fitted
            unweighted).

        Returns
        -------
        self : object
        """
        self._check_estimator()
        X = self._validate(X, reset=True)
        names, columns = resolve_views(self.estimator.views, X)
        self._check_transformer_names(names)
        selections = named_selections(self.estimator.views, X.shape[1])
        scalars = [np.isscalar(selection) for _, selection in selections]
        fitted = {}
        for name, cols, scalar in zip(names, columns, scalars, strict=True):
            transformer = (self.transformers or {}).get(name, "passthrough")
            if transformer != "passthrough":
                block = _view_block(X, cols, scalar)
                present = np.flatnonzero(~_absent_rows(block, name))
                transformer = clone(transformer).fit(_rows_of(block, present))
            fitted[name] = transformer
        self.transformers_ = fitted
        self.view_names_ = names
        self._view_columns = columns
        self._scalars = scalars
        transformed, inner_views = self._transform_views(X)
        self.estimator_ = clone(self.estimator).set_params(views=inner_views)
        self.estimator_.fit(transformed, sample_weight=sample_weight)
        if hasattr(self, "_raw_moments"):
            del self._raw_moments
        if not isinstance(self.estimator_, MultiViewStatistics):
            # A trained estimator keeps no statistics to stream from.
            return self
        if all(t == "passthrough" for t in fitted.values()):
            # The raw views are the estimator's views: its statistics are theirs.
            self._raw_moments = self.estimator_._moments
            self._raw_rows = self.estimator_.n_samples_seen_
        elif _numeric(X) and all(_streamable(t) for t in fitted.values()):
            # The raw views' statistics (one more pass over X), so that
            # partial_fit can go on from here.
            self._raw_moments = None
            self._merge_raw_statistics(X, sample_weight)
        return self

    @available_if(_estimator_streams_statistics)
    @atomic_fit
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update each view's transformer and the estimator with one more chunk.

        Only with an estimator solved from statistics (not
        :class:`~skcrossmodal.MultiViewContrastiveAligner`). Needs numeric
        views, every transformer ``"passthrough"`` or with a ``partial_fit``,
        and every transformer *affine* (``x -> x A + b``:
        :class:`~sklearn.preprocessing.StandardScaler`,
        :class:`~sklearn.preprocessing.MinMaxScaler`,
        :class:`~sklearn.preprocessing.MaxAbsScaler`,
        :class:`~sklearn.decomposition.IncrementalPCA`, ...). The pipeline
        keeps the statistics of the *raw* views and, after each chunk,
        carries them through the transformers as they now are (the
        statistics of ``x A + b`` follow from those of ``x``), so every row
        is seen through the final transformers: after any split of the rows
        into chunks the model equals ``fit`` on all of them (to rounding).
        A ``partial_fit`` after ``fit`` goes on from the ``fit`` (which keeps
        the raw views' statistics for it: one more pass over ``X`` when a
        view has a transformer that can stream). A call that raises leaves
        the pipeline as it was.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            A chunk of rows, all views side by side.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's statistics (the transformers are
            updated unweighted, as in ``fit``).

        Returns
        -------
        self : object
        """
        self._check_estimator()
        first_call = not hasattr(self, "_raw_moments")
        if first_call:
            X = self._validate(X, reset=True, min_samples=1)
            names, columns = resolve_views(self.estimator.views, X)
            self._check_transformer_names(names)
            transformers = {
                name: clone(transformer)
                if transformer != "passthrough"
                else transformer
                for name, transformer in (
                    (name, (self.transformers or {}).get(name, "passthrough"))
                    for name in names
                )
            }
            _check_streamable(transformers)
            selections = named_selections(self.estimator.views, X.shape[1])
            self.transformers_ = transformers
            self.view_names_ = names
            self._view_columns = columns
            self._scalars = [np.isscalar(selection) for _, selection in selections]
            self._raw_moments = None
        else:
            X = self._validate(X, reset=False, min_samples=1)
        if not _numeric(X):
            raise TypeError(
                "MultiViewPipeline.partial_fit needs numeric views (it keeps the "
                "statistics of the raw views); use fit for text or other objects."
            )
        # partial_fit updates a transformer in place: update copies, so that a
        # call that raises later (a bad view further on) leaves the fitted
        # transformers as they were when the snapshot restores the attributes.
        updated = dict(self.transformers_)
        for name, cols, scalar in zip(
            self.view_names_, self._view_columns, self._scalars, strict=True
        ):
            if updated[name] == "passthrough":
                continue
            block = _view_block(X, cols, scalar)
            present = np.flatnonzero(~_absent_rows(block, name))
            if present.size:
                updated[name] = copy.deepcopy(updated[name])
                updated[name].partial_fit(_rows_of(block, present))
        self.transformers_ = updated
        self._merge_raw_statistics(X, sample_weight)
        self._solve_from_raw_statistics(X)
        return self

    def _check_estimator(self):
        if not isinstance(self.estimator, ViewsMixin):
            raise TypeError(
                "estimator must be a multiview estimator (MultiViewCCA, "
                "GeneralizedCCA, MultiViewSharedLatentRegression or "
                "MultiViewContrastiveAligner); got "
                f"{type(self.estimator).__name__}."
            )

    def _check_transformer_names(self, names):
        unknown = set(self.transformers or {}) - set(names)
        if unknown:
            raise ValueError(
                f"transformers names views {sorted(unknown)} that are not among "
                f"the estimator's views {names}."
            )

    def _merge_raw_statistics(self, X, sample_weight):
        """Merge the chunk's statistics of the raw views into the running ones."""
        values = np.asarray(X, dtype=np.float64)
        present = view_presence(values, self._view_columns, self.view_names_)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, values, dtype=np.float64, ensure_non_negative=True
            )
        previous = self._raw_moments
        shifts = (
            [None] * len(self._view_columns) if previous is None else previous.shifts
        )
        shifts = extend_shifts(shifts, values, present, self._view_columns)
        moments = chunk_moments(
            values,
            present,
            self._view_columns,
            sample_weight,
            shifts,
            keep_patterns=self.estimator._keep_patterns,
        )
        if previous is not None:
            moments = previous.merge(moments)
            moments.shifts = shifts
        self._raw_moments = moments
        self._raw_rows = values.shape[0] + (0 if previous is None else self._raw_rows)

    def _solve_from_raw_statistics(self, X):
        """The estimator, from the raw statistics carried through the transformers."""
        moments = self._raw_moments
        if not np.all(moments.counts >= 2) or any(
            stats is None for stats in moments.views
        ):
            return  # too few rows yet: statistics kept, no model
        maps, inner_views, start = [], {}, 0
        for name, cols, scalar in zip(
            self.view_names_, self._view_columns, self._scalars, strict=True
        ):
            matrix, offset = _affine_map(
                self.transformers_[name], X, cols, scalar, name
            )
            maps.append((matrix, offset))
            inner_views[name] = slice(start, start + matrix.shape[1])
            start += matrix.shape[1]
        estimator = clone(self.estimator).set_params(views=inner_views)
        inner_columns = [np.arange(s.start, s.stop) for s in inner_views.values()]
        estimator._fit_from_moments(
            _mapped_moments(moments, maps),
            list(self.view_names_),
            inner_columns,
            self._raw_rows,
            start,
        )
        self.estimator_ = estimator

    def __sklearn_is_fitted__(self):
        # partial_fit keeps statistics of too few rows without a model.
        return hasattr(self, "estimator_")

    def _transform_views(self, X):
        blocks, inner_views, start = [], {}, 0
        for name, cols, scalar in zip(
            self.view_names_, self._view_columns, self._scalars, strict=True
        ):
            block = _view_block(X, cols, scalar)
            absent = _absent_rows(block, name)
            transformer = self.transformers_[name]
            present = np.flatnonzero(~absent)
            if transformer == "passthrough":
                values = _dense(_rows_of(block, present), name)
            else:
                values = _dense(transformer.transform(_rows_of(block, present)), name)
            out = np.full((len(absent), values.shape[1]), np.nan)
            out[present] = values
            blocks.append(out)
            inner_views[name] = slice(start, start + out.shape[1])
            start += out.shape[1]
        return np.hstack(blocks), inner_views

    def _validate(self, X, *, reset, min_samples=1):
        """Check X's shape and names; keep a DataFrame's column dtypes.

        An array is checked as scikit-learn checks input (2-D, dense, not
        empty, not complex), keeping object arrays (text) as they are; a
        DataFrame goes to the transformers as it is, so that each sees its
        columns' own dtypes.
        """
        if hasattr(X, "iloc"):
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.shape[0] < min_samples:
                raise ValueError(
                    f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) "
                    f"while a minimum of {min_samples} is required."
                )
            return X
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=None,
            ensure_all_finite="allow-nan",
            ensure_min_samples=min_samples,
        )

    def _check(self, X):
        check_is_fitted(self)
        return self._transform_views(self._validate(X, reset=False))[0]

    def transform(self, X):
        """The estimator's ``transform`` of the preprocessed views.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.

        Returns
        -------
        X_out : ndarray
            See the estimator's ``transform``.
        """
        X = self._check(X)  # first: it checks that the pipeline is fitted
        return self.estimator_.transform(X)

    def transform_view(self, X, view):
        """One view's scores (for estimators that have ``transform_view``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.
        view : str or int
            The view's name or index.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_components)
        """
        X = self._check(X)
        return self.estimator_.transform_view(X, view)

    @available_if(_estimator_has("retrieve"))
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
        """The estimator's ``retrieve`` on the preprocessed views.

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
        queries, gallery = self._check(queries), self._check(gallery)
        return self.estimator_.retrieve(
            queries,
            gallery,
            query_view=query_view,
            gallery_view=gallery_view,
            n_neighbors=n_neighbors,
            similarity=similarity,
            csls_k=csls_k,
        )

    def score(self, X, y=None, sample_weight=None):
        """The estimator's ``score`` of the preprocessed views.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's ``score``.

        Returns
        -------
        score : float
        """
        X = self._check(X)
        return self.estimator_.score(X, sample_weight=sample_weight)

    def get_feature_names_out(self, input_features=None):
        """The estimator's output names.

        Parameters
        ----------
        input_features : None
            Ignored (the estimator names its outputs by view).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return self.estimator_.get_feature_names_out()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
