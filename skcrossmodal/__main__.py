"""``python -m skcrossmodal``: every estimator on the embedded digit halves.

Fits each estimator of the package on the left and right halves of
scikit-learn's bundled digits (a fixed train/test split, nothing downloaded)
and prints, per estimator, the fit time and the test retrieval scores in both
directions. The torch estimator is skipped, with a note, when torch is absent.
"""

import argparse
import importlib.util
import time
from pathlib import Path

from sklearn.base import clone
from sklearn.model_selection import train_test_split

import skcrossmodal
from skcrossmodal.datasets import load_digit_views
from skcrossmodal.metrics import mean_reciprocal_rank, recall_at_k

_N_COMPONENTS = 16
_SEED = 0

# (row label, class name in the package, settings, needs torch)
_CANDIDATES = (
    (
        "CrossModalEmbedding",
        "CrossModalEmbedding",
        {"n_components": _N_COMPONENTS},
        False,
    ),
    (
        # The default whitens (regularised CCA); plain Procrustes for contrast.
        "CrossModalEmbedding(whiten=False)",
        "CrossModalEmbedding",
        {"n_components": _N_COMPONENTS, "whiten": False},
        False,
    ),
    (
        "SharedLatentRegression",
        "SharedLatentRegression",
        {"n_components": _N_COMPONENTS},
        False,
    ),
    (
        "ContrastiveAligner",
        "ContrastiveAligner",
        # Few epochs keep the whole command under a minute on 2 CPU cores.
        {
            "n_components": _N_COMPONENTS,
            "max_epochs": 25,
            "device": "cpu",
            "random_state": _SEED,
        },
        True,
    ),
)

_COLUMNS = (
    ("estimator", 34, "s"),
    ("fit_s", 7, ".3f"),
    ("recall@1 x->y", 14, ".3f"),
    ("recall@1 y->x", 14, ".3f"),
    ("recall@5 x->y", 14, ".3f"),
    ("recall@5 y->x", 14, ".3f"),
    ("mrr x->y", 9, ".3f"),
    ("mrr y->x", 9, ".3f"),
)


def _torch_available():
    # Only look for torch: importing it here would cost seconds for nothing.
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _available_estimators():
    """Instances of the estimators this installation provides, and skip notes."""
    estimators, notes = [], []
    for label, name, settings, needs_torch in _CANDIDATES:
        cls = getattr(skcrossmodal, name, None)
        if cls is None:
            continue
        if needs_torch and not _torch_available():
            notes.append(
                f"{name} skipped: torch is not installed (see the install "
                "docs; without a GPU: pip install torch --index-url "
                "https://download.pytorch.org/whl/cpu)."
            )
            continue
        # Settings this version of the estimator does not have are left out.
        accepted = cls().get_params()
        estimators.append(
            (label, cls(**{k: v for k, v in settings.items() if k in accepted}))
        )
    return estimators, notes


def _row(values):
    return "  ".join(
        f"{value:<{width}{fmt}}" if fmt == "s" else f"{value:>{width}{fmt}}"
        for value, (_, width, fmt) in zip(values, _COLUMNS, strict=True)
    )


def _header():
    return "  ".join(
        f"{title:<{width}}" if fmt == "s" else f"{title:>{width}}"
        for title, width, fmt in _COLUMNS
    )


def _scores(model, X, y):
    X_scores, y_scores = model.transform(X, y)
    values = []
    for metric, kwargs in (
        (recall_at_k, {"k": 1}),
        (recall_at_k, {"k": 5}),
        (mean_reciprocal_rank, {}),
    ):
        for direction in ("x_to_y", "y_to_x"):
            values.append(metric(X_scores, y_scores, direction=direction, **kwargs))
    return values


def main(argv=None):
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m skcrossmodal",
        description=(
            "Fit every skcrossmodal estimator on the left/right halves of "
            "scikit-learn's digits and print test retrieval scores and fit times."
        ),
    )
    parser.parse_args(argv)

    X, y = load_digit_views(kind="halves", return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=_SEED
    )
    print(
        f"skcrossmodal {skcrossmodal.__version__} from "
        f"{Path(skcrossmodal.__file__).resolve().parent}"
    )
    print(
        "Data: digit halves, left 4 columns (X) "
        f"<-> right 4 columns (y), {len(X_train)} training and {len(X_test)} test "
        f"pairs, {_N_COMPONENTS} shared components, raw pixel values (0-16)."
    )
    estimators, notes = _available_estimators()
    print(_header())
    for name, estimator in estimators:
        model = clone(estimator)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        print(_row([name, seconds, *_scores(model, X_test, y_test)]), flush=True)
    print()  # the table ends here
    for note in notes:
        print(note)
    # Reading the table: recall@k is the fraction of test queries whose partner
    # is among the k best of the 450 candidates; chance is k/450.
    print(
        f"Chance level: recall@1 = {1 / len(X_test):.3f}, recall@5 = "
        f"{5 / len(X_test):.3f}."
    )


if __name__ == "__main__":
    main()
