"""Tests for the retrieval metrics and scorers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV

from skcrossmodal import CrossModalEmbedding, _similarity
from skcrossmodal.metrics import (
    RETRIEVAL_SCORERS,
    make_retrieval_scorer,
    mean_reciprocal_rank,
    median_rank,
    recall_at_k,
    retrieval_ranks,
)

PROPERTY = settings(max_examples=30, deadline=None)


def _brute_force_similarity(queries, gallery, similarity, csls_k):
    """The full similarity matrix, written out from the definitions."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    cosine = q @ g.T
    if similarity == "cosine":
        return cosine
    k = min(csls_k, len(g))
    query_hub = np.sort(cosine, axis=1)[:, -k:].mean(axis=1)
    gallery_hub = np.sort(cosine.T, axis=1)[:, -min(csls_k, len(q)) :].mean(axis=1)
    return 2 * cosine - query_hub[:, None] - gallery_hub[None, :]


def _brute_force_ranks(queries, gallery, similarity="cosine", csls_k=10):
    S = _brute_force_similarity(queries, gallery, similarity, csls_k)
    partner = np.diag(S)[:, None]
    return 1 + (S > partner).sum(1) + 0.5 * ((S == partner).sum(1) - 1)


@st.composite
def embedding_pairs(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_samples = draw(st.integers(2, 40))
    n_components = draw(st.integers(1, 5))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_components))
    y = X + draw(st.floats(0.0, 2.0)) * rng.normal(size=X.shape)
    return X, y


@PROPERTY
@given(embedding_pairs(), st.sampled_from(["cosine", "csls"]), st.integers(1, 12))
def test_ranks_match_brute_force(pair, similarity, csls_k):
    """Chunked ranks equal ranks read off the full similarity matrix."""
    X, y = pair
    for direction, (q, g) in {"x_to_y": (X, y), "y_to_x": (y, X)}.items():
        ranks = retrieval_ranks(
            X, y, direction=direction, similarity=similarity, csls_k=csls_k
        )
        assert_allclose(ranks, _brute_force_ranks(q, g, similarity, csls_k))


def test_blocks_do_not_change_the_result(monkeypatch):
    """A tiny block size (one query row at a time) gives the same ranks."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    y = X + rng.normal(size=X.shape)
    expected = retrieval_ranks(X, y, similarity="csls")
    monkeypatch.setattr(_similarity, "_BLOCK_NUMBERS", 7)
    assert_allclose(retrieval_ranks(X, y, similarity="csls"), expected)


@PROPERTY
@given(embedding_pairs())
def test_recall_is_non_decreasing_in_k(pair):
    """recall@k can only grow with k and reaches 1 at k = n."""
    X, y = pair
    recalls = [recall_at_k(X, y, k=k) for k in range(1, len(X) + 1)]
    assert np.all(np.diff(recalls) >= 0)
    assert recalls[-1] == 1.0


@PROPERTY
@given(st.integers(0, 2**32 - 1), st.integers(2, 40))
def test_identical_embeddings_are_perfect(seed, n_samples):
    """Distinct rows retrieved against themselves by cosine: recall@1 = MRR = 1.

    (Not so for CSLS: a hub's penalty can let a close neighbour outrank it.)
    """
    X = np.random.default_rng(seed).normal(size=(n_samples, 6))
    assert recall_at_k(X, X, k=1) == 1.0
    assert mean_reciprocal_rank(X, X) == 1.0
    assert median_rank(X, X) == 1.0


@PROPERTY
@given(embedding_pairs(), st.integers(0, 2**32 - 1))
def test_joint_permutation_changes_nothing(pair, seed):
    """Reordering the pairs jointly leaves every metric unchanged."""
    X, y = pair
    order = np.random.default_rng(seed).permutation(len(X))
    for similarity in ("cosine", "csls"):
        assert_allclose(
            mean_reciprocal_rank(X[order], y[order], similarity=similarity),
            mean_reciprocal_rank(X, y, similarity=similarity),
        )
        assert_allclose(
            retrieval_ranks(X[order], y[order], similarity=similarity),
            retrieval_ranks(X, y, similarity=similarity)[order],
        )


def test_collapsed_embedding_scores_at_chance():
    """When every similarity ties, each partner gets the middle rank."""
    X = np.ones((9, 2))
    assert_allclose(retrieval_ranks(X, X), np.full(9, 5.0))
    assert_allclose(recall_at_k(X, X, k=1), 0.0)


def test_csls_demotes_a_hub():
    """A gallery item near every query loses to the true partners under CSLS."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 8))
    y = X + 0.9 * rng.normal(size=X.shape)
    y[0] = X.mean(axis=0) * 10 + X[0] * 0.1  # a hub: close to the average query
    hub_hits_cosine = np.mean(
        retrieval_ranks(X, y, direction="x_to_y", similarity="cosine")[1:] > 1
    )
    hub_hits_csls = np.mean(
        retrieval_ranks(X, y, direction="x_to_y", similarity="csls")[1:] > 1
    )
    assert hub_hits_csls <= hub_hits_cosine


def test_both_directions_average_the_two():
    """direction='both' is the mean of the x_to_y and y_to_x values."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 3))
    y = X + rng.normal(size=X.shape)
    for metric in (mean_reciprocal_rank, median_rank):
        assert_allclose(
            metric(X, y, direction="both"),
            (metric(X, y, direction="x_to_y") + metric(X, y, direction="y_to_x")) / 2,
        )


def test_sample_weight_weights_the_queries():
    """Weighted MRR equals MRR over rows repeated by their integer weights."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(15, 3))
    y = X + rng.normal(size=X.shape)
    weights = rng.integers(1, 4, size=15)
    ranks = retrieval_ranks(X, y)
    assert_allclose(
        mean_reciprocal_rank(X, y, direction="x_to_y", sample_weight=weights),
        np.mean(np.repeat(1 / ranks, weights)),
    )


def test_large_retrieval_runs_in_blocks(monkeypatch):
    """Similarity blocks stay within the configured size, never n x n."""
    sizes = []
    original = _similarity.map_similarity_blocks

    def recording_map(queries, gallery, reduce_block):
        def recording_reduce(start, stop, block):
            sizes.append(block.size)
            return reduce_block(start, stop, block)

        return original(queries, gallery, recording_reduce)

    monkeypatch.setattr(_similarity, "map_similarity_blocks", recording_map)
    monkeypatch.setattr(_similarity, "_BLOCK_NUMBERS", 4000)
    X = np.random.default_rng(4).normal(size=(400, 3))
    assert recall_at_k(X, X, k=1, direction="x_to_y") == 1.0
    assert max(sizes) <= 4000 and len(sizes) == 40


def test_scorers_work_in_grid_search():
    """The ready scorers rank models in GridSearchCV, greater is better."""
    rng = np.random.default_rng(5)
    latent = rng.normal(size=(120, 2))
    X = latent @ rng.normal(size=(2, 6)) + 0.2 * rng.normal(size=(120, 6))
    y = latent @ rng.normal(size=(2, 5)) + 0.2 * rng.normal(size=(120, 5))
    search = GridSearchCV(
        CrossModalEmbedding(),
        {"n_components": [1, 2]},
        scoring=RETRIEVAL_SCORERS,
        refit="mrr",
        cv=3,
    ).fit(X, y)
    assert search.best_params_ == {"n_components": 2}
    assert np.all(search.cv_results_["mean_test_neg_median_rank"] <= -1)
    model = CrossModalEmbedding().fit(X, y)
    assert RETRIEVAL_SCORERS["mrr"](model, X, y) == model.score(X, y)
    assert "recall_at_k" in repr(make_retrieval_scorer("recall", k=5))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "'k' parameter of recall_at_k must be an int in the range"),
        ({"direction": "up"}, "'direction' parameter of recall_at_k must be a str"),
        ({"similarity": "dot"}, "'similarity' parameter of recall_at_k must be a str"),
    ],
)
def test_invalid_metric_parameters_are_named(kwargs, match):
    """Bad metric parameters raise errors naming the parameter."""
    X = np.eye(3)
    with pytest.raises(ValueError, match=match):
        recall_at_k(X, X, **kwargs)


def test_mismatched_embeddings_are_rejected():
    """Embeddings of different widths, lengths or with NaN are refused clearly."""
    X = np.eye(4)
    with pytest.raises(ValueError, match="same number of columns"):
        recall_at_k(X, X[:, :3])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        recall_at_k(X, X[:3])
    with pytest.raises(ValueError, match="X_scores contains NaN"):
        recall_at_k(np.full((4, 4), np.nan), X)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    st.integers(1, 3000),
    st.integers(1, 12),
    st.booleans(),
)
def test_mean_of_top_k_matches_sorting(seed, n_rows, n_cols, k, with_ties):
    """The bracketing top-k mean used by CSLS equals a plain sort, ties included."""
    rng = np.random.default_rng(seed)
    block = rng.normal(size=(n_rows, n_cols)).astype(np.float32)
    if with_ties:
        block = np.round(block)
    k = min(k, n_cols)
    expected = np.sort(block, axis=1)[:, n_cols - k :].mean(axis=1)
    assert_allclose(_similarity.mean_of_top_k_per_row(block, k), expected, rtol=1e-6)


def test_scorer_works_in_nested_cross_validation():
    """A retrieval scorer scores a fitted GridSearchCV through its best model."""
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(6)
    latent = rng.normal(size=(90, 2))
    X = latent @ rng.normal(size=(2, 5)) + 0.2 * rng.normal(size=(90, 5))
    y = latent @ rng.normal(size=(2, 4)) + 0.2 * rng.normal(size=(90, 4))
    inner = GridSearchCV(CrossModalEmbedding(), {"n_components": [1, 2]}, cv=3)
    scorer = RETRIEVAL_SCORERS["mrr"]
    scores = cross_val_score(inner, X, y, cv=3, scoring=scorer)
    assert scores.shape == (3,) and np.all((scores > 0) & (scores <= 1))
    fitted = inner.fit(X, y)
    assert scorer(fitted, X, y) == fitted.best_estimator_.score(X, y)
