"""ZeroShotClassifier with any view of a fitted K-view model as the prototypes."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import StandardScaler

from skcrossmodal import (
    CrossModalEmbedding,
    MultiViewCCA,
    MultiViewCCACV,
    MultiViewPipeline,
    ZeroShotClassifier,
)
from skcrossmodal.datasets import load_digit_quadrants, make_multiview


@pytest.fixture(scope="module")
def quadrants():
    data = load_digit_quadrants()
    model = MultiViewCCA(data.views, n_components=8).fit(data.X)
    classes = np.arange(10)
    # Class means laid out as X, with every view but the prototype view NaN:
    # only the prototype view's columns may be read.
    prototypes = np.full((10, 64), np.nan)
    cols = data.views["bottom_right"]
    for c in classes:
        prototypes[c, cols] = data.X[data.target == c][:, cols].mean(axis=0)
    return data, model, classes, prototypes


def _hand_scores(model, X, view):
    """A view's scores from the fitted maps, rows scaled to unit norm."""
    k = model.view_names_.index(view)
    scores = (X[:, model.view_columns_[k]] - model.view_means_[k]) @ model.rotations_[k]
    return scores / np.linalg.norm(scores, axis=1, keepdims=True)


def test_any_view_as_prototypes_is_cosine_to_their_embeddings(quadrants):
    """decision_function, predict_proba and predict are the hand-computed cosines."""
    data, model, classes, prototypes = quadrants
    queries = data.X.copy()
    queries[:, data.views["top_right"]] = np.nan  # not the query view: unread
    clf = ZeroShotClassifier(
        FrozenEstimator(model),
        prototypes=prototypes,
        prototype_view="bottom_right",
        query_view="top_left",
        temperature=0.1,
    ).fit(queries)
    cosine = _hand_scores(model, data.X, "top_left") @ (
        _hand_scores(model, prototypes, "bottom_right").T
    )
    assert_allclose(clf.decision_function(queries), cosine, atol=1e-10)
    assert_allclose(clf.predict_proba(queries), softmax(cosine / 0.1, axis=1))
    assert_array_equal(clf.predict(queries), classes[cosine.argmax(axis=1)])
    assert clf.score(data.X, data.target) > 0.3  # well above chance (0.1)
    assert clf.n_features_in_ == 64


def test_views_by_index_through_a_pipeline_and_a_search():
    """Integer views; a frozen MultiViewPipeline or MultiViewCCACV works the same."""
    X, views, latent = make_multiview(300, n_views=3, missing_rate=0.2, random_state=0)
    labels = (latent[:, 0] > 0).astype(int)  # the sign of a shared factor
    pipeline = MultiViewPipeline(
        MultiViewCCA(views, n_components=2),
        transformers={"view1": StandardScaler(), "view2": StandardScaler()},
    ).fit(X)
    search = MultiViewCCACV(views, param_grid={"n_components": [2]}, cv=3).fit(X)
    rows = ~np.isnan(X[:, views["view0"]]).any(axis=1)
    prototypes = np.stack([np.nanmean(X[labels == c], axis=0) for c in (0, 1)])
    for model in (pipeline, search):
        clf = ZeroShotClassifier(
            FrozenEstimator(model), prototypes=prototypes, prototype_view=2,
            query_view=0,
        ).fit(X[rows])  # fmt: skip
        expected = model.transform_view(X[rows], "view0")
        gallery = model.transform_view(prototypes, "view2")
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
        gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
        sims = expected @ gallery.T
        assert_allclose(clf.decision_function(X[rows]), sims[:, 1] - sims[:, 0])
        assert_array_equal(
            clone(clf).fit(X[rows]).predict(X[rows]), clf.predict(X[rows])
        )


def test_auto_temperature_with_a_k_view_model(quadrants):
    """temperature='auto' is fitted from labels as for two views."""
    data, model, _, prototypes = quadrants
    clf = ZeroShotClassifier(
        FrozenEstimator(model), prototypes=prototypes,
        prototype_view="bottom_right", query_view="top_left", temperature="auto",
    ).fit(data.X, data.target)  # fmt: skip
    assert 1e-4 < clf.temperature_ < 1e2


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"query_view": None}, ValueError, "pass query_view="),
        ({"query_view": "bottom_right"}, ValueError, "both 'bottom_right'"),
        ({"query_view": "nowhere"}, ValueError, "Unknown view 'nowhere'"),
        ({"prototype_view": 7}, ValueError, "out of range"),
    ],
)
def test_bad_views_of_a_k_view_model(quadrants, params, error, match):
    """Missing, equal or unknown views: named errors."""
    data, model, _, prototypes = quadrants
    options = {"prototype_view": "bottom_right", "query_view": "top_left", **params}
    clf = ZeroShotClassifier(FrozenEstimator(model), prototypes=prototypes, **options)
    with pytest.raises(error, match=match):
        clf.fit(data.X)


def test_k_view_model_must_be_frozen_and_rows_must_have_the_view(quadrants):
    """An unfitted K-view model, a query lacking its view, a two-view mix-up."""
    data, model, _, prototypes = quadrants
    with pytest.raises(TypeError, match="only fitted and frozen"):
        ZeroShotClassifier(
            MultiViewCCA(data.views), prototypes=prototypes,
            prototype_view="bottom_right", query_view="top_left",
        ).fit(data.X, data.target)  # fmt: skip
    clf = ZeroShotClassifier(
        FrozenEstimator(model), prototypes=prototypes,
        prototype_view="bottom_right", query_view="top_left",
    ).fit(data.X)  # fmt: skip
    queries = data.X.copy()
    queries[5, data.views["top_left"]] = np.nan
    with pytest.raises(ValueError, match="Row 5 of X lacks view 'top_left'"):
        clf.predict(queries)
    with pytest.raises(ValueError, match="Row 0 of prototypes lacks view 'top_left'"):
        clf.set_params(prototype_view="top_left", query_view="bottom_right").fit(data.X)
    two_view = CrossModalEmbedding().fit(data.X[:, :16], data.X[:, 16:32])
    with pytest.raises(ValueError, match="'X' or 'y' for a two-view model"):
        ZeroShotClassifier(
            FrozenEstimator(two_view), prototypes=np.eye(16)[:2], prototype_view="a"
        ).fit(data.X[:, :16])
