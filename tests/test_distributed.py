"""ProcessGroupCommunicator and the local launcher, on 2 gloo ranks over 127.0.0.1.

Every rank runs a top-level function of this module (the launcher's processes
import it by name) and returns what it computed; the parent compares that with
the same computation done in one process. Each launch is bounded by a
collective timeout, so a broken collective fails the test instead of hanging.
"""

import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

from skcrossmodal import ContrastiveAligner  # noqa: E402
from skcrossmodal import distributed as launcher  # noqa: E402
from skcrossmodal._torch.communicator import (  # noqa: E402
    ProcessGroupCommunicator,
    active_communicator,
    check_same_on_every_rank,
    describe_fit,
    raise_together,
)
from skcrossmodal._torch.losses import sigmoid_pairwise_loss  # noqa: E402
from skcrossmodal._torch.modules import symmetric_info_nce  # noqa: E402

WORLD = 2
TIMEOUT = 30.0  # seconds any collective may wait; far above what they need
# Rows per rank: uneven on purpose (pad-and-trim in the gathers).
ROWS = (3, 5)
N_X, N_Y, N_OUT = 5, 4, 3


def _rank_rows(rank, seed=0):
    """This rank's shard of a global batch, reproducible in the parent."""
    rng = np.random.default_rng([seed, rank])
    n = ROWS[rank]
    return (
        torch.from_numpy(rng.normal(size=(n, N_X))).float(),
        torch.from_numpy(rng.normal(size=(n, N_Y))).float(),
        torch.from_numpy(rng.uniform(0.5, 2.0, size=n)).float(),
    )


def _global_rows(seed=0):
    shards = [_rank_rows(rank, seed) for rank in range(WORLD)]
    return [torch.cat(parts) for parts in zip(*shards, strict=True)]


class _TwoTowers(torch.nn.Module):
    """A small MLP per view into an L2-normalised space, plus SigLIP's scalars."""

    def __init__(self):
        super().__init__()
        self.encoder_x = torch.nn.Sequential(
            torch.nn.Linear(N_X, 8), torch.nn.LayerNorm(8), torch.nn.Tanh(),
            torch.nn.Linear(8, N_OUT),
        )  # fmt: skip
        self.encoder_y = torch.nn.Sequential(
            torch.nn.Linear(N_Y, 8), torch.nn.Tanh(), torch.nn.Linear(8, N_OUT)
        )
        self.logit_scale = torch.nn.Parameter(torch.tensor(2.0))
        self.logit_bias = torch.nn.Parameter(torch.tensor(-1.0))

    def forward(self, x, y):
        normalize = torch.nn.functional.normalize
        return normalize(self.encoder_x(x), dim=1), normalize(self.encoder_y(y), dim=1)


def _loss(name, model, z_x, z_y, w):
    if name == "infonce":
        return symmetric_info_nce(z_x, z_y, model.logit_scale, w)
    return sigmoid_pairwise_loss(z_x, z_y, model.logit_scale, model.logit_bias, w)


def _one_step(model, loss_name, x, y, w, comm):
    """The aligner's step, per COMM_INTERFACE: global-batch loss, summed grads."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    z_x, z_y = model(x, y)
    loss = _loss(
        loss_name,
        model,
        comm.gather_with_grad(z_x),
        comm.gather_with_grad(z_y),
        comm.gather(w),
    )
    optimizer.zero_grad()
    loss.backward()
    comm.sum_gradients(
        model.parameters(), replicated=[model.logit_scale, model.logit_bias]
    )
    grads = {
        k: None if p.grad is None else p.grad.clone()
        for k, p in model.named_parameters()
    }
    optimizer.step()
    return (
        float(loss.detach()),
        grads,
        {k: v.clone() for k, v in model.state_dict().items()},
    )


class _OneProcess:
    """The single-process communicator of COMM_INTERFACE (all no-ops)."""

    rank, world_size, is_main = 0, 1, True

    def gather(self, tensor):
        return tensor

    gather_with_grad = gather

    def sum_gradients(self, parameters, replicated=()):
        pass


# ---------------------------------------------------------------- rank code ---
def _collectives_on_rank():
    comm = ProcessGroupCommunicator()
    x, y, w = _rank_rows(comm.rank)
    values = torch.arange(4, dtype=torch.float64) * (comm.rank + 1) - comm.rank
    # A parameter with a gradient on rank 1 only: rank 0 must still step.
    lonely = torch.nn.Parameter(torch.zeros(2))
    if comm.rank == 1:
        (2 * lonely).sum().backward()
    comm.sum_gradients([lonely])
    return {
        "rank": comm.rank,
        "world_size": comm.world_size,
        "is_main": comm.is_main,
        "sum": comm.all_reduce_sum(values).numpy(),
        "max": comm.all_reduce_max(values).numpy(),
        "gather_x": comm.gather(x).numpy(),
        "gather_w": comm.gather(w).numpy(),
        # An empty last batch on rank 0 (shards of unequal length).
        "gather_empty": comm.gather(x[:0] if comm.rank == 0 else x).numpy(),
        "any_rank1": comm.any_true(comm.rank == 1),
        "any_none": comm.any_true(False),
        "lonely_grad": lonely.grad.numpy(),
        "values_unchanged": values.numpy(),
    }


def _training_step_on_rank(loss_name):
    comm = ProcessGroupCommunicator()
    # Different initial weights per rank: broadcast_module must make them rank 0's.
    torch.manual_seed(comm.rank)
    model = _TwoTowers()
    comm.broadcast_module(model)
    x, y, w = _rank_rows(comm.rank)
    return _one_step(model, loss_name, x, y, w, comm)


def _non_finite_loss_on_rank():
    comm = ProcessGroupCommunicator()
    torch.manual_seed(0)
    model = _TwoTowers()
    x, y, w = _rank_rows(comm.rank)
    if comm.rank == 1:
        x[0, 0] = float("nan")
    z_x, z_y = model(x, y)
    loss = symmetric_info_nce(
        comm.gather_with_grad(z_x), comm.gather_with_grad(z_y), model.logit_scale
    )
    if comm.any_true(not torch.isfinite(loss)):
        raise FloatingPointError(
            f"the training loss is not finite (seen on rank {comm.rank})"
        )
    return float(loss)


def _rank_1_rejects_its_shard():
    comm = ProcessGroupCommunicator()
    error = None
    try:
        if comm.rank == 1:
            raise ValueError("Input X contains NaN.")
    except ValueError as caught:
        error = caught
    raise_together(comm, error)
    return "not raised"


def _rank_1_dies_early():
    comm = ProcessGroupCommunicator()
    if comm.rank == 1:
        raise ValueError("rank 1 could not read its shard")
    # Rank 0 waits in a collective that rank 1 never joins.
    return comm.all_reduce_sum(torch.ones(1))


def _consistency_on_rank():
    comm = ProcessGroupCommunicator()
    estimator = ContrastiveAligner(
        n_components=4 + comm.rank, device=f"cuda:{comm.rank}", verbose=comm.rank
    )
    check_same_on_every_rank(comm, estimator, 10, 7 + comm.rank)


def _consistent_on_rank():
    comm = active_communicator()
    estimator = ContrastiveAligner(
        random_state=np.random.RandomState(comm.rank), device=f"cuda:{comm.rank}"
    )
    check_same_on_every_rank(comm, estimator, 10, 7)
    return comm.rank


# -------------------------------------------------------------------- tests ---
def _listening_addresses():
    """Addresses this process listens on over TCP, read from /proc/net/tcp{,6}."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    addresses = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        with open(f"/proc/net/{table}") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                # Each 32-bit word of the address is printed in host byte order.
                raw = bytes.fromhex(fields[1].split(":")[0])
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
                addresses.append(socket.inet_ntop(family, b"".join(words)))
    return addresses


def _listening_on_rank():
    # A collective first, so that every connection between ranks is open.
    dist.barrier()
    return _listening_addresses()


@pytest.mark.skipif(
    not os.path.exists("/proc/net/tcp"), reason="needs Linux's /proc/net/tcp"
)
def test_launcher_listens_on_loopback_only():
    """No rank opens a listening socket outside the loopback interface."""
    per_rank = launcher.run(_listening_on_rank, n_processes=WORLD, timeout=TIMEOUT)
    seen = [address for addresses in per_rank for address in addresses]
    assert seen, "expected the ranks' own loopback connections to be listed"
    for address in seen:
        assert ipaddress.ip_address(address).is_loopback, per_rank


def test_collectives_match_one_process():
    """Sums, maxima, uneven gathers, votes and summed gradients over 2 ranks."""
    results = launcher.run(_collectives_on_rank, n_processes=WORLD, timeout=TIMEOUT)
    x, _, w = _global_rows()
    per_rank = [np.arange(4.0) * (r + 1) - r for r in range(WORLD)]
    for rank, out in enumerate(results):
        assert (out["rank"], out["world_size"], out["is_main"]) == (rank, 2, rank == 0)
        np.testing.assert_array_equal(out["sum"], np.sum(per_rank, axis=0))
        np.testing.assert_array_equal(out["max"], np.max(per_rank, axis=0))
        np.testing.assert_array_equal(out["values_unchanged"], per_rank[rank])
        np.testing.assert_array_equal(out["gather_x"], x.numpy())
        np.testing.assert_array_equal(out["gather_w"], w.numpy())
        np.testing.assert_array_equal(out["gather_empty"], x[ROWS[0] :].numpy())
        assert out["any_rank1"] is True and out["any_none"] is False
        np.testing.assert_array_equal(out["lonely_grad"], [2.0, 2.0])


@pytest.mark.parametrize("loss_name", ["infonce", "siglip"])
def test_global_batch_step_matches_one_process(loss_name):
    """2 ranks x (3, 5) rows give the loss, gradients and step of 1 x 8 rows."""
    results = launcher.run(
        _training_step_on_rank, loss_name, n_processes=WORLD, timeout=TIMEOUT
    )
    torch.manual_seed(0)  # rank 0's initial weights, which every rank received
    model = _TwoTowers()
    x, y, w = _global_rows()
    loss, grads, state = _one_step(model, loss_name, x, y, w, _OneProcess())
    for rank_loss, rank_grads, rank_state in results:
        assert rank_loss == pytest.approx(loss, rel=1e-6)
        for name, grad in grads.items():
            if grad is None:  # unused by this loss (the bias under InfoNCE)
                assert rank_grads[name] is None
            else:
                torch.testing.assert_close(rank_grads[name], grad, rtol=1e-5, atol=1e-6)
        for name, value in state.items():
            torch.testing.assert_close(rank_state[name], value, rtol=1e-5, atol=1e-6)
    # Every rank holds exactly the same weights after the step.
    for name in state:
        torch.testing.assert_close(
            results[0][2][name], results[1][2][name], rtol=0, atol=0
        )


def test_nan_on_one_rank_raises_on_every_rank():
    """A non-finite loss on rank 1 is seen by any_true: both ranks raise."""
    with pytest.raises(FloatingPointError, match="not finite") as caught:
        launcher.run(_non_finite_loss_on_rank, n_processes=WORLD, timeout=TIMEOUT)
    report = str(caught.value.__cause__)
    assert "2 of 2 ranks failed" in report
    assert "seen on rank 0" in report and "seen on rank 1" in report


def test_an_error_on_one_rank_is_raised_on_every_rank():
    """raise_together: rank 1's own error there, a ValueError naming it on rank 0."""
    with pytest.raises(ValueError, match="contains NaN") as caught:
        launcher.run(_rank_1_rejects_its_shard, n_processes=WORLD, timeout=TIMEOUT)
    report = str(caught.value.__cause__)
    assert "Another rank of the process group failed: rank 1: ValueError" in report
    assert "--- rank 0:" in report and "--- rank 1:" in report


def test_failed_rank_makes_the_others_raise_not_hang():
    """Rank 1 raises before a collective; rank 0 errors out within the timeout."""
    with pytest.raises(ValueError, match="could not read its shard") as caught:
        launcher.run(_rank_1_dies_early, n_processes=WORLD, timeout=5.0)
    report = str(caught.value.__cause__)
    assert "2 of 2 ranks failed" in report
    assert "--- rank 0:" in report and "--- rank 1:" in report


def test_mismatched_features_and_parameters_raise_on_every_rank():
    """Different n_features_y and n_components across ranks: ValueError on each."""
    with pytest.raises(ValueError, match="ranks differ in") as caught:
        launcher.run(_consistency_on_rank, n_processes=WORLD, timeout=TIMEOUT)
    message = str(caught.value)
    assert "n_components: rank 0=4, rank 1=5" in message
    assert "n_features_y: rank 0=7, rank 1=8" in message
    assert "device" not in message and "verbose" not in message
    assert "2 of 2 ranks failed" in str(caught.value.__cause__)


def test_consistent_ranks_pass_the_check():
    """Per-rank devices and RandomState instances are not a mismatch."""
    assert launcher.run(_consistent_on_rank, n_processes=WORLD, timeout=TIMEOUT) == [
        0,
        1,
    ]


def test_describe_fit_lists_counts_and_parameters():
    """The fingerprint holds the feature counts and every shared parameter."""
    description = describe_fit(ContrastiveAligner(hidden_layer_sizes=[8, 4]), 3, 2)
    assert description["n_features_x"] == 3 and description["n_features_y"] == 2
    assert description["hidden_layer_sizes"] == (8, 4)
    expected = set(ContrastiveAligner().get_params()) - {"device", "verbose"}
    assert set(description) - {"n_features_x", "n_features_y"} == expected


def test_launcher_import_leaves_torch_unloaded():
    """``import skcrossmodal.distributed`` does not import torch."""
    code = (
        "import sys, skcrossmodal.distributed; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_communicator_needs_a_process_group():
    """Outside a process group the communicator says how to get one."""
    assert active_communicator() is None
    with pytest.raises(RuntimeError, match="initialised torch.distributed"):
        ProcessGroupCommunicator()


@pytest.mark.parametrize(
    "options, match",
    [
        ({"n_processes": 0}, "at least 1"),
        ({"n_processes": True}, "integer"),
        ({"backend": "mpi"}, "backend must be one of"),
        ({"timeout": 0}, "positive number of seconds"),
        ({"n_threads": 0}, "positive integer"),
    ],
)
def test_run_rejects_bad_options(options, match):
    """Bad launcher options raise before any process starts."""
    with pytest.raises((ValueError, TypeError), match=match):
        launcher.run(print, **options)


def test_fit_refuses_estimators_that_do_not_train_across_ranks():
    """Fitting shards independently would be silently wrong: refuse it."""
    from sklearn.linear_model import Ridge

    X = np.zeros((6, 2))
    with pytest.raises(TypeError, match="does not train across the ranks"):
        launcher.fit(Ridge(), X, X)


def _shardable():
    """An estimator the launcher accepts (it trains across ranks)."""
    return ContrastiveAligner(n_components=2, max_epochs=1, device="cpu")


@pytest.mark.parametrize("n_weights", [90, 79])
def test_fit_checks_the_length_of_sample_weight(n_weights):
    """Too many or too few weights raise naming both lengths, before any rank."""
    X = np.ones((80, 3))
    with pytest.raises(
        ValueError,
        match=rf"expected shape \(80,\), got shape "
        rf"\({n_weights},\)",
    ):
        launcher.fit(_shardable(), X, X, sample_weight=np.ones(n_weights))


def test_fit_reports_wrong_weight_shape_with_all_rows():
    """A 2-D weight array is reported with its full shape, not a shard's."""
    X = np.ones((80, 3))
    with pytest.raises(ValueError, match=r"got shape \(80, 2\)"):
        launcher.fit(_shardable(), X, X, sample_weight=np.ones((80, 2)))


def test_fit_rejects_zero_processes_clearly():
    """n_processes=0 gets the launcher's message, not numpy's array_split error."""
    X = np.ones((8, 3))
    with pytest.raises(ValueError, match="n_processes must be at least 1; got 0"):
        launcher.fit(_shardable(), X, X, n_processes=0)


@pytest.mark.parametrize("name", ["X", "y", "sample_weight"])
def test_fit_names_non_finite_rows_by_their_global_number(name):
    """A NaN in the second shard is reported by its row number among all rows."""
    views = {"X": np.ones((80, 3)), "y": np.ones((80, 2)), "sample_weight": None}
    if name == "sample_weight":
        views[name] = np.ones(80)
        views[name][57] = np.nan
    else:
        views[name][57, 1] = np.nan
    with pytest.raises(ValueError, match=rf"{name} has NaN .*first: row 57 of all"):
        launcher.fit(
            _shardable(), views["X"], views["y"], sample_weight=views["sample_weight"]
        )
