"""Evaluate SelfLearningAligner against fitting on the pairs alone.

For each dataset a fraction of the training events is given as pairs; every
other training event contributes an X-only row and a y-only row, the y-only
rows shuffled (a planted permutation: each single-view row has a true partner
among the other view's single-view rows, so the induced pairs can be checked).
Both views are standardised with the training rows' statistics. Printed, all
from one run:

- recall@1 of 500 held-out pairs (X queries, cosine), as the mean over five
  galleries of 100 pairs, for the estimator fitted on the pairs alone
  (``max_iter=0``), for self-learning, and fully paired (100 %);
- ``gap``: the share of the gap between pairs-only and fully paired recall@1
  that self-learning recovers, ``(self - pairs) / (full - pairs)``;
- the precision of the induced pairs in each round (true partners / induced),
  and their class precision (same class label: activity, digit or cluster);
- ``ceiling``: the precision of mutual nearest neighbours under CSLS among the
  single-view rows in the *fully paired* model's space -- how precise the
  induction could be with a perfect shared space of this estimator.

Then issue 19's case: ``make_paired_views(5000, n_features_x=30,
n_features_y=20, n_latent=6, noise=0.3, random_state=0)``, the first 4 000
rows for training with 2 % of them paired (87 pairs), ``CrossModalEmbedding(6)``
on the raw views, recall@1 (both directions) of the last 1 000 rows as one
gallery: pairs only, self-learning with and without validation of its rounds
(``validation_folds``), fully paired.

Run: ``python benchmarks/bench_semi_paired.py`` (``--quick`` for two fractions).
"""

import argparse
import time

import numpy as np
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, SelfLearningAligner
from skcrossmodal._meta.self_learning import mutual_nearest_neighbours
from skcrossmodal.datasets import load_digit_views, load_sensor_views, make_paired_views
from skcrossmodal.metrics import recall_at_k

ESTIMATOR = CrossModalEmbedding(n_components=10, whiten=True, reg=0.1)
N_TEST, GALLERY = 500, 100


def load_datasets():
    """``name -> (X_train, y_train, labels_train, X_test, y_test)``."""
    sensor = load_sensor_views(n_windows=2000 + N_TEST, random_state=0)
    digits = load_digit_views()
    order = np.random.default_rng(0).permutation(digits.X.shape[0])
    test, train = order[:N_TEST], order[N_TEST:]
    X, y, labels = make_paired_views(
        2000 + N_TEST,
        n_features_x=30,
        n_features_y=30,
        n_latent=10,
        noise=0.5,
        random_state=0,
    )
    return {
        "sensor": (
            sensor.X[:-N_TEST],
            sensor.y[:-N_TEST],
            sensor.target[:-N_TEST],
            sensor.X[-N_TEST:],
            sensor.y[-N_TEST:],
        ),
        "digits": (
            digits.X[train],
            digits.y[train],
            digits.target[train],
            digits.X[test],
            digits.y[test],
        ),
        "make_paired_views": (
            X[:-N_TEST],
            y[:-N_TEST],
            labels[:-N_TEST],
            X[-N_TEST:],
            y[-N_TEST:],
        ),
    }


def semi_paired(X, y, labels, fraction, seed=0):
    """Keep ``fraction`` of the events as pairs; split the others into singles.

    Returns ``X_semi, y_semi, partner, row_labels``: ``partner[r]`` is the y-only
    row holding the other view of X-only row ``r`` (-1 elsewhere).
    """
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    order = rng.permutation(n)
    n_pairs = int(round(fraction * n))
    pairs, singles = order[:n_pairs], order[n_pairs:]
    shuffle = rng.permutation(singles.size)
    X_semi = np.vstack(
        [X[pairs], X[singles], np.full((singles.size, X.shape[1]), np.nan)]
    )
    y_semi = np.vstack(
        [y[pairs], np.full((singles.size, y.shape[1]), np.nan), y[singles[shuffle]]]
    )
    partner = np.full(X_semi.shape[0], -1)
    partner[n_pairs : n_pairs + singles.size] = n + np.argsort(shuffle)
    row_labels = np.concatenate(
        [labels[pairs], labels[singles], labels[singles[shuffle]]]
    )
    return X_semi, y_semi, partner, row_labels


def recall_at_1(model, X_test, y_test):
    X_scores, y_scores = (np.asarray(s) for s in model.transform(X_test, y_test))
    return np.mean(
        [
            recall_at_k(X_scores[i : i + GALLERY], y_scores[i : i + GALLERY], k=1)
            for i in range(0, X_test.shape[0], GALLERY)
        ]
    )


def precision(induced, partner, row_labels):
    if induced.x_rows.size == 0:
        return float("nan"), float("nan")
    exact = np.mean(partner[induced.x_rows] == induced.y_rows)
    same_class = np.mean(row_labels[induced.x_rows] == row_labels[induced.y_rows])
    return exact, same_class


def issue_case(seeds=(0, 1, 2)):
    """Issue 19's 2 %-paired case; prints recall@1 of each model."""
    X, y, _ = make_paired_views(
        5000, n_features_x=30, n_features_y=20, n_latent=6, noise=0.3, random_state=0
    )
    X_train, y_train, X_test, y_test = X[:4000], y[:4000], X[4000:], y[4000:]
    rng = np.random.default_rng(0)
    paired = rng.random(4000) < 0.02
    singles = np.flatnonzero(~paired)
    shuffle = rng.permutation(singles.size)
    X_semi = np.vstack(
        [X_train[paired], X_train[singles], np.full((singles.size, 30), np.nan)]
    )
    y_semi = np.vstack(
        [
            y_train[paired],
            np.full((singles.size, 20), np.nan),
            y_train[singles[shuffle]],
        ]
    )

    def recall(model):
        return recall_at_k(*model.transform(X_test, y_test), k=1)

    cca = CrossModalEmbedding(6)
    pairs = recall(SelfLearningAligner(cca, max_iter=0).fit(X_semi, y_semi))
    full = recall(SelfLearningAligner(cca).fit(X_train, y_train))
    print(
        f"\nissue 19 case, {paired.sum()} pairs: pairs only {pairs:.3f}, fully "
        f"paired {full:.3f}, half the gap {(pairs + full) / 2:.3f}"
    )
    for seed in seeds:
        validated = SelfLearningAligner(cca, random_state=seed).fit(X_semi, y_semi)
        unvalidated = SelfLearningAligner(
            cca, validation_folds=None, random_state=seed
        ).fit(X_semi, y_semi)
        print(
            f"  random_state={seed}: self-learning {recall(validated):.3f} "
            f"({validated.n_iter_ - 1} rounds, validated), "
            f"{recall(unvalidated):.3f} ({unvalidated.n_iter_ - 1} rounds, "
            "validation_folds=None)",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 %% and 100 %% only")
    args = parser.parse_args()
    fractions = (0.05, 1.0) if args.quick else (0.01, 0.05, 0.2, 1.0)
    print(f"estimator: {ESTIMATOR!r}; self-learning: SelfLearningAligner defaults")
    print(
        f"{'dataset':<18} {'paired':>6} {'pairs':>5} {'R@1 pairs':>9} {'R@1 self':>8} "
        f"{'R@1 full':>8} {'gap':>5} {'rounds':>6} {'fit s':>5} {'ceiling':>7}  "
        "precision per round (class precision of the last)"
    )
    for name, (X, y, labels, X_test, y_test) in load_datasets().items():
        x_scaler, y_scaler = StandardScaler().fit(X), StandardScaler().fit(y)
        X, X_test = x_scaler.transform(X), x_scaler.transform(X_test)
        y, y_test = y_scaler.transform(y), y_scaler.transform(y_test)
        full = SelfLearningAligner(ESTIMATOR).fit(X, y)
        recall_full = recall_at_1(full, X_test, y_test)
        for fraction in fractions:
            X_semi, y_semi, partner, row_labels = semi_paired(X, y, labels, fraction)
            n_pairs = int(round(fraction * X.shape[0]))
            pairs_only = SelfLearningAligner(ESTIMATOR, max_iter=0).fit(X_semi, y_semi)
            start = time.perf_counter()
            model = SelfLearningAligner(ESTIMATOR, random_state=0).fit(X_semi, y_semi)
            seconds = time.perf_counter() - start
            recall_pairs = recall_at_1(pairs_only, X_test, y_test)
            recall_self = recall_at_1(model, X_test, y_test)
            gap = (
                (recall_self - recall_pairs) / (recall_full - recall_pairs)
                if fraction < 1.0
                else float("nan")
            )
            ceiling = float("nan")
            if model.x_only_rows_.size:
                x_only, y_only = model.x_only_rows_, model.y_only_rows_
                x_scores = full.transform(X_semi[x_only])
                y_scores = full.transform(X_semi[y_only], y_semi[y_only])[1]
                i, j, _ = mutual_nearest_neighbours(x_scores, y_scores, 10)
                ceiling = np.mean(partner[x_only[i]] == y_only[j])
            rounds = [precision(p, partner, row_labels) for p in model.induced_pairs_]
            per_round = " ".join(f"{exact:.2f}" for exact, _ in rounds)
            last_class = f" ({rounds[-1][1]:.2f})" if rounds else ""
            print(
                f"{name:<18} {fraction:>6.0%} {n_pairs:>5d} {recall_pairs:>9.3f} "
                f"{recall_self:>8.3f} {recall_full:>8.3f} {gap:>5.2f} "
                f"{model.n_iter_ - 1:>6d} {seconds:>5.1f} {ceiling:>7.3f}  "
                f"{per_round}{last_class}",
                flush=True,
            )
    issue_case()


if __name__ == "__main__":
    main()
