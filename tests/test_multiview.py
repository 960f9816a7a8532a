"""K-view estimators (MultiViewCCA, GeneralizedCCA), their views and data sets."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import linalg, sparse
from sklearn import config_context
from sklearn.compose import make_column_selector
from sklearn.covariance import oas
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skcrossmodal import (
    CrossModalEmbedding,
    GeneralizedCCA,
    MultiViewCCA,
    MultiViewPipeline,
    MultiViewSharedLatentRegression,
    SharedLatentRegression,
)
from skcrossmodal.datasets import load_digit_quadrants, make_multiview
from skcrossmodal.metrics import mean_reciprocal_rank

ESTIMATORS = [MultiViewCCA, GeneralizedCCA]


def _data(n_samples=300, n_views=3, missing_rate=0.0, seed=0, n_features=(5, 4, 6)):
    return make_multiview(
        n_samples,
        n_views=n_views,
        n_features=list(n_features[:n_views]),
        missing_rate=missing_rate,
        random_state=seed,
    )[:2]


def _align_signs(reference, other):
    """Flip the columns of ``other`` to agree in sign with ``reference``."""
    signs = np.sign(np.einsum("ij,ij->j", reference, other))
    signs[signs == 0] = 1.0
    return other * signs


def _unit_columns(matrix):
    return matrix / np.linalg.norm(matrix, axis=0)


# --------------------------------------------------- two views: it is CCA ---
@pytest.mark.parametrize("reg", ["auto", 0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_two_views_equal_whitened_cross_modal_embedding(reg, weighted):
    """With K = 2, MultiViewCCA is CrossModalEmbedding(whiten=True) to 1e-10."""
    X, views = _data(n_views=2)
    weights = (
        np.random.default_rng(1).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    )
    x, y = X[:, views["view0"]], X[:, views["view1"]]
    cca = CrossModalEmbedding(whiten=True, reg=reg).fit(x, y, sample_weight=weights)
    model = MultiViewCCA(views, reg=reg).fit(X, sample_weight=weights)
    assert_allclose(model.canonical_correlations_, cca.singular_values_, atol=1e-10)
    assert_allclose(
        model.pairwise_correlations_[0, 1], cca.singular_values_, atol=1e-10
    )
    assert_allclose(
        _align_signs(cca.x_rotations_, model.rotations_[0]),
        cca.x_rotations_,
        atol=1e-10,
    )
    assert_allclose(
        _align_signs(cca.y_rotations_, model.rotations_[1]),
        cca.y_rotations_,
        atol=1e-10,
    )
    k = model.n_components_
    scores = model.transform(X)
    x_scores, y_scores = cca.transform(x, y)
    assert_allclose(np.abs(scores[:, :k]), np.abs(x_scores), atol=1e-10)
    assert_allclose(np.abs(scores[:, k:]), np.abs(y_scores), atol=1e-10)
    assert_allclose(model.score(X), cca.score(x, y), atol=1e-12)
    assert_allclose(model.shrinkages_, [cca.x_shrinkage_, cca.y_shrinkage_])


def test_two_view_gcca_without_shrinkage_equals_cca():
    """GeneralizedCCA with reg=0 and K = 2 is CrossModalEmbedding(reg=0)."""
    X, views = _data(n_views=2)
    x, y = X[:, views["view0"]], X[:, views["view1"]]
    cca = CrossModalEmbedding(whiten=True, reg=0.0).fit(x, y)
    model = GeneralizedCCA(views, reg=0.0).fit(X)
    assert_allclose(model.canonical_correlations_, cca.singular_values_, atol=1e-10)
    for mine, theirs in zip(
        model.rotations_, [cca.x_rotations_, cca.y_rotations_], strict=True
    ):
        assert_allclose(_align_signs(theirs, mine), theirs, atol=1e-10)


def test_gcca_with_shrinkage_differs_from_mcca():
    """With shrinkage MAXVAR keeps the unshrunk diagonal: a different problem."""
    X, views = _data(n_samples=40)
    mcca = MultiViewCCA(views, reg=0.5).fit(X)
    gcca = GeneralizedCCA(views, reg=0.5).fit(X)
    assert not np.allclose(mcca.eigenvalues_, gcca.eigenvalues_)


# ------------------------------------------- K views: the block eigh oracle ---
def _oracle(X, columns, present, reg, diagonal):
    """``scipy.linalg.eigh(C, D)`` of block matrices built with numpy/scikit-learn.

    Each view's covariance from its rows, each pair's cross-covariance from
    the rows with both; shrinkage by sklearn.covariance.oas for "auto".
    """
    widths = [c.size for c in columns]
    bounds = np.concatenate([[0], np.cumsum(widths)])
    left = np.zeros((bounds[-1], bounds[-1]))
    right = np.zeros_like(left)
    for k, cols in enumerate(columns):
        block = X[present[:, k]][:, cols]
        cov = np.atleast_2d(np.cov(block, rowvar=False, bias=True))
        if reg == "auto":
            shrunk = np.atleast_2d(oas(block)[0])
        else:
            target = np.trace(cov) / cols.size
            shrunk = (1 - reg) * cov + reg * target * np.eye(cols.size)
        here = slice(bounds[k], bounds[k + 1])
        right[here, here] = shrunk
        left[here, here] = shrunk if diagonal == "identity" else cov
    for k, m in itertools.combinations(range(len(columns)), 2):
        rows = present[:, k] & present[:, m]
        a, b = X[rows][:, columns[k]], X[rows][:, columns[m]]
        cross = (a - a.mean(0)).T @ (b - b.mean(0)) / rows.sum()
        left[bounds[k] : bounds[k + 1], bounds[m] : bounds[m + 1]] = cross
        left[bounds[m] : bounds[m + 1], bounds[k] : bounds[k + 1]] = cross.T
    values, vectors = linalg.eigh(left, right)
    return values[::-1], vectors[:, ::-1], bounds


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    widths=st.lists(st.integers(1, 4), min_size=3, max_size=5),
    reg=st.sampled_from(["auto", 0.0, 0.2]),
    missing_rate=st.sampled_from([0.0, 0.2]),
    estimator=st.sampled_from(ESTIMATORS),
)
def test_k_views_equal_direct_generalized_eigh(
    seed, widths, reg, missing_rate, estimator
):
    """For K > 2 the fit equals scipy.linalg.eigh of the block matrices."""
    rng = np.random.default_rng(seed)
    n_samples = 12 * sum(widths) + 20
    latent = rng.normal(size=(n_samples, 2))
    blocks = [
        latent @ rng.normal(size=(2, w))
        + rng.uniform(0.3, 2) * rng.normal(size=(n_samples, w))
        for w in widths
    ]
    X = np.hstack(blocks)
    bounds = np.concatenate([[0], np.cumsum(widths)])
    columns = [np.arange(bounds[k], bounds[k + 1]) for k in range(len(widths))]
    present = rng.uniform(size=(n_samples, len(widths))) >= missing_rate
    for k, cols in enumerate(columns):
        X[np.ix_(~present[:, k], cols)] = np.nan
    n_components = min(widths)
    model = estimator(
        [slice(b, e) for b, e in zip(bounds[:-1], bounds[1:], strict=True)], reg=reg
    )
    model.fit(X)
    values, vectors, _ = _oracle(X, columns, present, reg, estimator._diagonal)
    assert_allclose(model.eigenvalues_, values[:n_components], rtol=1e-9, atol=1e-10)
    gaps = np.abs(np.diff(values[: n_components + 1]))
    for j in range(n_components):
        separated = gaps[j] > 1e-4 and (j == 0 or gaps[j - 1] > 1e-4)
        if not separated or model.canonical_correlations_[j] <= 0:
            continue  # an eigenvector of a repeated eigenvalue is not unique
        for k, cols in enumerate(columns):
            expected = vectors[cols, j : j + 1]
            mine = model.rotations_[k][:, j : j + 1]
            if np.linalg.norm(expected) < 1e-8:
                continue
            assert_allclose(
                _align_signs(_unit_columns(expected), _unit_columns(mine)),
                _unit_columns(expected),
                atol=1e-7,
            )


# ------------------------------------------------- streaming and missing ---
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_partial_fit_in_chunks_equals_fit(estimator):
    """Any chunking of partial_fit (views missing, weights) gives fit's model."""
    X, views = _data(n_samples=240, missing_rate=0.25, seed=3)
    X[:7, views["view2"]] = np.nan  # the first chunk never sees view2
    X[:7, views["view0"]] = 1.0  # ... and has a row or two of each other view
    weights = np.random.default_rng(4).uniform(0.1, 2.0, X.shape[0])
    full = estimator(views, n_components=3).fit(X, sample_weight=weights)
    streamed = estimator(views, n_components=3)
    for rows in np.array_split(np.arange(X.shape[0]), [1, 7, 50, 51, 130]):
        streamed.partial_fit(X[rows], sample_weight=weights[rows])
    assert streamed.n_samples_seen_ == X.shape[0]
    for name in ("eigenvalues_", "canonical_correlations_", "pairwise_correlations_"):
        assert_allclose(getattr(streamed, name), getattr(full, name), atol=1e-10)
    for a, b in zip(streamed.rotations_, full.rotations_, strict=True):
        assert_allclose(a, b, atol=1e-9)
    assert_allclose(streamed.transform(X), full.transform(X), atol=1e-9)


def test_partial_fit_waits_for_every_pair_of_views():
    """Before each pair of views is seen in two rows, the model is not fitted."""
    X, views = _data()
    model = MultiViewCCA(views).partial_fit(X[:1])
    with pytest.raises(NotFittedError):
        model.transform(X)
    model.partial_fit(X[1:3])
    assert model.transform(X).shape == (X.shape[0], 3 * 4)


def _discrepancy(a, b):
    """How far two fits are apart: correlations and mapped directions."""
    gap = np.max(np.abs(a.canonical_correlations_ - b.canonical_correlations_))
    for x, y in zip(a.rotations_, b.rotations_, strict=True):
        cosines = np.abs(np.einsum("ij,ij->j", _unit_columns(x), _unit_columns(y)))
        gap = max(gap, np.max(1.0 - cosines))
    return gap


def test_missing_completely_at_random_converges_to_complete_data_fit():
    """Under MCAR missingness the fit approaches the complete-data fit as n grows."""
    gaps = []
    for n_samples in (400, 40_000):
        X, views, _ = make_multiview(
            n_samples, n_views=3, n_features=4, n_latent=3, noise=0.5, random_state=0
        )
        complete = MultiViewCCA(views, n_components=3).fit(X)
        missing = np.random.default_rng(1).uniform(size=(n_samples, 3)) < 0.3
        X_missing = X.copy()
        for k, cols in enumerate(views.values()):
            X_missing[missing[:, k], cols] = np.nan
        gaps.append(
            _discrepancy(MultiViewCCA(views, n_components=3).fit(X_missing), complete)
        )
    assert gaps[1] < gaps[0] / 5, gaps
    assert gaps[1] < 0.01, gaps


def test_rows_missing_a_view_score_nan_there():
    """transform: NaN in a view's block where the row lacks it, finite elsewhere."""
    X, views = _data(missing_rate=0.3)
    model = MultiViewCCA(views, n_components=2).fit(X)
    scores = model.transform(X)
    for k, cols in enumerate(views.values()):
        absent = np.isnan(X[:, cols]).all(axis=1)
        block = scores[:, 2 * k : 2 * k + 2]
        assert np.isnan(block[absent]).all() and np.isfinite(block[~absent]).all()
        assert_allclose(model.transform_view(X, f"view{k}"), block)
        assert_allclose(model.transform_view(X, k), block)


def test_rows_without_any_view_are_ignored():
    """A row lacking every view changes nothing in the fit."""
    X, views = _data()
    empty = np.vstack([X, np.full((3, X.shape[1]), np.nan)])
    base = MultiViewCCA(views).fit(X)
    padded = MultiViewCCA(views).fit(empty)
    assert_allclose(padded.eigenvalues_, base.eigenvalues_, rtol=1e-12)


# --------------------------------------------------------------- the API ---
def test_dataframe_views_by_name_and_selector_equal_index_views():
    """Column names and make_column_selector select what index arrays select."""
    X, _ = _data()
    frame = pd.DataFrame(
        X,
        columns=[f"a{j}" for j in range(5)]
        + [f"b{j}" for j in range(4)]
        + [f"c{j}" for j in range(6)],
    )
    by_name = MultiViewCCA(
        [
            ("a", [f"a{j}" for j in range(5)]),
            ("b", make_column_selector(pattern="^b")),
            ("c", slice("c0", "c5")),
        ]
    ).fit(frame)
    by_index = MultiViewCCA([slice(0, 5), np.arange(5, 9), list(range(9, 15))]).fit(X)
    assert by_name.view_names_ == ["a", "b", "c"]
    assert_allclose(by_name.transform(frame), by_index.transform(X), atol=1e-12)
    assert list(by_name.feature_names_in_) == list(frame.columns)


def test_pandas_output_names_each_view_block():
    """set_output(transform="pandas") names the columns by view and axis."""
    X, views = _data()
    model = MultiViewCCA(views, n_components=2).set_output(transform="pandas").fit(X)
    out = model.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns[:3]) == [
        "view0__multiviewcca0",
        "view0__multiviewcca1",
        "view1__multiviewcca0",
    ]
    assert out.shape == (X.shape[0], 6)


def test_score_is_mean_over_view_pairs_of_two_way_mrr():
    """score averages the two-way MRR of every pair, on the rows with both views."""
    X, views = _data(missing_rate=0.2, seed=5)
    model = GeneralizedCCA(views, n_components=3).fit(X)
    scores = model.transform(X)
    blocks = [scores[:, 3 * k : 3 * k + 3] for k in range(3)]
    expected = []
    for k, m in itertools.combinations(range(3), 2):
        rows = ~np.isnan(blocks[k][:, 0]) & ~np.isnan(blocks[m][:, 0])
        expected.append(mean_reciprocal_rank(blocks[k][rows], blocks[m][rows]))
    assert model.score(X) == pytest.approx(np.mean(expected), rel=1e-12)


def test_pipeline_grid_search_and_cross_validate():
    """Pipeline, GridSearchCV and cross_validate take the estimator unchanged."""
    X, views = _data(missing_rate=0.1)
    pipeline = Pipeline([("scale", StandardScaler()), ("cca", MultiViewCCA(views))])
    search = GridSearchCV(pipeline, {"cca__n_components": [1, 3]}, cv=3).fit(X)
    assert search.best_params_["cca__n_components"] == 3
    results = cross_validate(MultiViewCCA(views, n_components=2), X, cv=3)
    assert np.all(np.isfinite(results["test_score"]))


def test_sample_weight_is_routed():
    """sample_weight reaches fit through metadata routing in cross_validate."""
    X, views = _data()
    weights = np.random.default_rng(2).uniform(0.1, 3.0, X.shape[0])
    cv = KFold(3)
    with config_context(enable_metadata_routing=True):
        model = MultiViewCCA(views).set_fit_request(sample_weight=True)
        model.set_score_request(sample_weight=True)
        results = cross_validate(
            model, X, cv=cv, params={"sample_weight": weights}, return_estimator=True
        )
    for fitted, (train, _) in zip(results["estimator"], cv.split(X), strict=True):
        direct = MultiViewCCA(views).fit(X[train], sample_weight=weights[train])
        assert_allclose(fitted.transform(X), direct.transform(X), atol=1e-10)


@pytest.mark.parametrize(
    ("views", "match"),
    [
        ([slice(0, 5)], "at least 2 views"),
        ([slice(0, 5), slice(15, 20)], "selects no column"),
        ([slice(0, 5), [0, 99]], "all features must be in"),
        ({"a": slice(0, 5), "b": slice(5, 9)}, None),
    ],
)
def test_bad_views_are_refused(views, match):
    """A view list that does not make at least two non-empty views is refused."""
    X, _ = _data()
    if match is None:
        MultiViewCCA(views).fit(X)
        return
    with pytest.raises(ValueError, match=match):
        MultiViewCCA(views).fit(X)


def test_partly_missing_view_is_refused():
    """A view NaN in only some of its columns is a missing value: ValueError."""
    X, views = _data()
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN in only some of its columns in row 4"):
        MultiViewCCA(views).fit(X)


def test_views_never_seen_together_are_refused():
    """Two views without a common row have no cross-covariance: ValueError."""
    X, views = _data()
    X[:150, views["view0"]] = np.nan
    X[150:, views["view1"]] = np.nan
    with pytest.raises(ValueError, match="'view0' and 'view1' are both present in 0"):
        MultiViewCCA(views).fit(X)


def test_failed_fit_leaves_model_unchanged():
    """A fit that raises keeps the previous model, attributes and all."""
    X, views = _data()
    model = MultiViewCCA(views, n_components=2).fit(X)
    before = model.transform(X)
    model.set_params(n_components=5)
    with pytest.raises(ValueError, match="n_components upper bound is"):
        model.fit(X)
    assert model.n_components_ == 2
    assert_allclose(model.transform(X), before)


def test_views_cannot_change_between_partial_fits():
    """partial_fit refuses a chunk whose views differ from the statistics'."""
    X, views = _data()
    model = MultiViewCCA(views).partial_fit(X[:100])
    model.set_params(views=[slice(0, 5), slice(5, 15)])
    with pytest.raises(ValueError, match="views cannot change between partial_fit"):
        model.partial_fit(X[100:])


def test_transform_view_refuses_unknown_views():
    """transform_view names the views it knows when given another."""
    X, views = _data()
    model = MultiViewCCA(views).fit(X)
    with pytest.raises(ValueError, match="Unknown view 'audio'"):
        model.transform_view(X, "audio")
    with pytest.raises(ValueError, match="out of range"):
        model.transform_view(X, 3)


# ------------------------------------------------------------------ data ---
def test_make_multiview_missingness_and_reproducibility():
    """make_multiview removes whole views at the rate asked, never all of a row."""
    X, views, latent = make_multiview(2000, n_views=4, missing_rate=0.3, random_state=0)
    again, _, _ = make_multiview(2000, n_views=4, missing_rate=0.3, random_state=0)
    np.testing.assert_array_equal(X, again)
    absent = np.column_stack([np.isnan(X[:, s]).all(axis=1) for s in views.values()])
    partial = np.column_stack([np.isnan(X[:, s]).any(axis=1) for s in views.values()])
    np.testing.assert_array_equal(absent, partial)
    assert abs(absent.mean() - 0.3) < 0.03
    assert not absent.all(axis=1).any()
    assert latent.shape == (2000, 3)


def test_make_multiview_views_share_the_latent():
    """Each view's canonical scores recover the shared latent's subspace."""
    X, views, latent = make_multiview(3000, n_views=3, noise=0.05, random_state=0)
    model = MultiViewCCA(views, n_components=3).fit(X)
    for k in range(3):
        scores = model.transform_view(X, k)
        # R^2 of the latent regressed on the view's scores: near 1.
        coef, *_ = np.linalg.lstsq(scores - scores.mean(0), latent, rcond=None)
        residual = latent - (scores - scores.mean(0)) @ coef
        assert residual.var() / latent.var() < 0.05


def test_digit_quadrants_frame_and_array_agree():
    """The DataFrame and array forms of the quadrants give the same model."""
    array = load_digit_quadrants()
    frame = load_digit_quadrants(as_frame=True)
    assert sorted(np.concatenate(list(array.views.values()))) == list(range(64))
    a = MultiViewCCA(array.views, n_components=4).fit(array.X)
    b = MultiViewCCA(frame.views, n_components=4).fit(frame.X)
    assert_allclose(a.transform(array.X), b.transform(frame.X), atol=1e-10)
    chance = (np.log(1797) + 0.58) / 1797  # MRR of a random ranking
    assert a.score(array.X) > 3 * chance


# ------------------------------------------- K-view shared latent (item 3) ---
@pytest.mark.parametrize("alpha", [0.5, "auto"])
@pytest.mark.parametrize("n_components", [2, None])
@pytest.mark.parametrize("weighted", [False, True])
def test_two_view_shared_latent_equals_shared_latent_regression(
    alpha, n_components, weighted
):
    """With K = 2 each direction is SharedLatentRegression on that pair."""
    X, views = _data(n_views=2)
    weights = (
        np.random.default_rng(1).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    )
    x, y = X[:, views["view0"]], X[:, views["view1"]]
    model = MultiViewSharedLatentRegression(
        views, n_components=n_components, alpha=alpha
    ).fit(X, sample_weight=weights)
    for source, target, name in ((x, y, "view1"), (y, x, "view0")):
        reference = SharedLatentRegression(
            n_components, alpha=alpha, solver="closed_form"
        ).fit(source, target, sample_weight=weights)
        assert_allclose(
            model.predict(X, target_view=name),
            reference.predict(source),
            rtol=1e-10,
            atol=1e-10,
        )


def test_full_rank_shared_latent_is_ridge_on_the_views_a_row_has():
    """Full rank, complete data: sklearn's Ridge on the views each row has."""
    X, views = _data(n_samples=200)
    model = MultiViewSharedLatentRegression(views, alpha=3.0).fit(X)
    a, b, c = (X[:, s] for s in views.values())
    expected = Ridge(alpha=3.0).fit(np.hstack([a, b]), c).predict(np.hstack([a, b]))
    assert_allclose(model.predict(X, target_view="view2"), expected, atol=1e-10)
    # Rows without view1: the map from view0 alone (same statistics).
    X_lacking = X.copy()
    X_lacking[:, views["view1"]] = np.nan
    expected = Ridge(alpha=3.0).fit(a, c).predict(a)
    assert_allclose(model.predict(X_lacking, target_view=2), expected, atol=1e-10)


def test_low_rank_shared_latent_matches_reduced_rank_ridge():
    """Rank k: the ridge coefficient projected on the top k fitted directions."""
    X, views = _data(n_samples=200)
    model = MultiViewSharedLatentRegression(views, n_components=2, alpha=1.0).fit(X)
    source = X[:, np.r_[views["view1"], views["view2"]]]
    target = X[:, views["view0"]]
    xc, yc = source - source.mean(0), target - target.mean(0)
    ridge = np.linalg.solve(xc.T @ xc + np.eye(xc.shape[1]), xc.T @ yc)
    _, vectors = np.linalg.eigh(yc.T @ xc @ ridge)
    top = vectors[:, -2:]
    expected = xc @ ridge @ top @ top.T + target.mean(0)
    assert_allclose(model.predict(X, target_view="view0"), expected, atol=1e-10)


def test_shared_latent_transform_fills_only_missing_views():
    """transform keeps observed values and fills each missing view by predict."""
    X, views = _data(missing_rate=0.3, seed=7)
    model = MultiViewSharedLatentRegression(views, n_components=3).fit(X)
    filled = model.transform(X)
    observed = ~np.isnan(X)
    assert_allclose(filled[observed], X[observed])
    assert not np.isnan(filled).any()
    for name, cols in views.items():
        lacking = np.isnan(X[:, cols]).all(axis=1)
        assert_allclose(
            filled[np.ix_(lacking, np.arange(15)[cols])],
            model.predict(X, target_view=name)[lacking],
        )


def test_shared_latent_partial_fit_equals_fit():
    """partial_fit in chunks gives fit's predictions."""
    X, views = _data(missing_rate=0.2, seed=8)
    full = MultiViewSharedLatentRegression(views, n_components=2, alpha=2.0).fit(X)
    streamed = MultiViewSharedLatentRegression(views, n_components=2, alpha=2.0)
    for rows in np.array_split(np.arange(X.shape[0]), 4):
        streamed.partial_fit(X[rows])
    assert_allclose(streamed.predict(X), full.predict(X), atol=1e-9)


def test_shared_latent_survives_indefinite_pairwise_covariance():
    """Nearly collinear views with missing rows still give finite predictions."""
    X, views, _ = make_multiview(
        400, n_views=3, noise=0.05, n_private=0, missing_rate=0.2, random_state=0
    )
    model = MultiViewSharedLatentRegression(views, n_components=3).fit(X)
    complete = make_multiview(400, n_views=3, noise=0.05, n_private=0, random_state=0)
    truth = complete[0][:, views["view2"]]
    prediction = model.predict(complete[0], target_view="view2")
    assert np.isfinite(prediction).all()
    assert np.mean((prediction - truth) ** 2) < 0.05 * truth.var(axis=0).sum()


def test_shared_latent_imputer_in_a_pipeline_before_cca():
    """The imputer fills views for MultiViewCCA inside one Pipeline."""
    X, views = _data(missing_rate=0.3)
    pipeline = Pipeline(
        [
            ("fill", MultiViewSharedLatentRegression(views, n_components=3)),
            ("cca", MultiViewCCA(views, n_components=3)),
        ]
    ).fit(X)
    assert not np.isnan(pipeline.transform(X)).any()


# ------------------------------------------------------ MultiViewPipeline ---
def test_pipeline_fits_each_transformer_on_the_rows_with_its_view():
    """A view's transformer sees the rows that have it; missing rows stay NaN."""
    X, views = _data(missing_rate=0.3, seed=9)
    model = MultiViewPipeline(
        MultiViewCCA(views, n_components=2), transformers={"view2": PCA(3)}
    ).fit(X)
    block = X[:, views["view2"]]
    present = ~np.isnan(block).all(axis=1)
    pca = PCA(3).fit(block[present])
    assert_allclose(model.transformers_["view2"].components_, pca.components_)
    manual = np.hstack(
        [X[:, views["view0"]], X[:, views["view1"]], np.full((len(X), 3), np.nan)]
    )
    manual[present, 9:] = pca.transform(block[present])
    direct = MultiViewCCA([slice(0, 5), slice(5, 9), slice(9, 12)], n_components=2).fit(
        manual
    )
    assert_allclose(model.transform(X), direct.transform(manual), atol=1e-10)
    assert model.score(X) == pytest.approx(direct.score(manual), rel=1e-12)


def test_pipeline_takes_a_text_view_with_missing_captions():
    """A view named by one column goes 1-D to its vectoriser; None marks it missing."""
    X, views = _data(n_samples=120, n_views=2)
    words = np.array(["red", "green", "blue", "dark", "light", "round", "square"])
    order = np.argsort(X[:, :7], axis=1)
    captions = [" ".join(words[row[:3]]) for row in order]
    captions[:10] = [None] * 10
    frame = pd.DataFrame(X[:, 5:9], columns=["a", "b", "c", "d"])
    frame["caption"] = captions
    model = MultiViewPipeline(
        MultiViewCCA(
            {"numbers": ["a", "b", "c", "d"], "text": "caption"}, n_components=2
        ),
        transformers={
            "text": make_pipeline(TfidfVectorizer(), TruncatedSVD(4, random_state=0))
        },
    ).fit(frame)
    scores = model.transform_view(frame, "text")
    assert np.isnan(scores[:10]).all() and np.isfinite(scores[10:]).all()


def test_pipeline_refuses_unknown_views_and_sparse_output():
    """Transformers of unknown views and sparse outputs are named errors."""
    X, views = _data()
    with pytest.raises(ValueError, match=r"not among the estimator's views"):
        MultiViewPipeline(MultiViewCCA(views), transformers={"audio": PCA()}).fit(X)
    with pytest.raises(TypeError, match="returned a sparse matrix"):
        MultiViewPipeline(
            MultiViewCCA(views),
            transformers={"view0": FunctionTransformer(sparse.csr_matrix)},
        ).fit(X)


def test_pipeline_grid_search_tunes_the_inner_estimator():
    """GridSearchCV reaches the inner estimator's parameters."""
    X, views = _data()
    search = GridSearchCV(
        MultiViewPipeline(
            MultiViewCCA(views), transformers={"view0": StandardScaler()}
        ),
        {"estimator__n_components": [1, 4]},
        cv=3,
    ).fit(X)
    assert search.best_params_ == {"estimator__n_components": 4}


def test_retrieve_between_any_two_views_ranks_by_cosine():
    """retrieve(query_view, gallery_view) ranks by cosine of the two views' scores."""
    X, views = _data(seed=11)
    model = MultiViewCCA(views, n_components=3).fit(X)
    a, c = model.transform_view(X, "view0"), model.transform_view(X, "view2")
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    expected = np.argsort(-(c[:4] @ a.T), axis=1, kind="stable")[:, :3]
    similarities, indices = model.retrieve(
        X[:4], X, query_view="view2", gallery_view=0, n_neighbors=3
    )
    np.testing.assert_array_equal(indices, expected)
    assert_allclose(similarities, np.take_along_axis(c[:4] @ a.T, expected, 1))
    X[1, views["view2"]] = np.nan
    with pytest.raises(ValueError, match="Row 1 of the queries lacks view 'view2'"):
        model.retrieve(X[:4], X, query_view="view2", gallery_view=0)
