"""Collectives of the aligner's training loop on a ``torch.distributed`` group.

:class:`ProcessGroupCommunicator` has exactly the methods of the single-process
``LocalCommunicator`` in ``modules`` (the training loop is written once
and calls them at fixed points), implemented with ``torch.distributed`` on a
process group that the caller has already initialised (``torchrun``,
:func:`skcrossmodal.distributed.run`, or ``init_process_group`` by hand).

This module imports torch at import time; ``skcrossmodal/__init__.py`` never
imports it.

Failure model: every collective is bounded by the group's timeout (set with
``init_process_group(timeout=...)``), so a rank that died makes the others
raise instead of waiting forever; a rank that *detects* a problem (a NaN loss,
inconsistent inputs) tells the others through :meth:`any_true` or
:func:`check_same_on_every_rank`, and then every rank raises the same clear
error at the same point.
"""

import numpy as np
import torch
import torch.distributed as dist

# Parameters that may legitimately differ between ranks: each rank drives its
# own device, and only the main rank prints anyway.
_PER_RANK_PARAMETERS = frozenset({"device", "verbose"})


class ProcessGroupCommunicator:
    """The training loop's collectives over an initialised process group.

    Parameters
    ----------
    group : ProcessGroup or None, default=None
        The group to communicate in; None is the default (world) group.

    Attributes
    ----------
    rank : int
        This process's rank in ``group``.
    world_size : int
        Number of ranks in ``group``.
    is_main : bool
        True on rank 0, the only rank that prints progress.

    Notes
    -----
    Tensors are exchanged on the device they live on, so with the NCCL backend
    they must be CUDA tensors and with gloo CPU tensors (gloo also accepts CUDA
    tensors, through a copy).

    Examples
    --------
    >>> from skcrossmodal.distributed import run
    >>> run(_example_all_reduce, n_processes=2)
    [3.0, 3.0]
    """

    def __init__(self, group=None):
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError(
                "ProcessGroupCommunicator needs an initialised torch.distributed "
                "process group: launch with torchrun or skcrossmodal.distributed, "
                "or call torch.distributed.init_process_group first."
            )
        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        self.is_main = self.rank == 0

    # ------------------------------------------------------------ reductions
    def all_reduce_sum(self, tensor):
        """Elementwise sum over ranks (a new tensor; no autograd)."""
        result = tensor.detach().clone()
        dist.all_reduce(result, op=dist.ReduceOp.SUM, group=self.group)
        return result

    def all_reduce_max(self, tensor):
        """Elementwise maximum over ranks (a new tensor; no autograd)."""
        result = tensor.detach().clone()
        dist.all_reduce(result, op=dist.ReduceOp.MAX, group=self.group)
        return result

    def any_true(self, flag):
        """True on every rank if ``flag`` is true on any rank."""
        votes = torch.tensor([int(bool(flag))], dtype=torch.int32, device=self._device)
        dist.all_reduce(votes, op=dist.ReduceOp.MAX, group=self.group)
        return bool(votes.item())

    # --------------------------------------------------------------- gathers
    def gather(self, tensor):
        """Rows of every rank concatenated in rank order (no autograd).

        Ranks may hold different numbers of rows (uneven shards, the last
        batch of an epoch): each rank pads its rows to the largest count,
        the padded blocks are all-gathered, and the padding is trimmed.
        """
        return torch.cat(self._gathered_blocks(tensor.detach()))

    def gather_with_grad(self, tensor):
        """Like :meth:`gather`, but this rank's slice keeps its autograd graph.

        The other ranks' rows are constants here; their gradient is
        computed by their own ranks, so after ``backward()`` each rank holds
        the gradient of the global-batch loss through its own rows only, and
        :meth:`sum_gradients` adds these into the full gradient.
        """
        blocks = self._gathered_blocks(tensor.detach())
        blocks[self.rank] = tensor
        return torch.cat(blocks)

    def _gathered_blocks(self, tensor):
        counts = self._row_counts(tensor)
        largest = max(counts)
        padded = tensor
        if tensor.shape[0] < largest:
            padding = tensor.new_zeros((largest - tensor.shape[0], *tensor.shape[1:]))
            padded = torch.cat([tensor, padding])
        blocks = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(blocks, padded.contiguous(), group=self.group)
        return [block[:count] for block, count in zip(blocks, counts, strict=True)]

    def _row_counts(self, tensor):
        count = torch.tensor([tensor.shape[0]], dtype=torch.int64, device=tensor.device)
        counts = [torch.empty_like(count) for _ in range(self.world_size)]
        dist.all_gather(counts, count, group=self.group)
        return [int(c.item()) for c in counts]

    # ------------------------------------------------------------ parameters
    def sum_gradients(self, parameters, replicated=()):
        """All-reduce SUM of the ``.grad`` of ``parameters``, in one message.

        Call after ``backward()`` and before ``optimizer.step()``. The
        encoders' gradients on each rank come from its own rows of the global
        batch only, so their sum is the full gradient. The parameters in
        ``replicated`` (the loss's temperature and bias, used only *after*
        the gather) already have the full gradient on every rank, because
        every rank computes the whole global-batch loss: they are averaged
        instead (the ranks' values agree; the average removes any rounding
        difference). ``replicated`` may overlap ``parameters``. A parameter
        without a gradient on this rank contributes zeros; it gets the summed
        gradient if any rank had one, and stays without one (so the optimiser
        skips it, weight decay included, as in one process) if none had.
        """
        replicated = [p for p in replicated if p.requires_grad]
        is_replicated = {id(p) for p in replicated}
        parameters = [
            p for p in parameters if p.requires_grad and id(p) not in is_replicated
        ]
        parameters += replicated
        if not parameters:
            return
        # One flat buffer sends one message instead of one per tensor (the
        # latency of a message dominates for small encoders); its tail counts,
        # per parameter, the ranks that had a gradient.
        grads = [
            torch.zeros_like(p) if p.grad is None else p.grad.detach()
            for p in parameters
        ]
        had_grad = [float(p.grad is not None) for p in parameters]
        buffer = torch.cat(
            [g.reshape(-1) for g in grads] + [grads[0].new_tensor(had_grad)]
        )
        dist.all_reduce(buffer, op=dist.ReduceOp.SUM, group=self.group)
        ranks_with_grad = buffer[-len(parameters) :].tolist()
        offset = 0
        for parameter, grad, count in zip(
            parameters, grads, ranks_with_grad, strict=True
        ):
            size = grad.numel()
            summed = buffer[offset : offset + size].view_as(grad)
            offset += size
            if count == 0:
                continue
            if id(parameter) in is_replicated:
                summed = summed / count
            if parameter.grad is None:
                parameter.grad = summed.clone()
            else:
                parameter.grad.copy_(summed)

    def broadcast_module(self, module):
        """Copy rank 0's parameters and buffers into ``module`` on every rank."""
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor.data, src=self._global_rank(0), group=self.group)

    def _global_rank(self, group_rank):
        if self.group is None:
            return group_rank
        return dist.get_global_rank(self.group, group_rank)

    @property
    def _device(self):
        # NCCL exchanges CUDA tensors only; gloo and the others take CPU ones.
        if dist.get_backend(self.group) == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    # ----------------------------------------------------------- consistency
    def check_same(self, description):
        """Raise ValueError on every rank unless ``description`` is equal on all.

        ``description`` is a dict of picklable values (feature counts,
        estimator parameters). The error names each differing key and its
        value on every rank.
        """
        descriptions = [None] * self.world_size
        dist.all_gather_object(descriptions, description, group=self.group)
        differing = sorted(
            key
            for key in set().union(*descriptions)
            if any(d.get(key) != descriptions[0].get(key) for d in descriptions)
        )
        if differing:
            details = "; ".join(
                f"{key}: "
                + ", ".join(
                    f"rank {r}={d.get(key, '<missing>')!r}"
                    for r, d in enumerate(descriptions)
                )
                for key in differing
            )
            raise ValueError(
                "Every rank of the process group must fit the same model on data "
                f"with the same features, but the ranks differ in {details}. Pass "
                "each rank its own rows of the same columns, and the same "
                "estimator parameters."
            )


def active_communicator():
    """The communicator of the current process group, or None outside one.

    None also for a group of one rank: the single-process loop (with its
    compiled step) is then used unchanged.
    """
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return ProcessGroupCommunicator()
    return None


def describe_fit(estimator, n_features_x, n_features_y):
    """The fields that must agree across ranks before a distributed fit.

    Feature counts and the estimator's parameters, except those that may
    differ per rank (``device``, ``verbose``). A ``random_state`` given as a
    RandomState or Generator instance is compared by type only: its state
    differs per process anyway, and rank 0's initial weights are broadcast;
    callbacks are compared by class.
    """
    description = {"n_features_x": int(n_features_x), "n_features_y": int(n_features_y)}
    for name, value in estimator.get_params(deep=False).items():
        if name in _PER_RANK_PARAMETERS:
            continue
        if isinstance(value, np.random.RandomState | np.random.Generator):
            value = type(value).__name__
        elif name == "callbacks" and value is not None:
            # Each rank holds its own callback objects (never equal across
            # processes): the ranks must run the same kinds, in the same order.
            value = tuple(f"{type(c).__module__}.{type(c).__qualname__}" for c in value)
        elif isinstance(value, torch.nn.Module):
            # An encoder instance arrives on each rank as a copy (never equal):
            # compared by class, as rank 0's weights are broadcast anyway.
            value = f"instance of {type(value).__module__}.{type(value).__qualname__}"
        elif isinstance(value, list | np.ndarray):
            value = tuple(np.asarray(value).tolist())
        description[name] = value
    return description


def check_same_on_every_rank(
    comm, estimator, n_features_x, n_features_y, *, dtypes=None
):
    """Collective check that all ranks fit the same model on the same columns.

    ``dtypes``, when given, are the views' dtypes after validation, which
    must agree too (float32 views are sent to the device as they are, float64
    ones shifted and rescaled). A no-op in a single process
    (``comm.world_size == 1``).
    """
    if comm.world_size > 1:
        description = describe_fit(estimator, n_features_x, n_features_y)
        if dtypes is not None:
            description["dtypes"] = tuple(str(np.dtype(d)) for d in dtypes)
        comm.check_same(description)


def common_shift_and_unit(comm, A, shift, unit):
    """One shift and power-of-two unit per column, shared by every rank.

    ``shift`` and ``unit`` are this rank's own (from its rows, as the
    estimator computes them in one process). float32 views keep shift 0 and
    unit 1 (every rank has the same dtype, so they agree already). For
    float64 views the shift becomes the ranks' mean shift and the unit is
    chosen from the largest distance of any rank's values to it, so that
    every rank's rows fit float32 in the same coordinates: the statistics
    reduced across ranks are then sums of like quantities.
    """
    if A.dtype == np.float32:
        return shift, unit
    # Divided before the sum, which then cannot overflow.
    shift = _reduced(comm.all_reduce_sum, comm, np.asarray(shift) / comm.world_size)
    with np.errstate(over="ignore", invalid="ignore"):
        if A.shape[0]:
            span = np.maximum(A.max(axis=0) - shift, shift - A.min(axis=0))
        else:
            span = np.zeros(A.shape[1])
    span = _reduced(comm.all_reduce_max, comm, span)
    usable = np.isfinite(span) & (span > 0)
    exponent = np.zeros(A.shape[1])
    exponent[usable] = np.floor(np.log2(span[usable]))
    exponent[~np.isfinite(span)] = 1023
    return shift, np.ldexp(1.0, -exponent.astype(int))


def _reduced(reduction, comm, values):
    # float64 numpy values through a collective, on the backend's device.
    tensor = torch.from_numpy(np.asarray(values, dtype=np.float64))
    return reduction(tensor.to(comm._device)).cpu().numpy()


def raise_together(comm, error):
    """Raise on every rank if any rank caught an error; else return.

    Call where each rank may fail on its own (validating its shard): without
    it, the ranks that did not fail would wait in their next collective
    until the timeout. ``error`` is this rank's exception or None. A rank
    that failed re-raises its own exception; the others raise a ValueError
    of the same message naming the failing ranks.
    """
    if not comm.any_true(error is not None):
        return
    if comm.world_size == 1:
        raise error
    message = None if error is None else f"{type(error).__name__}: {error}"
    messages = [None] * comm.world_size
    dist.all_gather_object(messages, message, group=comm.group)
    if error is not None:
        raise error
    failed = "; ".join(
        f"rank {rank}: {text}" for rank, text in enumerate(messages) if text
    )
    raise ValueError(f"Another rank of the process group failed: {failed}")


def _example_all_reduce():
    # Used by the class docstring's example (spawned workers import it by name).
    comm = ProcessGroupCommunicator()
    return float(comm.all_reduce_sum(torch.tensor(comm.rank + 1.0)))
