"""Benchmark CrossModalEmbedding.fit and the retrieval metrics.

Prints one table measured in a single run: every fit and floor runs once to
warm up, then they take turns ``--repeat`` times and the best of each is kept:

- ``CrossModalEmbedding(whiten=False).fit`` (plain Procrustes) against its floor,
  the products ``X.T @ y`` and ``X.T @ X`` (the latter gives ``predict`` its
  least-squares scale) plus the column means of both views (target: <= 1.5x), and
  against ``scipy.linalg.orthogonal_procrustes`` on data centred beforehand;
- the default ``CrossModalEmbedding().fit`` (whitened, regularised CCA) against
  its own floor, the three products ``X.T @ X``, ``y.T @ y`` and ``X.T @ y`` plus
  the column means (target: <= 1.5x);
- the extra memory ``fit`` allocates, as a fraction of the size of X (a copy of X
  or y would show as >= 1.0; numpy reports its allocations to tracemalloc);
- the retrieval metrics at n = 50 000, d = 64: time and peak memory (target:
  under 1 GB; the full similarity matrix alone would take 20 GB).

Run: ``python benchmarks/bench_procrustes.py`` (``--quick`` for smaller sizes).
"""

import argparse
import time
import tracemalloc

import numpy as np
from scipy.linalg import orthogonal_procrustes

from skcrossmodal import CrossModalEmbedding
from skcrossmodal.metrics import mean_reciprocal_rank


def best_times(functions, repeat):
    """Best of ``repeat`` timings of each function, all measured alike.

    Every function runs once untimed first (BLAS threads started, pages
    touched, caches of the library filled), then the functions take turns,
    so that a floor and the fit it bounds see the same machine conditions.
    """
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(repeat):
        for function, seen in zip(functions, times, strict=True):
            start = time.perf_counter()
            function()
            seen.append(time.perf_counter() - start)
    return [min(seen) for seen in times]


def peak_memory(function):
    """Peak bytes allocated (through numpy/Python) while ``function`` runs."""
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n_fit, d_fit = (20_000, 50) if args.quick else (200_000, 100)
    n_ret, d_ret = (5_000, 64) if args.quick else (50_000, 64)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_fit, d_fit)) + 3.0
    y = X @ rng.normal(size=(d_fit, d_fit)) + rng.normal(size=(n_fit, d_fit))
    X_centred, y_centred = X - X.mean(axis=0), y - y.mean(axis=0)

    def floor():
        X.T @ X
        X.T @ y
        X.mean(axis=0)
        y.mean(axis=0)

    def whitened_floor():
        y.T @ y
        floor()

    model = CrossModalEmbedding(whiten=False)
    t_floor, t_fit, t_whitened_floor, t_whitened, t_scipy = best_times(
        [
            floor,
            lambda: model.fit(X, y),
            whitened_floor,
            lambda: CrossModalEmbedding().fit(X, y),
            lambda: orthogonal_procrustes(X_centred, y_centred),
        ],
        args.repeat,
    )
    fit_bytes = peak_memory(lambda: CrossModalEmbedding().fit(X, y))

    queries = rng.normal(size=(n_ret, d_ret)).astype(np.float32)
    gallery = queries + rng.normal(size=(n_ret, d_ret)).astype(np.float32)
    rows = []
    for similarity in ("cosine", "csls"):

        def metric(similarity=similarity):
            return mean_reciprocal_rank(queries, gallery, similarity=similarity)

        start = time.perf_counter()
        peak = peak_memory(metric)
        rows.append((similarity, time.perf_counter() - start, peak))

    print(f"CrossModalEmbedding.fit, n = {n_fit}, d_x = d_y = {d_fit}, float64")
    print(f"{'what':<44}{'seconds':>10}{'ratio':>10}")
    print(f"{'floor: X.T@X + X.T@y + column means':<44}{t_floor:>10.3f}{1.0:>10.2f}")
    ratio = t_fit / t_floor
    label = "CrossModalEmbedding(whiten=False).fit"
    print(f"{label:<44}{t_fit:>10.3f}{ratio:>10.2f}")
    print(
        f"{'scipy orthogonal_procrustes (pre-centred)':<44}{t_scipy:>10.3f}"
        f"{t_scipy / t_floor:>10.2f}"
    )
    label = "floor: X.T@X + y.T@y + X.T@y + means"
    print(f"{label:<44}{t_whitened_floor:>10.3f}{1.0:>10.2f}")
    label = "CrossModalEmbedding().fit (whitened)"
    ratio = t_whitened / t_whitened_floor
    print(f"{label:<44}{t_whitened:>10.3f}{ratio:>10.2f}")
    print(
        f"extra memory during fit: {fit_bytes / 2**20:.1f} MiB = "
        f"{fit_bytes / X.nbytes:.3f} x the size of X (a copy would be >= 1)"
    )
    print()
    print(f"Retrieval, MRR both ways, n = {n_ret}, d = {d_ret}, float32")
    print(f"{'similarity':<14}{'seconds':>10}{'peak MiB':>12}{'n x n MiB':>12}")
    full_matrix = n_ret * n_ret * 4 / 2**20
    for similarity, seconds, peak in rows:
        mib = peak / 2**20
        print(f"{similarity:<14}{seconds:>10.2f}{mib:>12.1f}{full_matrix:>12.0f}")


if __name__ == "__main__":
    main()
