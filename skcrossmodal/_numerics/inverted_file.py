"""Approximate cosine search with a faiss inverted file, calibrated to a recall.

An inverted file splits the gallery into cells (k-means on a sample) and
compares each query with the rows of the ``n_probe`` cells whose centres are
most similar to it. How many cells reach a given recall depends on the data:
on clustered embeddings a few percent of the cells find 0.99 of the true
neighbours, on isotropic noise the same share finds a third. So the number
of cells is chosen at fit time by measuring, for sample queries, in which
rank of their cell ordering each true neighbour lies: the smallest
``n_probe`` whose recall reaches the target is then known without searching
once per candidate.

faiss is imported only by the functions that need it (the ``faiss`` extra).
"""

import numpy as np

from .similarity import map_similarity_blocks, top_k_of_block

# Inverted-file defaults (see build_inverted_file).
_TRAINING_POINTS_PER_LIST = 64
_KMEANS_ITERATIONS = 10

# Rankings of every cell are computed for this many (query, cell) pairs at a
# time (8 MiB of int64), so that many cells do not cost much memory.
_RANKING_NUMBERS = 2**20

# Queries used to calibrate n_probe: enough for a standard error of the
# recall below about 0.005, few enough that their exact search costs about
# as much as adding 1000 rows to the index.
CALIBRATION_QUERIES = 1000


def import_faiss():
    try:
        import faiss
    except ImportError as error:
        raise ImportError(
            "backend='faiss' needs faiss-cpu: pip install faiss-cpu (in a "
            'clone of skcrossmodal: pip install -e ".[faiss]").'
        ) from error
    return faiss


def default_n_lists(n_gallery):
    """``2 sqrt(n)`` cells, at most one per 39 rows (faiss's training minimum)."""
    return int(max(1, min(round(2 * np.sqrt(n_gallery)), n_gallery // 39)))


def build_inverted_file(gallery, n_lists):
    """An ``IndexIVFFlat`` over the normalised float32 ``gallery`` (inner product)."""
    faiss = import_faiss()
    n, d = gallery.shape
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, n_lists, faiss.METRIC_INNER_PRODUCT)
    # The cells only need to partition the gallery, not to be the best
    # k-means: 10 iterations (faiss's default is 25) on at most 64 points
    # per cell (faiss asks for 39 to 256) keep the k-means cost at
    # 64 * n_lists^2 * d * 10, about 40 n d for the default n_lists; the
    # calibration of n_probe makes up for the coarser cells.
    index.cp.niter = _KMEANS_ITERATIONS
    sample = gallery
    if n > _TRAINING_POINTS_PER_LIST * n_lists:
        size = _TRAINING_POINTS_PER_LIST * n_lists
        rows = np.random.default_rng(0).choice(n, size, replace=False)
        sample = gallery[np.sort(rows)]
    index.train(np.ascontiguousarray(sample))
    index.add(gallery)
    return index


def _cell_of_each_row(index, n_gallery):
    faiss = import_faiss()
    cells = np.empty(n_gallery, dtype=np.int64)
    lists = index.invlists
    for cell in range(index.nlist):
        size = lists.list_size(cell)
        if size:
            cells[faiss.rev_swig_ptr(lists.get_ids(cell), size)] = cell
    return cells


def calibrate_n_probe(
    index, gallery, queries, k, target_recall, *, exclude_self, n_probe=None
):
    """``(n_probe, recall)``: the cells to visit for ``target_recall``.

    ``queries`` are normalised rows standing for the queries to come; with
    ``exclude_self`` they are rows of the gallery (``queries[i]`` is gallery
    row ``exclude_self[i]``), held out by leaving their own row out of their
    neighbours. The exact top ``k`` of each query is computed; a true
    neighbour is found by a search visiting ``p`` cells when its cell is among
    the query's ``p`` nearest cell centres, so the recall of every ``p`` comes
    from one exact search and one ranking of the centres. The chosen
    ``n_probe`` is the smallest whose recall, less two standard errors over
    the queries, reaches ``target_recall`` (so that fresh queries of the same
    distribution reach it too); ``recall`` is its measured recall.
    With ``n_probe`` given, only its recall is measured.
    """
    n_gallery, n_lists = gallery.shape[0], index.nlist
    if exclude_self is not None:
        k = min(k, n_gallery - 1)
    if k < 1 or len(queries) == 0:
        return (n_probe or 1), 1.0

    def exact_block(start, stop, block):
        if exclude_self is not None:
            block[np.arange(stop - start), exclude_self[start:stop]] = -np.inf
        return top_k_of_block(block, k)[1]

    neighbours = np.concatenate(map_similarity_blocks(queries, gallery, exact_block))
    neighbour_cells = _cell_of_each_row(index, n_gallery)[neighbours]
    # first_found[q, p]: true neighbours of query q that a search finds first
    # when visiting p cells (those in its p-th nearest cell).
    first_found = np.zeros((len(queries), n_lists + 1), dtype=np.int32)
    step = max(1, _RANKING_NUMBERS // n_lists)
    for start in range(0, len(queries), step):
        stop = min(start + step, len(queries))
        _, cell_order = index.quantizer.search(queries[start:stop], n_lists)
        cell_rank = np.empty_like(cell_order)
        np.put_along_axis(cell_rank, cell_order, np.arange(n_lists)[None, :], axis=1)
        needed = np.take_along_axis(cell_rank, neighbour_cells[start:stop], axis=1)
        np.add.at(first_found, (np.arange(start, stop)[:, None], needed + 1), 1)
    recall = np.cumsum(first_found, axis=1)[:, 1:] / k
    mean = recall.mean(axis=0)
    if n_probe is None:
        error = recall.std(axis=0) / np.sqrt(len(queries))
        reached = np.flatnonzero(mean - 2 * error >= target_recall)
        n_probe = int(reached[0]) + 1 if reached.size else n_lists
    n_probe = min(n_probe, n_lists)
    return n_probe, float(mean[n_probe - 1])


def search_inverted_file(index, gallery, queries, depth):
    """``(similarities, columns)`` of the ``depth`` best rows found per query.

    Ties follow the rule of :func:`top_k_of_block`: equal similarities by
    gallery row, and when equal rows cross the ``depth``-th place (faiss
    keeps an arbitrary subset), the lowest rows found among the visited cells.
    Queries for which the visited cells hold too few rows are searched
    exactly.
    """
    n_gallery = gallery.shape[0]
    search_depth = min(depth + 1, n_gallery)
    similarities, columns = index.search(queries, search_depth)
    # A cell probe may find fewer than `search_depth` rows: search those exactly.
    missing = np.flatnonzero(np.any(columns < 0, axis=1))
    if missing.size:
        exact = map_similarity_blocks(
            queries[missing],
            gallery,
            lambda start, stop, block: top_k_of_block(block, search_depth),
        )
        similarities[missing] = np.concatenate([part[0] for part in exact])
        columns[missing] = np.concatenate([part[1] for part in exact])
    order = np.lexsort((columns, -similarities), axis=1)
    similarities = np.take_along_axis(similarities, order, axis=1)
    columns = np.take_along_axis(columns, order, axis=1)
    if search_depth > depth:
        tied = np.flatnonzero(similarities[:, depth] == similarities[:, depth - 1])
        similarities, columns = similarities[:, :depth], columns[:, :depth]
        for row in tied:
            similarities[row], columns[row] = _first_rows_of_a_tie(
                index, gallery, queries[row], similarities[row, -1], depth
            )
    return similarities, columns.astype(np.intp)


def _first_rows_of_a_tie(index, gallery, query, kth, depth):
    """The ``depth`` best rows of one query whose ``depth``-th score ``kth``
    is shared by rows left out: every row found at least as similar, by a
    range search of the same cells, then the first of those tied."""
    radius = np.nextafter(np.float32(kth), np.float32(-np.inf))
    _, found_similarities, found_columns = index.range_search(query[None, :], radius)
    better = found_similarities > kth
    tied = np.sort(found_columns[found_similarities == kth])
    n_better = np.count_nonzero(better)
    if n_better >= depth or n_better + tied.size < depth:
        # The range search disagrees with the k-nearest search by a rounding:
        # settle the query exactly.
        scores = gallery @ query
        values, columns = top_k_of_block(scores[None, :], depth)
        return values[0], columns[0]
    columns = np.concatenate([found_columns[better], tied[: depth - n_better]])
    values = np.concatenate(
        [found_similarities[better], np.full(depth - n_better, kth, np.float32)]
    )
    order = np.lexsort((columns, -values))
    return values[order], columns[order]
