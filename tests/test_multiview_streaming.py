"""MultiViewPipeline.partial_fit: chunked updates equal fit on all the rows."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import MaxAbsScaler, StandardScaler

from skcrossmodal import (
    GeneralizedCCA,
    MultiViewCCA,
    MultiViewPipeline,
    MultiViewSharedLatentRegression,
)
from skcrossmodal.datasets import make_multiview


def _data(seed=0, n_samples=360):
    X, views, _ = make_multiview(
        n_samples, n_views=3, n_features=[5, 4, 6], missing_rate=0.25,
        random_state=seed,
    )  # fmt: skip
    # Columns of very different scales and offsets: the scalers matter.
    X = X * np.geomspace(0.01, 100.0, X.shape[1]) + np.arange(X.shape[1])
    weights = np.random.default_rng(seed).uniform(0.2, 3.0, n_samples)
    return X, views, weights


TRANSFORMERS = {"view0": StandardScaler(), "view2": StandardScaler()}


@pytest.mark.parametrize(
    "estimator",
    [
        MultiViewCCA(n_components=3),
        GeneralizedCCA(reg=0.1),
        MultiViewSharedLatentRegression(n_components=2),
    ],
    ids=lambda e: type(e).__name__,
)
def test_chunked_partial_fit_equals_fit(estimator):
    """StandardScaler per view + a K-view estimator, in uneven chunks: fit's model."""
    X, views, weights = _data()
    estimator = estimator.set_params(views=views)
    full = MultiViewPipeline(estimator, transformers=TRANSFORMERS)
    full.fit(X, sample_weight=weights)
    streamed = MultiViewPipeline(estimator, transformers=TRANSFORMERS)
    for rows in np.array_split(np.arange(X.shape[0]), [7, 40, 41, 200]):
        streamed.partial_fit(X[rows], sample_weight=weights[rows])
    for name in TRANSFORMERS:
        assert_allclose(
            streamed.transformers_[name].mean_, full.transformers_[name].mean_
        )
    assert_allclose(streamed.transform(X), full.transform(X), atol=1e-10)
    if hasattr(full.estimator_, "eigenvalues_"):
        assert_allclose(
            streamed.estimator_.eigenvalues_, full.estimator_.eigenvalues_, rtol=1e-10
        )
        assert streamed.score(X) == pytest.approx(full.score(X), abs=1e-12)


def test_partial_fit_after_fit_goes_on_from_the_fit():
    """fit on the first rows, partial_fit on the rest: fit on all (DataFrame views)."""
    X, views, _ = _data(seed=1)
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    named = {name: list(frame.columns[cols]) for name, cols in views.items()}
    transformers = {"view0": StandardScaler(), "view1": MaxAbsScaler()}
    model = MultiViewPipeline(MultiViewCCA(named), transformers=transformers)
    model.fit(frame.iloc[:100]).partial_fit(frame.iloc[100:])
    expected = MultiViewPipeline(MultiViewCCA(named), transformers=transformers)
    assert_allclose(
        model.transform(frame), expected.fit(frame).transform(frame), atol=1e-10
    )


def test_partial_fit_waits_for_every_view_and_pair():
    """Until every view and pair has two rows, statistics are kept, nothing solved."""
    X, views, _ = _data(seed=2)
    X = X.copy()
    X[:3, views["view1"]] = np.nan
    model = MultiViewPipeline(MultiViewCCA(views), transformers=TRANSFORMERS)
    model.partial_fit(X[:3])
    with pytest.raises(NotFittedError):
        model.transform(X)
    model.partial_fit(X[3:])
    expected = MultiViewPipeline(MultiViewCCA(views), transformers=TRANSFORMERS)
    assert_allclose(model.transform(X), expected.fit(X).transform(X), atol=1e-10)


def test_transformers_that_cannot_stream_are_named():
    """No partial_fit, or not affine: a clear error naming the view; nothing kept."""
    X, views, _ = _data()
    with pytest.raises(TypeError, match=r"view 'view1' \(PCA\) has no partial_fit"):
        MultiViewPipeline(
            MultiViewCCA(views), transformers={"view1": PCA(2)}
        ).partial_fit(X)
    model = MultiViewPipeline(
        MultiViewCCA(views, n_components=2),
        transformers={"view2": MiniBatchKMeans(3, n_init=1, random_state=0)},
    )
    with pytest.raises(ValueError, match=r"view 'view2' \(MiniBatchKMeans\) is not"):
        model.partial_fit(X)
    assert not hasattr(model, "transformers_")
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 5], "t": ["word"] * len(X)})
    with pytest.raises(TypeError, match="partial_fit needs numeric views"):
        MultiViewPipeline(MultiViewCCA({"x": ["a"], "y": ["b"]})).partial_fit(frame)


def test_failed_partial_fit_leaves_the_pipeline_as_it_was():
    """A chunk with the wrong width raises and changes nothing."""
    X, views, _ = _data()
    model = MultiViewPipeline(MultiViewCCA(views), transformers=TRANSFORMERS)
    model.partial_fit(X[:200])
    before = model.transform(X)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[200:, :-1])
    assert_allclose(model.transform(X), before)
    assert model.transformers_["view0"].n_samples_seen_.max() <= 200


def test_chunk_failing_on_a_later_view_leaves_earlier_transformers_alone():
    """A chunk whose view1 is partly NaN raises after view0's scaler has seen it:
    the scaler keeps its statistics, so later chunks give the model of fit."""
    X, views, _ = _data()
    model = MultiViewPipeline(MultiViewCCA(views), transformers=TRANSFORMERS)
    model.partial_fit(X[:200])
    seen = model.transformers_["view0"].n_samples_seen_.copy()
    bad = X[200:260].copy()
    bad[np.flatnonzero(~np.isnan(bad[:, 5:9]).any(axis=1))[0], 5] = np.nan
    with pytest.raises(ValueError, match="'view1'"):
        model.partial_fit(bad)
    np.testing.assert_array_equal(model.transformers_["view0"].n_samples_seen_, seen)
    model.partial_fit(X[200:])
    expected = MultiViewPipeline(MultiViewCCA(views), transformers=TRANSFORMERS).fit(X)
    assert_allclose(model.transform(X), expected.transform(X), atol=1e-10)


def test_passthrough_pipeline_streams_like_its_estimator():
    """Without transformers the pipeline's partial_fit is the estimator's."""
    X, views, weights = _data(seed=3)
    model = MultiViewPipeline(MultiViewCCA(views, n_components=2))
    model.fit(X[:120], sample_weight=weights[:120])
    model.partial_fit(X[120:], sample_weight=weights[120:])
    expected = MultiViewCCA(views, n_components=2).fit(X, sample_weight=weights)
    assert_allclose(model.transform(X), expected.transform(X), atol=1e-10)
