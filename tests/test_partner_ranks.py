"""Tests of the numpy partner-rank kernel, against brute-force rank counts."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

from skcrossmodal._numerics import ranks as _paired_ranks
from skcrossmodal._numerics.ranks import (
    exact_partner_ranks,
    paired_partner_ranks,
    partner_ranks,
)


def _views_with_duplicates(rng, n, d, n_distinct):
    """Rows drawn from a few directions, scaled by powers of 2, some all-zero.

    Returns each view and, for each row, the index of its direction (-1 for a
    zero row): rows of one direction are equal once normalised.
    """
    views = []
    for _ in range(2):
        directions = rng.normal(size=(n_distinct, d))
        which = rng.integers(-1, n_distinct, size=n)
        scale = 2.0 ** rng.integers(-3, 4, size=(n, 1))
        rows = np.where(which[:, None] >= 0, directions[which] * scale, 0.0)
        views.append((rows, which, directions))
    return views


def _ranks_by_direction(queries, which_gallery, directions_gallery):
    """Ranks with one cosine per (query, direction): duplicates tie exactly."""
    unit = directions_gallery / np.linalg.norm(directions_gallery, axis=1)[:, None]
    q = queries / np.maximum(np.linalg.norm(queries, axis=1), 1e-300)[:, None]
    per_direction = q @ unit.T
    ranks = []
    for i in range(len(queries)):
        values = np.where(
            which_gallery >= 0, per_direction[i, np.maximum(which_gallery, 0)], 0.0
        )
        partner = values[i]
        better = np.count_nonzero(values > partner)
        tied = np.count_nonzero(values == partner) - 1
        ranks.append(1.0 + better + 0.5 * tied)
    return np.array(ranks)


@settings(max_examples=examples(30), deadline=None)
@given(st.integers(2, 60), st.integers(1, 5), st.integers(1, 6), st.integers(0, 2**32))
def test_duplicate_and_zero_rows_tie_exactly(n, d, n_distinct, seed):
    """Equal rows (after normalisation) tie with each other; zero rows tie at 0."""
    rng = np.random.default_rng(seed)
    (X, which_x, directions_x), (y, which_y, directions_y) = _views_with_duplicates(
        rng, n, d, n_distinct
    )
    forward, backward = paired_partner_ranks(X, y)
    assert_array_equal(forward, _ranks_by_direction(X, which_y, directions_y))
    assert_array_equal(backward, _ranks_by_direction(y, which_x, directions_x))


def _brute_force_ranks(queries, gallery):
    """One matrix-vector product per query, counted with sorted similarities."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    ranks = []
    for i, query in enumerate(q):
        similarities = g @ query
        partner = similarities[i]
        values = np.sort(similarities)
        above = len(values) - np.searchsorted(values, partner, side="right")
        tied = np.searchsorted(values, partner, side="right") - np.searchsorted(
            values, partner, side="left"
        )
        ranks.append(1.0 + above + 0.5 * (tied - 1))
    return np.array(ranks)


@pytest.mark.parametrize("n", [3, 257, 2100])
@pytest.mark.parametrize("d", [1, 2, 12])
def test_ranks_of_continuous_embeddings_equal_brute_force(n, d):
    """The float32 screen gives the exact ranks, both directions at once."""
    rng = np.random.default_rng(n + d)
    X = rng.normal(size=(n, d))
    y = X + rng.normal(size=(n, d))
    forward, backward = paired_partner_ranks(X, y)
    assert_array_equal(forward, _brute_force_ranks(X, y))
    assert_array_equal(backward, _brute_force_ranks(y, X))
    assert_array_equal(partner_ranks(X, y), forward)
    only_forward = paired_partner_ranks(X, y, y_to_x=False)
    assert only_forward[1] is None
    assert_array_equal(only_forward[0], forward)


def _csls_ranks_by_direction(queries, which_q, directions_q, which_g, directions_g, k):
    """CSLS ranks from one cosine per pair of directions: duplicates tie exactly."""
    unit_q = directions_q / np.linalg.norm(directions_q, axis=1)[:, None]
    unit_g = directions_g / np.linalg.norm(directions_g, axis=1)[:, None]
    between = unit_q @ unit_g.T
    S = np.where(
        (which_q[:, None] >= 0) & (which_g[None, :] >= 0),
        between[np.maximum(which_q, 0)][:, np.maximum(which_g, 0)],
        0.0,
    )
    k = min(k, S.shape[0])
    r_query = np.sort(S, axis=1)[:, -k:].mean(axis=1)
    r_gallery = np.sort(S, axis=0)[-k:, :].mean(axis=0)
    csls = 2 * S - r_query[:, None] - r_gallery[None, :]
    partner = np.diag(csls)[:, None]
    # Distinct directions whose CSLS differs by rounding only are ties too.
    close = np.isclose(csls, partner, rtol=0, atol=1e-12)
    better = np.count_nonzero((csls > partner) & ~close, axis=1)
    return 1.0 + better + 0.5 * (np.count_nonzero(close, axis=1) - 1)


@settings(max_examples=examples(30), deadline=None)
@given(
    st.integers(2, 600),
    st.integers(1, 16),
    st.integers(1, 30),
    st.integers(1, 12),
    st.integers(0, 2**32),
)
def test_csls_ranks_tie_duplicates_like_brute_force(n, d, n_distinct, k, seed):
    """CSLS partner ranks, duplicates of the partner tied with it.

    Galleries of hundreds of rows: there a matrix product rounds the CSLS of
    equal rows differently (without the tie, most such draws fail).
    """
    rng = np.random.default_rng(seed)
    (X, which_x, directions_x), (y, which_y, directions_y) = _views_with_duplicates(
        rng, n, d, n_distinct
    )
    expected = _csls_ranks_by_direction(
        X, which_x, directions_x, which_y, directions_y, k
    )
    assert_array_equal(partner_ranks(X, y, "csls", k), expected)


@settings(max_examples=examples(30), deadline=None)
@given(
    st.integers(2, 600), st.integers(1, 16), st.integers(1, 30), st.integers(0, 2**32)
)
def test_cosine_partner_ranks_tie_duplicates(n, d, n_distinct, seed):
    """One direction of the kernel: duplicates of the partner tie with it."""
    rng = np.random.default_rng(seed)
    (X, _, _), (y, which_y, directions_y) = _views_with_duplicates(
        rng, n, d, n_distinct
    )
    assert_array_equal(
        partner_ranks(X, y), _ranks_by_direction(X, which_y, directions_y)
    )


def test_near_ties_are_ranked_in_float64():
    """Gallery items 1e-9 apart (one float32 number) are told apart exactly."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=(300, 6))
    X = y.copy()
    X[:150] += 1e-9 * rng.normal(size=(150, 6))  # partners a hair away
    forward, backward = paired_partner_ranks(X, y)
    rows = np.arange(300)
    exact = exact_partner_ranks(
        X / np.linalg.norm(X, axis=1, keepdims=True),
        y / np.linalg.norm(y, axis=1, keepdims=True),
        rows,
    )
    assert_array_equal(forward, exact)
    assert np.all(forward == 1.0)


def test_ranks_do_not_depend_on_threads(monkeypatch):
    """Blocks spread over threads give the same ranks as one thread."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(700, 5))
    y = X + rng.normal(size=(700, 5))
    monkeypatch.setattr(_paired_ranks, "_THREADED_NUMBERS", 1)
    with threadpool_limits(2):
        threaded = paired_partner_ranks(X, y)
    with threadpool_limits(1):
        single = paired_partner_ranks(X, y)
    for a, b in zip(threaded, single, strict=True):
        assert_array_equal(a, b)
