"""Benchmark the statistics-based searches against GridSearchCV.

Prints, from one run, the time of ``CrossModalEmbeddingCV`` and
``SharedLatentRegressionCV`` and of ``GridSearchCV`` over the same grid of 50
candidates and the same 5 folds, their ratio (target: >= 10x at n = 100 000),
and whether both chose the same candidate with the same mean scores.

Two scorers are measured:

- ``"r2"`` (held-out R^2 of ``predict``): GridSearchCV refits every candidate on
  every training part and predicts the held-out rows; the searches solve each
  candidate from the fold statistics and score it from the held-out fold's
  statistics.
- the default retrieval score (mean reciprocal rank of partners, both
  directions): both rank every held-out pair against every other for every
  candidate and fold. The searches rank both directions from one float32
  product with packed counts (near ties re-ranked in float64, so the scores
  are those of float64) and embed the held-out rows once per shared
  decomposition; GridSearchCV calls the estimator's ``score``. The ranking is
  work neither side can skip, so the ratio is bounded by it: the ``floor``
  lines time the ranking alone, inside each search.

At n = 100 000 a retrieval-scored GridSearchCV ranks 20 000 x 20 000 pairs
twice for each of 250 candidate-folds (about an hour here), so that row times
both sides on a subset of the candidates (``--subset``, all 5 folds) and
scales both times to 50 candidates; the table says so.

Run: ``python benchmarks/bench_cv.py`` (``--quick`` for smaller sizes,
``--only mrr`` or ``--only r2`` for one scorer).
"""

import argparse
import time
from contextlib import contextmanager

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

import skcrossmodal._model_selection.search as model_selection
import skcrossmodal.metrics._ranking as metric_ranks
from skcrossmodal import (
    CrossModalEmbedding,
    CrossModalEmbeddingCV,
    SharedLatentRegression,
    SharedLatentRegressionCV,
)
from skcrossmodal.datasets import make_paired_views

# 10 ranks x 5 regularisation settings = 50 candidates per estimator.
COMPONENTS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20]
EMBEDDING_GRID = [
    {"n_components": COMPONENTS, "whiten": [False]},
    {"n_components": COMPONENTS, "whiten": [True], "reg": [1e-3, 1e-2, 0.1, "auto"]},
]
LATENT_GRID = {
    "n_components": COMPONENTS,
    "alpha": [1e-1, 1e1, 1e3, 1e5, "auto"],
    "solver": ["closed_form"],
}
N_CANDIDATES = 50


@contextmanager
def timing_of(module, name, totals, key):
    """Add the seconds spent in ``module.name`` to ``totals[key]``."""
    original = getattr(module, name)

    def timed_call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(module, name, timed_call)
    try:
        yield
    finally:
        setattr(module, name, original)


def compare(name, estimator, search_class, grid, X, y, scoring, scale=1.0):
    """One row of the table; ``scale`` multiplies both times (a subset)."""
    cv = KFold(5, shuffle=True, random_state=0)
    totals = {"ours": 0.0, "theirs": 0.0}
    search = search_class(grid, cv=cv, scoring=scoring)
    with timing_of(model_selection, "paired_partner_ranks", totals, "ours"):
        start = time.perf_counter()
        search.fit(X, y)
        ours = time.perf_counter() - start
    grid_search = GridSearchCV(estimator, grid, cv=cv, scoring=scoring)
    with timing_of(metric_ranks, "paired_partner_ranks", totals, "theirs"):
        start = time.perf_counter()
        grid_search.fit(X, y)
        theirs = time.perf_counter() - start
    same_choice = search.best_params_ == grid_search.best_params_
    gap = np.max(
        np.abs(
            search.cv_results_["mean_test_score"]
            - grid_search.cv_results_["mean_test_score"]
        )
    )
    n_candidates = len(search.cv_results_["params"])
    label = scoring or "mrr"
    if scale != 1.0:
        label += f" ({n_candidates} cands, x{scale:.3g})"
    print(
        f"{name:<26} {label:<22} {X.shape[0]:>7} "
        f"{ours * scale:>9.2f} {theirs * scale:>9.2f} {theirs / ours:>7.1f}x "
        f"{str(same_choice):>6} {gap:>9.1e}"
    )
    if scoring is None:
        print(
            f"{'  ranking alone (floor)':<26} {label:<22} {X.shape[0]:>7} "
            f"{totals['ours'] * scale:>9.2f} {totals['theirs'] * scale:>9.2f}"
            f"   ours: {totals['ours'] / ours:.0%} of the search, GridSearchCV's "
            f"score: {totals['theirs'] / theirs:.0%} of its time"
        )


def views(n_samples):
    X, y, _ = make_paired_views(
        n_samples,
        n_features_x=30,
        n_features_y=20,
        n_latent=8,
        noise=1.0,
        random_state=0,
    )
    return X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--only", choices=["r2", "mrr"], default=None)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--n-retrieval", type=int, default=5_000)
    parser.add_argument(
        "--subset",
        type=int,
        default=3,
        help="candidates timed for the retrieval score at --n (0: skip that row)",
    )
    args = parser.parse_args()
    n, n_retrieval = (10_000, 1_000) if args.quick else (args.n, args.n_retrieval)

    print(
        f"{'search':<26} {'score':<22} {'n':>7} {'ours (s)':>9} "
        f"{'GSCV (s)':>9} {'ratio':>8} {'same':>6} {'max|dmean|':>9}"
    )
    runs = []
    if args.only in (None, "r2"):
        runs.append((n, "r2", None))
    if args.only in (None, "mrr"):
        runs.append((n_retrieval, None, None))
        if args.subset:
            # Ranks spread over the grid, whitened with the default shrinkage.
            picked = list(np.unique(np.geomspace(1, 20, args.subset).round()))
            subset = (
                {"n_components": [int(k) for k in picked], "whiten": [True]},
                {
                    "n_components": [int(k) for k in picked],
                    "alpha": ["auto"],
                    "solver": ["closed_form"],
                },
            )
            runs.append((n, None, subset))
    for n_samples, scoring, subset in runs:
        X, y = views(n_samples)
        grids = (EMBEDDING_GRID, LATENT_GRID) if subset is None else subset
        scale = 1.0 if subset is None else N_CANDIDATES / len(grids[0]["n_components"])
        compare(
            "CrossModalEmbeddingCV",
            CrossModalEmbedding(),
            CrossModalEmbeddingCV,
            grids[0],
            X,
            y,
            scoring,
            scale,
        )
        compare(
            "SharedLatentRegressionCV",
            SharedLatentRegression(),
            SharedLatentRegressionCV,
            grids[1],
            X,
            y,
            scoring,
            scale,
        )


if __name__ == "__main__":
    main()
