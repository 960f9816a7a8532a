"""Tests of the torch partner-rank kernel behind the aligner's validation."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal

from skcrossmodal._numerics.ranks import partner_ranks as numpy_partner_ranks
from skcrossmodal.metrics import mean_reciprocal_rank

torch = pytest.importorskip("torch")
models = pytest.importorskip("skcrossmodal._torch.modules")
ranks = pytest.importorskip("skcrossmodal._torch.ranks")


@settings(max_examples=examples(25), deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(2, 40),
    levels=st.integers(2, 6),
    chunk=st.sampled_from([1, 3, 1000]),
)
def test_device_validation_mrr_equals_the_metric(seed, n, levels, chunk):
    """The blockwise device MRR equals metrics.mean_reciprocal_rank, ties included."""
    rng = np.random.default_rng(seed)
    # Rows among the first ``levels`` signed axes of R^3: exact similarities
    # (0, ±1), so that ties are common and exact in every arithmetic.
    axes = np.vstack([np.eye(3), -np.eye(3)])[:levels]
    z_x = axes[rng.integers(0, levels, size=n)]
    z_y = axes[rng.integers(0, levels, size=n)]
    weight = rng.uniform(0.1, 2, size=n)
    comm = models.LocalCommunicator()
    old = ranks.RANK_BLOCK_SIMILARITIES
    ranks.RANK_BLOCK_SIMILARITIES = chunk * n  # blocks of a few query rows
    try:
        x_to_y, norm = ranks.reciprocal_rank_sums(
            torch.tensor(z_x), torch.tensor(z_y), 0, torch.tensor(weight)
        )
        y_to_x, _ = ranks.reciprocal_rank_sums(
            torch.tensor(z_y), torch.tensor(z_x), 0, torch.tensor(weight)
        )
    finally:
        ranks.RANK_BLOCK_SIMILARITIES = old
    device_mrr = float(0.5 * (x_to_y + y_to_x) / norm)
    assert comm.any_true(False) is False
    assert_allclose(device_mrr, mean_reciprocal_rank(z_x, z_y, sample_weight=weight))


def _device_mrr(z_x, z_y, weight):
    x_to_y, norm = ranks.reciprocal_rank_sums(z_x, z_y, 0, weight)
    y_to_x, _ = ranks.reciprocal_rank_sums(z_y, z_x, 0, weight)
    return float(0.5 * (x_to_y + y_to_x) / norm)


def test_validation_rank_count_by_hand(monkeypatch):
    """Ranks of a small case worked out by hand: ties count half, both directions.

    Similarities x_i . y_j (partners on the diagonal): rows [1, 1, 0, .28],
    [1, 1, 0, .28], [0, 0, 1, -.96], [.6, .6, .8, -.6]. x -> y ranks 1.5, 1.5,
    1, 4; y -> x (columns) 1.5, 1.5, 1, 3. With weights 1, 2, 1, 4 (sum 8):
    x -> y (2/3 + 4/3 + 1 + 1) / 8 = 1/2, y -> x (2/3 + 4/3 + 1 + 4/3) / 8 =
    13/24, MRR 25/48.
    """
    z_x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    z_y = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.28, -0.96]])
    weight = torch.tensor([1.0, 2.0, 1.0, 4.0], dtype=torch.float64)
    for block in (1, 4, 5, 2**18):  # one query row per block ... all at once
        monkeypatch.setattr(ranks, "RANK_BLOCK_SIMILARITIES", block)
        assert _device_mrr(z_x, z_y, weight) == pytest.approx(25 / 48, rel=1e-12)
    weights = weight.numpy()
    assert 25 / 48 == pytest.approx(
        mean_reciprocal_rank(z_x.numpy(), z_y.numpy(), sample_weight=weights)
    )


def _exact_unit_rows(rng, n_rows):
    """Unit rows of R^6 whose dot products are exact multiples of 1/4.

    Signed axes and rows with four entries of +-1/2: every product and partial
    sum is exact in float32 and float64, so ties are exact in any summation
    order (a BLAS may round the entries of one product differently).
    """
    rows = np.zeros((n_rows, 6))
    halves = rng.random(n_rows) < 0.6
    for i in range(n_rows):
        if halves[i]:
            where = rng.choice(6, size=4, replace=False)
            rows[i, where] = rng.choice([-0.5, 0.5], size=4)
        else:
            rows[i, rng.integers(6)] = rng.choice([-1.0, 1.0])
    return rows


@settings(max_examples=examples(20), deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(2, 60),
    n_distinct=st.integers(1, 60),
    rows_per_block=st.sampled_from([1, 2, 7, 100]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_validation_mrr_with_duplicates_equals_the_metric(
    seed, n, n_distinct, rows_per_block, dtype
):
    """Repeated rows and many similarity levels (exact ties): the metric's MRR."""
    rng = np.random.default_rng(seed)
    pool_x, pool_y = (
        _exact_unit_rows(rng, n_distinct),
        _exact_unit_rows(rng, n_distinct),
    )
    z_x = pool_x[rng.integers(0, n_distinct, size=n)]
    z_y = pool_y[rng.integers(0, n_distinct, size=n)]
    weight = rng.uniform(0.1, 2, size=n)
    old = ranks.RANK_BLOCK_SIMILARITIES
    ranks.RANK_BLOCK_SIMILARITIES = rows_per_block * n
    try:
        device_mrr = _device_mrr(
            torch.tensor(z_x, dtype=dtype),
            torch.tensor(z_y, dtype=dtype),
            torch.tensor(weight),
        )
    finally:
        ranks.RANK_BLOCK_SIMILARITIES = old
    assert_allclose(device_mrr, mean_reciprocal_rank(z_x, z_y, sample_weight=weight))


def test_rank_sums_of_a_shard_use_its_offset(monkeypatch):
    """Queries that are a slice of the gallery (a rank's shard) sum to the whole."""
    monkeypatch.setattr(ranks, "RANK_BLOCK_SIMILARITIES", 3 * 30)
    rng = np.random.default_rng(3)
    z = torch.nn.functional.normalize(torch.tensor(rng.normal(size=(30, 3))), dim=1)
    z_y = torch.nn.functional.normalize(
        z + torch.tensor(rng.normal(size=(30, 3))), dim=1
    )
    weight = torch.tensor(rng.uniform(0.5, 1.5, size=30))
    whole, norm = ranks.reciprocal_rank_sums(z, z_y, 0, weight)
    parts = [
        ranks.reciprocal_rank_sums(z[a:b], z_y, a, weight[a:b])
        for a, b in ((0, 11), (11, 12), (12, 30))
    ]
    assert float(sum(p[0] for p in parts)) == pytest.approx(float(whole), rel=1e-12)
    assert float(sum(p[1] for p in parts)) == pytest.approx(float(norm), rel=1e-12)


def _unit_rows(rng, n, d):
    rows = rng.normal(size=(n, d))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@settings(max_examples=examples(20), deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(2, 700),
    d=st.integers(2, 16),
    n_distinct=st.integers(1, 12),
    rows_per_block=st.sampled_from([1, 7, 1000]),
)
def test_per_pair_ranks_equal_the_numpy_kernel(seed, n, d, n_distinct, rows_per_block):
    """Per-pair ranks of continuous rows with duplicates: the numpy kernel's.

    Rows are drawn from a few continuous directions, so the partner has many
    duplicates, which tie with it even where a product rounds their
    similarities differently. Draws where two distinct directions lie within
    1e-5 of each other (far more than float32 rounding) are skipped: only
    there may float32 and float64 order them differently.
    """
    rng = np.random.default_rng(seed)
    pool_x = _unit_rows(rng, n_distinct, d).astype(np.float32)
    pool_y = _unit_rows(rng, n_distinct, d).astype(np.float32)
    levels = np.sort(pool_x.astype(np.float64) @ pool_y.T.astype(np.float64), axis=1)
    assume(np.all(np.diff(levels, axis=1) > 1e-5))
    z_x = pool_x[rng.integers(0, n_distinct, size=n)]
    z_y = pool_y[rng.integers(0, n_distinct, size=n)]
    expected = numpy_partner_ranks(z_x, z_y)
    old = ranks.RANK_BLOCK_SIMILARITIES
    ranks.RANK_BLOCK_SIMILARITIES = rows_per_block * n
    try:
        actual = ranks.partner_ranks(torch.tensor(z_x), torch.tensor(z_y)).numpy()
    finally:
        ranks.RANK_BLOCK_SIMILARITIES = old
    assert_array_equal(actual, expected)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_rank_sums_equal_the_metric():
    """The GPU's larger blocks count ranks like the metric, exact ties included."""
    rng = np.random.default_rng(0)
    pool_x, pool_y = _exact_unit_rows(rng, 300), _exact_unit_rows(rng, 300)
    z_x = pool_x[rng.integers(0, 300, size=5000)]
    z_y = pool_y[rng.integers(0, 300, size=5000)]
    weight = rng.uniform(0.1, 2, size=5000)
    device_mrr = _device_mrr(
        torch.tensor(z_x, dtype=torch.float32, device="cuda"),
        torch.tensor(z_y, dtype=torch.float32, device="cuda"),
        torch.tensor(weight, device="cuda"),
    )
    assert_allclose(device_mrr, mean_reciprocal_rank(z_x, z_y, sample_weight=weight))
