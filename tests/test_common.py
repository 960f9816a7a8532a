"""scikit-learn's estimator checks and our two-view contract, for every estimator."""

import importlib.util

import pytest
from sklearn.preprocessing import StandardScaler

from skcrossmodal import (
    ContrastiveAligner,
    CrossModalEmbedding,
    CrossModalEmbeddingCV,
    GeneralizedCCA,
    GeneralizedCCACV,
    MultiViewCCA,
    MultiViewCCACV,
    MultiViewContrastiveAligner,
    MultiViewPipeline,
    MultiViewSharedLatentRegression,
    SelfLearningAligner,
    SharedLatentRegression,
    SharedLatentRegressionCV,
    SharedSpaceIndex,
    TwoViewPipeline,
    ZeroShotClassifier,
)
from skcrossmodal._compat import parametrize_with_checks
from skcrossmodal.estimator_checks import all_multiview_checks, all_two_view_checks

ESTIMATORS = [
    CrossModalEmbedding(),
    SharedLatentRegression(),
    TwoViewPipeline(CrossModalEmbedding()),
    SelfLearningAligner(CrossModalEmbedding(), random_state=0),
    CrossModalEmbeddingCV(cv=3),
    SharedLatentRegressionCV(cv=3),
]
# Not two-view estimators (an index of one view's embeddings; a classifier that
# fits its two-view model on (row, class indicator) pairs): scikit-learn's
# checks only.
SKLEARN_ONLY = [
    SharedSpaceIndex(),
    ZeroShotClassifier(CrossModalEmbedding()),
    ZeroShotClassifier(SharedLatentRegression()),
    # K-view transformers of one X (views=None: every column a view); their
    # own contract is MULTIVIEW_ESTIMATORS' below.
    MultiViewCCA(),
    GeneralizedCCA(),
    MultiViewSharedLatentRegression(),
    MultiViewPipeline(MultiViewCCA(), transformers={"view0": StandardScaler()}),
    MultiViewCCACV(cv=3),
    GeneralizedCCACV(cv=3),
]
# torch is an optional extra (CI installs it): without it the aligner cannot fit.
if importlib.util.find_spec("torch") is not None:
    # A small training budget keeps the checks fast; the seed makes them repeatable.
    ESTIMATORS.append(
        ContrastiveAligner(
            hidden_layer_sizes=(8,),
            max_epochs=3,
            batch_size=16,
            early_stopping=False,
            device="cpu",
            random_state=0,
        )
    )
    SKLEARN_ONLY.extend(
        MultiViewContrastiveAligner(
            n_components=4,
            hidden_layer_sizes=(8,),
            max_epochs=3,
            batch_size=16,
            early_stopping=False,
            device="cpu",
            random_state=0,
            init=init,
        )
        for init in ("auto", "random", "mcca")
    )


_PARTIAL_FIT_NEEDS_FOLDS = (
    "partial_fit needs the fold of every row (folds=...) to keep per-fold "
    "statistics, and raises without them"
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, CrossModalEmbeddingCV | SharedLatentRegressionCV):
        return {
            "check_fit_score_takes_y": _PARTIAL_FIT_NEEDS_FOLDS,
            "check_n_features_in_after_fitting": _PARTIAL_FIT_NEEDS_FOLDS,
        }
    mini_batch = {
        "check_sample_weight_equivalence_on_dense_data": (
            "mini-batch training: repeating a pair changes the batches and the "
            "number of optimiser steps, so integer weights equal repetition "
            "only in expectation (as for scikit-learn's SGD and MLP estimators)"
        ),
    }
    if isinstance(estimator, MultiViewContrastiveAligner):
        return mini_batch
    if isinstance(estimator, ContrastiveAligner):
        return {
            **mini_batch,
            "check_do_not_raise_errors_in_init_or_set_params": (
                "the check also passes the name of **encoder_params (which routes "
                "x_encoder__/y_encoder__ arguments, as skorch's module__) as a "
                "keyword; any other unknown keyword is a TypeError, as in Python. "
                "tests/test_encoders.py runs the check without that name"
            ),
        }
    return {}


@parametrize_with_checks(
    ESTIMATORS + SKLEARN_ONLY, expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    """Each estimator passes every scikit-learn estimator check."""
    check(estimator)


def _contract_cases():
    for estimator in ESTIMATORS:
        for check in all_two_view_checks():
            # The searches take n_components from param_grid, and that check
            # sets the parameter itself; their own tests cover the bad input.
            searches = (CrossModalEmbeddingCV, SharedLatentRegressionCV)
            if isinstance(estimator, searches) and (
                check.__name__ == "check_bad_paired_input"
            ):
                continue
            yield pytest.param(
                estimator, check, id=f"{type(estimator).__name__}-{check.__name__}"
            )


@pytest.mark.parametrize(("estimator", "check"), list(_contract_cases()))
def test_two_view_contract(estimator, check):
    """Each estimator honours the library's two-view contract."""
    check(type(estimator).__name__, estimator)


# K-view estimators of one X (views=None: the checks give them their own views).
MULTIVIEW_ESTIMATORS = [
    MultiViewCCA(),
    GeneralizedCCA(),
    MultiViewSharedLatentRegression(),
    MultiViewPipeline(MultiViewCCA(), transformers={"view0": StandardScaler()}),
    MultiViewCCACV(cv=3),
    GeneralizedCCACV(cv=3),
]
if importlib.util.find_spec("torch") is not None:
    # A stochastic trainer: it declares no exactness promise, so the checks
    # compare it only with itself (same seed) and run partial_fit without
    # asking it to equal fit.
    MULTIVIEW_ESTIMATORS.extend(
        MultiViewContrastiveAligner(
            n_components=3,
            hidden_layer_sizes=(16,),
            max_epochs=5,
            batch_size=32,
            early_stopping=False,
            device="cpu",
            random_state=0,
            init=init,
        )
        for init in ("random", "mcca")
    )
# The checks all_multiview_checks leaves out for an estimator, and why.
_SHARED_SPACE_ONLY = (
    "an imputer of whole views (transform fills the missing ones): it has no "
    "shared space, hence no transform_view, score or retrieve"
)
MULTIVIEW_NOT_APPLICABLE = {
    "MultiViewSharedLatentRegression": {
        "check_multiview_transform_layout": _SHARED_SPACE_ONLY,
        "check_multiview_score_is_mean_pairwise_mrr": _SHARED_SPACE_ONLY,
        "check_multiview_retrieve_matches_transform_view": _SHARED_SPACE_ONLY,
        "check_multiview_pipeline_grid_search": _SHARED_SPACE_ONLY,
    },
    **{
        search: {
            "check_multiview_pipeline_grid_search": (
                "a search itself: it tunes n_components from its param_grid and "
                "has no n_components parameter"
            ),
            "check_multiview_partial_fit": (
                "no partial_fit: its held-out scores need the rows, which "
                "streamed statistics do not keep"
            ),
        }
        for search in ("MultiViewCCACV", "GeneralizedCCACV")
    },
}


def _multiview_cases():
    for estimator in MULTIVIEW_ESTIMATORS:
        for check in all_multiview_checks(estimator):
            yield pytest.param(
                estimator, check, id=f"{type(estimator).__name__}-{check.__name__}"
            )


@pytest.mark.parametrize(("estimator", "check"), list(_multiview_cases()))
def test_multiview_contract(estimator, check):
    """Each K-view estimator honours the library's K-view contract."""
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator", MULTIVIEW_ESTIMATORS, ids=lambda e: type(e).__name__
)
def test_multiview_checks_left_out_are_the_documented_ones(estimator):
    """A K-view check is skipped only where the reason above says why."""
    left_out = {check.__name__ for check in all_multiview_checks()} - {
        check.__name__ for check in all_multiview_checks(estimator)
    }
    assert left_out == set(MULTIVIEW_NOT_APPLICABLE.get(type(estimator).__name__, {}))


def test_statistics_estimators_declare_the_exact_promises():
    """The closed-form K-view estimators promise what the checks then assert;
    the pipeline fits its transformers unweighted, so a weight is no repetition;
    the searches promise neither."""
    for estimator in MULTIVIEW_ESTIMATORS[:3]:
        assert estimator._weights_are_repetitions and estimator._partial_fit_equals_fit
    pipeline = MULTIVIEW_ESTIMATORS[3]
    assert pipeline._partial_fit_equals_fit and not pipeline._weights_are_repetitions
    # A search picks its candidate by folds, which repeating rows reshuffles.
    for search in MULTIVIEW_ESTIMATORS[4:6]:
        assert not hasattr(search, "_weights_are_repetitions")


def test_check_cases_reach_pytest_as_a_list():
    """scikit-learn 1.6 yields its cases from a generator, which pytest 9
    refuses; the wrapper hands pytest a list on every version."""
    decorator = parametrize_with_checks([CrossModalEmbedding()])
    argnames, argvalues = decorator.mark.args
    assert argnames == "estimator, check" and isinstance(argvalues, list)
    assert len(argvalues) > 10 and "ids" in decorator.mark.kwargs
