"""The two-view contract that every estimator of the library follows.

Row i of ``X`` and row i of ``y`` are the same event seen by two modalities.
An estimator learns maps of both into one shared space of ``n_components``
dimensions where partners land together. This module owns everything that must
behave identically across estimators, whatever they compute inside:

- validation of the paired views (``fit``), and of each view afterwards;
- ``transform(X, y=None)``: X's scores, or the tuple ``(X_scores, y_scores)``;
- ``predict(X)``: y predicted from X, in y's units and y's shape;
- ``score(X, y)``: mean reciprocal rank of true partners, both directions;
- ``retrieve``: the best gallery matches of new queries, either direction;
- feature names out, pandas output, ``sample_weight`` routing.

A subclass implements ``_fit_views``, ``_embed_x``, ``_embed_y`` and
``_predict_views`` on validated float arrays (y always 2-D) and sets
``n_components_``.
"""

import numbers
import sys

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    MultiOutputMixin,
    TransformerMixin,
)
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._compat import _check_sample_weight, _fit_context, _wrap_data_with_container
from ._similarity import SIMILARITIES, top_k
from .metrics import mean_reciprocal_rank

FLOAT_DTYPES = (np.float64, np.float32)


class CrossModalMixin(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, MultiOutputMixin, BaseEstimator
):
    """Shared behaviour of two-view estimators (the two-view contract).

    Not an estimator by itself: subclasses implement the computations.
    """

    # Linear maps cannot have more shared dimensions than the narrower view.
    _shared_space_bounded_by_views = True

    # ----------------------------------------------------------------- fit ---
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the shared space from paired views.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view (modality). Row i is paired with row i of ``y``.
            Estimators learnt from sufficient statistics (the linear ones) also
            take a ``dask.array.Array`` here, in ``y`` and in ``sample_weight``,
            and reduce it chunk by chunk; the others convert it to numpy.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view; a 1-D ``y`` is one column.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each pair; an integer weight counts as
            repeating the pair that many times.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # Estimators that can reduce a dask array chunk by chunk say so with a
        # ``_fit_dask`` method; the others keep converting it to numpy.
        fit_dask = getattr(self, "_fit_dask", None)
        if fit_dask is not None and holds_dask_array(X, y, sample_weight):
            fit_dask(X, y, sample_weight)
            return self
        X, y, sample_weight = self._validate_paired_views(
            X, y, sample_weight, reset=True
        )
        self._fit_views(X, y, sample_weight)
        return self

    def _validate_paired_views(self, X, y, sample_weight, *, reset, min_samples=2):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None. Pass the second view (modality) as y."
            )
        X = validate_data(
            self, X, reset=reset, dtype=FLOAT_DTYPES, ensure_min_samples=min_samples
        )
        y = self._validate_y_view(y, reset=reset)
        _check_same_rows(X, y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return X, y, sample_weight

    def _validate_y_view(self, y, *, reset):
        y_array = check_array(
            y, ensure_2d=False, dtype=FLOAT_DTYPES, input_name="y", ensure_min_samples=1
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

    # ------------------------------------------------------ shared space ---
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
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        X_scores = self._embed_x(X)
        if y is None:
            return X_scores
        y_array = self._validate_y_view(y, reset=False)
        _check_same_rows(X, y_array)
        # scikit-learn's automatic output wrapping only covers the first array.
        y_scores = _wrap_data_with_container(
            "transform", self._embed_y(y_array), y, self
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
        X = validate_data(self, X, reset=False, dtype=FLOAT_DTYPES)
        y_pred = self._predict_views(X)
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
        if query_view not in ("X", "y"):
            raise ValueError(f"query_view must be 'X' or 'y'; got {query_view!r}.")
        if similarity not in SIMILARITIES:
            raise ValueError(
                f"similarity must be one of {SIMILARITIES}; got {similarity!r}."
            )
        for name, value in (("n_neighbors", n_neighbors), ("csls_k", csls_k)):
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        X_rows, y_rows = (queries, gallery) if query_view == "X" else (gallery, queries)
        X_scores = self._embed_x(
            validate_data(self, X_rows, reset=False, dtype=FLOAT_DTYPES)
        )
        y_scores = self._embed_y(self._validate_y_view(y_rows, reset=False))
        query_scores, gallery_scores = (
            (X_scores, y_scores) if query_view == "X" else (y_scores, X_scores)
        )
        if n_neighbors > gallery_scores.shape[0]:
            raise ValueError(
                f"n_neighbors={n_neighbors} is larger than the gallery "
                f"({gallery_scores.shape[0]} rows). Reduce n_neighbors."
            )
        return top_k(query_scores, gallery_scores, n_neighbors, similarity, csls_k)

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def holds_dask_array(*arrays):
    """Whether any argument is a ``dask.array.Array``, without importing dask.

    A dask array can only exist once ``dask.array`` has been imported, so when it
    is not in ``sys.modules`` the answer is no and dask stays unimported.
    """
    dask_array = sys.modules.get("dask.array")
    if dask_array is None:
        return False
    return any(isinstance(array, dask_array.Array) for array in arrays)


def _check_same_rows(X, y):
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            "X and y must have the same number of rows, since row i of each is the "
            f"same event; got {X.shape[0]} rows in X and {y.shape[0]} in y."
        )


def resolve_n_components(n_components, n_features_x, n_features_y):
    """Check ``n_components`` against both views and return the number to use.

    ``None`` means as many as both views allow, ``min(n_features_x, n_features_y)``.
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
