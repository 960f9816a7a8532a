"""The training loop gives bit-identical results to the loop it replaced.

Each configuration below was fitted on the code before the loop was split into
a plan, named steps and callbacks (commit 2ae7a76), on the CPU, and the SHA-256
of every tensor of ``model_``'s state dict, of the transform and predict
outputs, of ``n_iter_``, ``best_epoch_``, the loss curve, the validation scores
and the printed progress (timings masked) were recorded here. The refactored
loop must reproduce every one of them bit for bit.

Bit-identity holds for one torch build on one kind of CPU (kernels differ
between instruction sets and torch releases), so the comparison runs where the
hashes were recorded: torch ``RECORDED_TORCH`` on ``RECORDED_MACHINE``.
Run ``python tests/test_aligner_loop.py`` to print the fingerprints afresh.
"""

import contextlib
import dataclasses
import hashlib
import io
import platform
import re
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone

from skcrossmodal import ContrastiveAligner
from skcrossmodal.callbacks import (
    BestWeights,
    Callback,
    DivergenceCheck,
    EarlyStopping,
    ProgressPrinter,
    ValidationScoring,
)

torch = pytest.importorskip("torch")


class Tower(torch.nn.Module):
    """A small custom encoder (a class, built with x_encoder__ parameters)."""

    def __init__(self, in_features, out_features, width=8):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(in_features, width),
            torch.nn.Tanh(),
            torch.nn.Linear(width, out_features),
        )

    def forward(self, x):
        return self.net(x)


def _views(n=120, n_x=6, n_y=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_x))
    y = np.tanh(X[:, :n_y] + 0.3 * rng.normal(size=(n, n_y)))
    return X, y


def _small(**params):
    defaults = dict(
        n_components=4, hidden_layer_sizes=(16,), max_epochs=3, device="cpu"
    )
    return ContrastiveAligner(**{**defaults, "random_state": 0, **params})


def _default_auto():
    """init="auto" below 10 000 pairs: the K-fold blend."""
    X, y = _views()
    return _small().fit(X, y), X, y


def _auto_with_validation():
    """init="auto" with early stopping: the blend chosen on held-out pairs."""
    X, y = _views(400)
    return _small(early_stopping=True).fit(X, y), X, y


def _random_early_stopping():
    X, y = _views(200)
    model = _small(
        init="random",
        early_stopping=True,
        validation_fraction=0.2,
        max_epochs=8,
        n_iter_no_change=2,
        batch_size=32,
    )
    return model.fit(X, y), X, y


def _cca_start():
    X, y = _views(200)
    model = _small(init="cca", early_stopping=True, reconstruction_weight=0.5)
    return model.fit(X, y), X, y


def _warm_start():
    X, y = _views()
    model = _small(init="random", batch_size=32).fit(X, y)
    model.set_params(warm_start=True, max_epochs=2, learning_rate=5e-4)
    return model.fit(X, y), X, y


def _partial_fit_twice():
    X, y = _views()
    model = _small(batch_size=40)
    model.partial_fit(X[:60], y[:60]).partial_fit(X[60:], y[60:])
    return model, X, y


def _sample_weight():
    X, y = _views()
    weight = np.random.default_rng(1).uniform(0.0, 3.0, size=X.shape[0])
    model = _small(init="random", batch_size=32).fit(X, y, sample_weight=weight)
    return model, X, y


def _uniform_sample_weight():
    X, y = _views()
    weight = np.full(X.shape[0], 2.5)
    model = _small(init="random", batch_size=32).fit(X, y, sample_weight=weight)
    return model, X, y


def _siglip():
    X, y = _views()
    return _small(loss="siglip", init="random", batch_size=32).fit(X, y), X, y


def _image_cnn():
    X, y = _views(n_x=64)
    model = _small(
        x_encoder="image_cnn",
        x_encoder__input_shape=(1, 8, 8),
        x_encoder__channels=(4,),
        x_encoder__hidden=8,
        batch_size=40,
        max_epochs=2,
    )
    return model.fit(X, y), X, y


def _module_class():
    X, y = _views()
    model = _small(x_encoder=Tower, x_encoder__width=5, batch_size=32)
    return model.fit(X, y), X, y


def _verbose():
    X, y = _views(200)
    model = _small(init="random", early_stopping=True, verbose=1, validation_interval=2)
    return model.fit(X, y), X, y


CONFIGURATIONS = {
    "default_auto": _default_auto,
    "auto_with_validation": _auto_with_validation,
    "random_early_stopping": _random_early_stopping,
    "cca_start": _cca_start,
    "warm_start": _warm_start,
    "partial_fit_twice": _partial_fit_twice,
    "sample_weight": _sample_weight,
    "uniform_sample_weight": _uniform_sample_weight,
    "siglip": _siglip,
    "image_cnn": _image_cnn,
    "module_class": _module_class,
    "verbose": _verbose,
}

_TIMING = re.compile(r"[\d,]+ pairs/s, [\d.]+ s, ETA \d+:\d\d:\d\d")


def _sha(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):
        data = str(value.dtype).encode() + str(value.shape).encode()
        return hashlib.sha256(data + np.ascontiguousarray(value).tobytes()).hexdigest()
    return hashlib.sha256(repr(value).encode()).hexdigest()


def fingerprint(name):
    """SHA-256 of everything a configuration's fit leaves behind."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model, X, y = CONFIGURATIONS[name]()
    prints = {}
    for key, tensor in model.model_.state_dict().items():
        prints[f"model_.{key}"] = _sha(tensor)
    z_x, z_y = model.transform(X, y)
    prints["transform_x"] = _sha(z_x)
    prints["transform_y"] = _sha(z_y)
    prints["predict"] = _sha(model.predict(X))
    prints["n_iter_"] = _sha(model.n_iter_)
    prints["best_epoch_"] = _sha(model.best_epoch_)
    prints["loss_curve_"] = _sha([float(v).hex() for v in model.loss_curve_])
    scores = model.validation_scores_
    prints["validation_scores_"] = _sha(
        None if scores is None else [float(v).hex() for v in scores]
    )
    prints["linear_share_"] = _sha(model.linear_share_)
    prints["stdout"] = _sha(_TIMING.sub("<timing>", out.getvalue()))
    return prints


RECORDED_TORCH = None
RECORDED_MACHINE = None
EXPECTED = {}


def _where_recorded():
    return torch.__version__ == RECORDED_TORCH and platform.machine() == (
        RECORDED_MACHINE
    )


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_fit_is_bit_identical_to_the_recorded_loop(name):
    """Every weight, output, counter and printed line hashes as recorded."""
    if not _where_recorded():
        pytest.skip(
            f"hashes recorded with torch {RECORDED_TORCH} on {RECORDED_MACHINE}"
        )
    assert fingerprint(name) == EXPECTED[name]


def test_fingerprint_tells_runs_apart():
    """The fingerprint sees a different seed (so equal hashes mean something)."""
    X, y = _views()
    a = _small(init="random", max_epochs=1).fit(X, y)
    b = _small(init="random", max_epochs=1, random_state=1).fit(X, y)
    assert _sha(a.transform(X)) != _sha(b.transform(X))
    assert _sha(a.transform(X)) == _sha(
        _small(init="random", max_epochs=1).fit(X, y).transform(X)
    )


# -------------------------------------------------------------- callbacks ---
class Recorder(Callback):
    """Records what the loop shows; stops after ``stop_after`` epochs if given."""

    def __init__(self, stop_after=None):
        self.stop_after = stop_after

    def on_train_begin(self, loop):
        self.calls = getattr(self, "calls", 0) + 1
        self.epochs, self.losses, self.scores, self.messages = [], [], [], []

    def on_epoch_end(self, loop, record):
        self.epochs.append(record.epoch)
        self.losses.append(record.loss)
        self.scores.append(record.score)
        if self.stop_after is not None and len(self.epochs) == self.stop_after:
            loop.stop("the recorder had enough")

    def on_fit_end(self, loop, message):
        self.messages.append(message)


def test_a_user_callback_sees_every_epoch():
    """Its epochs and losses are the fit's, warm starts numbered on."""
    X, y = _views()
    recorder = Recorder()
    model = _small(init="random", max_epochs=4, callbacks=[recorder]).fit(X, y)
    assert recorder.epochs == [1, 2, 3, 4]
    assert recorder.losses == model.loss_curve_
    assert recorder.scores == [None] * 4  # no validation, no score
    assert recorder.messages == [
        "Stopped after epoch 4: max_epochs reached; the weights of epoch 4 are kept."
    ]
    model.set_params(warm_start=True, max_epochs=2).fit(X, y)
    assert recorder.calls == 2 and recorder.epochs == [5, 6]
    assert recorder.losses == model.loss_curve_[4:]


def test_a_user_callback_sees_the_validation_scores():
    """With early stopping the built-in scoring runs before a user's callback."""
    X, y = _views(200)
    recorder = Recorder()
    model = _small(
        init="random",
        early_stopping=True,
        validation_interval=2,
        max_epochs=5,
        callbacks=[recorder],
    ).fit(X, y)
    expected = [None if np.isnan(s) else s for s in model.validation_scores_]
    assert recorder.scores == expected
    assert [s is None for s in expected] == [True, False, True, False, False]


def test_a_user_callback_can_stop_training():
    """Stopped after 3 epochs, the fit is bit for bit a fit of 3 epochs."""
    X, y = _views()
    recorder = Recorder(stop_after=3)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model = _small(
            init="random", max_epochs=10, verbose=1, callbacks=[recorder]
        ).fit(X, y)
    assert model.n_iter_ == model.best_epoch_ == 3 == len(recorder.losses)
    three = _small(init="random", max_epochs=3).fit(X, y)
    assert model.loss_curve_ == three.loss_curve_
    np.testing.assert_array_equal(model.transform(X), three.transform(X))
    last = out.getvalue().splitlines()[-1]
    assert last == (
        "Stopped after epoch 3: the recorder had enough; the weights of epoch 3 "
        "are kept."
    )


def test_callbacks_are_parameters_that_clone():
    """get_params shows them, clone copies them, set_params replaces them."""
    recorder = Recorder(stop_after=2)
    model = _small(callbacks=[recorder])
    assert model.get_params()["callbacks"] == [recorder]
    copy = clone(model)
    (copied,) = copy.callbacks
    assert copied is not recorder and isinstance(copied, Recorder)
    assert copied.stop_after == 2
    X, y = _views()
    copy.set_params(init="random", max_epochs=5).fit(X, y)
    assert copy.n_iter_ == 2 and copied.epochs == [1, 2]
    assert not hasattr(recorder, "epochs")  # the original was not used
    assert repr(Recorder(stop_after=1)) == "Recorder(stop_after=1)"


def test_callbacks_must_be_a_list():
    X, y = _views()
    with pytest.raises(ValueError, match="callbacks"):
        _small(callbacks=Recorder()).fit(X, y)


def test_built_in_callbacks_follow_the_parameters():
    """The loop's callbacks: the built-in ones from the parameters, then the user's."""
    recorder = Recorder()
    model = _small(early_stopping=True, verbose=1, callbacks=[recorder])
    plan = SimpleNamespace(
        early_stopping=True, validation_interval=3, patience=7, tol=0.5
    )
    built = model._callbacks_for(plan)
    assert [type(c) for c in built] == [
        DivergenceCheck,
        ValidationScoring,
        EarlyStopping,
        BestWeights,
        ProgressPrinter,
        Recorder,
    ]
    assert built[1].interval == 3
    assert (built[2].patience, built[2].tol) == (7, 0.5)
    plan = SimpleNamespace(
        early_stopping=False, validation_interval=1, patience=2, tol=0.0
    )
    quiet = _small(verbose=0)._callbacks_for(plan)
    assert [type(c) for c in quiet] == [DivergenceCheck, EarlyStopping]


def test_training_plan_is_frozen():
    """The plan of a call cannot be changed by the loop or a callback."""
    seen = []

    class Peek(Callback):
        def on_train_begin(self, loop):
            seen.append(loop.plan)
            with pytest.raises(dataclasses.FrozenInstanceError):
                loop.plan.max_epochs = 1

    X, y = _views()
    _small(init="random", max_epochs=2, batch_size=32, callbacks=[Peek()]).fit(X, y)
    (plan,) = seen
    assert (plan.max_epochs, plan.batch_count, plan.n_train) == (2, 4, 120)
    assert str(plan.device) == "cpu" and plan.first_epoch == 0


if __name__ == "__main__":  # print the fingerprints to paste above
    import pprint

    print(f"RECORDED_TORCH = {torch.__version__!r}")
    print(f"RECORDED_MACHINE = {platform.machine()!r}")
    print(
        "EXPECTED = "
        + pprint.pformat({name: fingerprint(name) for name in CONFIGURATIONS})
    )
