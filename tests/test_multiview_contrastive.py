"""MultiViewContrastiveAligner: the K-view loss by hand, training, missing views.

The loss is checked against a numpy transcription of the documented rule
(InfoNCE and SigLIP, with missing views and weights); the K = 2 case against
ContrastiveAligner; training on make_multiview data against chance and the
untrained start; the data-parallel fit against one process.
"""

import io
import pickle

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal

torch = pytest.importorskip("torch")

from skcrossmodal import (  # noqa: E402
    ContrastiveAligner,
    MultiViewCCA,
    MultiViewContrastiveAligner,
)
from skcrossmodal import distributed as launcher  # noqa: E402
from skcrossmodal._torch import modules  # noqa: E402
from skcrossmodal._torch.multiview import (  # noqa: E402
    multiview_batch_loss,
    view_pairs,
)
from skcrossmodal.callbacks import Callback, EarlyStopping  # noqa: E402
from skcrossmodal.datasets import make_multiview  # noqa: E402
from skcrossmodal.metrics import mean_reciprocal_rank  # noqa: E402

TIMEOUT = 60.0


def _model(**params):
    defaults = {
        "n_components": 4,
        "hidden_layer_sizes": (16,),
        # The random start unless a test asks for another (init="auto", the
        # default, starts most of these data at MCCA).
        "init": "random",
        "max_epochs": 5,
        "batch_size": 64,
        "early_stopping": False,
        "device": "cpu",
        "random_state": 0,
    }
    return MultiViewContrastiveAligner(**{**defaults, **params})


def _data(n=240, n_views=3, missing_rate=0.0, seed=0):
    return make_multiview(
        n_samples=n,
        n_views=n_views,
        n_features=6,
        n_latent=3,
        n_private=1,
        noise=0.1,
        missing_rate=missing_rate,
        random_state=seed,
    )


def _weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.model_.state_dict().items()}


# ------------------------------------------------------- loss by hand ---
def _log_softmax(a, axis):
    top = a.max(axis=axis, keepdims=True)
    return a - top - np.log(np.exp(a - top).sum(axis=axis, keepdims=True))


def _info_nce(za, zb, scale, w):
    logits = scale * za @ zb.T
    idx = np.arange(len(za))
    per_row = -0.5 * (
        _log_softmax(logits, 1)[idx, idx] + _log_softmax(logits, 0)[idx, idx]
    )
    return np.mean(w * per_row)


def _siglip(za, zb, scale, bias, w):
    logits = scale * za @ zb.T + bias
    labels = 2 * np.eye(len(za)) - 1
    pair_weight = 0.5 * (w[:, None] + w[None, :])
    return (pair_weight * np.logaddexp(0, -labels * logits)).sum() / len(za)


def _hand_loss(z, present, pairs, scale, bias, w, loss):
    terms = []
    for a, b in pairs:
        rows = present[:, a] & present[:, b]
        if rows.sum() < 2:
            continue
        za, zb, wr = z[a][rows], z[b][rows], w[rows]
        terms.append(
            _info_nce(za, zb, scale, wr)
            if loss == "infonce"
            else _siglip(za, zb, scale, bias, wr)
        )
    return np.mean(terms)


def _fixed_batch(seed=0, n=9, n_views=4, d=3):
    rng = np.random.default_rng(seed)
    z = [rng.normal(size=(n, d)) for _ in range(n_views)]
    z = [a / np.linalg.norm(a, axis=1, keepdims=True) for a in z]
    present = rng.uniform(size=(n, n_views)) > 0.3
    if n_views == 4:
        # Views 2 and 3 together in one row only: their pair drops out.
        present[:, 3] = False
        present[0, 3] = present[1, 3] = True
        present[0, 2], present[1, 2] = True, False
        present[1, 0] = present[1, 1] = True
    w = rng.uniform(0.2, 2.0, size=n)
    return z, present, w


@pytest.mark.parametrize("loss", ["infonce", "siglip"])
@pytest.mark.parametrize("pairs, anchor", [("all", 0), ("anchor", 1)])
def test_batch_loss_equals_the_documented_rule_by_hand(loss, pairs, anchor):
    """Mean over the pairs with 2 co-present rows of their weighted losses."""
    z, present, w = _fixed_batch()
    chosen = view_pairs(4, pairs, anchor)
    assert chosen == (
        ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
        if pairs == "all"
        else ((1, 0), (1, 2), (1, 3))
    )
    log_scale, bias = np.log(7.0), -2.0
    got = multiview_batch_loss(
        [torch.from_numpy(a) for a in z],
        torch.from_numpy(present),
        chosen,
        torch.tensor(log_scale, dtype=torch.float64),
        torch.tensor(bias, dtype=torch.float64),
        torch.from_numpy(w),
        loss=loss,
    )
    expected = _hand_loss(z, present, chosen, 7.0, bias, w, loss)
    assert_allclose(float(got), expected, rtol=1e-12)
    # The pair (2, 3) shares one row: leaving it in would change the value.
    assert (present[:, 2] & present[:, 3]).sum() == 1


@settings(max_examples=examples(30), deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 12),
    n_views=st.integers(2, 5),
    keep=st.floats(0.3, 1.0),
    loss=st.sampled_from(["infonce", "siglip"]),
    pairs=st.sampled_from(["all", "anchor"]),
)
def test_batch_loss_rule_holds_for_any_presence_and_weights(
    seed, n, n_views, keep, loss, pairs
):
    """Any presence pattern, weights, anchor: the hand rule, and a joint
    permutation of the rows leaves the loss unchanged."""
    rng = np.random.default_rng(seed)
    z = [rng.normal(size=(n, 3)) for _ in range(n_views)]
    z = [a / np.linalg.norm(a, axis=1, keepdims=True) for a in z]
    present = rng.uniform(size=(n, n_views)) < keep
    w = rng.uniform(0.0, 2.0, size=n)
    chosen = view_pairs(n_views, pairs, int(rng.integers(n_views)))

    def value(order):
        return float(
            multiview_batch_loss(
                [torch.from_numpy(a[order]) for a in z],
                torch.from_numpy(present[order]),
                chosen,
                torch.tensor(0.5, dtype=torch.float64),
                torch.tensor(-1.0, dtype=torch.float64),
                torch.from_numpy(w[order]),
                loss=loss,
            )
        )

    counts = [(present[:, a] & present[:, b]).sum() for a, b in chosen]
    got = value(np.arange(n))
    if max(counts) < 2:
        assert got == 0.0
    else:
        expected = _hand_loss(z, present, chosen, np.exp(0.5), -1.0, w, loss)
        assert_allclose(got, expected, rtol=1e-10)
    assert_allclose(value(rng.permutation(n)), got, rtol=1e-10, atol=1e-12)


def test_two_complete_views_give_contrastive_aligners_info_nce():
    """K = 2, every row present: the loss is the two-view symmetric InfoNCE."""
    z, _, w = _fixed_batch(n_views=2)
    present = np.ones((len(w), 2), dtype=bool)
    za, zb = (torch.from_numpy(a) for a in z)
    scale = torch.tensor(np.log(1 / 0.07), dtype=torch.float64)
    for weight in (None, torch.from_numpy(w)):
        got = multiview_batch_loss(
            [za, zb], torch.from_numpy(present), ((0, 1),), scale, weight=weight
        )
        assert_allclose(
            float(got), float(modules.symmetric_info_nce(za, zb, scale, weight))
        )


def test_two_complete_views_train_as_contrastive_aligner():
    """Same seed, K = 2, no view missing: the fit is ContrastiveAligner's."""
    X, views, _ = _data(n=120, n_views=2)
    params = {
        "n_components": 4,
        "hidden_layer_sizes": (16,),
        "max_epochs": 4,
        "batch_size": 40,
        "early_stopping": False,
        "device": "cpu",
        "random_state": 3,
    }
    multi = MultiViewContrastiveAligner(views, init="random", **params).fit(X)
    two = ContrastiveAligner(init="random", **params).fit(X[:, :6], X[:, 6:])
    assert_allclose(multi.loss_curve_, two.loss_curve_, rtol=1e-5)
    z_x, z_y = two.transform(X[:, :6], X[:, 6:])
    assert_allclose(multi.transform(X), np.hstack([z_x, z_y]), atol=1e-5)


def test_rows_lacking_a_view_have_no_effect_on_its_pairs():
    """Their embeddings of a missing view change neither loss nor gradients."""
    z, present, w = _fixed_batch()
    pairs = view_pairs(4, "all")
    scale = torch.tensor(2.0, dtype=torch.float64)

    def loss_and_grads(embeddings):
        tensors = [torch.tensor(a, requires_grad=True) for a in embeddings]
        value = multiview_batch_loss(
            tensors, torch.from_numpy(present), pairs, scale, weight=torch.tensor(w)
        )
        value.backward()
        return float(value.detach()), [t.grad.numpy() for t in tensors]

    value, grads = loss_and_grads(z)
    changed = [a.copy() for a in z]
    for view in range(4):
        changed[view][~present[:, view]] = 5.0
    value_changed, grads_changed = loss_and_grads(changed)
    assert value_changed == value
    for view in range(4):
        assert_array_equal(grads_changed[view], grads[view])
        assert not grads[view][~present[:, view]].any()


def test_anchor_pairs_ignore_what_rows_without_the_anchor_hold():
    """pairs="anchor": swapping view 1 between two rows lacking the anchor
    leaves the fit unchanged; with every pair, the (1, 2) pair sees it."""
    X, views, _ = _data(n=120, n_views=3)
    X[:10, views["view0"]] = np.nan
    swapped = X.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    swapped[:, views["view2"]] = X[:, views["view2"]]  # only view 1 moves
    for pairs, same in (("anchor", True), ("all", False)):
        a = _weights(_model(pairs=pairs, anchor_view="view0").fit(X))
        b = _weights(_model(pairs=pairs, anchor_view="view0").fit(swapped))
        gap = max(np.abs(a[k] - b[k]).max() for k in a)
        assert (gap < 1e-6) if same else (gap > 1e-4), (pairs, gap)


# ------------------------------------------------------------ training ---
def _chance_mrr(n):
    return np.sum(1.0 / np.arange(1, n + 1)) / n


def test_training_aligns_four_views_far_above_chance():
    X, views, _ = _data(n=500, n_views=4, seed=1)
    X, X_test = X[:400], X[400:]  # one draw: the same views' maps
    start = _model(views=views, max_epochs=1, learning_rate=1e-9).fit(X)
    model = _model(views=views, max_epochs=40, batch_size=100, learning_rate=1e-2)
    model.fit(X)
    chance = _chance_mrr(len(X_test))
    assert model.score(X_test) > 0.6 > 10 * chance
    assert model.score(X_test) > start.score(X_test) + 0.4
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    # Recall@1 of one pair by retrieve, far above 1 / 100.
    _, top = model.retrieve(
        X_test, X_test, query_view="view0", gallery_view="view3", n_neighbors=1
    )
    assert np.mean(top[:, 0] == np.arange(len(X_test))) > 0.3


def test_missing_views_still_train_and_give_nan_blocks():
    X, views, _ = _data(n=400, n_views=3, missing_rate=0.3, seed=4)
    lacking = np.isnan(X[:, [0, 6, 12]])
    assert 0.2 < lacking.mean() < 0.4
    model = _model(views=views, max_epochs=30, batch_size=100, learning_rate=1e-2)
    Z = model.fit(X).transform(X)
    for view in range(3):
        block = Z[:, 4 * view : 4 * view + 4]
        assert_array_equal(np.isnan(block).all(axis=1), lacking[:, view])
        assert not np.isnan(block[~lacking[:, view]]).any()
    assert model.score(X) > 10 * _chance_mrr(len(X))
    assert_array_equal(
        model.transform_view(X, "view1"), Z[:, 4:8]
    )  # one view alone is the same block


def test_score_is_the_mean_over_pairs_of_the_two_way_metric():
    X, views, _ = _data(n=150, n_views=3, missing_rate=0.2, seed=5)
    model = _model(views=views).fit(X)
    Z = model.transform(X)
    values = []
    for a, b in ((0, 1), (0, 2), (1, 2)):
        rows = ~np.isnan(Z[:, 4 * a]) & ~np.isnan(Z[:, 4 * b])
        values.append(
            mean_reciprocal_rank(Z[rows, 4 * a : 4 * a + 4], Z[rows, 4 * b : 4 * b + 4])
        )
    assert_allclose(model.score(X), np.mean(values))


def test_siglip_trains():
    X, views, _ = _data(n=300, n_views=3, seed=6)
    model = _model(
        views=views, loss="siglip", max_epochs=60, batch_size=100, learning_rate=1e-2
    ).fit(X)
    assert model.model_.logit_bias is not None
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    assert model.score(X) > 10 * _chance_mrr(len(X))


def test_sample_weight_zero_rows_train_nothing_alone():
    """A row of weight zero adds no loss term (only serves as a negative)."""
    X, views, _ = _data(n=60, n_views=3, seed=7)
    weight = np.ones(len(X))
    weight[:30] = 0.0
    model = _model(views=views, batch_size=128, max_epochs=2)
    model.fit(X, sample_weight=weight)
    assert np.all(np.isfinite(model.loss_curve_))
    other = _model(views=views, batch_size=128, max_epochs=2).fit(X)
    assert not np.allclose(model.transform(X), other.transform(X))


# ------------------------------------------------- estimator contract ---
def test_dataframe_views_by_name_pandas_output_and_grid_search():
    """Named columns select the views; pandas output names each view's block;
    GridSearchCV chooses pairs by the K-view score."""
    pd = pytest.importorskip("pandas")
    from sklearn.model_selection import GridSearchCV

    X, _, _ = _data(n=120, missing_rate=0.2)
    names = [f"{view}_{j}" for view in ("a", "b", "c") for j in range(6)]
    frame = pd.DataFrame(X, columns=names)
    views = {v: [f"{v}_{j}" for j in range(6)] for v in ("a", "b", "c")}
    model = _model(views=views, pairs="anchor", anchor_view="b").fit(frame)
    assert model.view_names_ == ["a", "b", "c"]
    out = model.set_output(transform="pandas").transform(frame)
    assert list(out.columns[:2]) == [
        "a__multiviewcontrastivealigner0",
        "a__multiviewcontrastivealigner1",
    ]
    assert_allclose(out.to_numpy()[:, 4:8], model.transform_view(frame, "b"))
    search = GridSearchCV(
        _model(views=views, max_epochs=2), {"pairs": ["all", "anchor"]}, cv=2
    ).fit(frame)
    assert search.best_params_["pairs"] in ("all", "anchor")
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_same_seed_gives_identical_transforms():
    X, views, _ = _data(n=120, missing_rate=0.2)
    first = _model(views=views, dropout=0.2).fit(X).transform(X)
    second = _model(views=views, dropout=0.2).fit(X).transform(X)
    assert_array_equal(first, second)


def test_pickle_and_joblib_round_trips_and_a_cuda_pickle_loads_on_cpu():
    X, views, _ = _data(n=100, missing_rate=0.2)
    model = _model(views=views).fit(X)
    expected = model.transform(X)
    assert_array_equal(pickle.loads(pickle.dumps(model)).transform(X), expected)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    assert_array_equal(joblib.load(buffer).transform(X), expected)
    state = model.__getstate__()
    assert isinstance(state["model_"], bytes) and "_optimizer" not in state
    if not torch.cuda.is_available():
        model.device_ = "cuda:0"  # as if trained on a GPU: weights travel as CPU bytes
        with pytest.warns(UserWarning, match="CUDA is not available"):
            loaded = pickle.loads(pickle.dumps(model))
        assert loaded.device_ == "cpu"
        assert_array_equal(loaded.transform(X), expected)


def test_partial_fit_continues_training():
    X, views, _ = _data(n=120)
    model = _model(views=views)
    model.partial_fit(X[:60])
    before = _weights(model)
    means = [m.copy() for m in model.view_means_]
    model.partial_fit(X[60:])
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    assert any(not np.array_equal(before[k], v) for k, v in _weights(model).items())
    for kept, now in zip(means, model.view_means_, strict=True):
        assert_array_equal(kept, now)  # the first call fixed the standardisation
    warm = _model(views=views, warm_start=True).fit(X)
    warm.fit(X)
    assert warm.n_iter_ == 10
    with pytest.raises(ValueError, match="views cannot change"):
        model.set_params(views={"a": slice(0, 9), "b": slice(9, 18)}).partial_fit(X)


def test_callbacks_early_stopping_and_progress_printing(capsys):
    X, views, _ = _data(n=200)

    class Record(Callback):
        def on_train_begin(self, loop):
            self.epochs = []

        def on_epoch_end(self, loop, record):
            self.epochs.append((record.epoch, record.score))

    record = Record()
    model = _model(
        views=views,
        max_epochs=30,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=2,
        tol=0.5,  # no epoch improves this much: stops after the patience
        verbose=1,
        callbacks=[record],
    ).fit(X)
    assert model.n_iter_ == len(record.epochs) < 30
    assert all(score is not None for _, score in record.epochs)
    assert_allclose(model.validation_scores_, [s for _, s in record.epochs])
    out = capsys.readouterr().out
    assert "validation MRR" in out and "did not improve" in out.splitlines()[-1]
    # A public callback passed by the user stops on the loss.
    user = _model(views=views, max_epochs=40, callbacks=[EarlyStopping(1, tol=10.0)])
    assert user.fit(X).n_iter_ < 40


def test_n_jobs_sets_torch_threads_during_training(monkeypatch):
    """Training steps run on n_jobs threads; the process's count comes back."""
    from skcrossmodal._torch.multiview import MultiViewLoop

    X, views, _ = _data(n=60)
    seen = []
    step = MultiViewLoop.train_step

    def recording(self, *batch):
        seen.append(torch.get_num_threads())
        return step(self, *batch)

    monkeypatch.setattr(MultiViewLoop, "train_step", recording)
    before = torch.get_num_threads()
    _model(views=views, n_jobs=2, max_epochs=1).fit(X)
    assert seen and set(seen) == {2}
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_jobs=0"):
        _model(views=views, n_jobs=0).fit(X)


def _failing_fit(model, X):
    with pytest.raises(ValueError) as caught:
        model.fit(X)
    return str(caught.value)


def test_bad_input_raises_clear_errors_and_leaves_the_estimator_unchanged():
    X, views, _ = _data(n=60)
    assert "at least 2 views" in _failing_fit(_model(views=[slice(0, 18)]), X)
    assert "Unknown view 'sound'" in _failing_fit(
        _model(views=views, pairs="anchor", anchor_view="sound"), X
    )
    no_rows = X.copy()
    no_rows[:, views["view2"]] = np.nan
    assert "'view2' is present in 0 row(s)" in _failing_fit(
        _model(views=views), no_rows
    )
    apart = X.copy()
    apart[:30, views["view0"]] = np.nan  # view 0 only in rows 30-59
    apart[30:, views["view1"]] = np.nan  # view 1 only in rows 0-29
    message = _failing_fit(_model(views=views, pairs="anchor"), apart)
    assert "'view1' is present together with 'view0'" in message
    partly = X.copy()
    partly[3, 7] = np.nan
    assert "View 'view1' is NaN in only some" in _failing_fit(
        _model(views=views), partly
    )
    assert "minimum of 2" in _failing_fit(_model(views=views), X[:1])
    if not torch.cuda.is_available():
        assert "CUDA is not available" in _failing_fit(
            _model(views=views, device="cuda"), X
        )

    model = _model(views=views).fit(X)
    expected, weights = model.transform(X), _weights(model)
    with pytest.raises(ValueError, match="18 features"):
        model.transform(X[:, :10])
    for bad in (partly, no_rows):
        with pytest.raises(ValueError):
            model.fit(bad)
    assert_array_equal(model.transform(X), expected)
    for key, value in _weights(model).items():
        assert_array_equal(value, weights[key])
    # init="mcca" needs every pair of views in 2 training rows (MultiViewCCA);
    # pairs="anchor" does not train views 1 and 2 together.
    rare = X.copy()
    rare[2:, views["view2"]] = np.nan
    rare[:2, views["view1"]] = np.nan
    assert "init='mcca' fits MultiViewCCA" in _failing_fit(
        _model(views=views, init="mcca", pairs="anchor"), rare
    )
    assert "'init' parameter" in _failing_fit(_model(views=views, init="cca"), X)
    fresh = _model(views=views)
    _failing_fit(fresh, partly)
    assert not hasattr(fresh, "n_features_in_") and not hasattr(fresh, "model_")


def test_importing_does_not_need_torch_to_construct():
    """Construction, get_params and clone need no torch (checked by the API
    tests for the package import); the parameters round-trip."""
    from sklearn.base import clone

    model = MultiViewContrastiveAligner({"a": [0], "b": [1]}, pairs="anchor")
    assert clone(model).get_params() == model.get_params()


# ------------------------------------------------------ data-parallel ---
SHARDS = (16, 16)


def _fit_shard_on_rank(X, weight):
    import torch.distributed as dist

    rank = dist.get_rank()
    rows = slice(0, SHARDS[0]) if rank == 0 else slice(SHARDS[0], None)
    model = _model(views=_data(n=32)[1], batch_size=32, max_epochs=3, dropout=0.0)
    model.fit(X[rows], sample_weight=weight[rows])
    stopped = _model(
        views=_data(n=32)[1],
        batch_size=8,
        max_epochs=25,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=2,
        tol=0.5,  # no epoch improves this much: stops after the patience
    ).fit(X[rows], sample_weight=weight[rows])
    mcca = _model(
        views=_data(n=32)[1], init="mcca", batch_size=32, max_epochs=3, dropout=0.0
    ).fit(X[rows], sample_weight=weight[rows])
    return {
        "loss_curve": model.loss_curve_,
        "weights": _weights(model),
        "stopped": (stopped.n_iter_, stopped.best_epoch_, stopped.validation_scores_),
        "stopped_weights": _weights(stopped),
        "mcca_weights": _weights(mcca),
    }


def test_two_ranks_equal_one_process_with_the_global_batch():
    """2 ranks x batch 32 == 1 process x batch 64 (missing views, weights),
    from the random start and from MCCA; early stopping is agreed by the ranks."""
    X, views, _ = _data(n=sum(SHARDS), missing_rate=0.25)
    weight = np.random.default_rng(0).uniform(0.2, 3.0, size=len(X))
    per_rank = launcher.run(_fit_shard_on_rank, X, weight, timeout=TIMEOUT)
    alone = _model(views=views, batch_size=64, max_epochs=3, dropout=0.0)
    alone.fit(X, sample_weight=weight)
    for key, value in per_rank[0]["weights"].items():
        assert_array_equal(per_rank[1]["weights"][key], value)
    # Early stopping on every rank's held-out rows: both ranks stop together.
    first, second = (rank["stopped"] for rank in per_rank)
    assert first[0] == second[0] < 25 and first[1] == second[1]
    assert_array_equal(first[2], second[2])
    for key, value in per_rank[0]["stopped_weights"].items():
        assert_array_equal(per_rank[1]["stopped_weights"][key], value)
    assert_allclose(per_rank[0]["loss_curve"], alone.loss_curve_, rtol=1e-4)
    for key, value in _weights(alone).items():
        assert_allclose(per_rank[0]["weights"][key], value, rtol=1e-3, atol=1e-4)
    # init="mcca": every rank starts at the MCCA of all the ranks' rows.
    mcca_alone = _model(
        views=views, init="mcca", batch_size=64, max_epochs=3, dropout=0.0
    ).fit(X, sample_weight=weight)
    for key, value in _weights(mcca_alone).items():
        assert_array_equal(
            per_rank[1]["mcca_weights"][key], per_rank[0]["mcca_weights"][key]
        )
        assert_allclose(per_rank[0]["mcca_weights"][key], value, rtol=1e-3, atol=1e-4)
    # The public launcher takes the K-view estimator and its NaN blocks.
    fitted = launcher.fit(
        _model(views=views, batch_size=32, max_epochs=3, dropout=0.0),
        X,
        sample_weight=weight,
        n_processes=2,
        timeout=TIMEOUT,
    )
    assert_allclose(fitted.transform(X), alone.transform(X), atol=1e-4)


def test_final_step_of_a_multiview_pipeline():
    """In MultiViewPipeline the aligner trains on the transformed views: the
    pipeline's transform and retrieve are the fitted aligner's on the views
    the pipeline's transformers give, and it offers no partial_fit (there are
    no statistics to stream through the transformers)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    from skcrossmodal import MultiViewPipeline

    X, views, _ = _data(n=200, missing_rate=0.1)
    pipeline = MultiViewPipeline(
        _model(views=views, max_epochs=3),
        transformers={"view0": PCA(3), "view1": StandardScaler()},
    )
    assert not hasattr(pipeline, "partial_fit")
    pipeline.fit(X)
    inner = pipeline.estimator_
    assert isinstance(inner, MultiViewContrastiveAligner)
    assert inner.view_columns_[0].tolist() == [0, 1, 2]
    transformed = pipeline._check(X)
    assert_array_equal(pipeline.transform(X), inner.transform(transformed))
    present = ~np.isnan(X[:, views["view0"]]).all(axis=1) & ~np.isnan(
        X[:, views["view2"]]
    ).all(axis=1)
    rows = X[present][:20]
    similarities, indices = pipeline.retrieve(
        rows, rows, query_view="view0", gallery_view="view2", n_neighbors=3
    )
    expected = inner.retrieve(
        pipeline._check(rows),
        pipeline._check(rows),
        query_view="view0",
        gallery_view="view2",
        n_neighbors=3,
    )
    assert_array_equal(indices, expected[1])
    assert_allclose(similarities, expected[0])


# ------------------------------------------------------- init="mcca" ---
class _Start(Callback):
    """Record the weights before any step, the training rows and the start's score."""

    def on_train_begin(self, loop):
        self.state = {k: v.detach().clone() for k, v in loop.model.state_dict().items()}
        self.train_rows = loop.data.train_rows.numpy().copy()
        self.initial_score = loop.initial_score


def _standardized(model, X):
    """X with each view standardised as the model does it (float32 values)."""
    Xs = np.full_like(X, np.nan)
    for k, columns in enumerate(model.view_columns_):
        block = (X[:, columns] - model.view_means_[k]) / model.view_scales_[k]
        Xs[:, columns] = block.astype(np.float32)
    return Xs


def _assert_starts_at_mcca(model, start, X, weight=None, rows=None):
    """Every view's embedding under the start's weights is its unit MCCA score."""
    rows = np.arange(len(X)) if rows is None else rows
    Xs = _standardized(model, X)
    widths = [c.size for c in model.view_columns_]
    mcca = MultiViewCCA(model.views, n_components=min(model.n_components, *widths))
    mcca.fit(Xs[rows], sample_weight=None if weight is None else weight[rows])
    fitted = {k: v.clone() for k, v in model.model_.state_dict().items()}
    model.model_.load_state_dict(start.state)
    try:
        for name in model.view_names_:
            scores = mcca.transform_view(Xs, name)
            has = ~np.isnan(scores[:, 0])
            unit = scores[has] / np.linalg.norm(scores[has], axis=1, keepdims=True)
            z = model.transform_view(X, name)[has]
            assert_allclose(z[:, : unit.shape[1]], unit, atol=1e-6)
            assert_array_equal(z[:, unit.shape[1] :], 0.0)  # columns MCCA lacks
    finally:
        model.model_.load_state_dict(fitted)


@pytest.mark.parametrize("loss", ["infonce", "siglip"])
@pytest.mark.parametrize("pairs", ["all", "anchor"])
@pytest.mark.parametrize("weighted", [False, True])
def test_mcca_start_is_each_views_normalised_mcca_score(loss, pairs, weighted):
    """Before any step, view k's embedding is MultiViewCCA's score of the
    standardised rows, normalised (to 1e-6), missing views and weights
    included; the MLP is a zero-started residual."""
    X, views, _ = _data(n=150, missing_rate=0.3, seed=2)
    weight = np.random.default_rng(1).uniform(0.2, 3.0, len(X)) if weighted else None
    start = _Start()
    model = _model(
        views=views, init="mcca", n_components=8, loss=loss, pairs=pairs
    )  # 8 > the views' 6 columns: the last 2 columns start at 0
    model.set_params(max_epochs=2, callbacks=[start]).fit(X, sample_weight=weight)
    _assert_starts_at_mcca(model, start, X, weight)
    last = len(model.model_.encoders[0]) - 1  # the MLPs' output layer
    for k in range(len(views)):
        assert not start.state[f"encoders.{k}.{last}.weight"].any()  # residual: 0
        assert not start.state[f"encoders.{k}.{last}.bias"].any()
        assert start.state[f"encoders.{k}.0.weight"].any()  # hidden: random
    # Training moved away from the start (the residual too).
    moved = _weights(model)
    assert moved[f"encoders.0.{last}.weight"].any()
    assert not np.allclose(moved["linears.0.weight"], start.state["linears.0.weight"])


def test_mcca_start_is_kept_when_no_epoch_beats_it():
    """Early stopping scores the MCCA start first; a callback that scrambles
    the weights after that leaves no epoch able to beat it, and the model
    ends exactly at the start (best_epoch_ 0), fitted on the training rows."""

    class Scramble(Callback):
        def on_train_begin(self, loop):
            generator = torch.Generator().manual_seed(0)
            with torch.no_grad():
                for parameter in loop.model.parameters():
                    parameter.add_(
                        3 * torch.randn(parameter.shape, generator=generator)
                    )

    X, views, _ = _data(n=300, missing_rate=0.2, seed=5)
    start = _Start()
    model = _model(
        views=views,
        init="mcca",
        max_epochs=2,
        learning_rate=1e-6,
        early_stopping=True,
        validation_fraction=0.3,
        callbacks=[start, Scramble()],
    ).fit(X)
    assert model.best_epoch_ == 0 and model.n_iter_ == 2
    assert start.initial_score > max(model.validation_scores_)
    assert len(start.train_rows) == 210
    for key, value in _weights(model).items():
        assert_array_equal(value, start.state[key].numpy())
    _assert_starts_at_mcca(model, start, X, rows=start.train_rows)


def _nonlinear_views(n, seed):
    """Two views of a 2-d latent with no linear relation: z and its complex square."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    square = np.column_stack([z[:, 0] ** 2 - z[:, 1] ** 2, 2 * z[:, 0] * z[:, 1]])
    X = np.hstack([z, square, z**3]) + 0.05 * rng.normal(size=(n, 6))
    return X, {"z": [0, 1], "square": [2, 3], "cube": [4, 5]}


def test_mcca_start_gives_way_to_epochs_that_beat_it():
    """Where MCCA misses a nonlinear link, trained epochs beat the start on
    the validation rows and are kept."""
    X, views = _nonlinear_views(600, seed=0)
    start = _Start()
    model = _model(
        views=views,
        init="mcca",
        hidden_layer_sizes=(32,),
        max_epochs=30,
        learning_rate=1e-2,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=30,
        callbacks=[start],
    ).fit(X)
    assert model.best_epoch_ > 0
    kept = model.validation_scores_[model.best_epoch_ - 1]
    assert kept > start.initial_score + 0.05


def test_mcca_init_applies_only_when_a_model_starts():
    """partial_fit's first call starts at MCCA of its chunk; later calls and
    warm starts continue from the current weights, the linear paths at 1/10
    of the learning rate."""
    X, views, _ = _data(n=160, missing_rate=0.2, seed=3)
    first, second = _Start(), _Start()
    model = _model(views=views, init="mcca", callbacks=[first])
    model.partial_fit(X[:80])
    _assert_starts_at_mcca(model, first, X[:80])
    after_first = _weights(model)
    model.set_params(callbacks=[second]).partial_fit(X[80:])
    for key, value in after_first.items():
        assert_array_equal(second.state[key].numpy(), value)
    warm = _model(views=views, init="mcca", warm_start=True).fit(X)
    ended, start = _weights(warm), _Start()
    warm.set_params(callbacks=[start], learning_rate=0.5).fit(X)
    for key, value in ended.items():
        assert_array_equal(start.state[key].numpy(), value)
    rates = sorted(group["lr"] for group in warm._optimizer.param_groups)
    assert_allclose(rates, [0.05, 0.5, 0.5])


def test_mcca_model_pickles():
    X, views, _ = _data(n=100, missing_rate=0.2)
    model = _model(views=views, init="mcca").fit(X)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.model_.linears is not None
    assert_array_equal(loaded.transform(X), model.transform(X))
    assert_array_equal(
        loaded.set_params(warm_start=True).fit(X).transform(X),
        model.set_params(warm_start=True).fit(X).transform(X),
    )


def test_auto_early_stopping_holds_out_rows_for_an_mcca_start_only():
    """early_stopping="auto" holds out validation rows below 10 000 rows for
    a fit from MCCA (its start must compete), not from a random start, and
    trains on every row when the held-out rows hold no pair of views."""
    X, views, _ = _data(n=100, missing_rate=0.2)
    auto = {"early_stopping": "auto", "max_epochs": 3}
    mcca = _model(views=views, init="mcca", **auto).fit(X)
    assert len(mcca.validation_scores_) == 3
    assert _model(views=views, **auto).fit(X).validation_scores_ is None
    assert _model(views=views, init="mcca", **auto).partial_fit(X).n_iter_ == 1
    # Rows 4 to 39 hold one view each: the 4 held-out rows cannot hold a pair.
    lonely = X[:40].copy()
    for row in range(4, 40):
        for view, columns in enumerate(views.values()):
            if view != row % 3:
                lonely[row, columns] = np.nan
    start = _Start()
    model = _model(views=views, init="mcca", callbacks=[start], **auto)
    assert model.fit(lonely).validation_scores_ is None
    assert len(start.train_rows) == 40
    with pytest.raises(ValueError, match="No pair of views is present together"):
        model.set_params(early_stopping=True, callbacks=None).fit(lonely)


def test_auto_init_starts_at_mcca_when_every_pair_has_rows_together():
    """init="auto" is init="mcca" when every pair of views shares rows, and
    init="random" when some pair never meets (each view paired with an
    anchor only, as ImageBind's data): same weights, same transform."""
    X, views, _ = _data(n=200, missing_rate=0.2)
    auto = _model(views=views, init="auto").fit(X)
    assert auto.init_ == "mcca"
    assert_array_equal(
        auto.transform(X), _model(views=views, init="mcca").fit(X).transform(X)
    )
    # Rows 0..99 have views 0 and 1, rows 100..199 views 0 and 2: views 1
    # and 2 never meet.
    anchored = X.copy()
    anchored[:100, views["view2"]] = np.nan
    anchored[100:, views["view1"]] = np.nan
    params = {"views": views, "pairs": "anchor", "anchor_view": "view0"}
    auto = _model(init="auto", **params).fit(anchored)
    assert auto.init_ == "random"
    assert_array_equal(
        auto.transform(anchored),
        _model(init="random", **params).fit(anchored).transform(anchored),
    )
    with pytest.raises(ValueError, match="init='mcca'"):
        _model(init="mcca", **params).fit(anchored)
