"""Weighted means and centred cross-products of two paired views.

Both linear estimators are functions of a handful of sufficient statistics: the
weighted means of X and y and their centred co-moment matrices. They are computed
here, and only here, one block of rows at a time; the blocks are merged with the
pairwise update of Chan, Golub & LeVeque (1979). That buys three things:

- no centred copy of X or y is ever made, only of one block (bounded memory);
- precision does not suffer when the mean is large next to the spread (the naive
  ``X.T @ y - n * outer(mean_x, mean_y)`` loses every digit at mean 1e6, spread 1);
- streaming (``partial_fit``) and distributed reductions reuse the same merge.
"""

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._utils.threads import map_in_threads, thread_count

# Rows per block: one block of both views holds about this many float64 numbers
# (2 MiB, so that it stays in cache while it is copied, centred and multiplied),
# and at least twice as many rows as columns, because each merge costs O(d^2)
# and must stay small next to the block's O(rows * d^2) products.
_BLOCK_NUMBERS = 2**18

_SECOND_ORDER = (None, "diag", "full")

# Columns whose magnitudes lie within 2**-256..2**256 are used as they are;
# others are scaled by a power of two first (see ``_block_moments``).
_SAFE_EXPONENT = 256

# Views whose largest magnitude lies within 2**-64..2**64 keep their units in
# the statistics; others are brought near 1 by a power of two (see
# ``view_exponents``): the solvers form products of up to four co-moments.
_SAFE_VIEW_EXPONENT = 64


@dataclass
class TwoViewMoments:
    """Sufficient statistics of a weighted sample of paired rows.

    ``cross_*`` are co-moment *sums* (not divided by the weight sum), so that
    merging two samples is exact. ``cross_xx`` and ``cross_yy`` are ``None`` when
    not requested, a vector when only the diagonal was requested, or a matrix.
    """

    weight_sum: float
    mean_x: np.ndarray
    mean_y: np.ndarray
    cross_xy: np.ndarray
    cross_xx: np.ndarray | None = None
    cross_yy: np.ndarray | None = None

    def merge(self, other):
        """Return the statistics of the union of two samples (Chan et al.)."""
        if other is None:
            return self
        total = self.weight_sum + other.weight_sum
        fraction = other.weight_sum / total
        delta_x = other.mean_x - self.mean_x
        delta_y = other.mean_y - self.mean_y
        # w_a * w_b / (w_a + w_b) is the weight of the between-sample term,
        # computed as w_a * (w_b / (w_a + w_b)): the product of two weights of
        # 1e200 would overflow.
        between = (self.weight_sum, fraction)
        return TwoViewMoments(
            weight_sum=total,
            mean_x=self.mean_x + delta_x * fraction,
            mean_y=self.mean_y + delta_y * fraction,
            cross_xy=self.cross_xy
            + other.cross_xy
            + _weighted_outer(delta_x, delta_y, between),
            cross_xx=_merge_second_order(
                self.cross_xx, other.cross_xx, delta_x, between
            ),
            cross_yy=_merge_second_order(
                self.cross_yy, other.cross_yy, delta_y, between
            ),
        )

    def covariances(self):
        """Return ``(cov_xx, cov_xy, cov_yy)``: co-moments over the weight sum."""
        scale = 1.0 / self.weight_sum
        cov_xx = None if self.cross_xx is None else self.cross_xx * scale
        cov_yy = None if self.cross_yy is None else self.cross_yy * scale
        return cov_xx, self.cross_xy * scale, cov_yy


def _merge_second_order(a, b, delta, between):
    if a is None or b is None:
        return None
    if a.ndim == 1:
        return a + b + _weighted_outer(delta, delta, between, diagonal=True)
    return a + b + _weighted_outer(delta, delta, between)


def _weighted_outer(u, v, weight, *, diagonal=False):
    """``weight * outer(u, v)`` (or its diagonal), without intermediate overflow.

    Every factor is brought near 1 by a power of two first and the product
    scaled back with one exact ``ldexp``: deltas of 1e200 whose products are
    scaled down by a weight of 1e-100, or a subnormal weight, stay exact.
    """
    # ``weight`` is (w, fraction), the factor w * fraction: w alone is scaled,
    # since a subnormal w times fraction would round to few digits.
    weight_sum, fraction = weight
    weight_mantissa, weight_exponent = np.frexp(weight_sum)
    weight_mantissa = weight_mantissa * fraction
    u_mantissa, u_exponents = np.frexp(u)
    v_mantissa, v_exponents = np.frexp(v)
    # The weight multiplies the finished outer product, so that the product of
    # a delta with itself stays exactly symmetric (and positive semi-definite).
    if diagonal:
        product = weight_mantissa * (u_mantissa * v_mantissa)
        exponents = u_exponents + v_exponents
    else:
        product = weight_mantissa * np.outer(u_mantissa, v_mantissa)
        exponents = u_exponents[:, None] + v_exponents[None, :]
    return np.ldexp(product, exponents + weight_exponent)


def view_exponents(X, y):
    """Powers of two ``(e_x, e_y)`` that bring each view's magnitude near 1.

    The statistics of ``X * 2**-e_x`` and ``y * 2**-e_y`` are what the linear
    estimators solve from: dividing by a power of two is exact, so the
    solution in those units differs from the one in the data's units only by
    known powers of two, while every co-moment, and every product of
    co-moments a solver forms, stays far from overflow (data of 1e300) and
    underflow (data of 1e-300). Both are 0 while the view's largest magnitude
    lies within ``2**-64..2**64``, so ordinary data keeps its own units.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._numerics.moments import view_exponents
    >>> view_exponents(np.array([[3.0, -1e200]]), np.array([[0.5]]))
    (665, 0)
    """
    return _view_exponent(X), _view_exponent(y)


def _view_exponent(values):
    if values.size == 0:
        return 0
    # max and min need no temporary array, unlike abs().max().
    largest = float(max(values.max(), -values.min()))
    if not np.isfinite(largest) or largest == 0.0:
        return 0
    exponent = int(np.frexp(largest)[1])
    return exponent if abs(exponent) > _SAFE_VIEW_EXPONENT else 0


def _block_moments(
    X,
    y,
    weights,
    second_order_x,
    second_order_y,
    shifts=None,
    buffers=(None, None),
    exponents=(0, 0),
):
    """Statistics of one block of rows, centred on the block's own mean.

    With ``shifts``, the block's rows are taken relative to them and so are the
    returned means. ``buffers`` are float64 arrays at least as large as each
    view's block, reused from block to block. With ``exponents`` ``(e_x,
    e_y)``, the statistics are those of ``(X - shift_x) * 2**-e_x`` and
    ``(y - shift_y) * 2**-e_y`` (see ``view_exponents``).

    Nothing overflows or underflows on the way unless the result itself does:
    the weights are divided by a power of two near their maximum and each
    centred column by a power of two near its largest magnitude before any
    sum or product, and the results are scaled back with ``ldexp`` (exact, one
    rounding). Data of 1e300 or weights of 1e-320 then give the statistics
    that data of 1 and weights of 1 give, times the scale.
    """
    if weights is None:
        weight_exponent, unit_weights = 0, None
        unit_sum = float(X.shape[0])
    else:
        largest = float(weights.max()) if weights.size else 0.0
        if largest == 0.0:
            return None  # a block of zero-weight rows carries no information
        weight_exponent = int(np.frexp(largest)[1])
        unit_weights = np.ldexp(weights, -weight_exponent)
        unit_sum = float(unit_weights.sum())
    shift_x, shift_y = (None, None) if shifts is None else shifts
    mean_x, X_unit, x_exponents = _centred_copy(
        X, shift_x, unit_weights, unit_sum, buffers[0], exponents[0]
    )
    mean_y, y_unit, y_exponents = _centred_copy(
        y, shift_y, unit_weights, unit_sum, buffers[1], exponents[1]
    )
    y_weighted = y_unit if unit_weights is None else y_unit * unit_weights[:, None]
    return TwoViewMoments(
        weight_sum=float(np.ldexp(unit_sum, weight_exponent)),
        mean_x=mean_x,
        mean_y=mean_y,
        cross_xy=np.ldexp(
            X_unit.T @ y_weighted,
            x_exponents[:, None] + y_exponents[None, :] + weight_exponent,
        ),
        cross_xx=_block_second_order(
            X_unit, unit_weights, second_order_x, x_exponents, weight_exponent
        ),
        cross_yy=_block_second_order(
            y_unit, unit_weights, second_order_y, y_exponents, weight_exponent
        ),
    )


def _centred_copy(block, shift, unit_weights, unit_sum, buffer=None, view_exponent=0):
    """Return ``(mean, unit, exponents)``: one float64 copy, centred and scaled.

    ``unit * 2**exponents`` is ``(block - shift) * 2**-view_exponent - mean``,
    the mean being that of the scaled rows, with every column of
    ``unit`` below 1 in magnitude, so that its sums and products cannot
    overflow. The mean is of the shifted rows, so it stays exact when the shift
    is near the data and the data are far from zero. Writing into a ``buffer``
    reused across blocks matters: a fresh multi-megabyte array per block costs
    more in page faults than the arithmetic does.
    """
    work = np.empty(block.shape) if buffer is None else buffer[: block.shape[0]]
    if shift is None:
        work[...] = block
    else:
        np.subtract(block, shift, out=work)
    # Scale before summing: a column of 1e306 sums past the float64 range.
    exponents = _column_exponents(work)
    if exponents.any():
        np.ldexp(work, -exponents, out=work)
    if unit_weights is None:
        unit_mean = work.mean(axis=0)
    else:
        unit_mean = (unit_weights @ work) / unit_sum
    work -= unit_mean
    exponents = exponents - view_exponent
    mean = np.ldexp(unit_mean, exponents)
    # Centring can shrink a column by many orders of magnitude (a large common
    # offset): rescale so that its products keep their precision.
    extra = _column_exponents(work)
    if extra.any():
        np.ldexp(work, -extra, out=work)
    return mean, work, exponents + extra


def _column_exponents(values):
    """Per column, a power-of-two exponent that brings it near 1 in magnitude.

    All zeros (no scaling, the same arithmetic as unscaled data) while every
    column lies within 2**-256..2**256: their sums and products of pairs then
    stay far from overflow and underflow.
    """
    if values.shape[0] == 0:
        return np.zeros(values.shape[1], dtype=np.int64)
    # max and min need no temporary array, unlike abs().max().
    largest = np.maximum(values.max(axis=0), -values.min(axis=0))
    exponents = np.frexp(largest)[1].astype(np.int64)
    exponents[largest == 0.0] = 0
    if np.all(np.abs(exponents) <= _SAFE_EXPONENT):
        exponents[:] = 0
    return exponents


def _block_second_order(unit, unit_weights, kind, exponents, weight_exponent):
    if kind is None:
        return None
    if kind == "diag":
        squared = unit**2
        sums = squared.sum(axis=0) if unit_weights is None else unit_weights @ squared
        return np.ldexp(sums, 2 * exponents + weight_exponent)
    weighted = unit if unit_weights is None else unit * unit_weights[:, None]
    return np.ldexp(
        unit.T @ weighted, exponents[:, None] + exponents[None, :] + weight_exponent
    )


def two_view_moments(
    X,
    y,
    sample_weight=None,
    *,
    second_order_x=None,
    second_order_y=None,
    block_rows=None,
    n_jobs=None,
):
    """Compute the weighted means and centred co-moments of two paired views.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features_x)
        First view, already validated (finite, 2-D, float).
    y : ndarray of shape (n_samples, n_features_y)
        Second view, already validated.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights; ``None`` means one per row.
    second_order_x, second_order_y : {None, "diag", "full"}
        Which within-view co-moments to compute: none, the diagonal only
        (for per-feature scaling), or the full matrix (for whitening or ridge).
    block_rows : int or None
        Rows per block; ``None`` picks a size that bounds the extra memory.
    n_jobs : int or None
        Threads that reduce blocks in parallel. ``None``: as many as BLAS may
        use at this moment (threadpoolctl's limit, which joblib lowers inside
        the workers of ``GridSearchCV(n_jobs=k)``), at most the CPUs available;
        ``-1``: all available CPUs; ``-2``: all but one, and so on. The result
        does not depend on it (blocks are merged in a fixed order).

    Returns
    -------
    moments : TwoViewMoments or None
        ``None`` when every weight is zero.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._numerics.moments import two_view_moments
    >>> X = np.array([[0.0], [2.0]]); y = np.array([[1.0], [5.0]])
    >>> m = two_view_moments(X, y, second_order_x="full")
    >>> float(m.cross_xy[0, 0]), float(m.cross_xx[0, 0]), m.mean_y.tolist()
    (4.0, 2.0, [3.0])
    """
    return _blockwise_moments(
        X,
        y,
        sample_weight,
        second_order_x,
        second_order_y,
        block_rows,
        n_threads=thread_count(n_jobs),
    )


def shifted_two_view_moments(
    X,
    y,
    sample_weight=None,
    *,
    shift_x,
    shift_y,
    second_order_x=None,
    second_order_y=None,
    block_rows=None,
    n_jobs=None,
    exponents=(0, 0),
):
    """Compute ``two_view_moments`` of ``X - shift_x`` and ``y - shift_y``.

    The co-moments do not depend on the shift; the means come out relative to
    it. With a shift near the data (for example its first row), statistics of
    chunks merged later keep full precision even when the mean is large next to
    the spread: the difference of two chunk means, which the merge weighs, is
    then computed from small numbers rather than from two rounded large ones
    (at mean 1e6 those carry only about 1e-10 of absolute precision). Each
    block is shifted as it is processed: no shifted copy of X or y is made.

    Parameters
    ----------
    X, y, sample_weight : ndarray
        As in :func:`two_view_moments`.
    shift_x : ndarray of shape (n_features_x,)
        Subtracted from every row of X.
    shift_y : ndarray of shape (n_features_y,)
        Subtracted from every row of y.
    second_order_x, second_order_y, block_rows, n_jobs
        As in :func:`two_view_moments`.
    exponents : tuple of int, default=(0, 0)
        ``(e_x, e_y)``: the statistics are those of ``(X - shift_x) *
        2**-e_x`` and ``(y - shift_y) * 2**-e_y`` (see :func:`view_exponents`);
        the shifts are given in the data's units.

    Returns
    -------
    moments : TwoViewMoments or None
        Means relative to the shifts (in the scaled units); ``None`` when
        every weight is zero.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._numerics.moments import shifted_two_view_moments
    >>> X = np.array([[1e6], [1e6 + 2.0]]); y = np.array([[1.0], [5.0]])
    >>> m = shifted_two_view_moments(X, y, shift_x=X[0], shift_y=y[0])
    >>> float(m.cross_xy[0, 0]), m.mean_x.tolist(), m.mean_y.tolist()
    (4.0, [1.0], [2.0])
    """
    return _blockwise_moments(
        X,
        y,
        sample_weight,
        second_order_x,
        second_order_y,
        block_rows,
        shifts=(np.asarray(shift_x, np.float64), np.asarray(shift_y, np.float64)),
        n_threads=thread_count(n_jobs),
        exponents=exponents,
    )


def _blockwise_moments(
    X,
    y,
    sample_weight,
    second_order_x,
    second_order_y,
    block_rows,
    shifts=None,
    n_threads=None,
    exponents=(0, 0),
):
    for kind in (second_order_x, second_order_y):
        if kind not in _SECOND_ORDER:
            raise ValueError(
                f"second_order must be one of {_SECOND_ORDER}; got {kind!r}."
            )
    n_samples = X.shape[0]
    if n_threads is None:
        n_threads = thread_count(None)
    if block_rows is None:
        width = X.shape[1] + y.shape[1]
        block_rows = max(_BLOCK_NUMBERS // max(1, width), 2 * width)
        # Even out the blocks so that every thread gets the same number of rows.
        n_blocks = -(-n_samples // block_rows)
        n_blocks = -(-n_blocks // n_threads) * n_threads
        block_rows = max(1, -(-n_samples // n_blocks))
    starts = range(0, n_samples, block_rows)
    n_threads = max(1, min(n_threads, len(starts)))

    def reduce_blocks(worker):
        """Merge every ``n_threads``-th block, from block ``worker`` on."""
        rows = min(block_rows, n_samples)
        buffers = (np.empty((rows, X.shape[1])), np.empty((rows, y.shape[1])))
        moments = None
        for start in starts[worker::n_threads]:
            stop = min(start + block_rows, n_samples)
            weights = None if sample_weight is None else sample_weight[start:stop]
            block = _block_moments(
                X[start:stop],
                y[start:stop],
                weights,
                second_order_x,
                second_order_y,
                shifts,
                buffers,
                exponents,
            )
            if block is not None:
                moments = block if moments is None else moments.merge(block)
        return moments

    if n_threads == 1:
        return reduce_blocks(0)
    # numpy and BLAS release the GIL, so threads share the blocks. Each thread
    # gets a fixed set of blocks and the partial results are merged in a fixed
    # order, so the result does not depend on scheduling. BLAS runs one thread
    # per block: many small products in parallel beat one product split up,
    # and the centring of each block runs in parallel too.
    partials = map_in_threads(reduce_blocks, range(n_threads), n_threads)
    moments = None
    for partial in partials:
        if partial is not None:
            moments = partial if moments is None else moments.merge(partial)
    return moments


def shrunk_covariance_roots(cov, shrinkage, *, view_name):
    """Return ``(cov^{-1/2}, cov^{1/2})`` of ``(1 - s) cov + s * mean(diag) * I``.

    Shrinking towards a scaled identity keeps whitening defined when the
    covariance is singular (more features than samples, collinear features).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._numerics.moments import shrunk_covariance_roots
    >>> inv_root, root = shrunk_covariance_roots(
    ...     np.diag([4.0, 1.0]), 0.0, view_name="X")
    >>> bool(np.allclose(inv_root, np.diag([0.5, 1.0])))
    True
    >>> bool(np.allclose(root, np.diag([2.0, 1.0])))
    True
    """
    n_features = cov.shape[0]
    target = np.trace(cov) / n_features
    if not target > 0:
        # No shrinkage helps: the shrinkage target is zero too. Said without
        # naming ``reg``, which the callers (the aligner's start) may not have.
        raise ValueError(
            f"Every feature of {view_name} is constant over the weighted pairs "
            f"(zero variance), so {view_name} carries nothing to align and cannot "
            "be whitened. Check the data: a view must vary across the pairs."
        )
    shrunk = (1.0 - shrinkage) * cov + shrinkage * target * np.eye(n_features)
    eigenvalues, eigenvectors = linalg.eigh(shrunk)
    # Eigenvalues this far below the largest are rounding noise of a zero one;
    # their inverse square roots would amplify noise a hundred-thousandfold.
    floor = 1e-10 * max(eigenvalues.max(), 0.0)
    if eigenvalues.min() <= floor:
        raise ValueError(
            f"The covariance of {view_name} is singular (rank-deficient features, or "
            f"more features than samples), so it cannot be whitened with "
            f"reg={shrinkage}. Increase reg (for example to 0.1), or reduce the "
            "features first (PCA)."
        )
    root = np.sqrt(eigenvalues)
    inv_root = (eigenvectors / root) @ eigenvectors.T
    return inv_root, (eigenvectors * root) @ eigenvectors.T
