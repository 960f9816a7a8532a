"""ContrastiveAligner's training recipe: threads, one-column views, progress text."""

import re

import numpy as np
import pytest
from sklearn.metrics import r2_score

from skcrossmodal import ContrastiveAligner, CrossModalEmbedding
from skcrossmodal.callbacks import ProgressPrinter

torch = pytest.importorskip("torch")
from skcrossmodal._torch import loop as training  # noqa: E402
from skcrossmodal._torch import modules as models  # noqa: E402
from skcrossmodal._torch import threads  # noqa: E402


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test starts from a process count of 1 and gives back what it found."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _views(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = np.tanh(X @ rng.normal(size=(6, 4)))
    return X, y


def _small(**params):
    defaults = dict(
        n_components=4,
        hidden_layer_sizes=(16,),
        max_epochs=3,
        device="cpu",
        random_state=0,
        init="random",
    )
    return ContrastiveAligner(**{**defaults, **params})


def _record_threads(monkeypatch):
    """Record torch's thread count inside every training step."""
    seen = []
    call = training.TrainingLoop.train_step

    def recording(self, *args):
        seen.append(torch.get_num_threads())
        return call(self, *args)

    monkeypatch.setattr(training.TrainingLoop, "train_step", recording)
    return seen


# ----------------------------------------------------------------- threads ---
@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_training_step_runs_on_the_threads_asked_for(monkeypatch, n_jobs):
    """n_jobs threads inside every step; the process's count after the fit."""
    seen = _record_threads(monkeypatch)
    X, y = _views()
    _small(n_jobs=n_jobs).fit(X, y)
    assert seen and set(seen) == {n_jobs}
    assert torch.get_num_threads() == 1


def test_thread_count_is_restored_after_a_fit_that_raises(monkeypatch):
    def failing(self, *args):
        assert torch.get_num_threads() == 2
        raise RuntimeError("step failed")

    monkeypatch.setattr(training.TrainingLoop, "train_step", failing)
    X, y = _views()
    model = _small(n_jobs=2)
    with pytest.raises(RuntimeError, match="step failed"):
        model.fit(X, y)
    assert torch.get_num_threads() == 1
    assert not hasattr(model, "model_")


def test_inference_runs_on_the_threads_asked_for(monkeypatch):
    X, y = _views()
    model = _small(n_jobs=2).fit(X, y)
    seen = []
    embed = models.TwoViewEncoder.embed_x

    def recording(self, x):
        seen.append(torch.get_num_threads())
        return embed(self, x)

    monkeypatch.setattr(models.TwoViewEncoder, "embed_x", recording)
    model.transform(X)
    model.predict(X)
    assert seen and set(seen) == {2}
    assert torch.get_num_threads() == 1


def test_default_threads_follow_the_model_size(monkeypatch):
    """None: one thread for a small model, the process's count for a large one;
    -1 is the process's count, -2 one fewer."""
    torch.set_num_threads(3)
    assert threads.resolve_threads(None, threads.SMALL_MODEL_MULTIPLY_ADDS - 1) == 1
    assert threads.resolve_threads(None, threads.SMALL_MODEL_MULTIPLY_ADDS) == 3
    assert threads.resolve_threads(-1, 0) == 3
    assert threads.resolve_threads(-2, 0) == 2
    assert threads.resolve_threads(-9, 0) == 1
    assert threads.resolve_threads(5, 0) == 5
    seen = _record_threads(monkeypatch)
    X, y = _views()
    _small().fit(X, y)  # 6 x 16 + 16 x 4 weights a view: a small model
    assert set(seen) == {1} and torch.get_num_threads() == 3


def test_nested_calls_restore_the_process_count_once():
    """Overlapping calls (threads) never leave the process at a call's count."""
    torch.set_num_threads(2)
    with threads.torch_threads(1):
        with threads.torch_threads(3):
            assert torch.get_num_threads() == 3
            assert threads.process_threads() == 2
        assert torch.get_num_threads() == 3  # the last setter holds until all leave
    assert torch.get_num_threads() == 2


def test_same_seed_gives_the_same_model_on_any_thread_count():
    X, y = _views()
    one = _small(n_jobs=1).fit(X, y)
    two = _small(n_jobs=2).fit(X, y)
    np.testing.assert_allclose(one.transform(X), two.transform(X), atol=1e-5)


def test_n_jobs_zero_is_rejected():
    X, y = _views(n=20)
    with pytest.raises(ValueError, match="n_jobs=0"):
        _small(n_jobs=0).fit(X, y)


# -------------------------------------------------------- one-column views ---
def test_one_column_y_keeps_a_graded_embedding_and_predicts_like_cca():
    """A one-column y: CCA has one component, whose unit-sphere image is its
    sign, so it is no candidate; the default predicts y from a graded
    embedding (R^2 0.78 here, against the linear estimator's 0.998; before,
    0.65 from two distinct embeddings)."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=5)
    X = rng.normal(size=(300, 5))
    y = X @ w + 0.1 * rng.normal(size=300)
    X_test = np.random.default_rng(1).normal(size=(300, 5))
    model = ContrastiveAligner(device="cpu", random_state=0).fit(X, y)
    assert model.linear_share_ is None
    assert len(np.unique(model.transform(X).round(6), axis=0)) > 100
    r2 = r2_score(X_test @ w, model.predict(X_test))
    r2_linear = r2_score(X_test @ w, CrossModalEmbedding().fit(X, y).predict(X_test))
    assert r2 > 0.7 * r2_linear


# ---------------------------------------------------------------- progress ---
_EPOCH_LINE = re.compile(
    r"^Epoch (\d+)/(\d+)(?: \(epoch (\d+) in all\))?: loss [\d.]+, .* "
    r"ETA \d+:\d\d:\d\d$"
)


def test_progress_shows_eta_as_clock_and_the_total_only_when_continuing(capsys):
    X, y = _views()
    model = _small(max_epochs=2, verbose=1, warm_start=True).fit(X, y)
    first = capsys.readouterr().out.splitlines()
    model.fit(X, y)
    second = capsys.readouterr().out.splitlines()
    matches = [_EPOCH_LINE.match(line) for line in first[:2] + second[:2]]
    assert all(matches)
    assert [m.group(3) for m in matches] == [None, None, "3", "4"]


def test_clock_format():
    clock = ProgressPrinter.clock
    assert clock(0) == "0:00:00"
    assert clock(59.6) == "0:01:00"
    assert clock(2282.4) == "0:38:02"
    assert clock(3 * 3600 + 61) == "3:01:01"


@pytest.mark.parametrize("n_pairs", [56, 400])
def test_stop_line_names_cca_when_cca_is_kept(monkeypatch, capsys, n_pairs):
    """Kept, CCA is named (chosen on folds, or on held-out pairs)."""
    from skcrossmodal._contrastive import aligner

    monkeypatch.setattr(
        aligner, "_blended_mrr", lambda linear, trained, share, w: share
    )
    X, y = _views(n=n_pairs)
    model = ContrastiveAligner(
        hidden_layer_sizes=(8,),
        max_epochs=2,
        device="cpu",
        verbose=1,
        early_stopping="auto" if n_pairs < 100 else True,
    ).fit(X, y)
    last = capsys.readouterr().out.splitlines()[-1]
    assert model.linear_share_ == 1.0 and model.best_epoch_ == 0
    assert last.startswith("Stopped after epoch 2")
    assert "the CCA solution (refitted on every pair) is kept" in last


def test_stop_line_names_the_blend(monkeypatch, capsys):
    from skcrossmodal._contrastive import aligner

    monkeypatch.setattr(
        aligner, "_blended_mrr", lambda linear, trained, share, w: -abs(share - 0.5)
    )
    X, y = _views(n=400)
    model = ContrastiveAligner(
        hidden_layer_sizes=(8,), max_epochs=2, device="cpu", verbose=1
    ).fit(X, y)
    last = capsys.readouterr().out.splitlines()[-1]
    assert model.linear_share_ == 0.5
    assert (
        "a blend is kept: 0.5 x the cosine of CCA (refitted on every pair) + "
        f"0.5 x that of the weights of epoch {model.best_epoch_}"
    ) in last


def _threads_of_every_thread_setting():
    from skcrossmodal._torch import threads as worker_threads

    return worker_threads.resolve_threads(-1, 0)


def test_every_thread_in_a_joblib_worker_is_joblibs_share():
    """n_jobs=-1 inside a joblib process worker is the worker's share of the
    cores (joblib starts it with OMP_NUM_THREADS set), as for BLAS."""
    import joblib

    shares = joblib.Parallel(n_jobs=2)(
        joblib.delayed(_threads_of_every_thread_setting)() for _ in range(2)
    )
    assert shares == [max(1, joblib.cpu_count() // 2)] * 2
