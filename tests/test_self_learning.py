"""Tests of SelfLearningAligner and the missing-view convention."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import ortho_group
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import (
    CrossModalEmbedding,
    SelfLearningAligner,
    SharedLatentRegression,
    TwoViewPipeline,
)
from skcrossmodal._meta.missing_views import split_views
from skcrossmodal._meta.self_learning import mutual_nearest_neighbours


def _planted(n_pairs=12, n_singles=200, noise=0.0, seed=0):
    """Two views related by a rotation; the singles are the same events shuffled.

    Returns ``X, y`` in the NaN convention and ``partner``, where
    ``partner[r]`` is the y-only row holding the other view of X-only row ``r``.
    """
    rng = np.random.default_rng(seed)
    n = n_pairs + n_singles
    X_full = rng.normal(size=(n, 5)) * [5.0, 4.0, 3.0, 2.0, 1.0]
    y_full = X_full @ ortho_group.rvs(5, random_state=seed) + 2.0
    y_full += noise * rng.normal(size=y_full.shape)
    shuffle = rng.permutation(n_singles)
    singles = np.arange(n_pairs, n)
    X = np.vstack([X_full, np.full((n_singles, 5), np.nan)])
    y = np.vstack(
        [y_full[:n_pairs], np.full((n_singles, 5), np.nan), y_full[singles][shuffle]]
    )
    partner = np.full(X.shape[0], -1)
    # X-only row n_pairs + i holds event i; y-only row n + j holds event shuffle[j].
    partner[singles] = n + np.argsort(shuffle)
    return X, y, partner


def _dense_mutual_csls(x_scores, y_scores, k):
    """Mutual nearest neighbours under CSLS, from the whole matrix (the oracle)."""
    xu = x_scores / np.linalg.norm(x_scores, axis=1, keepdims=True)
    yu = y_scores / np.linalg.norm(y_scores, axis=1, keepdims=True)
    cosine = xu @ yu.T
    r_x = np.sort(cosine, axis=1)[:, -min(k, cosine.shape[1]) :].mean(axis=1)
    r_y = np.sort(cosine, axis=0)[-min(k, cosine.shape[0]) :].mean(axis=0)
    csls = 2 * cosine - r_x[:, None] - r_y[None, :]
    row_best, column_best = csls.argmax(axis=1), csls.argmax(axis=0)
    x_index = np.flatnonzero(column_best[row_best] == np.arange(len(xu)))
    return x_index, row_best[x_index], csls[x_index, row_best[x_index]]


# ------------------------------------------------------------- the maths ---
@settings(max_examples=examples(30), deadline=None)
@given(
    n_x=st.integers(1, 30),
    n_y=st.integers(1, 30),
    k=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_mutual_nearest_neighbours_match_dense_csls(n_x, n_y, k, seed):
    """The blockwise mutual-NN search equals a dense CSLS computation."""
    rng = np.random.default_rng(seed)
    x_scores, y_scores = rng.normal(size=(n_x, 3)), rng.normal(size=(n_y, 3))
    x_index, y_index, scores = mutual_nearest_neighbours(x_scores, y_scores, k)
    expected = _dense_mutual_csls(x_scores, y_scores, k)
    assert_array_equal(x_index, expected[0])
    assert_array_equal(y_index, expected[1])
    assert_allclose(scores, expected[2], atol=1e-12)


@settings(max_examples=examples(15), deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(8, 40), one_d=st.booleans())
def test_fully_paired_equals_the_estimator(seed, n, one_d):
    """With every row a pair, the result is the estimator fitted on the pairs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = X[:, 0] if one_d else X @ rng.normal(size=(4, 3))
    y = y + 0.1 * rng.normal(size=y.shape)
    base = CrossModalEmbedding(scale=True)
    model = SelfLearningAligner(base, random_state=0).fit(X, y)
    reference = clone(base).fit(X, y)
    assert model.termination_condition_ == "no_single_rows"
    assert model.n_iter_ == 1 and model.induced_pairs_ == []
    assert_allclose(model.transform(X), reference.transform(X))
    assert_allclose(model.transform(X, y)[1], reference.transform(X, y)[1])
    assert_allclose(model.predict(X), reference.predict(X))
    assert model.predict(X).shape == y.shape


def test_planted_permutation_is_recovered():
    """On a noiseless rotation the induced pairs are the planted partners."""
    X, y, partner = _planted()
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(X, y)
    assert model.termination_condition_ == "converged"
    for induced in model.induced_pairs_:
        assert_array_equal(partner[induced.x_rows], induced.y_rows)
    final = model.induced_pairs_[-1]
    assert final.keep_prob == 1.0
    assert final.x_rows.size >= 0.9 * model.x_only_rows_.size


def test_induced_pairs_raise_precision_on_noisy_views():
    """With noise, later rounds induce more correct pairs than the first."""
    X, y, partner = _planted(n_pairs=8, n_singles=300, noise=1.0, seed=3)
    model = SelfLearningAligner(
        CrossModalEmbedding(), keep_prob=1.0, validation_folds=None, random_state=0
    ).fit(X, y)
    correct = [
        np.count_nonzero(partner[p.x_rows] == p.y_rows) for p in model.induced_pairs_
    ]
    assert correct[-1] > correct[0]


def test_first_round_is_mutual_nn_of_the_pairs_model_above_threshold():
    """Round 1 induces the thresholded mutual neighbours of the pairs-only model."""
    X, y, _ = _planted(noise=2.0, seed=1)
    pairs_only = CrossModalEmbedding().fit(X[:12], y[:12])
    x_only, y_only = np.arange(12, 212), np.arange(212, 412)
    x_scores = pairs_only.transform(X[x_only])
    y_scores = pairs_only.transform(X[:1].repeat(200, axis=0), y[y_only])[1]
    i, j, scores = _dense_mutual_csls(x_scores, y_scores, 10)
    threshold = float(np.median(scores))
    model = SelfLearningAligner(
        CrossModalEmbedding(),
        threshold=threshold,
        keep_prob=1.0,
        max_iter=1,
        validation_folds=None,  # round 1 is under test: it always runs
    ).fit(X, y)
    (induced,) = model.induced_pairs_
    above = scores >= threshold
    assert induced.n_candidates == np.count_nonzero(above)
    assert_array_equal(induced.x_rows, x_only[i[above]])
    assert_array_equal(induced.y_rows, y_only[j[above]])
    assert np.all(induced.scores >= threshold)


def test_stochastic_induction_keeps_a_subset_with_growing_probability():
    """Each round keeps a subset of its candidates, with p_t = min(1, p g^(t-1))."""
    X, y, _ = _planted(noise=2.0, seed=2)
    everything = SelfLearningAligner(
        CrossModalEmbedding(), keep_prob=1.0, max_iter=1, validation_folds=None
    ).fit(X, y)
    model = SelfLearningAligner(
        CrossModalEmbedding(),
        keep_prob=0.3,
        keep_prob_growth=1.5,
        max_iter=6,
        validation_folds=None,  # every round runs: the schedule is under test
        random_state=0,
    ).fit(X, y)
    probabilities = [p.keep_prob for p in model.induced_pairs_]
    assert_allclose(probabilities, np.minimum(1.0, 0.3 * 1.5 ** np.arange(6)))
    first = model.induced_pairs_[0]
    candidates = set(
        zip(
            everything.induced_pairs_[0].x_rows,
            everything.induced_pairs_[0].y_rows,
            strict=True,
        )
    )
    assert set(zip(first.x_rows, first.y_rows, strict=True)) < candidates
    assert first.n_candidates == len(candidates)


def test_random_state_makes_fitting_deterministic():
    """The same random_state gives the same induced pairs; another seed may not."""
    X, y, _ = _planted(noise=2.0, seed=4)
    fits = [
        SelfLearningAligner(CrossModalEmbedding(), random_state=seed).fit(X, y)
        for seed in (7, 7, 8)
    ]
    for a, b in zip(fits[0].induced_pairs_, fits[1].induced_pairs_, strict=True):
        assert_array_equal(a.x_rows, b.x_rows)
        assert_array_equal(a.y_rows, b.y_rows)
    assert_array_equal(fits[0].transform(X[:12]), fits[1].transform(X[:12]))
    assert not np.array_equal(
        fits[0].induced_pairs_[0].x_rows, fits[2].induced_pairs_[0].x_rows
    )


def test_refit_uses_pairs_and_weighted_induced_pairs():
    """The final model is the estimator fitted on pairs + last induced, weighted."""
    X, y, _ = _planted(noise=1.5, seed=5)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=X.shape[0])
    model = SelfLearningAligner(
        CrossModalEmbedding(),
        induced_weight=0.25,
        validation_folds=None,  # the refit is under test, every round runs
        random_state=0,
    ).fit(X, y, sample_weight=weights)
    last = model.induced_pairs_[-1]
    rows_x = np.concatenate([np.arange(12), last.x_rows])
    rows_y = np.concatenate([np.arange(12), last.y_rows])
    pair_weights = np.concatenate(
        [weights[:12], 0.25 * np.minimum(weights[last.x_rows], weights[last.y_rows])]
    )
    reference = CrossModalEmbedding().fit(
        X[rows_x], y[rows_y], sample_weight=pair_weights
    )
    assert_allclose(model.estimator_.coef_, reference.coef_)
    reverse = Ridge(alpha=1.0).fit(
        reference.transform(X[rows_x], y[rows_y])[1], X[rows_x], pair_weights
    )
    assert_allclose(
        model.predict_x(y[:12]), reverse.predict(model.transform(X[:12], y[:12])[1])
    )


def test_zero_weight_single_rows_are_never_induced():
    """A single-view row of weight 0 is left out, as a zero-weight pair is."""
    X, y, _ = _planted()
    weights = np.ones(X.shape[0])
    weights[12:112] = 0.0
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(
        X, y, sample_weight=weights
    )
    for induced in model.induced_pairs_:
        assert np.all(induced.x_rows >= 112)


# ---------------------------------------------------------- missing views ---
def test_split_views_sorts_rows_by_the_views_they_hold():
    """Pairs, X-only and y-only rows are found from entirely NaN rows."""
    X = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 4.0], [5.0, 6.0]])
    y = np.array([[1.0], [2.0], [np.nan], [3.0]])
    pairs, x_only, y_only = split_views(X, y)
    assert pairs.tolist() == [0, 3] and x_only.tolist() == [2]
    assert y_only.tolist() == [1]


def test_transform_gives_each_row_its_point_from_the_view_it_holds():
    """A single-view row is embedded from that view; the other view's scores are NaN."""
    X, y, _ = _planted()
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(X, y)
    rows = [0, 20, 300]  # a pair, an X-only row, a y-only row
    X_scores, y_scores = model.transform(X[rows], y[rows])
    inner_X, inner_y = model.estimator_.transform(X[[0, 20, 0]], y[[0, 0, 300]])
    assert_allclose(X_scores[:2], inner_X[:2])
    assert_allclose(y_scores[[0, 2]], inner_y[[0, 2]])
    assert np.isnan(X_scores[2]).all() and np.isnan(y_scores[1]).all()
    assert np.isnan(model.transform(X[rows])[2]).all()


def test_impute_fills_only_the_missing_rows():
    """impute predicts each missing view from the other and keeps observed rows."""
    X, y, _ = _planted()
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(X, y)
    rows = [0, 20, 300]
    X_filled, y_filled = model.impute(X[rows], y[rows])
    assert_array_equal(X_filled[:2], X[[0, 20]])
    assert_array_equal(y_filled[[0, 2]], y[[0, 300]])
    assert_allclose(y_filled[1], model.predict(X[[20]])[0])
    assert_allclose(X_filled[2], model.predict_x(y[[300]])[0])
    # A rotation is invertible: the reverse read-out recovers X from y.
    complete_X = X[:12]
    assert_allclose(model.predict_x(y[:12]), complete_X, atol=0.1)


def test_inside_pipeline_and_grid_search():
    """NaN rows pass StandardScaler; GridSearchCV tunes and scores on pairs."""
    X, y, _ = _planted(n_pairs=60, n_singles=120, noise=0.5)
    pipeline = make_pipeline(
        StandardScaler(), SelfLearningAligner(CrossModalEmbedding(), random_state=0)
    )
    search = GridSearchCV(
        pipeline,
        {"selflearningaligner__threshold": [None, 0.2]},
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert 0.0 < search.score(X, y) <= 1.0


@pytest.mark.parametrize(
    "estimator",
    [
        SharedLatentRegression(n_components=3, alpha=0.1),
        TwoViewPipeline(
            CrossModalEmbedding(n_components=3), x_transformer=StandardScaler()
        ),
    ],
    ids=lambda e: type(e).__name__,
)
def test_wraps_other_estimators(estimator):
    """The other linear estimators and a TwoViewPipeline work as the estimator."""
    X, y, _ = _planted(noise=0.2)
    model = SelfLearningAligner(estimator, random_state=0).fit(X, y)
    assert model.n_components_ == 3
    assert model.transform(X[:5]).shape == (5, 3)
    assert model.predict(X[:5]).shape == (5, 5)
    assert model.get_feature_names_out().tolist()[0] == "selflearningaligner0"


# ------------------------------------------------------------- bad input ---
def test_no_pair_is_a_clear_error():
    """Only single-view rows: the error says that pairs are needed."""
    X, y, _ = _planted()
    with pytest.raises(ValueError, match="needs at least 2 pairs.*got 0 pairs"):
        SelfLearningAligner(CrossModalEmbedding()).fit(X[12:], y[12:])


def test_fewer_pairs_than_components_names_both():
    """Too few pairs for n_components: the error names both numbers."""
    X, y, _ = _planted(n_pairs=4)
    with pytest.raises(ValueError, match="got 4 pairs for n_components=5"):
        SelfLearningAligner(CrossModalEmbedding()).fit(X, y)


def test_rows_nan_in_both_views_are_an_error():
    """A row with neither view is refused."""
    X, y, _ = _planted()
    X[20], y[20] = np.nan, np.nan
    with pytest.raises(ValueError, match=r"Rows \[20\].*NaN in both X and y"):
        SelfLearningAligner(CrossModalEmbedding()).fit(X, y)


@pytest.mark.parametrize("view", ["X", "y"])
def test_partly_nan_rows_are_an_error(view):
    """A row NaN in only some columns is a missing value, not a missing view."""
    X, y, _ = _planted()
    (X if view == "X" else y)[3, 1] = np.nan
    with pytest.raises(ValueError, match=f"Input {view} contains NaN in only some"):
        SelfLearningAligner(CrossModalEmbedding()).fit(X, y)


def test_predicting_from_a_missing_view_is_an_error():
    """predict needs X and predict_x needs y; the message points to the other."""
    X, y, _ = _planted()
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="row 1 has no X.*predict_x"):
        model.predict(X[[0, 300]])
    with pytest.raises(ValueError, match="row 0 has no y.*predict"):
        model.predict_x(y[[20]])
    with pytest.raises(ValueError, match="at least one row with both"):
        model.score(X[20:30], y[20:30])


def test_failed_fit_leaves_the_estimator_as_it_was():
    """A fit that raises changes no fitted attribute."""
    X, y, _ = _planted()
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(X, y)
    coef, induced = model.estimator_.coef_.copy(), model.induced_pairs_
    X_bad, y_bad, _ = _planted(n_pairs=3)
    with pytest.raises(ValueError, match="pairs for n_components"):
        model.fit(X_bad, y_bad)
    assert_array_equal(model.estimator_.coef_, coef)
    assert model.induced_pairs_ is induced


def test_failed_refit_on_other_columns_keeps_the_fitted_model():
    """A refit on 7 columns that fails leaves the 5-column model fully usable."""
    X, y, _ = _planted(n_pairs=12, n_singles=40)
    model = SelfLearningAligner(CrossModalEmbedding(), max_iter=2, random_state=0)
    model.fit(X, y)
    pairs = slice(0, 12)
    before = model.transform(X[pairs], y[pairs])
    predicted = model.predict(X[pairs])
    wide = np.random.default_rng(1).normal(size=(X.shape[0], 7))
    wide[np.isnan(X).all(axis=1)] = np.nan
    wide[1:12] = np.nan  # one pair left: too few to start from
    with pytest.raises(ValueError, match="needs at least 2 pairs"):
        model.fit(wide, y)
    assert model.n_features_in_ == 5
    after = model.transform(X[pairs], y[pairs])
    assert_array_equal(after[0], before[0])
    assert_array_equal(after[1], before[1])
    assert_array_equal(model.predict(X[pairs]), predicted)
    assert model.retrieve(X[:3], y[pairs], n_neighbors=2)[1].shape == (3, 2)


def test_a_pipeline_as_estimator_is_a_clear_error():
    """A sklearn Pipeline is refused by name, pointing to TwoViewPipeline."""
    X, y, _ = _planted()
    model = SelfLearningAligner(make_pipeline(StandardScaler(), CrossModalEmbedding()))
    with pytest.raises(TypeError, match="needs a two-view estimator.*TwoViewPipeline"):
        model.fit(X, y)
    assert not hasattr(model, "estimator_")


@pytest.mark.parametrize("query_view", ["X", "y"])
def test_retrieve_with_a_missing_query_row_names_the_nan(query_view):
    """A NaN query row is reported as missing, not as "no y to predict from"."""
    X, y, _ = _planted()
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(X, y)
    queries = (X if query_view == "X" else y)[:3].copy()
    queries[1] = np.nan
    gallery = (y if query_view == "X" else X)[:12]
    match = rf"Input {query_view} contains NaN: row 1 is entirely NaN"
    with pytest.raises(ValueError, match=match) as error:
        model.retrieve(queries, gallery, query_view=query_view)
    assert "predict from" not in str(error.value)


# --------------------------------------------------------------- validation ---
def test_held_out_mrr_matches_the_metric_and_a_hand_ranking():
    """Without distractors it is mean_reciprocal_rank; distractors only add
    gallery rows (ties count half)."""
    from skcrossmodal._meta.self_learning import _held_out_mrr
    from skcrossmodal.metrics import mean_reciprocal_rank

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    ones = np.ones(5)
    assert _held_out_mrr(x[:5], y[:5], 5, ones) == pytest.approx(
        mean_reciprocal_rank(x[:5], y[:5])
    )
    x_unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    y_unit = y / np.linalg.norm(y, axis=1, keepdims=True)
    weight = rng.uniform(0.5, 2.0, size=5)
    expected = 0.0
    for queries, gallery in ((x_unit, y_unit), (y_unit, x_unit)):
        for i in range(5):
            similarity = gallery @ queries[i]
            rank = 1 + np.sum(similarity > similarity[i])
            expected += 0.5 * weight[i] / rank
    assert _held_out_mrr(x, y, 5, weight) == pytest.approx(expected / weight.sum())


def test_validation_falls_back_to_the_pairs_when_induced_pairs_are_wrong():
    """Single-view rows with no partner in the other view: every induced pair is
    wrong, the held-out pairs say so, and the fit is the pairs-only model."""
    X, y, _ = _planted(n_pairs=30, n_singles=0, noise=0.3, seed=0)
    rng = np.random.default_rng(1)
    X_only = rng.normal(size=(300, 5)) * [5.0, 4.0, 3.0, 2.0, 1.0]
    y_only = rng.normal(size=(300, 5)) * 3.0
    nan = np.full((300, 5), np.nan)
    X_semi, y_semi = np.vstack([X, X_only, nan]), np.vstack([y, nan, y_only])
    unvalidated = SelfLearningAligner(
        CrossModalEmbedding(), validation_folds=None, random_state=0
    ).fit(X_semi, y_semi)
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0)
    model.fit(X_semi, y_semi)
    pairs_only = SelfLearningAligner(CrossModalEmbedding(), max_iter=0)
    pairs_only.fit(X_semi, y_semi)
    assert unvalidated.n_iter_ > 1  # unchecked, the wrong pairs are learned
    scores = model.validation_scores_
    assert scores.shape == (11,) and scores[0] > scores[1:].max()
    assert model.n_iter_ == 1 and model.termination_condition_ == "validation"
    assert_allclose(model.transform(X), pairs_only.transform(X))


def test_validation_keeps_the_rounds_that_help():
    """A noisy planted rotation with 30 pairs: the first round helps the
    held-out pairs, later ones less; the final fit runs the best number of
    rounds, drawing what the unvalidated fit draws, round for round."""
    X, y, _ = _planted(n_pairs=30, n_singles=300, noise=1.0, seed=3)
    model = SelfLearningAligner(CrossModalEmbedding(), random_state=0).fit(X, y)
    unvalidated = SelfLearningAligner(
        CrossModalEmbedding(), validation_folds=None, random_state=0
    ).fit(X, y)
    scores = model.validation_scores_
    chosen = int(np.flatnonzero(scores == scores.max())[-1])
    assert 1 <= chosen < 10 and scores[chosen] > scores[0] + 0.05
    assert model.n_iter_ - 1 == chosen
    assert model.termination_condition_ == "validation"
    for ours, theirs in zip(
        model.induced_pairs_, unvalidated.induced_pairs_[:chosen], strict=True
    ):
        assert_array_equal(ours.x_rows, theirs.x_rows)
        assert_array_equal(ours.y_rows, theirs.y_rows)


def test_rounds_kept_only_with_a_gain_above_one_standard_error():
    """The best mean round count, the most on a tie, kept only if its gain
    over the pairs alone reaches its fold-to-fold standard error."""
    from skcrossmodal._meta.self_learning import _rounds_to_keep

    equal = np.ones(4)
    clear = np.array(
        [[0.5, 0.6, 0.7], [0.5, 0.62, 0.7], [0.4, 0.5, 0.6], [0.5, 0.6, 0.6]]
    )
    scores, n_rounds = _rounds_to_keep(clear, equal)
    assert_allclose(scores, clear.mean(axis=0))
    assert n_rounds == 2  # 0.65 best; gains 0.2, 0.2, 0.2, 0.1: SE 0.025
    saturated = np.ones((3, 4))
    assert _rounds_to_keep(saturated, np.ones(3))[1] == 3
    noisy = np.array([[0.5, 0.7], [0.5, 0.3], [0.5, 0.7], [0.5, 0.4]])
    # Mean gain 0.025, standard error 0.103: the pairs alone.
    assert _rounds_to_keep(noisy, equal)[1] == 0
    tie = np.array([[0.5, 0.6, 0.6], [0.4, 0.6, 0.6], [0.5, 0.7, 0.7]])
    assert _rounds_to_keep(tie, np.ones(3))[1] == 2
    # Fold weights weigh the mean: the heavy fold's gain decides.
    weighted = np.array([[0.5, 0.9], [0.5, 0.45], [0.5, 0.45]])
    assert _rounds_to_keep(weighted, np.array([10.0, 1.0, 1.0]))[1] == 1
    assert _rounds_to_keep(weighted, np.array([1.0, 10.0, 10.0]))[1] == 0
