"""Benchmark ContrastiveAligner's init options against CCA.

For each data set and seed: a 70/30 split of the pairs, each view standardised
on the training part (the team's protocol), every estimator fitted on the
training part, mean recall@1 over both retrieval directions on the test part.
Estimators: ``CrossModalEmbedding()`` (the whitened default, regularised CCA),
``ContrastiveAligner(init="random")`` (the aligner of earlier releases),
``init="cca"`` (linear paths started at that CCA, MLP residual started at
zero) and ``init="auto"`` (the default: random start, CCA kept unless the
trained weights beat it significantly on the validation pairs). The aligners
share every other parameter: their defaults except ``max_epochs`` (capped to
keep the table to minutes on a 2-core CPU) and ``n_components`` (the smaller
view's width, as CCA's). The "epochs" columns give each seed's
``best_epoch_`` (0: CCA kept).

Data: ``make_paired_views`` (20 and 15 features, 5 latent dimensions, noise
0.1) with a linear and a nonlinear link at several sizes, and the library's
sensor (summary features) and digit-halves views, subsampled to 80 pairs (56
for training, the smallest real set of the team's protocol) and used whole.

Run: ``python benchmarks/bench_aligner_init.py`` (``--quick``: fewer sizes,
one seed, fewer epochs; ``--sizes``, ``--seeds``, ``--epochs``, ``--threads``
and ``--no-real`` override).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcrossmodal import ContrastiveAligner, CrossModalEmbedding
from skcrossmodal.datasets import (
    load_digit_views,
    load_sensor_views,
    make_paired_views,
)
from skcrossmodal.metrics import recall_at_k


def recall_at_1(model, X, y):
    X_scores, y_scores = model.transform(X, y)
    return recall_at_k(X_scores, y_scores, k=1)


def data_sets(sizes, seed, real=True):
    """(name, X, y) of every data set of the table, drawn with ``seed``."""
    for link in ("linear", "nonlinear"):
        for n in sizes:
            X, y, _ = make_paired_views(n, link=link, random_state=seed)
            yield f"paired {link} n={n}", X, y
    if not real:
        return
    for name, loader in (("sensor", load_sensor_views), ("digits", load_digit_views)):
        X, y = loader(return_X_y=True)
        X_small, _, y_small, _ = train_test_split(
            X, y, train_size=80, random_state=seed
        )
        yield f"{name} n=80", X_small, y_small
        yield f"{name} n={len(X)}", X, y


def run(sizes, seeds, epochs, real=True):
    rows = {}
    started = time.perf_counter()
    for seed in range(seeds):
        for name, X, y in data_sets(sizes, seed, real):
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.3, random_state=seed
            )
            # The team's protocol standardises each view on the training part
            # (the aligners do it anyway; CCA's OAS shrinkage target is not
            # invariant to feature scales, so this makes the start of
            # init="cca" and the CCA column one model).
            x_scaler, y_scaler = (
                StandardScaler().fit(X_train),
                StandardScaler().fit(y_train),
            )
            X_train, X_test = x_scaler.transform(X_train), x_scaler.transform(X_test)
            y_train, y_test = y_scaler.transform(y_train), y_scaler.transform(y_test)
            k = min(X.shape[1], y.shape[1])
            models = {
                "CCA": CrossModalEmbedding(whiten=True),
                "aligner random": ContrastiveAligner(
                    k, max_epochs=epochs, init="random", device="cpu", random_state=seed
                ),
                "aligner cca": ContrastiveAligner(
                    k, max_epochs=epochs, init="cca", device="cpu", random_state=seed
                ),
                "aligner auto": ContrastiveAligner(
                    k, max_epochs=epochs, init="auto", device="cpu", random_state=seed
                ),
            }
            scores = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for label, model in models.items():
                    model.fit(X_train, y_train)
                    scores[label] = recall_at_1(model, X_test, y_test)
                    if label in ("aligner cca", "aligner auto"):
                        scores[f"{label[8:]} epoch"] = model.best_epoch_
            rows.setdefault(name, []).append(scores)
            print(
                f"  [{time.perf_counter() - started:6.0f} s] seed {seed} {name}: "
                + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()),
                flush=True,
            )
    return rows


def print_table(rows, seeds, epochs):
    labels = ("CCA", "aligner random", "aligner cca", "aligner auto")
    print(
        f"\nTest recall@1 (mean over both directions and {seeds} seed(s); "
        f"aligners max_epochs={epochs})"
    )
    header = f"{'data':<28}" + "".join(f"{label:>16}" for label in labels)
    print(header + f"{'cca epochs':>16}{'auto epochs':>16}")
    for name, scores in rows.items():
        means = [np.mean([s[label] for s in scores]) for label in labels]
        kept = [
            "/".join(str(int(s[f"{init} epoch"])) for s in scores)
            for init in ("cca", "auto")
        ]
        print(
            f"{name:<28}"
            + "".join(f"{m:>16.3f}" for m in means)
            + "".join(f"{epochs:>16}" for epochs in kept)
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1)"
    )
    parser.add_argument(
        "--no-real", action="store_true", help="only the make_paired_views rows"
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    sizes = args.sizes or ([50, 500] if args.quick else [50, 500, 5000, 50000])
    seeds = args.seeds or (1 if args.quick else 3)
    epochs = args.epochs or (20 if args.quick else 50)
    rows = run(sizes, seeds, epochs, real=not args.no_real)
    print_table(rows, seeds, epochs)


if __name__ == "__main__":
    main()
