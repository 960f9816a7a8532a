"""Callbacks of the contrastive aligners' training loop.

:class:`~skcrossmodal.ContrastiveAligner` and
:class:`~skcrossmodal.MultiViewContrastiveAligner` train in the same loop and
take the same callbacks (for the K-view aligner, the validation score is the
mean over pairs of views of the two-way MRR).

A callback is a small object whose hooks the loop calls at fixed points of a
``fit`` or ``partial_fit`` call (the shape of skorch's callbacks)::

    on_train_begin(loop)          before the first epoch
    on_epoch_end(loop, record)    after each epoch, in the order of the list
    on_train_end(loop)            after the last epoch
    on_fit_end(loop, message)     once the estimator has stored the result

The aligner's own rules are callbacks, built from its parameters at each
call and run before the ones passed in ``callbacks``:
:class:`DivergenceCheck`, :class:`ValidationScoring` (with early stopping),
:class:`EarlyStopping`, :class:`BestWeights` (with early stopping) and
:class:`ProgressPrinter` (with ``verbose``).

What a hook sees of the loop (``loop``):

- ``loop.history``: one :class:`EpochRecord` per finished epoch of the call;
- ``loop.model``, ``loop.optimizer``: the torch module being trained and its
  optimiser;
- ``loop.plan``: the call's settings (``max_epochs``, ``first_epoch``,
  ``n_train``, ``early_stopping``, ``validation_interval``, ``device`` ...);
- ``loop.is_main``: True on the process that prints (rank 0 of a group);
- ``loop.stop(reason)``: end training after this epoch's callbacks;
- ``loop.snapshot()`` and ``loop.restore(state)``: copy and put back the
  weights and the optimiser state; ``loop.kept_epoch``: the epoch whose
  weights the model holds at the end;
- ``loop.validation_score()``: the validation MRR of the current weights
  (with early stopping), and ``loop.initial_score``, that of the start when
  it competes (``init="cca"``), else None.
- ``loop.any_rank(flag)``: whether ``flag`` holds on any rank of a process
  group (a collective: every rank must call it at the same point), and
  ``loop.diverge()``, which drops the current epoch and stops.

This module imports no torch: hooks reach torch only through the loop.
In a process group every rank runs every callback; training stops on every
rank as soon as one rank's callbacks ask for it.
"""

import math
import sys
import time
from dataclasses import dataclass

__all__ = [
    "BestWeights",
    "Callback",
    "DivergenceCheck",
    "EarlyStopping",
    "EpochRecord",
    "ProgressPrinter",
    "ValidationScoring",
]


@dataclass
class EpochRecord:
    """What the loop knows of one finished epoch.

    Attributes
    ----------
    epoch : int
        The epoch's number, counted over every call of a warm-started model.
    loss : float
        Mean training loss of the epoch over every training pair.
    finite : bool
        Whether the loss and every weight were finite after the epoch.
    seconds : float
        Seconds the epoch's training steps took.
    score : float or None
        Validation MRR, when :class:`ValidationScoring` scored the epoch.

    Examples
    --------
    >>> from skcrossmodal.callbacks import EpochRecord
    >>> EpochRecord(epoch=3, loss=1.25, finite=True, seconds=0.5).score is None
    True
    """

    epoch: int
    loss: float
    finite: bool
    seconds: float
    score: float | None = None


class Callback:
    """Base class of the training loop's callbacks; every hook does nothing.

    Subclass it and override the hooks you need. A callback passed to
    :class:`~skcrossmodal.ContrastiveAligner` is used as it is (not copied),
    so what it records stays readable after ``fit``; the estimator's own
    failure-safety (a call that raises leaves it as it was) does not extend
    to a callback's attributes.

    Examples
    --------
    A callback that records every epoch's loss and stops once the loss is
    below a target:

    >>> import numpy as np
    >>> from skcrossmodal import ContrastiveAligner
    >>> from skcrossmodal.callbacks import Callback
    >>> class LossTarget(Callback):
    ...     def __init__(self, target):
    ...         self.target = target
    ...     def on_train_begin(self, loop):
    ...         self.losses = []
    ...     def on_epoch_end(self, loop, record):
    ...         self.losses.append(record.loss)
    ...         if record.loss < self.target:
    ...             loop.stop(f"loss below {self.target}")
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> y = X[:, :3] + 0.1 * rng.normal(size=(100, 3))
    >>> target = LossTarget(target=3.0)
    >>> model = ContrastiveAligner(
    ...     n_components=3, hidden_layer_sizes=(16,), batch_size=20,
    ...     max_epochs=50, init="random", device="cpu", random_state=0,
    ...     callbacks=[target],
    ... ).fit(X, y)
    >>> model.n_iter_ == len(target.losses) < 50
    True
    >>> bool(target.losses[-1] < 3.0)
    True
    """

    def on_train_begin(self, loop):
        """Called before the first epoch of a ``fit``/``partial_fit`` call."""

    def on_epoch_end(self, loop, record):
        """Called after each epoch with its :class:`EpochRecord`."""

    def on_train_end(self, loop):
        """Called after the last epoch, before the estimator stores the result."""

    def on_fit_end(self, loop, message):
        """Called last; ``message`` says why training stopped and what is kept."""

    def __repr__(self):
        params = ", ".join(
            f"{key}={value!r}"
            for key, value in vars(self).items()
            if not key.endswith("_") and not key.startswith("_")
        )
        return f"{type(self).__name__}({params})"


class DivergenceCheck(Callback):
    """Stop at the first epoch with a non-finite loss or weight, and roll back.

    After each finite epoch the weights and the optimiser state are copied;
    when an epoch diverges, training stops, that epoch is dropped from the
    history (later callbacks do not see it) and the copy of the last finite
    epoch (or of the start) is put back at the end of training. The aligner
    then warns with a :class:`~sklearn.exceptions.ConvergenceWarning`, or
    raises ``FloatingPointError`` if no epoch of the call finished.

    Examples
    --------
    >>> from skcrossmodal.callbacks import DivergenceCheck
    >>> DivergenceCheck()
    DivergenceCheck()
    """

    def on_train_begin(self, loop):
        self.last_good_ = loop.snapshot()

    def on_epoch_end(self, loop, record):
        if loop.any_rank(not (record.finite and math.isfinite(record.loss))):
            loop.diverge()
        else:
            self.last_good_ = loop.snapshot()

    def on_train_end(self, loop):
        loop.restore(self.last_good_)


class ValidationScoring(Callback):
    """Score the held-out validation pairs every ``interval`` epochs.

    The score is the retrieval mean reciprocal rank of the validation
    partners, both directions, computed on the training device
    (``loop.validation_score()``), stored in the epoch's record; the last
    epoch of the call is always scored. The aligner adds it when early
    stopping holds out validation pairs.

    Parameters
    ----------
    interval : int, default=1
        Score every this many epochs of the call.

    Examples
    --------
    >>> from skcrossmodal.callbacks import ValidationScoring
    >>> ValidationScoring(interval=5)
    ValidationScoring(interval=5)
    """

    def __init__(self, interval=1):
        self.interval = interval

    def on_epoch_end(self, loop, record):
        index = record.epoch - loop.plan.first_epoch
        if index % self.interval == 0 or index == loop.plan.max_epochs:
            record.score = float(loop.validation_score())


class EarlyStopping(Callback):
    """Stop once the monitored value stalls for ``patience`` epochs.

    Stalling is not improving by more than ``tol``. With validation scores
    (:class:`ValidationScoring` before it in the list), the monitored value
    is the validation MRR (higher is better), and
    an epoch without a score leaves the count as it is, while a scored one
    that does not improve adds ``validation_interval`` epochs. Without, it
    is the training loss (lower is better), compared with the best earlier
    loss of the call.

    Parameters
    ----------
    patience : int, default=20
        Epochs without improvement before training stops.
    tol : float, default=1e-4
        Smallest improvement that resets the count.

    Examples
    --------
    >>> from skcrossmodal.callbacks import EarlyStopping
    >>> EarlyStopping(patience=5, tol=0.0)
    EarlyStopping(patience=5, tol=0.0)
    """

    def __init__(self, patience=20, tol=1e-4):
        self.patience = patience
        self.tol = tol

    def on_train_begin(self, loop):
        self.stall_ = 0
        self.best_loss_ = math.inf
        self.best_score_ = -math.inf
        if loop.initial_score is not None:
            self.best_score_ = loop.initial_score

    def on_epoch_end(self, loop, record):
        if loop.plan.early_stopping:
            if record.score is not None:
                improved = record.score > self.best_score_ + self.tol
                self.best_score_ = max(self.best_score_, record.score)
                interval = loop.plan.validation_interval
                self.stall_ = 0 if improved else self.stall_ + interval
        else:
            improved = record.loss < self.best_loss_ - self.tol
            self.stall_ = 0 if improved else self.stall_ + 1
            self.best_loss_ = min(self.best_loss_, record.loss)
        if self.stall_ >= self.patience:
            loop.stop("patience")


class BestWeights(Callback):
    """Keep the weights of the best validated epoch (checkpointing in memory).

    After each scored epoch whose validation MRR is at least the best so far
    (a tie goes to the later epoch: the score saturates early on few pairs,
    and the later epochs trained longer at no measured cost), the weights and
    the optimiser state are copied; at the end of training they are put back
    and that epoch becomes ``best_epoch_``. A start that competes
    (``init="cca"``) is the first candidate.

    Examples
    --------
    >>> from skcrossmodal.callbacks import BestWeights
    >>> BestWeights()
    BestWeights()
    """

    def on_train_begin(self, loop):
        self.best_score_ = -math.inf
        self.best_state_ = None
        self.best_epoch_ = loop.plan.first_epoch
        if loop.initial_score is not None:
            self.best_score_ = loop.initial_score
            self.best_state_ = loop.snapshot()

    def on_epoch_end(self, loop, record):
        if record.score is not None and record.score >= self.best_score_:
            self.best_score_, self.best_epoch_ = record.score, record.epoch
            self.best_state_ = loop.snapshot()

    def on_train_end(self, loop):
        if self.best_state_ is not None:
            loop.restore(self.best_state_)
        loop.kept_epoch = self.best_epoch_


class ProgressPrinter(Callback):
    """Print one line per epoch and a last line saying why training stopped.

    Each line is flushed at once and printed by the main process only: the
    epoch (``i/max_epochs`` of the call, and its number over every call when
    continuing), the training loss, the validation MRR when scored, pairs per
    second, seconds and the estimated time left.

    Parameters
    ----------
    stream : file-like or None, default=None
        Where to print; None is ``sys.stdout`` at the time of printing.

    Examples
    --------
    >>> from skcrossmodal.callbacks import ProgressPrinter
    >>> ProgressPrinter.clock(3725.4)
    '1:02:05'
    """

    def __init__(self, stream=None):
        self.stream = stream

    @staticmethod
    def clock(seconds):
        """``seconds`` as ``h:mm:ss`` (rounded to the second)."""
        minutes, second = divmod(round(seconds), 60)
        hours, minute = divmod(minutes, 60)
        return f"{hours}:{minute:02d}:{second:02d}"

    def _print(self, loop, text):
        if loop.is_main:
            print(text, file=self.stream or sys.stdout, flush=True)

    def on_train_begin(self, loop):
        self.started_ = time.perf_counter()

    def on_epoch_end(self, loop, record):
        plan = loop.plan
        index = record.epoch - plan.first_epoch - 1
        elapsed = time.perf_counter() - self.started_
        remaining = elapsed / (index + 1) * (plan.max_epochs - index - 1)
        shown = "" if record.score is None else f", validation MRR {record.score:.4f}"
        # The count over every call only when this call continues training.
        in_all = "" if plan.first_epoch == 0 else f" (epoch {record.epoch} in all)"
        seconds = record.seconds
        self._print(
            loop,
            f"Epoch {index + 1}/{plan.max_epochs}{in_all}: "
            f"loss {record.loss:.4f}{shown}, {plan.n_train / max(seconds, 1e-9):,.0f} "
            f"pairs/s, {seconds:.2f} s, ETA {self.clock(remaining)}",
        )

    def on_fit_end(self, loop, message):
        self._print(loop, message)
