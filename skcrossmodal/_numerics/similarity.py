"""Chunked similarity search between two sets of embeddings.

Retrieval needs, for every query, its similarity to every gallery item. At
n = 100 000 pairs that matrix would take 40 GB in float32, so it is only ever
built one block of query rows at a time; each block is reduced (to a top-k
list, or to partner ranks in :mod:`~skcrossmodal._numerics.ranks`) before the
next is computed. Blocks are spread over threads:
numpy and BLAS release the GIL, so the reduction of one block overlaps the
matrix product of the next, which is what brings exact search close to the
cost of the matrix product alone.

Everything runs in the inputs' float dtype: float32 embeddings are searched in
float32 (half the memory traffic of float64), float64 ones in float64.
"""

import numpy as np

from .._utils.threads import map_in_threads, thread_count

# One block of the similarity matrix holds at most this many numbers (8 MiB in
# float32). Small enough that the comparisons made on it run mostly from
# cache, large enough that its matrix product runs at full BLAS speed.
BLOCK_NUMBERS = 2**21

# Width of the column groups used to narrow top-k candidates (see
# ``_top_k_candidates``).
_GROUP = 64

SIMILARITIES = ("cosine", "csls")


def normalize_rows(embeddings):
    """Scale rows to unit L2 norm; all-zero rows stay zero (similar to nothing).

    Each row is first divided by its largest absolute value, so that squaring
    in the norm can neither overflow (rows of 1e160 in float64, 1e20 in
    float32) nor underflow (rows of 1e-160): the result does not depend on
    the units of the embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._numerics.similarity import normalize_rows
    >>> normalize_rows(np.array([[3e200, 4e200], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    embeddings = np.asarray(embeddings)
    if embeddings.dtype not in (np.float32, np.float64):
        embeddings = embeddings.astype(np.float64)
    largest = np.max(np.abs(embeddings), axis=1, keepdims=True, initial=0.0)
    # Zero rows are divided by 1 and stay zero.
    scaled = embeddings / np.where(largest > 0, largest, 1).astype(embeddings.dtype)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    return scaled / np.where(norms > 0, norms, 1).astype(embeddings.dtype)


def common_float_dtype(*arrays):
    """float32 when every array is float32, else float64."""
    if all(np.asarray(a).dtype == np.float32 for a in arrays):
        return np.float32
    return np.float64


def _block_rows(n_gallery):
    return max(1, BLOCK_NUMBERS // max(1, n_gallery))


def map_similarity_blocks(queries, gallery, reduce_block):
    """Apply ``reduce_block(start, stop, block)`` to row blocks of ``Q @ G.T``.

    ``queries`` and ``gallery`` are normalised arrays of one dtype. The blocks
    are computed in threads, one BLAS thread each; every block is computed
    and reduced the same way whatever the number of threads, so the results
    do not depend on it. Returns the results in block order.
    """
    n_queries = queries.shape[0]
    step = _block_rows(gallery.shape[0])
    starts = list(range(0, n_queries, step))
    gallery_t = gallery.T

    def one_block(start):
        stop = min(start + step, n_queries)
        return reduce_block(start, stop, queries[start:stop] @ gallery_t)

    # As many threads as BLAS may use (threadpool_limits and joblib's workers
    # are respected), so that GridSearchCV(n_jobs=k) is not oversubscribed.
    return map_in_threads(one_block, starts, thread_count(None))


def _top_k_candidates(block, k):
    """Columns that surely hold the k largest values of each row of ``block``.

    ``np.argpartition`` over every row costs more than the matrix product
    that made the block, so candidates are narrowed first: split each row
    into groups of 64 columns; the k groups with the largest maxima hold k
    values at least as large as any value outside them, so they hold a set of
    k largest values. Group g holds the columns g, g + n_groups,
    g + 2 n_groups, ...: its maxima are an element-wise maximum of 64
    contiguous slices, which vectorises well. Returns ``(values, columns)``,
    or ``(block, None)`` when the row is too short for narrowing to pay.
    """
    n_rows, n_cols = block.shape
    n_groups = n_cols // _GROUP
    if n_groups < 4 * k:  # small galleries: partitioning is cheap enough
        return block, None
    grouped = block[:, : n_groups * _GROUP].reshape(n_rows, _GROUP, n_groups)
    maxima = grouped.max(axis=1)
    best = np.argpartition(maxima, n_groups - k, axis=1)[:, n_groups - k :]
    values = np.take_along_axis(grouped, best[:, None, :], axis=2)
    columns = best[:, None, :] + n_groups * np.arange(_GROUP)[None, :, None]
    values = values.reshape(n_rows, _GROUP * k)
    columns = columns.reshape(n_rows, _GROUP * k)
    # The last n_cols % 64 columns belong to no group: they are candidates too.
    rest = np.arange(n_groups * _GROUP, n_cols)
    if rest.size:
        values = np.concatenate([values, block[:, rest]], axis=1)
        columns = np.concatenate(
            [columns, np.broadcast_to(rest, (n_rows, rest.size))], axis=1
        )
    return values, columns


def _first_k_in_gallery_order(rows, kth, k):
    """``(values, columns)`` of the k best entries of each row, in columns order.

    ``kth`` is each row's k-th largest value; of the entries equal to it,
    those in the lowest columns are taken (the documented order of ties).
    """
    kth = kth[:, None]
    greater = rows > kth
    equal = rows == kth
    # Fewer than k entries are above the k-th value; the rest of the k are
    # the first entries equal to it.
    missing = k - np.count_nonzero(greater, axis=1)
    first_equal = np.cumsum(equal, axis=1, dtype=np.int32) <= missing[:, None]
    columns = np.nonzero(greater | (equal & first_equal))[1].reshape(len(rows), k)
    return np.take_along_axis(rows, columns, axis=1), columns


def _by_value_then_column(values, columns):
    order = np.lexsort((columns, -values), axis=1)
    return (
        np.take_along_axis(values, order, axis=1),
        np.take_along_axis(columns, order, axis=1),
    )


def top_k_of_block(block, k):
    """``(values, columns)`` of the k largest entries of each row, largest first.

    Equal values are taken and ordered by column, lowest first: when more
    entries equal the k-th largest value than fit, the lowest columns are the
    ones returned. Every backend of the index follows this rule, so they
    return the same rows.
    """
    # One entry more than asked tells whether a tie crosses the k-th place:
    # partitioning keeps an arbitrary subset of the tied entries, so such
    # rows (rare outside degenerate data) are redone in column order.
    depth = min(k + 1, block.shape[1])
    values, columns = _top_k_candidates(block, depth)
    size = values.shape[1]
    if depth < size:
        best = np.argpartition(values, size - depth, axis=1)[:, size - depth :]
        values = np.take_along_axis(values, best, axis=1)
        columns = best if columns is None else np.take_along_axis(columns, best, axis=1)
    elif columns is None:
        columns = np.broadcast_to(np.arange(size), values.shape)
    values, columns = _by_value_then_column(values, columns)
    if depth == k:  # the whole row
        return values, columns
    tied = np.flatnonzero(values[:, k] == values[:, k - 1])
    values, columns = values[:, :k], columns[:, :k]
    if tied.size:
        values, columns = values.copy(), columns.copy()
        values[tied], columns[tied] = _by_value_then_column(
            *_first_k_in_gallery_order(block[tied], values[tied, k - 1], k)
        )
    return values, columns


def mean_of_top_k_per_row(block, k):
    """Mean of the k largest values of each row of ``block``."""
    values, _ = _top_k_candidates(block, k)
    size = values.shape[1]
    return np.partition(values, size - k, axis=1)[:, size - k :].mean(axis=1)


def mean_top_k_similarity(queries, gallery, k):
    """For each normalised query, the mean cosine of its k nearest gallery items."""
    k = min(k, gallery.shape[0])
    if queries.shape[0] == 0:
        return np.empty(0, dtype=queries.dtype)
    parts = map_similarity_blocks(
        queries, gallery, lambda start, stop, block: mean_of_top_k_per_row(block, k)
    )
    return np.concatenate(parts)


class SimilarityBlocks:
    """Row blocks of the query-by-gallery similarity matrix.

    Parameters
    ----------
    queries, gallery : ndarray of shape (n, n_components)
        Embeddings in the shared space (any scale: they are normalised here).
    similarity : {"cosine", "csls"}
        ``"csls"`` is cross-domain similarity local scaling (Conneau et al.,
        2018): ``2 cos(q, g) - r_g(q) - r_q(g)``, where ``r_g(q)`` is the mean
        cosine of ``q`` to its ``csls_k`` nearest gallery items and ``r_q(g)``
        the mean cosine of ``g`` to its ``csls_k`` nearest queries. It lowers
        the score of "hubs" that are near every query.
    csls_k : int
        Neighbourhood size of the CSLS correction.
    """

    def __init__(self, queries, gallery, similarity="cosine", csls_k=10):
        dtype = common_float_dtype(queries, gallery)
        self.queries = normalize_rows(np.asarray(queries, dtype=dtype))
        self.gallery = normalize_rows(np.asarray(gallery, dtype=dtype))
        self.similarity = similarity
        self.csls_k = csls_k
        if similarity == "csls":
            self._gallery_hubness = mean_top_k_similarity(
                self.gallery, self.queries, csls_k
            )

    def _corrected(self, block):
        if self.similarity == "csls":
            # The queries' own hubness comes from this very block.
            k = min(self.csls_k, block.shape[1])
            query_hubness = mean_of_top_k_per_row(block, k)
            block *= 2
            block -= query_hubness[:, None]
            block -= self._gallery_hubness[None, :]
        return block

    def map(self, reduce_block):
        """``reduce_block(start, stop, block)`` on every block, results in order."""
        return map_similarity_blocks(
            self.queries,
            self.gallery,
            lambda start, stop, block: reduce_block(
                start, stop, self._corrected(block)
            ),
        )

    def __iter__(self):
        step = _block_rows(self.gallery.shape[0])
        for start in range(0, self.queries.shape[0], step):
            stop = min(start + step, self.queries.shape[0])
            yield (
                start,
                stop,
                self._corrected(self.queries[start:stop] @ self.gallery.T),
            )


def top_k(queries, gallery, n_neighbors, similarity="cosine", csls_k=10):
    """Return ``(similarities, indices)`` of each query's best gallery items.

    Similarities come in the inputs' dtype (float32 when both are float32),
    best first; equal similarities are ordered by gallery index.
    """
    blocks = SimilarityBlocks(queries, gallery, similarity, csls_k)
    n_queries = blocks.queries.shape[0]
    if n_queries == 0:
        return (
            np.empty((0, n_neighbors), dtype=blocks.queries.dtype),
            np.empty((0, n_neighbors), dtype=np.intp),
        )
    parts = blocks.map(lambda start, stop, block: top_k_of_block(block, n_neighbors))
    scores = np.concatenate([part[0] for part in parts])
    indices = np.concatenate([part[1] for part in parts]).astype(np.intp, copy=False)
    return scores, indices
