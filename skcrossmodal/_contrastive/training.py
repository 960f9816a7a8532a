"""What every contrastive estimator does around the training loop, written once.

:class:`~skcrossmodal.ContrastiveAligner` (two views) and
:class:`~skcrossmodal.MultiViewContrastiveAligner` (K views) differ in their
models and losses, not in how a training call is set up: the torch import,
the device, the communicator of a process group, torch's threads, the split
into training and validation rows with their weights, the number of epochs
and the patience, the built-in callbacks, the failure-safe snapshot of the
weights and the optimiser, and the pickle that loads on a CPU-only machine.
:class:`ContrastiveTrainingMixin` holds these; an estimator using it has the
parameters they read (``device``, ``n_jobs``, ``batch_size``,
``hidden_layer_sizes``, ``n_components``, ``max_epochs``, ``early_stopping``,
``validation_fraction``, ``max_validation_size``, ``n_iter_no_change``,
``tol``, ``verbose``, ``callbacks``, ``learning_rate``, ``weight_decay``) and,
once fitted, ``model_``, ``_optimizer`` and ``device_``.

No torch import at module level: torch is imported inside the methods.
"""

import copy
import io
import itertools
import math
import numbers
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._compat import IntegerInterval, Interval, StrOptions

_INSTALL_HINT = (
    "ContrastiveAligner needs PyTorch. On a machine without an NVIDIA GPU, "
    "install the CPU build: pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu (a plain `pip install torch`, or "
    'pip install -e ".[torch]" in a clone of skcrossmodal, may download a '
    "multi-gigabyte CUDA build); with a GPU, install the CUDA build that "
    "matches its driver."
)

#: With ``early_stopping="auto"``, early stopping is on from this many rows.
AUTO_EARLY_STOPPING_PAIRS = 10_000
#: ``max_validation_size="auto"``: the cap on a GPU (or other accelerator) and
#: on the CPU, where scoring ``m`` rows costs ``m**2`` similarities.
AUTO_VALIDATION_SIZE_ACCELERATOR = 10_000
AUTO_VALIDATION_SIZE_CPU = 2_000
#: ``max_epochs="auto"``: at least this many epochs, and at least
#: ``AUTO_MIN_STEPS`` optimiser steps (small data have few batches an epoch).
AUTO_MAX_EPOCHS = 200
AUTO_MIN_STEPS = 1000
SEED_MAX = np.iinfo(np.int32).max

#: The constraints of the parameters every contrastive estimator has.
CONTRASTIVE_PARAMETER_CONSTRAINTS = {
    "n_components": [IntegerInterval(1, None, closed="left")],
    "hidden_layer_sizes": ["array-like", IntegerInterval(1, None, closed="left")],
    "activation": [StrOptions({"gelu", "relu", "tanh", "silu"})],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "normalization": [StrOptions({"layer", "batch"}), None],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
    "loss": [StrOptions({"infonce", "siglip"})],
    "batch_size": [IntegerInterval(2, None, closed="left")],
    "max_epochs": [StrOptions({"auto"}), IntegerInterval(1, None, closed="left")],
    "early_stopping": [StrOptions({"auto"}), "boolean"],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "max_validation_size": [
        StrOptions({"auto"}),
        IntegerInterval(2, None, closed="left"),
        None,
    ],
    "validation_interval": [IntegerInterval(1, None, closed="left")],
    "n_iter_no_change": [IntegerInterval(1, None, closed="left")],
    "tol": [Interval(numbers.Real, 0, None, closed="left")],
    "device": [str],
    "use_bf16": ["boolean"],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "n_jobs": [numbers.Integral, None],
    "callbacks": [list, tuple, None],
}


def import_torch():
    """Import torch and the torch half of the aligners, or say how to get it."""
    try:
        import torch

        from .._torch import modules as _torch_models
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return torch, _torch_models


def resolve_device(device):
    """Turn the ``device`` parameter into a torch device that exists here."""
    torch, _ = import_torch()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(
            f"device={device!r} is not a device torch understands; use 'auto', "
            "'cpu', 'cuda' or 'cuda:<index>'."
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine (torch.cuda.is_available() is False). Use device='cpu' or "
            "device='auto'."
        )
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but only "
            f"{torch.cuda.device_count()} CUDA device(s) are present."
        )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available on this "
            "machine. Use device='cpu' or device='auto'."
        )
    return resolved


class ContrastiveTrainingMixin:
    """The set-up of a training call shared by the contrastive estimators.

    See the module docstring for the parameters and attributes it reads.
    Subclasses implement ``_rebuild_model(device)`` (a model of the fitted
    architecture, its weights to be loaded from a pickle) and may extend
    ``_check_picklable``.
    """

    # -------------------------------------------------- process and device ---
    def _communicator(self):
        """The collectives of the training loop: the process group's, if any.

        Inside an initialised ``torch.distributed`` group of several ranks
        every rank trains on its own rows; else one process trains alone. A
        group can only exist once torch.distributed is imported, so no torch
        import happens here otherwise.
        """
        if "torch.distributed" in sys.modules:
            from .._torch.communicator import active_communicator

            comm = active_communicator()
            if comm is not None:
                return comm
        _, models = import_torch()
        return models.LocalCommunicator()

    def _pairs_in_group(self, n_samples):
        """The number of rows of every rank (``n_samples`` outside a group)."""
        comm = self._communicator()
        if comm.world_size > 1:
            torch, _ = import_torch()
            n_samples = int(comm.all_reduce_sum(torch.tensor(n_samples)))
        return n_samples

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        if not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
            for s in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must hold positive integers; got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _threads_for_views(self, widths):
        """Context: torch's intra-op threads for this call, from ``n_jobs``.

        ``widths`` are the input widths of the encoders (one per view).
        """
        if self.n_jobs == 0:
            raise ValueError(
                "n_jobs=0 is not a number of threads; use None (chosen for the "
                "model's size), a positive count, or -1 for every thread."
            )
        from .._torch import threads

        # Weights of every encoder: each layer's inputs times its outputs.
        layers = (*self._hidden_layer_sizes(), self.n_components)
        weights = sum(
            a * b for n_in in widths for a, b in itertools.pairwise((n_in, *layers))
        )
        n_threads = threads.resolve_threads(self.n_jobs, weights * self.batch_size)
        return threads.torch_threads(n_threads)

    def _validated_on_every_rank(self, validate, widths):
        """``validate()``, agreed on by every rank of a process group.

        ``validate`` checks this rank's rows and returns them validated, the
        views first; ``widths`` gives, from that result, the views' numbers
        of columns. A rank whose rows are invalid (NaN, wrong shape) makes
        every rank raise, instead of leaving the others waiting in the next
        collective; then the ranks check that they fit the same model on the
        same columns.
        """
        comm = self._communicator()
        if comm.world_size == 1:
            return validate()
        from .._torch.communicator import check_same_on_every_rank, raise_together

        error = validated = None
        try:
            validated = validate()
        except Exception as caught:  # re-raised on this rank by raise_together
            error = caught
        raise_together(comm, error)
        n_features_x, n_features_y, dtypes = widths(validated)
        check_same_on_every_rank(comm, self, n_features_x, n_features_y, dtypes=dtypes)
        if self.normalization == "batch":
            raise ValueError(
                "normalization='batch' is not supported across the ranks of a "
                "process group (each rank would normalise by the statistics of "
                "its own rows); use normalization='layer' or None."
            )
        return validated

    # ------------------------------------------------------ epochs, split ---
    def _max_epochs_for(self, n_train, comm):
        """``max_epochs``, with ``"auto"`` resolved for ``n_train`` rows per rank."""
        if self.max_epochs != "auto":
            return self.max_epochs
        torch, models = import_torch()
        batches = int(
            comm.all_reduce_max(
                torch.tensor(models.n_batches(n_train, self.batch_size))
            )
        )
        return max(AUTO_MAX_EPOCHS, math.ceil(AUTO_MIN_STEPS / batches))

    def _plan_settings(
        self, n_rows, comm, *, device, initialize, max_epochs, early_stopping
    ):
        """The fields of a ``TrainingPlan`` that every contrastive estimator sets.

        ``n_rows`` is this rank's number of training rows; ``max_epochs``
        None means the parameter's (``"auto"`` resolved).
        """
        torch, models = import_torch()
        n_train = int(comm.all_reduce_sum(torch.tensor(n_rows)))
        if max_epochs is None:
            max_epochs = self._max_epochs_for(n_rows, comm)
        batch_count = int(
            comm.all_reduce_max(torch.tensor(models.n_batches(n_rows, self.batch_size)))
        )
        return {
            "device": device,
            "initialize": initialize,
            "first_epoch": 0 if initialize else self.n_iter_,
            "max_epochs": max_epochs,
            "early_stopping": early_stopping,
            "validation_interval": self.validation_interval,
            "patience": self._patience_for(n_train, max_epochs),
            "tol": self.tol,
            "batch_size": self.batch_size,
            "batch_count": batch_count,
            "max_rows": min(2 * self.batch_size, n_rows),
            "n_train": n_train,
            "loss": self.loss,
            "autocast": self.use_bf16 and device.type == "cuda",
        }

    def _patience_for(self, n_train, max_epochs):
        """Patience of the stopping rule, in epochs.

        Below ``AUTO_EARLY_STOPPING_PAIRS``, ``early_stopping="auto"`` runs
        every epoch (it validates, if at all, only to choose the epoch to
        keep): an epoch of few pairs is a step or two, too few for patience
        to mean anything, and a plateau of the training loss over 20 such
        epochs stopped small fits early (recall@1 0.737 against 0.767 on
        350 pairs of a nonlinear link).
        """
        runs_all = self.early_stopping == "auto" and n_train < AUTO_EARLY_STOPPING_PAIRS
        return max_epochs if runs_all else self.n_iter_no_change

    def _n_validation(self, n_samples, device):
        """Rows held out of ``n_samples`` when training on ``device``."""
        n_validation = math.ceil(self.validation_fraction * n_samples)
        cap = self.max_validation_size
        if cap == "auto":
            cap = (
                AUTO_VALIDATION_SIZE_CPU
                if device.type == "cpu"
                else AUTO_VALIDATION_SIZE_ACCELERATOR
            )
        return n_validation if cap is None else min(n_validation, cap)

    def _check_split_sizes(self, n_samples, device):
        """Validation rows held out of ``n_samples``; both sides need 2 rows."""
        n_validation = self._n_validation(n_samples, device)
        if n_validation < 2 or n_samples - n_validation < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {n_samples} "
                f"pairs leaves {n_validation} validation and "
                f"{n_samples - n_validation} training pairs; both need at least "
                "2 to be scored. Pass more pairs, change validation_fraction, "
                "or set early_stopping=False."
            )
        return n_validation

    def _split_rows(self, n_samples, sample_weight, generator, early_stopping, comm):
        """Training and held-out rows of this rank, and their weights.

        Returns ``(train, held_out, train_weight, val_weight)``: index
        tensors on the device (``held_out`` None without early stopping);
        ``train_weight`` is ``sample_weight`` divided by its mean over the
        training rows of every rank (float32), or None when those weights
        are all equal (the unweighted loss is then the same and cheaper);
        ``val_weight`` the held-out rows' weights (float64, ones when
        ``sample_weight`` is None, since the rank kernel weights every row).
        Over several ranks each rank holds out its share of its own rows, and
        the weight checks and normalisation use the sums over every rank.
        """
        torch, _ = import_torch()
        device = torch.device(self.device_)
        if comm.world_size > 1 and early_stopping:
            from .._torch.communicator import raise_together

            error = None
            try:
                self._check_split_sizes(n_samples, device)
            except ValueError as caught:
                error = caught
            raise_together(comm, error)
        held_out = val_weight = None
        if early_stopping:
            n_validation = self._check_split_sizes(n_samples, device)
            order = torch.randperm(n_samples, generator=generator, device=device)
            held_out, train = order[:n_validation], order[n_validation:]
            val_weight = (
                torch.ones(n_validation, dtype=torch.float64, device=device)
                if sample_weight is None
                else sample_weight[held_out]
            )
            if not bool(comm.all_reduce_sum(val_weight.sum()) > 0):
                raise ValueError(
                    "Every validation pair has zero sample_weight, so the early "
                    "stopping score is undefined; give more pairs a positive weight "
                    "or set early_stopping=False."
                )
        else:
            train = torch.arange(n_samples, device=device)
        train_weight = None
        if sample_weight is not None:
            weight = sample_weight[train]
            train_sum = comm.all_reduce_sum(weight.sum())
            if not bool(train_sum > 0):
                raise ValueError(
                    "Every training pair has zero sample_weight"
                    + (" after the validation split" if early_stopping else "")
                    + "; give more pairs a positive weight."
                )
            # Over every rank: all ranks must agree, since the weights are
            # gathered with the embeddings.
            high = float(weight.max()) if weight.numel() else -math.inf
            low = float(weight.min()) if weight.numel() else math.inf
            spread = comm.all_reduce_max(
                torch.tensor([high, -low], dtype=torch.float64, device=device)
            )
            if bool(spread[0] != -spread[1]):
                mean = train_sum / comm.all_reduce_sum(
                    torch.tensor(float(train.shape[0]), device=device)
                )
                train_weight = (sample_weight / mean).float()
        return train, held_out, train_weight, val_weight

    # ---------------------------------------------------------- callbacks ---
    def _callbacks_for(self, plan):
        """The built-in callbacks, configured from the parameters, then the user's.

        Their order is the order of the rules within an epoch: a diverged
        epoch is dropped before anything else sees it, the validation score
        comes before the stopping rule and the checkpoint that read it, and
        the progress line comes last of the built-in ones.
        """
        from .. import callbacks as cb

        built = [cb.DivergenceCheck()]
        if plan.early_stopping:
            built.append(cb.ValidationScoring(interval=plan.validation_interval))
        built.append(cb.EarlyStopping(patience=plan.patience, tol=plan.tol))
        if plan.early_stopping:
            built.append(cb.BestWeights())
        if self.verbose:
            built.append(cb.ProgressPrinter())
        return built + list(self.callbacks or ())

    def _report_stop(self, result, plan, loop, kept=None):
        """Warn on divergence; give the callbacks the closing message.

        ``kept`` says what the model holds (default: the kept epoch's weights).
        """
        last = plan.first_epoch + len(result.losses)
        if kept is None:
            kept = f"the weights of epoch {result.best_epoch} are kept"
        if result.diverged:
            message = (
                f"Training diverged in epoch {last + 1} (non-finite loss or weights) "
                f"and was stopped; {kept}. Try a lower learning_rate (currently "
                f"{self.learning_rate})."
            )
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        elif result.reason == "patience":
            what = "validation MRR" if self.validation_scores_ is not None else "loss"
            message = (
                f"Stopped after epoch {last}: the {what} did not improve by "
                f"tol={self.tol} for n_iter_no_change={self.n_iter_no_change} "
                f"epochs; {kept}."
            )
        elif result.reason == "max_epochs":
            message = f"Stopped after epoch {last}: max_epochs reached; {kept}."
        else:
            message = f"Stopped after epoch {last}: {result.reason}; {kept}."
        loop.notify_fit_end(message)

    def _check_trained(self, result, plan, finite, comm):
        """Raise ``FloatingPointError`` if the call left nothing usable.

        When no epoch of the call finished, or the trained encoders give
        non-finite embeddings of the training rows (``finite`` False on any
        rank): the callers' failure safety then restores the estimator.
        """
        if result.diverged and not result.losses:
            raise FloatingPointError(
                f"Training diverged in epoch {plan.first_epoch + 1} (non-finite loss "
                "or weights) and no epoch of this call finished; nothing was "
                f"changed. Try a lower learning_rate (currently {self.learning_rate})."
            )
        if comm.any_true(not finite):
            raise FloatingPointError(
                "Training diverged: the trained encoders give non-finite embeddings "
                "of the training data, so nothing was changed. Try a lower "
                f"learning_rate (currently {self.learning_rate})."
            )

    # ------------------------------------------------------ failure safety ---
    # The failure-safe hooks of base.restored_on_error: training changes the
    # weights and the optimiser in place, so they are saved beside the
    # attributes (lists copied, the random state deep-copied for the same reason).
    def _snapshot_state(self):
        saved = {
            key: copy.copy(value) if isinstance(value, list) else value
            for key, value in super()._snapshot_state().items()
        }
        if "_random_state" in saved:
            saved["_random_state"] = copy.deepcopy(saved["_random_state"])
        training_state = None
        if hasattr(self, "model_"):
            from .._torch import loop

            training_state = loop.snapshot(self.model_, self._optimizer)
            training_state += (self.device_,)
        return saved, training_state

    def _restore_state(self, snapshot):
        saved, training_state = snapshot
        super()._restore_state(saved)
        if training_state is not None:
            from .._torch import loop

            self.model_.to(training_state[2])
            loop.restore(self.model_, self._optimizer, training_state[:2])

    # ------------------------------------------------------------- pickling ---
    def _move_to(self, device):
        """Put the model and its optimiser state on ``device`` (e.g. after loading)."""
        torch, _ = import_torch()
        if torch.device(self.device_) == device:
            return
        self.model_.to(device)
        for state in self._optimizer.state.values():
            for key, value in state.items():
                # Adam keeps its step count on the CPU unless it is fused.
                fused = self._optimizer.param_groups[0].get("fused")
                if torch.is_tensor(value) and (key != "step" or fused):
                    state[key] = value.to(device)
        self.device_ = str(device)

    def _check_picklable(self):
        """Raise if the estimator cannot be pickled (a hook; nothing here)."""

    def __getstate__(self):
        self._check_picklable()
        state = super().__getstate__()
        if state.get("model_") is None:
            return state
        torch, models = import_torch()
        # Weights and optimiser state travel as bytes of CPU tensors: the
        # pickle loads on a machine without a GPU, and unpickling without torch
        # reaches __setstate__, which says how to install it.
        buffer = io.BytesIO()
        torch.save(
            {
                "model": models.state_to_cpu(self.model_.state_dict()),
                "optimizer": models.state_to_cpu(self._optimizer.state_dict()),
            },
            buffer,
        )
        state = dict(state)
        state["model_"] = buffer.getvalue()
        state.pop("_optimizer", None)
        return state

    def __setstate__(self, state):
        payload = state.get("model_")
        if not isinstance(payload, bytes):
            super().__setstate__(state)
            return
        name = type(self).__name__
        try:
            torch, models = import_torch()
        except ImportError as error:
            raise ImportError(
                f"This pickle holds a fitted {name}, whose weights are "
                "PyTorch tensors. " + _INSTALL_HINT
            ) from error
        saved = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        super().__setstate__(state)
        device = torch.device(self.device_)
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                f"This {name} was trained on {self.device_!r}, but CUDA "
                "is not available here: its weights are loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            device = torch.device("cpu")
        self.model_ = self._rebuild_model(device)
        self.model_.load_state_dict(saved["model"])
        self._optimizer = models.make_optimizer(
            self.model_, self.learning_rate, self.weight_decay
        )
        self._optimizer.load_state_dict(saved["optimizer"])
        self.device_ = str(device)
