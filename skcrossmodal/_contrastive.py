"""Contrastive (symmetric InfoNCE, CLIP-style) alignment of two views with torch.

The scikit-learn side only: torch is imported inside the methods that train or
run the networks (``_torch_models`` holds the torch code), so that importing
the package, constructing, cloning and ``get_params`` work without torch.
"""

import numbers
import time
import warnings

import numpy as np
from scipy import linalg
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from ._base import CrossModalMixin
from ._compat import IntegerInterval, Interval, StrOptions, _fit_context
from ._stats import two_view_moments
from .metrics import mean_reciprocal_rank

_INSTALL_HINT = (
    'ContrastiveAligner needs PyTorch: pip install "skcrossmodal[torch]" '
    "(or pip install torch)."
)


def _import_torch():
    """Import torch and the torch half of this estimator, or say how to get it."""
    try:
        import torch

        from . import _torch_models
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return torch, _torch_models


def _resolve_device(torch, device):
    """Turn the ``device`` parameter into a torch device that exists here."""
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


def _weighted_mean_scale(A, weight):
    """Weighted per-feature mean and standard deviation (1 for constant ones)."""
    # einsum rather than ``weight @ A``: a multithreaded BLAS call here leaves
    # BLAS threads spinning that compete with torch's for the first epochs.
    mean = np.einsum("i,ij->j", weight, A) / weight.sum()
    scale = np.sqrt(np.einsum("i,ij->j", weight, np.square(A - mean)) / weight.sum())
    scale[scale < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1)] = 1.0
    return mean, scale


def _standardize(A, mean, scale):
    """``(A - mean) / scale`` as float32, without float64 temporaries of A's size."""
    out = np.empty(A.shape, dtype=np.float32)
    np.subtract(A, mean, out=out, casting="same_kind")
    out /= scale.astype(np.float32)
    return out


class ContrastiveAligner(CrossModalMixin):
    """Two MLP encoders trained contrastively into one shared space (CLIP-style).

    Each view has its own multilayer perceptron; both end in ``n_components``
    outputs that are L2-normalised, so the shared space is the unit sphere and
    partners are compared by cosine similarity. Training minimises the
    symmetric InfoNCE loss of CLIP: within each mini-batch, row i of X must pick
    out row i of y among all rows of y, and vice versa, with a learnable
    temperature. Unlike the linear estimators of this library it can follow a
    nonlinear link between the modalities.

    Inputs are standardised internally (weighted means and standard deviations
    are stored), so raw features of any scale can be passed.

    Parameters
    ----------
    n_components : int, default=32
        Dimension of the shared space (the encoders' output). Unlike the
        linear estimators' it is not bounded by the views' dimensions: the
        encoders are nonlinear, so a shared space wider than a one-column y
        still separates pairs.
    hidden_layer_sizes : array-like of int, default=(256,)
        Widths of the hidden layers of each encoder; ``()`` gives linear
        encoders.
    activation : {"gelu", "relu", "tanh", "silu"}, default="gelu"
        Activation after each hidden layer.
    dropout : float, default=0.1
        Dropout probability after each hidden activation, in ``[0, 1)``.
    normalization : {"layer", "batch"} or None, default="layer"
        Normalisation layer after each hidden linear layer.
    learning_rate : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-4
        AdamW (decoupled) weight decay of the weight matrices; biases,
        normalisation gains and the temperature are not decayed.
    batch_size : int, default=256
        Pairs per mini-batch (the other pairs of a batch are the negatives), at
        least 2. The rows of an epoch are split into near-equal batches of at
        most this size, so no batch is left with a single pair.
    max_epochs : int, default=200
        Most passes over the training pairs in ``fit``.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the pairs, monitor their retrieval
        mean reciprocal rank after every epoch, stop when it has not improved
        by ``tol`` for ``n_iter_no_change`` epochs and keep the best weights.
        When False, training stops when the training loss has not improved by
        ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
        Share of the pairs held out for early stopping, in ``(0, 1)``; the
        split must leave at least 2 pairs to score.
    n_iter_no_change : int, default=20
        Patience, in epochs, of the stopping rule.
    tol : float, default=1e-4
        Smallest improvement (of validation MRR, or of training loss) that
        resets the patience.
    reconstruction_weight : float, default=0.0
        Weight of a cross-reconstruction term: a decoder maps X's point in the
        shared space to (standardised) y, trained jointly with mean squared
        error, and ``predict`` uses it. ``0`` trains no decoder: ``predict``
        then uses a closed-form ridge read-out from X's shared-space
        coordinates to y, fitted after training.
    readout_alpha : float, default=1.0
        Ridge penalty of that read-out (as in :class:`~sklearn.linear_model.Ridge`
        with ``sample_weight``). Ignored when ``reconstruction_weight > 0``.
    device : str, default="auto"
        Torch device: ``"auto"`` uses CUDA when available, else the CPU; or
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... The training data are moved to it
        once per ``fit``.
    use_bf16 : bool, default=True
        Train under bfloat16 autocast on CUDA (ignored on other devices).
        Embeddings are always computed in float32.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the validation split, the shuffling
        and dropout. With an int, results on the CPU are identical from run to
        run. The global torch random state is left untouched.
    verbose : int, default=0
        Print one line per epoch: loss, validation MRR, seconds.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights (and optimiser
        state) instead of starting afresh; the standardisation of the first
        fit is kept.

    Attributes
    ----------
    n_components_ : int
        Dimension of the shared space.
    model_ : torch.nn.Module
        The trained encoders (``model_.encoder_x``, ``model_.encoder_y``), the
        logit scale and the optional decoder.
    loss_curve_ : list of float
        Mean training loss of every epoch, across ``fit``/``partial_fit``
        calls while warm starting.
    validation_scores_ : list of float or None
        Validation MRR after each epoch of the last ``fit``; None without
        early stopping.
    n_iter_ : int
        Epochs run (accumulated over warm starts and ``partial_fit``).
    best_epoch_ : int
        Epoch (counted like ``n_iter_``) whose weights are kept: the best
        validation epoch with early stopping, else the last one.
    device_ : str
        Device the model lives on.
    temperature_ : float
        Learned temperature (1 / logit scale).
    x_mean_, x_scale_ : ndarray of shape (n_features_in_,)
        Standardisation of X.
    y_mean_, y_scale_ : ndarray of shape (n_features_y_in_,)
        Standardisation of y.
    readout_coef_ : ndarray of shape (n_components_, n_features_y_in_) or None
        Ridge read-out ``predict(X) = transform(X) @ readout_coef_ +
        readout_intercept_``; None when a decoder is trained.
    readout_intercept_ : ndarray of shape (n_features_y_in_,) or None
    n_features_in_ : int
        Number of features of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's features, when X had string column names.
    n_features_y_in_ : int
        Number of features (columns) of y seen during fit.

    See Also
    --------
    CrossModalEmbedding : Linear closed-form alignment (orthogonal Procrustes).

    Notes
    -----
    ``sample_weight`` multiplies each pair's loss (weights are divided by their
    mean, so the learning rate means the same with or without them); a pair of
    weight zero still serves as a negative for the others in its batch.
    ``partial_fit`` runs one epoch on the data it is given, without early
    stopping; its first call fixes the standardisation.

    A model trained on a GPU pickles with its weights on the CPU and loads on a
    machine without CUDA (with a warning), where it runs on the CPU.

    References
    ----------
    .. [1] A. Radford et al., "Learning Transferable Visual Models From Natural
       Language Supervision", ICML 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import ContrastiveAligner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))
    >>> y = np.tanh(X @ rng.normal(size=(6, 4)))
    >>> model = ContrastiveAligner(
    ...     n_components=4, hidden_layer_sizes=(32,), max_epochs=20,
    ...     early_stopping=False, device="cpu", random_state=0,
    ... ).fit(X, y)
    >>> model.transform(X).shape, model.predict(X).shape
    ((200, 4), (200, 4))
    >>> model.loss_curve_[-1] < model.loss_curve_[0]
    True
    """

    _shared_space_bounded_by_views = False

    _parameter_constraints: dict = {
        "n_components": [IntegerInterval(1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            IntegerInterval(1, None, closed="left"),
        ],
        "activation": [StrOptions({"gelu", "relu", "tanh", "silu"})],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "normalization": [StrOptions({"layer", "batch"}), None],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [IntegerInterval(2, None, closed="left")],
        "max_epochs": [IntegerInterval(1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [IntegerInterval(1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "reconstruction_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "readout_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "device": [str],
        "use_bf16": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        n_components=32,
        *,
        hidden_layer_sizes=(256,),
        activation="gelu",
        dropout=0.1,
        normalization="layer",
        learning_rate=1e-3,
        weight_decay=1e-4,
        batch_size=256,
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=1e-4,
        reconstruction_weight=0.0,
        readout_alpha=1.0,
        device="auto",
        use_bf16=True,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.normalization = normalization
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.reconstruction_weight = reconstruction_weight
        self.readout_alpha = readout_alpha
        self.device = device
        self.use_bf16 = use_bf16
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------ training ---
    def _fit_views(self, X, y, sample_weight):
        continuing = self.warm_start and hasattr(self, "model_")
        self._train(
            X,
            y,
            sample_weight,
            initialize=not continuing,
            max_epochs=self.max_epochs,
            early_stopping=self.early_stopping,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on the given pairs.

        The first call initialises the model (and fixes the standardisation);
        later calls continue from the current weights. Early stopping does not
        apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view, paired row by row with ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each pair's loss.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not hasattr(self, "model_")
        X, y, sample_weight = self._validate_paired_views(
            X, y, sample_weight, reset=first_call
        )
        self._train(
            X,
            y,
            sample_weight,
            initialize=first_call,
            max_epochs=1,
            early_stopping=False,
        )
        return self

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, numbers.Integral) else tuple(sizes)
        if not all(isinstance(s, numbers.Integral) and s >= 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must hold positive integers; got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _initialize(self, torch, models, X, y, weight, device):
        """Standardisation, network and optimiser of a new fit."""
        self.x_mean_, self.x_scale_ = _weighted_mean_scale(X, weight)
        self.y_mean_, self.y_scale_ = _weighted_mean_scale(y, weight)
        self.n_components_ = self.n_components
        self._model_spec = {
            "n_features_x": X.shape[1],
            "n_features_y": y.shape[1],
            "n_components": self.n_components_,
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "activation": self.activation,
            "dropout": float(self.dropout),
            "normalization": self.normalization,
            "decoder": self.reconstruction_weight > 0,
        }
        torch.manual_seed(self._random_state.randint(np.iinfo(np.int32).max))
        self.model_ = models.TwoViewEncoder(**self._model_spec).to(device)
        self._optimizer = torch.optim.AdamW(
            models.parameter_groups(self.model_, self.weight_decay),
            lr=self.learning_rate,
        )
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.device_ = str(device)

    def _check_continuation(self, X, y):
        spec = self._model_spec
        if (X.shape[1], y.shape[1]) != (spec["n_features_x"], spec["n_features_y"]):
            raise ValueError(
                f"warm_start=True, but X and y have {X.shape[1]} and {y.shape[1]} "
                f"features while the model was built for {spec['n_features_x']} "
                f"and {spec['n_features_y']}. Set warm_start=False to start afresh."
            )

    def _train(self, X, y, sample_weight, *, initialize, max_epochs, early_stopping):
        torch, models = _import_torch()
        device = _resolve_device(torch, self.device)
        weight = (
            np.ones(X.shape[0]) if sample_weight is None else sample_weight
        ).astype(np.float64)
        if initialize:
            self._random_state = check_random_state(self.random_state)
        rows = self._split(X.shape[0], early_stopping)
        rng_devices = []
        if device.type == "cuda":
            index = device.index
            rng_devices = [torch.cuda.current_device() if index is None else index]
        # Seeding inside fork_rng makes the run reproducible without touching
        # the caller's global torch random state (dropout draws from it). The
        # few NumPy products made meanwhile run on one BLAS thread: idle BLAS
        # threads spin and would compete with torch's for the cores.
        with (
            torch.random.fork_rng(devices=rng_devices),
            threadpool_limits(limits=1, user_api="blas"),
        ):
            if initialize:
                self._initialize(torch, models, X, y, weight, device)
            else:
                self._check_continuation(X, y)
                self._move_to(torch, device)
                for group in self._optimizer.param_groups:
                    group["lr"] = self.learning_rate
            seed = self._random_state.randint(np.iinfo(np.int32).max)
            torch.manual_seed(seed)
            generator = torch.Generator(device=device)
            generator.manual_seed(seed)
            error = self._run_epochs(
                torch,
                models,
                X,
                y,
                weight,
                rows=rows,
                device=device,
                generator=generator,
                max_epochs=max_epochs,
                early_stopping=early_stopping,
            )
        self.temperature_ = float(1.0 / self.model_.logit_scale.detach().exp().cpu())
        self._fit_readout(X, y, weight)
        if error is not None:
            raise error

    def _split(self, n_samples, early_stopping):
        rows = np.arange(n_samples)
        if not early_stopping:
            return rows, None
        train, validation = train_test_split(
            rows,
            test_size=self.validation_fraction,
            random_state=self._random_state.randint(np.iinfo(np.int32).max),
        )
        if validation.shape[0] < 2 or train.shape[0] < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} of {n_samples} "
                f"pairs leaves {validation.shape[0]} validation and "
                f"{train.shape[0]} training pairs; both need at least 2 to be "
                "scored. Pass more pairs, change validation_fraction, or set "
                "early_stopping=False."
            )
        return np.sort(train), np.sort(validation)

    def _run_epochs(
        self,
        torch,
        models,
        X,
        y,
        weight,
        *,
        rows,
        device,
        generator,
        max_epochs,
        early_stopping,
    ):
        """Train; return the NaN-loss error to raise after cleanup, or None."""
        train, validation = rows
        x_std = _standardize(X, self.x_mean_, self.x_scale_)
        y_std = _standardize(y, self.y_mean_, self.y_scale_)
        train_weight = weight[train]
        if not train_weight.sum() > 0:
            raise ValueError(
                "Every training pair has zero sample_weight after the validation "
                "split; give more pairs a positive weight."
            )

        def to_device(array):
            return torch.from_numpy(np.ascontiguousarray(array)).to(device)

        # Moved once: every epoch indexes these tensors on the device.
        x_train, y_train = to_device(x_std[train]), to_device(y_std[train])
        # Uniform weights (None included) skip the weighting: same result, less work.
        w_train = None
        if not np.all(train_weight == train_weight[0]):
            w_train = to_device((train_weight / train_weight.mean()).astype(np.float32))
        self.validation_scores_ = [] if early_stopping else None
        if early_stopping:
            validation_views = (
                np.ascontiguousarray(x_std[validation]),
                np.ascontiguousarray(y_std[validation]),
                weight[validation],
            )
        best_score, best_state, stall = -np.inf, None, 0
        first_epoch = self.n_iter_
        self.best_epoch_ = self.n_iter_
        for _ in range(max_epochs):
            start = time.perf_counter()
            last_good = {
                k: v.detach().clone() for k, v in self.model_.state_dict().items()
            }
            loss = models.train_one_epoch(
                self.model_,
                self._optimizer,
                x_train,
                y_train,
                w_train,
                batch_size=self.batch_size,
                generator=generator,
                reconstruction_weight=self.reconstruction_weight,
                use_bf16=self.use_bf16,
            )
            if not np.isfinite(loss):
                self.model_.load_state_dict(last_good)
                return FloatingPointError(
                    f"The training loss became {loss} at epoch {self.n_iter_ + 1}; "
                    "the weights of the previous epoch are kept. Try a lower "
                    f"learning_rate (currently {self.learning_rate})."
                )
            self.n_iter_ += 1
            self.loss_curve_.append(loss)
            if early_stopping:
                score = self._validation_mrr(models, *validation_views)
                self.validation_scores_.append(score)
                improved = score > best_score + self.tol
                if score > best_score:
                    best_score, self.best_epoch_ = score, self.n_iter_
                    best_state = {
                        k: v.detach().clone()
                        for k, v in self.model_.state_dict().items()
                    }
            else:
                score = None
                previous = min(self.loss_curve_[first_epoch:-1], default=np.inf)
                improved = loss < previous - self.tol
                self.best_epoch_ = self.n_iter_
            stall = 0 if improved else stall + 1
            if self.verbose:
                shown = "" if score is None else f", validation MRR = {score:.4f}"
                print(
                    f"Epoch {self.n_iter_}: loss = {loss:.4f}{shown}, "
                    f"{time.perf_counter() - start:.2f} s"
                )
            if stall >= self.n_iter_no_change:
                break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        return None

    def _validation_mrr(self, models, x_std, y_std, weight):
        device = next(self.model_.parameters()).device
        self.model_.eval()
        x_scores = models.embed_rows(self.model_.embed_x, x_std, device)
        y_scores = models.embed_rows(self.model_.embed_y, y_std, device)
        return mean_reciprocal_rank(x_scores, y_scores, sample_weight=weight)

    def _fit_readout(self, X, y, weight):
        """Closed-form weighted ridge from X's shared-space coordinates to y."""
        if self.reconstruction_weight > 0:
            self.readout_coef_ = self.readout_intercept_ = None
            return
        moments = two_view_moments(self._embed_x(X), y, weight, second_order_x="full")
        gram = moments.cross_xx + self.readout_alpha * np.eye(self.n_components_)
        self.readout_coef_ = linalg.lstsq(gram, moments.cross_xy)[0]
        self.readout_intercept_ = moments.mean_y - moments.mean_x @ self.readout_coef_

    # ----------------------------------------------------------- inference ---
    def _embed(self, view, A):
        _, models = _import_torch()
        mean, scale = (
            (self.x_mean_, self.x_scale_)
            if view == "x"
            else (self.y_mean_, self.y_scale_)
        )
        self.model_.eval()
        embed = self.model_.embed_x if view == "x" else self.model_.embed_y
        device = next(self.model_.parameters()).device
        return models.embed_rows(embed, _standardize(A, mean, scale), device)

    def _embed_x(self, X):
        return self._embed("x", X)

    def _embed_y(self, y):
        return self._embed("y", y)

    def _predict_views(self, X):
        if self.readout_coef_ is not None:
            return self._embed_x(X) @ self.readout_coef_ + self.readout_intercept_
        _, models = _import_torch()
        self.model_.eval()
        device = next(self.model_.parameters()).device

        def decode(x):
            return self.model_.decoder_y(self.model_.embed_x(x))

        y_std = models.embed_rows(
            decode, _standardize(X, self.x_mean_, self.x_scale_), device
        )
        return y_std * self.y_scale_ + self.y_mean_

    # ------------------------------------------------------------- pickling ---
    def _move_to(self, torch, device):
        """Put the model and its optimiser state on ``device`` (e.g. after loading)."""
        if torch.device(self.device_) == device:
            return
        self.model_.to(device)
        for state in self._optimizer.state.values():
            for key, value in state.items():
                # Adam keeps its step count on the CPU unless it is fused.
                if torch.is_tensor(value) and key != "step":
                    state[key] = value.to(device)
        self.device_ = str(device)

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("model_") is None:
            return state
        _, models = _import_torch()
        # Weights and optimiser state travel as CPU tensors, so that a model
        # trained on a GPU loads on a machine without one.
        state = dict(state)
        state["model_"] = models.state_to_cpu(self.model_.state_dict())
        state["_optimizer"] = models.state_to_cpu(self._optimizer.state_dict())
        return state

    def __setstate__(self, state):
        model_state = state.get("model_")
        if not isinstance(model_state, dict):
            super().__setstate__(state)
            return
        torch, models = _import_torch()
        optimizer_state = state["_optimizer"]
        super().__setstate__(state)
        device = torch.device(self.device_)
        if device.type == "cuda" and not torch.cuda.is_available():
            warnings.warn(
                f"This ContrastiveAligner was trained on {self.device_!r}, but CUDA "
                "is not available here: its weights are loaded on the CPU.",
                UserWarning,
                stacklevel=2,
            )
            device = torch.device("cpu")
        self.model_ = models.TwoViewEncoder(**self._model_spec)
        self.model_.load_state_dict(model_state)
        self.model_.to(device)
        self._optimizer = torch.optim.AdamW(
            models.parameter_groups(self.model_, self.weight_decay),
            lr=self.learning_rate,
        )
        self._optimizer.load_state_dict(optimizer_state)
        self.device_ = str(device)
