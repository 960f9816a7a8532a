"""Instance retrieval metrics: the rank of each query's one true partner.

Row i of ``X_scores`` and row i of ``y_scores`` are the two views of the same
event. Each metric asks how easily one finds the other: a query from one view is
compared with every row of the other view (the gallery), and the rank of its true
partner is recorded (by :func:`skcrossmodal._numerics.ranks.partner_ranks`). The
similarity matrix is never held whole, so these run at n = 100 000 pairs in
bounded memory. The weighting and rank reductions here are shared with the
label-aware metrics and the scorers.
"""

import numpy as np
from sklearn.utils.validation import check_array

from .._compat import IntegerInterval, StrOptions, validate_params
from .._numerics.ranks import paired_partner_ranks, partner_ranks
from .._numerics.similarity import SIMILARITIES
from .._utils.validation import check_paired_embeddings

__all__ = [
    "mean_percentile_rank",
    "mean_reciprocal_rank",
    "median_rank",
    "recall_at_k",
    "retrieval_ranks",
]

DIRECTIONS = ("x_to_y", "y_to_x")

COMMON_CONSTRAINTS = {
    "X_scores": ["array-like"],
    "y_scores": ["array-like"],
    "similarity": [StrOptions(set(SIMILARITIES))],
    "csls_k": [IntegerInterval(1, None, closed="left")],
}


def _ranks_by_direction(X_scores, y_scores, direction, similarity, csls_k):
    X_scores, y_scores = check_paired_embeddings(X_scores, y_scores)
    directions = DIRECTIONS if direction == "both" else (direction,)
    if similarity == "cosine" and X_scores.shape[0] > 0:
        # Both directions from one similarity product.
        x_to_y, y_to_x = paired_partner_ranks(
            X_scores,
            y_scores,
            x_to_y="x_to_y" in directions,
            y_to_x="y_to_x" in directions,
        )
        return [x_to_y if name == "x_to_y" else y_to_x for name in directions]
    ranks = []
    for name in directions:
        queries, gallery = (
            (X_scores, y_scores) if name == "x_to_y" else (y_scores, X_scores)
        )
        ranks.append(partner_ranks(queries, gallery, similarity, csls_k))
    return ranks


def check_metric_weights(sample_weight, n_samples):
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


def weighted_mean(values, sample_weight):
    weights = check_metric_weights(sample_weight, len(values))
    if weights is None:
        return float(np.mean(values))
    return float(np.average(values, weights=weights))


def _weighted_median(values, sample_weight):
    """Median that equals ``np.median`` for equal weights.

    With weights it is the smallest value whose cumulative weight reaches half
    the total, averaged with the next value when the half is reached exactly
    (so integer weights act as repetitions).
    """
    weights = check_metric_weights(sample_weight, len(values))
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
def recall_of_ranks(ranks, sample_weight, k):
    return weighted_mean(ranks <= k, sample_weight)


def reciprocal_of_ranks(ranks, sample_weight, k=None):
    return weighted_mean(1.0 / ranks, sample_weight)


def median_of_ranks(ranks, sample_weight, k=None):
    return _weighted_median(ranks, sample_weight)


def percentile_of_ranks(ranks, sample_weight, k=None):
    scale = max(len(ranks) - 1, 1)
    return weighted_mean((ranks - 1) / scale, sample_weight)


def average_over_directions(reduce_ranks, per_direction, sample_weight, k=None):
    return float(np.mean([reduce_ranks(r, sample_weight, k) for r in per_direction]))


@validate_params(
    {**COMMON_CONSTRAINTS, "direction": [StrOptions(set(DIRECTIONS))]},
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
        ``1 + (#more similar) + (#equally similar) / 2``; a gallery row equal
        to the partner (after normalisation) is equally similar, whatever the
        rounding of the similarities. Ranks are computed in float64.

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


AVERAGED_CONSTRAINTS = {
    **COMMON_CONSTRAINTS,
    "direction": [StrOptions({*DIRECTIONS, "both"})],
    "sample_weight": ["array-like", None],
}


@validate_params(
    {
        **AVERAGED_CONSTRAINTS,
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
    return average_over_directions(recall_of_ranks, per_direction, sample_weight, k)


@validate_params(AVERAGED_CONSTRAINTS, prefer_skip_nested_validation=True)
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
    return average_over_directions(reciprocal_of_ranks, per_direction, sample_weight)


@validate_params(AVERAGED_CONSTRAINTS, prefer_skip_nested_validation=True)
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
    return average_over_directions(median_of_ranks, per_direction, sample_weight)


@validate_params(AVERAGED_CONSTRAINTS, prefer_skip_nested_validation=True)
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
    return average_over_directions(percentile_of_ranks, per_direction, sample_weight)
