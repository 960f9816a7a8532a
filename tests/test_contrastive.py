"""Tests for ContrastiveAligner (torch, CLIP-style symmetric InfoNCE)."""

import io
import pickle
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

from skcrossmodal import ContrastiveAligner, CrossModalEmbedding

torch = pytest.importorskip("torch")
models = pytest.importorskip("skcrossmodal._torch.modules")

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Tiny networks run faster on one thread; restored for other test files.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _nonlinear_views(n_samples=600, seed=0, noise=0.05):
    """y = tanh(X A) B + noise: a link no linear map follows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 8))
    A = rng.normal(size=(8, 12))
    B = rng.normal(size=(12, 6))
    y = np.tanh(X @ A) @ B + noise * rng.normal(size=(n_samples, 6))
    return X, y


def _small(**params):
    defaults = {
        "hidden_layer_sizes": (32,),
        "max_epochs": 5,
        "batch_size": 64,
        "early_stopping": False,
        "device": "cpu",
        "random_state": 0,
        # The training loop itself: no CCA candidate (the default init="auto").
        "init": "random",
    }
    return ContrastiveAligner(**{**defaults, **params})


# ------------------------------------------------------------- without torch ---
def _run_python(code):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_import_does_not_import_torch():
    """Importing the package and constructing the estimator leave torch unloaded."""
    result = _run_python(
        """
        import sys
        import skcrossmodal
        from sklearn.base import clone
        clone(skcrossmodal.ContrastiveAligner(max_epochs=3)).get_params()
        assert "torch" not in sys.modules, "torch was imported"
        """
    )
    assert result.returncode == 0, result.stderr


def test_fit_without_torch_says_how_to_install():
    """With torch absent, construction and cloning work and fit says what to install."""
    result = _run_python(
        """
        import sys

        class NoTorch:  # an import hook that behaves as if torch were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        from sklearn.base import clone
        from skcrossmodal import ContrastiveAligner
        model = clone(ContrastiveAligner(max_epochs=2))
        assert model.get_params()["max_epochs"] == 2
        X = np.arange(8.0).reshape(4, 2)
        try:
            model.fit(X, X**2)
        except ImportError as error:
            print(error)
        """
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install -e ".[torch]"' in result.stdout
    assert "pip install torch" in result.stdout


# --------------------------------------------------------------------- loss ---
def _numpy_info_nce(z_x, z_y, scale, weight):
    logits = scale * z_x @ z_y.T
    diagonal = np.diag(logits)
    x_to_y = logsumexp(logits, axis=1) - diagonal
    y_to_x = logsumexp(logits, axis=0) - diagonal
    return np.mean(weight * 0.5 * (x_to_y + y_to_x))


def _unit_rows(rng, n, k):
    z = rng.normal(size=(n, k))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def test_loss_matches_hand_computation():
    """The weighted symmetric InfoNCE equals a NumPy/SciPy computation."""
    rng = np.random.default_rng(0)
    z_x, z_y = _unit_rows(rng, 7, 3), _unit_rows(rng, 7, 3)
    weight = rng.uniform(0, 2, size=7)
    log_scale = torch.tensor(np.log(1 / 0.07))
    loss = models.symmetric_info_nce(
        torch.tensor(z_x), torch.tensor(z_y), log_scale, torch.tensor(weight)
    )
    assert_allclose(float(loss), _numpy_info_nce(z_x, z_y, 1 / 0.07, weight))


def test_logit_scale_is_clamped_at_100():
    """A logit scale above 100 is used as 100 and clamped to it after a step."""
    rng = np.random.default_rng(1)
    z_x, z_y = _unit_rows(rng, 5, 3), _unit_rows(rng, 5, 3)
    loss = models.symmetric_info_nce(
        torch.tensor(z_x), torch.tensor(z_y), torch.tensor(np.log(1e4))
    )
    assert_allclose(float(loss), _numpy_info_nce(z_x, z_y, 100.0, np.ones(5)))
    model = models.TwoViewEncoder(
        3, 2, 2, (), activation="relu", dropout=0.0, normalization=None, decoder=False
    )
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    model.clamp_logit_scale_()
    assert_allclose(float(model.logit_scale.detach().exp()), 100.0, rtol=1e-6)


@settings(max_examples=examples(20), deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 12))
def test_loss_is_symmetric_and_permutation_invariant(seed, n):
    """Swapping the views, or permuting the pairs jointly, leaves the loss unchanged."""
    rng = np.random.default_rng(seed)
    z_x, z_y = torch.tensor(_unit_rows(rng, n, 4)), torch.tensor(_unit_rows(rng, n, 4))
    weight = torch.tensor(rng.uniform(0, 2, size=n))
    scale = torch.tensor(2.5)
    loss = models.symmetric_info_nce(z_x, z_y, scale, weight)
    permutation = torch.tensor(rng.permutation(n))
    permuted = models.symmetric_info_nce(
        z_x[permutation], z_y[permutation], scale, weight[permutation]
    )
    swapped = models.symmetric_info_nce(z_y, z_x, scale, weight)
    assert_allclose(float(permuted), float(loss), rtol=1e-12)
    assert_allclose(float(swapped), float(loss), rtol=1e-12)


@settings(max_examples=examples(50), deadline=None)
@given(n=st.integers(2, 5000), batch_size=st.integers(2, 600))
def test_batches_never_hold_a_single_pair(n, batch_size):
    """Every batch has between 2 and batch_size rows (or all rows when n is small)."""
    sizes = [
        len(b)
        for b in torch.tensor_split(torch.arange(n), models.n_batches(n, batch_size))
    ]
    assert sum(sizes) == n and min(sizes) >= 2
    assert max(sizes) <= max(batch_size, 3)


def test_temperature_is_not_decayed():
    """AdamW decays weight matrices only, never the logit scale."""
    model = models.TwoViewEncoder(
        4,
        3,
        2,
        (5,),
        activation="gelu",
        dropout=0.0,
        normalization="layer",
        decoder=False,
    )
    decayed, kept = models.parameter_groups(model, 0.1)
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    assert any(p is model.logit_scale for p in kept["params"])
    assert all(p.ndim == 2 for p in decayed["params"])


# ---------------------------------------------------------------- training ---
def test_loss_falls():
    """Training lowers the contrastive loss well below its starting value."""
    X, y = _nonlinear_views(300)
    model = _small(max_epochs=15).fit(X, y)
    assert len(model.loss_curve_) == model.n_iter_ == 15
    assert model.loss_curve_[-1] < 0.6 * model.loss_curve_[0]


def test_beats_linear_alignment_on_a_nonlinear_link():
    """On held-out pairs of y = tanh(X A) B, its score beats CrossModalEmbedding's."""
    X, y = _nonlinear_views(1000)
    X_train, X_test, y_train, y_test = X[:800], X[800:], y[:800], y[800:]
    model = _small(hidden_layer_sizes=(64,), max_epochs=60, early_stopping=True)
    neural = model.fit(X_train, y_train).score(X_test, y_test)
    linear = (
        CrossModalEmbedding(whiten=False).fit(X_train, y_train).score(X_test, y_test)
    )
    assert neural > linear + 0.2, (neural, linear)


def test_same_seed_gives_identical_results():
    """The same random_state gives identical loss curves and transforms on CPU."""
    X, y = _nonlinear_views(200)
    params = {"dropout": 0.1, "early_stopping": True, "validation_fraction": 0.2}
    first = _small(**params).fit(X, y)
    second = _small(**params).fit(X, y)
    assert first.loss_curve_ == second.loss_curve_
    assert first.validation_scores_ == second.validation_scores_
    assert_array_equal(first.transform(X), second.transform(X))
    other = _small(**params, random_state=1).fit(X, y)
    assert other.loss_curve_ != first.loss_curve_


def test_global_torch_random_state_is_untouched():
    """Fitting with a seed does not reseed the caller's torch random stream."""
    X, y = _nonlinear_views(100)
    before = torch.random.get_rng_state()
    _small(max_epochs=2, dropout=0.2).fit(X, y)
    assert torch.equal(before, torch.random.get_rng_state())


def test_zero_weight_on_corrupted_pairs_recovers_the_link():
    """Weighting out mismatched pairs helps: weights are not ignored."""
    X, y = _nonlinear_views(1000, seed=2)
    X_train, y_train = X[:800].copy(), y[:800].copy()
    corrupted = np.arange(800) % 2 == 0
    y_train[corrupted] = np.random.default_rng(3).permutation(y_train[corrupted])
    weight = (~corrupted).astype(float)
    params = {"hidden_layer_sizes": (64,), "max_epochs": 25}
    weighted = _small(**params).fit(X_train, y_train, sample_weight=weight)
    unweighted = _small(**params).fit(X_train, y_train)
    gain = weighted.score(X[800:], y[800:]) - unweighted.score(X[800:], y[800:])
    assert gain > 0.05, gain


def test_uniform_weights_equal_no_weights():
    """A constant sample_weight gives exactly the unweighted fit."""
    X, y = _nonlinear_views(150)
    plain = _small(max_epochs=3).fit(X, y)
    weighted = _small(max_epochs=3).fit(X, y, sample_weight=np.full(150, 2.5))
    assert_array_equal(plain.transform(X), weighted.transform(X))


def test_readout_is_weighted_ridge_on_the_shared_space():
    """With no decoder, predict is sklearn's Ridge from transform(X) to y."""
    X, y = _nonlinear_views(200)
    weight = np.random.default_rng(4).uniform(0.2, 2.0, size=200)
    model = _small(max_epochs=3, readout_alpha=0.5).fit(X, y, sample_weight=weight)
    ridge = Ridge(alpha=0.5).fit(model.transform(X), y, sample_weight=weight)
    X_new = _nonlinear_views(30, seed=5)[0]
    # The views reach the device as float32: agreement to float32 precision.
    assert_allclose(
        model.predict(X_new),
        ridge.predict(model.transform(X_new)),
        rtol=1e-5,
        atol=1e-6 * y.std(),
    )


def test_reconstruction_decoder_predicts_y():
    """With reconstruction_weight > 0 a decoder predicts y (no ridge read-out)."""
    X, y = _nonlinear_views(400)
    model = _small(max_epochs=30, reconstruction_weight=1.0).fit(X, y)
    assert model.readout_coef_ is None and model.model_.decoder_y is not None
    assert r2_score(y, model.predict(X)) > 0.5


def test_early_stopping_keeps_the_best_epoch():
    """Early stopping restores the weights of the best validation epoch."""
    X = np.random.default_rng(6).normal(size=(200, 5))
    y = np.random.default_rng(7).normal(size=(200, 3))  # nothing to learn: stops
    params = {"early_stopping": True, "n_iter_no_change": 3, "tol": 0.0}
    model = _small(max_epochs=40, **params).fit(X, y)
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_ < 40
    assert model.best_epoch_ == int(np.argmax(scores)) + 1
    assert model.n_iter_ - model.best_epoch_ == 3
    # A run cut at the best epoch walks the same path and ends on those weights.
    cut = _small(max_epochs=model.best_epoch_, **params).fit(X, y)
    assert_array_equal(cut.transform(X), model.transform(X))


def test_nan_loss_stops_and_keeps_last_good_weights(monkeypatch):
    """A NaN loss stops training with a warning and keeps the previous epoch."""
    X, y = _nonlinear_views(64)
    calls = {"n": 0}
    info_nce = models.symmetric_info_nce

    def breaks_in_third_epoch(*args):
        calls["n"] += 1  # 2 batches per epoch
        return info_nce(*args) * (np.nan if calls["n"] > 4 else 1.0)

    monkeypatch.setattr(models, "symmetric_info_nce", breaks_in_third_epoch)
    model = _small(batch_size=32, max_epochs=10)
    with pytest.warns(ConvergenceWarning, match="epoch 3.*epoch 2 are kept"):
        model.fit(X, y)
    monkeypatch.setattr(models, "symmetric_info_nce", info_nce)
    two_epochs = _small(batch_size=32, max_epochs=2).fit(X, y)
    assert model.loss_curve_ == two_epochs.loss_curve_
    assert model.n_iter_ == model.best_epoch_ == 2
    assert_array_equal(model.transform(X), two_epochs.transform(X))
    # The optimiser state came back with the weights: training goes on alike.
    model.partial_fit(X, y)
    two_epochs.partial_fit(X, y)
    assert_array_equal(model.transform(X), two_epochs.transform(X))


def test_partial_fit_is_one_epoch_of_fit():
    """The first partial_fit equals fit with max_epochs=1; later calls add epochs."""
    X, y = _nonlinear_views(120)
    model = _small().partial_fit(X, y)
    one_epoch = _small(max_epochs=1).fit(X, y)
    assert_array_equal(model.transform(X), one_epoch.transform(X))
    model.partial_fit(X, y)
    assert model.n_iter_ == len(model.loss_curve_) == 2
    assert not np.array_equal(model.transform(X), one_epoch.transform(X))
    with pytest.raises(ValueError, match="X has 7 features"):
        model.partial_fit(X[:, :7], y)


def test_warm_start_continues_training():
    """warm_start=True continues the loss curve instead of restarting it."""
    X, y = _nonlinear_views(120)
    model = _small(max_epochs=2, warm_start=True).fit(X, y)
    first_curve = list(model.loss_curve_)
    model.fit(X, y)
    assert model.n_iter_ == 4 and model.loss_curve_[:2] == first_curve
    assert model.loss_curve_[2] < first_curve[0]
    with pytest.raises(ValueError, match="warm_start=True"):
        model.fit(X[:, :5], y)


def test_verbose_prints_one_line_per_epoch(capsys):
    """verbose prints loss, validation MRR and seconds once per epoch."""
    X, y = _nonlinear_views(100)
    model = _small(max_epochs=3, verbose=1, early_stopping=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    for i, line in enumerate(lines[:3]):
        assert line.startswith(f"Epoch {i + 1}/3")
        assert "loss" in line and "validation MRR" in line and "pairs/s" in line
        assert "ETA" in line
    # A tie of validation scores goes to the later epoch.
    scores = np.nan_to_num(model.validation_scores_, nan=-np.inf)
    best = int(np.flatnonzero(scores == scores.max())[-1]) + 1
    assert lines[3] == (
        "Stopped after epoch 3: max_epochs reached; the weights of epoch "
        f"{best} are kept."
    )


# --------------------------------------------------------------- bad input ---
def test_batch_size_below_two_is_rejected():
    """batch_size=1 leaves no negatives, and is rejected."""
    X, y = _nonlinear_views(20)
    with pytest.raises(ValueError, match="batch_size"):
        _small(batch_size=1).fit(X, y)


def test_cuda_without_gpu_names_the_device(monkeypatch):
    """device='cuda' without a GPU fails with an error naming the device."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = _nonlinear_views(20)
    with pytest.raises(ValueError, match="device='cuda'.*CUDA is not available"):
        _small(device="cuda").fit(X, y)
    assert _small(device="auto", max_epochs=1).fit(X, y).device_ == "cpu"


def test_unknown_device_is_rejected():
    """A device string torch does not know is a clear ValueError."""
    X, y = _nonlinear_views(20)
    with pytest.raises(ValueError, match="device='gpu0' is not a device"):
        _small(device="gpu0").fit(X, y)


def test_validation_split_too_small_is_rejected():
    """Early stopping needs at least 2 validation pairs to score."""
    X, y = _nonlinear_views(10)
    with pytest.raises(ValueError, match="leaves 1 validation"):
        _small(early_stopping=True, validation_fraction=0.1).fit(X, y)


def test_bad_hidden_layer_sizes_are_rejected():
    """hidden_layer_sizes must hold positive integers."""
    X, y = _nonlinear_views(20)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        _small(hidden_layer_sizes=(8, 0)).fit(X, y)


# ---------------------------------------------------------------- pickling ---
def test_pickled_state_holds_cpu_tensors():
    """The pickled state stores the weights as bytes of CPU tensors, no live module."""
    X, y = _nonlinear_views(60)
    model = _small(max_epochs=1).fit(X, y)
    state = model.__getstate__()
    assert isinstance(state["model_"], bytes) and "_optimizer" not in state
    saved = torch.load(io.BytesIO(state["model_"]), weights_only=True)
    assert all(t.device.type == "cpu" for t in saved["model"].values())
    assert saved["model"].keys() == model.model_.state_dict().keys()


def test_gpu_trained_model_loads_without_cuda(monkeypatch):
    """A model whose state says it was trained on CUDA loads on a CPU-only machine."""
    X, y = _nonlinear_views(60)
    model = _small(max_epochs=2).fit(X, y)
    state = model.__getstate__()
    state["device_"] = "cuda:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = ContrastiveAligner.__new__(ContrastiveAligner)
    with pytest.warns(UserWarning, match="trained on 'cuda:0'.*loaded on the CPU"):
        restored.__setstate__(state)
    assert restored.device_ == "cpu"
    assert_array_equal(restored.transform(X), model.transform(X))
    assert_array_equal(restored.predict(X), model.predict(X))


def test_joblib_round_trip_keeps_transforms_and_training_state():
    """After a joblib round trip, transforms and further partial_fit are identical."""
    X, y = _nonlinear_views(80)
    model = _small(max_epochs=2).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    restored = joblib.load(buffer)
    assert_array_equal(restored.transform(X), model.transform(X))
    restored.partial_fit(X, y)
    model.partial_fit(X, y)
    assert_array_equal(restored.transform(X), model.transform(X))


def test_unfitted_estimator_pickles_without_torch_state():
    """An unfitted estimator pickles like any scikit-learn estimator."""
    model = pickle.loads(pickle.dumps(ContrastiveAligner(max_epochs=3)))
    assert clone(model).get_params()["max_epochs"] == 3


# -------------------------------------------------------------------- CUDA ---
@pytest.mark.cuda
@cuda
def test_cuda_fit_beats_linear_and_stays_on_gpu():
    """On a GPU (bf16 autocast), the model trains there and beats the linear map."""
    X, y = _nonlinear_views(1000)
    model = _small(
        device="cuda", hidden_layer_sizes=(64,), max_epochs=60, early_stopping=True
    ).fit(X[:800], y[:800])
    assert model.device_.startswith("cuda")
    assert next(model.model_.parameters()).device.type == "cuda"
    linear = (
        CrossModalEmbedding(whiten=False).fit(X[:800], y[:800]).score(X[800:], y[800:])
    )
    assert model.score(X[800:], y[800:]) > linear + 0.2


@pytest.mark.cuda
@cuda
def test_cuda_model_unpickles_on_cpu(monkeypatch):
    """A CUDA-trained model loads on the CPU with a warning and the same transforms."""
    X, y = _nonlinear_views(200)
    model = _small(device="cuda", max_epochs=3).fit(X, y)
    payload = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA is not available here"):
        restored = pickle.loads(payload)
    assert next(restored.model_.parameters()).device.type == "cpu"
    assert_allclose(restored.transform(X), model.transform(X), atol=1e-5)


@pytest.mark.cuda
@cuda
def test_cuda_partial_fit_without_bf16():
    """use_bf16=False trains in float32 on CUDA and partial_fit keeps the device."""
    X, y = _nonlinear_views(200)
    model = _small(device="cuda", use_bf16=False).partial_fit(X, y).partial_fit(X, y)
    assert model.n_iter_ == 2 and model.device_.startswith("cuda")
    assert np.isfinite(model.loss_curve_).all()


def test_constant_view_error_does_not_mention_reg():
    """The aligner has no reg: its CCA start's error about a constant X must
    not tell the user to raise one."""
    y = np.random.default_rng(5).normal(size=(60, 3))
    model = ContrastiveAligner(n_components=2, max_epochs=1, device="cpu")
    with pytest.raises(ValueError, match="Every feature of X is constant") as error:
        model.fit(np.ones((60, 4)), y)
    assert "reg" not in str(error.value)
