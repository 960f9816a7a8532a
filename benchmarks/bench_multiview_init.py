"""MultiViewContrastiveAligner: init="random" against init="mcca".

Held-out recall@1 (mean over view pairs, galleries of 100, as
``bench_multiview``) of the aligner with its defaults but ``init``, for
``random_state`` 0, 1 and 2, with :class:`MultiViewCCA` as reference, on

- ``curve``: 300 training rows of ``make_multiview`` K = 4 with 0 %, 30 % and
  50 % of the rows lacking one view (the rows of ``bench_multiview``'s
  missingness curve);
- ``pairs``: 10 000 training rows of the same data (its pair table);
- ``digits``: the digit quadrants, split as in ``bench_multiview``.

Run ``python benchmarks/bench_multiview_init.py [curve|pairs|digits]``
(every part by default; ``--init mcca`` fits one init only); ``--quick``
fits one seed with 2 000 rows for ``pairs``. Recall only: no timing is
printed.
"""

import argparse

import numpy as np
from bench_multiview import mean_pair_recall, remove_one_view, synthetic_views

from skcrossmodal import MultiViewCCA, MultiViewContrastiveAligner
from skcrossmodal.datasets import load_digit_quadrants


def compare(label, X_train, X_test, views, n_components, seeds, inits):
    """One line: MultiViewCCA, then each init's mean (and values) over seeds."""
    reference = MultiViewCCA(views, n_components=n_components).fit(X_train)
    line = f"{label:<24}{mean_pair_recall(reference, X_test, views):>8.3f}"
    for init in inits:
        recalls = [
            mean_pair_recall(
                MultiViewContrastiveAligner(views, init=init, random_state=seed).fit(
                    X_train
                ),
                X_test,
                views,
            )
            for seed in seeds
        ]
        line += f"{np.mean(recalls):>10.3f} ({' '.join(f'{r:.3f}' for r in recalls)})"
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["curve", "pairs", "digits"])
    parser.add_argument("--quick", action="store_true", help="one seed, fewer rows")
    parser.add_argument("--init", choices=["random", "mcca"], help="fit only this init")
    args = parser.parse_args()
    seeds = (0,) if args.quick else (0, 1, 2)
    inits = ("random", "mcca") if args.init is None else (args.init,)
    X_train, X_test, views = synthetic_views(2000 if args.quick else 10_000)
    header = "".join(f"{init + ': mean (seeds)':>30}" for init in inits)
    print(f"{'data':<24}{'MCCA':>8}{header}")
    if "curve" in args.parts:
        rng = np.random.default_rng(0)  # the draws of bench_multiview's curve
        for fraction in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
            X_missing = remove_one_view(X_train[:300], views, fraction, rng)
            if fraction in (0.0, 0.3, 0.5):
                label = f"300 rows, {fraction:.0%} missing"
                compare(label, X_missing, X_test, views, 5, seeds, inits)
    if "pairs" in args.parts:
        compare(f"{len(X_train)} rows, K = 4", X_train, X_test, views, 5, seeds, inits)
    if "digits" in args.parts:
        digits = load_digit_quadrants()
        order = np.random.default_rng(0).permutation(len(digits.X))
        train, test = order[:1297], order[1297:]
        compare(
            "digit quadrants",
            digits.X[train],
            digits.X[test],
            digits.views,
            8,
            seeds,
            inits,
        )


if __name__ == "__main__":
    main()
