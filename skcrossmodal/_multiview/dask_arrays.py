"""K-view statistics of a dask array, as a tree reduction; lazy transforms.

Only imported when a dask array is passed in (dask is an optional extra).
Every block of rows becomes, on the worker that holds it, the
pairwise-complete :class:`~.moments.MultiViewMoments` of its rows (validated
there as ``fit`` validates numpy input: a view NaN in only some of its
columns raises the same error, naming the row of the whole array). A block
keeps its statistics relative to its own first row of each view, so no pass
is needed to fetch origins first; blocks are merged ``split_every`` at a
time, left to right, each merge moving the right block's means onto the left
block's origins (:func:`~.moments.merge_any_origin`). The result has the
origins, and equals to rounding the statistics, of one pass over the rows in
memory. Only these O(d^2) summaries travel.

dask itself is imported inside the functions, so that this module imports
without the optional extra.
"""

import numpy as np
from sklearn.utils.validation import check_array

from .._compat import _check_sample_weight
from .moments import chunk_moments, extend_shifts, merge_any_origin
from .views import resolve_views, view_presence

# Statistics merged per task of the reduction tree (as for two views).
_SPLIT_EVERY = 8


def _as_dask_matrix(X, name, min_samples):
    import dask.array as da

    if not isinstance(X, da.Array):
        X = da.asarray(np.asarray(X))
    if any(np.isnan(size) for size in X.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes (as after boolean indexing, or from a "
            f"dask DataFrame); call {name}.compute_chunk_sizes() first, or "
            "to_dask_array(lengths=True) on a DataFrame."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional dask array for {name}, got one with "
            f"{X.ndim} dimension(s) and shape {X.shape}."
        )
    if X.shape[0] < min_samples:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a "
            f"minimum of {min_samples} is required."
        )
    # All columns of a block of rows together: a row's views meet in one task.
    chunks = (X.chunks[0], (X.shape[1],))
    return X if X.chunks == chunks else X.rechunk(chunks)


def _block_moments(block, weights, first_row, columns, names, keep_patterns):
    """Validate one block of rows as ``fit`` validates numpy input; reduce it."""
    block = check_array(
        block,
        dtype=(np.float64, np.float32),
        ensure_all_finite="allow-nan",
        ensure_min_samples=0,
        input_name="X",
    )
    present = view_presence(block, columns, names, first_row=first_row)
    if weights is not None:
        weights = _check_sample_weight(
            weights,
            block,
            dtype=np.float64,
            ensure_non_negative=True,
            allow_all_zero_weights=True,  # checked once, over all blocks
        )
    shifts = extend_shifts([None] * len(columns), block, present, columns)
    return chunk_moments(
        block,
        present,
        columns,
        weights,
        shifts,
        n_jobs=1,  # dask runs blocks in parallel already
        keep_patterns=keep_patterns,
    )


def _merge_blocks(parts):
    merged = parts[0]
    for part in parts[1:]:
        merged = merge_any_origin(merged, part)
    return merged


def dask_multiview_moments(
    estimator, X, sample_weight=None, *, split_every=_SPLIT_EVERY
):
    """The statistics ``estimator.fit`` would compute, reduced by dask.

    Runs on dask's current scheduler (a ``dask.distributed.Client`` when one
    is active).

    Parameters
    ----------
    estimator : MultiViewStatistics
        Its ``views`` and ``_keep_patterns`` say what to compute.
    X : dask array of shape (n_samples, n_features)
        All views side by side (array-likes are converted); views are
        selected by position (a dask array has no column names).
    sample_weight : dask array of shape (n_samples,) or None
        Non-negative weights, not all zero; rechunked to X's blocks of rows.
    split_every : int
        Statistics merged per task of the reduction tree.

    Returns
    -------
    moments : MultiViewMoments
    names, columns : list
        The views, as :func:`~.views.resolve_views` gives them.
    n_samples, n_features : int
    """
    import dask

    X = _as_dask_matrix(X, "X", min_samples=2)
    n_samples, n_features = (int(size) for size in X.shape)
    names, columns = resolve_views(estimator.views, np.empty((0, n_features)))
    blocks = X.to_delayed().ravel()
    if sample_weight is None:
        weight_blocks = [None] * len(blocks)
    else:
        import dask.array as da

        if not isinstance(sample_weight, da.Array):
            sample_weight = da.asarray(np.asarray(sample_weight))
        if sample_weight.shape != (n_samples,):
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, expected "
                f"{(n_samples,)}!"
            )
        sample_weight = sample_weight.rechunk((X.chunks[0],))
        weight_blocks = sample_weight.to_delayed().ravel()
    starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]])
    reduce_block = dask.delayed(_block_moments, pure=True)
    level = [
        reduce_block(
            block, weights, int(start), columns, names, estimator._keep_patterns
        )
        for block, weights, start in zip(blocks, weight_blocks, starts, strict=True)
    ]
    merge = dask.delayed(_merge_blocks, pure=True)
    while len(level) > 1:
        level = [
            merge(level[start : start + split_every])
            for start in range(0, len(level), split_every)
        ]
    (moments,) = dask.compute(level[0])
    if sample_weight is not None and all(stats is None for stats in moments.views):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return moments, names, columns, n_samples, n_features


def _apply_to_block(block, method, kwargs):
    return method(block, **kwargs)


def lazy_rows(estimator, X, method, n_out, **kwargs):
    """``method(X_block, **kwargs)`` of every block of rows, as a dask array.

    ``method`` is the estimator's own numpy method (``transform``,
    ``transform_view``, ``predict``), which validates each block as it
    validates numpy input.
    """
    X = _as_dask_matrix(X, "X", min_samples=0)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    return X.map_blocks(
        _apply_to_block,
        method,
        kwargs,
        chunks=(X.chunks[0], (n_out,)),
        dtype=np.float64,
        meta=np.empty((0, n_out), dtype=np.float64),
    )
