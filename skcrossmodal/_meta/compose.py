"""Preprocess both views inside one two-view estimator.

``sklearn.pipeline.Pipeline`` transforms X only; y reaches the final step as it
came. A scaler or text vectoriser fitted on all of y *before* cross-validation
would see every test fold, so the scores would be optimistic. ``TwoViewPipeline``
owns one transformer per view and fits both on the training fold only.
"""

import numpy as np
from scipy import sparse
from sklearn import get_config
from sklearn.base import clone
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import get_routing_for_object
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, StrOptions
from ..base import CrossModalEstimator, atomic_fit


def _is_text_or_object(y):
    """Whether y holds strings or Python objects rather than numbers."""
    if sparse.issparse(y):
        return False
    return np.asarray(y).dtype.kind in "OSU"


class TwoViewPipeline(CrossModalEstimator):
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
    estimator : CrossModalEstimator
        A two-view estimator (a subclass of
        :class:`~skcrossmodal.base.CrossModalEstimator`), e.g.
        :class:`~skcrossmodal.CrossModalEmbedding`.
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
        "estimator": [CrossModalEstimator],
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
    # Nested validation on, as in ``Pipeline``: the inner estimator's and the
    # transformers' own ``fit`` check their parameters (a skipped check let
    # ``n_components=-1`` fit and transform to two columns).
    @atomic_fit(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Fit each view's transformer, then the estimator on the transformed views.

        A call that raises leaves the pipeline exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view, in whatever form ``x_transformer`` accepts.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view, in whatever form ``y_transformer`` accepts (for
            instance a list of strings for a text vectoriser). Required.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each pair, passed to the estimator's ``fit`` (the
            transformers are fitted unweighted) unless metadata routing is
            enabled and the estimator's fit request for it is False.

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
        self._y_is_text = _is_text_or_object(y)
        self.estimator_ = clone(self.estimator)
        X_t = self._checked_output(_fit_transform(self.x_transformer_, X), X, "x")
        y_t = self._checked_output(_fit_transform(self.y_transformer_, y), y, "y")
        self._fit_views(X_t, y_t, sample_weight)
        return self

    def _fit_views(self, X, y, sample_weight):
        if sample_weight is not None and _requested(self.estimator_, "fit"):
            self.estimator_.fit(X, y, sample_weight=sample_weight)
        else:
            self.estimator_.fit(X, y)

    def _checked_output(self, view_t, view, name):
        """Refuse sparse or non-finite output that the view's transformer made."""
        transformer = getattr(self, f"{name}_transformer_")
        if transformer is None:
            return view_t
        # A sparse view that the user passed without a transformer reaches the
        # estimator unchanged, and the estimator's own error explains it.
        if sparse.issparse(view_t):
            if not get_tags(self.estimator_).input_tags.sparse:
                raise TypeError(
                    f"{name}_transformer returned a sparse matrix, but dense data "
                    f"is required by {type(self.estimator_).__name__}. End "
                    f"{name}_transformer with a step that returns a dense array, "
                    "for example make_pipeline(TfidfVectorizer(), TruncatedSVD(50))."
                )
            return view_t
        values = np.asarray(view_t)
        if values.dtype.kind in "fc" and not np.isfinite(values).all():
            if _is_finite_numeric(view):
                raise ValueError(
                    f"{name}_transformer ({type(transformer).__name__}) returned NaN "
                    f"or infinite values for finite input {'X' if name == 'x' else 'y'}"
                    "; fix or replace the transformer (for example, a logarithm of "
                    "non-positive values)."
                )
        return view_t

    def _transform_x(self, X):
        X_t = X if self.x_transformer_ is None else self.x_transformer_.transform(X)
        return self._checked_output(X_t, X, "x")

    def _transform_y(self, y):
        if self.y_transformer_ is None:
            return y
        expected = getattr(self.y_transformer_, "n_features_in_", None)
        width = _width(y)
        if expected is not None and width is not None and width != expected:
            raise ValueError(
                f"y has {width} features, but {type(self).__name__} is expecting "
                f"{expected} features as input (those y_transformer was fitted on)."
            )
        return self._checked_output(self.y_transformer_.transform(y), y, "y")

    # ------------------------------------------------------------- hooks ---
    # The contract (transform, score, retrieve, pandas output) is the base's;
    # the pipeline only says how raw views reach the estimator's shared space.
    def _check_x_view(self, X):
        return self.estimator_._check_x_view(self._transform_x(X))

    def _check_y_view(self, y):
        return self.estimator_._check_y_view(self._transform_y(y))

    def _embed_x(self, X):
        return self.estimator_._embed_x(X)

    def _embed_y(self, y):
        return self.estimator_._embed_y(y)

    def _predict_views(self, X):
        return self.estimator_._predict_views(X)

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
        """Mean reciprocal rank of true partners, after each view's preprocessing.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view, before preprocessing.
        y : array-like of shape (n_samples, n_features_y)
            Second view, before preprocessing, paired row by row with ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each pair in the average (ignored when metadata routing
            is enabled and the estimator's score request for it is False).

        Returns
        -------
        score : float
        """
        if sample_weight is not None and not _requested(self.estimator_, "score"):
            sample_weight = None
        return super().score(X, y, sample_weight=sample_weight)

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator_tags = get_tags(self.estimator)
        tags.target_tags = estimator_tags.target_tags
        tags.target_tags.required = True
        tags.two_view_tags = estimator_tags.two_view_tags
        first = self.estimator if self.x_transformer is None else self.x_transformer
        tags.input_tags = get_tags(first).input_tags
        return tags


def _requested(estimator, method):
    """Whether ``sample_weight`` may go to ``estimator.<method>``.

    Always, unless metadata routing is enabled and the estimator's request for
    it is explicitly False.
    """
    if not get_config().get("enable_metadata_routing", False):
        return True
    requests = getattr(get_routing_for_object(estimator), method).requests
    return requests.get("sample_weight") is not False


def _width(view):
    """Columns of a 2-D numeric view, or None (text, 1-D, or not an array)."""
    shape = getattr(view, "shape", None)
    if shape is None or len(shape) != 2:
        return None
    return shape[1]


def _is_finite_numeric(view):
    try:
        values = np.asarray(view)
    except Exception:
        return False
    return values.dtype.kind in "biuf" and bool(np.isfinite(values).all())


def _clone_or_none(transformer):
    return None if transformer is None else clone(transformer)


def _fit_transform(transformer, view):
    return view if transformer is None else transformer.fit_transform(view)
