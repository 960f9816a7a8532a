"""dask arrays for the K-view estimators: a tree reduction equal to the numpy fit."""

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from skcrossmodal import (  # noqa: E402
    GeneralizedCCA,
    MultiViewCCA,
    MultiViewSharedLatentRegression,
)
from skcrossmodal._multiview.moments import (  # noqa: E402
    chunk_moments,
    extend_shifts,
    merge_any_origin,
)
from skcrossmodal.datasets import make_multiview  # noqa: E402

ESTIMATORS = [
    MultiViewCCA(n_components=3),
    GeneralizedCCA(reg=0.2),
    MultiViewCCA(reg=0.0, n_components=2),
]


def _data(seed=0, n_samples=480):
    X, views, _ = make_multiview(
        n_samples, n_views=4, n_features=[5, 4, 6, 3], missing_rate=0.3,
        random_state=seed,
    )  # fmt: skip
    # A large offset next to the spread: the origins must be handled exactly.
    X = X + 100.0
    weights = np.random.default_rng(seed + 1).uniform(0.2, 3.0, n_samples)
    return X, views, weights


def _dask(X, weights):
    # Uneven blocks of rows (and columns, which the fit regroups).
    return da.from_array(X, chunks=(71, 7)), da.from_array(weights, chunks=100)


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_dask_fit_equals_numpy_fit(estimator):
    """Several blocks, views missing, weights: the numpy fit's model to 1e-12."""
    X, views, weights = _data()
    expected = clone(estimator).set_params(views=views).fit(X, sample_weight=weights)
    X_dask, w_dask = _dask(X, weights)
    model = clone(estimator).set_params(views=views).fit(X_dask, sample_weight=w_dask)
    assert model.n_samples_seen_ == X.shape[0] and model.n_features_in_ == X.shape[1]
    assert_allclose(model.eigenvalues_, expected.eigenvalues_, rtol=1e-12)
    assert_allclose(
        model.pairwise_correlations_, expected.pairwise_correlations_, atol=1e-12
    )
    for mine, theirs in zip(model.rotations_, expected.rotations_, strict=True):
        assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12 * np.abs(theirs).max())
    for mine, theirs in zip(model.view_means_, expected.view_means_, strict=True):
        assert_allclose(mine, theirs, rtol=1e-13)
    assert_allclose(model.shrinkages_, expected.shrinkages_, rtol=1e-12)


def test_dask_fit_of_shared_latent_equals_numpy_fit():
    """The per-pattern statistics of the shared latent reduce to fit's too."""
    X, views, weights = _data(seed=2)
    model = MultiViewSharedLatentRegression(views, n_components=2)
    expected = clone(model).fit(X, sample_weight=weights).transform(X)
    fitted = model.fit(*_dask(X, weights)[:1], sample_weight=weights)
    assert_allclose(fitted.transform(X), expected, rtol=1e-11)


def test_transform_of_dask_array_is_lazy_and_equal():
    """transform, transform_view and predict of dask arrays: lazy, numpy's values."""
    X, views, weights = _data(seed=3)
    cca = MultiViewCCA(views, n_components=2).fit(X)
    latent = MultiViewSharedLatentRegression(views, n_components=2).fit(X)
    X_dask = da.from_array(X, chunks=(50, 9))
    pairs = [
        (cca.transform(X_dask), cca.transform(X)),
        (cca.transform_view(X_dask, "view2"), cca.transform_view(X, "view2")),
        (latent.transform(X_dask), latent.transform(X)),
        (latent.predict(X_dask, target_view=1), latent.predict(X, target_view=1)),
    ]
    for lazy, eager in pairs:
        assert isinstance(lazy, da.Array)
        assert lazy.shape == eager.shape
        assert_allclose(lazy.compute(), eager, rtol=1e-12, atol=1e-12)


def test_partial_fit_continues_after_dask_fit():
    """partial_fit after a dask fit merges into the reduced statistics."""
    X, views, weights = _data(seed=4)
    model = MultiViewCCA(views).fit(
        da.from_array(X[:300], chunks=64), sample_weight=weights[:300]
    )
    model.partial_fit(X[300:], sample_weight=weights[300:])
    expected = MultiViewCCA(views).fit(X, sample_weight=weights)
    assert_allclose(model.eigenvalues_, expected.eigenvalues_, rtol=1e-12)


def test_partly_missing_view_in_a_block_names_the_row_of_the_array():
    """A view NaN in only some columns raises fit's error, with the global row."""
    X, views, _ = _data()
    X = X.copy()
    row = int(np.flatnonzero(~np.isnan(X[:, 0]))[-1])
    X[row, 0] = np.nan  # view0 is columns 0 to 4
    with pytest.raises(ValueError, match=f"only some of its columns in row {row} "):
        MultiViewCCA(views).fit(X)
    with pytest.raises(ValueError, match=f"only some of its columns in row {row} "):
        MultiViewCCA(views).fit(da.from_array(X, chunks=(60, 30)))


def test_bad_dask_input_is_refused():
    """Infinity, all-zero weights, unknown chunks and few rows raise clearly."""
    X, views, weights = _data()
    bad = X.copy()
    bad[200, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        MultiViewCCA(views).fit(da.from_array(bad, chunks=100))
    with pytest.raises(ValueError, match="at least one non-zero"):
        MultiViewCCA(views).fit(
            da.from_array(X, chunks=100), sample_weight=da.zeros(480, chunks=100)
        )
    X_dask = da.from_array(X, chunks=100)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        MultiViewCCA(views).fit(X_dask[X_dask[:, 2] > 100])
    with pytest.raises(ValueError, match="minimum of 2"):
        MultiViewCCA(views).fit(X_dask[:1])
    model = MultiViewCCA(views).fit(X)
    with pytest.raises(ValueError, match="X has 17 features, but MultiViewCCA"):
        model.transform(X_dask[:, :17])


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    cuts=st.lists(st.integers(1, 59), min_size=1, max_size=6, unique=True),
)
def test_blocks_with_their_own_origins_merge_to_one_pass(seed, cuts):
    """Per-block origins, merged left to right: one pass's statistics and origins."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 5)) * [1.0, 10.0, 1e3, 1.0, 0.1] + 1e4
    present = rng.uniform(size=(60, 3)) > 0.3
    columns = [np.array([0, 1]), np.array([2]), np.array([3, 4])]
    for k, cols in enumerate(columns):
        X[np.ix_(~present[:, k], cols)] = np.nan
    weights = rng.uniform(0.0, 2.0, 60)

    def stats(rows, shifts):
        return chunk_moments(
            X[rows], present[rows], columns, weights[rows], shifts, keep_patterns=True
        )

    whole = stats(np.arange(60), extend_shifts([None] * 3, X, present, columns))
    merged = None
    for rows in np.split(np.arange(60), sorted(cuts)):
        own = extend_shifts([None] * 3, X[rows], present[rows], columns)
        part = stats(rows, own)
        merged = part if merged is None else merge_any_origin(merged, part)
    for mine, theirs in zip(merged.shifts, whole.shifts, strict=True):
        assert_array_equal(mine, theirs)
    assert_array_equal(merged.counts, whole.counts)
    for mine, theirs in zip(merged.views, whole.views, strict=True):
        assert_allclose(mine.mean_x, theirs.mean_x, rtol=1e-9, atol=1e-9)
        assert_allclose(mine.cross_xx, theirs.cross_xx, rtol=1e-9)
    for key, theirs in whole.pairs.items():
        assert_allclose(merged.pairs[key].cross_xy, theirs.cross_xy, atol=1e-6)
    for key, (theirs, count) in whole.patterns.items():
        assert merged.patterns[key][1] == count
        assert_allclose(merged.patterns[key][0].mean_x, theirs.mean_x, atol=1e-9)


def test_fit_on_a_distributed_cluster():
    """Worker processes reduce the blocks (statistics pickled between them)."""
    distributed = pytest.importorskip("distributed")
    X, views, weights = _data(seed=6)
    options = {
        "n_workers": 2,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
        "silence_logs": logging.ERROR,
    }
    with (
        distributed.LocalCluster(**options) as cluster,
        distributed.Client(cluster),
        dask.config.set(scheduler=None),
    ):
        model = MultiViewCCA(views).fit(*_dask(X, weights)[:1], sample_weight=weights)
    expected = MultiViewCCA(views).fit(X, sample_weight=weights)
    assert_allclose(model.eigenvalues_, expected.eigenvalues_, rtol=1e-12)
