"""Scorers for model selection: a retrieval metric as ``scoring=`` of a search.

:func:`make_retrieval_scorer` builds one, :data:`RETRIEVAL_SCORERS` names the
common ones. A search that computes the partner ranks itself (the
statistics-based cross-validation) asks :func:`rank_reduction` whether cosine
ranks suffice for a scorer and scores them with :func:`score_from_ranks`, the
same arithmetic as the scorer's own call.
"""

import numpy as np
import sklearn
from sklearn.utils.metadata_routing import MetadataRequest

from .._compat import IntegerInterval, StrOptions, validate_params
from .._numerics.similarity import SIMILARITIES
from .._utils.validation import transform_pair
from ._label_ranking import mean_average_precision, ndcg_at_k, precision_at_k
from ._ranking import (
    DIRECTIONS,
    average_over_directions,
    check_metric_weights,
    mean_percentile_rank,
    mean_reciprocal_rank,
    median_of_ranks,
    median_rank,
    percentile_of_ranks,
    recall_at_k,
    recall_of_ranks,
    reciprocal_of_ranks,
)

__all__ = [
    "RETRIEVAL_SCORERS",
    "make_retrieval_scorer",
    "rank_reduction",
    "score_from_ranks",
    "takes_labels",
]


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
            check_metric_weights(sample_weight, np.shape(sample_weight)[0])
            kwargs["sample_weight"] = sample_weight
        X_scores, y_scores = transform_pair(estimator, X, y)
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
        return reduce_ranks, DIRECTIONS if direction == "both" else (direction,)

    def _score_ranks(self, per_direction):
        """The score from unweighted cosine partner ranks, one per direction."""
        reduce_ranks, _ = self._rank_reduction()
        return self._sign * average_over_directions(
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
    mean_reciprocal_rank: reciprocal_of_ranks,
    recall_at_k: recall_of_ranks,
    median_rank: median_of_ranks,
    mean_percentile_rank: percentile_of_ranks,
}
_METRICS_WITH_K = (recall_at_k, precision_at_k, ndcg_at_k)


@validate_params(
    {
        "metric": [StrOptions(set(_METRICS))],
        "k": [IntegerInterval(1, None, closed="left")],
        "direction": [StrOptions({*DIRECTIONS, "both"})],
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


def rank_reduction(scorer):
    """``(reduce_ranks, directions)`` of a retrieval scorer, or None.

    None unless ``scorer`` is a retrieval scorer whose score follows from the
    unweighted cosine partner ranks of each direction.
    """
    if not isinstance(scorer, _RetrievalScorer):
        return None
    return scorer._rank_reduction()


def score_from_ranks(scorer, per_direction):
    """What ``scorer`` scores, from cosine partner ranks (one array per direction)."""
    return scorer._score_ranks(per_direction)


def takes_labels(scorer):
    """Whether ``scorer`` is a retrieval scorer that needs ``labels`` (label-aware)."""
    return isinstance(scorer, _RetrievalScorer) and scorer._takes_labels()
