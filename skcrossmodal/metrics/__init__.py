"""Retrieval metrics for paired embeddings, and scorers for model selection.

Row i of ``X_scores`` and row i of ``y_scores`` are the two views of the same
event. Each metric asks how easily one finds the other: a query from one view is
compared with every row of the other view (the gallery), and the rank of its true
partner is recorded. The similarity matrix is never held whole, so these run at
n = 100 000 pairs in bounded memory.
"""

from ._label_ranking import mean_average_precision, ndcg_at_k, precision_at_k
from ._ranking import (
    mean_percentile_rank,
    mean_reciprocal_rank,
    median_rank,
    recall_at_k,
    retrieval_ranks,
)
from ._scorer import RETRIEVAL_SCORERS, make_retrieval_scorer

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
