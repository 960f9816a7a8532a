"""The public base class: one contract, failure atomicity, validation messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from sklearn.utils import get_tags

from skcrossmodal import (
    CrossModalEmbedding,
    SharedLatentRegression,
    TwoViewPipeline,
)
from skcrossmodal._linear.sufficient_statistics import SufficientStatisticsMixin
from skcrossmodal.base import CrossModalEstimator, CrossModalTags

LINEAR = [
    CrossModalEmbedding,
    lambda: CrossModalEmbedding(whiten=True),
    SharedLatentRegression,
    lambda: SharedLatentRegression(solver="closed_form", n_components=2),
]


def _views(n_samples=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5))
    y = X[:, :3] @ rng.normal(size=(3, 4)) + 0.1 * rng.normal(size=(n_samples, 4))
    return X, y


def _state(estimator):
    """Every attribute, arrays as bytes, so that two states compare exactly."""
    state = {}
    for name, value in vars(estimator).items():
        if isinstance(value, np.ndarray):
            value = (value.dtype.str, value.shape, value.tobytes())
        elif hasattr(value, "__dataclass_fields__"):  # TwoViewMoments
            value = repr(value)
        state[name] = value
    return state


def test_every_estimator_is_a_cross_modal_estimator_with_two_view_tags():
    for estimator in (
        CrossModalEmbedding(),
        SharedLatentRegression(),
        TwoViewPipeline(CrossModalEmbedding()),
    ):
        assert isinstance(estimator, CrossModalEstimator)
        tags = get_tags(estimator)
        assert isinstance(tags, CrossModalTags)
        assert tags.two_view_tags.n_components_bounded_by_views
        assert tags.target_tags.required


def test_fit_without_y_names_the_estimator():
    X, _ = _views()
    for estimator in (CrossModalEmbedding(), TwoViewPipeline(CrossModalEmbedding())):
        with pytest.raises(ValueError, match=f"{type(estimator).__name__} requires y"):
            estimator.fit(X)


@pytest.mark.parametrize("view", ["X", "y"])
def test_entirely_nan_rows_are_single_view_rows(view):
    """An all-NaN row is refused as a single-view row; a partial NaN as missing."""
    X, y = _views()
    bad = X.copy() if view == "X" else y.copy()
    bad[[4, 7]] = np.nan
    args = (bad, y) if view == "X" else (X, bad)
    model = CrossModalEmbedding()
    with pytest.raises(ValueError, match="2 row.*entirely NaN.*SelfLearningAligner"):
        model.fit(*args)
    with pytest.raises(ValueError, match="entirely NaN"):
        model.partial_fit(*args)
    bad[[4, 7]] = 1.0
    bad[4, 0] = np.nan
    with pytest.raises(ValueError, match="Input (X |y )?contains NaN"):
        model.fit(*args)
    assert not hasattr(model, "n_features_in_")


@pytest.mark.parametrize("make", LINEAR)
def test_failed_first_partial_fit_leaves_no_trace(make):
    X, y = _views()
    model = make()
    with pytest.raises(ValueError, match="same number of rows"):
        model.partial_fit(X, y[:-1])
    assert vars(model) == vars(make())
    with pytest.raises(ValueError, match="non-zero"):
        model.partial_fit(X, y, sample_weight=np.zeros(X.shape[0]))
    assert vars(model) == vars(make())


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_all_zero_weights_are_a_clear_error(method):
    """Refused with a ValueError on every supported scikit-learn version."""
    X, y = _views()
    for make in LINEAR:
        with pytest.raises(ValueError, match="at least one non-zero"):
            getattr(make(), method)(X, y, sample_weight=np.zeros(X.shape[0]))


class _Fault(Exception):
    pass


@settings(max_examples=examples(25), deadline=None)
@given(
    estimator_index=st.integers(0, len(LINEAR) - 1),
    n_before=st.integers(0, 3),
    failing_call=st.sampled_from(["fit", "partial_fit"]),
    fault_at=st.sampled_from(["statistics", "solution", "validation"]),
)
def test_injected_faults_leave_the_estimator_exactly_as_before(
    estimator_index, n_before, failing_call, fault_at
):
    """Whatever raises inside fit/partial_fit, every attribute is as before."""
    X, y = _views(60)
    model = LINEAR[estimator_index]()
    for chunk in np.array_split(np.arange(30), max(n_before, 1))[:n_before]:
        model.partial_fit(X[chunk], y[chunk])
    before = _state(model)

    def fault(*args, **kwargs):
        raise _Fault

    target = {
        "statistics": "_chunk_statistics",
        "solution": "_set_solution",
        "validation": "_validate_y_view",
    }[fault_at]
    original = getattr(type(model), target)
    setattr(model, target, fault)  # an instance attribute shadows the method
    try:
        with pytest.raises(_Fault):
            getattr(model, failing_call)(X[30:], y[30:])
    finally:
        del model.__dict__[target]
    assert _state(model) == before
    assert getattr(type(model), target) is original
    # The estimator goes on working: the next call succeeds.
    model.partial_fit(X[30:], y[30:])
    if isinstance(model, SufficientStatisticsMixin):
        assert model.n_samples_seen_ == (30 if n_before else 0) + 30


def test_failed_refit_keeps_the_previous_model():
    """A refit that fails after validation keeps the earlier solution."""
    X, y = _views()
    model = CrossModalEmbedding(n_components=3).fit(X, y)
    before = _state(model)
    with pytest.raises(ValueError, match="n_components"):
        model.fit(X[:, :2], y)  # now n_components=3 > 2 features of X
    assert _state(model) == before
    np.testing.assert_allclose(
        model.predict(X), CrossModalEmbedding(n_components=3).fit(X, y).predict(X)
    )


@pytest.mark.parametrize("factory", [CrossModalEmbedding, SharedLatentRegression])
def test_fit_transform_documents_y_as_required(factory):
    """The docstring says y is required (not scikit-learn's "None for
    unsupervised"), and fit_transform returns X's scores as fit().transform."""
    doc = factory.fit_transform.__doc__
    assert "Required" in doc and "unsupervised" not in doc
    X, y = _views()
    assert np.allclose(factory().fit_transform(X, y), factory().fit(X, y).transform(X))
    with pytest.raises(ValueError, match="requires y"):
        factory().fit_transform(X)
