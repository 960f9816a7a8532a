"""ContrastiveAligner trained data-parallel on 2 gloo ranks over 127.0.0.1.

Each launch runs a top-level function of this module on both ranks (the
launcher's processes import it by name) and is bounded by a collective
timeout, so a broken collective fails the test instead of hanging. The
reference is the same estimator fitted in this process on all the rows.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from skcrossmodal import ContrastiveAligner  # noqa: E402
from skcrossmodal import distributed as launcher  # noqa: E402
from skcrossmodal._torch.losses import SIGLIP_INIT_BIAS, SIGLIP_INIT_LOG_SCALE  # noqa: E402
from skcrossmodal.callbacks import Callback  # noqa: E402

WORLD = 2
TIMEOUT = 60.0  # seconds any collective may wait; far above what they need
# Uneven shards on purpose: the gathers pad and trim.
SHARDS = (13, 19)
N_ROWS = sum(SHARDS)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "distributed_aligner.py"


def _views(n=N_ROWS, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = np.tanh(X @ rng.normal(size=(5, 3))) + 0.1 * rng.normal(size=(n, 3))
    weight = rng.uniform(0.2, 3.0, size=n)
    return X, y, weight


def _shard(A, rank):
    stops = np.cumsum(SHARDS)
    return A[stops[rank] - SHARDS[rank] : stops[rank]]


def _aligner(**params):
    defaults = {
        "n_components": 3,
        "hidden_layer_sizes": (8,),
        "dropout": 0.0,
        "early_stopping": False,
        "max_epochs": 3,
        "learning_rate": 1e-2,
        "device": "cpu",
        "random_state": 0,
    }
    return ContrastiveAligner(**{**defaults, **params})


def _weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.model_.state_dict().items()}


# ---------------------------------------------------------------- rank code ---
def _fit_on_rank(params, weighted):
    rank = dist.get_rank()
    X, y, weight = _views()
    model = _aligner(**params).fit(
        _shard(X, rank),
        _shard(y, rank),
        sample_weight=_shard(weight, rank) if weighted else None,
    )
    return {
        "loss_curve": model.loss_curve_,
        "weights": _weights(model),
        "scores": model.validation_scores_,
        "n_iter": model.n_iter_,
        "best_epoch": model.best_epoch_,
        "x_mean": model.x_mean_,
        "embedding": model.transform(X),
    }


def _partial_fit_on_rank():
    rank = dist.get_rank()
    model = _aligner()
    for seed, shards in ((0, (7, 12)), (1, (10, 3))):
        X, y, _ = _views(sum(shards), seed)
        rows = slice(0, shards[0]) if rank == 0 else slice(shards[0], None)
        model.partial_fit(X[rows], y[rows])
    return {"loss_curve": model.loss_curve_, "weights": _weights(model)}


class _StopOnRankOne(Callback):
    """Asks to stop after epoch 2, on rank 1 only."""

    def on_epoch_end(self, loop, record):
        if dist.get_rank() == 1 and record.epoch == 2:
            loop.stop("rank 1 asked")


def _stopped_on_one_rank():
    rank = dist.get_rank()
    X, y, _ = _views()
    model = _aligner(max_epochs=6, callbacks=[_StopOnRankOne()])
    model.fit(_shard(X, rank), _shard(y, rank))
    return {"n_iter": model.n_iter_, "weights": _weights(model)}


def _failures_on_rank():
    """Each bad setting on one rank must fail on both: the messages, per rank."""
    rank = dist.get_rank()
    X, y, _ = _views()
    X, y = _shard(X, rank), _shard(y, rank)
    X_nan = X.copy()
    if rank == 1:
        X_nan[3, 2] = np.nan
    cases = {
        "nan": (_aligner(), X_nan),
        "features": (_aligner(), X[:, : 4 + rank]),
        "parameters": (_aligner(learning_rate=0.01 * (rank + 1)), X),
        "batch_norm": (_aligner(normalization="batch"), X),
    }
    messages = {}
    for name, (model, X_rank) in cases.items():
        try:
            model.fit(X_rank, y)
        except ValueError as error:
            messages[name] = (str(error), hasattr(model, "model_"))
        else:
            messages[name] = (None, True)
    return messages


# ---------------------------------------------------------------- tests ---
@pytest.mark.parametrize(
    "params, weighted",
    [
        ({"loss": "infonce"}, True),
        ({"loss": "siglip", "reconstruction_weight": 0.5}, True),
        ({"loss": "siglip", "init": "random"}, False),
    ],
)
def test_two_ranks_match_one_process_with_the_global_batch(params, weighted):
    """2 ranks x batch b == 1 process x batch 2b, to float32 tolerance.

    ``batch_size`` covers every rank's rows, so each epoch is one batch on
    each rank and one batch of all the rows in one process: the shuffle
    order cannot matter, and the loss, the gradients (summed over ranks) and
    so the weights must agree.
    """
    per_rank = launcher.run(
        _fit_on_rank, {**params, "batch_size": 32}, weighted, timeout=TIMEOUT
    )
    X, y, weight = _views()
    alone = _aligner(**params, batch_size=64).fit(
        X, y, sample_weight=weight if weighted else None
    )
    # Every rank ends with exactly the same model.
    for key, value in per_rank[0]["weights"].items():
        assert_array_equal(per_rank[1]["weights"][key], value)
    assert_array_equal(per_rank[0]["embedding"], per_rank[1]["embedding"])
    assert_allclose(per_rank[0]["loss_curve"], alone.loss_curve_, rtol=1e-4)
    assert len(per_rank[0]["loss_curve"]) == 3
    for key, value in _weights(alone).items():
        assert_allclose(per_rank[0]["weights"][key], value, rtol=1e-3, atol=1e-4)
    assert_allclose(per_rank[0]["x_mean"], alone.x_mean_, rtol=1e-6)
    assert_allclose(per_rank[0]["embedding"], alone.transform(X), atol=1e-4)


def test_early_stopping_is_agreed_by_every_rank():
    """The validation score is reduced over the ranks: both stop together."""
    per_rank = launcher.run(
        _fit_on_rank,
        {
            "early_stopping": True,
            "max_epochs": 25,
            "n_iter_no_change": 2,
            "tol": 0.5,  # no epoch improves this much: stop after patience
            "batch_size": 8,
        },
        True,
        timeout=TIMEOUT,
    )
    first, second = per_rank
    assert first["n_iter"] == second["n_iter"] < 25
    assert first["best_epoch"] == second["best_epoch"]
    assert_array_equal(first["scores"], second["scores"])
    for key, value in first["weights"].items():
        assert_array_equal(second["weights"][key], value)


def test_a_callback_that_stops_on_one_rank_stops_every_rank():
    """A stop asked on one rank is agreed: both ranks end after epoch 2, alike."""
    first, second = launcher.run(_stopped_on_one_rank, timeout=TIMEOUT)
    assert first["n_iter"] == second["n_iter"] == 2
    for key, value in first["weights"].items():
        assert_array_equal(second["weights"][key], value)


def test_partial_fit_with_different_row_counts_per_rank():
    """Shards of 7/12 then 10/3 rows: one model, equal to one process."""
    per_rank = launcher.run(_partial_fit_on_rank, timeout=TIMEOUT)
    for key, value in per_rank[0]["weights"].items():
        assert_array_equal(per_rank[1]["weights"][key], value)
    alone = _aligner(batch_size=512)
    for seed, n in ((0, 19), (1, 13)):
        X, y, _ = _views(n, seed)
        alone.partial_fit(X, y)
    # One process with batch 512 makes one batch of all rows, like the ranks.
    assert_allclose(per_rank[0]["loss_curve"], alone.loss_curve_, rtol=1e-4)
    for key, value in _weights(alone).items():
        assert_allclose(per_rank[0]["weights"][key], value, rtol=1e-3, atol=1e-4)


def test_a_bad_rank_makes_every_rank_raise_a_clear_error():
    """NaN rows, other columns, other parameters on one rank; batch norm."""
    per_rank = launcher.run(_failures_on_rank, timeout=TIMEOUT)
    for rank, messages in enumerate(per_rank):
        nan, _ = messages["nan"]
        assert ("NaN" in nan) if rank == 1 else ("rank 1" in nan and "NaN" in nan)
        features, _ = messages["features"]
        assert "n_features_x" in features and "rank 1=5" in features
        parameters, _ = messages["parameters"]
        assert "learning_rate" in parameters
        batch_norm, _ = messages["batch_norm"]
        assert "normalization='batch'" in batch_norm
        # A call that raised left the estimator unfitted.
        assert not any(fitted for _, fitted in messages.values())


def test_siglip_starts_at_its_initialisation_and_keeps_its_loss():
    X, y, _ = _views()
    model = _aligner(loss="siglip", max_epochs=1)
    model.fit(X, y)
    assert model.model_.logit_bias is not None
    assert _aligner(max_epochs=1).fit(X, y).model_.logit_bias is None
    fresh = _aligner(loss="siglip", max_epochs=1, learning_rate=1e-12).fit(X, y)
    assert fresh.temperature_ == pytest.approx(np.exp(-SIGLIP_INIT_LOG_SCALE))
    assert float(fresh.model_.logit_bias.detach()) == pytest.approx(SIGLIP_INIT_BIAS)
    model.set_params(warm_start=True, loss="infonce")
    with pytest.raises(ValueError, match="loss='siglip'"):
        model.fit(X, y)


def test_loss_must_be_an_option():
    X, y, _ = _views()
    with pytest.raises(ValueError, match="'loss' parameter"):
        _aligner(loss="clip").fit(X, y)


def test_distributed_example_runs():
    """examples/distributed_aligner.py (2 local ranks), bounded in time."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLE.parents[1],
        # One thread per process: two threads collapse on a busy 2-core machine.
        env={
            **os.environ,
            "PYTHONPATH": str(EXAMPLE.parents[1]),
            "OMP_NUM_THREADS": "1",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "2 ranks: held-out MRR" in result.stdout
    assert "1 process, same global batch" in result.stdout
