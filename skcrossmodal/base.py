"""The two-view contract, written once: the base class of every estimator here.

Row i of ``X`` and row i of ``y`` are the same event seen by two modalities.
A two-view estimator learns maps of both into one shared space of
``n_components`` dimensions where partners land together.
:class:`CrossModalEstimator` owns everything that must behave identically
across estimators, whatever they compute inside:

- validation of the paired views (``fit``), and of each view afterwards;
- ``transform(X, y=None)``: X's scores, or the tuple ``(X_scores, y_scores)``;
- ``predict(X)``: y predicted from X, in y's units and y's shape;
- ``score(X, y)``: mean reciprocal rank of true partners, both directions;
- ``retrieve``: the best gallery matches of new queries, either direction;
- failure atomicity: a ``fit`` or ``partial_fit`` that raises leaves the
  estimator exactly as it was before the call;
- feature names out, pandas output, ``sample_weight`` routing, and the
  ``two_view_tags`` that :mod:`skcrossmodal.estimator_checks` reads.
"""

from dataclasses import dataclass, field, fields

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    MultiOutputMixin,
    TransformerMixin,
)
from sklearn.utils import Tags
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._compat import _check_sample_weight, _fit_context, _wrap_data_with_container
from ._numerics.similarity import SIMILARITIES
from ._utils.failure_safe import FailureSafeMixin, failure_safe, restored_on_error
from ._utils.threads import map_in_threads, one_blas_thread, thread_count
from ._utils.validation import check_count, check_query_view, check_same_rows
from .metrics import mean_reciprocal_rank
from .retrieval import search_top_k

# Rows per block when retrieve embeds in threads: a block of 256-feature
# float32 rows (4 MiB) stays in cache through centring and the product.
_EMBEDDING_BLOCK_ROWS = 4096

__all__ = [
    "CrossModalEstimator",
    "CrossModalTags",
    "TwoViewTags",
    "atomic_fit",
    "restored_on_error",
    "resolve_n_components",
]

FLOAT_DTYPES = (np.float64, np.float32)


@dataclass(slots=True)
class TwoViewTags:
    """Tags that describe a two-view estimator.

    Parameters
    ----------
    n_components_bounded_by_views : bool, default=True
        Whether ``n_components`` cannot exceed ``min(n_features, n_features_y)``
        (true of linear maps; a neural network can embed into more dimensions).

    Examples
    --------
    >>> from sklearn.utils import get_tags
    >>> from skcrossmodal import CrossModalEmbedding
    >>> get_tags(CrossModalEmbedding()).two_view_tags
    TwoViewTags(n_components_bounded_by_views=True)
    """

    n_components_bounded_by_views: bool = True


@dataclass(slots=True)
class CrossModalTags(Tags):
    """scikit-learn's :class:`~sklearn.utils.Tags` plus ``two_view_tags``.

    Parameters
    ----------
    two_view_tags : TwoViewTags
        What the estimator promises about its two views. Its presence marks a
        two-view estimator.
    **kwargs
        The fields of :class:`sklearn.utils.Tags`.

    Examples
    --------
    >>> from sklearn.utils import get_tags
    >>> from skcrossmodal import TwoViewPipeline, CrossModalEmbedding
    >>> isinstance(get_tags(TwoViewPipeline(CrossModalEmbedding())), CrossModalTags)
    True
    """

    two_view_tags: TwoViewTags = field(default_factory=TwoViewTags)


def atomic_fit(method=None, *, prefer_skip_nested_validation=True):
    """Decorate a ``fit``/``partial_fit`` method: validated, and atomic on failure.

    Parameter validation (scikit-learn's ``_fit_context``) runs first; then the
    call runs inside :func:`restored_on_error`, so an exception anywhere in it
    restores the estimator (through its ``_snapshot_state`` and
    ``_restore_state`` hooks) as it was.

    Parameters
    ----------
    method : callable
        ``fit`` or ``partial_fit`` of a :class:`CrossModalEstimator`.
    prefer_skip_nested_validation : bool, default=True
        As for scikit-learn's ``_fit_context``: False for a meta-estimator,
        whose inner estimators validate their own parameters.

    Returns
    -------
    wrapped : callable

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import CrossModalEmbedding
    >>> model = CrossModalEmbedding(n_components=3)
    >>> X, y = np.eye(4), np.eye(4)[:, :2]
    >>> try:
    ...     model.fit(X, y)  # n_components=3 > 2 features of y: refused
    ... except ValueError:
    ...     pass
    >>> hasattr(model, "n_features_in_")
    False
    """

    def decorate(method):
        validated = _fit_context(
            prefer_skip_nested_validation=prefer_skip_nested_validation
        )
        return validated(failure_safe(method))

    return decorate if method is None else decorate(method)


class CrossModalEstimator(
    FailureSafeMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    MultiOutputMixin,
    BaseEstimator,
):
    """Base class of two-view estimators: the contract, implemented once.

    A subclass sets ``__init__`` and ``_parameter_constraints`` as any
    scikit-learn estimator does, and implements four hooks on validated float
    arrays (``y`` always 2-D):

    - ``_fit_views(X, y, sample_weight)``: learn, and set ``n_components_``;
    - ``_embed_x(X)`` and ``_embed_y(y)``: each view's scores in the shared
      space, of shape ``(n_samples, n_components_)``;
    - ``_predict_views(X)``: y predicted from X, 2-D, in y's units.

    Everything else (``fit``, ``transform``, ``predict``, ``score``,
    ``retrieve``, validation and its error messages, pandas output, tags) comes
    from this class. A subclass whose input is not a float array (a
    preprocessing pipeline) may override ``_check_x_view`` and
    ``_check_y_view``, which turn raw input into what the hooks take.

    Class attribute ``_shared_space_bounded_by_views`` (default True) sets the
    tag ``two_view_tags.n_components_bounded_by_views``.

    Rows of ``X`` (or of ``y``) that are entirely NaN are *single-view* rows,
    which only an estimator with ``_accepts_single_view_rows = True``
    (:class:`SelfLearningAligner`) learns from; the others refuse them with a
    ``ValueError`` that says so. A NaN among finite values is refused as
    missing data, as scikit-learn does.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.base import CrossModalEstimator
    >>> class MeanShift(CrossModalEstimator):
    ...     '''Centre each view; the shared space is its first column.'''
    ...     def _fit_views(self, X, y, sample_weight):
    ...         self.x_mean_, self.y_mean_ = X.mean(axis=0), y.mean(axis=0)
    ...         self.n_components_ = 1
    ...     def _embed_x(self, X):
    ...         return X[:, :1] - self.x_mean_[:1]
    ...     def _embed_y(self, y):
    ...         return y[:, :1] - self.y_mean_[:1]
    ...     def _predict_views(self, X):
    ...         return np.tile(self.y_mean_, (X.shape[0], 1))
    >>> X = np.array([[0.0], [1.0], [5.0]]); y = X + 10.0
    >>> model = MeanShift().fit(X, y)
    >>> model.transform(X, y)[1].ravel().tolist()
    [-2.0, -1.0, 3.0]
    >>> model.retrieve(X[2:], y, n_neighbors=1)[1].tolist()
    [[2]]
    >>> model.predict(X[:1]).shape
    (1, 1)
    """

    # No parameters unless a subclass declares them.
    _parameter_constraints: dict = {}

    # Linear maps cannot have more shared dimensions than the narrower view.
    _shared_space_bounded_by_views = True

    # Whether _embed_x/_embed_y map each row on its own with numpy, so that
    # retrieve may embed row blocks in parallel threads.
    _embeds_in_row_blocks = False

    # The switch for estimators that learn from single-view rows (entirely NaN
    # in the missing view): validation lets NaN through to them.
    _accepts_single_view_rows = False

    # ----------------------------------------------------------- hooks ---
    def _fit_views(self, X, y, sample_weight):
        raise NotImplementedError(f"{type(self).__name__} must implement _fit_views.")

    def _embed_x(self, X):
        raise NotImplementedError(f"{type(self).__name__} must implement _embed_x.")

    def _embed_y(self, y):
        raise NotImplementedError(f"{type(self).__name__} must implement _embed_y.")

    def _predict_views(self, X):
        raise NotImplementedError(
            f"{type(self).__name__} must implement _predict_views."
        )

    # ----------------------------------------------------------------- fit ---
    @atomic_fit
    def fit(self, X, y=None, sample_weight=None):
        """Learn the shared space from paired views.

        A call that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view (modality). Row i is paired with row i of ``y``.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view; a 1-D ``y`` is one column. Required.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each pair, not all zero.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y, sample_weight = self._validate_paired_views(
            X, y, sample_weight, reset=True
        )
        self._fit_views(X, y, sample_weight)
        return self

    def _validate_paired_views(self, X, y, sample_weight, *, reset, min_samples=2):
        single_view = self._accepts_single_view_rows
        if y is None:
            where = " with NaN rows where it was not observed" if single_view else ""
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                f"None. Pass the second view (modality) as y{where}."
            )
        if not single_view:
            _refuse_single_view_rows(X, "X", self)
            _refuse_single_view_rows(y, "y", self)
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=self._view_dtype("x", reset=reset),
            ensure_min_samples=min_samples,
            ensure_all_finite=self._finite_rule(),
        )
        y = self._validate_y_view(y, reset=reset)
        self._check_paired_rows(X, y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return X, y, sample_weight

    def _finite_rule(self):
        # Single-view rows are entirely NaN; the estimator that accepts them
        # sorts them out (and refuses partly NaN rows) itself.
        return "allow-nan" if self._accepts_single_view_rows else True

    def _check_paired_rows(self, X, y):
        """Refuse validated views that cannot be read row by row as pairs."""
        check_same_rows(X, y)

    def _validate_y_view(self, y, *, reset):
        y_array = check_array(
            y,
            ensure_2d=False,
            dtype=self._view_dtype("y", reset=reset),
            input_name="y",
            ensure_min_samples=1,
            ensure_all_finite=self._finite_rule(),
        )
        y_is_1d = y_array.ndim == 1
        if y_is_1d:
            y_array = y_array.reshape(-1, 1)
        if reset:
            self.n_features_y_in_ = y_array.shape[1]
            self._y_is_1d = y_is_1d
        elif y_array.shape[1] != self.n_features_y_in_:
            raise ValueError(
                f"y has {y_array.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_y_in_} features as input."
            )
        return y_array

    def _view_dtype(self, view, *, reset):
        """The ``dtype`` the rows of ``view`` ("x" or "y") are validated to.

        Floats (float32 kept, anything else cast to float64). An estimator
        whose encoder of a view reads integer ids returns None there (dtype
        kept) and checks the ids itself.
        """
        return FLOAT_DTYPES

    def _check_x_view(self, X):
        """Validate new rows of the first view for the fitted estimator."""
        return validate_data(
            self,
            X,
            reset=False,
            dtype=self._view_dtype("x", reset=False),
            ensure_all_finite=self._finite_rule(),
        )

    def _check_y_view(self, y):
        """Validate new rows of the second view (returned 2-D)."""
        return self._validate_y_view(y, reset=False)

    # ------------------------------------------------------ shared space ---
    def fit_transform(self, X, y=None, **fit_params):
        """Fit on the paired views, then return X's scores in the shared space.

        ``fit(X, y, **fit_params).transform(X)``: X's scores only, so that a
        two-view estimator works as the last step of a ``Pipeline``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view, paired row by row with ``X``. Required: ``None``
            raises a ``ValueError``, as ``fit`` does (the default exists only
            for scikit-learn's transformer signature).
        **fit_params : dict
            Passed to ``fit`` (for example ``sample_weight``).

        Returns
        -------
        X_scores : ndarray of shape (n_samples, n_components_)
            X's coordinates in the shared space.
        """
        return super().fit_transform(X, y, **fit_params)

    def transform(self, X, y=None):
        """Map X (and optionally its paired y) into the shared space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view.
        y : array-like of shape (n_samples, n_features_y), default=None
            Second view, paired row by row with ``X``.

        Returns
        -------
        X_scores : ndarray of shape (n_samples, n_components)
            Returned alone when ``y`` is None.
        (X_scores, y_scores) : tuple of ndarray
            When ``y`` is given; both live in the same space, where partners
            are close (compare them with cosine similarity).
        """
        check_is_fitted(self)
        X_checked = self._check_x_view(X)
        X_scores = self._embed_x(X_checked)
        if y is None:
            return X_scores
        y_checked = self._check_y_view(y)
        self._check_paired_rows(X_checked, y_checked)
        # scikit-learn's automatic output wrapping only covers the first array.
        y_scores = _wrap_data_with_container(
            "transform", self._embed_y(y_checked), y, self
        )
        return X_scores, y_scores

    def predict(self, X):
        """Predict the second view from the first (cross-modal translation).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_features_y) or (n_samples,)
            In y's original units; 1-D when ``y`` was 1-D at fit.
        """
        check_is_fitted(self)
        y_pred = self._predict_views(self._check_x_view(X))
        return y_pred.ravel() if self._y_is_1d else y_pred

    def score(self, X, y, sample_weight=None):
        """Mean reciprocal rank of true partners in the shared space.

        Each row of ``X`` queries all rows of ``y`` and vice versa (cosine
        similarity); the reciprocal rank of the true partner is averaged over
        queries and over both directions. 1.0 is perfect; chance is about
        ``log(n) / n``. Greater is better, so ``GridSearchCV`` maximises it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view.
        y : array-like of shape (n_samples, n_features_y)
            Second view, paired row by row with ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each pair in the average.

        Returns
        -------
        score : float
        """
        X_scores, y_scores = self.transform(X, y)
        return mean_reciprocal_rank(
            np.asarray(X_scores), np.asarray(y_scores), sample_weight=sample_weight
        )

    def retrieve(
        self,
        queries,
        gallery,
        *,
        query_view="X",
        n_neighbors=5,
        similarity="cosine",
        csls_k=10,
    ):
        """Find the best partners of each query among a gallery of the other view.

        Parameters
        ----------
        queries : array-like of shape (n_queries, n_features_of_query_view)
            Rows of the view named by ``query_view``.
        gallery : array-like of shape (n_gallery, n_features_of_other_view)
            Rows of the other view, searched for each query.
        query_view : {"X", "y"}, default="X"
            ``"X"``: queries are rows of the first view and the gallery holds
            rows of ``y``; ``"y"``: the other way round.
        n_neighbors : int, default=5
            How many gallery rows to return per query.
        similarity : {"cosine", "csls"}, default="cosine"
            Cosine similarity in the shared space, or CSLS (hubness-corrected;
            its correction is estimated from this set of queries and gallery).
        csls_k : int, default=10
            Neighbourhood size of the CSLS correction.

        Returns
        -------
        similarities : ndarray of shape (n_queries, n_neighbors)
            Best first.
        indices : ndarray of shape (n_queries, n_neighbors)
            Row indices into ``gallery``.
        """
        check_is_fitted(self)
        check_query_view(query_view)
        if similarity not in SIMILARITIES:
            raise ValueError(
                f"similarity must be one of {SIMILARITIES}; got {similarity!r}."
            )
        check_count("n_neighbors", n_neighbors)
        check_count("csls_k", csls_k)
        X_rows, y_rows = (queries, gallery) if query_view == "X" else (gallery, queries)
        # The search runs its blocks in threads of one BLAS thread each. Left
        # multi-threaded for the embedding, BLAS's idle threads would spin on
        # the cores those threads need (a quarter of the search time at 2e4
        # rows): the whole call holds BLAS to one thread instead.
        with one_blas_thread():
            return self._retrieve_rows(
                X_rows,
                y_rows,
                query_view=query_view,
                n_neighbors=n_neighbors,
                similarity=similarity,
                csls_k=csls_k,
            )

    def _retrieve_rows(self, X_rows, y_rows, *, query_view, **search):
        """The search of :meth:`retrieve`, once its options are checked."""
        n_neighbors = search["n_neighbors"]
        X_scores = self._embed_in_row_blocks(self._embed_x, self._check_x_view(X_rows))
        y_scores = self._embed_in_row_blocks(self._embed_y, self._check_y_view(y_rows))
        query_scores, gallery_scores = (
            (X_scores, y_scores) if query_view == "X" else (y_scores, X_scores)
        )
        if n_neighbors > gallery_scores.shape[0]:
            raise ValueError(
                f"n_neighbors={n_neighbors} is larger than the gallery "
                f"({gallery_scores.shape[0]} rows). Reduce n_neighbors."
            )
        # The validated search: embeddings with NaN or of another width fail
        # with a named error.
        return search_top_k(query_scores, gallery_scores, **search)

    def _embed_in_row_blocks(self, embed, rows):
        """``embed(rows)``, in row blocks spread over threads where that is safe.

        Only for estimators whose embedding is a numpy map of each row alone
        (``_embeds_in_row_blocks``); the blocks are fixed, so the result does
        not depend on the number of threads.
        """
        if not self._embeds_in_row_blocks or rows.shape[0] <= _EMBEDDING_BLOCK_ROWS:
            return embed(rows)
        starts = range(0, rows.shape[0], _EMBEDDING_BLOCK_ROWS)
        return np.concatenate(
            map_in_threads(
                lambda start: embed(rows[start : start + _EMBEDDING_BLOCK_ROWS]),
                starts,
                thread_count(None),
            )
        )

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        values = {f.name: getattr(tags, f.name) for f in fields(Tags)}
        return CrossModalTags(
            **values,
            two_view_tags=TwoViewTags(
                n_components_bounded_by_views=self._shared_space_bounded_by_views
            ),
        )


def _refuse_single_view_rows(view, name, estimator):
    """Refuse rows whose every value is NaN: single-view rows of another learner."""
    if not isinstance(view, np.ndarray) or view.dtype.kind != "f":
        try:
            array = np.asarray(view)
        except Exception:  # let the regular validation report what it is
            return
        if array.dtype.kind != "f":
            return
    else:
        array = view
    if array.ndim == 0 or array.size == 0:
        return
    rows = array.reshape(array.shape[0], -1)
    if rows.shape[1] == 0:
        return
    single = np.flatnonzero(np.isnan(rows).all(axis=1))
    if single.size:
        raise ValueError(
            f"{name} has {single.size} row(s) that are entirely NaN (first: row "
            f"{single[0]}). An all-NaN row marks a single-view row (only the other "
            f"view was observed); {type(estimator).__name__} needs both views of "
            "every row. Single-view rows are only used by SelfLearningAligner; "
            "drop them (or their pairs) here."
        )


def embed_validated(estimator, X, y):
    """Both views' shared-space scores from a fitted estimator's own hooks.

    ``X`` and ``y`` (2-D) are already validated, as by ``transform``; a search
    that holds validated rows embeds them so, without validating again.
    """
    return estimator._embed_x(X), estimator._embed_y(y)


def copy_input_description(source, target):
    """Give ``target`` the description of the inputs ``source`` was fitted on.

    The widths of both views, X's feature names and whether y was 1-D: what
    validation would have recorded had ``target`` seen the rows itself.

    Parameters
    ----------
    source : CrossModalEstimator
        A fitted estimator.
    target : CrossModalEstimator
        The estimator to describe alike.
    """
    target.n_features_in_ = source.n_features_in_
    target.n_features_y_in_ = source.n_features_y_in_
    target._y_is_1d = source._y_is_1d
    if hasattr(source, "feature_names_in_"):
        target.feature_names_in_ = source.feature_names_in_


def resolve_n_components(n_components, n_features_x, n_features_y):
    """Check ``n_components`` against both views and return the number to use.

    ``None`` means as many as both views allow, ``min(n_features_x, n_features_y)``.

    Parameters
    ----------
    n_components : int or None
        The requested dimension of the shared space.
    n_features_x, n_features_y : int
        Widths of the two views.

    Returns
    -------
    n_components : int

    Examples
    --------
    >>> from skcrossmodal.base import resolve_n_components
    >>> resolve_n_components(None, 5, 3)
    3
    """
    upper = min(n_features_x, n_features_y)
    if n_components is None:
        return upper
    if n_components > upper:
        raise ValueError(
            f"n_components upper bound is min(n_features of X, n_features of y) = "
            f"min({n_features_x}, {n_features_y}) = {upper}. Got {n_components} "
            "instead. Reduce n_components."
        )
    return n_components
