"""Held-out retrieval of ContrastiveAligner with loss="infonce" against loss="siglip".

On the library's datasets (digits halves, simulated sensors, and two
``make_paired_views`` settings): a 70/30 split, both estimators with the same
parameters except ``loss``, trained on the training part; the score is
recall@1 on the test part in each direction (X -> y and y -> X), averaged
over ``--seeds`` splits (seed s splits and seeds the estimator with s).

Run: ``python benchmarks/bench_losses.py`` (``--seeds 1`` for a quick look).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skcrossmodal import ContrastiveAligner
from skcrossmodal.datasets import load_digit_views, load_sensor_views, make_paired_views
from skcrossmodal.metrics import recall_at_k


def datasets():
    """(name, X, y): the library's datasets and two make_paired_views settings."""
    yield "digits halves (1797, 32|32)", *load_digit_views(return_X_y=True)
    yield "sensors summary (600, 30|30)", *load_sensor_views(return_X_y=True)
    for name, kwargs in [
        ("paired linear n=1000", dict(n_samples=1000, noise=0.5)),
        ("paired nonlinear n=1000", dict(n_samples=1000, link="nonlinear", noise=0.3)),
    ]:
        X, y, _ = make_paired_views(random_state=0, **kwargs)
        yield name, X, y


def recalls(model, X_test, y_test):
    """Recall@1 of X -> y and of y -> X on the test pairs."""
    z_x, z_y = model.transform(X_test, y_test)
    return (
        recall_at_k(z_x, z_y, k=1, direction="x_to_y"),
        recall_at_k(z_x, z_y, k=1, direction="y_to_x"),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: steady on a busy machine)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    params = dict(
        n_components=16,
        hidden_layer_sizes=(128,),
        batch_size=128,
        max_epochs=args.max_epochs,
        device="cpu",
    )
    print(
        f"recall@1 on a 30 % test split, mean over {args.seeds} splits; "
        f"ContrastiveAligner({params}); {args.threads} torch thread(s)"
    )
    header = (
        f"{'data set':34} {'loss':8} {'X->y':>6} {'y->X':>6} {'epochs':>7} {'fit s':>6}"
    )
    print(header)
    for name, X, y in datasets():
        for loss in ("infonce", "siglip"):
            scores, epochs, seconds = [], [], []
            for seed in range(args.seeds):
                X_tr, X_te, y_tr, y_te = train_test_split(
                    X, y, test_size=0.3, random_state=seed
                )
                model = ContrastiveAligner(loss=loss, random_state=seed, **params)
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X_tr, y_tr)
                seconds.append(time.perf_counter() - started)
                scores.append(recalls(model, X_te, y_te))
                epochs.append(model.n_iter_)
            x_to_y, y_to_x = np.mean(scores, axis=0)
            print(
                f"{name:34} {loss:8} {x_to_y:6.3f} {y_to_x:6.3f} "
                f"{np.mean(epochs):7.1f} {np.mean(seconds):6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
