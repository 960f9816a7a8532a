"""Contrastive alignment of K views with one encoder per view (ImageBind-style).

The K-view sibling of :class:`~skcrossmodal.ContrastiveAligner`: the same
encoders, losses, set-up of a training call
(:class:`~skcrossmodal._contrastive.training.ContrastiveTrainingMixin`) and
training loop (:mod:`skcrossmodal._torch.multiview` subclasses its steps),
with the K-view contract of :mod:`.base` (one ``X``, ``views``, NaN blocks
for missing views) and its shared-space methods.

The scikit-learn side only: torch is imported inside the methods, so that
importing the package, constructing, cloning and ``get_params`` work without
torch.
"""

import itertools

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from .._compat import IntegerInterval, StrOptions
from .._contrastive.plan import (
    MultiViewModelSpec,
    MultiViewTrainingData,
    MultiViewTrainingPlan,
)
from .._contrastive.training import (
    AUTO_EARLY_STOPPING_PAIRS,
    CONTRASTIVE_PARAMETER_CONSTRAINTS,
    SEED_MAX,
    ContrastiveTrainingMixin,
    import_torch,
    resolve_device,
)
from .._utils.failure_safe import FailureSafeMixin
from ..base import atomic_fit
from .base import SharedSpaceMixin
from .views import check_view_name

# A view needs a spread of rows to be standardised, and a pair of views two
# rows to tell partners from negatives.
_MIN_ROWS = 2
# init="auto" starts at MCCA only when every pair of views has this many
# rows together: enough that the training rows keep the two MultiViewCCA
# needs once a tenth is held out to judge the start.
_MIN_PAIRED_ROWS_FOR_MCCA = 10


class MultiViewContrastiveAligner(
    ContrastiveTrainingMixin, SharedSpaceMixin, FailureSafeMixin, BaseEstimator
):
    """K encoders trained contrastively into one shared space (ImageBind-style).

    The K views live in one ``X``, declared by ``views`` (as for
    :class:`MultiViewCCA`); a row whose columns of a view are all NaN lacks
    that view. Each view has its own encoder, the multilayer perceptron of
    :class:`ContrastiveAligner`, ending in ``n_components`` outputs that are
    L2-normalised, so partners are compared by cosine similarity on the unit
    sphere. Training minimises a contrastive loss averaged over pairs of
    views, with a learnable temperature (and, for SigLIP, bias) shared by the
    pairs.

    **The loss of a batch.** The pairs of views are every pair
    (``pairs="all"``, ``K (K - 1) / 2`` of them) or each other view with the
    anchor view (``pairs="anchor"``, ``K - 1``, as ImageBind binds every
    modality to images). For each pair ``(a, b)``, the rows of the batch
    that have both views give one symmetric loss of their embeddings: CLIP's
    InfoNCE, where row i of view a must pick out row i of view b among
    those rows and vice versa, the per-row losses weighted by
    ``sample_weight`` and averaged over those rows; or SigLIP's pairwise
    sigmoid loss over those rows, with the same weights. The batch loss is
    the plain mean of these losses over the pairs that have at least 2 such
    rows in the batch (over every rank's rows in a process group). A row
    lacking a view enters no pair that needs the view, and still counts in
    the pairs it has (with ``pairs="anchor"``, a row lacking the anchor view
    trains nothing); its columns of that view never reach an encoder.

    Each view is standardised (weighted mean and standard deviation of each
    column) from the rows that have it. With K = 2 and no view missing the
    loss is that of :class:`ContrastiveAligner` (``init="random"``).

    Parameters
    ----------
    views : dict, list or None, default=None
        The column selections that make up each view, in the vocabulary of
        :class:`~sklearn.compose.ColumnTransformer` (see
        :class:`MultiViewCCA`); at least 2 views. ``None`` makes every
        column its own view.
    n_components : int, default=32
        Dimension of the shared space (the encoders' output); not bounded by
        the views' widths (the encoders are nonlinear). Use at least 2.
    hidden_layer_sizes : array-like of int, default=(256,)
        Widths of the hidden layers of each encoder; ``()`` gives linear
        encoders.
    activation : {"gelu", "relu", "tanh", "silu"}, default="gelu"
        Activation after each hidden layer.
    dropout : float, default=0.1
        Dropout probability after each hidden activation, in ``[0, 1)``.
    normalization : {"layer", "batch"} or None, default=None
        Normalisation layer after each hidden linear layer (batch
        normalisation sees, per view, the rows of the batch that have it).
    learning_rate : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-2
        AdamW weight decay of the weight matrices (not of biases,
        normalisation gains, the temperature or the bias).
    loss : {"infonce", "siglip"}, default="infonce"
        The loss of each pair of views (see above and
        :class:`ContrastiveAligner`).
    pairs : {"all", "anchor"}, default="all"
        Which pairs of views the loss takes: every pair, or every view with
        ``anchor_view``.
    anchor_view : str, int or None, default=None
        The anchor of ``pairs="anchor"``, by name or index; None is the
        first view. Ignored with ``pairs="all"``.
    init : {"auto", "random", "mcca"}, default="auto"
        The start of a new model. ``"random"``: the encoders' random
        initialisation. ``"mcca"``: :class:`MultiViewCCA` (``reg="auto"``,
        ``min(n_components, narrowest view)`` components) of the
        standardised training rows, missing views and ``sample_weight``
        included, becomes a linear map per view next to its MLP, whose output
        layer starts at zero: before any step each view's embedding is its
        normalised MCCA score (in the first columns, the rest 0), and the
        MLP learns a residual. The linear maps train at a tenth of the
        learning rate, without weight decay. With early stopping the start
        competes with the trained epochs on the validation rows and is kept
        when no epoch beats it (``best_epoch_`` 0); ``early_stopping="auto"``
        holds out validation rows for a fit from MCCA at any size. ``init``
        applies when a model starts (``fit``, the first ``partial_fit``), not
        when training continues. ``"auto"``: ``"mcca"`` when every pair of
        views is present together in at least 10 rows, else ``"random"``
        (data that pair each view with an anchor only, as ImageBind's, have
        no MCCA); ``init_`` says which. As measured (held-out recall@1, mean
        over view pairs, seeds 0 to 2; see :doc:`/multiview`), ``"mcca"``
        wins clearly with 300 training rows (0.37 against 0.23 to 0.25, with
        0 to 50 % of the rows lacking a view, where the random start loses
        to :class:`MultiViewCCA`), ties with 10 000 rows (0.484 against
        0.486) and loses on the 1 297 rows of the digit quadrants (0.218
        against 0.238): the smaller worst case makes it the default.
    batch_size : int, default=256
        Rows per mini-batch (per rank in a process group), at least 2; the
        rows of an epoch are split into near-equal batches of at most this
        size.
    max_epochs : "auto" or int, default="auto"
        Most passes over the training rows in ``fit``; ``"auto"`` as in
        :class:`ContrastiveAligner` (200, or more so that training takes at
        least 1 000 optimiser steps).
    early_stopping : "auto" or bool, default="auto"
        Hold out ``validation_fraction`` of the rows (at most
        ``max_validation_size``), score them every ``validation_interval``
        epochs by the mean over pairs of views of the two-way retrieval mean
        reciprocal rank (the ``score`` of the held-out rows), stop when it has
        not improved by ``tol`` for ``n_iter_no_change`` epochs and keep the
        best weights. ``"auto"`` turns it on from 10 000 rows, and for a
        fit from MCCA (``init="mcca"``) whenever the rows (of every rank)
        allow two validation and two training rows (it stays off if the
        held-out rows hold no pair of views in two rows). When off,
        training stops when the training loss has not improved by ``tol``
        for ``n_iter_no_change`` epochs (below 10 000 rows, with ``"auto"``,
        every epoch runs).
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping, in ``(0, 1)``.
    max_validation_size : "auto", int or None, default="auto"
        Most rows held out (``"auto"``: 10 000 on an accelerator, 2 000 on the
        CPU; None: no cap).
    validation_interval : int, default=1
        Score the held-out rows every this many epochs (and after the last).
    n_iter_no_change : int, default=20
        Patience, in epochs, of the stopping rule.
    tol : float, default=1e-4
        Smallest improvement that resets the patience.
    device : str, default="auto"
        Torch device: ``"auto"`` (CUDA when available, else the CPU),
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    use_bf16 : bool, default=True
        Train under bfloat16 autocast on CUDA (ignored elsewhere).
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the validation split, the shuffling and dropout
        through generators private to the fit: with an int, fits on the CPU
        are identical from run to run.
    verbose : int, default=0
        Print one line per epoch and a last line saying why training
        stopped (:class:`~skcrossmodal.callbacks.ProgressPrinter`).
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights and optimiser
        state (the standardisation of the first fit is kept).
    n_jobs : int or None, default=None
        Threads torch may use for its operations during ``fit``,
        ``partial_fit`` and the embeddings, as in :class:`ContrastiveAligner`.
    callbacks : list of Callback or None, default=None
        Extra :class:`~skcrossmodal.callbacks.Callback` objects run after the
        built-in ones (divergence check, validation scoring, early stopping,
        best weights, progress printing).

    Attributes
    ----------
    init_ : {"random", "mcca"}
        The start the model was trained from (``init`` resolved).
    n_components_ : int
        Dimension of the shared space.
    n_views_ : int
        Number of views K.
    view_names_ : list of str
        The views' names.
    view_columns_ : list of ndarray of int
        The columns of ``X`` of each view.
    view_means_, view_scales_ : list of ndarray
        Standardisation of each view (from the rows that have it).
    model_ : torch.nn.Module
        The trained encoders (``model_.encoders[k]`` for view ``k``; with
        ``init="mcca"`` also ``model_.linears[k]``, the linear map next to
        it) and the logit scale.
    loss_curve_ : list of float
        Mean training loss of every epoch, across warm starts and
        ``partial_fit`` calls.
    validation_scores_ : list of float or None
        Validation score after each epoch of the last call (NaN where not
        scored); None without early stopping.
    n_iter_ : int
        Epochs run (accumulated over warm starts and ``partial_fit``).
    best_epoch_ : int
        Epoch whose weights are kept; 0 when a fit from MCCA kept its start.
    device_ : str
        Device the model lives on.
    temperature_ : float
        Learned temperature (1 / logit scale).
    n_features_in_ : int
        Number of columns of ``X`` seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the columns, when ``X`` had string column names.

    See Also
    --------
    ContrastiveAligner : The two-view aligner whose loop this one shares.
    MultiViewCCA : The linear K-view embedding in closed form.

    Notes
    -----
    ``sample_weight`` multiplies each row's loss in every pair it enters
    (weights are divided by their mean over the training rows); a row of
    weight zero still serves as a negative. ``partial_fit`` runs one epoch
    on the rows it is given, without early stopping; its first call fixes the
    standardisation. A call that raises leaves the estimator as it was.

    Inside an initialised ``torch.distributed`` process group of several
    ranks (``torchrun`` or :func:`skcrossmodal.distributed.fit`) ``fit`` and
    ``partial_fit`` train one model data-parallel, as
    :class:`ContrastiveAligner` does: each rank passes its own rows, the
    standardisation and the validation score are reduced over the ranks,
    and each batch's loss sees every rank's embeddings, presence masks and
    weights. ``normalization="batch"`` is refused there.

    A model trained on a GPU pickles with its weights on the CPU and loads on
    a machine without CUDA (with a warning).

    References
    ----------
    .. [1] R. Girdhar et al., "ImageBind: One Embedding Space To Bind Them
       All", CVPR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import MultiViewContrastiveAligner
    >>> from skcrossmodal.datasets import make_multiview
    >>> X, views, _ = make_multiview(
    ...     n_samples=200, n_views=3, missing_rate=0.2, random_state=0)
    >>> model = MultiViewContrastiveAligner(
    ...     views, init="random", n_components=4, hidden_layer_sizes=(16,),
    ...     max_epochs=20, batch_size=50, device="cpu", random_state=0,
    ... ).fit(X)
    >>> Z = model.transform(X)
    >>> Z.shape
    (200, 12)
    >>> bool(np.array_equal(np.isnan(Z[:, ::4]), np.isnan(X[:, [0, 10, 20]])))
    True
    >>> model.loss_curve_[-1] < model.loss_curve_[0]
    True

    Started at :class:`MultiViewCCA` (the default ``init="auto"`` here, as
    every pair of views has rows together), the fit holds out validation rows
    and keeps the epoch, or the start, that scores best: here 20 epochs from
    the random start are far from the linear solution.

    >>> mcca = MultiViewContrastiveAligner(
    ...     views, n_components=4, hidden_layer_sizes=(16,),
    ...     max_epochs=20, batch_size=50, device="cpu", random_state=0,
    ... ).fit(X)
    >>> mcca.init_
    'mcca'
    >>> bool(mcca.score(X) > model.score(X) + 0.3)
    True
    """

    # skcrossmodal.distributed.fit accepts it: fit trains across the ranks.
    _fits_across_ranks = True

    _parameter_constraints: dict = {
        **CONTRASTIVE_PARAMETER_CONSTRAINTS,
        "views": [list, tuple, dict, None],
        "pairs": [StrOptions({"all", "anchor"})],
        "anchor_view": [str, IntegerInterval(0, None, closed="left"), None],
        "init": [StrOptions({"auto", "random", "mcca"})],
    }

    def __init__(
        self,
        views=None,
        *,
        n_components=32,
        hidden_layer_sizes=(256,),
        activation="gelu",
        dropout=0.1,
        normalization=None,
        learning_rate=1e-3,
        weight_decay=1e-2,
        loss="infonce",
        pairs="all",
        anchor_view=None,
        init="auto",
        batch_size=256,
        max_epochs="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        max_validation_size="auto",
        validation_interval=1,
        n_iter_no_change=20,
        tol=1e-4,
        device="auto",
        use_bf16=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        n_jobs=None,
        callbacks=None,
    ):
        self.views = views
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.normalization = normalization
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.loss = loss
        self.pairs = pairs
        self.anchor_view = anchor_view
        self.init = init
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_validation_size = max_validation_size
        self.validation_interval = validation_interval
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.use_bf16 = use_bf16
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.callbacks = callbacks

    # ------------------------------------------------------------ training ---
    @atomic_fit
    def fit(self, X, y=None, sample_weight=None):
        """Train the K encoders on the views of ``X``.

        A call that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views side by side; ``views`` says which columns are which.
            A row whose columns of a view are all NaN lacks that view.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row's loss.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        continuing = self.warm_start and hasattr(self, "model_")
        validated = self._validate_on_every_rank(
            X, sample_weight, reset=True, min_samples=2
        )
        if continuing:
            self._check_same_views(*validated[2:4])
        return self._train_call(
            validated, initialize=not continuing, max_epochs=None, early_stopping=None
        )

    @atomic_fit
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one epoch on the given rows.

        The first call initialises the model (and fixes the standardisation);
        later calls continue from the current weights, on the same views.
        Early stopping does not apply.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            A chunk of rows, laid out as at the first call.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row's loss.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not hasattr(self, "model_")
        validated = self._validate_on_every_rank(
            X, sample_weight, reset=first_call, min_samples=1
        )
        return self._train_call(
            validated, initialize=first_call, max_epochs=1, early_stopping=False
        )

    def _train_call(self, validated, *, initialize, max_epochs, early_stopping):
        """Train on validated rows, in torch's threads for this call.

        ``early_stopping`` None resolves the parameter (``"auto"``: on from
        ``AUTO_EARLY_STOPPING_PAIRS`` rows over every rank).
        """
        X, present, names, columns, sample_weight = validated
        with self._threads_for_views([cols.size for cols in columns]):
            device = resolve_device(self.device)  # once per call
            start = None
            if initialize:
                counts = self._rows_together(present, sample_weight, device)
                self._check_rows_per_view(counts, names, self._view_pairs(names))
                start = self._start_for(counts)
            if early_stopping is None:
                early_stopping = self._early_stopping_for(
                    X.shape[0], device, start == "mcca"
                )
            self._train(
                X,
                present,
                names,
                columns,
                sample_weight,
                device=device,
                start=start,
                max_epochs=max_epochs,
                early_stopping=early_stopping,
            )
        return self

    def _rows_together(self, present, sample_weight, device):
        """Rows of positive weight that have each pair of views, over every rank.

        A ``(K, K)`` array; its diagonal counts each view's rows. Reduced on
        the device: a NCCL group reduces device tensors only.
        """
        torch, models = import_torch()
        if sample_weight is not None:
            present = present & (np.asarray(sample_weight) > 0)[:, None]
        rows = models.to_device(present.astype(np.float64), device, torch.float64)
        return self._communicator().all_reduce_sum(rows.T @ rows).cpu().numpy()

    def _start_for(self, counts):
        """The start of a new model: ``init`` resolved (``"auto"`` decided).

        ``"auto"`` starts at MCCA when every pair of views is present
        together in at least ``_MIN_PAIRED_ROWS_FOR_MCCA`` rows of weight
        above zero (over every rank), else at random: MultiViewCCA needs
        every pair's co-moments, which data that pairs each view only with
        an anchor (ImageBind's) do not have.
        """
        if self.init != "auto":
            return self.init
        return "mcca" if counts.min() >= _MIN_PAIRED_ROWS_FOR_MCCA else "random"

    def _early_stopping_for(self, n_rows, device, from_mcca):
        """Whether ``fit`` holds out validation rows: the parameter resolved.

        ``"auto"``: from ``AUTO_EARLY_STOPPING_PAIRS`` rows over every rank,
        and, when a fit starts at MCCA (``init="mcca"``), whenever every
        rank's rows allow a split of two and two, so that the start competes with the
        trained epochs (as ``ContrastiveAligner(init="cca")``); the string
        ``"auto"`` is returned then, for the split to fall back to training
        on every row if the held-out rows hold no pair of views.
        """
        if self.early_stopping != "auto":
            return bool(self.early_stopping)
        n_samples = self._pairs_in_group(n_rows)
        if n_samples >= AUTO_EARLY_STOPPING_PAIRS:
            return True
        if from_mcca:
            # Each rank holds out its share of its own rows: every rank's
            # split must leave two and two.
            n_validation = self._n_validation(n_rows, device)
            can_split = n_validation >= 2 and n_rows - n_validation >= 2
            if not self._communicator().any_true(not can_split):
                return "auto"
        return False

    def _validate_on_every_rank(self, X, sample_weight, *, reset, min_samples):
        """``_validate_views``, agreed on by every rank of a process group."""
        return self._validated_on_every_rank(
            lambda: self._validate_views(
                X, sample_weight, reset=reset, min_samples=min_samples
            ),
            lambda validated: (validated[0].shape[1], 0, (validated[0].dtype,)),
        )

    def _view_pairs(self, names):
        """The loss's pairs of view indices, the anchor resolved."""
        from .._torch.multiview import view_pairs

        anchor = 0
        if self.pairs == "anchor" and self.anchor_view is not None:
            try:
                anchor = check_view_name(self.anchor_view, names)
            except (TypeError, ValueError) as error:
                raise ValueError(f"anchor_view={self.anchor_view!r}: {error}") from None
        return view_pairs(len(names), self.pairs, anchor)

    def _check_rows_per_view(self, counts, names, pairs):
        """Every view needs 2 rows of positive weight, and a pair in 2 rows.

        ``counts`` is ``_rows_together``'s (over every rank): a view seen in
        fewer rows cannot be standardised, and a view that no pair of the
        loss has in two rows would never train its encoder.
        """
        for view, name in enumerate(names):
            if counts[view, view] < _MIN_ROWS:
                raise ValueError(
                    f"View {name!r} is present in {int(counts[view, view])} row(s) "
                    f"of positive weight; {type(self).__name__} needs every view in "
                    f"at least {_MIN_ROWS}. Add rows that have it, or drop the view."
                )
        for view, name in enumerate(names):
            together = [counts[a, b] for a, b in pairs if view in (a, b)]
            if max(together, default=0) < _MIN_ROWS:
                partners = [
                    names[b if a == view else a] for a, b in pairs if view in (a, b)
                ]
                raise ValueError(
                    f"View {name!r} is present together with "
                    f"{' or '.join(map(repr, partners))} in fewer than {_MIN_ROWS} "
                    f"rows of positive weight (pairs={self.pairs!r}), so no pair "
                    "of the loss would train its encoder. Add rows that have "
                    "them together, or drop the view."
                )

    # ---------------------------------------------------------- the call ---
    def _train(
        self,
        X,
        present,
        names,
        columns,
        sample_weight,
        *,
        device,
        start,
        max_epochs,
        early_stopping,
    ):
        """One training call: the data, the plan, the loop, the commit.

        ``start`` is the resolved ``init`` of a new model, None when training
        continues.
        """
        torch, models = import_torch()
        initialize = start is not None
        from .._torch import multiview

        comm = self._communicator()
        pairs = self._view_pairs(names)
        widths = tuple(cols.size for cols in columns)
        if initialize:
            self._random_state = check_random_state(self.random_state)
            spec = MultiViewModelSpec(
                widths=widths,
                n_components=self.n_components,
                hidden_layer_sizes=self._hidden_layer_sizes(),
                activation=self.activation,
                dropout=float(self.dropout),
                normalization=self.normalization,
                loss=self.loss,
                linear_path=start == "mcca",
            )
            init_generator = torch.Generator(device=device)
            init_generator.manual_seed(self._random_state.randint(SEED_MAX))
            model = multiview.build_model(spec, device, init_generator)
            comm.broadcast_module(model)
            optimizer = models.make_optimizer(
                model, self.learning_rate, self.weight_decay
            )
            self.device_ = str(device)
        else:
            if self.loss != self._model_spec.loss:
                raise ValueError(
                    f"loss={self.loss!r}, but the model was trained with "
                    f"loss={self._model_spec.loss!r}. Set warm_start=False to "
                    "start afresh."
                )
            self._move_to(device)
            model, optimizer, spec = self.model_, self._optimizer, self._model_spec
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate * group.get("lr_scale", 1.0)
        generator = torch.Generator(device=device)
        # Each rank shuffles (and drops out) with its own stream.
        generator.manual_seed(self._random_state.randint(SEED_MAX) + comm.rank)

        side_by_side = np.concatenate([X[:, cols] for cols in columns], axis=1)
        # No NaN reaches torch: a missing view's entries are 0 from here on
        # (the moments read only the rows that have the view).
        np.nan_to_num(side_by_side, copy=False, nan=0.0)
        x = models.to_device(side_by_side, device, torch.float64)
        present_t = models.to_device(present, device)
        weight = None
        if sample_weight is not None:
            weight = models.to_device(sample_weight, device, torch.float64)
        if initialize:
            standardization = _view_moments(x, present_t, weight, model.bounds, comm)
        else:
            standardization = [
                tuple(models.to_device(v, device) for v in pair)
                for pair in zip(self.view_means_, self.view_scales_, strict=True)
            ]
        x = _standardized(x, present_t, model.bounds, standardization)

        split = self._split_rows(x.shape[0], weight, generator, early_stopping, comm)
        held_out = split[1]
        if held_out is not None and not self._validation_pairs_exist(
            present_t[held_out], comm, strict=early_stopping != "auto"
        ):
            # "auto" for an MCCA start only: no pair to score, every row trains.
            early_stopping = False
            split = self._split_rows(x.shape[0], weight, generator, False, comm)
        early_stopping = bool(early_stopping)
        train, held_out, train_weight, val_weight = split
        validation = {}
        if held_out is not None:
            validation = {
                "val_x": x[held_out],
                "val_present": present_t[held_out],
                "val_weight": val_weight,
            }
        data = MultiViewTrainingData(
            x=x,
            present=present_t,
            sample_weight=weight,
            generator=generator,
            train_rows=train,
            train_weight=train_weight,
            **validation,
        )
        if start == "mcca":
            self._init_from_mcca(model, data, bounds=model.bounds, comm=comm)
        plan = self._plan(
            data,
            comm,
            device=device,
            initialize=initialize,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            pairs=pairs,
            from_mcca=start == "mcca",
        )
        loop = multiview.MultiViewLoop(
            model, optimizer, comm, plan, data, self._callbacks_for(plan)
        )
        model.set_generator(generator)
        try:
            result = loop.fit_loop()
        finally:
            model.set_generator(None)
        finite = all(bool(z.isfinite().all()) for z in multiview.embed_all(model, x))
        self._check_trained(result, plan, finite, comm)
        if initialize:
            self.model_, self._optimizer, self._model_spec = model, optimizer, spec
            self.init_ = start
            self.view_names_, self.view_columns_ = names, columns
            self.n_views_, self.n_components_ = len(names), spec.n_components
            self.view_means_ = [m.cpu().numpy() for m, _ in standardization]
            self.view_scales_ = [s.cpu().numpy() for _, s in standardization]
            self.loss_curve_, self.n_iter_ = [], 0
        self.device_ = str(plan.device)
        self.loss_curve_ = self.loss_curve_ + result.losses
        self.n_iter_ += len(result.losses)
        self.best_epoch_ = result.best_epoch
        self.validation_scores_ = result.scores if plan.early_stopping else None
        self.temperature_ = float(1.0 / model.logit_scale.detach().exp().cpu())
        self._report_stop(result, plan, loop)

    def _validation_pairs_exist(self, present, comm, *, strict):
        """Whether the held-out rows hold some pair of views in two rows.

        With ``strict`` (early stopping asked for), raise when they do not.
        """
        both = present.double().T @ present.double()
        both = comm.all_reduce_sum(both).fill_diagonal_(0)
        exist = bool((both >= _MIN_ROWS).any())
        if not exist and strict:
            raise ValueError(
                "No pair of views is present together in 2 of the rows held out "
                "for early stopping, so the validation score is undefined; pass "
                "more rows, raise validation_fraction, or set early_stopping=False."
            )
        return exist

    def _init_from_mcca(self, model, data, *, bounds, comm):
        """Set the linear paths to MultiViewCCA of the standardised training rows.

        ``MultiViewCCA(reg="auto")`` is fitted, in float64 on the host, on
        the training rows of every rank (not the validation rows, which judge
        the start), gathered in rank order so that every rank fits the same
        solution (then broadcast from rank 0 all the same), with their
        weights and a missing view as NaN; its rotations act on the
        standardised views the encoders see, so before training each view's
        embedding is its normalised MCCA score.
        """
        torch, models = import_torch()
        from .cca import MultiViewCCA

        rows = data.train_rows
        x = comm.gather(data.x[rows]).double().cpu().numpy()
        present = comm.gather(data.present[rows]).cpu().numpy()
        weight = None
        if data.sample_weight is not None:
            weight = comm.gather(data.sample_weight[rows]).double().cpu().numpy()
        views = [slice(start, stop) for start, stop in itertools.pairwise(bounds)]
        for view, columns in enumerate(views):
            x[~present[:, view], columns] = np.nan
        widths = [columns.stop - columns.start for columns in views]
        mcca = MultiViewCCA(views, n_components=min(self.n_components, *widths))
        try:
            mcca.fit(x, sample_weight=weight)
        except ValueError as error:
            raise ValueError(
                "init='mcca' fits MultiViewCCA on the training rows (those not "
                f"held out for early stopping), and it failed: {error} Pass more "
                "rows, set early_stopping=False, or use init='random'."
            ) from error
        device = next(model.parameters()).device
        model.init_from_linear_(
            [models.to_device(r, device, torch.float32) for r in mcca.rotations_],
            [models.to_device(m, device, torch.float32) for m in mcca.view_means_],
        )
        comm.broadcast_module(model)

    def _plan(
        self,
        data,
        comm,
        *,
        device,
        initialize,
        max_epochs,
        early_stopping,
        pairs,
        from_mcca,
    ):
        """The frozen plan of this call, from the parameters and the data."""
        return MultiViewTrainingPlan(
            **self._plan_settings(
                data.train_rows.shape[0],
                comm,
                device=device,
                initialize=initialize,
                max_epochs=max_epochs,
                early_stopping=early_stopping,
            ),
            score_initial=from_mcca,
            reconstruction_weight=0.0,
            compile=False,
            view_pairs=pairs,
        )

    # ----------------------------------------------------------- inference ---
    def _embed(self, X, present, view):
        torch, models = import_torch()
        rows = present[:, view]
        out = np.full((X.shape[0], self.n_components_), np.nan)
        if not rows.any():
            return out
        device = torch.device(self.device_)
        block = X[np.ix_(rows, self.view_columns_[view])]
        a = models.to_device(np.ascontiguousarray(block, dtype=np.float64), device)
        mean, scale = (
            models.to_device(v, device)
            for v in (self.view_means_[view], self.view_scales_[view])
        )
        a = models.standardize_(a, mean, scale).float()
        self.model_.eval()
        with self._threads_for_views([c.size for c in self.view_columns_]):
            z = models.embed_rows(lambda b: self.model_.embed(view, b), a)
        out[rows] = z.cpu().numpy()
        return out

    def _rebuild_model(self, device):
        from .._torch import multiview

        return multiview.build_model(self._model_spec, device)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")


def _view_moments(x, present, weight, bounds, comm):
    """Per view, weighted mean and scale of its columns over the rows that have it."""
    _, models = import_torch()
    moments = []
    for view in range(len(bounds) - 1):
        rows = present[:, view]
        block = x[rows, bounds[view] : bounds[view + 1]]
        moments.append(
            models.weighted_mean_scale(
                block, None if weight is None else weight[rows], comm
            )
        )
    return moments


def _standardized(x, present, bounds, standardization):
    """The side-by-side views standardised, 0 where a row lacks a view (float32)."""
    torch, models = import_torch()
    for view, (mean, scale) in enumerate(standardization):
        block = x[:, bounds[view] : bounds[view + 1]]
        models.standardize_(block, mean, scale)
        # A missing view's entries stay 0 after standardisation.
        block[~present[:, view]] = 0.0
    return x.float()
