"""Tests for the shared-space search index and retrieval through pipelines."""

import importlib.util
import pickle
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcrossmodal import CrossModalEmbedding, retrieval
from skcrossmodal._numerics.similarity import top_k_of_block
from skcrossmodal.retrieval import SharedSpaceIndex, retrieve, search_top_k

PROPERTY = settings(max_examples=25, deadline=None)


def _cosine(queries, gallery):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    return q @ g.T


def _brute_force_scores(queries, gallery, reference, hubness, k=10, beta=20.0):
    """Corrected score matrices written out from their definitions."""
    S = _cosine(queries, gallery)
    if hubness == "none":
        return S
    ref = _cosine(reference, gallery)  # (n_reference, n_gallery)
    if hubness == "csls":
        r_query = np.sort(S, axis=1)[:, -k:].mean(axis=1)
        r_gallery = np.sort(ref.T, axis=1)[:, -k:].mean(axis=1)
        return 2 * S - r_query[:, None] - r_gallery[None, :]
    inverted = beta * S - logsumexp(beta * ref, axis=0)[None, :]
    if hubness == "inverted_softmax":
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
    st.sampled_from(["none", "csls", "inverted_softmax", "qb_norm"]),
    st.integers(1, 10),
)
def test_exact_index_matches_brute_force(data, hubness, n_neighbors):
    """Exact search returns the top of the corrected matrix, at any scale."""
    queries, gallery, reference = data
    index = SharedSpaceIndex(hubness=hubness).fit(gallery, reference_queries=reference)
    scores, indices = index.kneighbors(queries, n_neighbors)
    S = _brute_force_scores(queries, gallery, reference, hubness)
    expected, _ = _top(S, n_neighbors)
    assert scores.dtype == np.float32
    assert_allclose(scores, expected, atol=2e-5 * max(1, np.abs(expected).max()))
    assert_allclose(
        np.take_along_axis(S, indices, axis=1),
        expected,
        atol=2e-5 * max(1, np.abs(expected).max()),
    )


@pytest.mark.parametrize("hubness", ["csls", "inverted_softmax", "qb_norm"])
def test_one_query_is_corrected_like_a_batch(hubness):
    """With reference queries stored at fit, a lone query ranks as in a batch."""
    rng = np.random.default_rng(0)
    gallery, queries = rng.normal(size=(400, 6)), rng.normal(size=(20, 6))
    index = SharedSpaceIndex(hubness=hubness, n_neighbors=5).fit(
        gallery, reference_queries=rng.normal(size=(100, 6))
    )
    batch = index.kneighbors(queries)[1]
    for i in range(len(queries)):
        assert_array_equal(index.kneighbors(queries[i : i + 1])[1], batch[i : i + 1])


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
        hubness: np.mean(np.any(index.kneighbors(queries, hubness=hubness)[1] == 0, 1))
        for hubness in ("none", "csls", "inverted_softmax", "qb_norm")
    }
    assert hub_hits["none"] > 0.8
    for hubness in ("csls", "inverted_softmax", "qb_norm"):
        assert hub_hits[hubness] < 0.75 * hub_hits["none"]


def test_torch_backend_matches_numpy():
    """The torch backend (here on CPU) finds the same neighbours as numpy."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    gallery, queries = rng.normal(size=(500, 7)), rng.normal(size=(40, 7))
    reference = rng.normal(size=(80, 7))
    for hubness in ("none", "csls", "inverted_softmax", "qb_norm"):
        numpy_index = SharedSpaceIndex(hubness=hubness).fit(
            gallery, reference_queries=reference
        )
        torch_index = SharedSpaceIndex(hubness=hubness, backend="torch").fit(
            gallery, reference_queries=reference
        )
        expected = numpy_index.kneighbors(queries, 6)
        scores, indices = torch_index.kneighbors(queries, 6)
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
    index = SharedSpaceIndex(backend=backend, n_neighbors=3).fit(np.ones((300, 1)))
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

    monkeypatch.setattr(retrieval, "_BLOCK_NUMBERS", 2**12)
    rng = np.random.default_rng(8)
    gallery = rng.normal(size=(256, 8))
    index = SharedSpaceIndex(backend="torch", n_neighbors=5).fit(
        gallery, reference_queries=rng.normal(size=(40, 8))
    )
    block_bytes = 4 * 2**12  # 16 query rows of 256 float32 cosines
    for hubness in ("none", "csls", "inverted_softmax", "qb_norm"):
        allocated = {}
        for n_queries in (16 * 4, 16 * 64):  # 4 and 64 blocks
            with NewStorage() as mode:
                index.most_similar(rng.normal(size=(n_queries, 8)), hubness=hubness)
            assert max(mode.sizes) <= block_bytes, hubness
            allocated[n_queries] = sum(mode.sizes)
        # Growth with the queries: small per-block results only (a few
        # 16 x 6 arrays per block), never a block per block.
        growth = allocated[16 * 64] - allocated[16 * 4]
        assert growth < 60 * block_bytes // 4, (hubness, allocated)


def _clustered(rng, n, d, n_clusters=50):
    centres = rng.normal(size=(n_clusters, d))
    labels = rng.integers(0, n_clusters, size=n)
    return (centres[labels] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def test_faiss_backend_recalls_the_exact_neighbours():
    """The approximate backend finds most exact top-10 neighbours."""
    pytest.importorskip("faiss", reason="faiss-cpu (the 'faiss' extra) is absent")
    rng = np.random.default_rng(3)
    gallery, queries = _clustered(rng, 8000, 16), _clustered(rng, 200, 16)
    exact = SharedSpaceIndex().fit(gallery).kneighbors(queries, 10)[1]
    approx_index = SharedSpaceIndex(backend="faiss").fit(gallery)
    approx = approx_index.kneighbors(queries, 10)[1]
    recall = np.mean(
        [len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]
    )
    assert recall > 0.9
    # faiss objects do not pickle: the index is rebuilt from the gallery.
    restored = pickle.loads(pickle.dumps(approx_index))
    assert_array_equal(restored.kneighbors(queries, 10)[1], approx)


def test_faiss_backend_corrects_hubness_on_a_shortlist():
    """With every cell probed, re-ranking the shortlist equals exact CSLS."""
    pytest.importorskip("faiss", reason="faiss-cpu (the 'faiss' extra) is absent")
    rng = np.random.default_rng(4)
    gallery, queries = _clustered(rng, 2000, 8), _clustered(rng, 50, 8)
    reference = _clustered(rng, 300, 8)
    exact = SharedSpaceIndex(hubness="csls").fit(gallery, reference_queries=reference)
    approx = SharedSpaceIndex(
        hubness="csls", backend="faiss", n_lists=8, n_probe=8, shortlist_factor=20
    ).fit(gallery, reference_queries=reference)
    expected = exact.kneighbors(queries, 5)
    scores, indices = approx.kneighbors(queries, 5)
    assert np.mean(indices == expected[1]) > 0.98
    assert_allclose(scores, expected[0], atol=1e-5)


def test_exact_search_needs_no_faiss_or_torch(monkeypatch):
    """faiss and torch are imported only when their backend is used."""
    # A None entry in sys.modules makes any import of the name fail.
    monkeypatch.setitem(sys.modules, "faiss", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    index = SharedSpaceIndex(n_neighbors=1).fit(np.eye(3))
    assert_array_equal(index.kneighbors(np.eye(3))[1].ravel(), [0, 1, 2])
    with pytest.raises(ImportError, match="skcrossmodal\\[faiss\\]"):
        SharedSpaceIndex(backend="faiss").fit(np.eye(3))


def test_all_zero_embeddings_stay_similar_to_nothing():
    """A zero query has similarity 0 to everything; a zero gallery row too."""
    gallery = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    index = SharedSpaceIndex(n_neighbors=3).fit(gallery)
    scores, _ = index.kneighbors(np.zeros((1, 2)))
    assert_array_equal(scores, np.zeros((1, 3)))
    scores, indices = index.kneighbors([[1.0, 1.0]])
    assert indices[0, -1] == 1 and scores[0, -1] == 0


@pytest.mark.parametrize(
    "fit_kwargs, query, kwargs, error, match",
    [
        ({}, np.ones((2, 3)), {}, ValueError, "3 features"),
        ({}, np.array([[np.nan, 1.0, 0, 0]]), {}, ValueError, "NaN"),
        ({}, np.ones((1, 4)), {"n_neighbors": 21}, ValueError, "larger than the"),
        ({}, np.ones((1, 4)), {"n_neighbors": True}, ValueError, "positive integer"),
        ({}, np.ones((1, 4)), {"hubness": "mnn"}, ValueError, "hubness must be"),
        ({}, np.ones((1, 4)), {"hubness": "csls"}, ValueError, "reference_queries"),
        (
            {"reference_queries": np.ones((4, 4))},
            np.ones((1, 4)),
            {"hubness": "csls"},
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
        index.kneighbors(query, **kwargs)


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


@parametrize_with_checks([SharedSpaceIndex()])
def test_index_is_a_scikit_learn_estimator(estimator, check):
    """SharedSpaceIndex passes scikit-learn's estimator checks."""
    check(estimator)


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
