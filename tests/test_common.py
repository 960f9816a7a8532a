"""scikit-learn's estimator checks and our two-view contract, for every estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcrossmodal import CrossModalEmbedding, SharedLatentRegression
from skcrossmodal.estimator_checks import all_two_view_checks

ESTIMATORS = [CrossModalEmbedding(), SharedLatentRegression()]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    """Each estimator passes every scikit-learn estimator check."""
    check(estimator)


@pytest.mark.parametrize("check", all_two_view_checks(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_two_view_contract(estimator, check):
    """Each estimator honours the library's two-view contract."""
    check(type(estimator).__name__, estimator)
