"""Held-out retrieval of the linear estimators' defaults against scikit-learn's CCA.

The protocol the team uses on its real held-out data sets, applied to the
library's datasets and to several ``make_paired_views`` settings: a 70/30
split, each view standardised on the training part, ``n_components`` chosen
by inner 3-fold cross-validation on the training part (6 values from 1 to at
most 16, mean reciprocal rank;
``GridSearchCV`` for CCA, the statistics-based searches for ours), every other
parameter at its default; the score is recall@1 on the test part, averaged
over both directions and over ``--seeds`` splits.

Run: ``python benchmarks/bench_quality.py`` (``--quick`` for fewer splits).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.cross_decomposition import CCA
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbeddingCV, SharedLatentRegressionCV
from skcrossmodal.datasets import load_digit_views, load_sensor_views, make_paired_views
from skcrossmodal.metrics import RETRIEVAL_SCORERS, recall_at_k


def datasets():
    """(name, X, y): the library's datasets and make_paired_views settings."""
    yield "digits halves (1797, 32|32)", *load_digit_views(return_X_y=True)
    yield "sensors summary (600, 30|30)", *load_sensor_views(return_X_y=True)
    yield (
        "sensors raw (300, 75|75)",
        *load_sensor_views(
            n_windows=300, window_length=25, features="raw", return_X_y=True
        ),
    )
    settings = [
        ("paired linear n=80 d=20|15", dict(n_samples=80, noise=0.5)),
        ("paired linear n=500 noise=1", dict(n_samples=500, noise=1.0)),
        (
            "paired linear n=2000 d=50|40",
            dict(
                n_samples=2000, n_features_x=50, n_features_y=40, n_latent=10, noise=1.0
            ),
        ),
        (
            "paired linear n=60 d=40|30",
            dict(n_samples=60, n_features_x=40, n_features_y=30, noise=0.3),
        ),
        ("paired nonlinear n=1000", dict(n_samples=1000, link="nonlinear", noise=0.3)),
    ]
    for name, kwargs in settings:
        X, y, _ = make_paired_views(random_state=0, **kwargs)
        yield name, X, y


def component_grid(X, y):
    # At most 16 components: scikit-learn's CCA (NIPALS, one component at a
    # time) takes minutes per set beyond that, and no set here needs more.
    upper = min(X.shape[1], y.shape[1], X.shape[0] // 3, 16)
    return sorted({int(k) for k in np.round(np.geomspace(1, upper, 6))})


def methods():
    """name -> function(X_train, y_train, grid) returning a fitted model."""
    cv = KFold(3, shuffle=True, random_state=0)

    def cca(X, y, grid):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NIPALS convergence warnings
            search = GridSearchCV(
                CCA(), {"n_components": grid}, cv=cv, scoring=RETRIEVAL_SCORERS["mrr"]
            )
            return search.fit(X, y).best_estimator_

    def ours(search_class, **fixed):
        def fit(X, y, grid):
            param_grid = {"n_components": grid, **{k: [v] for k, v in fixed.items()}}
            return search_class(param_grid, cv=cv).fit(X, y)

        return fit

    return {
        "sklearn CCA": cca,
        "CME(whiten=False)": ours(CrossModalEmbeddingCV, whiten=False),
        "CME(reg=1e-3)": ours(CrossModalEmbeddingCV, reg=1e-3),
        "CME()": ours(CrossModalEmbeddingCV),
        "SLR(alpha=1)": ours(SharedLatentRegressionCV, alpha=1.0),
        "SLR()": ours(SharedLatentRegressionCV),
    }


def evaluate(fit, X, y, seeds):
    scores = []
    for seed in seeds:
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.3, random_state=seed
        )
        x_scaler, y_scaler = StandardScaler().fit(X_tr), StandardScaler().fit(y_tr)
        X_tr, X_te = x_scaler.transform(X_tr), x_scaler.transform(X_te)
        y_tr, y_te = y_scaler.transform(y_tr), y_scaler.transform(y_te)
        try:
            model = fit(X_tr, y_tr, component_grid(X_tr, y_tr))
            X_scores, y_scores = model.transform(X_te, y_te)
            scores.append(recall_at_k(np.asarray(X_scores), np.asarray(y_scores)))
        except ValueError:
            scores.append(np.nan)
    return float(np.mean(scores))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one split per set")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    seeds = range(1 if args.quick else args.seeds)
    table = methods()
    print("held-out recall@1 (both directions), mean over", len(seeds), "splits")
    print(f"{'data':<30}" + "".join(f"{name:>19}" for name in table), flush=True)
    start = time.perf_counter()
    for name, X, y in datasets():
        row = [evaluate(fit, X, y, seeds) for fit in table.values()]
        print(f"{name:<30}" + "".join(f"{value:>19.3f}" for value in row), flush=True)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
