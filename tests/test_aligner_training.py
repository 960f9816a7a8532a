"""How the aligner trains: small-data defaults, validation, divergence, failure
atomicity, units, threads, the communicator, compile, pickling, logging, CUDA."""

import pickle
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_estimators_nan_inf,
    check_fit2d_1feature,
    check_transformer_preserve_dtypes,
)

from skcrossmodal import ContrastiveAligner

torch = pytest.importorskip("torch")
models = pytest.importorskip("skcrossmodal._torch.modules")
training = pytest.importorskip("skcrossmodal._torch.loop")


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _views(n_samples=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 5))
    y = np.tanh(X @ rng.normal(size=(5, 3))) + 0.05 * rng.normal(size=(n_samples, 3))
    return X, y


def _small(**params):
    defaults = {
        "hidden_layer_sizes": (16,),
        "max_epochs": 3,
        "batch_size": 32,
        "early_stopping": False,
        "device": "cpu",
        "random_state": 0,
        # The training loop itself: no CCA candidate (the default init="auto").
        "init": "random",
    }
    return ContrastiveAligner(**{**defaults, **params})


def _state(model):
    """Everything a fit may change, in comparable form."""
    state = {}
    for key, value in vars(model).items():
        if key == "model_":
            state[key] = {k: v.clone() for k, v in value.state_dict().items()}
        elif key == "_optimizer":
            state[key] = training.snapshot(model.model_, value)[1]
        elif key == "_random_state":
            state[key] = value.get_state()[1].copy()
        else:
            state[key] = value
    return state


def _assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key in before:
        a, b = before[key], after[key]
        if key == "model_":
            assert all(torch.equal(a[k], b[k]) for k in a)
        elif key == "_optimizer":
            for k, v in a["state"].items():
                assert all(torch.equal(v[s], b["state"][k][s]) for s in v)
        elif isinstance(a, np.ndarray):
            assert_array_equal(a, b)
        elif isinstance(a, tuple):
            for u, v in zip(a, b, strict=True):
                assert_array_equal(u, v)
        else:
            assert a == b or (a is None and b is None), key


# ------------------------------------------------- defaults on small data ---
def test_defaults_pass_the_checks_that_small_data_used_to_fail():
    """With default parameters, the 1-feature and NaN/inf checks pass."""
    name = ContrastiveAligner.__name__
    check_fit2d_1feature(name, ContrastiveAligner(max_epochs=2))
    check_estimators_nan_inf(name, ContrastiveAligner(max_epochs=2))
    check_transformer_preserve_dtypes(name, ContrastiveAligner(max_epochs=2))


@pytest.mark.parametrize("n_samples", [2, 3, 7, 19])
def test_default_early_stopping_fits_few_pairs(n_samples):
    """early_stopping='auto' is off on small data: any n >= 2 pairs fits."""
    X, y = _views(n_samples)
    model = ContrastiveAligner(max_epochs=2, random_state=0, init="random")
    model.fit(X, y)
    assert model.validation_scores_ is None and model.n_iter_ == 2
    assert np.isfinite(model.transform(X)).all()
    # The default init="auto" chooses its blend on folds when too few pairs
    # would be held out (from 4 pairs: 2 folds of 2), and trains on every pair.
    default = ContrastiveAligner(max_epochs=2, random_state=0).fit(X, y)
    assert default.validation_scores_ is None
    assert (default.linear_share_ is not None) == (n_samples >= 4)
    assert np.isfinite(default.transform(X)).all()


def test_early_stopping_auto_turns_on_from_ten_thousand_pairs():
    """'auto' holds out validation pairs from 10 000 pairs on."""
    X, y = _views(10_000)
    params = {"hidden_layer_sizes": (), "batch_size": 2048, "max_epochs": 1}
    model = _small(early_stopping="auto", **params).fit(X, y)
    assert len(model.validation_scores_) == 1
    assert (
        _small(early_stopping="auto", **params)
        .fit(X[:9999], y[:9999])
        .validation_scores_
        is None
    )


def test_validation_cap(monkeypatch):
    """At most max_validation_size pairs are scored; a cap below 2 is an error."""
    seen = _validation_sizes(monkeypatch)
    X, y = _views(200)
    _small(early_stopping=True, max_validation_size=7, max_epochs=2).fit(X, y)
    assert seen == [7, 7]
    _small(early_stopping=True, max_validation_size=None, max_epochs=1).fit(X, y)
    assert seen[-1] == 20  # validation_fraction=0.1 of 200
    with pytest.raises(ValueError, match="max_validation_size"):
        _small(max_validation_size=1).fit(X, y)


def test_validation_interval_scores_every_k_epochs_and_the_last():
    """validation_interval=3 scores epochs 3, 6 and the last; NaN elsewhere."""
    X, y = _views(100)
    model = _small(
        early_stopping=True, validation_interval=3, max_epochs=7, n_iter_no_change=50
    ).fit(X, y)
    scored = [i + 1 for i, s in enumerate(model.validation_scores_) if np.isfinite(s)]
    assert scored == [3, 6, 7]
    assert model.best_epoch_ in scored


def _validation_sizes(monkeypatch):
    seen = []
    original = training.TrainingLoop.validation_score

    def recording(loop):
        seen.append(loop.data.val_x.shape[0])
        return original(loop)

    monkeypatch.setattr(training.TrainingLoop, "validation_score", recording)
    return seen


def test_auto_validation_size_is_smaller_on_the_cpu(monkeypatch):
    """max_validation_size='auto' (the default) holds out 2 000 pairs on the CPU."""
    from skcrossmodal._contrastive import aligner as _contrastive

    assert ContrastiveAligner().max_validation_size == "auto"
    seen = _validation_sizes(monkeypatch)
    X, y = _views(21_000)  # validation_fraction=0.1 alone would hold out 2 100
    fast = {"hidden_layer_sizes": (), "batch_size": 512, "max_epochs": 1}
    _small(early_stopping="auto", **fast).fit(X, y)
    assert seen == [_contrastive.AUTO_VALIDATION_SIZE_CPU] == [2_000]


def test_auto_validation_size_on_accelerators():
    """'auto': 10 000 on CUDA or MPS, 2 000 on the CPU, within the fraction."""
    model = ContrastiveAligner()
    assert model._n_validation(200_000, torch.device("cuda", 0)) == 10_000
    assert model._n_validation(200_000, torch.device("mps")) == 10_000
    assert model._n_validation(200_000, torch.device("cpu")) == 2_000
    assert model._n_validation(15_000, torch.device("cpu")) == 1_500
    assert (
        model.set_params(max_validation_size=None)._n_validation(
            200_000, torch.device("cpu")
        )
        == 20_000
    )
    with pytest.raises(ValueError, match="max_validation_size"):
        _small(max_validation_size="large").fit(*_views(40))


# ------------------------------------------------------------- divergence ---
def _nan_after_step(monkeypatch, bad_steps):
    """Make the AdamW step write NaN into the weights at the given step numbers."""
    calls = {"n": 0}
    original = training.TrainingLoop.train_step

    def step(self, x, y, sample_weight):
        loss = original(self, x, y, sample_weight)
        calls["n"] += 1
        if calls["n"] in bad_steps:
            with torch.no_grad():
                next(self.model.parameters()).fill_(np.nan)
        return loss

    monkeypatch.setattr(training.TrainingLoop, "train_step", step)


def test_divergence_on_the_last_step_of_an_epoch_is_caught(monkeypatch):
    """NaN weights after an epoch's last step (its loss still finite) are caught."""
    X, y = _views(64)
    # batch 32: 2 steps per epoch; step 4 is the last of epoch 2.
    _nan_after_step(monkeypatch, {4})
    model = _small(batch_size=32, max_epochs=5)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 2"):
        model.fit(X, y)
    monkeypatch.undo()
    one = _small(batch_size=32, max_epochs=1).fit(X, y)
    assert model.n_iter_ == model.best_epoch_ == 1
    assert_array_equal(model.transform(X), one.transform(X))
    assert_array_equal(model.readout_coef_, one.readout_coef_)
    # The optimiser moments were restored too: later training is unharmed.
    assert_array_equal(
        model.partial_fit(X, y).transform(X), one.partial_fit(X, y).transform(X)
    )


def test_divergence_with_early_stopping_keeps_the_best_epoch(monkeypatch):
    """A divergence ends training on the best validation epoch's weights."""
    X, y = _views(100)
    params = {"early_stopping": True, "batch_size": 45, "n_iter_no_change": 50}
    _nan_after_step(monkeypatch, {2 * 6})  # 2 steps per epoch: epoch 6 diverges
    model = _small(max_epochs=20, **params)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 6"):
        model.fit(X, y)
    monkeypatch.undo()
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_ == 5
    assert model.best_epoch_ == int(np.argmax(scores)) + 1
    cut = _small(max_epochs=model.best_epoch_, **params).fit(X, y)
    assert_array_equal(model.transform(X), cut.transform(X))


def test_divergence_in_the_first_epoch_leaves_the_estimator_unfitted():
    """With nothing finite to keep, FloatingPointError and no fitted attribute."""
    X, y = _views(64)
    model = _small(learning_rate=1e38, batch_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model.fit(X, y)
        except FloatingPointError as error:
            assert "lower learning_rate" in str(error)
            assert vars(model) == vars(clone(model))
        else:  # diverged after some finite epochs: what is kept is finite
            assert np.isfinite(model.predict(X)).all()


def test_huge_learning_rate_never_reaches_the_read_out():
    """lr=1e7 gives a warning or a FloatingPointError, never a lstsq error."""
    X, y = _views(300)
    y = y[:, :2] @ np.ones((2, 4))
    X = np.hstack([X, X[:, :1]])
    model = _small(learning_rate=1e7, batch_size=64, max_epochs=5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
    except FloatingPointError:
        assert not hasattr(model, "model_")
    else:
        assert np.isfinite(model.predict(X)).all()


# ------------------------------------------------------ failure atomicity ---
class _Injected(RuntimeError):
    pass


# (where, name): a function of the modules or the loop, or a loop step.
_FAULT_SITES = {
    "build_model": models,
    "weighted_mean_scale": models,
    "standardize_": models,
    "run_epoch": training.TrainingLoop,
    "validation_mrr": models,
    "weighted_ridge": models,
    "snapshot": training,
    "embed_rows": models,
}


@settings(max_examples=examples(24), deadline=None)
@given(
    site=st.sampled_from(sorted(_FAULT_SITES)),
    after=st.integers(0, 3),
    how=st.sampled_from(["fit", "warm_fit", "partial_fit", "second_partial_fit"]),
)
def test_any_exception_leaves_the_estimator_as_before(site, after, how):
    """A fault anywhere in training leaves the estimator exactly as it was."""
    X, y = _views(60)
    model = _small(early_stopping=True, validation_fraction=0.2, warm_start=True)
    if how in ("warm_fit", "second_partial_fit"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X, y)
    before = _state(model)
    owner = _FAULT_SITES[site]
    original = getattr(owner, site)
    calls = {"n": 0}

    def faulty(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise _Injected(site)
        return original(*args, **kwargs)

    setattr(owner, site, faulty)
    try:
        method = model.fit if how.endswith("fit") and "partial" not in how else None
        method = method or model.partial_fit
        try:
            method(X, y)
        except _Injected:
            pass
        else:
            return  # the fault site was not reached often enough
    finally:
        setattr(owner, site, original)
    _assert_same_state(before, _state(model))
    if how in ("fit", "partial_fit"):
        assert not hasattr(model, "n_features_in_")
    else:  # and it trains on exactly as it would have
        reference = _small(
            early_stopping=True, validation_fraction=0.2, warm_start=True
        ).partial_fit(X, y)
        assert_array_equal(
            model.partial_fit(X, y).transform(X),
            reference.partial_fit(X, y).transform(X),
        )


def test_zero_weights_on_one_side_of_the_split_are_a_clear_error():
    """All-zero validation (or training) weights: a ValueError, still unfitted."""
    X, y = _views(40)
    model = _small(early_stopping=True, validation_fraction=0.5)
    messages = set()
    for row in range(40):  # one positive weight: one side of the split is all zero
        with pytest.raises(ValueError, match="pair has zero sample_weight") as error:
            model.fit(X, y, sample_weight=(np.arange(40) == row).astype(float))
        messages.add(str(error.value).split(" pair")[0])
        assert vars(model) == vars(clone(model))
    assert messages == {"Every validation", "Every training"}


# --------------------------------------------------------------------- units ---
@pytest.mark.parametrize("power", [-500, 500])
def test_power_of_two_units_change_nothing(power):
    """Scaling X and y by 2**±500 (~1e±150) gives the same fit, in y's units."""
    X, y = _views(80)
    base = _small().fit(X, y)
    scaled = _small().fit(X * 2.0**power, y * 2.0**-power)
    assert_array_equal(scaled.transform(X * 2.0**power), base.transform(X))
    assert_allclose(
        scaled.predict(X * 2.0**power), base.predict(X) * 2.0**-power, rtol=1e-9
    )
    assert_allclose(scaled.x_scale_, base.x_scale_ * 2.0**power, rtol=1e-6)


@settings(max_examples=examples(8), deadline=None)
@given(exponent=st.integers(-150, 150), dtype=st.sampled_from(["float64", "float32"]))
def test_results_do_not_depend_on_units(exponent, dtype):
    """fit/transform at 1e-150..1e150 (float32: its range) match the unit scale."""
    if dtype == "float32":
        exponent = int(np.clip(exponent, -30, 30))
    X, y = _views(80)
    X, y = X.astype(dtype), y.astype(dtype)
    scale = np.asarray(10.0**exponent, dtype=dtype)
    base = _small(max_epochs=2).fit(X, y)
    scaled = _small(max_epochs=2).fit(X * scale, y)
    Z = scaled.transform(X * scale)
    assert Z.dtype == dtype and np.isfinite(Z).all()
    assert_allclose(Z, base.transform(X), atol=2e-3)


def test_transform_of_data_beyond_float32_is_finite():
    """Data at 1e40 (beyond float32) fit and transform without NaN."""
    X, y = _views(60)
    model = _small().fit(X * 1e40, y * 1e-40)
    assert np.isfinite(model.transform(X * 1e40)).all()
    assert np.isfinite(model.predict(X * 1e40)).all()


def test_large_offset_keeps_float64_precision():
    """A column 1e9 + noise is standardised from its spread, not rounded away."""
    X, y = _views(80)
    shifted = _small().fit(X + 1e9, y)
    base = _small().fit(X, y)
    assert_allclose(shifted.transform(X + 1e9), base.transform(X), atol=1e-4)


def test_float32_in_float32_out_float64_in_float64_out():
    """transform, predict and the paired transform keep the input's float dtype."""
    X, y = _views(60)
    model = _small().fit(X.astype(np.float32), y.astype(np.float32))
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    assert model.transform(X32).dtype == np.float32
    assert model.predict(X32).dtype == np.float32
    assert [a.dtype for a in model.transform(X32, y32)] == [np.float32] * 2
    assert model.transform(X).dtype == model.predict(X).dtype == np.float64
    assert_allclose(model.transform(X32), model.transform(X), atol=1e-6)
    assert model.__sklearn_tags__().transformer_tags.preserves_dtype == [
        "float64",
        "float32",
    ]


# ------------------------------------------------------------------ threads ---
def test_fits_in_threads_equal_serial_fits():
    """Concurrent fits (dropout, early stopping) equal the same fits run serially."""
    X, y = _views(100)
    params = [
        {"random_state": seed, "dropout": 0.3, "early_stopping": True}
        for seed in range(4)
    ]
    serial = [_small(**p).fit(X, y).transform(X) for p in params]
    before = torch.random.get_rng_state()
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda p: _small(**p).fit(X, y).transform(X), params))
    for a, b in zip(serial, threaded, strict=True):
        assert_array_equal(a, b)
    assert torch.equal(before, torch.random.get_rng_state())


# ------------------------------------------------------------- communicator ---
class _RecordingCommunicator(models.LocalCommunicator):
    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        attribute = object.__getattribute__(self, name)
        if name in {
            "all_reduce_sum",
            "all_reduce_max",
            "gather",
            "gather_with_grad",
            "sum_gradients",
            "any_true",
            "broadcast_module",
        }:
            object.__getattribute__(self, "calls").append(name)
        return attribute


def test_training_loop_goes_through_the_communicator(monkeypatch):
    """Every reduction of a fit is a communicator call; results are unchanged."""
    X, y = _views(80)
    weight = np.random.default_rng(0).uniform(0.5, 2, size=80)
    params = {"early_stopping": True, "validation_fraction": 0.25}
    plain = _small(**params).fit(X, y, sample_weight=weight)
    recorder = _RecordingCommunicator()
    monkeypatch.setattr(ContrastiveAligner, "_communicator", lambda self: recorder)
    recorded = _small(**params).fit(X, y, sample_weight=weight)
    assert_array_equal(recorded.transform(X), plain.transform(X))
    calls = set(recorder.calls)
    assert calls == {
        "all_reduce_sum",
        "all_reduce_max",
        "gather",
        "gather_with_grad",
        "sum_gradients",
        "any_true",
        "broadcast_module",
    }
    # One gradient sum per step: 60 training rows in batches of 32 -> 2 steps.
    assert recorder.calls.count("sum_gradients") == 2 * 3
    # Per epoch one divergence agreement and one on whether a callback asked
    # to stop; one on the final embeddings.
    assert recorder.calls.count("any_true") == 2 * 3 + 1


# ------------------------------------------------------------------ compile ---
def test_compiled_training_agrees_with_eager(monkeypatch):
    """compile=True trains like the eager step (aot_eager backend: no C compiler)."""
    monkeypatch.setattr(models, "COMPILE_BACKEND", "aot_eager")
    X, y = _views(64)
    eager = _small(dropout=0.0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled = _small(dropout=0.0, compile=True).fit(X, y)
    assert_allclose(compiled.loss_curve_, eager.loss_curve_, rtol=1e-4)
    assert_allclose(compiled.transform(X), eager.transform(X), atol=1e-4)


def test_compile_failure_warns_and_trains_eagerly(monkeypatch):
    """A backend that cannot compile gives a clear warning and the eager result."""

    def broken_backend(graph, example_inputs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(models, "COMPILE_BACKEND", broken_backend)
    X, y = _views(64)
    eager = _small(dropout=0.0).fit(X, y)
    with pytest.warns(UserWarning, match="compile=True, but torch.compile failed"):
        compiled = _small(dropout=0.0, compile=True).fit(X, y)
    assert_array_equal(compiled.transform(X), eager.transform(X))


# --------------------------------------------------------------- pickling ---
def test_loading_a_pickle_without_torch_says_how_to_install(tmp_path):
    """Unpickling a fitted model without torch: ImportError naming the CPU build."""
    X, y = _views(40)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_small(max_epochs=1).fit(X, y)))
    code = f"""
        import pickle, sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {{name!r}}")

        sys.meta_path.insert(0, NoTorch())
        try:
            pickle.loads(open({str(path)!r}, "rb").read())
        except ImportError as error:
            print(error)
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "fitted ContrastiveAligner" in result.stdout
    assert "--index-url https://download.pytorch.org/whl/cpu" in result.stdout


# ------------------------------------------------------------------ verbose ---
def test_verbose_lines_are_flushed_as_they_are_printed(monkeypatch):
    """Each progress line is flushed at once (a redirected log sees it live)."""
    events = []

    class Stream:
        def write(self, text):
            events.append(("write", text))

        def flush(self):
            events.append(("flush", None))

    monkeypatch.setattr(sys, "stdout", Stream())
    X, y = _views(60)
    _small(verbose=1, max_epochs=2).fit(X, y)
    lines = [i for i, (kind, text) in enumerate(events) if text and "\n" in text]
    assert len(lines) == 3  # two epochs and the stop line
    assert all(events[i + 1][0] == "flush" for i in lines)


# --------------------------------------------------------------------- CUDA ---
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_with_validation_and_float32_output():
    """On a GPU: early stopping, read-out and float32 output, results finite."""
    X, y = _views(400)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    model = _small(device="cuda", early_stopping=True, max_epochs=5).fit(X32, y32)
    assert model.device_.startswith("cuda")
    assert np.isfinite(model.validation_scores_).all()
    assert model.transform(X32).dtype == model.predict(X32).dtype == np.float32
    assert np.isfinite(model.predict(X32)).all()
    compiled = _small(device="cuda", compile=True, max_epochs=2).fit(X32, y32)
    assert np.isfinite(compiled.loss_curve_).all()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_auto_validation_size_is_ten_thousand(monkeypatch):
    """On a GPU the default cap holds out 10 000 pairs, scored on the device."""
    seen = _validation_sizes(monkeypatch)
    X, y = _views(110_000)
    model = _small(
        device="cuda",
        early_stopping="auto",
        hidden_layer_sizes=(),
        batch_size=8192,
        max_epochs=1,
    ).fit(X.astype(np.float32), y.astype(np.float32))
    assert seen == [10_000]
    assert 0 < model.validation_scores_[0] <= 1
