"""Tests for zero-shot classification through a shared space."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, TwoViewPipeline, ZeroShotClassifier
from skcrossmodal.datasets import load_digit_views, make_paired_views


@pytest.fixture(scope="module")
def fitted_views():
    X, y, labels = make_paired_views(n_samples=300, random_state=0)
    model = CrossModalEmbedding(n_components=5).fit(X, y)
    classes = np.unique(labels)
    prototypes = np.stack([y[labels == c].mean(axis=0) for c in classes])
    return X, y, labels, model, classes, prototypes


def _cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return a @ b.T


def test_predictions_are_the_most_similar_prototype(fitted_views):
    """decision_function: cosines to the embedded prototypes; predict: argmax."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = ZeroShotClassifier(model, prototypes, classes=classes).fit(X)
    X_scores = model.transform(X)
    prototype_scores = model.transform(X[: len(prototypes)], prototypes)[1]
    expected = _cosine(X_scores, prototype_scores)
    assert_allclose(clf.decision_function(X), expected, atol=1e-10)
    assert_array_equal(clf.predict(X), classes[np.argmax(expected, axis=1)])
    assert_allclose(clf.predict_proba(X), softmax(expected / 0.05, axis=1))
    # The classes are recovered without any label used in training.
    assert clf.score(X, labels) > 0.7


def test_fitted_temperature_minimises_log_loss(fitted_views):
    """temperature='auto' is the likelihood optimum (checked on a fine grid)."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = ZeroShotClassifier(model, prototypes, classes=classes, temperature="auto")
    clf.fit(X, labels)
    S = clf.decision_function(X)
    columns = np.searchsorted(classes, labels)
    grid = np.exp(np.linspace(np.log(1e-3), np.log(10), 400))
    losses = [
        -log_softmax(S / t, axis=1)[np.arange(len(S)), columns].mean() for t in grid
    ]
    best = log_loss(labels, clf.predict_proba(X), labels=classes)
    assert best <= min(losses) + 1e-6
    # Labels only tune confidence: the predicted classes do not move.
    fixed = ZeroShotClassifier(model, prototypes, classes=classes).fit(X)
    assert_array_equal(clf.predict(X), fixed.predict(X))


def test_prototypes_of_the_first_view(fitted_views):
    """prototype_view='X' classifies rows of y by X-view prototypes."""
    X, y, labels, model, classes, _ = fitted_views
    prototypes = np.stack([X[labels == c].mean(axis=0) for c in classes])
    clf = ZeroShotClassifier(model, prototypes, classes=classes, prototype_view="X")
    assert clf.fit(y).score(y, labels) > 0.7


def test_text_prototypes_through_a_two_view_pipeline():
    """Digit images classified by the captions of the class names."""
    data = load_digit_views(kind="captions")
    model = TwoViewPipeline(
        CrossModalEmbedding(n_components=9, whiten=True, reg=0.1),
        x_transformer=StandardScaler(),
        y_transformer=make_pipeline(
            TfidfVectorizer(), TruncatedSVD(n_components=20, random_state=0)
        ),
    ).fit(data.X[:1200], data.y[:1200])
    names = ["zero", "one", "two", "three", "four"]
    names += ["five", "six", "seven", "eight", "nine"]
    prototypes = [f"a handwritten {name}" for name in names]
    clf = ZeroShotClassifier(model, prototypes).fit(data.X[:1200])
    assert clf.score(data.X[1200:], data.target[1200:]) > 0.6


def test_frozen_estimator_survives_cloning(fitted_views):
    """Wrapped in FrozenEstimator, the model stays fitted through cross-validation."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = ZeroShotClassifier(FrozenEstimator(model), prototypes, classes=classes)
    scores = cross_val_score(clf, X, labels, cv=3)
    assert scores.min() > 0.6
    with pytest.raises(NotFittedError, match="FrozenEstimator"):
        clone(ZeroShotClassifier(model, prototypes)).fit(X)


@pytest.mark.parametrize(
    "kwargs, fit_y, error, match",
    [
        ({"temperature": "auto"}, None, ValueError, "pass y to fit"),
        ({"classes": ["a", "b"]}, None, ValueError, "name each of the"),
        ({"classes": "repeated"}, None, ValueError, "distinct"),
        ({}, np.full(300, 9), ValueError, "without a prototype"),
        ({}, np.linspace(0, 1, 300), ValueError, "one class per row"),
        ({"temperature": 0.0}, None, ValueError, "temperature"),
    ],
)
def test_bad_input_is_a_clear_error(fitted_views, kwargs, fit_y, error, match):
    """Missing labels for 'auto', wrong classes, unknown labels: named errors."""
    X, _, _, model, classes, prototypes = fitted_views
    kwargs = {"classes": classes, **kwargs}
    if isinstance(kwargs["classes"], str):  # "repeated"
        kwargs["classes"] = np.repeat(classes[:1], len(classes))
    with pytest.raises(error, match=match):
        ZeroShotClassifier(model, prototypes, **kwargs).fit(X, fit_y)


def test_a_model_that_cannot_retrieve_is_refused(fitted_views):
    """Anything but a two-view estimator (or pipeline of one) is a TypeError."""
    X, _, _, model, _, prototypes = fitted_views
    with pytest.raises(TypeError, match="not a two-view estimator"):
        ZeroShotClassifier(StandardScaler().fit(X), prototypes).fit(X)
    with pytest.raises(ValueError, match="at least 2 prototypes"):
        ZeroShotClassifier(model, prototypes[:1]).fit(X)
