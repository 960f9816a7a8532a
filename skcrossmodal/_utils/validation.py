"""Checks shared by the estimators, the retrieval functions and the metrics.

Each rule is written here once: paired views have as many rows, ``query_view``
names a view, a count is a positive integer, and a fitted model is unwrapped
(frozen, searched, pipelined) down to the two-view estimator that embeds.
"""

import numbers

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_array, check_consistent_length

VIEWS = ("X", "y")


def check_same_rows(X, y):
    """Refuse two views whose row counts differ (row i of each is one event)."""
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            "X and y must have the same number of rows, since row i of each is the "
            f"same event; got {X.shape[0]} rows in X and {y.shape[0]} in y."
        )


def check_paired_embeddings(X_scores, y_scores):
    """Validate paired shared-space points: float rows, same count, same width."""
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


def check_query_view(query_view):
    """Refuse a ``query_view`` that is not ``"X"`` or ``"y"``."""
    if query_view not in VIEWS:
        raise ValueError(f"query_view must be 'X' or 'y'; got {query_view!r}.")


def check_count(name, value):
    """Refuse a count that is not a positive integer (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")


def unwrap_two_view(estimator):
    """Split a fitted model into its X preprocessing and its two-view estimator.

    A ``FrozenEstimator`` is searched through the model it wraps, a fitted
    search (``GridSearchCV``, anything with ``best_estimator_``) through its
    refitted best model, and a ``Pipeline`` into its leading steps (which
    ``Pipeline.transform`` applies to X only) and its last step. A two-view
    estimator (one with ``retrieve``, such as ``TwoViewPipeline``, which
    preprocesses both views itself) is returned whole.

    Parameters
    ----------
    estimator : estimator
        A fitted two-view estimator, or a pipeline, search or
        ``FrozenEstimator`` around one.

    Returns
    -------
    preprocessing : estimator or None
        The steps that transform X before the final estimator, or None.
    final : estimator
        The estimator that maps both views into the shared space.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal._utils.validation import unwrap_two_view
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> pipe = make_pipeline(StandardScaler(), CrossModalEmbedding()).fit(X, X)
    >>> preprocessing, final = unwrap_two_view(FrozenEstimator(pipe))
    >>> type(preprocessing).__name__, type(final).__name__
    ('Pipeline', 'CrossModalEmbedding')
    """
    while True:
        if isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        else:
            break
    if hasattr(estimator, "steps") and not hasattr(estimator, "retrieve"):
        preprocessing = estimator[:-1] if len(estimator.steps) > 1 else None
        inner, last = unwrap_two_view(estimator.steps[-1][1])
        if inner is not None:
            raise TypeError(
                "Nested pipelines with preprocessing at two levels are not "
                "supported; flatten the pipeline."
            )
        return preprocessing, last
    return None, estimator


def check_two_view(final):
    """Refuse what :func:`unwrap_two_view` left when it cannot retrieve."""
    if not hasattr(final, "retrieve"):
        raise TypeError(
            f"{type(final).__name__} is not a two-view estimator, a Pipeline "
            "ending in one, or a fitted search over them: it has no retrieve method."
        )
    return final


def transform_pair(estimator, X, y):
    """Both views of ``(X, y)`` in the shared space of a fitted model.

    The model is unwrapped by :func:`unwrap_two_view`: a pipeline's leading
    steps transform X, and the final two-view estimator receives ``y`` itself.
    """
    preprocessing, final = unwrap_two_view(estimator)
    if preprocessing is not None:
        X = preprocessing.transform(X)
    return final.transform(X, y)
