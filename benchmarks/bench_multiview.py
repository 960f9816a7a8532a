"""K-view CCA from block statistics: quality, missing modalities, cca-zoo.

Printed, all from one run:

1. **Every view pair against the two-view estimator.** Held-out recall@1
   (cosine, both directions, the mean over galleries of 100 rows) of every
   pair of views, for :class:`~skcrossmodal.MultiViewCCA` and
   :class:`~skcrossmodal.GeneralizedCCA` fitted once on all K views, for
   :class:`~skcrossmodal.MultiViewContrastiveAligner` with its defaults (when
   torch imports; its fit time is printed with the others'), and for
   ``CrossModalEmbedding(whiten=True)`` fitted on that pair alone; on
   :func:`~skcrossmodal.datasets.make_multiview` (K = 4) and on the four
   quadrants of scikit-learn's digits.
2. **Missing modalities.** Held-out recall@1 (mean over view pairs, complete
   test rows) as the fraction of training rows that lack one modality (one
   view drawn at random per such row, completely at random) grows from 0 to
   50 %, with 300 training rows: MultiViewCCA on every row (pairwise-complete
   statistics) against
   MultiViewCCA on the complete rows only (listwise deletion), and
   MultiViewContrastiveAligner (defaults) on every row, when torch imports.
3. **cca-zoo** (only when ``cca_zoo`` imports; it is not a dependency: install
   it in a throwaway environment, for example ``python -m venv /tmp/ccazoo &&
   /tmp/ccazoo/bin/pip install cca-zoo`` and run this script with that
   interpreter and ``PYTHONPATH`` at the repository root): the canonical
   correlations (per axis, the mean over view pairs of the correlation of the
   training scores) of its ``MCCA``/``GCCA`` and ours, without shrinkage
   (where the problems are the same), and the fit time ratio, at n = 1e5 and
   K = 4 (``--quick``: n = 1e4). Timings need an idle machine.
4. **The statistics-based search.** :class:`~skcrossmodal.MultiViewCCACV`
   against ``GridSearchCV(MultiViewCCA(views))`` on the same grid (3
   ``n_components`` x 3 ``reg``) and 5 folds, 20 % of the views missing: the
   largest difference of the mean test scores (they must agree to rounding)
   and the time ratio, at n = 20 000 (``--quick``: 2 000). Both score the
   held-out rows with the estimator's ``score`` (ranking every held-out row
   against every other), which bounds the ratio; the refits are what the
   search saves.

Run: ``python benchmarks/bench_multiview.py`` (``--quick``: smaller sizes).
"""

import argparse
import importlib.util
import itertools
import time

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from skcrossmodal import (
    CrossModalEmbedding,
    GeneralizedCCA,
    MultiViewCCA,
    MultiViewCCACV,
    MultiViewContrastiveAligner,
)
from skcrossmodal.datasets import load_digit_quadrants, make_multiview
from skcrossmodal.metrics import recall_at_k

GALLERY = 100


def gallery_recall(a, b):
    """Recall@1 of ``a`` against ``b``, both directions, mean over galleries."""
    starts = range(0, len(a) - GALLERY + 1, GALLERY)
    return np.mean(
        [recall_at_k(a[s : s + GALLERY], b[s : s + GALLERY], k=1) for s in starts]
    )


def pair_table(name, X_train, X_test, views, n_components):
    """Recall@1 of every view pair: the K-view fits against pair-by-pair CCA."""
    print(f"\n== {name}: held-out recall@1 per view pair (galleries of {GALLERY})")
    models = {
        "MultiViewCCA": MultiViewCCA(views, n_components=n_components),
        "GeneralizedCCA": GeneralizedCCA(views, n_components=n_components),
    }
    if importlib.util.find_spec("torch") is not None:
        # Its defaults (n_components included), as a user would first fit it.
        models["contrastive"] = MultiViewContrastiveAligner(views, random_state=0)
    seconds = {}
    for label, model in models.items():
        start = time.perf_counter()
        model.fit(X_train)
        seconds[label] = time.perf_counter() - start
    header = "".join(f"{label:>16}" for label in models)
    print(f"{'pair':<28}{header}{'pairwise CCA':>16}")
    for a, b in itertools.combinations(list(views), 2):
        row = [
            gallery_recall(
                model.transform_view(X_test, a), model.transform_view(X_test, b)
            )
            for model in models.values()
        ]
        cca = CrossModalEmbedding(n_components=n_components, whiten=True).fit(
            X_train[:, views[a]], X_train[:, views[b]]
        )
        row.append(
            gallery_recall(*cca.transform(X_test[:, views[a]], X_test[:, views[b]]))
        )
        print(f"{a + ' / ' + b:<28}" + "".join(f"{value:>16.3f}" for value in row))
    print(f"{'fit seconds':<28}" + "".join(f"{t:>16.2f}" for t in seconds.values()))


def remove_one_view(X, views, fraction, rng):
    """Blank one view (drawn at random) in ``fraction`` of the rows."""
    X = X.copy()
    rows = rng.choice(len(X), size=int(round(fraction * len(X))), replace=False)
    lost = rng.integers(len(views), size=rows.size)
    for k, columns in enumerate(views.values()):
        X[np.ix_(rows[lost == k], np.arange(X.shape[1])[columns])] = np.nan
    return X


def mean_pair_recall(model, X_test, views):
    scores = [model.transform_view(X_test, k) for k in views]
    return np.mean([gallery_recall(a, b) for a, b in itertools.combinations(scores, 2)])


def missingness_curve(X_train, X_test, views, n_components):
    print("\n== recall@1 (mean over view pairs) as rows lose one modality (MCAR)")
    contrastive = importlib.util.find_spec("torch") is not None
    print(
        f"{'missing rows':>13}{'all rows':>12}{'complete rows only':>20}"
        + (f"{'contrastive, all rows':>23}" if contrastive else "")
    )
    rng = np.random.default_rng(0)
    for fraction in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        X_missing = remove_one_view(X_train, views, fraction, rng)
        pairwise = MultiViewCCA(views, n_components=n_components).fit(X_missing)
        complete_rows = ~np.isnan(X_missing).any(axis=1)
        listwise = MultiViewCCA(views, n_components=n_components).fit(
            X_missing[complete_rows]
        )
        line = (
            f"{fraction:>12.0%} {mean_pair_recall(pairwise, X_test, views):>11.3f}"
            f"{mean_pair_recall(listwise, X_test, views):>20.3f}"
        )
        if contrastive:
            # A row lacking a view drops out of the pairs that need it only.
            aligner = MultiViewContrastiveAligner(views, random_state=0)
            line += f"{mean_pair_recall(aligner.fit(X_missing), X_test, views):>23.3f}"
        print(line)


def mean_pair_correlations(scores):
    """Per axis, the mean over view pairs of the correlation of the scores."""
    values = []
    for a, b in itertools.combinations(scores, 2):
        a = a - a.mean(0)
        b = b - b.mean(0)
        values.append((a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0)))
    return np.mean(values, axis=0)


def against_cca_zoo(n_samples, n_components=5):
    try:
        from cca_zoo.linear import GCCA, MCCA
    except ImportError:
        print(
            "\n== cca-zoo comparison skipped: cca_zoo is not importable (it is not a "
            "dependency; see this script's docstring to run it)."
        )
        return
    X, views, _ = make_multiview(
        n_samples,
        n_views=4,
        n_features=25,
        n_latent=8,
        n_private=4,
        noise=0.5,
        random_state=0,
    )
    blocks = [X[:, columns] for columns in views.values()]
    print(f"\n== against cca-zoo, n = {n_samples}, K = 4, 25 features per view")
    header = ("method", "max |corr diff|", "ours (s)", "cca-zoo (s)", "ratio")
    print("{:<8}{:>17}{:>10}{:>13}{:>8}".format(*header))
    pairs = (
        ("MCCA", MultiViewCCA, MCCA(n_components=n_components, shrinkage=0.0)),
        ("GCCA", GeneralizedCCA, GCCA(n_components=n_components, shrinkage=0.0)),
    )
    for label, ours_class, theirs in pairs:
        ours = ours_class(views, n_components=n_components, reg=0.0)
        start = time.perf_counter()
        ours.fit(X)
        ours_time = time.perf_counter() - start
        start = time.perf_counter()
        theirs.fit(blocks)
        theirs_time = time.perf_counter() - start
        theirs_corr = mean_pair_correlations(theirs.transform(blocks))
        gap = np.max(np.abs(theirs_corr - ours.canonical_correlations_))
        print(
            f"{label:<8}{gap:>17.2e}{ours_time:>10.3f}{theirs_time:>13.3f}"
            f"{theirs_time / ours_time:>7.1f}x"
        )


def search_against_grid_search(n_samples):
    X, views, _ = make_multiview(
        n_samples,
        n_views=4,
        n_features=[12, 10, 8, 14],
        n_latent=5,
        missing_rate=0.2,
        random_state=1,
    )
    grid = {"n_components": [2, 5, 8], "reg": [0.0, 0.1, "auto"]}
    cv = KFold(5, shuffle=True, random_state=0)
    start = time.perf_counter()
    search = MultiViewCCACV(views, param_grid=grid, cv=cv).fit(X)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    grid_search = GridSearchCV(MultiViewCCA(views), grid, cv=cv).fit(X)
    theirs = time.perf_counter() - start
    gap = np.max(
        np.abs(
            search.cv_results_["mean_test_score"]
            - grid_search.cv_results_["mean_test_score"]
        )
    )
    print(f"\n== MultiViewCCACV against GridSearchCV, n = {n_samples}, 9 candidates")
    print(
        f"{'max |score gap|':>16}{'ours (s)':>10}{'GridSearchCV (s)':>18}{'ratio':>8}"
    )
    print(f"{gap:>16.2e}{ours:>10.3f}{theirs:>18.3f}{theirs / ours:>7.1f}x")


def synthetic_views(n_train):
    """The K = 4 ``make_multiview`` set: training rows, 1000 test rows, views."""
    X, views, _ = make_multiview(
        n_train + 1000,
        n_views=4,
        n_features=[12, 10, 8, 14],
        n_latent=5,
        n_private=3,
        noise=0.3,
        random_state=0,
    )
    return X[:n_train], X[n_train:], views


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    X_train, X_test, views = synthetic_views(2000 if args.quick else 10_000)
    pair_table("make_multiview, K = 4", X_train, X_test, views, n_components=5)
    digits = load_digit_quadrants()
    order = np.random.default_rng(0).permutation(len(digits.X))
    train, test = order[:1297], order[1297:]
    pair_table(
        "digit quadrants", digits.X[train], digits.X[test], digits.views, n_components=8
    )
    # Few rows, where every row counts and dropping incomplete ones costs most.
    missingness_curve(X_train[:300], X_test, views, n_components=5)
    against_cca_zoo(10_000 if args.quick else 100_000)
    search_against_grid_search(2_000 if args.quick else 20_000)


if __name__ == "__main__":
    main()
