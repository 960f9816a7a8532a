"""The aligner's training loop, in skorch's shape: named steps and callbacks.

``ContrastiveAligner.fit``/``partial_fit`` build a frozen plan and the device
data (``skcrossmodal._contrastive.plan``, records without torch that this
module reads by attribute only) and hand them to
:class:`TrainingLoop`, whose steps are methods a subclass can override::

    fit_loop()            the epochs of the call, with the callbacks' hooks
      run_epoch(epoch)    one shuffled pass over the training rows
        batch(rows)       the tensors of a batch of rows
        train_step(...)   forward, loss on the global batch, backward, update

``MultiViewContrastiveAligner`` trains K views in the same loop: the
subclasses of :mod:`skcrossmodal._torch.multiview` override ``batch``, the
step's loss and ``validation_score`` only.

Early stopping, divergence checks, checkpointing and progress printing are
callbacks (:mod:`skcrossmodal.callbacks`), not branches of the loop.

Every reduction over rows goes through a communicator, so the same loop runs
data-parallel when each process of a group holds a shard of the rows.
"""

import contextlib
import copy
import math
import time
import warnings
from dataclasses import dataclass, field

import torch

from ..callbacks import EpochRecord
from . import modules
from .losses import sigmoid_pairwise_loss


@dataclass
class TrainingResult:
    """What a training call produced, as the estimator stores it.

    Attributes
    ----------
    losses : list of float
        Mean training loss of every finished epoch of the call.
    scores : list of float
        Validation MRR of every finished epoch (NaN where not scored).
    best_epoch : int
        Epoch (counted over calls) whose weights the model holds; 0 when the
        CCA solution was kept.
    reason : str
        Why training stopped: ``"max_epochs"``, ``"patience"``,
        ``"divergence"`` or the text a callback passed to ``loop.stop``.
    diverged : bool
        Whether an epoch ended with non-finite loss or weights.
    linear_share : float or None
        The share of CCA's cosine that was chosen, if a choice was made.
    """

    losses: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    best_epoch: int = 0
    reason: str = "max_epochs"
    diverged: bool = False
    linear_share: float | None = None


def snapshot(model, optimizer):
    """Copies of the weights and the optimiser state (on their device)."""
    return (
        {key: value.detach().clone() for key, value in model.state_dict().items()},
        copy.deepcopy(optimizer.state_dict()),
    )


def restore(model, optimizer, state):
    """Put back what ``snapshot`` copied."""
    model.load_state_dict(state[0])
    optimizer.load_state_dict(state[1])


def _all_finite(parameters):
    return torch.stack([p.detach().isfinite().all() for p in parameters]).all()


class TrainingStep:
    """Forward, loss on the global batch, backward and AdamW step of one batch.

    The loss of a batch is computed on the gathered embeddings of every rank
    (the global batch). With ``plan.compile`` the forward and loss run through
    ``torch.compile``; if the backend cannot compile, a warning is given and
    the eager step is used.
    """

    def __init__(self, model, optimizer, comm, plan):
        self.model = model
        self.optimizer = optimizer
        self.comm = comm
        self.reconstruction_weight = plan.reconstruction_weight
        self.autocast = plan.autocast
        self.loss_name = plan.loss
        # Ranks may hold different numbers of rows: size for the largest.
        max_rows = int(comm.all_reduce_max(torch.tensor(plan.max_rows)))
        self.targets = torch.arange(
            max(max_rows, 1) * comm.world_size, device=plan.device
        )
        self.parameters = [p for p in model.parameters()]
        # Used only after the gather, so every rank already has their full
        # gradient: averaged across ranks, not summed.
        self.replicated = [
            p for p in (model.logit_scale, model.logit_bias) if p is not None
        ]
        self.loss_of = self._loss
        self._compiled = plan.compile and comm.world_size == 1
        if self._compiled:
            # Static shapes: an epoch's batches have at most two sizes.
            self.loss_of = torch.compile(
                self._loss, backend=modules.COMPILE_BACKEND, dynamic=False
            )

    def precision(self, tensor):
        """Context: bfloat16 autocast on ``tensor``'s device if the plan asks."""
        if self.autocast:
            return torch.autocast(tensor.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _loss(self, x, y, sample_weight):
        comm = self.comm
        with self.precision(x):
            z_x, z_y = self.model(x, y)
            weight_all = None if sample_weight is None else comm.gather(sample_weight)
            g_x, g_y = comm.gather_with_grad(z_x), comm.gather_with_grad(z_y)
            if self.loss_name == "siglip":
                loss = sigmoid_pairwise_loss(
                    g_x, g_y, self.model.logit_scale, self.model.logit_bias, weight_all
                )
            else:
                loss = modules.symmetric_info_nce(
                    g_x, g_y, self.model.logit_scale, weight_all, self.targets
                )
            # This rank's share of the epoch's loss sum: the global-batch loss
            # per local row, plus the local reconstruction errors.
            share = loss.detach() * x.shape[0]
            if self.reconstruction_weight > 0:
                errors = (
                    self.reconstruction_weight
                    * modules.weighted_squared_error_sum(
                        self.model.decoder_y(z_x), y, sample_weight
                    )
                )
                loss = loss + errors / g_x.shape[0]
                share = share + errors.detach()
        return loss, share

    def __call__(self, *batch):
        """Train on one batch (the tensors ``TrainingLoop.batch`` gives)."""
        if self._compiled:
            try:
                loss, share = self.loss_of(*batch)
            except Exception as error:  # any backend failure: fall back, say so
                warnings.warn(
                    f"compile=True, but torch.compile failed ({type(error).__name__}: "
                    f"{str(error).strip().splitlines()[0] if str(error) else ''}); "
                    "training continues with the eager (uncompiled) step.",
                    UserWarning,
                    stacklevel=2,
                )
                self.loss_of, self._compiled = self._loss, False
                loss, share = self._loss(*batch)
        else:
            loss, share = self.loss_of(*batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.comm.sum_gradients(self.parameters, replicated=self.replicated)
        self.optimizer.step()
        self.model.clamp_logit_scale_()
        return share


class TrainingLoop:
    """The epochs of one ``fit``/``partial_fit`` call, as overridable steps.

    Parameters
    ----------
    model, optimizer : torch objects
        What is trained, on ``plan.device``.
    comm : communicator
        The collectives (``LocalCommunicator`` in one process).
    plan : TrainingPlan
        The call's settings (frozen).
    data : TrainingData
        The device tensors and the split.
    callbacks : list of Callback
        Their hooks run in this order.
    """

    #: The step a batch goes through (a subclass of :class:`TrainingStep`
    #: for another model, e.g. K views).
    step_class = TrainingStep

    def __init__(self, model, optimizer, comm, plan, data, callbacks):
        self.model = model
        self.optimizer = optimizer
        self.comm = comm
        self.plan = plan
        self.data = data
        self.callbacks = list(callbacks)
        self.step = self.step_class(model, optimizer, comm, plan)
        self.history = []
        self.initial_score = None
        self.kept_epoch = plan.first_epoch
        self.reason = "max_epochs"
        self.diverged = False
        self._stop_reason = None

    # ------------------------------------------------ what callbacks call ---
    @property
    def is_main(self):
        """Whether this process prints (rank 0 of a group, or the only one)."""
        return self.comm.is_main

    def stop(self, reason):
        """End training once this epoch's callbacks have run."""
        if self._stop_reason is None:
            self._stop_reason = reason

    def diverge(self):
        """Mark the current epoch as diverged: training stops, the epoch is dropped."""
        self.diverged = True

    def any_rank(self, flag):
        """Whether ``flag`` is true on any rank of the group."""
        return self.comm.any_true(flag)

    def snapshot(self):
        """Copies of the weights and the optimiser state."""
        return snapshot(self.model, self.optimizer)

    def restore(self, state):
        """Put back what ``snapshot`` copied."""
        restore(self.model, self.optimizer, state)

    def validation_score(self):
        """Validation MRR of the current weights, both directions (a float)."""
        data = self.data
        return float(
            modules.validation_mrr(
                self.model, data.val_x, data.val_y, data.val_weight, self.comm
            )
        )

    def notify_fit_end(self, message):
        """Run the callbacks' ``on_fit_end`` hooks with the closing message."""
        for callback in self.callbacks:
            callback.on_fit_end(self, message)

    # ------------------------------------------------------------- steps ---
    def fit_loop(self):
        """Run the epochs with the callbacks' hooks; return a ``TrainingResult``.

        The model and optimiser end on the weights the callbacks keep.
        """
        plan = self.plan
        if plan.early_stopping and plan.score_initial:
            # A start worth keeping (init="cca") competes with the trained epochs.
            self.initial_score = self.validation_score()
        for callback in self.callbacks:
            callback.on_train_begin(self)
        for epoch in range(
            plan.first_epoch + 1, plan.first_epoch + plan.max_epochs + 1
        ):
            record = self.run_epoch(epoch)
            self.history.append(record)
            for callback in self.callbacks:
                callback.on_epoch_end(self, record)
                if self.diverged:
                    break
            if self.diverged:
                self.history.pop()
                self.reason = "divergence"
                break
            if self.comm.any_true(self._stop_reason is not None):
                self.reason = self._stop_reason or "stopped on another rank"
                break
        self.kept_epoch = plan.first_epoch + len(self.history)
        for callback in self.callbacks:
            callback.on_train_end(self)
        return TrainingResult(
            losses=[record.loss for record in self.history],
            scores=[
                math.nan if record.score is None else record.score
                for record in self.history
            ],
            best_epoch=self.kept_epoch,
            reason=self.reason,
            diverged=self.diverged,
        )

    def run_epoch(self, epoch):
        """One pass over the shuffled training rows; returns its ``EpochRecord``.

        The rows, weights and permutation live on the training device, and
        the loss sum and finiteness are read back once, together.
        """
        data, comm = self.data, self.comm
        started = time.perf_counter()
        rows = data.train_rows
        permutation = rows[
            torch.randperm(
                rows.shape[0], generator=data.generator, device=self.plan.device
            )
        ]
        total = torch.zeros((), dtype=torch.float64, device=self.plan.device)
        self.model.train()
        for rows in torch.tensor_split(permutation, self.plan.batch_count):
            total += self.train_step(*self.batch(rows)).double()
        finite = _all_finite(self.step.parameters)
        summary = torch.stack([total, finite.double()])
        # The one read-back of the epoch: loss sum and finiteness together.
        total, finite = torch.cat(
            [comm.all_reduce_sum(summary[:1]), summary[1:]]
        ).tolist()
        return EpochRecord(
            epoch=epoch,
            loss=total / self.plan.n_train,
            finite=finite == 1.0,
            seconds=time.perf_counter() - started,
        )

    def batch(self, rows):
        """The tensors of the training rows ``rows``, as the step takes them."""
        data = self.data
        weight = None if data.train_weight is None else data.train_weight[rows]
        return data.x[rows], data.y[rows], weight

    def train_step(self, *batch):
        """Forward, loss, backward and update of one batch; its loss share."""
        return self.step(*batch)
