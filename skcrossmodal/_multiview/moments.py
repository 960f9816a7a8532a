"""Pairwise-complete block moments of K views, mergeable chunk by chunk.

The multiview solutions are functions of each view's weighted mean and
co-moment matrix and of the cross co-moment of every pair of views. When a
modality is missing from some rows, each of those is computed from the rows
that have the views it involves (pairwise-complete moments): view ``k``'s
statistics from the rows that have view ``k``, the statistics of the pair
``(k, l)`` from the rows that have both.

A chunk is reduced once per *missingness pattern* (the set of views a row
has): the rows of one pattern give, in one pass of
:func:`~skcrossmodal._numerics.moments.shifted_two_view_moments`, the co-moment
matrix of all their present views, whose blocks are then merged into the
per-view and per-pair statistics with Chan et al.'s update (exact). Without
missing views there is one pattern and one pass, the cost of ``X^T X``.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .._numerics.moments import TwoViewMoments, shifted_two_view_moments

_EMPTY = np.zeros(0)


@dataclass
class MultiViewMoments:
    """Running statistics of K views with some rows missing some views.

    ``views[k]`` holds view ``k``'s weighted mean (``mean_x``) and co-moment
    sum (``cross_xx``) over the rows that have it; ``pairs[(k, l)]`` (``k <
    l``) holds, over the rows that have both views, both means, the cross
    co-moment ``cross_xy`` and the two within-view co-moments restricted to
    those rows. ``counts[k, l]`` is the number of rows (of positive weight)
    with both views (``counts[k, k]``: with view ``k``). Means are relative
    to ``shifts[k]``, the first row seen of each view. When kept,
    ``patterns[views]`` holds ``(statistics, n_rows)`` of the rows that have
    exactly the views ``views`` (a sorted tuple), over their columns side by
    side: what a model needs that uses several views of the same rows.
    """

    shifts: list
    views: list
    pairs: dict = field(default_factory=dict)
    counts: np.ndarray | None = None
    patterns: dict | None = None

    def merge(self, other):
        """Return the statistics of the union of two samples."""
        views = [_merge(a, b) for a, b in zip(self.views, other.views, strict=True)]
        pairs = {
            key: _merge(self.pairs.get(key), other.pairs.get(key))
            for key in sorted(set(self.pairs) | set(other.pairs))
        }
        patterns = None
        if self.patterns is not None and other.patterns is not None:
            patterns = {}
            for key in sorted(set(self.patterns) | set(other.patterns)):
                a, b = self.patterns.get(key), other.patterns.get(key)
                if a is None or b is None:
                    patterns[key] = a if b is None else b
                else:
                    patterns[key] = (a[0].merge(b[0]), a[1] + b[1])
        return MultiViewMoments(
            shifts=self.shifts,
            views=views,
            pairs=pairs,
            counts=self.counts + other.counts,
            patterns=patterns,
        )

    def rebased(self, shifts):
        """The same statistics with means relative to other ``shifts``.

        Co-moments do not depend on the origin; each mean moves by the
        difference of the two origins. Views not seen here keep no
        statistics, whatever their new origin.
        """
        deltas = [
            None if old is None else old - new
            for old, new in zip(self.shifts, shifts, strict=True)
        ]
        views = [
            None if stats is None else _moved(stats, deltas[k], _EMPTY)
            for k, stats in enumerate(self.views)
        ]
        pairs = {
            (k, m): _moved(stats, deltas[k], deltas[m])
            for (k, m), stats in self.pairs.items()
        }
        patterns = None
        if self.patterns is not None:
            patterns = {
                key: (
                    _moved(stats, np.concatenate([deltas[k] for k in key]), _EMPTY),
                    count,
                )
                for key, (stats, count) in self.patterns.items()
            }
        return MultiViewMoments(
            shifts=list(shifts),
            views=views,
            pairs=pairs,
            counts=self.counts,
            patterns=patterns,
        )

    def absolute_means(self):
        """Each view's weighted mean over the rows that have it (None if unseen)."""
        return [
            None if stats is None else stats.mean_x + shift
            for stats, shift in zip(self.views, self.shifts, strict=True)
        ]


def merge_any_origin(first, second):
    """Merge statistics kept relative to different origins.

    Each view keeps ``first``'s origin when ``first`` has one (its first
    row), else takes ``second``'s; merging blocks left to right thus ends
    with the origins a single pass over all rows would have chosen.
    """
    shifts = [
        b if a is None else a for a, b in zip(first.shifts, second.shifts, strict=True)
    ]
    merged = first.rebased(shifts).merge(second.rebased(shifts))
    merged.shifts = shifts
    return merged


def _moved(stats, delta_x, delta_y):
    return dataclasses.replace(
        stats, mean_x=stats.mean_x + delta_x, mean_y=stats.mean_y + delta_y
    )


def _merge(a, b):
    if a is None:
        return b
    return a.merge(b)


def extend_shifts(shifts, X, present, columns):
    """Give every view seen for the first time its first present row as origin.

    Statistics are kept relative to a row of the data, so that chunks merged
    later lose no precision when the mean is large next to the spread.
    """
    shifts = list(shifts)
    for k, cols in enumerate(columns):
        if shifts[k] is None and present[:, k].any():
            first = int(np.argmax(present[:, k]))
            shifts[k] = X[first, cols].astype(np.float64)
    return shifts


def chunk_moments(
    X, present, columns, sample_weight, shifts, *, n_jobs=None, keep_patterns=False
):
    """Statistics of one chunk of rows, by missingness pattern.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated chunk (NaN only where a view is absent).
    present : ndarray of bool, shape (n_samples, n_views)
        Which rows have which view.
    columns : list of ndarray of int
        Columns of each view.
    sample_weight : ndarray of shape (n_samples,) or None
    shifts : list of ndarray or None
        Origin of each view (None for views not yet seen; none of their rows
        may be present).
    n_jobs : int or None
        Threads of each pass (see ``thread_count``).
    keep_patterns : bool, default=False
        Also keep the statistics of each missingness pattern.

    Returns
    -------
    moments : MultiViewMoments

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._multiview.moments import chunk_moments
    >>> X = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, np.nan]])
    >>> present = ~np.isnan(X)
    >>> m = chunk_moments(X, present, [np.array([0]), np.array([1])], None,
    ...                   [np.zeros(1), np.zeros(1)])
    >>> float(m.views[0].cross_xx[0, 0]), float(m.pairs[0, 1].cross_xy[0, 0])
    (8.0, 4.0)
    >>> m.counts.tolist()
    [[3, 2], [2, 2]]
    """
    n_views = len(columns)
    moments = MultiViewMoments(
        shifts=shifts,
        views=[None] * n_views,
        pairs={},
        counts=np.zeros((n_views, n_views), dtype=np.int64),
        patterns={} if keep_patterns else None,
    )
    live = (
        np.ones(X.shape[0], dtype=bool) if sample_weight is None else sample_weight > 0
    )
    for views_here, rows in _patterns(present):
        if views_here.size == 0:
            continue  # rows without any view carry no information
        n_live = int(live[rows].sum())
        if n_live == 0:
            continue
        cols = np.concatenate([columns[k] for k in views_here])
        block = _take(X, rows, cols)
        weights = None if sample_weight is None else sample_weight[rows]
        stats = shifted_two_view_moments(
            block,
            block[:, :0],
            weights,
            shift_x=np.concatenate([shifts[k] for k in views_here]),
            shift_y=_EMPTY,
            second_order_x="full",
            n_jobs=n_jobs,
        )
        if keep_patterns:
            moments.patterns[tuple(int(k) for k in views_here)] = (stats, n_live)
        bounds = np.cumsum([0] + [columns[k].size for k in views_here])
        pieces = {k: slice(bounds[i], bounds[i + 1]) for i, k in enumerate(views_here)}
        for k in views_here:
            moments.counts[k, views_here] += n_live
            part = _restrict(stats, pieces[k], pieces[k])
            moments.views[k] = _merge(moments.views[k], part)
        for i, k in enumerate(views_here):
            for m in views_here[i + 1 :]:
                part = _restrict(stats, pieces[k], pieces[m])
                moments.pairs[k, m] = _merge(moments.pairs.get((k, m)), part)
    return moments


def _patterns(present):
    """Yield ``(views, rows)`` for each missingness pattern, in a fixed order."""
    n_samples, n_views = present.shape
    if present.all():  # the common case: one pattern, no sort
        yield np.arange(n_views), np.arange(n_samples)
        return
    if n_views <= 62:
        # A pattern as the bits of one integer: sorting integers is far
        # faster than numpy's unique over rows.
        codes = present.astype(np.int64) @ (np.int64(1) << np.arange(n_views))
        patterns, inverse = np.unique(codes, return_inverse=True)
        for p, code in enumerate(patterns):
            views = np.flatnonzero((int(code) >> np.arange(n_views)) & 1)
            yield views, np.flatnonzero(inverse == p)
        return
    patterns, inverse = np.unique(present, axis=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        yield np.flatnonzero(pattern), np.flatnonzero(inverse.ravel() == p)


def _take(X, rows, cols):
    """``X[rows][:, cols]``, without a copy when it selects all of X in order."""
    all_rows = rows.size == X.shape[0]
    all_cols = cols.size == X.shape[1] and np.array_equal(cols, np.arange(X.shape[1]))
    if all_rows and all_cols:
        return X
    if all_rows:
        return X[:, cols]
    return X[np.ix_(rows, cols)]


def _restrict(stats, a, b):
    """The statistics of the column groups ``a`` and ``b`` of one pass.

    ``a == b`` gives one view alone: its mean and co-moment, with an empty
    second view (``TwoViewMoments.merge`` then handles it like a pair).
    """
    if a == b:
        return TwoViewMoments(
            weight_sum=stats.weight_sum,
            mean_x=stats.mean_x[a],
            mean_y=_EMPTY,
            cross_xy=np.zeros((a.stop - a.start, 0)),
            cross_xx=stats.cross_xx[a, a],
        )
    return TwoViewMoments(
        weight_sum=stats.weight_sum,
        mean_x=stats.mean_x[a],
        mean_y=stats.mean_x[b],
        cross_xy=stats.cross_xx[a, b],
        cross_xx=stats.cross_xx[a, a],
        cross_yy=stats.cross_xx[b, b],
    )
