"""ContrastiveAligner's fit time against its torch thread count, idle and loaded.

Issue 19 item 3: the fit of ``make_paired_views(2000, n_features_x=32,
n_features_y=32, n_latent=8)`` for 15 epochs, with ``n_jobs`` None (the
default: one thread for a model of this size), 1, 2 and -1 (every thread the
process may use), first on an idle machine and then with two busy processes
(pure-Python loops) beside it. Printed, all measured in this one run: the
seconds of each fit and each one's ratio to the idle default fit; the target
is a loaded default fit within 5 x its idle time.

Also ``GridSearchCV(ContrastiveAligner(...), n_jobs=2)`` against ``n_jobs=1``
over four candidates: with joblib's process workers each worker gets its
share of the cores, which the aligner's default follows.

Timings mean something only on an otherwise idle machine: run
``python benchmarks/bench_aligner_threads.py`` there (``--quick``: fewer
epochs and repeats, to check that the script works, not to measure).
"""

import argparse
import multiprocessing
import os
import time
import warnings

import numpy as np
from sklearn.model_selection import GridSearchCV

from skcrossmodal import ContrastiveAligner
from skcrossmodal.datasets import make_paired_views


def _spin(stop):
    """A busy process: a pure-Python loop until ``stop`` is set."""
    x = 0
    while not stop.is_set():
        x = (x * 31 + 7) % 1000003


def fit_seconds(X, y, epochs, n_jobs, repeats):
    best = np.inf
    for _ in range(repeats):
        model = ContrastiveAligner(
            max_epochs=epochs,
            init="random",
            device="cpu",
            random_state=0,
            n_jobs=n_jobs,
        )
        start = time.perf_counter()
        model.fit(X, y)
        best = min(best, time.perf_counter() - start)
    return best


def search_seconds(X, y, epochs, n_jobs):
    search = GridSearchCV(
        ContrastiveAligner(max_epochs=epochs, init="random", device="cpu"),
        {"n_components": [8, 16], "learning_rate": [1e-3, 3e-3]},
        cv=2,
        n_jobs=n_jobs,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    epochs, repeats = (2, 1) if args.quick else (15, 3)
    X, y, _ = make_paired_views(
        2000, n_features_x=32, n_features_y=32, n_latent=8, random_state=0
    )
    settings = [None, 1, 2, -1]
    print(f"{os.cpu_count()} CPUs; {epochs} epochs, best of {repeats}")
    fit_seconds(X, y, 1, None, 1)  # warm-up: first use of torch's kernels
    idle = {n: fit_seconds(X, y, epochs, n, repeats) for n in settings}
    stop = multiprocessing.Event()
    busy = [multiprocessing.Process(target=_spin, args=(stop,)) for _ in range(2)]
    for process in busy:
        process.start()
    try:
        loaded = {n: fit_seconds(X, y, epochs, n, repeats) for n in settings}
    finally:
        stop.set()
        for process in busy:
            process.join()
    base = idle[None]
    print(
        f"{'n_jobs':>8} {'idle s':>8} {'loaded s':>9} {'idle/base':>10} "
        f"{'loaded/base':>12} {'loaded/idle':>12}"
    )
    for n in settings:
        print(
            f"{n!s:>8} {idle[n]:>8.2f} {loaded[n]:>9.2f} {idle[n] / base:>10.2f} "
            f"{loaded[n] / base:>12.2f} {loaded[n] / idle[n]:>12.2f}"
        )
    ratio = loaded[None] / idle[None]
    print(
        f"default fit loaded / idle: {ratio:.2f} x "
        f"({'within' if ratio <= 5 else 'ABOVE'} the 5 x target)"
    )
    search_seconds(X, y, 1, 2)  # warm-up: starts joblib's workers (and torch)
    one, two = search_seconds(X, y, epochs, 1), search_seconds(X, y, epochs, 2)
    print(
        f"GridSearchCV n_jobs=1 {one:.2f} s, n_jobs=2 {two:.2f} s: "
        f"ratio {two / one:.2f} (target <= 1 on 2 cores)"
    )


if __name__ == "__main__":
    main()
