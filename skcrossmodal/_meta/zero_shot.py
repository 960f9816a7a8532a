"""Zero-shot classification in a shared space.

A two-view estimator fitted on pairs (images and their captions) places both
views in one space. A class can then be described in the second view (the
caption "a handwritten seven") instead of by labelled examples of the first:
an image is assigned the class whose description is most similar to it. No
label is needed to train such a model; labels, when available, only tune how
confident the probabilities are (the temperature).

A fitted K-view model (:class:`~skcrossmodal.MultiViewCCA` and its kin)
works the same way with any two of its views: ``prototype_view`` and
``query_view`` name them.

The same classifier also learns from labels when its model is not prefit: it
fits the two-view model on the pairs (row, prototype of the row's class),
which with one-hot prototypes and CCA is Fisher's discriminant analysis.
"""

import numbers

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from .._compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    _safe_indexing,
)
from .._multiview.views import check_view_name
from .._utils.validation import check_two_view, unwrap_two_view
from ..retrieval import retrieve, search_top_k

__all__ = ["ZeroShotClassifier"]


class ZeroShotClassifier(ClassifierMixin, BaseEstimator):
    """Classify rows of one view by their similarity to class prototypes.

    Each class is described by one row of the other view, its prototype: the
    caption of its name, a spoken name, a typical example, or (by default) its
    one-hot indicator. A query is embedded with a two-view ``estimator``,
    compared by cosine similarity in the shared space with every embedded
    prototype, and given the most similar prototype's class;
    ``predict_proba`` is the softmax of the similarities divided by a
    temperature.

    The two-view model is used in one of two ways, as scikit-learn treats
    prefit estimators:

    - **Zero-shot** (no label used to learn the space): wrap a fitted model
      in :class:`sklearn.frozen.FrozenEstimator`. :meth:`fit` then never
      refits it, needs no ``y`` (unless ``temperature="auto"``), and the model
      stays fitted through ``clone`` (``cross_val_score``, ``GridSearchCV``).
    - **Supervised**: any other ``estimator`` is cloned and the clone is
      fitted in :meth:`fit` on the pairs ``(X[i], prototypes[class of
      y[i]])``. With the default one-hot prototypes and a CCA model this is a
      linear discriminant (see Notes).

    Parameters
    ----------
    estimator : object
        A two-view estimator, a ``Pipeline`` or ``TwoViewPipeline`` ending in
        one, or a ``FrozenEstimator`` around a fitted one (or around a fitted
        ``GridSearchCV`` over them); or a ``FrozenEstimator`` around a fitted
        K-view model, whose ``prototype_view`` and ``query_view`` name two of
        its views. With a K-view model, queries and prototypes are rows laid
        out as the model's ``X`` (all its columns; only those of the query,
        respectively prototype, view are read, the others may be NaN).
    prototypes : array-like of shape (n_classes, n_features_of_prototype_view), \
            default=None
        One row of the prototype view per class, raw (before any
        preprocessing of the pipeline: texts for a text pipeline). None uses
        the one-hot indicators of the classes (the identity matrix), which
        needs a model fitted here, from labels.
    classes : array-like of shape (n_classes,), default=None
        The class of each prototype, in order. None numbers the given
        prototypes ``0..n_classes-1``, or, with ``prototypes=None``, takes
        the sorted distinct labels of ``y``.
    prototype_view : {"y", "X"}, str or int, default="y"
        The view the prototypes belong to. For a two-view model ``"y"`` or
        ``"X"``, the queries belonging to the other one. For a fitted K-view
        model (:class:`MultiViewCCA`, :class:`GeneralizedCCA`, their ``...CV``
        searches, a :class:`MultiViewPipeline`, frozen), the name or index of
        any of its views.
    query_view : str, int or None, default=None
        The view of the queries, for a K-view model (required there: any view
        other than ``prototype_view``). For a two-view model, None (or the
        view that is not ``prototype_view``).
    temperature : float or "auto", default=0.05
        Softmax temperature of ``predict_proba``. ``"auto"`` fits it in
        :meth:`fit` by maximising the likelihood of labelled ``y`` (the
        predicted classes do not depend on it).

    Attributes
    ----------
    estimator_ : object
        The two-view model that embeds queries and prototypes: the
        ``FrozenEstimator`` given, or the clone fitted in :meth:`fit`.
    prototypes_ : array-like of shape (n_classes, n_features_of_prototype_view)
        The prototypes, one per class in the order of ``classes_``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    temperature_ : float
        The temperature used by ``predict_proba``.
    n_features_in_ : int
        Number of features of the query view seen by the model, when it
        reports it.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the query view's features, when the model reports them.

    See Also
    --------
    skcrossmodal.retrieval.retrieve : The search this classifier runs.
    sklearn.discriminant_analysis.LinearDiscriminantAnalysis : Fisher's
        discriminant, whose space the supervised default learns.

    Notes
    -----
    With ``prototypes=None`` the second view of the pairs is the class
    indicator matrix, and canonical correlation analysis of a view against
    class indicators is Fisher's linear discriminant analysis (Bartlett,
    1938): the canonical directions of X are the discriminant directions and
    the squared canonical correlations ``rho_j^2`` are the shares of
    between-class variance along them. For :class:`CrossModalEmbedding`
    (``whiten=True``, negligible shrinkage) the embedded indicator of class
    ``c`` is the mean of class ``c`` in canonical variates ``u``, and a query
    scores ``cos(rho * u(x), mean_c(u))``: nearest class mean by angle in
    the discriminant space, weighting each axis by how well it separates
    the classes. This is a linear classifier; it equals LDA's rule for two
    balanced classes and agrees with it wherever classes are well separated,
    but unlike LDA it uses no class priors nor within-class variances.

    Examples
    --------
    Supervised: the model is fitted here, on (row, class indicator) pairs.

    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from skcrossmodal import CrossModalEmbedding, ZeroShotClassifier
    >>> X, labels = make_blobs(n_samples=150, centers=3, random_state=0)
    >>> clf = ZeroShotClassifier(CrossModalEmbedding()).fit(X, labels)
    >>> clf.classes_
    array([0, 1, 2])
    >>> bool(clf.score(X, labels) > 0.9)
    True

    Zero-shot: a fitted model, frozen, and one prototype per class.

    >>> from sklearn.frozen import FrozenEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)); y = X @ rng.normal(size=(4, 3))
    >>> model = CrossModalEmbedding().fit(X, y)
    >>> clf = ZeroShotClassifier(
    ...     FrozenEstimator(model), prototypes=np.eye(3), classes=["a", "b", "c"]
    ... ).fit(X)
    >>> clf.predict(X[:4]).shape
    (4,)
    >>> bool(np.allclose(clf.predict_proba(X[:4]).sum(axis=1), 1.0))
    True

    Any view of a K-view model as the prototypes: each digit described by
    the mean of its bottom-right quadrants, top-left quadrants classified.

    >>> from skcrossmodal import MultiViewCCA
    >>> from skcrossmodal.datasets import load_digit_quadrants
    >>> data = load_digit_quadrants()
    >>> model = MultiViewCCA(data.views, n_components=8).fit(data.X)
    >>> means = np.stack([data.X[data.target == c].mean(0) for c in range(10)])
    >>> clf = ZeroShotClassifier(
    ...     FrozenEstimator(model), prototypes=means,
    ...     prototype_view="bottom_right", query_view="top_left",
    ... ).fit(data.X)
    >>> bool(clf.score(data.X, data.target) > 0.3)
    True
    """

    _parameter_constraints = {
        "estimator": "no_validation",  # checked in fit, with a clear message
        "prototypes": ["array-like", None],
        "classes": ["array-like", None],
        # "X"/"y" for a two-view model, a view name or index for a K-view one
        # (checked in fit, against the model).
        "prototype_view": [str, numbers.Integral],
        "query_view": [str, numbers.Integral, None],
        "temperature": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
    }

    def __init__(
        self,
        estimator,
        *,
        prototypes=None,
        classes=None,
        prototype_view="y",
        query_view=None,
        temperature=0.05,
    ):
        self.estimator = estimator
        self.prototypes = prototypes
        self.classes = classes
        self.prototype_view = prototype_view
        self.query_view = query_view
        self.temperature = temperature

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model on labelled pairs (unless frozen) and the temperature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_of_query_view)
            Raw rows of the query view.
        y : array-like of shape (n_samples,), default=None
            Classes of ``X``. Required unless ``estimator`` is a
            ``FrozenEstimator`` and ``temperature`` is a number.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, in the model's fit and the temperature's.

        Returns
        -------
        self : ZeroShotClassifier
        """
        # Everything is computed into locals: a call that raises leaves the
        # classifier as it was.
        prefit = isinstance(self.estimator, FrozenEstimator)
        final = unwrap_two_view(self.estimator)[1]
        multiview = _is_multiview(final)
        if not multiview:
            check_two_view(final)  # a clear TypeError for anything else
        elif not prefit:
            raise TypeError(
                f"ZeroShotClassifier takes a K-view model ({type(final).__name__}) "
                "only fitted and frozen: wrap the fitted model in "
                "sklearn.frozen.FrozenEstimator (it is not fitted here on "
                "(row, prototype) pairs)."
            )
        if prefit:
            try:
                check_is_fitted(final)
            except NotFittedError as error:
                raise NotFittedError(
                    "The FrozenEstimator given to ZeroShotClassifier wraps an "
                    "unfitted model: fit it before freezing it."
                ) from error
        elif y is None:
            raise ValueError(
                "ZeroShotClassifier requires y to be passed, but the target y is "
                "None: a model that is not frozen is fitted here on (row, class "
                "prototype) pairs. For zero-shot use without labels, wrap the "
                "fitted model in sklearn.frozen.FrozenEstimator."
            )
        views = self._check_views(final, multiview)
        if prefit and self.prototypes is None:
            raise ValueError(
                "A frozen (prefit) model needs prototypes: one row of the "
                f"{self.prototype_view!r} view per class. One-hot prototypes "
                "(prototypes=None) only make sense for a model fitted here."
            )
        # Rows of any type the model takes (texts, DataFrames) pass through
        # to it; this only refuses an empty X with scikit-learn's message.
        check_array(
            X,
            accept_sparse=True,
            dtype=None,
            ensure_2d=False,
            allow_nd=True,
            ensure_all_finite=False,
        )
        if y is not None:
            y = column_or_1d(y, warn=True)
            # NaN and infinity first: the label-type check would cast them.
            y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
            check_classification_targets(y)
            check_consistent_length(X, y)
            if sample_weight is not None:
                # Checked here, not only by the model's fit: a frozen model is
                # not fitted, and the temperature's weights must be >= 0 too.
                sample_weight = _check_sample_weight(
                    sample_weight, X, ensure_non_negative=True
                )
        classes = self._check_classes(y, sample_weight)
        prototypes = self._check_prototypes(classes, prefit, multiview)
        if y is not None:
            unknown = np.setdiff1d(y, classes)
            if unknown.size:
                raise ValueError(
                    f"y holds labels that are not among the classes "
                    f"{classes.tolist()[:10]}: {unknown[:5].tolist()}."
                )

        if prefit:
            estimator = self.estimator
        else:
            estimator = self._fit_on_pairs(X, y, sample_weight, classes, prototypes)
        if self.temperature == "auto":
            if y is None:
                raise ValueError(
                    "temperature='auto' is fitted from labelled data: pass y to "
                    "fit, or give a number for label-free use."
                )
            similarities = _similarities(estimator, X, prototypes, views)
            temperature = _fit_temperature(similarities, classes, y, sample_weight)
        else:
            if prefit:
                # Embeds X and the prototypes once: a model that cannot take
                # them fails here, not at the first prediction.
                _similarities(estimator, X, prototypes, views)
            temperature = float(self.temperature)

        self.estimator_ = estimator
        self.prototypes_ = prototypes
        self.classes_ = classes
        self.temperature_ = temperature
        self._views = views
        self._set_input_attributes(estimator, multiview)
        return self

    def _check_views(self, final, multiview):
        """``(query view, prototype view)`` of the model, checked."""
        if not multiview:
            if self.prototype_view not in ("X", "y"):
                raise ValueError(
                    f"prototype_view must be 'X' or 'y' for a two-view model; got "
                    f"{self.prototype_view!r}."
                )
            other = "X" if self.prototype_view == "y" else "y"
            if self.query_view not in (None, other):
                raise ValueError(
                    f"query_view must be None or {other!r} for a two-view model "
                    f"with prototype_view={self.prototype_view!r}; got "
                    f"{self.query_view!r}."
                )
            return other, self.prototype_view
        names = list(final.view_names_)
        if self.query_view is None:
            raise ValueError(
                "A K-view model needs the view of the queries: pass query_view=<one "
                f"of {names}> (and prototype_view=<another>)."
            )
        query, prototype = (
            names[check_view_name(view, names)]
            for view in (self.query_view, self.prototype_view)
        )
        if query == prototype:
            raise ValueError(
                f"query_view and prototype_view are both {query!r}; the prototypes "
                "describe the classes in another view than the queries."
            )
        return query, prototype

    def _check_classes(self, y, sample_weight):
        """The classes, in prototype order, checked against the labels."""
        if self.classes is None:
            if self.prototypes is None:
                classes = np.unique(y)
            else:
                classes = np.arange(len(self.prototypes))
        else:
            classes = column_or_1d(np.asarray(self.classes))
            if len(np.unique(classes)) != len(classes):
                raise ValueError("classes must be distinct, one per prototype.")
        if self.prototypes is None and y is not None:
            # One-hot prototypes are learnt from the rows of each class: every
            # class needs rows of positive weight.
            weights = np.ones(len(y)) if sample_weight is None else sample_weight
            present = np.unique(y[weights > 0])
            absent = np.setdiff1d(classes, present)
            if len(present) < 2 or absent.size:
                raise ValueError(
                    "ZeroShotClassifier with one-hot prototypes learns each "
                    "class from its rows and needs at least 2 classes, each with "
                    f"rows of positive weight; got {len(present)} class(es)"
                    + (f", none for {absent[:5].tolist()}." if absent.size else ".")
                )
        if len(classes) < 2:
            raise ValueError(
                f"ZeroShotClassifier needs at least 2 classes; got {len(classes)}."
            )
        return classes

    def _check_prototypes(self, classes, prefit, multiview=False):
        """The prototype rows, one per class; numeric ones must be finite."""
        if self.prototypes is None:
            return np.eye(len(classes))
        prototypes = self.prototypes
        # Raw rows of any type the pipeline takes (texts, DataFrames): the
        # model validates them; numeric rows are checked here for a clear
        # message naming the prototypes.
        if not hasattr(prototypes, "shape"):
            prototypes = np.asarray(prototypes)
        if len(prototypes) != len(classes):
            raise ValueError(
                f"classes must name each of the {len(prototypes)} prototypes; got "
                f"{len(classes)} classes."
            )
        if isinstance(prototypes, np.ndarray) and prototypes.dtype.kind in "biuf":
            # A K-view model's rows: the other views' columns may be NaN.
            prototypes = check_array(
                prototypes,
                input_name="prototypes",
                ensure_all_finite="allow-nan" if multiview else True,
            )
            width = _view_width(
                self.estimator, "X" if multiview else self.prototype_view
            )
            if prefit and width is not None and prototypes.shape[1] != width:
                where = "X" if multiview else f"{self.prototype_view!r} view"
                raise ValueError(
                    f"prototypes have {prototypes.shape[1]} columns but the model's "
                    f"{where} has {width}."
                )
        return prototypes

    def _fit_on_pairs(self, X, y, sample_weight, classes, prototypes):
        """Clone the model and fit it on (row, prototype of its class) pairs."""
        positions = np.searchsorted(classes, y, sorter=np.argsort(classes))
        positions = np.argsort(classes)[positions]
        in_class = len(np.unique(positions))
        if in_class < 2:
            raise ValueError(
                "ZeroShotClassifier fits its model on (row, class prototype) "
                "pairs and needs rows of at least 2 classes; y holds 1 class."
            )
        partners = _safe_indexing(prototypes, positions)
        first, second = (X, partners) if self.prototype_view == "y" else (partners, X)
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return clone(self.estimator).fit(first, second, **fit_params)

    def _set_input_attributes(self, estimator, multiview=False):
        """Report the query view's width and names, as the model knows them."""
        if multiview or self.prototype_view == "y":
            values = {
                "n_features_in_": getattr(estimator, "n_features_in_", None),
                "feature_names_in_": getattr(estimator, "feature_names_in_", None),
            }
        else:
            values = {"n_features_in_": _view_width(estimator, "y")}
        for name in ("n_features_in_", "feature_names_in_"):
            value = values.get(name)
            if value is not None:
                setattr(self, name, value)
            elif name in self.__dict__:
                delattr(self, name)

    def _scores(self, X):
        check_is_fitted(self)
        return _similarities(self.estimator_, X, self.prototypes_, self._views)

    def decision_function(self, X):
        """Cosine similarity of each row to each class prototype.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_of_query_view)
            Raw rows of the query view.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Cosine to each class's prototype, columns in the order of
            ``classes_``. With two classes, scikit-learn's binary convention:
            the cosine to ``classes_[1]`` minus that to ``classes_[0]``
            (positive means ``classes_[1]``).
        """
        similarities = self._scores(X)
        if len(self.classes_) == 2:
            return similarities[:, 1] - similarities[:, 0]
        return similarities

    def predict_proba(self, X):
        """Softmax of the similarities divided by ``temperature_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_of_query_view)
            Raw rows of the query view.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return softmax(self._scores(X) / self.temperature_, axis=1)

    def predict(self, X):
        """Class of the most similar prototype.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_of_query_view)
            Raw rows of the query view.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        similarities = self._scores(X)
        return self.classes_[np.argmax(similarities, axis=1)]


def _view_width(estimator, view):
    """Columns the prefit model expects in ``view``, when it says."""
    if view == "X":
        return getattr(estimator, "n_features_in_", None)
    # A Pipeline passes y to its last step as it is.
    final = unwrap_two_view(estimator)[1]
    return getattr(final, "n_features_y_in_", None)


def _is_multiview(final):
    """Whether the unwrapped model maps K views of one X (not a pair).

    The K-view models (and only they) embed one view at a time with
    ``transform_view``.
    """
    return hasattr(final, "transform_view")


def _multiview_scores(estimator, X, prototypes, views):
    """Queries and prototypes in the shared space of a K-view model."""
    preprocessing, final = unwrap_two_view(estimator)
    embedded = []
    for rows, view, role in ((X, views[0], "X"), (prototypes, views[1], "prototypes")):
        if preprocessing is not None:
            rows = preprocessing.transform(rows)
        scores = final.transform_view(rows, view)
        lacking = np.flatnonzero(np.isnan(scores).any(axis=1))
        if lacking.size:
            raise ValueError(
                f"Row {int(lacking[0])} of {role} lacks view {view!r} ({lacking.size} "
                f"such rows): every row of {role} must have it."
            )
        embedded.append(scores)
    return embedded


def _similarities(estimator, X, prototypes, views):
    """Cosine of each query to each prototype, columns in class order.

    ``views`` is ``(query view, prototype view)``: ``"X"``/``"y"`` for a
    two-view model, view names for a K-view one.
    """
    n_classes = len(prototypes)
    if _is_multiview(unwrap_two_view(estimator)[1]):
        queries, gallery = _multiview_scores(estimator, X, prototypes, views)
        scores, indices = search_top_k(queries, gallery, n_neighbors=n_classes)
    else:
        scores, indices = retrieve(
            estimator, X, prototypes, query_view=views[0], n_neighbors=n_classes
        )
    similarities = np.empty_like(scores, dtype=np.float64)
    np.put_along_axis(similarities, indices, scores, axis=1)
    return similarities


def _fit_temperature(similarities, classes, y, sample_weight):
    """Temperature maximising the (weighted) likelihood of the true classes."""
    order = np.argsort(classes)
    columns = order[np.searchsorted(classes, y, sorter=order)]
    weights = np.ones(len(y)) if sample_weight is None else sample_weight
    rows = np.arange(len(y))

    def negative_log_likelihood(log_temperature):
        log_proba = log_softmax(similarities / np.exp(log_temperature), axis=1)
        return -np.average(log_proba[rows, columns], weights=weights)

    # Cosines lie in [-1, 1]: temperatures beyond this range change nothing.
    result = minimize_scalar(
        negative_log_likelihood, bounds=(np.log(1e-4), np.log(1e2)), method="bounded"
    )
    return float(np.exp(result.x))
