"""Tests for the paired partner ranks used by the retrieval-scored searches."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

from skcrossmodal._numerics import ranks as _paired_ranks
from skcrossmodal._numerics.ranks import exact_partner_ranks, paired_partner_ranks


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


@settings(max_examples=30, deadline=None)
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


@pytest.mark.parametrize("n", [3, 257, 2100])
@pytest.mark.parametrize("d", [1, 2, 12])
def test_ranks_equal_partner_ranks_of_continuous_embeddings(n, d):
    """The float32 screen gives the float64 ranks of partner_ranks exactly."""
    from skcrossmodal._numerics.similarity import partner_ranks

    rng = np.random.default_rng(n + d)
    X = rng.normal(size=(n, d))
    y = X + rng.normal(size=(n, d))
    forward, backward = paired_partner_ranks(X, y)
    assert_array_equal(forward, partner_ranks(X, y))
    assert_array_equal(backward, partner_ranks(y, X))
    only_forward = paired_partner_ranks(X, y, y_to_x=False)
    assert only_forward[1] is None
    assert_array_equal(only_forward[0], forward)


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
