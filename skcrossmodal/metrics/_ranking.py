"""Retrieval metrics for paired embeddings, and scorers for model selection.

Row i of ``X_scores`` and row i of ``y_scores`` are the two views of the same
event. Each metric asks how easily one finds the other: a query from one view is
compared with every row of the other view (the gallery), and the rank of its true
partner is recorded. The similarity matrix is never held whole, so these run at
n = 100 000 pairs in bounded memory.
"""

import warnings

import numpy as np
import sklearn
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.validation import check_array, check_consistent_length

from .._compat import IntegerInterval, StrOptions, validate_params
from .._numerics.similarity import (
    SIMILARITIES,
    SimilarityBlocks,
    partner_ranks,
    top_k_of_block,
)

__all__ = [
    "make_retrieval_scorer",
    "mean_average_precision",
    "mean_percentile_rank",
    "mean_reciprocal_rank",
    "median_rank",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "retrieval_ranks",
    "RETRIEVAL_SCORERS",
]

_DIRECTIONS = ("x_to_y", "y_to_x")

_COMMON_CONSTRAINTS = {
    "X_scores": ["array-like"],
    "y_scores": ["array-like"],
    "similarity": [StrOptions(set(SIMILARITIES))],
    "csls_k": [IntegerInterval(1, None, closed="left")],
}


def _check_paired_embeddings(X_scores, y_scores):
    X_scores = check_array(
        X_scores, dtype=[np.float64, np.float32], input_name="X_scores"
    )
    y_scores = check_array(
        y_scores, dtype=[np.float64, np.float32], input_name="y_scores"
    )
    check_consistent_length(X_scores, y_scores)
    if X_scores.shape[1] != y_scores.shape[1]:
        raise ValueError(
            "X_scores and y_scores must live in the same space (same number of "
            f"columns); got {X_scores.shape[1]} and {y_scores.shape[1]}."
        )
    return X_scores, y_scores


def _ranks_by_direction(X_scores, y_scores, direction, similarity, csls_k):
    X_scores, y_scores = _check_paired_embeddings(X_scores, y_scores)
    directions = _DIRECTIONS if direction == "both" else (direction,)
    ranks = []
    for name in directions:
        queries, gallery = (
            (X_scores, y_scores) if name == "x_to_y" else (y_scores, X_scores)
        )
        ranks.append(partner_ranks(queries, gallery, similarity, csls_k))
    return ranks


def _check_metric_weights(sample_weight, n_samples):
    """Validated, rescaled query weights, or None.

    Weights are divided by their maximum so that their sum can neither
    overflow (weights of 1e300) nor underflow (weights of 1e-320): only their
    ratios matter.
    """
    if sample_weight is None:
        return None
    weights = check_array(
        sample_weight,
        ensure_2d=False,
        dtype=[np.float64, np.float32],
        input_name="sample_weight",
    )
    if weights.ndim != 1:
        raise ValueError(
            "sample_weight must be 1-D, one weight per query, of shape "
            f"({n_samples},); got an array of shape {weights.shape}."
        )
    if weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {weights.shape[0]} entries but there are "
            f"{n_samples} queries; give one weight per query."
        )
    if np.any(weights < 0):
        raise ValueError(
            f"sample_weight must be non-negative; got a minimum of {weights.min()!r}."
        )
    largest = weights.max()
    if not largest > 0:
        raise ValueError(
            "sample_weight is zero for every query, so the weighted average is "
            "undefined; give at least one query a positive weight."
        )
    return weights.astype(np.float64) / np.float64(largest)


def _weighted_mean(values, sample_weight):
    weights = _check_metric_weights(sample_weight, len(values))
    if weights is None:
        return float(np.mean(values))
    return float(np.average(values, weights=weights))


def _weighted_median(values, sample_weight):
    """Median that equals ``np.median`` for equal weights.

    With weights it is the smallest value whose cumulative weight reaches half
    the total, averaged with the next value when the half is reached exactly
    (so integer weights act as repetitions).
    """
    weights = _check_metric_weights(sample_weight, len(values))
    if weights is None:
        return float(np.median(values))
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights) / weights.sum()
    # Rescaled weights (3 -> 1/3) round: a half reached exactly in exact
    # arithmetic can come out just below 0.5, so search with a tolerance.
    middle = int(np.searchsorted(cumulative, 0.5 * (1.0 - 1e-12)))
    middle = min(middle, len(values) - 1)
    if np.isclose(cumulative[middle], 0.5, rtol=1e-12, atol=0) and middle + 1 < len(
        values
    ):
        return float((values[middle] + values[middle + 1]) / 2)
    return float(values[middle])


# Rank-based metrics, from the partner ranks of one direction. Kept apart from
# the public functions so that a search that computes the ranks itself (the
# cross-validation of _model_selection) reduces them with the same arithmetic.
def _recall_of_ranks(ranks, sample_weight, k):
    return _weighted_mean(ranks <= k, sample_weight)


def _reciprocal_of_ranks(ranks, sample_weight, k=None):
    return _weighted_mean(1.0 / ranks, sample_weight)


def _median_of_ranks(ranks, sample_weight, k=None):
    return _weighted_median(ranks, sample_weight)


def _percentile_of_ranks(ranks, sample_weight, k=None):
    scale = max(len(ranks) - 1, 1)
    return _weighted_mean((ranks - 1) / scale, sample_weight)


def _average_over_directions(reduce_ranks, per_direction, sample_weight, k=None):
    return float(np.mean([reduce_ranks(r, sample_weight, k) for r in per_direction]))


@validate_params(
    {**_COMMON_CONSTRAINTS, "direction": [StrOptions(set(_DIRECTIONS))]},
    prefer_skip_nested_validation=True,
)
def retrieval_ranks(
    X_scores, y_scores, *, direction="x_to_y", similarity="cosine", csls_k=10
):
    """Rank of each query's true partner among all gallery rows.

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    direction : {"x_to_y", "y_to_x"}, default="x_to_y"
        ``"x_to_y"`` uses rows of ``X_scores`` as queries and ``y_scores`` as the
        gallery; ``"y_to_x"`` the other way round.
    similarity : {"cosine", "csls"}, default="cosine"
        Cosine similarity, or cross-domain similarity local scaling (cosine
        corrected for hubs; Conneau et al., 2018).
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.

    Returns
    -------
    ranks : ndarray of shape (n_samples,)
        1 means the partner is the most similar gallery row. Ties count half:
        ``1 + (#more similar) + (#equally similar) / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import retrieval_ranks
    >>> X_scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y_scores = np.array([[1.0, 0.1], [1.0, 0.9], [0.0, 1.0]])
    >>> retrieval_ranks(X_scores, y_scores).tolist()
    [1.0, 2.0, 3.0]
    """
    return _ranks_by_direction(X_scores, y_scores, direction, similarity, csls_k)[0]


_AVERAGED_CONSTRAINTS = {
    **_COMMON_CONSTRAINTS,
    "direction": [StrOptions({*_DIRECTIONS, "both"})],
    "sample_weight": ["array-like", None],
}


@validate_params(
    {
        **_AVERAGED_CONSTRAINTS,
        "k": [IntegerInterval(1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def recall_at_k(
    X_scores,
    y_scores,
    *,
    k=1,
    direction="both",
    similarity="cosine",
    csls_k=10,
    sample_weight=None,
):
    """Fraction of queries whose true partner is among the k most similar rows.

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    k : int, default=1
        How many retrieved rows count as a hit.
    direction : {"both", "x_to_y", "y_to_x"}, default="both"
        Which view queries which; ``"both"`` averages the two directions.
    similarity : {"cosine", "csls"}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each query in the average.

    Returns
    -------
    recall : float
        Between 0 and 1; recall@1 is precision@1 (P@1) of word translation.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import recall_at_k
    >>> X_scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y_scores = np.array([[1.0, 0.1], [1.0, 0.9], [0.0, 1.0]])
    >>> recall_at_k(X_scores, y_scores, k=1, direction="x_to_y")
    0.3333333333333333
    >>> recall_at_k(X_scores, y_scores, k=3, direction="x_to_y")
    1.0
    """
    per_direction = _ranks_by_direction(
        X_scores, y_scores, direction, similarity, csls_k
    )
    return _average_over_directions(_recall_of_ranks, per_direction, sample_weight, k)


@validate_params(_AVERAGED_CONSTRAINTS, prefer_skip_nested_validation=True)
def mean_reciprocal_rank(
    X_scores,
    y_scores,
    *,
    direction="both",
    similarity="cosine",
    csls_k=10,
    sample_weight=None,
):
    """Mean of 1 / rank of each query's true partner.

    This is what every estimator's ``score`` returns (cosine, both directions).

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    direction : {"both", "x_to_y", "y_to_x"}, default="both"
        Which view queries which; ``"both"`` averages the two directions.
    similarity : {"cosine", "csls"}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each query in the average.

    Returns
    -------
    mrr : float
        1.0 when every partner ranks first; about ``log(n) / n`` at chance.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import mean_reciprocal_rank
    >>> X_scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y_scores = np.array([[1.0, 0.1], [1.0, 0.9], [0.0, 1.0]])
    >>> round(mean_reciprocal_rank(X_scores, y_scores, direction="x_to_y"), 4)
    0.6111
    """
    per_direction = _ranks_by_direction(
        X_scores, y_scores, direction, similarity, csls_k
    )
    return _average_over_directions(_reciprocal_of_ranks, per_direction, sample_weight)


@validate_params(_AVERAGED_CONSTRAINTS, prefer_skip_nested_validation=True)
def median_rank(
    X_scores,
    y_scores,
    *,
    direction="both",
    similarity="cosine",
    csls_k=10,
    sample_weight=None,
):
    """Median rank of each query's true partner (1 is best).

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    direction : {"both", "x_to_y", "y_to_x"}, default="both"
        Which view queries which; ``"both"`` averages the two medians.
    similarity : {"cosine", "csls"}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each query; integer weights act as repetitions.

    Returns
    -------
    median : float

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import median_rank
    >>> X_scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y_scores = np.array([[1.0, 0.1], [1.0, 0.9], [0.0, 1.0]])
    >>> median_rank(X_scores, y_scores, direction="x_to_y")
    2.0
    """
    per_direction = _ranks_by_direction(
        X_scores, y_scores, direction, similarity, csls_k
    )
    return _average_over_directions(_median_of_ranks, per_direction, sample_weight)


@validate_params(_AVERAGED_CONSTRAINTS, prefer_skip_nested_validation=True)
def mean_percentile_rank(
    X_scores,
    y_scores,
    *,
    direction="both",
    similarity="cosine",
    csls_k=10,
    sample_weight=None,
):
    """Mean fraction of the gallery ranked above each query's true partner.

    The rank of the partner is mapped to ``(rank - 1) / (n_gallery - 1)``: 0
    when it comes first, 1 when it comes last, 0.5 on average at chance,
    whatever the size of the gallery. Mean reciprocal rank and recall@k fall
    as the gallery grows (more distractors can outrank the partner), so
    numbers measured on galleries of different sizes (a training set and a
    test set) cannot be compared; the percentile rank can. Lower is better.

    Parameters
    ----------
    X_scores : array-like of shape (n_samples, n_components)
        First view in the shared space.
    y_scores : array-like of shape (n_samples, n_components)
        Second view in the shared space; row i is the partner of ``X_scores[i]``.
    direction : {"both", "x_to_y", "y_to_x"}, default="both"
        Which view queries which; ``"both"`` averages the two directions.
    similarity : {"cosine", "csls"}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    sample_weight : array-like of shape (n_samples,), default=None
        Weight of each query in the average.

    Returns
    -------
    percentile : float
        Between 0 (every partner first) and 1 (every partner last).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import mean_percentile_rank
    >>> X_scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> y_scores = np.array([[1.0, 0.1], [1.0, 0.9], [0.0, 1.0]])
    >>> mean_percentile_rank(X_scores, y_scores, direction="x_to_y")
    0.5
    """
    per_direction = _ranks_by_direction(
        X_scores, y_scores, direction, similarity, csls_k
    )
    return _average_over_directions(_percentile_of_ranks, per_direction, sample_weight)


# ---------------------------------------------------------------------------
# Label-aware metrics: many gallery rows may be relevant to one query.


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
    X_scores, y_scores = _check_paired_embeddings(X_scores, y_scores)
    kind, source = _relevance_source(labels, relevance, X_scores.shape[0])
    directions = _DIRECTIONS if direction == "both" else (direction,)
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
    **_AVERAGED_CONSTRAINTS,
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
    return float(np.mean([_weighted_mean(v, sample_weight) for v in values]))


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
    return float(np.mean([_weighted_mean(v, sample_weight) for v in values]))


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
    return float(np.mean([_weighted_mean(v, sample_weight) for v in values]))


for _function in (precision_at_k, mean_average_precision, ndcg_at_k):
    _function.__doc__ = _function.__doc__.format(label_doc=_LABEL_DOC)


def _shared_space_pair(estimator, X, y):
    """Both views of (X, y) in the shared space of a fitted estimator or pipeline.

    ``Pipeline.transform`` forwards only X, so for a pipeline the preprocessing
    steps transform X and the final two-view step receives ``y`` itself. A
    fitted search (``GridSearchCV``) is scored through its refitted best model.
    """
    while hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if hasattr(estimator, "steps"):
        if len(estimator.steps) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator.steps[-1][1]
    return estimator.transform(X, y)


class _RetrievalScorer:
    """Scorer ``(estimator, X, y) -> float`` for ``GridSearchCV(scoring=...)``.

    Under metadata routing (``sklearn.set_config(enable_metadata_routing=True)``)
    it declares what it consumes with ``set_score_request``, like the scorers
    of :func:`sklearn.metrics.make_scorer`.
    """

    def __init__(self, metric, sign, kwargs):
        self._metric = metric
        self._sign = sign
        self._kwargs = kwargs
        self._requests = {}

    def __call__(self, estimator, X, y, sample_weight=None, labels=None):
        kwargs = dict(self._kwargs)
        if labels is not None:
            if not self._takes_labels():
                raise TypeError(
                    f"{self._metric.__name__} scores exact partners and takes no "
                    "labels; use precision, map or ndcg for label-aware scores."
                )
            kwargs["labels"] = labels
        elif self._takes_labels():
            # Without labels only the exact partner would count: precision@10
            # could not exceed 0.1. That is never what a label-aware scorer is
            # built for, so the missing routing is an error.
            raise ValueError(
                f"The {self._metric.__name__} scorer received no labels. Pass "
                "them to the search: CrossModalEmbeddingCV(scoring=scorer).fit(X, "
                "y, labels=labels), or, with GridSearchCV or cross_validate, "
                "enable metadata routing (sklearn.set_config("
                "enable_metadata_routing=True)), request them with "
                "scorer.set_score_request(labels=True) and pass labels=labels to "
                "fit."
            )
        if sample_weight is not None:
            # Checked before the embedding is computed, so bad weights fail fast.
            _check_metric_weights(sample_weight, np.shape(sample_weight)[0])
            kwargs["sample_weight"] = sample_weight
        X_scores, y_scores = _shared_space_pair(estimator, X, y)
        return self._sign * self._metric(X_scores, y_scores, **kwargs)

    def _takes_labels(self):
        return self._metric in _LABEL_METRICS

    def _copy(self):
        scorer = _RetrievalScorer(self._metric, self._sign, dict(self._kwargs))
        scorer._requests = dict(self._requests)
        return scorer

    def _rank_reduction(self):
        """``(reduce_ranks, directions)``, or None unless cosine ranks suffice.

        A search that computes the partner ranks itself can then score with
        :meth:`_score_ranks` what ``__call__`` would compute.
        """
        reduce_ranks = _RANK_REDUCERS.get(self._metric)
        if reduce_ranks is None or self._kwargs["similarity"] != "cosine":
            return None
        direction = self._kwargs["direction"]
        return reduce_ranks, _DIRECTIONS if direction == "both" else (direction,)

    def _score_ranks(self, per_direction):
        """The score from unweighted cosine partner ranks, one per direction."""
        reduce_ranks, _ = self._rank_reduction()
        return self._sign * _average_over_directions(
            reduce_ranks, per_direction, None, self._kwargs.get("k")
        )

    def set_score_request(self, **requests):
        """Request metadata (``sample_weight``, ``labels``) under routing.

        Parameters
        ----------
        **requests : {True, False, None, str}
            For each of ``sample_weight`` and ``labels``: True to receive it,
            False not to, None to raise if it is passed, or an alias.

        Returns
        -------
        self : object
        """
        if not sklearn.get_config()["enable_metadata_routing"]:
            raise RuntimeError(
                "set_score_request is only available when metadata routing is "
                "enabled: call sklearn.set_config(enable_metadata_routing=True)."
            )
        unknown = set(requests) - {"sample_weight", "labels"}
        if unknown:
            raise TypeError(
                f"Unexpected metadata {sorted(unknown)}; a retrieval scorer "
                "consumes only sample_weight and labels."
            )
        self._requests.update(requests)
        return self

    def get_metadata_routing(self):
        """What this scorer consumes, for scikit-learn's metadata routing.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
        """
        request = MetadataRequest(owner=type(self).__name__)
        for param, alias in self._requests.items():
            request.score.add_request(param=param, alias=alias)
        return request

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self._kwargs.items())
        sign = "" if self._sign > 0 else "-"
        return f"make_retrieval_scorer({sign}{self._metric.__name__}, {args})"


_METRICS = {
    "mrr": (mean_reciprocal_rank, 1),
    "recall": (recall_at_k, 1),
    "median_rank": (median_rank, -1),
    "mean_percentile_rank": (mean_percentile_rank, -1),
    "precision": (precision_at_k, 1),
    "map": (mean_average_precision, 1),
    "ndcg": (ndcg_at_k, 1),
}
_LABEL_METRICS = (precision_at_k, mean_average_precision, ndcg_at_k)
_RANK_REDUCERS = {
    mean_reciprocal_rank: _reciprocal_of_ranks,
    recall_at_k: _recall_of_ranks,
    median_rank: _median_of_ranks,
    mean_percentile_rank: _percentile_of_ranks,
}
_METRICS_WITH_K = (recall_at_k, precision_at_k, ndcg_at_k)


@validate_params(
    {
        "metric": [StrOptions(set(_METRICS))],
        "k": [IntegerInterval(1, None, closed="left")],
        "direction": [StrOptions({*_DIRECTIONS, "both"})],
        "similarity": [StrOptions(set(SIMILARITIES))],
        "csls_k": [IntegerInterval(1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_retrieval_scorer(
    metric="mrr", *, k=1, direction="both", similarity="cosine", csls_k=10
):
    """Build a scorer for ``GridSearchCV(scoring=...)`` from a retrieval metric.

    The scorer embeds the held-out ``(X, y)`` with the fitted estimator (for a
    ``Pipeline``, X goes through the preprocessing steps first) and evaluates
    the metric; greater is better, so ``"median_rank"`` and
    ``"mean_percentile_rank"`` are negated.

    Under metadata routing the scorer takes ``sample_weight`` (every metric)
    and ``labels`` (``"precision"``, ``"map"``, ``"ndcg"``) once requested
    with ``scorer.set_score_request(sample_weight=True, labels=True)``; they
    are then split with the folds like ``X`` and ``y``.

    Parameters
    ----------
    metric : {"mrr", "recall", "median_rank", "mean_percentile_rank", \
            "precision", "map", "ndcg"}, default="mrr"
        Mean reciprocal rank, recall@k, (negated) median rank, (negated) mean
        percentile rank, precision@k, mean average precision or NDCG@k.
    k : int, default=1
        The k of recall@k, precision@k and NDCG@k; ignored by the others.
    direction : {"both", "x_to_y", "y_to_x"}, default="both"
        Which view queries which.
    similarity : {"cosine", "csls"}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None, labels=None) -> float``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import cross_val_score
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal.metrics import make_retrieval_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 4)); y = X @ rng.normal(size=(4, 3))
    >>> scorer = make_retrieval_scorer("recall", k=5, direction="x_to_y")
    >>> scores = cross_val_score(CrossModalEmbedding(), X, y, scoring=scorer, cv=3)
    >>> scores.shape
    (3,)
    """
    function, sign = _METRICS[metric]
    kwargs = {"direction": direction, "similarity": similarity}
    if similarity == "csls":
        kwargs["csls_k"] = csls_k
    if function in _METRICS_WITH_K:
        kwargs["k"] = k
    return _RetrievalScorer(function, sign, kwargs)


class _ScorerTable(dict):
    """A dict of scorers that hands out a fresh copy at every lookup.

    ``set_score_request`` changes the scorer it is called on; were the table's
    own scorers handed out, one caller's request would reach every later user
    of the module-level table. Lookups (``[]``, ``get``, ``items``,
    ``values``, ``dict(table)``) therefore return copies.
    """

    def __getitem__(self, name):
        return super().__getitem__(name)._copy()

    def __iter__(self):
        # Defined here so that dict(table) and {**table} look values up with
        # __getitem__ instead of copying the stored scorers directly.
        return super().__iter__()

    def get(self, name, default=None):
        return self[name] if name in self else default

    def items(self):
        return [(name, self[name]) for name in self]

    def values(self):
        return [self[name] for name in self]

    def copy(self):
        return dict(self.items())


#: Ready scorers by name, e.g. ``GridSearchCV(..., scoring=RETRIEVAL_SCORERS)``.
#: Every lookup returns a new scorer, so ``set_score_request`` on one leaves
#: the table unchanged.
RETRIEVAL_SCORERS = _ScorerTable(
    {
        "mrr": make_retrieval_scorer("mrr"),
        "mrr_csls": make_retrieval_scorer("mrr", similarity="csls"),
        "recall@1": make_retrieval_scorer("recall", k=1),
        "recall@5": make_retrieval_scorer("recall", k=5),
        "recall@10": make_retrieval_scorer("recall", k=10),
        "neg_median_rank": make_retrieval_scorer("median_rank"),
        "neg_mean_percentile_rank": make_retrieval_scorer("mean_percentile_rank"),
    }
)
