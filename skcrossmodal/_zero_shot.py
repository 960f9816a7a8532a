"""Zero-shot classification in a shared space.

A two-view estimator fitted on pairs (images and their captions) places both
views in one space. A class can then be described in the second view (the
caption "a handwritten seven") instead of by labelled examples of the first:
an image is assigned the class whose description is most similar to it. No
label is needed to train; labels, when available, only tune how confident the
probabilities are (the temperature).
"""

import numbers

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
)

from ._compat import Interval, StrOptions, _fit_context
from .retrieval import _final_two_view_step, retrieve

__all__ = ["ZeroShotClassifier"]


class ZeroShotClassifier(ClassifierMixin, BaseEstimator):
    """Classify rows of one view by their similarity to class prototypes.

    Each class is described by one row of the other view (its prototype: the
    caption of its name, a spoken name, a typical example). A query is
    embedded with a fitted two-view ``estimator``, compared by cosine
    similarity in the shared space with every embedded prototype, and given
    the most similar prototype's class; ``predict_proba`` is the softmax of
    the similarities divided by a temperature.

    Parameters
    ----------
    estimator : object
        A fitted two-view estimator, a fitted ``Pipeline`` or
        ``TwoViewPipeline`` ending in one, or a fitted ``GridSearchCV`` over
        them. It is used as it is and never refitted; wrap it in
        :class:`sklearn.frozen.FrozenEstimator` to keep it fitted through
        ``clone`` (``cross_val_score``, ``GridSearchCV``).
    prototypes : array-like of shape (n_classes, n_features_of_prototype_view)
        One row of the prototype view per class, raw (before any
        preprocessing of the pipeline).
    classes : array-like of shape (n_classes,), default=None
        The class of each prototype; None numbers them ``0..n_classes-1``.
    prototype_view : {"y", "X"}, default="y"
        The view the prototypes belong to; queries belong to the other one.
    temperature : float or "auto", default=0.05
        Softmax temperature of ``predict_proba``. ``"auto"`` fits it in
        :meth:`fit` by maximising the likelihood of labelled ``y`` (the
        predicted classes do not depend on it).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the order of ``prototypes``.
    temperature_ : float
        The temperature used by ``predict_proba``.

    See Also
    --------
    skcrossmodal.retrieval.retrieve : The search this classifier runs.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import CrossModalEmbedding, ZeroShotClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)); y = X @ rng.normal(size=(4, 3))
    >>> model = CrossModalEmbedding().fit(X, y)
    >>> prototypes = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> clf = ZeroShotClassifier(model, prototypes, classes=["a", "b", "c"]).fit(X)
    >>> clf.predict(X[:4]).shape
    (4,)
    >>> bool(np.allclose(clf.predict_proba(X[:4]).sum(axis=1), 1.0))
    True
    """

    _parameter_constraints = {
        "estimator": "no_validation",  # checked in fit, with a clear message
        "prototypes": ["array-like"],
        "classes": ["array-like", None],
        "prototype_view": [StrOptions({"X", "y"})],
        "temperature": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
    }

    def __init__(
        self,
        estimator,
        prototypes,
        *,
        classes=None,
        prototype_view="y",
        temperature=0.05,
    ):
        self.estimator = estimator
        self.prototypes = prototypes
        self.classes = classes
        self.prototype_view = prototype_view
        self.temperature = temperature

    def _similarities(self, X):
        """Cosine of each query to each prototype, columns in class order."""
        prototypes = self._prototypes
        n_classes = len(prototypes)
        query_view = "X" if self.prototype_view == "y" else "y"
        scores, indices = retrieve(
            self.estimator,
            X,
            prototypes,
            query_view=query_view,
            n_neighbors=n_classes,
        )
        similarities = np.empty_like(scores, dtype=np.float64)
        np.put_along_axis(similarities, indices, scores, axis=1)
        return similarities

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Embed the prototypes' classes; with labels, fit the temperature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_of_query_view)
            Raw rows of the query view. Only used (with ``y``) to fit
            ``temperature="auto"``; otherwise checked and ignored.
        y : array-like of shape (n_samples,), default=None
            Classes of ``X``; not needed unless ``temperature="auto"``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows when fitting the temperature.

        Returns
        -------
        self : ZeroShotClassifier
        """
        # A clear TypeError if it is not two-view, a clear error if unfitted.
        _, final = _final_two_view_step(self.estimator)
        try:
            check_is_fitted(final)
        except NotFittedError as error:
            raise NotFittedError(
                "ZeroShotClassifier uses a fitted two-view estimator and never "
                "fits it; fit it first. Cloning (cross_val_score, GridSearchCV) "
                "unfits it: wrap it in sklearn.frozen.FrozenEstimator."
            ) from error
        prototypes = self.prototypes
        # Raw rows of any type the pipeline takes (texts, DataFrames): the
        # wrapped estimator validates them.
        if not hasattr(prototypes, "shape"):
            prototypes = np.asarray(prototypes)
        n_classes = len(prototypes)
        if n_classes < 2:
            raise ValueError(
                f"ZeroShotClassifier needs at least 2 prototypes; got {n_classes}."
            )
        if self.classes is None:
            classes = np.arange(n_classes)
        else:
            classes = np.asarray(self.classes)
            if classes.ndim != 1 or len(classes) != n_classes:
                raise ValueError(
                    f"classes must name each of the {n_classes} prototypes; got "
                    f"shape {classes.shape}."
                )
            if len(np.unique(classes)) != n_classes:
                raise ValueError("classes must be distinct, one per prototype.")
        self._prototypes = prototypes
        similarities = self._similarities(X)
        if y is None:
            if self.temperature == "auto":
                raise ValueError(
                    "temperature='auto' is fitted from labelled data: pass y to "
                    "fit, or give a number for label-free use."
                )
            self.temperature_ = float(self.temperature)
        else:
            y = np.asarray(y)
            if type_of_target(y) not in ("binary", "multiclass"):
                raise ValueError(
                    "y must hold one class per row of X; got a target of type "
                    f"{type_of_target(y)!r}."
                )
            check_consistent_length(similarities, y)
            unknown = np.setdiff1d(y, classes)
            if unknown.size:
                raise ValueError(
                    f"y holds classes without a prototype: {unknown[:5].tolist()}."
                )
            self.temperature_ = (
                float(self.temperature)
                if self.temperature != "auto"
                else _fit_temperature(similarities, classes, y, sample_weight)
            )
        self.classes_ = classes
        return self

    def decision_function(self, X):
        """Cosine similarity of each row to each class prototype.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_of_query_view)
            Raw rows of the query view.

        Returns
        -------
        similarities : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self._similarities(X)

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
        return softmax(self.decision_function(X) / self.temperature_, axis=1)

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
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


def _fit_temperature(similarities, classes, y, sample_weight):
    """Temperature maximising the (weighted) likelihood of the true classes."""
    columns = np.searchsorted(classes, y, sorter=np.argsort(classes))
    columns = np.argsort(classes)[columns]
    weights = (
        np.ones(len(y))
        if sample_weight is None
        else check_array(sample_weight, ensure_2d=False, input_name="sample_weight")
    )
    rows = np.arange(len(y))

    def negative_log_likelihood(log_temperature):
        log_proba = log_softmax(similarities / np.exp(log_temperature), axis=1)
        return -np.average(log_proba[rows, columns], weights=weights)

    # Cosines lie in [-1, 1]: temperatures beyond this range change nothing.
    result = minimize_scalar(
        negative_log_likelihood, bounds=(np.log(1e-4), np.log(1e2)), method="bounded"
    )
    return float(np.exp(result.x))
