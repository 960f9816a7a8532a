"""Retrieval metrics for paired embeddings, and scorers for model selection.

Row i of ``X_scores`` and row i of ``y_scores`` are the two views of the same
event. Each metric asks how easily one finds the other: a query from one view is
compared with every row of the other view (the gallery), and the rank of its true
partner is recorded. The similarity matrix is never held whole, so these run at
n = 100 000 pairs in bounded memory.
"""

import numpy as np
from sklearn.utils.validation import check_array, check_consistent_length

from ._compat import IntegerInterval, StrOptions, validate_params
from ._similarity import SIMILARITIES, partner_ranks

__all__ = [
    "make_retrieval_scorer",
    "mean_reciprocal_rank",
    "median_rank",
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


def _weighted_mean(values, sample_weight):
    if sample_weight is None:
        return float(np.mean(values))
    sample_weight = check_array(
        sample_weight, ensure_2d=False, input_name="sample_weight"
    )
    check_consistent_length(values, sample_weight)
    return float(np.average(values, weights=sample_weight))


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
    return float(
        np.mean([_weighted_mean(r <= k, sample_weight) for r in per_direction])
    )


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
    return float(
        np.mean([_weighted_mean(1.0 / r, sample_weight) for r in per_direction])
    )


@validate_params(
    {**_COMMON_CONSTRAINTS, "direction": [StrOptions({*_DIRECTIONS, "both"})]},
    prefer_skip_nested_validation=True,
)
def median_rank(
    X_scores, y_scores, *, direction="both", similarity="cosine", csls_k=10
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
    return float(np.mean([np.median(r) for r in per_direction]))


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
    """Scorer ``(estimator, X, y) -> float`` for ``GridSearchCV(scoring=...)``."""

    def __init__(self, metric, sign, kwargs):
        self._metric = metric
        self._sign = sign
        self._kwargs = kwargs

    def __call__(self, estimator, X, y, sample_weight=None):
        X_scores, y_scores = _shared_space_pair(estimator, X, y)
        kwargs = dict(self._kwargs)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return self._sign * self._metric(X_scores, y_scores, **kwargs)

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self._kwargs.items())
        sign = "" if self._sign > 0 else "-"
        return f"make_retrieval_scorer({sign}{self._metric.__name__}, {args})"


_METRICS = {
    "mrr": (mean_reciprocal_rank, 1),
    "recall": (recall_at_k, 1),
    "median_rank": (median_rank, -1),
}


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
    the metric; greater is better, so ``"median_rank"`` is negated.

    Parameters
    ----------
    metric : {"mrr", "recall", "median_rank"}, default="mrr"
        Mean reciprocal rank, recall@k, or (negated) median rank.
    k : int, default=1
        The k of recall@k; ignored by the other metrics.
    direction : {"both", "x_to_y", "y_to_x"}, default="both"
        Which view queries which.
    similarity : {"cosine", "csls"}, default="cosine"
        See :func:`retrieval_ranks`.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None) -> float``.

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
    if metric == "recall":
        kwargs["k"] = k
    return _RetrievalScorer(function, sign, kwargs)


#: Ready scorers by name, e.g. ``GridSearchCV(..., scoring=RETRIEVAL_SCORERS)``.
RETRIEVAL_SCORERS = {
    "mrr": make_retrieval_scorer("mrr"),
    "mrr_csls": make_retrieval_scorer("mrr", similarity="csls"),
    "recall@1": make_retrieval_scorer("recall", k=1),
    "recall@5": make_retrieval_scorer("recall", k=5),
    "recall@10": make_retrieval_scorer("recall", k=10),
    "neg_median_rank": make_retrieval_scorer("median_rank"),
}
