"""Tests for the shared-space search index and retrieval through pipelines."""

import importlib.util
import pickle
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, retrieval
from skcrossmodal._numerics import similarity as _similarity
from skcrossmodal._numerics.similarity import top_k_of_block
from skcrossmodal.base import CrossModalEstimator
from skcrossmodal.retrieval import SharedSpaceIndex, retrieve, search_top_k

PROPERTY = settings(max_examples=examples(25), deadline=None)


def _cosine(queries, gallery):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    return q @ g.T


def _brute_force_scores(queries, gallery, reference, similarity, k=10, beta=20.0):
    """Corrected score matrices written out from their definitions."""
    S = _cosine(queries, gallery)
    if similarity == "cosine":
        return S
    ref = _cosine(reference, gallery)  # (n_reference, n_gallery)
    if similarity == "csls":
        r_query = np.sort(S, axis=1)[:, -k:].mean(axis=1)
        r_gallery = np.sort(ref.T, axis=1)[:, -k:].mean(axis=1)
        return 2 * S - r_query[:, None] - r_gallery[None, :]
    inverted = beta * S - logsumexp(beta * ref, axis=0)[None, :]
    if similarity == "inverted_softmax":
        return inverted
    active = np.zeros(gallery.shape[0], dtype=bool)
    active[np.argmax(ref, axis=1)] = True
    activated = active[np.argmax(S, axis=1)]
    return np.where(activated[:, None], inverted, beta * S)


def _top(S, k):
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(S, order, axis=1), order


@st.composite
def galleries(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d = draw(st.integers(2, 6))  # d = 1 ties every cosine at +-1
    n_gallery = draw(st.integers(12, 120))
    scale = 10.0 ** draw(st.integers(-150, 150))
    gallery = rng.normal(size=(n_gallery, d)) * scale
    queries = rng.normal(size=(draw(st.integers(1, 30)), d)) * scale
    reference = rng.normal(size=(draw(st.integers(10, 60)), d)) * scale
    return queries, gallery, reference


@PROPERTY
@given(
    galleries(),
    st.sampled_from(["cosine", "csls", "inverted_softmax", "qb_norm"]),
    st.integers(1, 10),
)
def test_exact_index_matches_brute_force(data, similarity, n_neighbors):
    """Exact search returns the top of the corrected matrix, at any scale."""
    queries, gallery, reference = data
    index = SharedSpaceIndex(similarity=similarity).fit(
        gallery, reference_queries=reference
    )
    scores, indices = index.most_similar(queries, n_neighbors)
    S = _brute_force_scores(queries, gallery, reference, similarity)
    expected, _ = _top(S, n_neighbors)
    assert scores.dtype == np.float32
    assert_allclose(scores, expected, atol=2e-5 * max(1, np.abs(expected).max()))
    assert_allclose(
        np.take_along_axis(S, indices, axis=1),
        expected,
        atol=2e-5 * max(1, np.abs(expected).max()),
    )


@pytest.mark.parametrize("similarity", ["csls", "inverted_softmax", "qb_norm"])
def test_one_query_is_corrected_like_a_batch(similarity):
    """With reference queries stored at fit, a lone query ranks as in a batch."""
    rng = np.random.default_rng(0)
    gallery, queries = rng.normal(size=(400, 6)), rng.normal(size=(20, 6))
    index = SharedSpaceIndex(similarity=similarity, n_neighbors=5).fit(
        gallery, reference_queries=rng.normal(size=(100, 6))
    )
    batch = index.most_similar(queries)[1]
    for i in range(len(queries)):
        assert_array_equal(index.most_similar(queries[i : i + 1])[1], batch[i : i + 1])


def test_corrections_demote_a_hub():
    """A gallery row near every query is returned less often once corrected."""
    rng = np.random.default_rng(1)
    centre = rng.normal(size=8)
    gallery = rng.normal(size=(300, 8))
    gallery[0] = 3 * centre  # the hub
    reference = centre + 0.5 * rng.normal(size=(200, 8))
    queries = centre + 0.5 * rng.normal(size=(200, 8))
    index = SharedSpaceIndex(n_neighbors=5).fit(gallery, reference_queries=reference)
    hub_hits = {
        similarity: np.mean(
            np.any(index.most_similar(queries, similarity=similarity)[1] == 0, 1)
        )
        for similarity in ("cosine", "csls", "inverted_softmax", "qb_norm")
    }
    assert hub_hits["cosine"] > 0.8
    for similarity in ("csls", "inverted_softmax", "qb_norm"):
        assert hub_hits[similarity] < 0.75 * hub_hits["cosine"]


def test_torch_backend_matches_numpy():
    """The torch backend (here on CPU) finds the same neighbours as numpy."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    gallery, queries = rng.normal(size=(500, 7)), rng.normal(size=(40, 7))
    reference = rng.normal(size=(80, 7))
    for similarity in ("cosine", "csls", "inverted_softmax", "qb_norm"):
        numpy_index = SharedSpaceIndex(similarity=similarity).fit(
            gallery, reference_queries=reference
        )
        torch_index = SharedSpaceIndex(similarity=similarity, backend="torch").fit(
            gallery, reference_queries=reference
        )
        expected = numpy_index.most_similar(queries, 6)
        scores, indices = torch_index.most_similar(queries, 6)
        assert_allclose(scores, expected[0], rtol=1e-5, atol=1e-5)
        assert np.mean(indices == expected[1]) > 0.99


# --- ties: gallery order, the same rows from every backend ---------------------


@PROPERTY
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 40),
    st.integers(1, 1500),
    st.integers(1, 4),
    st.integers(1, 12),
)
def test_top_k_of_block_takes_ties_in_column_order(seed, n_rows, n_cols, levels, k):
    """Low-precision blocks (many ties) give a stable sort's first k columns."""
    rng = np.random.default_rng(seed)
    block = rng.integers(0, levels, size=(n_rows, n_cols)).astype(np.float32)
    k = min(k, n_cols)
    values, columns = top_k_of_block(block, k)
    order = np.argsort(-block, axis=1, kind="stable")[:, :k]
    assert_array_equal(columns, order)
    assert_array_equal(values, np.take_along_axis(block, order, axis=1))


@st.composite
def tied_galleries(draw):
    """Galleries of repeated rows whose cosines are exact in any arithmetic.

    Rows hold one or four entries of +-1 (scaled by a power of 2), so every
    normalised entry is 0, +-1 or +-1/2 and every dot product a sum of
    multiples of 1/4: each backend computes the same scores, and ties among
    repeated rows are true ties.
    """
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d = draw(st.integers(4, 6))

    def exact_rows(n):
        rows = np.zeros((n, d))
        for row in rows:
            support = rng.choice(d, size=rng.choice([1, 4]), replace=False)
            row[support] = rng.choice([-1.0, 1.0], size=support.size)
        return rows * 2.0 ** rng.integers(-3, 4, size=(n, 1))

    pool = exact_rows(draw(st.integers(1, 6)))
    n_gallery = draw(st.integers(2, 700))
    gallery = pool[rng.integers(0, len(pool), size=n_gallery)]
    queries = exact_rows(draw(st.integers(1, 8)))
    return queries, gallery


@PROPERTY
@given(tied_galleries(), st.integers(1, 12))
def test_backends_return_ties_in_gallery_order(data, n_neighbors):
    """numpy, torch and faiss (every cell probed) return the same tied rows,
    those of a stable sort of the exact cosines."""
    queries, gallery = data
    n_neighbors = min(n_neighbors, len(gallery))
    expected_scores, expected = _top(_cosine(queries, gallery), n_neighbors)
    backends = [{"backend": "numpy"}]
    if importlib.util.find_spec("torch") is not None:
        backends.append({"backend": "torch"})
    if importlib.util.find_spec("faiss") is not None and len(gallery) >= 39:
        backends.append({"backend": "faiss", "n_lists": 4, "n_probe": 4})
    for params in backends:
        index = SharedSpaceIndex(**params).fit(gallery)
        scores, indices = index.most_similar(queries, n_neighbors)
        assert_array_equal(indices, expected, err_msg=str(params))
        assert_array_equal(scores, expected_scores.astype(np.float32))
    _, indices = search_top_k(queries, gallery, n_neighbors=n_neighbors)
    assert_array_equal(indices, expected)


@pytest.mark.parametrize("backend", ["numpy", "torch", "faiss"])
def test_equal_rows_come_in_gallery_order(backend):
    """The issue's case: 300 equal rows, top 3 are rows 0, 1, 2."""
    pytest.importorskip(backend)
    assert_array_equal(
        search_top_k([[1.0]], np.ones((300, 1)), n_neighbors=3)[1], [[0, 1, 2]]
    )
    # Every cell visited: equal rows leave an inverted file nothing to skip.
    cells = {"n_lists": 4, "n_probe": 4} if backend == "faiss" else {}
    index = SharedSpaceIndex(backend=backend, n_neighbors=3, **cells)
    index.fit(np.ones((300, 1)))
    assert_array_equal(index.most_similar([[1.0], [2.0]])[1], [[0, 1, 2]] * 2)


# --- memory of the torch backend -------------------------------------------------


def test_torch_backend_allocates_its_block_once(monkeypatch):
    """However many queries, the torch search allocates one similarity block
    (and results), not one per block of queries: the memory it asks for is
    counted op by op, so the test is deterministic."""
    torch = pytest.importorskip("torch")
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class NewStorage(TorchDispatchMode):
        """Bytes of every tensor an op returns that is not one of its inputs."""

        def __init__(self):
            super().__init__()
            self.sizes = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            result = func(*args, **(kwargs or {}))
            inputs = {
                t.untyped_storage().data_ptr()
                for t in tree_flatten((args, kwargs))[0]
                if isinstance(t, torch.Tensor)
            }
            for t in tree_flatten(result)[0]:
                if (
                    isinstance(t, torch.Tensor)
                    and t.untyped_storage().data_ptr() not in inputs
                ):
                    self.sizes.append(t.untyped_storage().nbytes())
            return result

    monkeypatch.setattr(retrieval, "BLOCK_NUMBERS", 2**14)
    rng = np.random.default_rng(8)
    gallery = rng.normal(size=(1024, 8))
    index = SharedSpaceIndex(backend="torch", n_neighbors=5).fit(
        gallery, reference_queries=rng.normal(size=(40, 8))
    )
    block_bytes = 4 * 2**14  # 16 query rows of 1024 float32 cosines
    for similarity in ("cosine", "csls", "inverted_softmax", "qb_norm"):
        allocated = {}
        for n_queries in (16 * 4, 16 * 64):  # 4 and 64 blocks
            with NewStorage() as mode:
                index.most_similar(
                    rng.normal(size=(n_queries, 8)), similarity=similarity
                )
            assert max(mode.sizes) <= block_bytes, similarity
            allocated[n_queries] = sum(mode.sizes)
        # Growth with the queries: small per-block results only (16 x 10
        # arrays of top-k and sorting), never a block per block.
        growth = allocated[16 * 64] - allocated[16 * 4]
        assert growth < 60 * block_bytes // 4, (similarity, allocated)


def _clustered(rng, n, d, n_clusters=50):
    centres = rng.normal(size=(n_clusters, d))
    labels = rng.integers(0, n_clusters, size=n)
    return (centres[labels] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def test_faiss_backend_recalls_the_exact_neighbours():
    """The approximate backend finds most exact top-10 neighbours."""
    pytest.importorskip("faiss", reason="faiss-cpu (the 'faiss' extra) is absent")
    rng = np.random.default_rng(3)
    gallery, queries = _clustered(rng, 8000, 16), _clustered(rng, 400, 16)
    # The queries come from other clusters than the gallery: the recall is
    # calibrated on reference queries like them (gallery rows would promise
    # too much).
    queries, reference = queries[:200], queries[200:]
    exact = SharedSpaceIndex().fit(gallery).most_similar(queries, 10)[1]
    approx_index = SharedSpaceIndex(n_neighbors=10, backend="faiss").fit(
        gallery, reference_queries=reference
    )
    approx = approx_index.most_similar(queries, 10)[1]
    recall = np.mean(
        [len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]
    )
    assert recall > 0.9
    # faiss objects do not pickle: the index is rebuilt from the gallery.
    restored = pickle.loads(pickle.dumps(approx_index))
    assert_array_equal(restored.most_similar(queries, 10)[1], approx)


def test_faiss_backend_corrects_hubness_on_a_shortlist():
    """With every cell probed, re-ranking the shortlist equals exact CSLS."""
    pytest.importorskip("faiss", reason="faiss-cpu (the 'faiss' extra) is absent")
    rng = np.random.default_rng(4)
    gallery, queries = _clustered(rng, 2000, 8), _clustered(rng, 50, 8)
    reference = _clustered(rng, 300, 8)
    exact = SharedSpaceIndex(similarity="csls").fit(
        gallery, reference_queries=reference
    )
    approx = SharedSpaceIndex(
        similarity="csls", backend="faiss", n_lists=8, n_probe=8, shortlist_factor=20
    ).fit(gallery, reference_queries=reference)
    expected = exact.most_similar(queries, 5)
    scores, indices = approx.most_similar(queries, 5)
    assert np.mean(indices == expected[1]) > 0.98
    assert_allclose(scores, expected[0], atol=1e-5)


def test_exact_search_needs_no_faiss_or_torch(monkeypatch):
    """faiss and torch are imported only when their backend is used."""
    # A None entry in sys.modules makes any import of the name fail.
    monkeypatch.setitem(sys.modules, "faiss", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    index = SharedSpaceIndex(n_neighbors=1).fit(np.eye(3))
    assert_array_equal(index.most_similar(np.eye(3))[1].ravel(), [0, 1, 2])
    with pytest.raises(ImportError, match=r'pip install faiss-cpu.*-e "\.\[faiss\]"'):
        SharedSpaceIndex(backend="faiss").fit(np.eye(3))


def test_all_zero_embeddings_stay_similar_to_nothing():
    """A zero query has similarity 0 to everything; a zero gallery row too."""
    gallery = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    index = SharedSpaceIndex(n_neighbors=3).fit(gallery)
    scores, _ = index.most_similar(np.zeros((1, 2)))
    assert_array_equal(scores, np.zeros((1, 3)))
    scores, indices = index.most_similar([[1.0, 1.0]])
    assert indices[0, -1] == 1 and scores[0, -1] == 0


@pytest.mark.parametrize(
    "fit_kwargs, query, kwargs, error, match",
    [
        ({}, np.ones((2, 3)), {}, ValueError, "3 features"),
        ({}, np.array([[np.nan, 1.0, 0, 0]]), {}, ValueError, "NaN"),
        ({}, np.ones((1, 4)), {"n_neighbors": 21}, ValueError, "larger than the"),
        ({}, np.ones((1, 4)), {"n_neighbors": True}, ValueError, "positive integer"),
        ({}, np.ones((1, 4)), {"similarity": "mnn"}, ValueError, "similarity must"),
        ({}, np.ones((1, 4)), {"similarity": "csls"}, ValueError, "reference_quer"),
        (
            {"reference_queries": np.ones((4, 4))},
            np.ones((1, 4)),
            {"similarity": "csls"},
            ValueError,
            "at least 10 reference",
        ),
    ],
)
def test_bad_queries_are_clear_errors(fit_kwargs, query, kwargs, error, match):
    """Wrong width, NaN, k too large, bool k, unknown or unfounded corrections."""
    gallery = np.random.default_rng(5).normal(size=(20, 4))
    index = SharedSpaceIndex().fit(gallery, **fit_kwargs)
    with pytest.raises(error, match=match):
        index.most_similar(query, **kwargs)


def test_bad_galleries_are_clear_errors():
    """An empty gallery, a NaN row, mismatched references, a bool parameter."""
    with pytest.raises(ValueError, match="0 sample"):
        SharedSpaceIndex().fit(np.empty((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        SharedSpaceIndex().fit([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="reference_queries have 2 columns"):
        SharedSpaceIndex().fit(np.ones((5, 3)), reference_queries=np.ones((5, 2)))
    with pytest.raises(ValueError, match="n_neighbors"):
        SharedSpaceIndex(n_neighbors=True).fit(np.ones((5, 3)))


# --- search_top_k: the search behind every estimator's retrieve -----------------


def test_search_top_k_matches_brute_force_and_validates():
    """search_top_k is the exact top of the cosine matrix; bad input is named."""
    rng = np.random.default_rng(6)
    queries, gallery = rng.normal(size=(9, 4)), rng.normal(size=(50, 4))
    scores, indices = search_top_k(queries, gallery, n_neighbors=4)
    expected, order = _top(_cosine(queries, gallery), 4)
    assert_allclose(scores, expected)
    assert_array_equal(indices, order)
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        search_top_k(queries, gallery, n_neighbors=True)
    with pytest.raises(ValueError, match="larger than the gallery"):
        search_top_k(queries, gallery, n_neighbors=51)
    with pytest.raises(ValueError, match="same space"):
        search_top_k(queries, gallery[:, :3])
    with pytest.raises(ValueError, match="similarity must be"):
        search_top_k(queries, gallery, similarity="dot")


# --- retrieval through pipelines ----------------------------------------------


@pytest.fixture(scope="module")
def raw_views():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(120, 5)) * [1, 10, 100, 1000, 1e4]
    y = (X / [1, 10, 100, 1000, 1e4]) @ rng.normal(size=(5, 4))
    return X, y + 0.1 * rng.normal(size=y.shape)


@pytest.mark.parametrize("query_view", ["X", "y"])
def test_retrieve_applies_the_pipelines_preprocessing(raw_views, query_view):
    """retrieve(pipe, ...) equals the last step's retrieve on preprocessed X."""
    X, y = raw_views
    pipe = make_pipeline(StandardScaler(), CrossModalEmbedding()).fit(X, y)
    X_t = pipe[:-1].transform(X)
    if query_view == "X":
        expected = pipe[-1].retrieve(X_t[:10], y, n_neighbors=3)
        result = retrieve(pipe, X[:10], y, n_neighbors=3)
    else:
        expected = pipe[-1].retrieve(y[:10], X_t, query_view="y", n_neighbors=3)
        result = retrieve(pipe, y[:10], X, query_view="y", n_neighbors=3)
    assert_allclose(result[0], expected[0])
    assert_array_equal(result[1], expected[1])
    # Without the preprocessing the answer differs (the scaling matters here).
    unscaled = pipe[-1].retrieve(X[:10], y, n_neighbors=3)[1]
    assert query_view == "y" or not np.array_equal(unscaled, expected[1])


def test_retrieve_through_a_fitted_grid_search(raw_views):
    """A fitted GridSearchCV is searched through its refitted best pipeline."""
    X, y = raw_views
    pipe = make_pipeline(StandardScaler(), CrossModalEmbedding())
    search = GridSearchCV(
        pipe, {"crossmodalembedding__n_components": [2, 4]}, cv=3
    ).fit(X, y)
    best = search.best_estimator_
    expected = best[-1].retrieve(best[:-1].transform(X[:5]), y, n_neighbors=2)
    assert_array_equal(retrieve(search, X[:5], y, n_neighbors=2)[1], expected[1])
    model = CrossModalEmbedding().fit(X, y)
    assert_array_equal(
        retrieve(model, X[:5], y, n_neighbors=2)[1],
        model.retrieve(X[:5], y, n_neighbors=2)[1],
    )


def test_retrieve_refuses_what_cannot_retrieve(raw_views):
    """A model without retrieve, a bad view name, a bool k: clear errors."""
    X, y = raw_views
    with pytest.raises(TypeError, match="no retrieve method"):
        retrieve(StandardScaler().fit(X), X, y)
    model = CrossModalEmbedding().fit(X, y)
    with pytest.raises(ValueError, match="query_view"):
        retrieve(model, X, y, query_view="z")
    with pytest.raises(ValueError, match="positive integer"):
        retrieve(model, X, y, n_neighbors=True)


def test_failed_refit_keeps_the_fitted_index():
    """A refit on 7 columns that fails leaves the 4-column index fully usable."""
    rng = np.random.default_rng(0)
    gallery, queries = rng.normal(size=(30, 4)), rng.normal(size=(12, 4))
    index = SharedSpaceIndex(csls_k=3).fit(gallery, reference_queries=queries)
    expected = index.most_similar(queries, 5, similarity="csls")
    with pytest.raises(ValueError, match="reference_queries have 4 columns"):
        index.fit(rng.normal(size=(30, 7)), reference_queries=queries)
    assert index.n_features_in_ == 4
    found = index.most_similar(queries, 5, similarity="csls")
    assert_array_equal(found[0], expected[0])
    assert_array_equal(found[1], expected[1])


# --- one name per setting; kneighbors as in scikit-learn --------------------------


def test_kneighbors_returns_ascending_distances_like_scikit_learn():
    """kneighbors gives cosine distances ascending, equal to scikit-learn's
    brute-force cosine neighbours; most_similar gives 1 - those distances."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(9)
    gallery, queries = rng.normal(size=(200, 6)), rng.normal(size=(15, 6))
    index = SharedSpaceIndex(n_neighbors=4).fit(gallery)
    distances, indices = index.kneighbors(queries)
    nn = NearestNeighbors(n_neighbors=4, metric="cosine", algorithm="brute")
    expected_distances, expected = nn.fit(gallery).kneighbors(queries)
    assert_array_equal(indices, expected)
    assert_allclose(distances, expected_distances, atol=1e-6)
    assert np.all(np.diff(distances, axis=1) >= 0)
    assert_array_equal(index.kneighbors(queries, return_distance=False), expected)
    similarities, same = index.most_similar(queries)
    assert_array_equal(same, expected)
    assert_allclose(similarities, 1 - distances, atol=1e-6)


def test_kneighbors_distances_of_the_corrections():
    """CSLS distance is 1 - s / 2, the softmax ones -s; ascending, same rows."""
    rng = np.random.default_rng(10)
    gallery, queries = rng.normal(size=(120, 5)), rng.normal(size=(10, 5))
    index = SharedSpaceIndex(n_neighbors=6).fit(
        gallery, reference_queries=rng.normal(size=(40, 5))
    )
    for similarity, to_distance in (
        ("csls", lambda s: 1 - s / 2),
        ("inverted_softmax", lambda s: -s),
        ("qb_norm", lambda s: -s),
    ):
        scores, expected = index.most_similar(queries, similarity=similarity)
        distances, indices = index.kneighbors(queries, similarity=similarity)
        assert_array_equal(indices, expected)
        assert_allclose(distances, to_distance(scores), rtol=1e-6)
        assert np.all(np.diff(distances, axis=1) >= 0)


def test_hubness_names_are_deprecated_for_similarity_and_csls_k():
    """hubness / hubness_k still work for two releases, with a FutureWarning,
    and give what similarity / csls_k give."""
    rng = np.random.default_rng(11)
    gallery, queries = rng.normal(size=(80, 4)), rng.normal(size=(6, 4))
    reference = rng.normal(size=(30, 4))
    expected = (
        SharedSpaceIndex(similarity="csls", csls_k=5)
        .fit(gallery, reference_queries=reference)
        .most_similar(queries)
    )
    old = SharedSpaceIndex(hubness="csls", hubness_k=5)
    # One recorder for both warnings: pytest < 8 does not re-emit a warning
    # that an inner ``pytest.warns`` did not match.
    with pytest.warns(FutureWarning) as record:
        old.fit(gallery, reference_queries=reference)
    messages = " | ".join(str(warning.message) for warning in record)
    assert "`hubness` was renamed `similarity`" in messages
    assert "`hubness_k` was renamed `csls_k`" in messages
    assert_array_equal(old.most_similar(queries)[1], expected[1])
    index = SharedSpaceIndex().fit(gallery, reference_queries=reference)
    with pytest.warns(FutureWarning, match="renamed `similarity`"):
        indices = index.kneighbors(queries, hubness="csls", return_distance=False)
    assert_array_equal(
        indices, index.kneighbors(queries, similarity="csls", return_distance=False)
    )
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="not both"):
        SharedSpaceIndex(similarity="csls", hubness="qb_norm").fit(gallery)
    with pytest.warns(FutureWarning):  # "none" was the name of no correction
        plain = SharedSpaceIndex(hubness="none").fit(gallery).most_similar(queries)
    assert_array_equal(
        plain[1], SharedSpaceIndex().fit(gallery).most_similar(queries)[1]
    )


# --- the approximate backend reaches a stated recall ------------------------------


def _isotropic(rng, n, d=64):
    return rng.standard_normal((n, d), dtype=np.float32)


def _low_rank(rng, n, d=64, rank=8, basis=None):
    return rng.standard_normal((n, rank), dtype=np.float32) @ basis + np.float32(
        0.3
    ) * rng.standard_normal((n, d), dtype=np.float32)


@pytest.mark.parametrize("kind", ["isotropic", "low_rank"])
def test_faiss_backend_reaches_its_target_recall(kind):
    """n_probe is calibrated at fit time so that fresh queries find at least
    target_recall of their exact top-10 (less a sampling tolerance), on
    isotropic Gaussian rows (where few cells do not do) and on rank-8 rows."""
    pytest.importorskip("faiss", reason="faiss-cpu (the 'faiss' extra) is absent")
    rng = np.random.default_rng(12)
    basis = rng.standard_normal((8, 64), dtype=np.float32)

    def draw(n):
        return (
            _isotropic(rng, n)
            if kind == "isotropic"
            else _low_rank(rng, n, basis=basis)
        )

    gallery, queries = draw(20_000), draw(400)
    exact = SharedSpaceIndex(n_neighbors=10).fit(gallery).most_similar(queries)[1]
    for target in (0.8, 0.95):
        index = SharedSpaceIndex(n_neighbors=10, backend="faiss", target_recall=target)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            index.fit(gallery)
        # Told when the inverted file must read more than a quarter of the
        # cells (never on the low-rank rows, which need few).
        n_lists = index._faiss_index.nlist
        slow = index.n_probe_ > n_lists / 4
        expected = f"The faiss backend visits {index.n_probe_} of its {n_lists} cells"
        assert [str(w.message)[: len(expected)] for w in caught] == (
            [expected] if slow else []
        )
        assert kind == "isotropic" or not slow
        found = index.most_similar(queries)[1]
        recall = (
            np.mean(
                [len(np.intersect1d(a, e)) for a, e in zip(found, exact, strict=True)]
            )
            / 10
        )
        assert index.recall_estimate_ >= target
        assert recall >= target - 0.02, (target, index.n_probe_, recall)
        assert abs(recall - index.recall_estimate_) < 0.03
    # Isotropic rows need many more cells than the former default (1/64 of them).
    if kind == "isotropic":
        assert index.n_probe_ > 8 * max(1, index._faiss_index.nlist // 64)


def test_faiss_calibration_uses_reference_queries_and_a_given_n_probe():
    """With reference queries the recall is measured on them; a given n_probe
    is kept and its recall reported (1.0 when every cell is visited)."""
    pytest.importorskip("faiss", reason="faiss-cpu (the 'faiss' extra) is absent")
    rng = np.random.default_rng(13)
    gallery = _isotropic(rng, 5000, 16)
    index = SharedSpaceIndex(backend="faiss", n_lists=20, n_probe=20).fit(
        gallery, reference_queries=_isotropic(rng, 300, 16)
    )
    assert index.n_probe_ == 20 and index.recall_estimate_ == 1.0
    index = SharedSpaceIndex(backend="faiss", n_lists=20, n_probe=1).fit(gallery)
    assert index.n_probe_ == 1 and index.recall_estimate_ < 0.9
    assert SharedSpaceIndex().fit(gallery).recall_estimate_ == 1.0


# --- the estimator's retrieve searches in the embeddings' dtype ---------------------


class _FixedProjection(CrossModalEstimator):
    """A two-view estimator whose embeddings keep the input's dtype."""

    def _fit_views(self, X, y, sample_weight):
        rng = np.random.default_rng(0)
        self.x_map_ = rng.normal(size=(X.shape[1], 3))
        self.y_map_ = rng.normal(size=(y.shape[1], 3))
        self.n_components_ = 3

    def _embed_x(self, X):
        return X @ self.x_map_.astype(X.dtype)

    def _embed_y(self, y):
        return y @ self.y_map_.astype(y.dtype)

    def _predict_views(self, X):
        return np.zeros((X.shape[0], self.y_map_.shape[0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_retrieve_searches_in_the_embeddings_dtype(monkeypatch, dtype):
    """float32 views are searched in float32 (the index's blocks and kernel),
    float64 in float64; the answer is the index's on the same embeddings."""
    searched = []
    blocks = _similarity.map_similarity_blocks

    def recording(queries, gallery, reduce_block):
        searched.append((queries.dtype, gallery.dtype))
        return blocks(queries, gallery, reduce_block)

    monkeypatch.setattr(_similarity, "map_similarity_blocks", recording)
    rng = np.random.default_rng(14)
    X, y = rng.normal(size=(300, 6)).astype(dtype), rng.normal(size=(300, 5))
    model = _FixedProjection().fit(X, y.astype(dtype))
    scores, indices = model.retrieve(X[:20], y.astype(dtype), n_neighbors=4)
    assert scores.dtype == dtype
    assert searched == [(dtype, dtype)]
    query_scores, gallery_scores = model.transform(X[:20], y[:20].astype(dtype))
    gallery_scores = model.transform(X, y.astype(dtype))[1]
    index = SharedSpaceIndex(n_neighbors=4).fit(gallery_scores)
    assert_array_equal(index.most_similar(query_scores)[1], indices)


@pytest.mark.parametrize("backend", ["numpy", "torch", "faiss"])
def test_kneighbors_without_queries_searches_the_gallery_itself(backend):
    """X=None: each gallery row's neighbours but itself, as scikit-learn's;
    with a duplicated row the duplicate is the first neighbour."""
    from sklearn.neighbors import NearestNeighbors

    pytest.importorskip(backend)
    rng = np.random.default_rng(15)
    gallery = rng.normal(size=(300, 5))
    gallery[7] = gallery[3]  # a tie at the top: 3 and 7 find each other
    cells = {"n_lists": 4, "n_probe": 4} if backend == "faiss" else {}
    index = SharedSpaceIndex(n_neighbors=3, backend=backend, **cells).fit(gallery)
    distances, indices = index.kneighbors()
    nn = NearestNeighbors(n_neighbors=3, metric="cosine", algorithm="brute")
    expected_distances = nn.fit(gallery).kneighbors()[0]
    assert_allclose(distances, expected_distances, atol=1e-6)
    # scikit-learn's order of the tied duplicates changed across releases, so
    # the indices are checked against the documented rule (ties by gallery
    # row): a stable sort of the exact cosine similarities, self excluded.
    unit = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    similarities = unit @ unit.T
    np.fill_diagonal(similarities, -np.inf)
    by_rule = np.argsort(-similarities, axis=1, kind="stable")[:, :3]
    assert_array_equal(indices, by_rule)
    assert indices[3, 0] == 7 and indices[7, 0] == 3
    with pytest.raises(ValueError, match="less the query itself"):
        index.kneighbors(n_neighbors=300)


@pytest.mark.parametrize("n_probe", [None, 1, 3, 7])
def test_faiss_recall_estimate_is_the_recall_of_its_search(monkeypatch, n_probe):
    """recall_estimate_ (from ranking the cells of the true neighbours) equals
    the recall the faiss search then has on the same reference queries."""
    pytest.importorskip("faiss", reason="faiss-cpu (the 'faiss' extra) is absent")
    from skcrossmodal._numerics import inverted_file

    monkeypatch.setattr(inverted_file, "_RANKING_NUMBERS", 50 * 7)  # 7 per block
    rng = np.random.default_rng(16)
    gallery, reference = _isotropic(rng, 4000, 16), _isotropic(rng, 300, 16)
    index = SharedSpaceIndex(
        n_neighbors=5, backend="faiss", n_lists=50, n_probe=n_probe, target_recall=0.7
    ).fit(gallery, reference_queries=reference)
    exact = SharedSpaceIndex(n_neighbors=5).fit(gallery).most_similar(reference)[1]
    found = index.most_similar(reference)[1]
    recall = np.mean(
        [len(np.intersect1d(a, e)) for a, e in zip(found, exact, strict=True)]
    )
    assert index.recall_estimate_ == pytest.approx(recall / 5, abs=1e-12)
    if n_probe is None:  # calibrated: the target reached with fewer cells
        assert index.recall_estimate_ >= 0.7 and index.n_probe_ < 50
    else:
        assert index.n_probe_ == n_probe
