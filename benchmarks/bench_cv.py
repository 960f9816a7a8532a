"""Benchmark the statistics-based searches against GridSearchCV.

Prints, from one run, the time of ``CrossModalEmbeddingCV`` and
``SharedLatentRegressionCV`` and of ``GridSearchCV`` over the same grid of 50
candidates and the same 5 folds, their ratio (target: >= 10x at n = 100 000),
and whether both chose the same candidate with the same mean scores.

Two scorers are measured:

- ``"r2"`` (held-out R^2 of ``predict``): GridSearchCV refits every candidate on
  every training part and predicts the held-out rows; the searches solve each
  candidate from the fold statistics and score it from the held-out fold's
  statistics. This is the n = 100 000 comparison.
- the default retrieval score (mean reciprocal rank of partners): both rank
  every held-out pair against every other, the same O(n_test^2) work for each
  candidate and fold, so the ratio is bounded by the share of the fitting in
  GridSearchCV's time. It is shown at a smaller n (``--n-retrieval``), since at
  n = 100 000 each score alone ranks 20 000 x 20 000 pairs.

Run: ``python benchmarks/bench_cv.py`` (``--quick`` for smaller sizes).
"""

import argparse
import time

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

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


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def compare(name, estimator, search_class, grid, X, y, scoring):
    cv = KFold(5, shuffle=True, random_state=0)
    search = search_class(grid, cv=cv, scoring=scoring)
    ours, _ = timed(lambda: search.fit(X, y))
    grid_search = GridSearchCV(estimator, grid, cv=cv, scoring=scoring)
    theirs, _ = timed(lambda: grid_search.fit(X, y))
    same_choice = search.best_params_ == grid_search.best_params_
    gap = np.max(
        np.abs(
            search.cv_results_["mean_test_score"]
            - grid_search.cv_results_["mean_test_score"]
        )
    )
    n_candidates = len(search.cv_results_["params"])
    print(
        f"{name:<26} {scoring or 'mrr':<5} {X.shape[0]:>8} {n_candidates:>5} "
        f"{ours:>9.2f} {theirs:>9.2f} {theirs / ours:>7.1f}x "
        f"{str(same_choice):>6} {gap:>9.1e}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--n-retrieval", type=int, default=5_000)
    args = parser.parse_args()
    n, n_retrieval = (10_000, 1_000) if args.quick else (args.n, args.n_retrieval)

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

    print(
        f"{'search':<26} {'score':<5} {'n':>8} {'cands':>5} {'ours (s)':>9} "
        f"{'GSCV (s)':>9} {'ratio':>8} {'same':>6} {'max|dmean|':>9}"
    )
    for n_samples, scoring in ((n, "r2"), (n_retrieval, None)):
        X, y = views(n_samples)
        compare(
            "CrossModalEmbeddingCV",
            CrossModalEmbedding(),
            CrossModalEmbeddingCV,
            EMBEDDING_GRID,
            X,
            y,
            scoring,
        )
        compare(
            "SharedLatentRegressionCV",
            SharedLatentRegression(),
            SharedLatentRegressionCV,
            LATENT_GRID,
            X,
            y,
            scoring,
        )


if __name__ == "__main__":
    main()
