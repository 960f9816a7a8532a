"""scikit-learn's estimator checks and our two-view contract, for every estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skcrossmodal import CrossModalEmbedding

ESTIMATORS = [CrossModalEmbedding()]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    """Each estimator passes every scikit-learn estimator check."""
    check(estimator)
