"""What one ``fit``/``partial_fit`` call of the aligner trains, fixed before it starts.

The records that cross from the estimator into torch, where plain dicts with
string keys used to:

- :class:`ModelSpec`, frozen: the architecture of the two-view model (what
  ``build_model`` builds, and what a pickle stores to rebuild it);
- :class:`TrainingPlan`, frozen: the numbers of the call (epochs, batches,
  patience, device, loss...), computed once from the parameters and the data;
- :class:`TrainingData`, frozen: the device tensors, the split and the weights.

The K-view aligner has its own two records, :class:`MultiViewModelSpec` and
:class:`MultiViewTrainingData`, and a :class:`TrainingPlan` that also names
the pairs of views its loss takes (:class:`MultiViewTrainingPlan`).

What the loop reports back is a ``TrainingResult``
(:mod:`skcrossmodal._torch.loop`), which the estimator completes with the
choice between the linear and the trained solution before storing it.

No torch import here: the fields hold torch objects, but defining the records
needs none.
"""

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """The architecture of the aligner's two-view model.

    The fields are the keyword arguments of
    ``skcrossmodal._torch.modules.TwoViewEncoder``; ``x_encoder`` and
    ``y_encoder`` are ``EncoderSpec`` recipes of custom encoders (None: the
    MLP). ``linear_path`` and ``linear_share`` describe the linear paths
    (``init="cca"``, or the CCA part kept by ``init="auto"``).
    """

    n_features_x: int
    n_features_y: int
    n_components: int
    hidden_layer_sizes: tuple
    activation: str
    dropout: float
    normalization: str | None
    decoder: bool
    linear_path: bool = False
    loss: str = "infonce"
    x_encoder: Any = None
    y_encoder: Any = None
    linear_share: float | None = None

    def module_kwargs(self):
        """The fields as keyword arguments (not copied, unlike ``asdict``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def encoder(self, view):
        """The recipe of ``view``'s custom encoder (``"x"`` or ``"y"``), or None."""
        return getattr(self, f"{view}_encoder")

    @classmethod
    def from_stored(cls, stored):
        """A spec from what a pickle stored (a dict before this class existed)."""
        return cls(**stored) if isinstance(stored, dict) else stored


@dataclass(frozen=True)
class TrainingPlan:
    """The settings of one training call, resolved from the parameters and data.

    Attributes
    ----------
    device : torch.device
        Where the model and the data live, resolved once per call.
    initialize : bool
        Whether the call starts a new model (else it continues ``model_``).
    first_epoch : int
        Epochs run before this call (epochs are counted over calls).
    max_epochs : int
        Most epochs of this call.
    early_stopping : bool
        Whether validation pairs are held out and scored.
    validation_interval : int
        Score the validation pairs every this many epochs (and after the last).
    patience : int
        Epochs without improvement by ``tol`` before the stopping rule stops.
    tol : float
        Smallest improvement that resets the patience.
    batch_size : int
        Most pairs per batch on this rank.
    batch_count : int
        Batches per epoch, the same on every rank.
    max_rows : int
        Rows of the largest batch on this rank (sizes the loss's targets).
    n_train : int
        Training pairs over every rank.
    score_initial : bool
        Whether the start competes with the trained epochs (``init="cca"``).
    loss : {"infonce", "siglip"}
        The contrastive loss.
    reconstruction_weight : float
        Weight of the cross-reconstruction term (0: no decoder).
    autocast : bool
        Whether the step runs under bfloat16 autocast (CUDA only).
    compile : bool
        Whether the step's forward and loss go through ``torch.compile``.
    """

    device: Any
    initialize: bool
    first_epoch: int
    max_epochs: int
    early_stopping: bool
    validation_interval: int
    patience: int
    tol: float
    batch_size: int
    batch_count: int
    max_rows: int
    n_train: int
    score_initial: bool
    loss: str
    reconstruction_weight: float
    autocast: bool
    compile: bool


@dataclass(frozen=True)
class TrainingData:
    """This rank's standardised views on the device, split, with their weights.

    ``sample_weight`` is the user's weight of every row (float64), or None
    when uniform. The loop sees it through two derived views, made once by
    the estimator's split: ``train_weight``, divided by its mean over the
    training pairs of every rank (float32), or None when those are uniform
    (the unweighted loss is the same and cheaper); and ``val_weight``, the
    validation rows' weight (float64; ones when ``sample_weight`` is None,
    since the rank kernel weights every pair).
    """

    x: Any
    y: Any
    sample_weight: Any
    generator: Any
    train_rows: Any
    train_weight: Any = None
    val_x: Any = None
    val_y: Any = None
    val_weight: Any = None


@dataclass(frozen=True)
class MultiViewTrainingPlan(TrainingPlan):
    """A :class:`TrainingPlan` with the view pairs of the K-view loss.

    Attributes
    ----------
    view_pairs : tuple of (int, int)
        The pairs of views whose losses are averaged in every batch.
    """

    view_pairs: tuple = ()


@dataclass(frozen=True)
class MultiViewModelSpec:
    """The architecture of the K-view model: one MLP per view.

    The fields are the keyword arguments of
    ``skcrossmodal._torch.multiview.MultiViewEncoder``; ``widths`` are the
    views' numbers of columns, in the order of the model's input;
    ``linear_path`` adds a linear map per view next to its MLP
    (``init="mcca"``).
    """

    widths: tuple
    n_components: int
    hidden_layer_sizes: tuple
    activation: str
    dropout: float
    normalization: str | None
    loss: str = "infonce"
    linear_path: bool = False

    def module_kwargs(self):
        """The fields as keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class MultiViewTrainingData:
    """This rank's standardised views on the device, split, with their weights.

    ``x`` holds every view's columns side by side (float32, standardised,
    0 where a row lacks the view), ``present`` which rows have which view
    (bool, ``(n_rows, n_views)``); the weights are as in
    :class:`TrainingData`.
    """

    x: Any
    present: Any
    sample_weight: Any
    generator: Any
    train_rows: Any
    train_weight: Any = None
    val_x: Any = None
    val_present: Any = None
    val_weight: Any = None
