"""Every public import path, listed: a later move of code cannot break one.

The lists are written out rather than read from the package, so that a name
that disappears from a public module (or from its ``__all__``) fails here.
"""

import importlib

import pytest

PUBLIC = {
    "skcrossmodal": [
        "ContrastiveAligner",
        "CrossModalEmbedding",
        "CrossModalEmbeddingCV",
        "GeneralizedCCA",
        "GeneralizedCCACV",
        "MultiViewCCA",
        "MultiViewCCACV",
        "MultiViewContrastiveAligner",
        "MultiViewPipeline",
        "MultiViewSharedLatentRegression",
        "SelfLearningAligner",
        "SharedLatentRegression",
        "SharedLatentRegressionCV",
        "SharedSpaceIndex",
        "TwoViewPipeline",
        "ZeroShotClassifier",
        "__version__",
        "datasets",
        "metrics",
        "retrieval",
    ],
    "skcrossmodal.base": [
        "CrossModalEstimator",
        "CrossModalTags",
        "TwoViewTags",
        "atomic_fit",
        "resolve_n_components",
        "restored_on_error",
    ],
    "skcrossmodal.metrics": [
        "RETRIEVAL_SCORERS",
        "make_retrieval_scorer",
        "mean_average_precision",
        "mean_percentile_rank",
        "mean_reciprocal_rank",
        "median_rank",
        "ndcg_at_k",
        "precision_at_k",
        "recall_at_k",
        "retrieval_ranks",
    ],
    "skcrossmodal.retrieval": ["SharedSpaceIndex", "retrieve", "search_top_k"],
    "skcrossmodal.datasets": [
        "load_digit_quadrants",
        "load_digit_views",
        "load_sensor_views",
        "make_multiview",
        "make_paired_views",
    ],
    "skcrossmodal.callbacks": [
        "BestWeights",
        "Callback",
        "DivergenceCheck",
        "EarlyStopping",
        "EpochRecord",
        "ProgressPrinter",
        "ValidationScoring",
    ],
    "skcrossmodal.plotting": ["RecallAtKDisplay", "SharedSpaceDisplay"],
    "skcrossmodal.distributed": ["fit", "run"],
    "skcrossmodal.estimator_checks": [
        "all_multiview_checks",
        "all_two_view_checks",
        "check_multiview_estimator",
        "check_two_view_estimator",
    ],
    "skcrossmodal.encoders": [
        "ImageEncoder",
        "SeriesEncoder",
        "TokenBagEncoder",
        "token_id_rows",
    ],
}
# Names that load torch when first used (the module itself imports without it).
NEEDS_TORCH = {
    ("skcrossmodal.encoders", name) for name in PUBLIC["skcrossmodal.encoders"]
}
NEEDS_TORCH.discard(("skcrossmodal.encoders", "token_id_rows"))

PATHS = [(module, name) for module, names in PUBLIC.items() for name in names]


@pytest.mark.parametrize(("module", "name"), PATHS, ids=[f"{m}.{n}" for m, n in PATHS])
def test_public_name_imports_from_its_path(module, name):
    """``from <module> import <name>`` works for every listed public name."""
    if (module, name) in NEEDS_TORCH:
        pytest.importorskip("torch")
    assert getattr(importlib.import_module(module), name) is not None


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_lists_exactly_the_public_names(module):
    """Each public module's ``__all__`` is the list above, no more, no less."""
    assert sorted(importlib.import_module(module).__all__) == sorted(PUBLIC[module])


def test_top_level_names_are_the_same_objects_as_in_their_modules():
    """The estimators re-exported at the top level are the submodules' own."""
    import skcrossmodal
    from skcrossmodal import retrieval

    assert skcrossmodal.SharedSpaceIndex is retrieval.SharedSpaceIndex
    for name in PUBLIC["skcrossmodal"]:
        if name[0].isupper():
            assert getattr(skcrossmodal, name).__module__.startswith("skcrossmodal")


def test_importing_the_package_does_not_import_torch():
    """torch is optional: every public module imports without it."""
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        f"for m in {sorted(PUBLIC)!r}:\n"
        "    importlib.import_module(m)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
