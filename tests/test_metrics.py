"""Tests for the retrieval metrics and scorers."""

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import average_precision_score, ndcg_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skcrossmodal import CrossModalEmbedding
from skcrossmodal._numerics import similarity as _similarity
from skcrossmodal.metrics import (
    RETRIEVAL_SCORERS,
    make_retrieval_scorer,
    mean_average_precision,
    mean_percentile_rank,
    mean_reciprocal_rank,
    median_rank,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    retrieval_ranks,
)

PROPERTY = settings(max_examples=examples(30), deadline=None)


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
    monkeypatch.setattr(_similarity, "BLOCK_NUMBERS", 7)
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

    X = np.random.default_rng(4).normal(size=(400, 3))
    y = X + 0.1 * np.random.default_rng(5).normal(size=X.shape)
    whole = retrieval_ranks(X, y, similarity="csls", direction="x_to_y")
    monkeypatch.setattr(_similarity, "map_similarity_blocks", recording_map)
    monkeypatch.setattr(_similarity, "BLOCK_NUMBERS", 4000)
    blocked = retrieval_ranks(X, y, similarity="csls", direction="x_to_y")
    assert max(sizes) <= 4000 and len(sizes) >= 40  # gallery hubness + queries
    assert_array_equal(blocked, whole)


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


@settings(max_examples=examples(30), deadline=None)
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


def test_scorer_table_hands_out_fresh_scorers():
    """A request set on a looked-up scorer does not reach the module's table."""
    with sklearn.config_context(enable_metadata_routing=True):
        mine = RETRIEVAL_SCORERS["mrr"].set_score_request(sample_weight=True)
        for fresh in (
            RETRIEVAL_SCORERS["mrr"],
            RETRIEVAL_SCORERS.get("mrr"),
            dict(RETRIEVAL_SCORERS)["mrr"],
            {**RETRIEVAL_SCORERS}["mrr"],
            dict(RETRIEVAL_SCORERS.items())["mrr"],
            RETRIEVAL_SCORERS.copy()["mrr"],
        ):
            assert fresh is not mine
            assert fresh.get_metadata_routing().score.requests == {}
        assert mine.get_metadata_routing().score.requests == {"sample_weight": True}
    assert RETRIEVAL_SCORERS["mrr"] is not RETRIEVAL_SCORERS["mrr"]
    assert isinstance(RETRIEVAL_SCORERS, dict)  # GridSearchCV(scoring=...) takes it
    assert RETRIEVAL_SCORERS.get("no such scorer") is None


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


# --- scale, dtype and weights (issue 10) ------------------------------------


@settings(max_examples=examples(25), deadline=None)
@given(embedding_pairs(), st.integers(-150, 150))
def test_metrics_do_not_depend_on_units(pair, exponent):
    """Every metric is unchanged when both views are scaled by 10**e."""
    X, y = pair
    scale = 10.0**exponent
    for metric in (mean_reciprocal_rank, median_rank, mean_percentile_rank):
        assert_allclose(metric(X * scale, y * scale), metric(X, y), rtol=1e-12)
    assert_allclose(
        retrieval_ranks(X * scale, y * scale, similarity="csls"),
        retrieval_ranks(X, y, similarity="csls"),
    )


@pytest.mark.parametrize("scale", [1e20, 1e-20])
def test_float32_metrics_do_not_overflow(scale):
    """float32 embeddings of 1e20 (norms squared overflow) keep their MRR."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    y = (X + 0.5 * rng.normal(size=X.shape)).astype(np.float32)
    expected = mean_reciprocal_rank(X, y)
    assert expected > 0.3
    assert mean_reciprocal_rank(X * np.float32(scale), y * np.float32(scale)) == (
        pytest.approx(expected)
    )


def test_float32_is_searched_in_float32():
    """float32 inputs give float32 similarities with the float64 neighbours."""
    rng = np.random.default_rng(6)
    queries = rng.normal(size=(30, 5))
    gallery = rng.normal(size=(500, 5))
    scores32, indices32 = _similarity.top_k(
        queries.astype(np.float32), gallery.astype(np.float32), 4
    )
    scores64, indices64 = _similarity.top_k(queries, gallery, 4)
    assert scores32.dtype == np.float32 and scores64.dtype == np.float64
    assert_allclose(scores32, scores64, rtol=1e-5)
    assert (indices32 == indices64).mean() > 0.99


@PROPERTY
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.integers(1, 12))
def test_top_k_matches_full_sort(seed, n_gallery, k):
    """The narrowed top-k equals the first k of a full sort of each row."""
    rng = np.random.default_rng(seed)
    queries = rng.normal(size=(7, 3))
    gallery = rng.normal(size=(n_gallery, 3))
    k = min(k, n_gallery)
    scores, indices = _similarity.top_k(queries, gallery, k)
    S = _brute_force_similarity(queries, gallery, "cosine", 10)
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    assert_allclose(scores, np.take_along_axis(S, order, axis=1), rtol=1e-12)
    assert_allclose(np.take_along_axis(S, indices, axis=1), scores, rtol=1e-12)


def test_top_k_narrowing_matches_full_sort_on_wide_rows():
    """With many 64-column groups (narrowing on), top-k is still exact."""
    rng = np.random.default_rng(7)
    block = rng.normal(size=(20, 64 * 50 + 17))
    block[3, 100:110] = 9.0  # ties at the top
    values, columns = _similarity.top_k_of_block(block, 12)
    expected = -np.sort(-block, axis=1)[:, :12]
    assert_allclose(values, expected)
    assert_allclose(np.take_along_axis(block, columns, axis=1), expected)
    assert columns[3, :10].tolist() == list(range(100, 110))


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(10), "non-negative"),
        (np.zeros(10), "zero for every query"),
        (np.ones((10, 2)), "1-D"),
        (np.ones(9), "9 entries but there are 10"),
        (np.r_[np.nan, np.ones(9)], "NaN"),
    ],
)
@pytest.mark.parametrize(
    "metric",
    [mean_reciprocal_rank, recall_at_k, median_rank, mean_percentile_rank],
)
def test_bad_sample_weight_is_a_clear_error(metric, weights, match):
    """Negative, all-zero, 2-D, short or NaN weights raise a named ValueError."""
    X = np.random.default_rng(8).normal(size=(10, 3))
    with pytest.raises(ValueError, match=match):
        metric(X, X, sample_weight=weights)


def test_extreme_weights_act_by_their_ratios():
    """Weights of 1e300 or 1e-320 give the same metric as weights of 1."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(12, 3))
    y = X + rng.normal(size=X.shape)
    expected = mean_reciprocal_rank(X, y)
    for value in (1e300, 1e-320):
        weights = np.full(12, value)
        assert mean_reciprocal_rank(X, y, sample_weight=weights) == pytest.approx(
            expected
        )


@PROPERTY
@given(embedding_pairs(), st.integers(0, 2**32 - 1))
def test_weighted_median_rank_is_repetition(pair, seed):
    """Integer weights in median_rank act as repeated queries."""
    X, y = pair
    weights = np.random.default_rng(seed).integers(0, 4, size=len(X))
    weights[0] = 1
    ranks = retrieval_ranks(X, y)
    assert median_rank(
        X, y, direction="x_to_y", sample_weight=weights
    ) == pytest.approx(np.median(np.repeat(ranks, weights)))


def test_weighted_median_finds_a_half_lost_to_rounding():
    """Weights rescaled by 3 (1/3 rounds) still average the two middle values."""
    from skcrossmodal.metrics._ranking import _weighted_median

    ranks = np.array(
        [19, 7, 11, 17, 15, 1, 1, 5, 11, 19, 11, 16, 4, 9, 3, 12, 11, 10, 1]
    )
    weights = np.array([1, 1, 0, 2, 0, 3, 3, 0, 2, 0, 0, 1, 3, 3, 2, 2, 2, 0, 1])
    assert _weighted_median(ranks.astype(float), weights) == np.median(
        np.repeat(ranks, weights)
    )


def test_median_rank_scorer_takes_weights():
    """make_retrieval_scorer('median_rank') accepts sample_weight (was TypeError)."""
    rng = np.random.default_rng(10)
    X = rng.normal(size=(40, 4))
    y = X @ rng.normal(size=(4, 3)) + 0.3 * rng.normal(size=(40, 3))
    model = CrossModalEmbedding().fit(X, y)
    weights = rng.integers(1, 3, size=40)
    X_scores, y_scores = model.transform(X, y)
    scorer = make_retrieval_scorer("median_rank")
    assert scorer(model, X, y, sample_weight=weights) == -median_rank(
        X_scores, y_scores, sample_weight=weights
    )


# --- label-aware metrics -----------------------------------------------------


def _labelled_pairs(seed=11, n=60):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, size=n)
    centres = rng.normal(size=(4, 5))
    X = centres[labels] + 0.8 * rng.normal(size=(n, 5))
    y = centres[labels] + 0.8 * rng.normal(size=(n, 5))
    return X, y, labels


def test_precision_at_k_counts_same_class_rows():
    """precision@k equals the same-class fraction of a full sort's first k."""
    X, y, labels = _labelled_pairs()
    S = _brute_force_similarity(X, y, "cosine", 10)
    order = np.argsort(-S, axis=1, kind="stable")[:, :7]
    expected = (labels[order] == labels[:, None]).mean()
    assert precision_at_k(
        X, y, labels=labels, k=7, direction="x_to_y"
    ) == pytest.approx(expected)


def test_mean_average_precision_matches_scikit_learn():
    """Per-query AP equals sklearn's average_precision_score on the similarities."""
    X, y, labels = _labelled_pairs()
    S = _brute_force_similarity(y, X, "cosine", 10)
    expected = np.mean(
        [average_precision_score(labels == labels[i], S[i]) for i in range(len(S))]
    )
    assert mean_average_precision(
        X, y, labels=labels, direction="y_to_x"
    ) == pytest.approx(expected)


def test_map_with_only_partners_is_mrr():
    """With only the partner relevant, average precision is 1 / rank."""
    X, y, _ = _labelled_pairs(seed=12)
    partners = np.eye(len(X))
    assert mean_average_precision(X, y, relevance=partners) == pytest.approx(
        mean_reciprocal_rank(X, y)
    )


@pytest.mark.parametrize("k", [1, 5, None])
def test_ndcg_matches_scikit_learn(k):
    """Graded NDCG@k equals sklearn.metrics.ndcg_score on the similarity matrix."""
    X, y, _ = _labelled_pairs(seed=13)
    rng = np.random.default_rng(13)
    relevance = rng.integers(0, 4, size=(len(X), len(X))).astype(float)
    relevance[5] = 0.0  # a query with nothing relevant scores 0 in both
    S = _brute_force_similarity(X, y, "cosine", 10)
    assert ndcg_at_k(
        X, y, relevance=relevance, k=k, direction="x_to_y"
    ) == pytest.approx(ndcg_score(relevance, S, k=k))
    S_back = _brute_force_similarity(y, X, "cosine", 10)
    assert ndcg_at_k(
        X, y, relevance=relevance, k=k, direction="y_to_x"
    ) == pytest.approx(ndcg_score(relevance.T, S_back, k=k))


def test_label_metrics_reject_bad_relevance():
    """Both sources, a wrong shape, negative grades and short labels are named."""
    X, y, labels = _labelled_pairs()
    with pytest.raises(ValueError, match="either labels or relevance"):
        precision_at_k(X, y, labels=labels, relevance=np.eye(len(X)))
    with pytest.raises(ValueError, match="relevance must be a"):
        ndcg_at_k(X, y, relevance=np.eye(3))
    with pytest.raises(ValueError, match="non-negative"):
        ndcg_at_k(X, y, relevance=-np.eye(len(X)))
    with pytest.raises(ValueError, match="inconsistent numbers"):
        precision_at_k(X, y, labels=labels[:-1])


def test_mean_percentile_rank_does_not_fall_with_gallery_size():
    """MRR drops as the gallery grows; the mean percentile rank stays put."""
    rng = np.random.default_rng(14)
    X = rng.normal(size=(2000, 8))
    y = X + 1.5 * rng.normal(size=X.shape)
    small = [slice(i, i + 200) for i in range(0, 2000, 200)]
    mrr_small = np.mean([mean_reciprocal_rank(X[s], y[s]) for s in small])
    mpr_small = np.mean([mean_percentile_rank(X[s], y[s]) for s in small])
    assert mean_reciprocal_rank(X, y) < 0.5 * mrr_small
    assert mean_percentile_rank(X, y) == pytest.approx(mpr_small, abs=0.01)
    ranks = retrieval_ranks(X, y)
    assert mean_percentile_rank(X, y, direction="x_to_y") == pytest.approx(
        np.mean((ranks - 1) / 1999)
    )


# --- scorers under metadata routing -------------------------------------------


def test_scorers_honour_metadata_routing():
    """With routing on, requested weights and labels reach the scorer per fold."""
    X, y, labels = _labelled_pairs(seed=15, n=90)
    weights = np.random.default_rng(15).integers(1, 4, size=90).astype(float)
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        scoring = {
            "mrr": make_retrieval_scorer("mrr").set_score_request(sample_weight=True),
            "p@5": make_retrieval_scorer("precision", k=5).set_score_request(
                labels=True
            ),
        }
        model = CrossModalEmbedding().set_fit_request(sample_weight=False)
        result = cross_validate(
            model,
            X,
            y,
            scoring=scoring,
            cv=cv,
            params={"sample_weight": weights, "labels": labels},
        )
    for fold, (train, test) in enumerate(cv.split(X)):
        fitted = CrossModalEmbedding().fit(X[train], y[train])
        X_scores, y_scores = fitted.transform(X[test], y[test])
        assert result["test_mrr"][fold] == pytest.approx(
            mean_reciprocal_rank(X_scores, y_scores, sample_weight=weights[test])
        )
        assert result["test_p@5"][fold] == pytest.approx(
            precision_at_k(X_scores, y_scores, labels=labels[test], k=5)
        )


def test_set_score_request_needs_routing_and_known_names():
    """set_score_request outside routing, or for unknown metadata, is an error."""
    scorer = make_retrieval_scorer("mrr")
    with pytest.raises(RuntimeError, match="enable_metadata_routing"):
        scorer.set_score_request(sample_weight=True)
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(TypeError, match="only sample_weight and labels"):
            scorer.set_score_request(groups=True)


def test_labels_to_a_partner_metric_scorer_are_refused():
    """MRR takes no labels: passing them is a TypeError, not a silent no-op."""
    X, y, labels = _labelled_pairs()
    model = CrossModalEmbedding().fit(X, y)
    with pytest.raises(TypeError, match="takes no labels"):
        make_retrieval_scorer("mrr")(model, X, y, labels=labels)


@pytest.mark.parametrize("metric", [precision_at_k, mean_average_precision, ndcg_at_k])
def test_label_metrics_warn_without_labels_or_relevance(metric):
    """Omitting labels warns that only exact partners count, and scores them."""
    X, y, _ = _labelled_pairs(seed=16)
    with pytest.warns(UserWarning, match="only each query's own partner"):
        implicit = metric(X, y)
    assert implicit == pytest.approx(metric(X, y, relevance=np.eye(len(X))))


def test_label_aware_scorer_without_labels_is_an_error():
    """A precision scorer that gets no labels says how to route them."""
    X, y, _ = _labelled_pairs(seed=17)
    model = CrossModalEmbedding().fit(X, y)
    scorer = make_retrieval_scorer("precision", k=5)
    with pytest.raises(ValueError, match="received no labels.*set_score_request"):
        scorer(model, X, y)


def test_precision_at_k_takes_tied_rows_in_gallery_order():
    """One weighted query over a gallery of equal scores sees rows 0, 1, ...

    Every similarity ties; the documented rule returns the first gallery rows,
    which share the query's class, so precision@1 is 1.0 (it was 0.0 when the
    partition kept the last row).
    """
    n = 300
    X_scores, y_scores = np.ones((n, 2)), np.ones((n, 2))
    labels = np.r_[np.zeros(10), np.ones(n - 10)]
    weights = np.zeros(n)
    weights[0] = 1.0
    for k in (1, 3, 10):
        assert (
            precision_at_k(
                X_scores,
                y_scores,
                labels=labels,
                k=k,
                sample_weight=weights,
                direction="x_to_y",
            )
            == 1.0
        )
