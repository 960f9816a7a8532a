"""Preprocess both views inside one two-view estimator.

``sklearn.pipeline.Pipeline`` transforms X only; y reaches the final step as it
came. A scaler or text vectoriser fitted on all of y *before* cross-validation
would see every test fold, so the scores would be optimistic. ``TwoViewPipeline``
owns one transformer per view and fits both on the training fold only.
"""

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from ._compat import HasMethods, StrOptions, _fit_context, _safe_set_output


def _is_text_or_object(y):
    """Whether y holds strings or Python objects rather than numbers."""
    if sparse.issparse(y):
        return False
    return np.asarray(y).dtype.kind in "OSU"


class TwoViewPipeline(TransformerMixin, BaseEstimator):
    """A two-view estimator with its own preprocessing of each view.

    ``fit`` fits a clone of ``x_transformer`` on X and a clone of
    ``y_transformer`` on y, then a clone of ``estimator`` on the two
    transformed views. Every later call sends each view through its own fitted
    transformer first. Inside cross-validation or ``GridSearchCV`` the whole
    object is refitted on each training fold, so neither view's preprocessing
    ever sees a test fold (``Pipeline`` cannot do this for y: it transforms X
    only).

    Parameters
    ----------
    estimator : object
        A two-view estimator of this library (with ``fit(X, y)`` and
        ``transform(X, y)``), e.g. :class:`~skcrossmodal.CrossModalEmbedding`.
    x_transformer : object, default=None
        Transformer (or ``Pipeline``) fitted on X; ``None`` passes X through.
    y_transformer : object, default=None
        Transformer (or ``Pipeline``) fitted on y; ``None`` passes y through.
        For text, end it with a step that returns a dense array, such as
        ``make_pipeline(TfidfVectorizer(), TruncatedSVD(n_components=50))``
        (latent semantic analysis): the linear estimators need dense input and
        a plain ``TfidfVectorizer`` output is sparse, which is refused with an
        error that says so.
    inverse_predict : {"auto", True, False}, default="auto"
        Whether ``predict`` maps the estimator's prediction back through
        ``y_transformer_.inverse_transform``, as
        ``TransformedTargetRegressor`` does. ``"auto"`` does so when
        ``y_transformer_`` has ``inverse_transform`` and y held numbers at fit:
        predictions of text (or other non-numeric) y stay in the transformed
        space, since a vectoriser's "inverse" is a bag of words, not a caption.

    Attributes
    ----------
    estimator_ : object
        The fitted clone of ``estimator``.
    x_transformer_ : object or None
        The fitted clone of ``x_transformer`` (None when passing through).
    y_transformer_ : object or None
        The fitted clone of ``y_transformer`` (None when passing through).
    n_components_ : int
        Dimension of the shared space (the estimator's ``n_components_``).
    n_features_in_ : int
        Number of features of X seen during fit (when the first step of X's
        preprocessing records it).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's features, when X had string column names.

    See Also
    --------
    sklearn.compose.TransformedTargetRegressor : The same idea for a
        regressor's target.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import TruncatedSVD
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcrossmodal import CrossModalEmbedding, TwoViewPipeline
    >>> from skcrossmodal.datasets import load_digit_views
    >>> images, captions = load_digit_views(kind="captions", return_X_y=True)
    >>> model = TwoViewPipeline(
    ...     CrossModalEmbedding(n_components=10, whiten=True, reg=0.1),
    ...     x_transformer=StandardScaler(),
    ...     y_transformer=make_pipeline(
    ...         TfidfVectorizer(), TruncatedSVD(n_components=12, random_state=0)
    ...     ),
    ... ).fit(images, captions)
    >>> image_scores, caption_scores = model.transform(images[:5], captions[:5])
    >>> image_scores.shape, caption_scores.shape
    ((5, 10), (5, 10))
    >>> _, best = model.retrieve(images[:3], captions, n_neighbors=1)
    >>> best.shape
    (3, 1)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform"])],
        "x_transformer": [HasMethods(["fit", "transform"]), None],
        "y_transformer": [HasMethods(["fit", "transform"]), None],
        "inverse_predict": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(
        self,
        estimator,
        *,
        x_transformer=None,
        y_transformer=None,
        inverse_predict="auto",
    ):
        self.estimator = estimator
        self.x_transformer = x_transformer
        self.y_transformer = y_transformer
        self.inverse_predict = inverse_predict

    # ----------------------------------------------------------------- fit ---
    @_fit_context(
        # The transformers and the estimator validate their own parameters.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None):
        """Fit each view's transformer, then the estimator on the transformed views.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view, in whatever form ``x_transformer`` accepts.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view, in whatever form ``y_transformer`` accepts (for
            instance a list of strings for a text vectoriser).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each pair, passed to the estimator's ``fit`` (the
            transformers are fitted unweighted).

        Returns
        -------
        self : object
            The fitted pipeline.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None. Pass the second view (modality) as y."
            )
        self.x_transformer_ = _clone_or_none(self.x_transformer)
        self.y_transformer_ = _clone_or_none(self.y_transformer)
        X_t = _fit_transform(self.x_transformer_, X)
        y_t = _fit_transform(self.y_transformer_, y)
        self._y_is_text = _is_text_or_object(y)
        self.estimator_ = clone(self.estimator)
        self._check_dense(X_t, "x")
        self._check_dense(y_t, "y")
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.estimator_.fit(X_t, y_t, **fit_params)
        return self

    def _check_dense(self, view, name):
        # A sparse view that the user passed without a transformer reaches the
        # estimator unchanged, and the estimator's own error explains it.
        transformer = getattr(self, f"{name}_transformer_")
        if (
            transformer is not None
            and sparse.issparse(view)
            and not get_tags(self.estimator_).input_tags.sparse
        ):
            raise TypeError(
                f"{name}_transformer returned a sparse matrix, but dense data is "
                f"required by {type(self.estimator_).__name__}. End "
                f"{name}_transformer with a step that returns a dense array, for "
                "example make_pipeline(TfidfVectorizer(), TruncatedSVD(50))."
            )

    def _transform_x(self, X):
        X_t = X if self.x_transformer_ is None else self.x_transformer_.transform(X)
        self._check_dense(X_t, "x")
        return X_t

    def _transform_y(self, y):
        y_t = y if self.y_transformer_ is None else self.y_transformer_.transform(y)
        self._check_dense(y_t, "y")
        return y_t

    # ------------------------------------------------------ shared space ---
    def transform(self, X, y=None):
        """Map X (and optionally its paired y) into the shared space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view, before preprocessing.
        y : array-like of shape (n_samples, n_features_y), default=None
            Second view, before preprocessing, paired row by row with ``X``.

        Returns
        -------
        X_scores : ndarray of shape (n_samples, n_components)
            Returned alone when ``y`` is None.
        (X_scores, y_scores) : tuple of ndarray
            When ``y`` is given.
        """
        check_is_fitted(self)
        X_t = self._transform_x(X)
        if y is None:
            return self.estimator_.transform(X_t)
        return self.estimator_.transform(X_t, self._transform_y(y))

    def _inverts_predictions(self):
        if self.y_transformer_ is None or self.inverse_predict is False:
            return False
        can_invert = hasattr(self.y_transformer_, "inverse_transform")
        if self.inverse_predict == "auto":
            return can_invert and not self._y_is_text
        if not can_invert:
            raise ValueError(
                "inverse_predict=True, but y_transformer "
                f"{type(self.y_transformer_).__name__} has no inverse_transform. "
                "Set inverse_predict='auto' or False to predict in the transformed "
                "y space."
            )
        return True

    def predict(self, X):
        """Predict the second view from the first.

        The estimator predicts y in the space ``y_transformer_`` maps to; that
        prediction is mapped back with ``y_transformer_.inverse_transform``
        when ``inverse_predict`` says so (see the parameter), and returned as
        it is otherwise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view, before preprocessing.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_features_y) or (n_samples,)
            In y's original units when inverted, else in the transformed space.
        """
        check_is_fitted(self)
        y_pred = self.estimator_.predict(self._transform_x(X))
        if self._inverts_predictions():
            y_pred = self.y_transformer_.inverse_transform(y_pred)
        return y_pred

    def score(self, X, y, sample_weight=None):
        """The estimator's score of the preprocessed views (mean reciprocal rank).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view, before preprocessing.
        y : array-like of shape (n_samples, n_features_y)
            Second view, before preprocessing, paired row by row with ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each pair in the average.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        return self.estimator_.score(
            self._transform_x(X), self._transform_y(y), sample_weight=sample_weight
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

        Queries and gallery are preprocessed by their own view's transformer,
        then searched as by the estimator's ``retrieve``.

        Parameters
        ----------
        queries : array-like of shape (n_queries, ...)
            Rows of the view named by ``query_view``, before preprocessing.
        gallery : array-like of shape (n_gallery, ...)
            Rows of the other view, before preprocessing.
        query_view : {"X", "y"}, default="X"
            ``"X"``: queries are rows of the first view and the gallery holds
            rows of ``y``; ``"y"``: the other way round.
        n_neighbors : int, default=5
            How many gallery rows to return per query.
        similarity : {"cosine", "csls"}, default="cosine"
            Cosine similarity in the shared space, or CSLS (hubness-corrected).
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
        if query_view == "X":
            queries, gallery = self._transform_x(queries), self._transform_y(gallery)
        else:
            queries, gallery = self._transform_y(queries), self._transform_x(gallery)
        return self.estimator_.retrieve(
            queries,
            gallery,
            query_view=query_view,
            n_neighbors=n_neighbors,
            similarity=similarity,
            csls_k=csls_k,
        )

    # ---------------------------------------------------------- metadata ---
    def get_feature_names_out(self, input_features=None):
        """Names of the shared-space components.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Names of X's features, checked against those seen in fit.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The estimator's component names.
        """
        check_is_fitted(self)
        if self.x_transformer_ is None:
            return self.estimator_.get_feature_names_out(input_features)
        if input_features is not None:
            self.x_transformer_.get_feature_names_out(input_features)
        return self.estimator_.get_feature_names_out()

    @property
    def n_components_(self):
        """Dimension of the shared space, as fitted by the estimator."""
        return self.estimator_.n_components_

    @property
    def n_features_in_(self):
        """Number of features of X seen during fit."""
        first = self.estimator_ if self.x_transformer_ is None else self.x_transformer_
        return first.n_features_in_

    @property
    def feature_names_in_(self):
        """Names of X's features seen during fit."""
        first = self.estimator_ if self.x_transformer_ is None else self.x_transformer_
        return first.feature_names_in_

    def set_output(self, *, transform=None):
        """Set the output container of ``transform``, here and in the estimator.

        The transformers' outputs are internal, so they are left as they are.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            See :meth:`sklearn.base.TransformerMixin.set_output`.

        Returns
        -------
        self : object
        """
        super().set_output(transform=transform)
        _safe_set_output(self.estimator, transform=transform)
        if hasattr(self, "estimator_"):
            _safe_set_output(self.estimator_, transform=transform)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator_tags = get_tags(self.estimator)
        tags.target_tags = estimator_tags.target_tags
        tags.target_tags.required = True
        first = self.estimator if self.x_transformer is None else self.x_transformer
        tags.input_tags = get_tags(first).input_tags
        return tags


def _clone_or_none(transformer):
    return None if transformer is None else clone(transformer)


def _fit_transform(transformer, view):
    return view if transformer is None else transformer.fit_transform(view)
