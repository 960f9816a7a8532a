"""Sufficient statistics and predictions of dask arrays, computed by dask.

Only imported when a dask array is passed in (dask is an optional extra). The
statistics are a tree reduction: each aligned block of rows of X, y and the
weights becomes one
:class:`~skcrossmodal._numerics.moments.TwoViewMoments` on the worker that
holds it (validated there: a NaN raises the same error as numpy input),
and those are merged ``split_every`` at a time with Chan et al.'s update up to
one result. Only these O(d^2) summaries travel; no worker ever holds more than
one block of rows, whatever the size of the arrays.

dask itself is imported inside the functions, so that this module (collected
by the doctests) imports without the optional extra.
"""

import sys

import numpy as np
from sklearn.utils.validation import check_array

from .._compat import _check_sample_weight
from .._numerics.moments import shifted_two_view_moments, view_exponents
from .._utils.validation import check_same_rows
from ..base import FLOAT_DTYPES


def holds_dask_array(*arrays):
    """Whether any argument is a ``dask.array.Array``, without importing dask.

    A dask array can only exist once ``dask.array`` has been imported, so when it
    is not in ``sys.modules`` the answer is no and dask stays unimported.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._linear.dask_arrays import holds_dask_array
    >>> holds_dask_array(np.ones(3), None)
    False
    """
    dask_array = sys.modules.get("dask.array")
    if dask_array is None:
        return False
    return any(isinstance(array, dask_array.Array) for array in arrays)


# Statistics merged per task of the reduction tree: with 8, a million blocks
# need seven levels, and a merge task holds eight d x d matrices at once.
_SPLIT_EVERY = 8


def _as_dask_array(array, name):
    import dask.array as da

    if not isinstance(array, da.Array):
        array = da.asarray(np.asarray(array))
    if any(np.isnan(size) for size in array.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes (as after boolean indexing, or from a "
            f"dask DataFrame); call {name}.compute_chunk_sizes() first, or "
            "to_dask_array(lengths=True) on a DataFrame."
        )
    return array


def _check_matrix(array, name, estimator_name, *, min_samples):
    if array.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional dask array for {name}, got one with "
            f"{array.ndim} dimension(s) and shape {array.shape}."
        )
    n_samples, n_features = array.shape
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={array.shape}) while a "
            f"minimum of {min_samples} is required by {estimator_name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={array.shape}) while a minimum "
            f"of 1 is required by {estimator_name}."
        )


def _single_column_chunk(array, row_chunks):
    """Rechunk to ``row_chunks`` rows per block and all columns in one block."""
    chunks = (row_chunks,) if array.ndim == 1 else (row_chunks, array.shape[1])
    return array if array.chunks == chunks else array.rechunk(chunks)


def aligned_views(X, y, sample_weight, estimator_name):
    """Check the views' shapes (not their values) and align their row blocks.

    Returns ``(X, y, sample_weight, y_is_1d)``: dask arrays, y 2-D, cut into
    the same blocks of rows as X with every column in one block.
    """
    X = _as_dask_array(X, "X")
    _check_matrix(X, "X", estimator_name, min_samples=2)
    y = _as_dask_array(y, "y")
    y_is_1d = y.ndim == 1
    if y_is_1d:
        y = y[:, None]
    _check_matrix(y, "y", estimator_name, min_samples=1)
    check_same_rows(X, y)
    X = _single_column_chunk(X, X.chunks[0])
    y = _single_column_chunk(y, X.chunks[0])
    if sample_weight is not None:
        sample_weight = _as_dask_array(sample_weight, "sample_weight")
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight.shape == {sample_weight.shape}, expected "
                f"{(X.shape[0],)}!"
            )
        sample_weight = _single_column_chunk(sample_weight, X.chunks[0])
    return X, y, sample_weight, y_is_1d


def _block_statistics(
    X, y, weights, shifts, second_order, estimator_name, exponents=(0, 0)
):
    """Validate one block of rows, as ``fit`` validates numpy input, and reduce it."""
    X = check_array(
        X, dtype=FLOAT_DTYPES, input_name="X", estimator=estimator_name,
        ensure_min_samples=0,
    )  # fmt: skip
    y = check_array(y, dtype=FLOAT_DTYPES, input_name="y", ensure_min_samples=0)
    if weights is not None:
        weights = _check_sample_weight(
            weights,
            X,
            dtype=np.float64,
            ensure_non_negative=True,
            allow_all_zero_weights=True,  # checked once, over all blocks
        )
    if X.shape[0] == 0:
        return None
    return shifted_two_view_moments(
        X,
        y,
        weights,
        shift_x=shifts[0],
        shift_y=shifts[1],
        second_order_x=second_order[0],
        second_order_y=second_order[1],
        n_jobs=1,  # dask runs blocks in parallel already
        exponents=exponents,
    )


def _merge_statistics(parts):
    """Chan et al.'s merge of several blocks' statistics (``None``: no weight)."""
    merged = None
    for part in parts:
        if part is not None:
            merged = part if merged is None else merged.merge(part)
    return merged


def dask_two_view_moments(
    X,
    y,
    sample_weight=None,
    *,
    second_order_x=None,
    second_order_y=None,
    estimator_name="estimator",
    split_every=_SPLIT_EVERY,
):
    """Compute ``two_view_moments`` of dask arrays with a tree reduction.

    Runs on dask's current scheduler: a ``dask.distributed.Client`` when one
    is active, so the same call uses one machine's threads or a cluster.

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features_x)
        First view; array-likes are converted.
    y : dask array of shape (n_samples, n_features_y) or (n_samples,)
        Second view, rechunked to X's blocks of rows.
    sample_weight : dask array of shape (n_samples,) or None
        Non-negative weights, not all zero.
    second_order_x, second_order_y : {None, "diag", "full"}
        Which within-view co-moments to compute, as in ``two_view_moments``.
    estimator_name : str
        Named in the error messages.
    split_every : int
        Statistics merged per task of the reduction tree.

    Returns
    -------
    moments : TwoViewMoments
        Equal, to rounding, to ``shifted_two_view_moments`` of the computed
        arrays: means relative to ``shifts``.
    shifts : tuple of ndarray
        The first rows of X and y (float64).
    shapes : dict
        ``n_samples``, ``n_features_x``, ``n_features_y`` and ``y_is_1d``.
    exponents : tuple of int
        The units of the statistics (``view_exponents`` of the first rows).
    """
    import dask

    X, y, sample_weight, y_is_1d = aligned_views(X, y, sample_weight, estimator_name)
    # The statistics are kept relative to the first pair (see
    # ``shifted_two_view_moments``); fetching it costs one block.
    shifts = tuple(
        np.asarray(row, dtype=np.float64) for row in dask.compute(X[0], y[0])
    )
    # The units from the first pair too: its magnitude is the data's unless
    # that pair is near zero; another pass over the data would cost more.
    exponents = view_exponents(shifts[0][None, :], shifts[1][None, :])
    X_blocks = X.to_delayed().ravel()
    y_blocks = y.to_delayed().ravel()
    weight_blocks = (
        [None] * len(X_blocks)
        if sample_weight is None
        else sample_weight.to_delayed().ravel()
    )
    block_statistics = dask.delayed(_block_statistics, pure=True)
    level = [
        block_statistics(
            X_block,
            y_block,
            weights,
            shifts,
            (second_order_x, second_order_y),
            estimator_name,
            exponents,
        )
        for X_block, y_block, weights in zip(
            X_blocks, y_blocks, weight_blocks, strict=True
        )
    ]
    merge = dask.delayed(_merge_statistics, pure=True)
    while len(level) > 1:
        level = [
            merge(level[start : start + split_every])
            for start in range(0, len(level), split_every)
        ]
    (moments,) = dask.compute(level[0])
    if moments is None:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    shapes = {
        "n_samples": int(X.shape[0]),
        "n_features_x": int(X.shape[1]),
        "n_features_y": int(y.shape[1]),
        "y_is_1d": y_is_1d,
    }
    return moments, shifts, shapes, exponents


# ------------------------------------------------- lazy transform/predict ---
def _check_n_features(array, expected, name, estimator):
    if array.shape[1] != expected:
        raise ValueError(
            f"{name} has {array.shape[1]} features, but {type(estimator).__name__} "
            f"is expecting {expected} features as input."
        )


def _apply_to_block(block, method, input_name):
    """Validate one block of rows as numpy input is validated, then map it."""
    block = check_array(
        block, dtype=FLOAT_DTYPES, input_name=input_name,
        estimator=method.__self__, ensure_min_samples=0,
    )  # fmt: skip
    return method(block)


def _lazy_view(array, method, input_name, n_out):
    """``method`` (a fitted estimator's bound map of one view) applied per block.

    float32 blocks map to float32, as in memory; anything else to float64.
    """
    dtype = np.float32 if array.dtype == np.float32 else np.float64
    return array.map_blocks(
        _apply_to_block,
        method,
        input_name,
        chunks=(array.chunks[0], (n_out,)),
        dtype=dtype,
        meta=np.empty((0, n_out), dtype=dtype),
    )


def dask_transform(estimator, X, y=None, *, embed_x, embed_y):
    """Lazy ``transform``: a dask array of scores (a tuple when ``y`` is given).

    ``embed_x`` and ``embed_y`` map validated blocks of each view into the
    shared space (the estimator's own maps, passed by the estimator).
    """
    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-dimensional array for X; got shape {X.shape}.")
    _check_n_features(X, estimator.n_features_in_, "X", estimator)
    X = _single_column_chunk(X, X.chunks[0])
    n_out = estimator.n_components_
    X_scores = _lazy_view(X, embed_x, "X", n_out)
    if y is None:
        return X_scores
    y = _as_dask_array(y, "y")
    if y.ndim == 1:
        y = y[:, None]
    _check_n_features(y, estimator.n_features_y_in_, "y", estimator)
    check_same_rows(X, y)
    y = _single_column_chunk(y, X.chunks[0])
    return X_scores, _lazy_view(y, embed_y, "y", n_out)


def dask_predict(estimator, X, *, predict_views, y_is_1d):
    """Lazy ``predict``: a dask array of y's predictions, 1-D if y was.

    ``predict_views`` maps validated blocks of X to 2-D predictions of y;
    ``y_is_1d`` says whether y was 1-D at fit.
    """
    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-dimensional array for X; got shape {X.shape}.")
    _check_n_features(X, estimator.n_features_in_, "X", estimator)
    X = _single_column_chunk(X, X.chunks[0])
    y_pred = _lazy_view(X, predict_views, "X", estimator.n_features_y_in_)
    return y_pred[:, 0] if y_is_1d else y_pred
