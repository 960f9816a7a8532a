"""Tests for zero-shot classification through a shared space."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal
from scipy import linalg
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.decomposition import TruncatedSVD
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
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


def _zero_shot(model, prototypes, **kwargs):
    return ZeroShotClassifier(FrozenEstimator(model), prototypes=prototypes, **kwargs)


def test_predictions_are_the_most_similar_prototype(fitted_views):
    """decision_function: cosines to the embedded prototypes; predict: argmax."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = _zero_shot(model, prototypes, classes=classes).fit(X)
    X_scores = model.transform(X)
    prototype_scores = model.transform(X[: len(prototypes)], prototypes)[1]
    expected = _cosine(X_scores, prototype_scores)
    assert_allclose(clf.decision_function(X), expected, atol=1e-10)
    assert_array_equal(clf.predict(X), classes[np.argmax(expected, axis=1)])
    assert_allclose(clf.predict_proba(X), softmax(expected / 0.05, axis=1))
    # The classes are recovered without any label used in training.
    assert clf.score(X, labels) > 0.7
    # Frozen means frozen: fit with labels leaves the model as it was.
    coef = model.coef_.copy()
    assert clf.fit(X, labels).estimator_.estimator is model
    assert_array_equal(model.coef_, coef)


def test_fitted_temperature_minimises_log_loss(fitted_views):
    """temperature='auto' is the likelihood optimum (checked on a fine grid)."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = _zero_shot(model, prototypes, classes=classes, temperature="auto")
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
    fixed = _zero_shot(model, prototypes, classes=classes).fit(X)
    assert_array_equal(clf.predict(X), fixed.predict(X))


def test_prototypes_of_the_first_view(fitted_views):
    """prototype_view='X' classifies rows of y by X-view prototypes."""
    X, y, labels, model, classes, _ = fitted_views
    prototypes = np.stack([X[labels == c].mean(axis=0) for c in classes])
    clf = _zero_shot(model, prototypes, classes=classes, prototype_view="X")
    assert clf.fit(y).score(y, labels) > 0.7
    assert clf.n_features_in_ == y.shape[1]


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
    clf = _zero_shot(model, prototypes).fit(data.X[:1200])
    assert clf.score(data.X[1200:], data.target[1200:]) > 0.6


def test_frozen_estimator_survives_cloning(fitted_views):
    """Wrapped in FrozenEstimator, the model stays fitted through cross-validation."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = _zero_shot(model, prototypes, classes=classes)
    scores = cross_val_score(clf, X, labels, cv=3)
    assert scores.min() > 0.6
    # Not frozen: fit needs labels to fit it, and says how to keep it fitted.
    with pytest.raises(ValueError, match="FrozenEstimator"):
        ZeroShotClassifier(model, prototypes=prototypes).fit(X)
    with pytest.raises(NotFittedError, match="unfitted model"):
        _zero_shot(CrossModalEmbedding(), prototypes).fit(X)


def _canonical_discriminant_scores(X, labels, classes):
    """Hand computation: cos(rho * u(x), class mean of u), u the canonical variates.

    Fisher's discriminant from the generalised eigenproblem ``B a = rho^2 T a``
    (between-class against total covariance), independent of the library.
    """
    mean = X.mean(axis=0)
    centred = X - mean
    total = centred.T @ centred / len(X)
    class_means = np.stack([centred[labels == c].mean(axis=0) for c in classes])
    shares = np.array([np.mean(labels == c) for c in classes])
    between = (class_means * shares[:, None]).T @ class_means
    rho_squared, directions = linalg.eigh(between, total)  # a^T T a = 1
    keep = rho_squared > 1e-9
    rho = np.sqrt(rho_squared[keep])
    u = centred @ directions[:, keep]
    return _cosine(u * rho, class_means @ directions[:, keep])


@settings(max_examples=examples(20), deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n_classes=st.integers(2, 5),
    n_features=st.integers(1, 6),
    balanced=st.booleans(),
)
def test_one_hot_prototypes_learn_fishers_discriminant(
    seed, n_classes, n_features, balanced
):
    """Supervised, with one-hot prototypes: the canonical discriminant rule."""
    rng = np.random.default_rng(seed)
    n = 40 * n_classes
    labels = np.arange(n) % n_classes if balanced else rng.integers(0, n_classes, n)
    labels[:n_classes] = np.arange(n_classes)  # every class present
    X = (
        rng.normal(size=(n, n_features))
        + rng.normal(size=(n_classes, n_features))[labels]
    )
    # Tiny shrinkage: nearly exact CCA, while the (singular) indicator view can
    # still be whitened.
    reg = 1e-7
    clf = ZeroShotClassifier(CrossModalEmbedding(reg=reg)).fit(X, labels)
    expected = _canonical_discriminant_scores(X, labels, np.arange(n_classes))
    scores = clf.predict_proba(X)  # all columns, also for two classes
    assert_allclose(
        np.log(scores) * clf.temperature_,
        log_softmax(expected / clf.temperature_, axis=1) * clf.temperature_,
        atol=_shrinkage_tolerance(reg, X, labels, n_classes),
        rtol=0,
    )


def _shrinkage_tolerance(reg, X, labels, n_classes):
    """How far ``reg`` moves the scores from exact CCA, to first order.

    Shrinking a covariance C to ``(1 - reg) C + reg * mean(diag C) I`` moves
    its whitening by ``reg * kappa`` relative, ``kappa = mean(diag C) /
    lambda_min(C)`` (the smallest non-zero eigenvalue for the indicators, whose
    centred covariance is singular). The scores are cosines and log-softmax
    differences of them, which amplify that by a bounded factor: the largest
    seen over 300 random cases was 4.6, and 20 leaves a margin for the
    examples CI draws. Rounding (1e-12) is far below.
    """
    centred = X - X.mean(axis=0)
    indicators = np.eye(n_classes)[labels]
    indicators -= indicators.mean(axis=0)
    kappa = 0.0
    for view in (centred, indicators):
        cov = view.T @ view / len(view)
        eigenvalues = linalg.eigvalsh(cov)
        smallest = eigenvalues[eigenvalues > 1e-12 * eigenvalues.max()].min()
        kappa += np.trace(cov) / cov.shape[0] / smallest
    return 20 * reg * kappa + 1e-12


def test_one_hot_prototypes_agree_with_sklearns_lda():
    """Against scikit-learn's LinearDiscriminantAnalysis on separated classes."""
    X, labels = make_blobs(n_samples=600, centers=5, n_features=6, random_state=0)
    clf = ZeroShotClassifier(CrossModalEmbedding()).fit(X, labels)
    lda = LinearDiscriminantAnalysis().fit(X, labels)
    # The same discriminant space: each canonical axis is an LDA axis.
    ours = clf.estimator_.transform(X)[:, :4]
    theirs = lda.transform(X)
    correlations = np.corrcoef(ours, theirs, rowvar=False)[:4, 4:]
    assert_allclose(np.abs(np.diag(correlations)), 1.0, atol=1e-3)
    assert np.mean(clf.predict(X) == lda.predict(X)) > 0.99
    # Two balanced classes: LDA's boundary is the midpoint of the class means,
    # which is where the two cosines change sign: the same predictions.
    X2, labels2 = make_blobs(
        n_samples=[150, 150], centers=[[0, 0, 0], [2, 1, 0]], random_state=1
    )
    clf = ZeroShotClassifier(CrossModalEmbedding(reg=1e-7)).fit(X2, labels2)
    lda = LinearDiscriminantAnalysis().fit(X2, labels2)
    assert_array_equal(clf.predict(X2), lda.predict(X2))
    assert_array_equal(clf.decision_function(X2) > 0, lda.decision_function(X2) > 0)


def test_given_prototypes_fit_the_model_on_pairs(fitted_views):
    """Not frozen: the clone is fitted on (row, prototype of its class) pairs."""
    X, _, labels, _, classes, prototypes = fitted_views
    model = CrossModalEmbedding(n_components=2)
    clf = ZeroShotClassifier(model, prototypes=prototypes, classes=classes)
    clf.fit(X, labels)
    assert not hasattr(model, "coef_")  # the clone was fitted, not the parameter
    positions = np.searchsorted(classes, labels)
    reference = clone(model).fit(X, prototypes[positions])
    expected = _cosine(
        reference.transform(X), reference.transform(X[:3], prototypes)[1]
    )
    assert_allclose(clf.predict_proba(X), softmax(expected / 0.05, axis=1))


def test_classes_order_the_columns():
    """String labels; classes= fixes the order of the one-hot prototypes."""
    X, labels = make_blobs(n_samples=120, centers=3, random_state=2)
    names = np.array(["cat", "dog", "emu"])[labels]
    default = ZeroShotClassifier(CrossModalEmbedding()).fit(X, names)
    assert_array_equal(default.classes_, ["cat", "dog", "emu"])
    order = ["emu", "cat", "dog"]
    ordered = ZeroShotClassifier(CrossModalEmbedding(), classes=order).fit(X, names)
    assert_array_equal(ordered.classes_, order)
    assert_allclose(
        ordered.predict_proba(X), default.predict_proba(X)[:, [2, 0, 1]], atol=1e-10
    )
    assert_array_equal(ordered.predict(X), default.predict(X))


def _bad_cases(prototypes, classes):
    nan_prototypes = prototypes.copy()
    nan_prototypes[0, 0] = np.nan
    return [
        # (params, y, error, match)
        ({"temperature": "auto"}, None, ValueError, "pass y to fit"),
        ({"classes": ["a", "b"]}, None, ValueError, "name each of the"),
        ({"classes": np.repeat(classes[:1], len(classes))}, None, ValueError, "dist"),
        ({"temperature": "auto"}, np.full(300, 9), ValueError, "not among the"),
        ({}, np.linspace(0, 1, 300), ValueError, "Unknown label type"),
        ({"temperature": 0.0}, None, ValueError, "temperature"),
        ({"prototypes": prototypes[:, :-1]}, None, ValueError, "columns but"),
        ({"prototypes": nan_prototypes}, None, ValueError, "prototypes contains NaN"),
        ({"prototypes": None}, None, ValueError, "needs prototypes"),
        ({"prototypes": prototypes[:1], "classes": None}, None, ValueError, "least"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_bad_input_is_a_clear_error_and_changes_nothing(fitted_views, case):
    """Wrong prototypes, classes, labels or temperature: named errors; the
    classifier fitted before is left as it was."""
    X, _, labels, model, classes, prototypes = fitted_views
    params, fit_y, error, match = _bad_cases(prototypes, classes)[case]
    clf = _zero_shot(model, prototypes, classes=classes).fit(X)
    before = clf.predict_proba(X), dict(vars(clf))
    clf.set_params(**params)
    with pytest.raises(error, match=match):
        clf.fit(X, fit_y)
    state = {k: v for k, v in vars(clf).items() if k.endswith("_")}
    assert state.keys() == {k for k in before[1] if k.endswith("_")}
    assert all(state[k] is before[1][k] for k in state)
    assert_array_equal(clf.predict_proba(X), before[0])


def test_bad_queries_and_models(fitted_views):
    """NaN queries, a model that is not two-view, one class: named errors."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = _zero_shot(model, prototypes, classes=classes).fit(X)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(X_nan)
    with pytest.raises(ValueError, match="NaN"):
        ZeroShotClassifier(CrossModalEmbedding()).fit(X_nan, labels)
    with pytest.raises(TypeError, match="not a two-view estimator"):
        _zero_shot(StandardScaler().fit(X), prototypes).fit(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        ZeroShotClassifier(CrossModalEmbedding()).fit(X, np.zeros(len(X)))
    # Prototypes given, but every row of one class: nothing to align.
    with pytest.raises(ValueError, match="at least 2 classes"):
        ZeroShotClassifier(CrossModalEmbedding(), prototypes=prototypes).fit(
            X, np.zeros(len(X), dtype=int)
        )


def test_auto_temperature_of_a_frozen_model_refuses_negative_weights(fitted_views):
    """Negative weights raise even though the frozen model is never refitted."""
    X, _, labels, model, classes, prototypes = fitted_views
    clf = _zero_shot(model, prototypes, classes=classes, temperature="auto")
    weights = np.ones(len(labels))
    weights[::3] = -1.0
    with pytest.raises(ValueError, match="Negative values in data"):
        clf.fit(X, labels, sample_weight=weights)
    assert not hasattr(clf, "temperature_")
