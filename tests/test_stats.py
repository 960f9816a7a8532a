"""Tests for the blockwise weighted sufficient statistics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose

from skcrossmodal._numerics.moments import shrunk_covariance_roots, two_view_moments


def _direct_moments(X, y, weights):
    """Weighted means and centred co-moment sums, computed the obvious way."""
    mean_x = np.average(X, axis=0, weights=weights)
    mean_y = np.average(y, axis=0, weights=weights)
    Xc, yc = X - mean_x, y - mean_y
    return (
        mean_x,
        mean_y,
        Xc.T @ (yc * weights[:, None]),
        Xc.T @ (Xc * weights[:, None]),
    )


@settings(max_examples=examples(40), deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_samples=st.integers(2, 40),
    block_rows=st.integers(1, 45),
    weighted=st.booleans(),
)
def test_blocks_merge_to_the_direct_statistics(seed, n_samples, block_rows, weighted):
    """Any block size gives the statistics computed on all rows at once."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n_samples, 3)) + 2.0, rng.normal(size=(n_samples, 2))
    weights = rng.uniform(0.0, 2.0, n_samples) if weighted else np.ones(n_samples)
    moments = two_view_moments(
        X,
        y,
        weights if weighted else None,
        second_order_x="full",
        second_order_y="diag",
        block_rows=block_rows,
    )
    mean_x, mean_y, cross_xy, cross_xx = _direct_moments(X, y, weights)
    assert_allclose(moments.weight_sum, weights.sum())
    assert_allclose(moments.mean_x, mean_x, atol=1e-12)
    assert_allclose(moments.mean_y, mean_y, atol=1e-12)
    assert_allclose(moments.cross_xy, cross_xy, atol=1e-10)
    assert_allclose(moments.cross_xx, cross_xx, atol=1e-10)
    assert_allclose(
        moments.cross_yy, np.diag(_direct_moments(y, y, weights)[3]), atol=1e-10
    )


def test_large_mean_loses_no_precision():
    """At mean 1e6 and spread 1, merged blocks keep the co-moments to 1e-9."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 2))
    y = X @ np.array([[1.0, 0.5], [0.0, 2.0]]) + rng.normal(size=(5000, 2))
    reference = two_view_moments(X, y, block_rows=5000)
    shifted = two_view_moments(X + 1e6, y + 1e6, block_rows=37)
    assert_allclose(shifted.cross_xy, reference.cross_xy, rtol=1e-9)
    naive = (X + 1e6).T @ (y + 1e6) - 5000 * np.outer(X.mean(0) + 1e6, y.mean(0) + 1e6)
    assert not np.allclose(naive, reference.cross_xy, rtol=1e-9)  # why blocks exist


def test_zero_weight_blocks_are_skipped():
    """Rows with zero weight change nothing, even a whole block of them."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    weights = np.r_[np.zeros(10), np.ones(20)]
    kept = two_view_moments(X[10:], y[10:], second_order_x="full")
    masked = two_view_moments(X, y, weights, second_order_x="full", block_rows=10)
    assert_allclose(masked.cross_xy, kept.cross_xy, atol=1e-12)
    assert_allclose(masked.cross_xx, kept.cross_xx, atol=1e-12)
    assert two_view_moments(X, y, np.zeros(30)) is None


def test_unknown_second_order_is_rejected():
    """Only None, 'diag' and 'full' are accepted for within-view moments."""
    with pytest.raises(ValueError, match="second_order must be one of"):
        two_view_moments(np.ones((3, 1)), np.ones((3, 1)), second_order_x="half")


def test_shrunk_roots_invert_each_other():
    """The two roots multiply to the identity and square to the shrunk matrix."""
    rng = np.random.default_rng(2)
    A = rng.normal(size=(5, 5))
    cov = A @ A.T
    inv_root, root = shrunk_covariance_roots(cov, 0.2, view_name="X")
    shrunk = 0.8 * cov + 0.2 * np.trace(cov) / 5 * np.eye(5)
    assert_allclose(root @ root, shrunk, atol=1e-10)
    assert_allclose(inv_root @ root, np.eye(5), atol=1e-10)


@settings(max_examples=examples(20), deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_threads=st.integers(2, 4))
def test_threaded_blocks_equal_serial_blocks(seed, n_threads):
    """Sharing blocks among threads gives the serial result, every time."""
    from skcrossmodal._numerics.moments import _blockwise_moments

    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(97, 4)) + 5.0, rng.normal(size=(97, 3))
    weights = rng.uniform(0.0, 2.0, 97)
    options = dict(second_order_x="full", second_order_y="diag", block_rows=10)
    serial = _blockwise_moments(X, y, weights, **options, n_threads=1)
    threaded = _blockwise_moments(X, y, weights, **options, n_threads=n_threads)
    again = _blockwise_moments(X, y, weights, **options, n_threads=n_threads)
    for name in ("mean_x", "mean_y", "cross_xy", "cross_xx", "cross_yy"):
        assert_allclose(getattr(threaded, name), getattr(serial, name), atol=1e-12)
        np.testing.assert_array_equal(getattr(again, name), getattr(threaded, name))


# --------------------------------------- units: no overflow, no underflow ---
@settings(max_examples=examples(40), deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    x_exponent=st.integers(-1000, 1000),
    y_exponent=st.integers(-1000, 1000),
    weight_exponent=st.integers(-1060, 1000),
    block_rows=st.sampled_from([None, 7]),
)
def test_statistics_follow_powers_of_two_of_data_and_weights(
    seed, x_exponent, y_exponent, weight_exponent, block_rows
):
    """Scaling X, y and the weights by 2**a, 2**b, 2**c scales every statistic.

    Powers of two are exact in floating point, so the statistics of scaled data
    are those of the unscaled data times the scale, as long as the results
    themselves are representable (a cross-product of 2**(a + b + c) and squares
    of 2**(2a + c)); data of 1e300 or weights of 1e-318 must not overflow or
    underflow on the way.
    """
    for exponent in (x_exponent + y_exponent, 2 * x_exponent, 2 * y_exponent):
        if not -1000 <= exponent + weight_exponent <= 1000:
            return  # the result itself is out of range
    rng = np.random.default_rng(seed)
    n_samples = 30
    X = rng.normal(size=(n_samples, 3)) + rng.normal(size=3)
    y = rng.normal(size=(n_samples, 2))
    weights = rng.integers(1, 8, size=n_samples).astype(float)
    options = {"second_order_x": "full", "second_order_y": "diag"}
    reference = two_view_moments(X, y, weights, block_rows=block_rows, **options)
    scaled = two_view_moments(
        np.ldexp(X, x_exponent),
        np.ldexp(y, y_exponent),
        np.ldexp(weights, weight_exponent),
        block_rows=block_rows,
        **options,
    )
    tolerance = {"rtol": 1e-9, "atol": 0}
    assert_allclose(
        scaled.weight_sum, np.ldexp(reference.weight_sum, weight_exponent), rtol=1e-12
    )
    assert_allclose(scaled.mean_x, np.ldexp(reference.mean_x, x_exponent), **tolerance)
    assert_allclose(scaled.mean_y, np.ldexp(reference.mean_y, y_exponent), **tolerance)
    # Co-moments that are tiny next to the largest in their matrix (cancellation)
    # are compared relative to that largest one.
    for name, exponent in (
        ("cross_xy", x_exponent + y_exponent),
        ("cross_xx", 2 * x_exponent),
        ("cross_yy", 2 * y_exponent),
    ):
        expected = getattr(reference, name)
        got = np.ldexp(getattr(scaled, name), -(exponent + weight_exponent))
        assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


def test_huge_rows_sum_without_overflow():
    """Means of 300 rows of 1e306 exist; summing them unscaled overflows."""
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 3)) + 3.0) * 1e306
    y = rng.normal(size=(300, 2))
    moments = two_view_moments(X, y)
    assert_allclose(moments.mean_x, X.mean(axis=0, dtype=np.longdouble), rtol=1e-9)
    assert np.all(np.isfinite(moments.cross_xy))


def test_weights_near_the_float_limits_give_the_weighted_covariances():
    """Uniform weights of 1e300 (merged) or 1e-320 leave the covariances alone.

    Co-moment sums of weights 1e-320 are subnormal numbers, with about five
    significant digits: the covariances keep those (not 16), against a 8 %
    error when the products underflowed one by one.
    """
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    reference = two_view_moments(X, y, block_rows=7)
    for weight in (1e300, 1e-320):
        moments = two_view_moments(X, y, np.full(40, weight), block_rows=7)
        assert_allclose(
            moments.cross_xy / moments.weight_sum,
            reference.cross_xy / reference.weight_sum,
            rtol=1e-3,
        )
        assert_allclose(moments.mean_x, reference.mean_x, rtol=1e-12)


# ------------------------------------------------------- thread pool size ---
@pytest.fixture
def pool_sizes(monkeypatch):
    """Record the size of every thread pool the statistics open (through the
    one thread mapper, skcrossmodal._utils.threads.map_in_threads)."""
    from concurrent.futures import ThreadPoolExecutor

    from skcrossmodal._utils import threads

    sizes = []

    class Recording(ThreadPoolExecutor):
        def __init__(self, max_workers=None, **kwargs):
            sizes.append(max_workers)
            super().__init__(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(threads, "ThreadPoolExecutor", Recording)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    return sizes


def _many_blocks():
    rng = np.random.default_rng(0)
    return rng.normal(size=(64, 3)), rng.normal(size=(64, 2))


def test_default_threads_follow_the_blas_limit(pool_sizes):
    """n_jobs=None follows threadpoolctl's BLAS limit (joblib's, in workers)."""
    from threadpoolctl import threadpool_limits

    X, y = _many_blocks()
    reference = two_view_moments(X, y, block_rows=4, n_jobs=1)
    with threadpool_limits(limits=1, user_api="blas"):
        serial = two_view_moments(X, y, block_rows=4)
    assert pool_sizes == []  # one thread: no pool at all
    with threadpool_limits(limits=3, user_api="blas"):
        threaded = two_view_moments(X, y, block_rows=4)
    assert pool_sizes == [3]
    for moments in (serial, threaded):
        assert_allclose(moments.cross_xy, reference.cross_xy, rtol=1e-12)


def test_explicit_n_jobs_sizes_the_pool(pool_sizes):
    X, y = _many_blocks()
    two_view_moments(X, y, block_rows=4, n_jobs=2)
    two_view_moments(X, y, block_rows=4, n_jobs=-1)  # all 4 (patched) CPUs
    two_view_moments(X, y, block_rows=4, n_jobs=-3)  # all but two
    assert pool_sizes == [2, 4, 2]


def test_estimators_pass_their_n_jobs(pool_sizes):
    """The linear estimators hand ``n_jobs`` (when they have it) to the pool."""
    from threadpoolctl import threadpool_limits

    from skcrossmodal import CrossModalEmbedding

    X, y = _many_blocks()
    X = np.repeat(X, 400, axis=0)  # enough rows for several blocks
    y = np.repeat(y, 400, axis=0)
    model = CrossModalEmbedding()
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(X, y)
    assert pool_sizes == []
    model.n_jobs = 2  # as the estimators' n_jobs parameter sets it
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(X, y)
    assert pool_sizes == [2]
