"""Benchmark SharedLatentRegression.fit against CCA-style fits and the closed form.

Prints one table measured in a single run:

- at n = 5 000, d_x = d_y = 1 000, k = 10: ``SharedLatentRegression.fit`` (the
  alternating solver, default settings) against scikit-learn's ``CCA`` (default
  ``max_iter``, timed once: it is slow) and ``PLSCanonical``, and against
  cca-zoo's ``RidgeCCA`` when cca-zoo is installed (target: >= 50x faster than
  sklearn's CCA, and faster than RidgeCCA);
- at n = 200 000, d = 100, k = 10: the same fit against the closed form
  (Mukherjee & Zhu) computed from the same statistics, ``two_view_moments``
  followed by one Cholesky solve and one eigendecomposition (target: <= 2x).

The data share a k-dimensional latent plus noise, the setting all of these
models are meant for. Timings other than sklearn's CCA are the best of
``--repeat``. cca-zoo is optional (``pip install cca-zoo``), never a dependency
of the package.

Run: ``python benchmarks/bench_shared_latent.py`` (``--quick`` for smaller sizes,
``--threads N`` to pin the BLAS threads of every method to N on a busy machine).
"""

import argparse
import time
import warnings

import numpy as np
from scipy import linalg
from sklearn.cross_decomposition import CCA, PLSCanonical
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

from skcrossmodal import SharedLatentRegression
from skcrossmodal._numerics.moments import two_view_moments


def timed(function, repeat):
    """Best wall time of ``repeat`` calls, the last result, and warning flags."""
    times = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        for _ in range(repeat):
            start = time.perf_counter()
            result = function()
            times.append(time.perf_counter() - start)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return min(times), result, converged


def shared_latent_views(n_samples, n_features, n_components, rng):
    """Two views of one k-dimensional latent, each with unit-variance noise."""
    latent = rng.normal(size=(n_samples, n_components))
    X = latent @ rng.normal(size=(n_components, n_features))
    y = latent @ rng.normal(size=(n_components, n_features))
    X += rng.normal(size=X.shape) + 2.0
    y += rng.normal(size=y.shape) - 1.0
    return X, y


def closed_form_from_statistics(X, y, n_components, alpha):
    """Reduced-rank ridge of Mukherjee & Zhu from the library's statistics."""
    moments = two_view_moments(X, y, second_order_x="full", second_order_y="diag")
    gram = moments.cross_xx.copy()
    gram.flat[:: gram.shape[0] + 1] += alpha
    ridge = linalg.cho_solve(linalg.cho_factor(gram), moments.cross_xy)
    fitted = moments.cross_xy.T @ ridge
    d_y = fitted.shape[0]
    _, top = linalg.eigh(fitted, subset_by_index=[d_y - n_components, d_y - 1])
    return ridge @ top @ top.T


def cca_zoo_ridge_cca():
    """cca-zoo's RidgeCCA class, or the reason it cannot be used."""
    try:
        from cca_zoo.linear import RidgeCCA
    except Exception as error:  # any import failure means "not available"
        return None, f"{type(error).__name__}: {error}"
    return RidgeCCA, None


def row(name, seconds, reference, note=""):
    ratio = f"{seconds / reference:10.1f}x" if reference else " " * 11
    print(f"  {name:<46s} {seconds:9.3f} s {ratio}  {note}")


def compare_with_cca(n_samples, n_features, n_components, repeat, rng):
    X, y = shared_latent_views(n_samples, n_features, n_components, rng)
    print(
        f"\nFit at n={n_samples}, d_x=d_y={n_features}, k={n_components} "
        "(ratio = that fit's time / SharedLatentRegression.fit)"
    )
    ours, model, converged = timed(
        lambda: SharedLatentRegression(n_components).fit(X, y), repeat
    )
    row(
        "SharedLatentRegression (ALS, alpha=1)",
        ours,
        None,
        f"n_iter_={model.n_iter_}" + ("" if converged else ", did not converge"),
    )
    statistics, _, _ = timed(
        lambda: two_view_moments(X, y, second_order_x="full", second_order_y="diag"),
        repeat,
    )
    row("  of which: two_view_moments alone", statistics, ours, "(the floor)")
    start_random, model, converged = timed(
        lambda: SharedLatentRegression(n_components, init="random", random_state=0).fit(
            X, y
        ),
        repeat,
    )
    row(
        "SharedLatentRegression (ALS, init='random')",
        start_random,
        ours,
        f"n_iter_={model.n_iter_}" + ("" if converged else ", did not converge"),
    )
    closed, _, _ = timed(
        lambda: SharedLatentRegression(n_components, solver="closed_form").fit(X, y),
        repeat,
    )
    row("SharedLatentRegression (closed_form)", closed, ours)
    pls, _, converged = timed(lambda: PLSCanonical(n_components).fit(X, y), repeat)
    row("sklearn PLSCanonical", pls, ours, "" if converged else "ConvergenceWarning")
    RidgeCCA, reason = cca_zoo_ridge_cca()
    if RidgeCCA is None:
        print(f"  cca-zoo RidgeCCA: not measured, cca-zoo does not import ({reason})")
    else:
        ridge_cca, _, _ = timed(
            lambda: RidgeCCA(n_components, shrinkage=0.1).fit([X, y]), repeat
        )
        row("cca-zoo RidgeCCA (shrinkage=0.1)", ridge_cca, ours)
    cca, _, converged = timed(lambda: CCA(n_components).fit(X, y), 1)
    note = "timed once" + ("" if converged else ", ConvergenceWarning")
    row("sklearn CCA (default max_iter)", cca, ours, note)
    return cca / ours


def compare_with_closed_form(n_samples, n_features, n_components, repeat, rng):
    X, y = shared_latent_views(n_samples, n_features, n_components, rng)
    print(
        f"\nFit at n={n_samples}, d_x=d_y={n_features}, k={n_components} "
        "(ratio = time / closed form from the same statistics)"
    )
    floor, coef, _ = timed(
        lambda: closed_form_from_statistics(X, y, n_components, 1.0), repeat
    )
    row("closed form (two_view_moments + cho_solve + eigh)", floor, floor)
    ours, model, converged = timed(
        lambda: SharedLatentRegression(n_components).fit(X, y), repeat
    )
    difference = np.linalg.norm(model.coef_ - coef) / np.linalg.norm(coef)
    row(
        "SharedLatentRegression (ALS, alpha=1)",
        ours,
        floor,
        f"n_iter_={model.n_iter_}, coef rel. diff {difference:.1e}"
        + ("" if converged else ", did not converge"),
    )
    return ours / floor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads")
    args = parser.parse_args()
    cca_size = (1_000, 200) if args.quick else (5_000, 1_000)
    closed_size = (20_000, 100) if args.quick else (200_000, 100)
    rng = np.random.default_rng(0)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        threads = [
            i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"
        ]
        print(f"BLAS threads: {threads}")
        speedup = compare_with_cca(*cca_size, 10, args.repeat, rng)
        slowdown = compare_with_closed_form(*closed_size, 10, args.repeat, rng)
    print(f"\nsklearn CCA / SharedLatentRegression: {speedup:.1f}x (target >= 50x)")
    print(f"SharedLatentRegression / closed form: {slowdown:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
