"""Ranks of true partners, the one numpy kernel behind every rank-based score.

Query ``i``'s partner is gallery row ``i``; its rank is ``1 + (#better) +
(#tied) / 2``, the expected rank under random tie-breaking, so that a
collapsed embedding (everything tied) scores at chance level rather than
perfectly. A gallery row equal to the partner (after normalisation) ties with
it exactly. The metrics, the scorers, the retrieval-scored searches and the
estimators' ``score`` all rank here, in float64, whatever the inputs' dtype.

Cosine ranks (:func:`paired_partner_ranks`, both directions at once): scoring
a cross-validation candidate by retrieval ranks every held-out pair against
every other, both ways, which is the bulk of a retrieval-scored search. One
float32 product serves both directions (the x-to-y ranks count along its
rows, the y-to-x ranks along its columns) and the counts are packed eight to
a machine word. The ranks are nevertheless those of the float64 computation:
float32 only screens. A float32 similarity is within a known bound of the
float64 one, so every gallery item clearly above or below the partner is
counted from float32, and a query with any other item within the bound of its
partner (a near or exact tie) is ranked again in float64
(:func:`exact_partner_ranks`). CSLS ranks are counted on float64 blocks of
:class:`~skcrossmodal._numerics.similarity.SimilarityBlocks`.
"""

import numpy as np

from .._utils.threads import map_in_threads, one_blas_thread, thread_count
from .similarity import SimilarityBlocks, normalize_rows

# Similarities per block: 1 MiB of float32, so that the comparisons made on a
# block run from cache.
_BLOCK_NUMBERS = 2**18
# Counts are summed in the bytes of 64-bit words, which hold at most 255.
_BYTE_MAX = 255
_UNIT_ROUNDOFF_32 = 2.0**-24
_THREADED_NUMBERS = 2**18


def _layout(n_gallery):
    """``(width, n_chunks)``: mask width (a multiple of 8) and its word chunks.

    A row of the mask is read as ``width / 8`` words, summed ``n_chunks`` at
    a time in chunks of at most 255 words, so that no byte overflows.
    """
    words = -(-n_gallery // 8)
    n_chunks = -(-words // _BYTE_MAX)
    per_chunk = -(-words // n_chunks)
    return 8 * n_chunks * per_chunk, n_chunks


def _row_counts(mask, n_chunks):
    """Number of True entries in each row of a boolean ``mask`` of padded width."""
    words = mask.view(np.uint64).reshape(mask.shape[0], n_chunks, -1)
    partial = words.sum(axis=2, dtype=np.uint64)
    return partial.view(np.uint8).sum(axis=1, dtype=np.intp)


def _column_counts(mask):
    """Number of True entries in each column of ``mask`` (at most 255 rows)."""
    return mask.view(np.uint64).sum(axis=0, dtype=np.uint64).view(np.uint8)


def _block_rows(width):
    return int(min(_BYTE_MAX, max(8, _BLOCK_NUMBERS // width)))


def _map_blocks(n_rows, step, n_columns, work):
    """``work(starts)`` on contiguous runs of block starts, in threads.

    Each worker owns its buffers; results come back in order, and every
    block is computed the same way whatever the number of threads, so the
    results do not depend on it. Products of fewer than ``_THREADED_NUMBERS``
    similarities run in the calling thread: starting threads would cost more
    than they save. Callers hold BLAS to one thread (``one_blas_thread``),
    and the blocks are spread over as many Python threads as BLAS was allowed.
    """
    starts = list(range(0, n_rows, step))
    n_workers = 1
    if n_rows * n_columns >= _THREADED_NUMBERS:
        n_workers = min(thread_count(None), len(starts))
    if n_workers == 1:
        return [work(starts)]
    runs = [list(run) for run in np.array_split(starts, n_workers)]
    return map_in_threads(work, runs, n_workers)


def exact_partner_ranks(queries, gallery, rows=None):
    """Float64 cosine partner ranks of ``queries[rows]``.

    ``queries`` and ``gallery`` are normalised float64 arrays; query ``i``'s
    partner is gallery row ``i``.
    """
    n_gallery, n_components = gallery.shape
    rows = np.arange(queries.shape[0]) if rows is None else np.asarray(rows)
    margin = _tie_margin(n_components)
    width, n_chunks = _layout(n_gallery)
    step = int(min(_block_rows(width), max(rows.shape[0], 1)))
    mask = np.zeros((step, width), dtype=bool)
    ranks = np.empty(rows.shape[0], dtype=np.float64)
    for start in range(0, rows.shape[0], step):
        picked = rows[start : start + step]
        size = picked.shape[0]
        # A single row would go through a matrix-vector product, whose
        # rounding differs from the matrix product's: keep two or more.
        block = (queries[np.resize(picked, max(size, 2))] @ gallery.T)[:size]
        partner = _tie_duplicates(block, picked, gallery, margin)
        used = mask[:size]
        np.greater(block, partner, out=used[:, :n_gallery])
        better = _row_counts(used, n_chunks)
        np.equal(block, partner, out=used[:, :n_gallery])
        tied = _row_counts(used, n_chunks) - 1
        ranks[start : start + size] = 1.0 + better + 0.5 * tied
    return ranks


def _tie_margin(n_components, scale=1.0):
    """How far a float64 similarity of unit rows may be from its exact value."""
    return scale * (2 * n_components + 16) * np.finfo(np.float64).eps


def _tie_duplicates(block, picked, gallery, margin):
    """Give gallery rows equal to each partner the partner's similarity.

    Row ``r`` of ``block`` holds the similarities of the query whose partner
    is ``gallery[picked[r]]``. A matrix product may round equal dot products
    differently (its edge tiles take other paths), so rows equal to the
    partner are looked for among the items within ``margin`` of it. Returns
    the partners' similarities as a column.
    """
    size = picked.shape[0]
    partner = block[np.arange(size), picked][:, None]
    near_row, near_item = np.nonzero(np.abs(block - partner) <= margin)
    same = np.all(gallery[near_item] == gallery[picked[near_row]], axis=1)
    block[near_row[same], near_item[same]] = partner[near_row[same], 0]
    return partner


def partner_ranks(queries, gallery, similarity="cosine", csls_k=10):
    """Rank (1 = best) of each query's partner, gallery row i for query row i.

    Ties are split evenly: the rank is ``1 + (#better) + (#tied) / 2``, the
    expected rank under random tie-breaking; a gallery row equal to the
    partner (after normalisation) ties with it.

    Parameters
    ----------
    queries, gallery : ndarray of shape (n_samples, n_components)
        Paired embeddings (any scale: rows are compared by cosine).
    similarity : {"cosine", "csls"}, default="cosine"
        Cosine similarity, or CSLS estimated from these queries and gallery.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.

    Returns
    -------
    ranks : ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._numerics.ranks import partner_ranks
    >>> queries = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> gallery = np.array([[1.0, 0.1], [1.0, 0.1], [0.0, 1.0]])
    >>> partner_ranks(queries, gallery).tolist()  # gallery rows 0 and 1 are equal
    [1.5, 2.5, 3.0]
    """
    if queries.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    if similarity == "cosine":
        return paired_partner_ranks(queries, gallery, y_to_x=False)[0]
    blocks = SimilarityBlocks(
        np.asarray(queries, dtype=np.float64),
        np.asarray(gallery, dtype=np.float64),
        similarity,
        csls_k,
    )
    # CSLS sums a doubled cosine and two means of cosines: four times the
    # rounding of one cosine.
    margin = _tie_margin(queries.shape[1], scale=4.0)

    def block_ranks(start, stop, block):
        picked = np.arange(start, stop)
        partner = _tie_duplicates(block, picked, blocks.gallery, margin)
        better = np.count_nonzero(block > partner, axis=1)
        tied = np.count_nonzero(block == partner, axis=1) - 1
        return 1.0 + better + 0.5 * tied

    return np.concatenate(blocks.map(block_ranks)).astype(np.float64)


def paired_partner_ranks(X_scores, y_scores, *, x_to_y=True, y_to_x=True):
    """Cosine partner ranks of ``X_scores`` against ``y_scores`` and back.

    Returns ``(ranks_x_to_y, ranks_y_to_x)``, each ``None`` unless asked
    for: :func:`partner_ranks` of ``(X_scores, y_scores)`` and of
    ``(y_scores, X_scores)``, from one similarity product.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._numerics.ranks import paired_partner_ranks
    >>> X_scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y_scores = np.array([[1.0, 0.1], [1.0, 0.9], [0.0, 1.0]])
    >>> [r.tolist() for r in paired_partner_ranks(X_scores, y_scores)]
    [[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]]
    """
    queries = normalize_rows(np.asarray(X_scores, dtype=np.float64))
    gallery = normalize_rows(np.asarray(y_scores, dtype=np.float64))
    # Products of a few hundred rows gain nothing from several BLAS threads.
    with one_blas_thread():
        return _paired_ranks(queries, gallery, x_to_y, y_to_x)


def _paired_ranks(queries, gallery, x_to_y, y_to_x):
    n_samples, n_components = queries.shape
    if n_components == 1 and np.isfinite(queries).all() and np.isfinite(gallery).all():
        # One axis: every similarity is exactly -1, 0 or 1; count them.
        return (
            _one_axis_ranks(queries[:, 0], gallery[:, 0]) if x_to_y else None,
            _one_axis_ranks(gallery[:, 0], queries[:, 0]) if y_to_x else None,
        )
    if n_components == 1 or n_samples < 2:
        return (
            exact_partner_ranks(queries, gallery) if x_to_y else None,
            exact_partner_ranks(gallery, queries) if y_to_x else None,
        )
    above_rows, within_rows, above_cols, within_cols = _screen(
        queries, gallery, x_to_y, y_to_x
    )
    return (
        _settle(above_rows, within_rows, queries, gallery) if x_to_y else None,
        _settle(above_cols, within_cols, gallery, queries) if y_to_x else None,
    )


def _one_axis_ranks(queries, gallery):
    """Partner ranks of normalised one-axis embeddings (-1, 0 or 1 each).

    Query ``i`` sees the similarities ``q_i g_j``, so its rank follows from
    how many gallery items are -1, 0 and 1.
    """
    signs_q = queries.astype(np.intp)
    signs_g = gallery.astype(np.intp)
    count = np.bincount(signs_g + 1, minlength=3)  # items at -1, 0, 1
    # seen[s + 1, u + 1]: how many items query sign s sees at similarity u.
    seen = np.stack([count[::-1], [0, gallery.shape[0], 0], count])
    better = np.cumsum(seen[:, ::-1], axis=1)[:, ::-1]  # items at u or above
    value = signs_q * signs_g
    above = np.zeros((3, 4), dtype=np.intp)
    above[:, :3] = better
    n_better = above[signs_q + 1, value + 2]
    n_tied = seen[signs_q + 1, value + 1] - 1
    return 1.0 + n_better + 0.5 * n_tied


def _screen(queries, gallery, x_to_y, y_to_x):
    """Counts of gallery items clearly above, and not clearly below, each partner.

    The float32 similarity of two unit vectors of d components is within
    ``(d + 2) u`` of the exact one (u the unit roundoff of float32: rounding
    the inputs and accumulating the product), the partner's too, and the
    float64 ones are far closer; comparing with a margin of ``(2 d + 16) u``
    decides every item except those within the margin of the partner.
    """
    n_samples, n_components = queries.shape
    queries32 = queries.astype(np.float32)
    gallery32 = gallery.astype(np.float32)
    partner = np.einsum("ij,ij->i", queries32, gallery32)
    margin = np.float32((2 * n_components + 16) * _UNIT_ROUNDOFF_32)
    high, low = partner + margin, partner - margin
    width, n_chunks = _layout(n_samples)
    step = _block_rows(width)
    above_rows = np.zeros(n_samples, dtype=np.intp)
    within_rows = np.zeros(n_samples, dtype=np.intp)

    def work(starts):
        block_buffer = np.empty((step, n_samples), dtype=np.float32)
        mask = np.zeros((step, width), dtype=bool)
        above_cols = np.zeros(width, dtype=np.intp)
        within_cols = np.zeros(width, dtype=np.intp)
        for start in starts:
            stop = min(start + step, n_samples)
            size = stop - start
            block = np.matmul(
                queries32[start:stop], gallery32.T, out=block_buffer[:size]
            )
            # The partner sits at its own similarity, inside its margin.
            block[np.arange(size), np.arange(start, stop)] = partner[start:stop]
            used = mask[:size]
            view = used[:, :n_samples]
            if x_to_y:
                np.greater(block, high[start:stop, None], out=view)
                above_rows[start:stop] = _row_counts(used, n_chunks)
                np.greater_equal(block, low[start:stop, None], out=view)
                within_rows[start:stop] = _row_counts(used, n_chunks)
            if y_to_x:
                np.greater(block, high, out=view)
                above_cols += _column_counts(used)
                np.greater_equal(block, low, out=view)
                within_cols += _column_counts(used)
        return above_cols, within_cols

    parts = _map_blocks(n_samples, step, n_samples, work)
    above_cols = sum(part[0] for part in parts)[:n_samples]
    within_cols = sum(part[1] for part in parts)[:n_samples]
    return above_rows, within_rows, above_cols, within_cols


def _settle(above, within, queries, gallery):
    """Ranks from the screened counts; queries with a near tie ranked exactly."""
    ranks = 1.0 + above.astype(np.float64)
    unsettled = np.flatnonzero(within - above != 1)
    if unsettled.size:
        ranks[unsettled] = exact_partner_ranks(queries, gallery, unsettled)
    return ranks
