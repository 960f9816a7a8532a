"""ContrastiveAligner(init="cca"): a start at regularised CCA, kept if best."""

import io
from types import SimpleNamespace

import joblib
import numpy as np
import pytest
from sklearn.covariance import oas

from skcrossmodal import ContrastiveAligner, CrossModalEmbedding
from skcrossmodal.datasets import make_paired_views

torch = pytest.importorskip("torch")
from skcrossmodal._torch import loop as training  # noqa: E402
from skcrossmodal._torch import modules as models  # noqa: E402


def _aligner(**params):
    """A small CPU aligner started at CCA, seeded; ``params`` override."""
    defaults = dict(
        n_components=3,
        hidden_layer_sizes=(8,),
        init="cca",
        device="cpu",
        random_state=0,
    )
    return ContrastiveAligner(**{**defaults, **params})


def _views(n=120, seed=0):
    X, y, _ = make_paired_views(
        n, n_features_x=6, n_features_y=5, n_latent=3, random_state=seed
    )
    # Units far apart, so that the standardisation matters.
    return X * 1e3 + 5.0, y * 1e-2


def _unit_rows(A):
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def _inverse_sqrt(C):
    values, vectors = np.linalg.eigh(C)
    return vectors / np.sqrt(values) @ vectors.T


def _hand_cca_scores(Xs, ys, k):
    """Canonical scores of OAS-shrunk CCA, each axis weighted by its correlation."""
    Xc, yc = Xs - Xs.mean(axis=0), ys - ys.mean(axis=0)
    roots = []
    for A in (Xc, yc):
        C = A.T @ A / len(A)
        s = oas(A, assume_centered=True)[1]
        shrunk = (1 - s) * C + s * np.trace(C) / len(C) * np.eye(len(C))
        roots.append(_inverse_sqrt(shrunk))
    U, _, Vt = np.linalg.svd(roots[0] @ (Xc.T @ yc / len(Xc)) @ roots[1])
    a, b = Xc @ roots[0] @ U[:, :k], yc @ roots[1] @ Vt[:k].T
    rho = (a * b).mean(axis=0) / np.sqrt((a * a).mean(axis=0) * (b * b).mean(axis=0))
    return a * rho, b * rho


def _cca_of_all_pairs(model, X, y, k):
    """Unit rows of CrossModalEmbedding's scores of all standardised pairs."""
    Xs = (X - model.x_mean_) / model.x_scale_
    ys = (y - model.y_mean_) / model.y_scale_
    cca = CrossModalEmbedding(k, whiten=True, reg="auto").fit(Xs, ys)
    return _unit_rows(cca.transform(Xs))


def _untrained(monkeypatch):
    """Make fit skip every epoch, so the model keeps its initial weights."""

    def no_epochs(loop):
        return training.TrainingResult(best_epoch=loop.plan.first_epoch)

    monkeypatch.setattr(training.TrainingLoop, "fit_loop", no_epochs)


def test_start_is_the_closed_form_regularised_cca(monkeypatch):
    X, y = _views()
    _untrained(monkeypatch)
    model = _aligner(
        hidden_layer_sizes=(16,),
        early_stopping=False,
    ).fit(X, y)
    Xs = (X - model.x_mean_) / model.x_scale_
    ys = (y - model.y_mean_) / model.y_scale_
    a, b = _hand_cca_scores(Xs, ys, 3)
    z_x, z_y = model.transform(X, y)
    # Cosine similarities do not depend on the sign of each canonical axis.
    expected = _unit_rows(a) @ _unit_rows(b).T
    np.testing.assert_allclose(z_x @ z_y.T, expected, atol=2e-5)
    np.testing.assert_allclose(z_x @ z_x.T, _unit_rows(a) @ _unit_rows(a).T, atol=2e-5)
    # And it is the library's CCA of the standardised views, column by column.
    cca = CrossModalEmbedding(3, whiten=True, reg="auto").fit(Xs, ys)
    np.testing.assert_allclose(z_x, _unit_rows(cca.transform(Xs)), atol=2e-5)


def test_wider_shared_space_pads_the_cca_start_with_zeros(monkeypatch):
    X, y = _views()
    _untrained(monkeypatch)
    model = _aligner(
        n_components=8,
        hidden_layer_sizes=(16,),
        early_stopping=False,
    ).fit(X, y)
    z_x = model.transform(X)
    # Only min(6, 5) canonical axes exist; the residual adds nothing yet.
    np.testing.assert_array_equal(z_x[:, 5:], 0.0)
    np.testing.assert_allclose(np.linalg.norm(z_x, axis=1), 1.0, rtol=1e-5)


def test_a_start_better_than_every_epoch_is_kept(monkeypatch):
    X, y = _views()
    calls = []
    real = training.TrainingLoop.validation_score

    def falling_scores(loop):
        calls.append(1)
        return real(loop) * 0 + 1.0 / len(calls)  # the first score is best

    monkeypatch.setattr(training.TrainingLoop, "validation_score", falling_scores)
    model = _aligner(
        hidden_layer_sizes=(16,),
        max_epochs=3,
        early_stopping=True,
    ).fit(X, y)
    assert len(calls) == 4  # the start, then every epoch
    assert model.best_epoch_ == 0
    assert len(model.validation_scores_) == model.n_iter_ == 3
    # The kept start is refitted on every pair, validation pairs included.
    np.testing.assert_allclose(
        model.transform(X), _cca_of_all_pairs(model, X, y, 3), atol=2e-5
    )


def test_random_init_does_not_score_its_start(monkeypatch):
    X, y = _views()
    calls = []
    real = training.TrainingLoop.validation_score
    monkeypatch.setattr(
        training.TrainingLoop,
        "validation_score",
        lambda loop: calls.append(1) or real(loop),
    )
    model = _aligner(
        init="random",
        hidden_layer_sizes=(16,),
        max_epochs=2,
        early_stopping=True,
    ).fit(X, y)
    assert len(calls) == 2
    assert model.model_.linear_x is None and model.best_epoch_ >= 1


def test_auto_early_stopping_selects_among_all_epochs_on_small_data():
    X, y = _views(n=40)
    model = _aligner(
        max_epochs=25,
        n_iter_no_change=2,
    ).fit(X, y)
    # Validated (4 of 40 pairs held out) but not stopped by the patience.
    assert model.validation_scores_ is not None
    assert model.n_iter_ == 25
    random = _aligner(
        init="random",
        max_epochs=3,
    ).fit(X, y)
    assert random.validation_scores_ is None


def test_linear_paths_learn_slowly_without_decay_also_after_warm_start():
    X, y = _views()
    model = _aligner(
        max_epochs=1,
        learning_rate=1e-2,
        weight_decay=0.5,
        warm_start=True,
    ).fit(X, y)
    model.set_params(learning_rate=2e-2).fit(X, y)
    linear = {id(model.model_.linear_x.weight), id(model.model_.linear_y.weight)}
    for group in model._optimizer.param_groups:
        if linear & {id(p) for p in group["params"]}:
            assert group["lr"] == pytest.approx(2e-2 * models.LINEAR_PATH_LR_SCALE)
            assert group["weight_decay"] == 0.0
        else:
            assert group["lr"] == pytest.approx(2e-2)


def test_cca_start_round_trips_through_joblib(tmp_path):
    X, y = _views()
    model = _aligner(
        max_epochs=2,
    ).fit(X, y)
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


def test_same_seed_gives_identical_cca_started_models():
    X, y = _views()
    params = dict(
        n_components=3,
        hidden_layer_sizes=(8,),
        init="cca",
        max_epochs=3,
        device="cpu",
        random_state=3,
    )
    first = ContrastiveAligner(**params).fit(X, y).transform(X)
    second = ContrastiveAligner(**params).fit(X, y).transform(X)
    np.testing.assert_array_equal(first, second)


def test_cca_start_retrieves_like_cca_on_few_pairs():
    # 40 pairs of a linear link: training may only keep or beat the start
    # on the validation pairs; on held-out pairs it stays near CCA.
    X, y, _ = make_paired_views(60, n_latent=3, random_state=1)
    X_train, y_train, X_test, y_test = X[:40], y[:40], X[40:], y[40:]
    from skcrossmodal.metrics import mean_reciprocal_rank

    cca = CrossModalEmbedding(whiten=True).fit(X_train, y_train)
    aligner = ContrastiveAligner(
        hidden_layer_sizes=(16,),
        init="cca",
        max_epochs=20,
        device="cpu",
        random_state=0,
    ).fit(X_train, y_train)
    mrr_cca = mean_reciprocal_rank(*cca.transform(X_test, y_test))
    mrr_aligner = mean_reciprocal_rank(*aligner.transform(X_test, y_test))
    assert mrr_aligner >= mrr_cca - 0.15


@pytest.mark.parametrize("bad", ["CCA", "linear", 1, None])
def test_unknown_init_is_rejected(bad):
    X, y = _views(n=20)
    model = ContrastiveAligner(init=bad, device="cpu")
    with pytest.raises(ValueError, match="init"):
        model.fit(X, y)
    assert not hasattr(model, "model_")


def _decide(monkeypatch, keep_trained):
    """Make the test of trained weights against CCA answer ``keep_trained``."""
    from skcrossmodal._contrastive import aligner as _contrastive

    asked = []

    def answer(gain, weight):
        asked.append(len(gain))
        return keep_trained

    monkeypatch.setattr(_contrastive, "_significant_gain", answer)
    return asked


def _prefer_share(monkeypatch, share):
    """Make init="auto"'s validation prefer the blend with CCA share ``share``."""
    from skcrossmodal._contrastive import aligner as _contrastive

    asked = []

    def score(linear, trained, candidate, weight):
        asked.append((len(weight), candidate))
        return -abs(candidate - share)

    monkeypatch.setattr(_contrastive, "_blended_mrr", score)
    return asked


_AUTO = dict(
    n_components=3,
    hidden_layer_sizes=(16,),
    max_epochs=4,
    early_stopping=True,
    device="cpu",
    random_state=0,
)


def test_auto_trains_exactly_the_random_start(monkeypatch):
    """init="auto" trains today's aligner; kept, it is that model to the bit."""
    X, y = _views(n=400)
    asked = _prefer_share(monkeypatch, 0.0)
    auto = ContrastiveAligner(init="auto", **_AUTO).fit(X, y)
    random = ContrastiveAligner(init="random", **_AUTO).fit(X, y)
    # Every share scored once, over the 40 validation pairs.
    assert asked == [(40, share) for share in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert auto.linear_share_ == 0.0 and random.linear_share_ is None
    assert auto.best_epoch_ == random.best_epoch_ >= 1
    np.testing.assert_array_equal(auto.transform(X), random.transform(X))
    assert auto.model_.linear_x is None and auto.model_.linear_y is None


def test_auto_is_random_from_the_auto_early_stopping_size(monkeypatch):
    """From AUTO_EARLY_STOPPING_PAIRS pairs "auto" fits no CCA candidate."""
    import skcrossmodal._contrastive.aligner as contrastive

    X, y = _views()
    monkeypatch.setattr(contrastive, "AUTO_EARLY_STOPPING_PAIRS", len(X))

    def no_cca(*args, **kwargs):
        raise AssertionError("the CCA candidate was fitted")

    monkeypatch.setattr(ContrastiveAligner, "_init_from_cca", no_cca)
    auto = ContrastiveAligner(init="auto", **_AUTO).fit(X, y)
    random = ContrastiveAligner(init="random", **_AUTO).fit(X, y)
    assert auto.best_epoch_ == random.best_epoch_
    np.testing.assert_array_equal(auto.transform(X), random.transform(X))
    # One pair fewer and the candidate is back.
    with pytest.raises(AssertionError, match="CCA candidate"):
        ContrastiveAligner(init="auto", **_AUTO).fit(X[1:], y[1:])


@pytest.mark.parametrize("init", ["auto", "cca"])
def test_cca_kept_when_training_is_not_better(monkeypatch, init):
    X, y = _views(n=400)
    if init == "auto":
        asked = _prefer_share(monkeypatch, 1.0)
    else:
        asked = _decide(monkeypatch, keep_trained=False)
    model = ContrastiveAligner(init=init, **_AUTO).fit(X, y)
    if init == "auto":
        assert len(asked) == 5 and model.linear_share_ == 1.0
    elif asked:  # "cca" asks only if a trained epoch won
        assert asked == [40]
    assert model.best_epoch_ == 0 and model.n_iter_ == 4
    np.testing.assert_allclose(
        model.transform(X), _cca_of_all_pairs(model, X, y, 3), atol=2e-5
    )
    # Kept, CCA lives in linear paths that survive a joblib round trip.
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).transform(X), model.transform(X))


def test_blend_is_both_unit_embeddings_side_by_side(monkeypatch):
    """A kept share s: sqrt(s) x CCA of all pairs beside sqrt(1 - s) x the
    trained embedding, so the cosine is s cos_CCA + (1 - s) cos_trained; it
    survives a joblib round trip."""
    X, y = _views(n=400)
    _prefer_share(monkeypatch, 0.25)
    blend = ContrastiveAligner(init="auto", **_AUTO).fit(X, y)
    random = ContrastiveAligner(init="random", **_AUTO).fit(X, y)
    assert blend.linear_share_ == 0.25 and blend.n_components_ == 6
    z = blend.transform(X)
    np.testing.assert_allclose(
        z[:, :3], np.sqrt(0.25) * _cca_of_all_pairs(blend, X, y, 3), atol=2e-5
    )
    np.testing.assert_allclose(z[:, 3:], np.sqrt(0.75) * random.transform(X), atol=1e-6)
    assert blend.predict(X).shape == y.shape
    buffer = io.BytesIO()
    joblib.dump(blend, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).transform(X), z)


def test_blended_validation_mrr_matches_a_hand_ranking():
    """The MRR of the blended cosine, from the hand-made similarity matrix."""
    from skcrossmodal._contrastive.aligner import _blended_mrr

    rng = np.random.default_rng(0)
    parts = [_unit_rows(rng.normal(size=(30, 4))) for _ in range(4)]
    weight = rng.uniform(0.5, 2.0, size=30)
    for share in (0.0, 0.3, 1.0):
        similarity = share * parts[0] @ parts[1].T
        similarity += (1 - share) * parts[2] @ parts[3].T
        expected = 0.0
        for s in (similarity, similarity.T):
            partner = np.diag(s)[:, None]
            rank = 1 + (s > partner).sum(1) + 0.5 * ((s == partner).sum(1) - 1)
            expected += 0.5 * weight @ (1 / rank) / weight.sum()
        tensors = [torch.tensor(p) for p in parts]
        actual = _blended_mrr(
            (tensors[0], tensors[1]),
            (tensors[2], tensors[3]),
            share,
            torch.tensor(weight),
        )
        assert actual == pytest.approx(expected, rel=1e-9)


def test_significance_of_the_gain_matches_a_hand_z_test():
    from scipy.stats import norm

    from skcrossmodal._contrastive.aligner import _significant_gain

    rng = np.random.default_rng(0)
    for shift in (0.0, 0.05, 0.1, 0.2, 0.4):
        gain = rng.normal(shift, 0.3, size=40)
        weight = rng.uniform(0.5, 2.0, size=40)
        w = weight / weight.sum()
        mean = w @ gain
        se = np.sqrt(w @ (gain - mean) ** 2 * (w**2).sum())
        expected = mean > norm.isf(0.05) * se
        assert _significant_gain(torch.tensor(gain), torch.tensor(weight)) == expected
    # A loss or no change is never significant, a constant gain always is,
    # except on fewer than 30 (effective) pairs, where the test is not trusted.
    ones = torch.ones(30, dtype=torch.float64)
    assert not _significant_gain(-0.1 * ones, ones)
    assert not _significant_gain(0.0 * ones, ones)
    assert _significant_gain(0.1 * ones, ones)
    assert not _significant_gain(0.1 * ones[:29], ones[:29])
    skewed = ones.clone()
    skewed[0] = 10.0  # 30 pairs, but about 9 effective ones
    assert not _significant_gain(0.1 * ones, skewed)


def test_validation_reciprocal_ranks_match_the_metric():
    """Per pair, the mean of both directions' 1/rank, as retrieval_ranks gives."""
    from skcrossmodal._contrastive.aligner import _validation_reciprocal_ranks
    from skcrossmodal.metrics import retrieval_ranks

    X, y = _views(n=50)
    model = ContrastiveAligner(
        n_components=3, hidden_layer_sizes=(8,), max_epochs=1, device="cpu"
    ).fit(X, y)
    data = SimpleNamespace(
        val_x=torch.tensor((X - model.x_mean_) / model.x_scale_).float(),
        val_y=torch.tensor((y - model.y_mean_) / model.y_scale_).float(),
    )
    actual = _validation_reciprocal_ranks(
        model.model_, data, models.LocalCommunicator()
    ).numpy()
    z_x, z_y = model.transform(X, y)
    expected = 0.5 * sum(
        1.0 / retrieval_ranks(z_x, z_y, direction=direction)
        for direction in ("x_to_y", "y_to_x")
    )
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_auto_blends_in_cca_where_training_alone_would_hurt():
    """56 training pairs of a linear link, too few to hold out: the share is
    chosen on 5 folds, leans on CCA (of all pairs, in the first half of the
    embedding), and the kept model retrieves held-out pairs as well as CCA
    (measured: MRR 0.513 against CCA's 0.505 and 0.294 trained alone)."""
    from skcrossmodal.metrics import mean_reciprocal_rank

    X, y, _ = make_paired_views(136, noise=0.5, random_state=2)
    X_train, y_train, X_test, y_test = X[:56], y[:56], X[56:], y[56:]
    params = dict(hidden_layer_sizes=(32,), max_epochs=30, device="cpu")
    auto = ContrastiveAligner(random_state=0, **params).fit(X_train, y_train)
    trained = ContrastiveAligner(
        init="random", early_stopping=False, random_state=0, **params
    ).fit(X_train, y_train)
    assert auto.linear_share_ > 0 and auto.validation_scores_ is None
    share, width = auto.linear_share_, auto.n_components
    k = min(X.shape[1], y.shape[1])  # CCA's axes; the wider space pads zeros
    z_x = auto.transform(X_train)
    expected = np.sqrt(share) * _cca_of_all_pairs(auto, X_train, y_train, k)
    np.testing.assert_allclose(z_x[:, :k], expected, atol=2e-5)
    np.testing.assert_array_equal(z_x[:, k:width], 0.0)
    mrr_auto = mean_reciprocal_rank(*auto.transform(X_test, y_test))
    mrr_trained = mean_reciprocal_rank(*trained.transform(X_test, y_test))
    cca = CrossModalEmbedding().fit(X_train, y_train)
    mrr_cca = mean_reciprocal_rank(*cca.transform(X_test, y_test))
    assert mrr_auto > mrr_trained + 0.1 and mrr_auto > mrr_cca - 0.01


def test_cross_validated_share_is_the_best_fold_average(monkeypatch):
    """Few pairs: every fold scores every share once, on its own pairs, and the
    share of the best weighted mean is kept (the larger on a tie)."""
    from skcrossmodal._contrastive import aligner as _contrastive

    calls = []

    def score(linear, trained, share, weight):
        calls.append((len(weight), share))
        return {0.0: 0.2, 0.25: 0.5, 0.5: 0.5, 0.75: 0.1, 1.0: 0.3}[share]

    monkeypatch.setattr(_contrastive, "_blended_mrr", score)
    X, y = _views(n=50)
    model = ContrastiveAligner(
        n_components=3, hidden_layer_sizes=(8,), max_epochs=2, device="cpu"
    ).fit(X, y)
    assert sorted({n for n, _ in calls}) == [10] and len(calls) == 25
    assert model.linear_share_ == 0.5 and model.n_components_ == 6


def test_auto_keeps_training_that_clearly_beats_cca_on_a_nonlinear_link():
    """600 pairs of a nonlinear link: on its 60 validation pairs the trained
    aligner beats CCA, so the kept blend leans on it, and the gain holds on
    held-out pairs."""
    from skcrossmodal.metrics import mean_reciprocal_rank

    X, y, _ = make_paired_views(1000, link="nonlinear", noise=0.1, random_state=0)
    X_train, y_train, X_test, y_test = X[:600], y[:600], X[600:], y[600:]
    auto = ContrastiveAligner(
        hidden_layer_sizes=(64,), max_epochs=30, device="cpu", random_state=0
    ).fit(X_train, y_train)
    cca = CrossModalEmbedding().fit(X_train, y_train)
    assert auto.best_epoch_ >= 1 and auto.linear_share_ < 1
    mrr_auto = mean_reciprocal_rank(*auto.transform(X_test, y_test))
    mrr_cca = mean_reciprocal_rank(*cca.transform(X_test, y_test))
    assert mrr_auto > mrr_cca + 0.05
