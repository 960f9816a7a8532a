"""Tests of the displays: the plotted data must be the retrieval metrics."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, TwoViewPipeline
from skcrossmodal.datasets import make_paired_views
from skcrossmodal.metrics import recall_at_k
from skcrossmodal.plotting import RecallAtKDisplay, SharedSpaceDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def pairs():
    X, y, labels = make_paired_views(160, noise=0.8, random_state=0)
    model = CrossModalEmbedding(n_components=5).fit(X[:100], y[:100])
    return model, X[100:], y[100:], labels[100:]


# ------------------------------------------------------- RecallAtKDisplay ---
@pytest.mark.parametrize("similarity", ["cosine", "csls"])
def test_recall_curves_equal_recall_at_k(pairs, similarity):
    """Each plotted point is recall_at_k at that k, in that direction."""
    model, X, y, _ = pairs
    X_scores, y_scores = model.transform(X, y)
    display = RecallAtKDisplay.from_predictions(
        X_scores, y_scores, k_max=8, similarity=similarity
    )
    np.testing.assert_array_equal(display.k, np.arange(1, 9))
    for direction, values in (
        ("x_to_y", display.recall_x_to_y),
        ("y_to_x", display.recall_y_to_x),
    ):
        expected = [
            recall_at_k(
                X_scores, y_scores, k=k, direction=direction, similarity=similarity
            )
            for k in range(1, 9)
        ]
        np.testing.assert_allclose(values, expected)


def test_recall_lines_hold_the_stored_values(pairs):
    """The drawn lines carry exactly the stored k and recall values."""
    model, X, y, _ = pairs
    display = RecallAtKDisplay.from_estimator(model, X, y, k_max=6)
    np.testing.assert_array_equal(display.line_x_to_y_.get_xdata(), display.k)
    np.testing.assert_array_equal(
        display.line_x_to_y_.get_ydata(), display.recall_x_to_y
    )
    np.testing.assert_array_equal(
        display.line_y_to_x_.get_ydata(), display.recall_y_to_x
    )
    assert display.ax_.get_xlabel() == "k" and display.ax_.get_ylabel() == "recall@k"
    assert display.figure_ is display.ax_.figure


def test_recall_reaches_one_at_the_gallery_size(pairs):
    """Recall never decreases with k and is 1 when k is the gallery size."""
    model, X, y, _ = pairs
    display = RecallAtKDisplay.from_estimator(model, X, y, k_max=X.shape[0])
    for values in (display.recall_x_to_y, display.recall_y_to_x):
        assert np.all(np.diff(values) >= 0)
        assert values[-1] == 1.0


def test_from_estimator_equals_from_predictions_through_pipelines(pairs):
    """from_estimator embeds through a Pipeline or TwoViewPipeline as transform does."""
    _, X, y, _ = pairs
    for model in (
        make_pipeline(StandardScaler(), CrossModalEmbedding(n_components=3)),
        TwoViewPipeline(
            CrossModalEmbedding(n_components=3),
            x_transformer=StandardScaler(),
            y_transformer=StandardScaler(),
        ),
    ):
        model.fit(X, y)
        display = RecallAtKDisplay.from_estimator(model, X, y, k_max=4)
        if hasattr(model, "steps"):
            scores = model[-1].transform(model[0].transform(X), y)
        else:
            scores = model.transform(X, y)
        reference = RecallAtKDisplay.from_predictions(*scores, k_max=4)
        np.testing.assert_allclose(display.recall_x_to_y, reference.recall_x_to_y)
        np.testing.assert_allclose(display.recall_y_to_x, reference.recall_y_to_x)
        legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
        assert legend[0] == "CrossModalEmbedding: X → y"


def test_recall_display_draws_on_given_axes(pairs):
    """A given Axes is drawn on, and a name overrides the legend prefix."""
    model, X, y, _ = pairs
    _, ax = plt.subplots()
    display = RecallAtKDisplay.from_estimator(model, X, y, ax=ax, name="mine")
    assert display.ax_ is ax and len(ax.get_lines()) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["mine: X → y", "mine: y → X"]


def test_recall_display_rejects_k_max_beyond_the_gallery(pairs):
    """k_max larger than the number of pairs raises a ValueError."""
    model, X, y, _ = pairs
    with pytest.raises(ValueError, match="k_max=100 is larger than the number"):
        RecallAtKDisplay.from_estimator(model, X, y, k_max=100)


def test_recall_display_rejects_unknown_similarity(pairs):
    """An unknown similarity raises a ValueError naming the parameter."""
    model, X, y, _ = pairs
    with pytest.raises(ValueError, match="'similarity' parameter"):
        RecallAtKDisplay.from_estimator(model, X, y, similarity="dot")


# ----------------------------------------------------- SharedSpaceDisplay ---
def test_two_components_are_plotted_as_they_are():
    """In a 2-D shared space the points are the scores of the chosen rows."""
    rng = np.random.default_rng(0)
    X_scores, y_scores = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    display = SharedSpaceDisplay.from_predictions(X_scores, y_scores, n_pairs=12)
    assert display.indices.shape == (12,)
    assert np.all(np.diff(display.indices) > 0)
    np.testing.assert_array_equal(display.X_points, X_scores[display.indices])
    np.testing.assert_array_equal(display.y_points, y_scores[display.indices])


def test_lines_join_each_pair(pairs):
    """Segment i goes from X_points[i] to its partner y_points[i]."""
    model, X, y, _ = pairs
    display = SharedSpaceDisplay.from_estimator(model, X, y, n_pairs=20)
    segments = np.asarray(display.lines_.get_segments())
    np.testing.assert_allclose(segments[:, 0], display.X_points)
    np.testing.assert_allclose(segments[:, 1], display.y_points)
    np.testing.assert_allclose(display.scatter_x_.get_offsets(), display.X_points)
    np.testing.assert_allclose(display.scatter_y_.get_offsets(), display.y_points)


def test_more_components_use_one_pca_of_both_views(pairs):
    """With 5 components, both views go through the top-2 eigenvectors of the pool."""
    model, X, y, _ = pairs
    X_scores, y_scores = model.transform(X, y)
    display = SharedSpaceDisplay.from_predictions(X_scores, y_scores, n_pairs=60)
    stacked = np.vstack([X_scores, y_scores])
    _, eigenvectors = np.linalg.eigh(np.cov(stacked, rowvar=False))
    top = eigenvectors[:, ::-1][:, :2]
    mean = stacked.mean(axis=0)
    for points, scores in ((display.X_points, X_scores), (display.y_points, y_scores)):
        expected = (scores - mean) @ top
        # Principal axes are defined up to sign.
        signs = np.sign(np.sum(points * expected, axis=0))
        np.testing.assert_allclose(points, expected * signs, atol=1e-8)


def test_labels_colour_the_points(pairs):
    """Given labels, the points are coloured by the labels of the drawn pairs."""
    model, X, y, labels = pairs
    display = SharedSpaceDisplay.from_estimator(
        model, X, y, n_pairs=25, labels=labels, random_state=3
    )
    np.testing.assert_array_equal(
        display.scatter_x_.get_array(), labels[display.indices]
    )
    assert display.ax_.get_title() == "CrossModalEmbedding"


def test_shared_space_display_needs_two_components():
    """A one-dimensional shared space cannot be drawn in the plane."""
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least 2 components"):
        SharedSpaceDisplay.from_predictions(
            rng.normal(size=(10, 1)), rng.normal(size=(10, 1))
        )


def test_shared_space_display_checks_label_shape(pairs):
    """Labels must give one class per pair."""
    model, X, y, _ = pairs
    with pytest.raises(ValueError, match="labels must have shape"):
        SharedSpaceDisplay.from_estimator(model, X, y, labels=[0, 1])
