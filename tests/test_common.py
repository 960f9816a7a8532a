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
from skcrossmodal.estimator_checks import all_two_view_checks

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
    # own contract is tested in tests/test_multiview.py.
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
    SKLEARN_ONLY.append(
        MultiViewContrastiveAligner(
            n_components=4,
            hidden_layer_sizes=(8,),
            max_epochs=3,
            batch_size=16,
            early_stopping=False,
            device="cpu",
            random_state=0,
        )
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


def test_check_cases_reach_pytest_as_a_list():
    """scikit-learn 1.6 yields its cases from a generator, which pytest 9
    refuses; the wrapper hands pytest a list on every version."""
    decorator = parametrize_with_checks([CrossModalEmbedding()])
    argnames, argvalues = decorator.mark.args
    assert argnames == "estimator, check" and isinstance(argvalues, list)
    assert len(argvalues) > 10 and "ids" in decorator.mark.kwargs
