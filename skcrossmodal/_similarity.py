"""Chunked similarity search between two sets of embeddings.

Retrieval needs, for every query, its similarity to every gallery item. At
n = 100 000 pairs that matrix would take 80 GB, so it is only ever built one
block of query rows at a time; each block is reduced (to ranks or to a top-k
list) before the next is computed.
"""

import numpy as np

# One block of the similarity matrix holds at most this many numbers (64 MiB in
# float64); the boolean comparisons made on it add a fraction of that.
_BLOCK_NUMBERS = 2**23

SIMILARITIES = ("cosine", "csls")


def normalize_rows(embeddings):
    """Scale rows to unit L2 norm; all-zero rows stay zero (similar to nothing)."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, np.finfo(embeddings.dtype).tiny)


def _block_rows(n_gallery):
    return max(1, _BLOCK_NUMBERS // max(1, n_gallery))


def _mean_of_top_k_per_row(block, k):
    """Mean of the k largest values of each row of ``block``.

    ``np.partition`` over every row costs more than the matrix product that
    made the block, so candidates are narrowed first: split each row into
    groups of 64 columns; the k groups with the largest maxima hold the k
    largest values (any value outside them is matched by k group maxima at
    least as large, so swapping it out leaves the mean unchanged). Only those
    k * 64 candidates are then partitioned. Group g holds the columns
    g, g + n_groups, g + 2 n_groups, ...: its maxima are then an element-wise
    maximum of 64 contiguous slices, which vectorises well.
    """
    n_rows, n_cols = block.shape
    group = 64
    n_groups = n_cols // group
    if n_groups < 4 * k:  # small galleries: partitioning is cheap enough
        return np.partition(block, n_cols - k, axis=1)[:, n_cols - k :].mean(axis=1)
    grouped = block[:, : n_groups * group].reshape(n_rows, group, n_groups)
    maxima = grouped.max(axis=1)
    best = np.argpartition(maxima, n_groups - k, axis=1)[:, n_groups - k :]
    candidates = np.take_along_axis(grouped, best[:, None, :], axis=2)
    # The last n_cols % 64 columns belong to no group: they are candidates too.
    candidates = np.concatenate(
        [candidates.reshape(n_rows, group * k), block[:, n_groups * group :]], axis=1
    )
    size = candidates.shape[1]
    return np.partition(candidates, size - k, axis=1)[:, size - k :].mean(axis=1)


def _mean_top_k_similarity(queries, gallery, k):
    """For each query, the mean cosine of its k nearest gallery items."""
    k = min(k, gallery.shape[0])
    out = np.empty(queries.shape[0], dtype=queries.dtype)
    step = _block_rows(gallery.shape[0])
    for start in range(0, queries.shape[0], step):
        block = queries[start : start + step] @ gallery.T
        out[start : start + step] = _mean_of_top_k_per_row(block, k)
    return out


class SimilarityBlocks:
    """Iterate over row blocks of the query-by-gallery similarity matrix.

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
        self.queries = normalize_rows(queries)
        self.gallery = normalize_rows(gallery)
        self.similarity = similarity
        self.csls_k = csls_k
        if similarity == "csls":
            self._gallery_hubness = _mean_top_k_similarity(
                self.gallery, self.queries, csls_k
            )

    def __iter__(self):
        step = _block_rows(self.gallery.shape[0])
        for start in range(0, self.queries.shape[0], step):
            stop = min(start + step, self.queries.shape[0])
            block = self.queries[start:stop] @ self.gallery.T
            if self.similarity == "csls":
                # The queries' own hubness comes from this very block.
                k = min(self.csls_k, block.shape[1])
                query_hubness = _mean_of_top_k_per_row(block, k)
                block *= 2
                block -= query_hubness[:, None]
                block -= self._gallery_hubness[None, :]
            yield start, stop, block


def partner_ranks(queries, gallery, similarity="cosine", csls_k=10):
    """Rank (1 = best) of each query's partner, gallery row i for query row i.

    Ties are split evenly: the rank is ``1 + (#better) + (#tied) / 2``, the
    expected rank under random tie-breaking, so that a collapsed embedding
    (everything tied) scores at chance level rather than perfectly.
    """
    ranks = np.empty(queries.shape[0], dtype=np.float64)
    for start, stop, block in SimilarityBlocks(queries, gallery, similarity, csls_k):
        rows = np.arange(stop - start)
        partner = block[rows, rows + start][:, None]
        better = np.count_nonzero(block > partner, axis=1)
        tied = np.count_nonzero(block == partner, axis=1) - 1
        ranks[start:stop] = 1.0 + better + 0.5 * tied
    return ranks


def top_k(queries, gallery, n_neighbors, similarity="cosine", csls_k=10):
    """Return ``(similarities, indices)`` of each query's best gallery items."""
    n_queries = queries.shape[0]
    indices = np.empty((n_queries, n_neighbors), dtype=np.intp)
    scores = np.empty((n_queries, n_neighbors), dtype=np.float64)
    for start, stop, block in SimilarityBlocks(queries, gallery, similarity, csls_k):
        best = np.argpartition(-block, n_neighbors - 1, axis=1)[:, :n_neighbors]
        best_scores = np.take_along_axis(block, best, axis=1)
        order = np.argsort(-best_scores, axis=1, kind="stable")
        indices[start:stop] = np.take_along_axis(best, order, axis=1)
        scores[start:stop] = np.take_along_axis(best_scores, order, axis=1)
    return scores, indices
