"""Label-aware retrieval metrics: many gallery rows may be relevant to a query.

Precision@k, mean average precision and NDCG@k, with relevance given by class
labels (binary) or a graded relevance matrix; with neither, only the true
partner is relevant.
"""

import warnings

import numpy as np
from sklearn.utils.validation import check_array, check_consistent_length

from .._compat import IntegerInterval, validate_params
from .._numerics.similarity import SimilarityBlocks, top_k_of_block
from .._utils.validation import check_paired_embeddings
from ._ranking import AVERAGED_CONSTRAINTS, DIRECTIONS, weighted_mean

__all__ = ["mean_average_precision", "ndcg_at_k", "precision_at_k"]


def _relevance_source(labels, relevance, n_samples):
    """Check ``labels``/``relevance`` and return ``(kind, array)``."""
    if labels is not None and relevance is not None:
        raise ValueError("Give either labels or relevance, not both.")
    if labels is not None:
        labels = check_array(labels, ensure_2d=False, dtype=None, input_name="labels")
        if labels.ndim != 1:
            raise ValueError(
                f"labels must be 1-D, one class per pair; got shape {labels.shape}."
            )
        check_consistent_length(np.empty(n_samples), labels)
        return "labels", labels
    if relevance is not None:
        relevance = check_array(
            relevance, dtype=[np.float64, np.float32], input_name="relevance"
        )
        if relevance.shape != (n_samples, n_samples):
            raise ValueError(
                "relevance must be a (n_samples, n_samples) matrix whose entry "
                "[i, j] grades how relevant y_scores[j] is to X_scores[i]; got "
                f"shape {relevance.shape} for {n_samples} pairs."
            )
        if np.any(relevance < 0):
            raise ValueError("relevance grades must be non-negative.")
        return "relevance", relevance
    warnings.warn(
        "Neither labels nor relevance was given, so only each query's own "
        "partner counts as relevant (precision@k is then at most 1/k). Pass "
        "labels=<class of each pair>, or relevance=np.eye(n_samples) to score "
        "exact partners on purpose.",
        UserWarning,
        stacklevel=5,
    )
    return "partner", None


class _Relevance:
    """Relevance of gallery columns to the queries of one direction."""

    def __init__(self, kind, source, transpose):
        self.kind = kind
        self.source = source.T if kind == "relevance" and transpose else source
        if kind == "labels":
            _, codes, counts = np.unique(
                source, return_inverse=True, return_counts=True
            )
            self.codes = codes.ravel()
            self.counts = counts

    def of(self, start, stop, columns):
        """Relevance of ``columns[i]`` (gallery indices) to query ``start + i``."""
        rows = np.arange(start, stop)[:, None]
        if self.kind == "labels":
            return (self.codes[rows] == self.codes[columns]).astype(np.float64)
        if self.kind == "relevance":
            return self.source[rows, columns].astype(np.float64)
        return (rows == columns).astype(np.float64)

    def ideal(self, start, stop, k):
        """The k largest relevances of each query's row, largest first."""
        if self.kind == "relevance":
            rows = self.source[start:stop].astype(np.float64)
            return -np.sort(-rows, axis=1)[:, :k]
        if self.kind == "labels":
            n_relevant = self.counts[self.codes[start:stop]]
        else:
            n_relevant = np.ones(stop - start, dtype=np.intp)
        return (np.arange(k)[None, :] < n_relevant[:, None]).astype(np.float64)


def _per_query(
    X_scores, y_scores, direction, similarity, csls_k, labels, relevance, reduce_block
):
    X_scores, y_scores = check_paired_embeddings(X_scores, y_scores)
    kind, source = _relevance_source(labels, relevance, X_scores.shape[0])
    directions = DIRECTIONS if direction == "both" else (direction,)
    values = []
    for name in directions:
        queries, gallery = (
            (X_scores, y_scores) if name == "x_to_y" else (y_scores, X_scores)
        )
        rel = _Relevance(kind, source, transpose=name == "y_to_x")
        blocks = SimilarityBlocks(queries, gallery, similarity, csls_k)
        parts = blocks.map(
            lambda start, stop, block, rel=rel: reduce_block(start, stop, block, rel)
        )
        values.append(np.concatenate(parts))
    return values


def _ranked_relevance(start, stop, block, rel, k):
    """Relevance of each query's k best gallery rows, best first.

    Equal similarities are ordered by gallery index.
    """
    if k < block.shape[1]:
        _, columns = top_k_of_block(block, k)
    else:
        columns = np.argsort(-block, axis=1, kind="stable")
    return rel.of(start, stop, columns)


def _discount(n):
    return 1.0 / np.log2(np.arange(2, n + 2))


_LABEL_CONSTRAINTS = {
    **AVERAGED_CONSTRAINTS,
    "labels": ["array-like", None],
    "relevance": ["array-like", None],
}

_LABEL_DOC = """labels : array-like of shape (n_samples,), default=None
        Class of each pair: gallery row j is relevant to query i when
        ``labels[j] == labels[i]`` (binary relevance).
    relevance : array-like of shape (n_samples, n_samples), default=None
        Graded relevance instead: entry ``[i, j] >= 0`` is how relevant row j
        of ``y_scores`` is to row i of ``X_scores`` (transposed for the
        ``"y_to_x"`` direction). With neither, only the true partner is
        relevant and a ``UserWarning`` says so (a forgotten ``labels`` caps
        precision@k at 1/k); ``relevance=np.eye(n_samples)`` asks for that
        explicitly."""


@validate_params(
    {**_LABEL_CONSTRAINTS, "k": [IntegerInterval(1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def precision_at_k(
    X_scores,
    y_scores,
    *,
    labels=None,
    relevance=None,
    k=10,
    direction="both",
    similarity="cosine",
    csls_k=10,
    sample_weight=None,
):
    """Fraction of each query's k best gallery rows that are relevant.

    When captions repeat ("a handwritten seven" for every seven), the exact
    partner is one of many equally right answers and mean reciprocal rank
    understates retrieval; precision@k with class labels counts any row of
    the right class.

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    {label_doc}
    k : int, default=10
        How many retrieved rows are judged (a k larger than the gallery is
        cut to the gallery).
    direction : {{"both", "x_to_y", "y_to_x"}}, default="both"
        Which view queries which; ``"both"`` averages the two directions.
    similarity : {{"cosine", "csls"}}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each query in the average.

    Returns
    -------
    precision : float
        Between 0 and 1. With graded relevance, a row counts when its grade
        is positive. Equal similarities are ordered by gallery index.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import precision_at_k
    >>> X_scores = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> y_scores = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.2]])
    >>> labels = np.array(["cat", "cat", "dog"])
    >>> precision_at_k(X_scores, y_scores, labels=labels, k=1, direction="x_to_y")
    0.3333333333333333
    """
    n_gallery = check_array(y_scores, dtype=None).shape[0]
    k = min(k, n_gallery)

    def reduce_block(start, stop, block, rel):
        return (_ranked_relevance(start, stop, block, rel, k) > 0).mean(axis=1)

    values = _per_query(
        X_scores,
        y_scores,
        direction,
        similarity,
        csls_k,
        labels,
        relevance,
        reduce_block,
    )
    return float(np.mean([weighted_mean(v, sample_weight) for v in values]))


@validate_params(_LABEL_CONSTRAINTS, prefer_skip_nested_validation=True)
def mean_average_precision(
    X_scores,
    y_scores,
    *,
    labels=None,
    relevance=None,
    direction="both",
    similarity="cosine",
    csls_k=10,
    sample_weight=None,
):
    """Mean over queries of the average precision of the full ranking.

    Average precision of one query is the mean, over its relevant gallery
    rows, of the precision among the rows ranked at or above each of them.

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    {label_doc}
    direction : {{"both", "x_to_y", "y_to_x"}}, default="both"
        Which view queries which; ``"both"`` averages the two directions.
    similarity : {{"cosine", "csls"}}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each query in the average.

    Returns
    -------
    map : float
        Between 0 and 1; a query with no relevant row scores 0. With only the
        partner relevant, it equals the mean reciprocal rank (up to ties).
        Equal similarities are ordered by gallery index.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import mean_average_precision
    >>> X_scores = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> y_scores = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.2]])
    >>> labels = np.array(["cat", "cat", "dog"])
    >>> round(mean_average_precision(X_scores, y_scores, labels=labels,
    ...                              direction="x_to_y"), 4)
    0.6389
    """

    def reduce_block(start, stop, block, rel):
        relevant = _ranked_relevance(start, stop, block, rel, block.shape[1]) > 0
        hits = np.cumsum(relevant, axis=1)
        precision = hits / np.arange(1, block.shape[1] + 1)
        n_relevant = np.maximum(hits[:, -1], 1)
        return (precision * relevant).sum(axis=1) / n_relevant

    values = _per_query(
        X_scores,
        y_scores,
        direction,
        similarity,
        csls_k,
        labels,
        relevance,
        reduce_block,
    )
    return float(np.mean([weighted_mean(v, sample_weight) for v in values]))


@validate_params(
    {**_LABEL_CONSTRAINTS, "k": [IntegerInterval(1, None, closed="left"), None]},
    prefer_skip_nested_validation=True,
)
def ndcg_at_k(
    X_scores,
    y_scores,
    *,
    labels=None,
    relevance=None,
    k=10,
    direction="both",
    similarity="cosine",
    csls_k=10,
    sample_weight=None,
):
    """Normalised discounted cumulative gain of each query's k best rows.

    ``DCG = sum_i rel_i / log2(i + 1)`` over ranks i = 1..k, divided by the
    DCG of the ideal ordering of that query's relevances (linear gains, as
    :func:`sklearn.metrics.ndcg_score`).

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    {label_doc}
    k : int or None, default=10
        Depth of the ranking judged; None judges the whole gallery.
    direction : {{"both", "x_to_y", "y_to_x"}}, default="both"
        Which view queries which; ``"both"`` averages the two directions.
    similarity : {{"cosine", "csls"}}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each query in the average.

    Returns
    -------
    ndcg : float
        Between 0 and 1; a query with no relevant row scores 0. Equal
        similarities are ordered by gallery index.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import ndcg_at_k
    >>> X_scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> y_scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> relevance = np.array([[3.0, 1.0], [0.0, 2.0]])
    >>> ndcg_at_k(X_scores, y_scores, relevance=relevance, direction="x_to_y")
    1.0
    """
    n_gallery = check_array(y_scores, dtype=None).shape[0]
    k = n_gallery if k is None else min(k, n_gallery)
    discount = _discount(k)

    def reduce_block(start, stop, block, rel):
        gains = _ranked_relevance(start, stop, block, rel, k)
        ideal = rel.ideal(start, stop, k) @ discount
        dcg = gains @ discount
        return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)

    values = _per_query(
        X_scores,
        y_scores,
        direction,
        similarity,
        csls_k,
        labels,
        relevance,
        reduce_block,
    )
    return float(np.mean([weighted_mean(v, sample_weight) for v in values]))


for _function in (precision_at_k, mean_average_precision, ndcg_at_k):
    _function.__doc__ = _function.__doc__.format(label_doc=_LABEL_DOC)
