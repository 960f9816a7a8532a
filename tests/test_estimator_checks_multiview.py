"""The K-view contract checks fail on wrong estimators and honour the declarations."""

import numpy as np
import pytest

from skcrossmodal import MultiViewCCA
from skcrossmodal.estimator_checks import (
    all_multiview_checks,
    check_multiview_bad_input,
    check_multiview_estimator,
    check_multiview_partial_fit,
    check_multiview_retrieve_matches_transform_view,
    check_multiview_sample_weight,
    check_multiview_score_is_mean_pairwise_mrr,
    check_multiview_transform_layout,
    check_multiview_views_by_name_and_pandas_output,
)
from skcrossmodal.metrics import mean_reciprocal_rank


class _ReversedBlocks(MultiViewCCA):
    """transform lays the views out last to first."""

    def transform(self, X):
        scores, k = super().transform(X), self.n_components_
        return np.hstack([scores[:, v * k : (v + 1) * k] for v in range(2, -1, -1)])


class _NeedsEveryView(MultiViewCCA):
    """A row lacking any view gets NaN in every view's block."""

    def _embed(self, X, present, view):
        out = super()._embed(X, present, view)
        out[~present.all(axis=1)] = np.nan
        return out


class _OneWayScore(MultiViewCCA):
    """score ranks in one direction only (view k queries view m, not back)."""

    def score(self, X, y=None, sample_weight=None):
        X, present = self._check_views(X)
        values = []
        for k, m in ((0, 1), (0, 2), (1, 2)):
            rows = present[:, k] & present[:, m]
            values.append(
                mean_reciprocal_rank(
                    self._embed(X, present, k)[rows],
                    self._embed(X, present, m)[rows],
                    direction="x_to_y",
                    sample_weight=None
                    if sample_weight is None
                    else sample_weight[rows],
                )
            )
        return float(np.mean(values))


class _DotProductRetrieve(MultiViewCCA):
    """retrieve ranks by the dot product instead of the cosine."""

    def retrieve(self, queries, gallery, *, query_view, gallery_view, n_neighbors=5):
        q = self.transform_view(queries, query_view)
        g = self.transform_view(gallery, gallery_view)
        if np.isnan(g).any():
            raise ValueError("a row of the gallery lacks view")
        similarities = q @ g.T
        order = np.argsort(-similarities, axis=1)[:, :n_neighbors]
        return np.take_along_axis(similarities, order, axis=1), order


class _NotAtomic(MultiViewCCA):
    """A failed fit has already rescaled the previous model."""

    def fit(self, X, y=None, sample_weight=None):
        if hasattr(self, "rotations_"):
            self.rotations_ = [2.0 * rotation for rotation in self.rotations_]
        return super().fit(X, sample_weight=sample_weight)


class _CaseBlindViews(MultiViewCCA):
    """Views by name select the wrong columns: the view order is reversed."""

    def fit(self, X, y=None, sample_weight=None):
        if isinstance(self.views, dict) and hasattr(X, "iloc"):
            names = list(self.views)
            self.views = dict(zip(names, list(self.views.values())[::-1], strict=True))
        return super().fit(X, sample_weight=sample_weight)


class _IgnoresWeights(MultiViewCCA):
    """fit drops sample_weight."""

    def fit(self, X, y=None, sample_weight=None):
        return super().fit(X)


class _LastChunkOnly(MultiViewCCA):
    """partial_fit forgets the earlier chunks."""

    def partial_fit(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight)


WRONG = [
    (_ReversedBlocks, check_multiview_transform_layout),
    (_NeedsEveryView, check_multiview_transform_layout),
    (_OneWayScore, check_multiview_score_is_mean_pairwise_mrr),
    (_DotProductRetrieve, check_multiview_retrieve_matches_transform_view),
    (_NotAtomic, check_multiview_bad_input),
    (_CaseBlindViews, check_multiview_views_by_name_and_pandas_output),
    (_IgnoresWeights, check_multiview_sample_weight),
    (_LastChunkOnly, check_multiview_partial_fit),
]


@pytest.mark.parametrize(
    ("wrong", "check"), WRONG, ids=[wrong.__name__ for wrong, _ in WRONG]
)
def test_check_fails_on_a_wrong_estimator(wrong, check):
    """Each check catches an estimator that breaks the property it names."""
    with pytest.raises(AssertionError):
        check(wrong.__name__, wrong())


class _OnlineLearner(MultiViewCCA):
    """A deterministic stand-in for a stochastic trainer, which keeps neither
    promise: a weight enters as its square root, later chunks count more."""

    _weights_are_repetitions = False
    _partial_fit_equals_fit = False

    def fit(self, X, y=None, sample_weight=None):
        if sample_weight is not None:
            sample_weight = np.sqrt(np.asarray(sample_weight, dtype=float))
        super().fit(X, sample_weight=sample_weight)
        self.chunks_seen_ = 1
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        chunks = getattr(self, "chunks_seen_", 0)
        weights = np.ones(len(X)) if sample_weight is None else sample_weight
        super().partial_fit(X, sample_weight=np.sqrt(weights) * (1 + chunks))
        self.chunks_seen_ = chunks + 1
        return self


class _OnlineLearnerClaimingExactness(_OnlineLearner):
    _weights_are_repetitions = True
    _partial_fit_equals_fit = True


def test_undeclared_promises_are_not_asserted():
    """An estimator that declares neither promise passes the rest of the contract."""
    check_multiview_estimator(_OnlineLearner(n_components=2))


@pytest.mark.parametrize(
    "check", [check_multiview_sample_weight, check_multiview_partial_fit]
)
def test_declared_promises_are_asserted(check):
    """The same estimator fails when its class claims what it does not keep."""
    with pytest.raises(AssertionError):
        check("claims", _OnlineLearnerClaimingExactness(n_components=2))


def test_checks_that_need_a_missing_method_are_left_out():
    """Without retrieve, only the retrieve check is left out."""

    class NoRetrieve(MultiViewCCA):
        @property
        def retrieve(self):
            raise AttributeError("retrieve")

    names = {check.__name__ for check in all_multiview_checks(NoRetrieve())}
    assert names == {check.__name__ for check in all_multiview_checks()} - {
        "check_multiview_retrieve_matches_transform_view"
    }
