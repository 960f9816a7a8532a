"""Tests of TwoViewPipeline: each view preprocessed inside one estimator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from scipy.stats import ortho_group
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, Normalizer, StandardScaler

from skcrossmodal import CrossModalEmbedding, SharedLatentRegression, TwoViewPipeline
from skcrossmodal._compat import InvalidParameterError
from skcrossmodal.datasets import load_digit_views, make_paired_views
from skcrossmodal.metrics import RETRIEVAL_SCORERS, recall_at_k
from skcrossmodal.plotting import _estimator_name


@pytest.fixture(scope="module")
def views():
    X, y, _ = make_paired_views(120, noise=0.2, random_state=0)
    # Different offsets and scales per feature, so that scaling matters.
    rng = np.random.default_rng(0)
    X = X * rng.uniform(0.1, 10, size=X.shape[1]) + rng.normal(size=X.shape[1])
    y = y * rng.uniform(0.1, 10, size=y.shape[1]) + 5.0
    return X, y


@pytest.fixture(scope="module")
def captions():
    data = load_digit_views(kind="captions")
    return data.X[:600], list(data.y[:600]), data.target[:600]


def _scaled_model(**kwargs):
    return TwoViewPipeline(
        CrossModalEmbedding(n_components=4, whiten=True),
        x_transformer=StandardScaler(),
        y_transformer=StandardScaler(),
        **kwargs,
    )


def test_fit_stores_fitted_clones_and_leaves_parameters_unfitted(views):
    """fit fits clones; the parameters given to the constructor stay unfitted."""
    X, y = views
    model = _scaled_model().fit(X, y)
    assert not hasattr(model.x_transformer, "mean_")
    assert not hasattr(model.estimator, "coef_")
    np.testing.assert_allclose(model.x_transformer_.mean_, X.mean(axis=0))
    np.testing.assert_allclose(model.y_transformer_.mean_, y.mean(axis=0))
    assert model.estimator_.n_features_in_ == X.shape[1]


def test_transform_equals_preprocessing_then_estimator(views):
    """Scores are those of the estimator fitted on separately scaled views."""
    X, y = views
    model = _scaled_model().fit(X, y)
    X_s, y_s = StandardScaler().fit_transform(X), StandardScaler().fit_transform(y)
    reference = CrossModalEmbedding(n_components=4, whiten=True).fit(X_s, y_s)
    for ours, theirs in zip(
        model.transform(X, y), reference.transform(X_s, y_s), strict=True
    ):
        np.testing.assert_allclose(ours, theirs)
    np.testing.assert_allclose(model.transform(X), reference.transform(X_s))
    assert model.score(X, y) == pytest.approx(reference.score(X_s, y_s))


def test_passthrough_equals_the_bare_estimator(views):
    """Without transformers the pipeline behaves exactly like its estimator."""
    X, y = views
    model = TwoViewPipeline(CrossModalEmbedding(n_components=3)).fit(X, y)
    bare = CrossModalEmbedding(n_components=3).fit(X, y)
    np.testing.assert_allclose(model.predict(X), bare.predict(X))
    np.testing.assert_allclose(model.transform(X), bare.transform(X))
    assert model.x_transformer_ is None and model.y_transformer_ is None


def test_cross_validation_fits_each_view_transformer_on_training_rows_only(views):
    """In every fold, both transformers' means are those of the training rows."""
    X, y = views
    cv = KFold(4, shuffle=True, random_state=0)
    result = cross_validate(_scaled_model(), X, y, cv=cv, return_estimator=True)
    for model, (train, _) in zip(result["estimator"], cv.split(X), strict=True):
        np.testing.assert_allclose(model.x_transformer_.mean_, X[train].mean(0))
        np.testing.assert_allclose(model.y_transformer_.mean_, y[train].mean(0))
        assert not np.allclose(model.y_transformer_.mean_, y.mean(0))


def test_predict_maps_back_to_y_units():
    """With a centring y_transformer, an exact rotation is predicted in y's units."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = X @ ortho_group.rvs(4, random_state=0) + 100.0
    model = TwoViewPipeline(
        CrossModalEmbedding(), y_transformer=StandardScaler(with_std=False)
    ).fit(X, y)
    np.testing.assert_allclose(model.predict(X), y)
    inner = model.estimator_.predict(X)
    np.testing.assert_allclose(inner, y - y.mean(0), atol=1e-10)


def test_inverse_predict_false_keeps_the_transformed_space(views):
    """inverse_predict=False returns the estimator's prediction as it is."""
    X, y = views
    model = _scaled_model(inverse_predict=False).fit(X, y)
    X_s = model.x_transformer_.transform(X)
    np.testing.assert_allclose(model.predict(X), model.estimator_.predict(X_s))


def test_inverse_predict_true_needs_an_inverse(views):
    """inverse_predict=True with a transformer without inverse_transform errors."""
    X, y = views
    model = TwoViewPipeline(
        CrossModalEmbedding(n_components=3),
        y_transformer=Normalizer(),
        inverse_predict=True,
    ).fit(X, y)
    with pytest.raises(ValueError, match="has no inverse_transform"):
        model.predict(X)
    model.set_params(inverse_predict="auto").fit(X, y)
    assert model.predict(X).shape == y.shape


def _lsa():
    return make_pipeline(TfidfVectorizer(), TruncatedSVD(12, random_state=0))


def test_captions_as_strings_align_with_images(captions):
    """Images and TF-IDF/LSA captions align: most nearest captions have the digit."""
    images, texts, digits = captions
    model = TwoViewPipeline(
        CrossModalEmbedding(n_components=9, whiten=True, reg=0.1),
        x_transformer=StandardScaler(),
        y_transformer=_lsa(),
    ).fit(images[:450], texts[:450])
    for queries, gallery, view in (
        (images[450:], texts[450:], "X"),
        (texts[450:], images[450:], "y"),
    ):
        _, best = model.retrieve(queries, gallery, query_view=view, n_neighbors=1)
        accuracy = np.mean(digits[450:][best[:, 0]] == digits[450:])
        assert accuracy > 0.5  # chance is 0.1


def test_text_predictions_stay_in_the_vectorised_space(captions):
    """With text y, 'auto' returns predictions in the LSA space, not words."""
    images, texts, _ = captions
    model = TwoViewPipeline(
        CrossModalEmbedding(n_components=9), y_transformer=_lsa()
    ).fit(images, texts)
    prediction = model.predict(images[:5])
    assert prediction.shape == (5, 12) and prediction.dtype.kind == "f"


def test_sparse_transformer_output_is_refused_with_advice(captions):
    """A plain TfidfVectorizer's sparse output gets an error suggesting a fix."""
    images, texts, _ = captions
    model = TwoViewPipeline(CrossModalEmbedding(), y_transformer=TfidfVectorizer())
    with pytest.raises(TypeError, match="dense data is required.*TruncatedSVD"):
        model.fit(images, texts)


def test_densifying_step_makes_sparse_text_usable(captions):
    """Tf-idf followed by a densifying step fits and embeds both views."""
    images, texts, _ = captions
    densify = FunctionTransformer(lambda m: m.toarray(), accept_sparse=True)
    model = TwoViewPipeline(
        CrossModalEmbedding(n_components=5, whiten=True, reg=0.1),
        y_transformer=make_pipeline(TfidfVectorizer(), densify),
    ).fit(images, texts)
    X_scores, y_scores = model.transform(images[:7], texts[:7])
    assert X_scores.shape == y_scores.shape == (7, 5)


def test_retrieve_matches_cosine_of_transformed_views(views):
    """retrieve ranks the gallery by cosine similarity of the transformed views."""
    X, y = views
    model = _scaled_model().fit(X[:80], y[:80])
    X_scores, y_scores = model.transform(X[80:], y[80:])
    X_unit = X_scores / np.linalg.norm(X_scores, axis=1, keepdims=True)
    y_unit = y_scores / np.linalg.norm(y_scores, axis=1, keepdims=True)
    cosine = y_unit @ X_unit.T
    similarities, indices = model.retrieve(y[80:], X[80:], query_view="y")
    np.testing.assert_array_equal(indices[:, 0], cosine.argmax(axis=1))
    np.testing.assert_allclose(similarities[:, 0], cosine.max(axis=1))


def test_retrieve_rejects_unknown_query_view(views):
    """An unknown query_view is refused before anything is transformed."""
    X, y = views
    model = _scaled_model().fit(X, y)
    with pytest.raises(ValueError, match="query_view must be 'X' or 'y'"):
        model.retrieve(X, y, query_view="z")


def test_sample_weight_reaches_the_estimator(views):
    """Weights go to the estimator: same fit as weighting the scaled views directly."""
    X, y = views
    weights = np.random.default_rng(1).integers(0, 4, size=X.shape[0])
    model = _scaled_model().fit(X, y, sample_weight=weights)
    X_s, y_s = StandardScaler().fit_transform(X), StandardScaler().fit_transform(y)
    reference = CrossModalEmbedding(n_components=4, whiten=True)
    reference.fit(X_s, y_s, sample_weight=weights)
    np.testing.assert_allclose(model.estimator_.coef_, reference.coef_)
    unweighted = _scaled_model().fit(X, y)
    assert not np.allclose(model.estimator_.coef_, unweighted.estimator_.coef_)


def test_grid_search_tunes_nested_parameters(captions):
    """GridSearchCV reaches the estimator's and the y transformer's parameters."""
    images, texts, _ = captions
    model = TwoViewPipeline(
        CrossModalEmbedding(whiten=True, reg=0.1), y_transformer=_lsa()
    )
    grid = {
        "estimator__n_components": [3, 8],
        "y_transformer__tfidfvectorizer__max_features": [12, None],
    }
    search = GridSearchCV(model, grid, cv=3, scoring=RETRIEVAL_SCORERS, refit="mrr")
    search.fit(images, texts)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert (
        best.estimator_.n_components_ == search.best_params_["estimator__n_components"]
    )
    assert (
        best.y_transformer_[0].max_features
        == search.best_params_["y_transformer__tfidfvectorizer__max_features"]
    )


def test_retrieval_scorers_work_on_the_pipeline(views):
    """The library's scorers embed held-out pairs through both transformers."""
    X, y = views
    model = _scaled_model().fit(X[:80], y[:80])
    assert RETRIEVAL_SCORERS["mrr"](model, X[80:], y[80:]) == pytest.approx(
        model.score(X[80:], y[80:])
    )
    X_scores, y_scores = model.transform(X[80:], y[80:])
    assert RETRIEVAL_SCORERS["recall@5"](model, X[80:], y[80:]) == pytest.approx(
        recall_at_k(X_scores, y_scores, k=5)
    )


def test_feature_names_and_n_features_in(views):
    """Feature names out are the estimator's; n_features_in_ comes from X's step."""
    X, y = views
    model = _scaled_model()
    assert not hasattr(model, "n_features_in_")
    model.fit(X, y)
    assert model.n_features_in_ == X.shape[1]
    assert model.n_components_ == 4
    np.testing.assert_array_equal(
        model.get_feature_names_out(), model.estimator_.get_feature_names_out()
    )
    assert model.get_feature_names_out()[0] == "crossmodalembedding0"
    assert _estimator_name(model) == "CrossModalEmbedding"


def test_fit_requires_y(views):
    """Fitting without the second view raises a ValueError that says so."""
    X, _ = views
    with pytest.raises(ValueError, match="requires y to be passed"):
        _scaled_model().fit(X, None)


@settings(max_examples=examples(15), deadline=None)
@given(
    seed=st.integers(0, 2**16),
    log_scale=st.floats(-3, 3),
    shift=st.floats(-1e3, 1e3),
)
def test_standardised_views_make_scores_invariant_to_units(
    views, seed, log_scale, shift
):
    """With StandardScaler on both views, affine changes of units change nothing."""
    X, y = views
    rng = np.random.default_rng(seed)
    scale_x = np.exp(log_scale + rng.uniform(-1, 1, size=X.shape[1]))
    scale_y = np.exp(-log_scale + rng.uniform(-1, 1, size=y.shape[1]))
    model = clone(_scaled_model()).fit(X, y)
    moved = clone(_scaled_model()).fit(X * scale_x + shift, y * scale_y - shift)
    for ours, theirs in zip(
        model.transform(X, y),
        moved.transform(X * scale_x + shift, y * scale_y - shift),
        strict=True,
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


# ------------------------------------------------- regressions of issue 10 ---
def test_pandas_output_keeps_the_input_index_with_transformers(views):
    """set_output("pandas") keeps X's (and y's) index when views are preprocessed."""
    pd = pytest.importorskip("pandas")
    X, y = views
    index = pd.Index([f"event{i}" for i in range(X.shape[0])])
    X_frame = pd.DataFrame(X, index=index, columns=[f"x{i}" for i in range(X.shape[1])])
    y_frame = pd.DataFrame(y, index=index)
    model = _scaled_model().set_output(transform="pandas").fit(X_frame, y_frame)
    X_scores, y_scores = model.transform(X_frame, y_frame)
    assert X_scores.index.equals(index)
    assert y_scores.index.equals(index)
    assert model.transform(X_frame).index.equals(index)
    np.testing.assert_allclose(
        X_scores.to_numpy(), _scaled_model().fit(X, y).transform(X), rtol=1e-10
    )


def test_sample_weight_not_passed_when_the_fit_request_is_false(views):
    """Under metadata routing, a fit request of False keeps the weights away."""
    from sklearn import config_context

    X, y = views
    weights = np.random.default_rng(2).uniform(0.1, 3.0, size=X.shape[0])
    with config_context(enable_metadata_routing=True):
        inner = CrossModalEmbedding(n_components=3).set_fit_request(sample_weight=False)
        model = TwoViewPipeline(inner).fit(X, y, sample_weight=weights)
    unweighted = CrossModalEmbedding(n_components=3).fit(X, y)
    np.testing.assert_allclose(model.estimator_.coef_, unweighted.coef_)
    with config_context(enable_metadata_routing=True):
        inner = CrossModalEmbedding(n_components=3).set_fit_request(sample_weight=True)
        model = TwoViewPipeline(inner).fit(X, y, sample_weight=weights)
    weighted = CrossModalEmbedding(n_components=3).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.estimator_.coef_, weighted.coef_)


def test_wrong_y_width_is_named_y(views):
    """A y of the wrong width is reported as y, not as the transformer's X."""
    X, y = views
    model = _scaled_model().fit(X, y)
    with pytest.raises(ValueError, match=f"y has 2 features.*expecting {y.shape[1]}"):
        model.transform(X, y[:, :2])
    with pytest.raises(ValueError, match="y has 2 features"):
        model.score(X, y[:, :2])


def test_nan_made_by_x_transformer_is_blamed_on_it(views):
    """NaN created by x_transformer names x_transformer, not the estimator."""
    X, y = views

    def positive_or_nan(values):
        return np.where(values > 0, values, np.nan)

    model = TwoViewPipeline(
        CrossModalEmbedding(n_components=3),
        x_transformer=FunctionTransformer(positive_or_nan),
    )
    with pytest.raises(ValueError, match=r"x_transformer \(FunctionTransformer\)"):
        model.fit(X - X.max(), y)
    assert not hasattr(model, "estimator_")  # the failed fit left nothing behind
    fitted = model.fit(np.abs(X) + 1.0, y)
    with pytest.raises(ValueError, match="x_transformer"):
        fitted.transform(-np.abs(X) - 1.0)


def test_pipeline_uses_the_contract_of_the_base_class():
    """retrieve, score and transform are the base class's, not copies."""
    from skcrossmodal.base import CrossModalEstimator

    assert issubclass(TwoViewPipeline, CrossModalEstimator)
    for method in ("retrieve", "transform"):
        assert getattr(TwoViewPipeline, method) is getattr(CrossModalEstimator, method)


@pytest.mark.parametrize(
    ("estimator", "parameter"),
    [
        (CrossModalEmbedding(n_components=-1), "n_components"),
        (CrossModalEmbedding(reg=-0.5), "reg"),
        (SharedLatentRegression(alpha=-3.0), "alpha"),
        (SharedLatentRegression(solver="bogus"), "solver"),
        (SharedLatentRegression(max_iter=0), "max_iter"),
        (SharedLatentRegression(tol=-1), "tol"),
    ],
)
def test_inner_estimator_parameters_are_validated(views, estimator, parameter):
    """A bad parameter of the wrapped estimator raises; the pipeline stays unfitted."""
    X, y = views
    pipeline = TwoViewPipeline(estimator)
    with pytest.raises(InvalidParameterError, match=f"'{parameter}' parameter of"):
        pipeline.fit(X, y)
    assert not hasattr(pipeline, "estimator_")


def test_transformer_parameters_are_validated(views):
    """A bad parameter of a view's transformer raises as in a Pipeline."""
    X, y = views
    pipeline = TwoViewPipeline(
        CrossModalEmbedding(), y_transformer=StandardScaler(with_mean="bogus")
    )
    with pytest.raises(InvalidParameterError, match="'with_mean' parameter"):
        pipeline.fit(X, y)
