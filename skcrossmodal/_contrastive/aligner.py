"""Contrastive (symmetric InfoNCE, CLIP-style) alignment of two views with torch.

The scikit-learn side only: torch is imported inside the methods that train or
run the networks (``_torch_models`` holds the torch code), so that importing
the package, constructing, cloning and ``get_params`` work without torch.

The host does little more than cast the views to float32: standardisation,
the validation split and score, the ridge read-out and every embedding are
computed by torch on the training device.
"""

import dataclasses
import math
import numbers

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from .._compat import HasMethods, Interval, StrOptions, _fit_context
from ..base import CrossModalEstimator, restored_on_error
from . import encoder_spec
from .plan import ModelSpec, TrainingData, TrainingPlan
from .training import (
    AUTO_EARLY_STOPPING_PAIRS,
    AUTO_VALIDATION_SIZE_CPU,  # noqa: F401  (read by tests)
    CONTRASTIVE_PARAMETER_CONSTRAINTS,
    SEED_MAX,
    ContrastiveTrainingMixin,
    import_torch,
    resolve_device,
)

#: Level of the one-sided paired z-test by which trained weights must beat
#: the CCA solution on the validation pairs to replace it (``init="auto"`` or
#: ``"cca"``).
LINEAR_TEST_LEVEL = 0.05
#: Fewest (effective) validation pairs on which that test is trusted; with
#: fewer, the CCA solution is kept.
LINEAR_TEST_MIN_PAIRS = 30
#: Shares of the CCA cosine in the blended similarity among which
#: ``init="auto"`` chooses on the validation pairs (0: the trained encoders
#: alone, 1: CCA alone).
LINEAR_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Folds over which ``init="auto"`` chooses the share; from
#: ``CROSS_VALIDATION_FEWER_FOLDS_PAIRS`` pairs, fewer (each fold is a fit).
CROSS_VALIDATION_FOLDS = 5
CROSS_VALIDATION_FEWER_FOLDS = 3
CROSS_VALIDATION_FEWER_FOLDS_PAIRS = 2000
_HOST_CHUNK_ROWS = 65536


def _significant_gain(gain, weight):
    """One-sided paired z-test, at ``LINEAR_TEST_LEVEL``, that ``gain`` > 0.

    ``gain`` and ``weight`` are per-pair torch tensors; the mean is weighted
    and its standard error uses Kish's effective number of pairs, so that
    weights share the pairs rather than add to them. The z-test rests on the
    normal approximation of a mean, which is not trusted below
    ``LINEAR_TEST_MIN_PAIRS`` effective pairs: there the answer is no.
    """
    gain, weight = gain.double(), weight.double()
    weight = weight / weight.sum()
    effective_pairs = 1.0 / float((weight**2).sum())
    mean = float((weight * gain).sum())
    if effective_pairs < LINEAR_TEST_MIN_PAIRS or not mean > 0:
        return False
    variance = float((weight * (gain - mean) ** 2).sum())
    threshold = stats.norm.isf(LINEAR_TEST_LEVEL)
    return mean > threshold * math.sqrt(variance / effective_pairs)


def _validation_reciprocal_ranks(model, data, comm):
    """Per validation pair, the mean over both directions of 1 / partner's rank.

    Each validation query is ranked against the other view of every
    validation pair of every rank, like the validation score of the epochs
    (cosine, ties count half, as
    :func:`~skcrossmodal.metrics.mean_reciprocal_rank`), by the device's rank
    kernel (:func:`skcrossmodal._torch.ranks.partner_ranks`).
    """
    torch, models = import_torch()
    from .._torch.ranks import partner_ranks

    model.eval()
    with torch.no_grad():
        z_x = comm.gather(models.embed_rows(model.embed_x, data.val_x))
        z_y = comm.gather(models.embed_rows(model.embed_y, data.val_y))
        x_to_y = 1.0 / partner_ranks(z_x, z_y)
        y_to_x = 1.0 / partner_ranks(z_y, z_x)
    return 0.5 * (x_to_y + y_to_x)


def _blended_mrr(linear, trained, share, weight):
    """Validation MRR (both directions) of a blend of linear and trained cosines.

    The blend is ``share`` times the linear cosine plus ``1 - share`` times
    the trained one.

    ``linear`` and ``trained`` are the (x, y) unit embeddings of the validation
    pairs; side by side, scaled by the square roots of the shares, their
    inner product is the blended cosine.
    """
    torch, models = import_torch()
    z_x, z_y = (
        torch.cat(
            [math.sqrt(share) * a.double(), math.sqrt(1.0 - share) * b.double()], dim=1
        )
        for a, b in zip(linear, trained, strict=True)
    )
    x_to_y, norm = models.reciprocal_rank_sums(z_x, z_y, 0, weight)
    y_to_x, _ = models.reciprocal_rank_sums(z_y, z_x, 0, weight)
    return float(0.5 * (x_to_y + y_to_x) / norm)


def _per_channel(values, channels, reduce):
    """``values`` reduced over each of ``channels`` equal column blocks, repeated."""
    blocks = np.asarray(values).reshape(channels, -1)
    return np.repeat(reduce(blocks, axis=1), blocks.shape[1])


def _shift_and_unit(A, channels=None):
    """Per-column shift and power-of-two unit: ``(A - shift) * unit`` fits float32.

    float32 input is sent as it is (shift 0, unit 1). float64 input may hold
    values float32 cannot represent (beyond ~3e38 or below ~1e-38) or a large
    offset that float32's 24 bits would swallow; removing a typical value and
    rescaling by a power of two (exact) before the cast keeps every column's
    spread. The device then standardises in float64, so nothing depends on units.
    With ``channels`` (an encoder that standardises each channel as a whole),
    the columns of a channel share one shift and one unit.
    """
    n_features = A.shape[1]
    # Integer views hold token ids, sent as int64 and never standardised.
    if A.dtype == np.float32 or A.shape[0] == 0 or A.dtype.kind in "iu":
        return np.zeros(n_features), np.ones(n_features)
    sample = A[:: max(1, A.shape[0] // 1024)]
    shift = sample.mean(axis=0)
    if channels is not None:
        shift = _per_channel(shift, channels, np.mean)
    with np.errstate(over="ignore", invalid="ignore"):
        span = np.maximum(A.max(axis=0) - shift, shift - A.min(axis=0))
    if channels is not None:
        span = _per_channel(span, channels, np.max)
    usable = np.isfinite(span) & (span > 0)
    exponent = np.zeros(n_features)
    exponent[usable] = np.floor(np.log2(span[usable]))
    exponent[~np.isfinite(span)] = 1023
    return shift, np.ldexp(1.0, -exponent.astype(int))


def _host_chunk(A, start, stop, shift, unit):
    """Rows ``start:stop`` of ``A`` as float32, shifted and rescaled."""
    chunk = A[start:stop]
    if A.dtype == np.float32:
        return np.ascontiguousarray(chunk)
    shifted = (chunk - shift) * unit
    return shifted.astype(np.float32)


def _input_channels(encoder, n_columns):
    """The encoder's ``input_channels`` (None if it has none), checked."""
    channels = getattr(encoder, "input_channels", None)
    if channels is not None and (
        not isinstance(channels, numbers.Integral)
        or channels < 1
        or n_columns % channels
    ):
        raise ValueError(
            f"The encoder's input_channels={channels!r} must be a positive "
            f"integer that divides the view's {n_columns} columns."
        )
    return channels


def _moments(a, weight, comm, encoder):
    """Weighted mean and scale of each column of a device view, in float64.

    Integer ids get 0 and 1 (never standardised). An encoder with an
    ``input_channels`` attribute reads its columns as that many equal blocks,
    one per channel (an image's pixels, a window's samples): each channel is
    standardised as a whole, with the mean and deviation of all its values,
    so that no pixel or time step is rescaled apart from its neighbours.
    """
    torch, models = import_torch()
    if not a.is_floating_point():
        zeros = torch.zeros(a.shape[1], dtype=torch.float64, device=a.device)
        return zeros, torch.ones_like(zeros)
    channels = _input_channels(encoder, a.shape[1])
    if channels is None:
        return models.weighted_mean_scale(a, weight, comm)
    length = a.shape[1] // channels
    n_local = torch.tensor(float(a.shape[0]), dtype=torch.float64, device=a.device)
    total = comm.all_reduce_sum(n_local if weight is None else weight.sum()) * length
    chunk_rows = models.CHUNK_ROWS

    def channel_sums(transform):
        sums = torch.zeros(channels, dtype=torch.float64, device=a.device)
        for start in range(0, a.shape[0], chunk_rows):
            chunk = a[start : start + chunk_rows].double().reshape(-1, channels, length)
            per_row = transform(chunk).sum(dim=2)
            if weight is None:
                sums += per_row.sum(dim=0)
            else:
                sums += weight[start : start + chunk_rows] @ per_row
        return comm.all_reduce_sum(sums)

    mean = channel_sums(lambda chunk: chunk) / total
    variance = channel_sums(lambda chunk: (chunk - mean[:, None]).square_()) / total
    scale = variance.sqrt_()
    # Constant channels get scale 1, as constant columns do.
    tiny = 10 * torch.finfo(torch.float64).eps * mean.abs()
    scale = torch.where(scale <= tiny, torch.ones_like(scale), scale)
    return mean.repeat_interleave(length), scale.repeat_interleave(length)


def _standardize(a, standardization, device):
    """Standardise a float device view in place; integer ids are left as they are."""
    if a.is_floating_point():
        _, models = import_torch()
        models.standardize_(a, *_on_device(standardization[2:], device))


def _on_host(values):
    """Tensors among ``values`` as float64 numpy arrays."""
    return tuple(
        np.asarray(v.cpu().numpy() if hasattr(v, "cpu") else v, dtype=np.float64)
        for v in values
    )


def _on_device(values, device):
    """numpy arrays among ``values`` as float64 tensors on ``device``."""
    torch, _ = import_torch()
    return tuple(
        torch.as_tensor(np.asarray(v) if not torch.is_tensor(v) else v).to(
            device=device, dtype=torch.float64
        )
        for v in values
    )


class ContrastiveAligner(ContrastiveTrainingMixin, CrossModalEstimator):
    """Two encoders trained contrastively into one shared space (CLIP-style).

    Each view has its own encoder, by default a multilayer perceptron (or a
    CNN for images or time series, an embedding bag for token ids, or any
    ``torch.nn.Module``: see ``x_encoder``); both end in ``n_components``
    outputs that are L2-normalised, so the shared space is the unit sphere and
    partners are compared by cosine similarity. Training minimises the
    symmetric InfoNCE loss of CLIP: within each mini-batch, row i of X must pick
    out row i of y among all rows of y, and vice versa, with a learnable
    temperature. Unlike the linear estimators of this library it can follow a
    nonlinear link between the modalities.

    Inputs are standardised internally (weighted means and standard deviations
    are stored), so raw features of any scale or unit can be passed. The whole
    fit runs on the training device: the views are sent there once as float32,
    and the standardisation, the validation split and score, and the ridge
    read-out are computed there.

    Parameters
    ----------
    n_components : int, default=32
        Dimension of the shared space (the encoders' output). Use at least 2:
        on the unit sphere one dimension is a sign (two points). Unlike the
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
    normalization : {"layer", "batch"} or None, default=None
        Normalisation layer after each hidden linear layer. None, as in the
        textbook CLIP towers: with layer normalisation the aligner retrieved
        worse on three of the four mid-size nonlinear and real sets of the
        benchmark in :doc:`/model_selection`.
    learning_rate : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-2
        AdamW (decoupled) weight decay of the weight matrices (AdamW's own
        default, and the textbook CLIP loop's); biases, normalisation gains
        and the temperature are not decayed.
    loss : {"infonce", "siglip"}, default="infonce"
        Contrastive loss of a batch. ``"infonce"``: CLIP's symmetric softmax
        cross-entropy with a learnable temperature. ``"siglip"``: SigLIP's
        pairwise sigmoid loss [2]_, one binary "partners or not" problem per
        pair of the batch, with a learnable logit scale (started at 10) and
        bias (started at -10); no softmax couples the rows.
    batch_size : int, default=256
        Pairs per mini-batch (the other pairs of a batch are the negatives), at
        least 2. The rows of an epoch are split into near-equal batches of at
        most this size, so no batch is left with a single pair.
    max_epochs : "auto" or int, default="auto"
        Most passes over the training pairs in ``fit``. ``"auto"``: 200, or
        more where an epoch has few batches, so that training takes at least
        1 000 optimiser steps (as the textbook CLIP loop does; on 350 pairs
        200 epochs are 400 steps, and stopped that short the aligner retrieved
        worse than that loop).
    early_stopping : "auto" or bool, default="auto"
        Hold out ``validation_fraction`` of the pairs (at most
        ``max_validation_size``), monitor their retrieval mean reciprocal rank
        every ``validation_interval`` epochs, stop when it has not improved by
        ``tol`` for ``n_iter_no_change`` epochs and keep the best weights.
        ``"auto"`` turns it on when there are at least 10 000 pairs (as
        scikit-learn's histogram gradient boosting does), so small data train
        on every pair. When off, training stops when the training loss has not
        improved by ``tol`` for ``n_iter_no_change`` epochs.
    validation_fraction : float, default=0.1
        Share of the pairs held out for early stopping, in ``(0, 1)``; the
        split must leave at least 2 pairs on each side.
    max_validation_size : "auto", int or None, default="auto"
        Most pairs held out for early stopping, at least 2 (None: no cap).
        Scoring ``m`` pairs compares each with all ``m`` (``2 m**2``
        similarities), so its cost grows quadratically with the cap while an
        epoch's grows linearly with the data. ``"auto"`` is 10 000 when
        training on a GPU (or another accelerator), where these products are
        cheap, and 2 000 on the CPU, where they are not. Every epoch is scored
        on the same held-out pairs, so with the default patience the smaller
        set keeps about the epoch the larger would; with a short
        ``n_iter_no_change`` it stops on an early plateau more often. Costs
        and kept epochs are measured in :doc:`/performance`.
    validation_interval : int, default=1
        Score the validation pairs every this many epochs (and after the last
        epoch); the patience still counts epochs.
    n_iter_no_change : int, default=20
        Patience, in epochs, of the stopping rule. With
        ``early_stopping="auto"`` below 10 000 pairs every epoch runs.
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
    compile : bool, default=False
        Run the training step's forward pass and loss through
        ``torch.compile`` (single process only). Compiling takes time up front
        and pays off on large data, mostly on GPUs. Where the backend cannot
        compile (e.g. no C compiler for the CPU backend), a warning is given
        and the eager step is used.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the validation split, the shuffling
        and dropout, through generators private to the fit: with an int,
        results on the CPU are identical from run to run, also when several
        fits run in threads. The global torch random state is left untouched.
    verbose : int, default=0
        Print, flushed at once, one line per epoch (epoch ``i/max_epochs``,
        training loss, validation MRR when scored, pairs per second, seconds
        and the estimated time left) and a last line saying why training
        stopped and which epoch's weights are kept.
    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights (and optimiser
        state) instead of starting afresh; the standardisation of the first
        fit is kept.
    init : {"auto", "random", "cca"}, default="auto"
        How ``fit`` starts, and whether the linear solution competes with the
        trained weights. ``"random"``: torch's default initialisation of the
        MLPs, nothing else. ``"auto"``: the same random start and training,
        but below 10 000 pairs regularised CCA of the training pairs
        (``CrossModalEmbedding(whiten=True, reg="auto")`` of the standardised
        views) is a candidate too (from 10 000 pairs it is ``"random"``):
        the fitted similarity is a blend, ``s`` times CCA's cosine plus
        ``1 - s`` times the trained one, with ``s`` in 0, 0.25, ..., 1 chosen
        by K-fold cross-validation (see Notes); ``s = 1`` is that CCA, of
        all pairs, ``s = 0`` the trained encoders alone. ``"cca"``: each
        encoder gets a linear path next to its MLP, set to that CCA, and the
        MLP's last layer starts at zero, so training starts from the CCA
        embedding and learns a nonlinear residual; the start competes with
        the trained weights by a paired z-test on the validation pairs (see
        Notes). With an encoder other than ``"mlp"`` on either view there
        is no CCA candidate: ``"auto"`` is ``"random"``, and ``"cca"`` is
        refused.
    x_encoder : str, torch.nn.Module subclass or instance, default="mlp"
        Encoder of X. ``"mlp"``: the MLP set by ``hidden_layer_sizes``,
        ``activation``, ``dropout`` and ``normalization``. A built-in name:
        ``"image_cnn"`` (:class:`~skcrossmodal.encoders.ImageEncoder`),
        ``"series_cnn"`` (:class:`~skcrossmodal.encoders.SeriesEncoder`) or
        ``"token_bag"`` (:class:`~skcrossmodal.encoders.TokenBagEncoder`). A
        class: constructed at each ``fit`` with the ``x_encoder__<name>``
        parameters, plus ``in_features`` (X's number of columns) and
        ``out_features`` (``n_components``) when its constructor accepts them.
        An instance: deep-copied at each ``fit`` (the copy is trained, never
        the object passed, and its current weights are the start, e.g.
        pretrained ones); it takes no ``x_encoder__`` parameters. See Notes for
        the contract an encoder must meet.
    y_encoder : str, torch.nn.Module subclass or instance, default="mlp"
        Encoder of y, as ``x_encoder``.
    n_jobs : int or None, default=None
        Threads torch may use for its operations (intra-op threads) during
        ``fit``, ``partial_fit``, ``transform`` and ``predict``; the
        process's setting is restored after each call, also when the call
        raises. ``None``: one thread for models whose batch step is small
        (below about 6.7e7 multiply-adds, weights times ``batch_size``; the
        default model on up to a few hundred features), where more threads
        cost more than they save and collapse when other processes compete
        for the cores, else every thread the process may use. ``-1``: every
        thread the process may use (inside a joblib worker, joblib's share of
        the cores), ``-2`` one fewer, and so on; a positive count is used as
        given.
    callbacks : list of Callback or None, default=None
        Extra :class:`~skcrossmodal.callbacks.Callback` objects whose hooks
        run at the start and end of training and after every epoch, after
        the built-in ones (divergence check, validation scoring, early
        stopping, best weights and, with ``verbose``, progress printing),
        which are always configured from the parameters above. A callback
        may record the epochs or stop training (``loop.stop``); it is used as
        given, not copied. See :mod:`skcrossmodal.callbacks`.
    **encoder_params : dict
        ``x_encoder__<name>=value`` and ``y_encoder__<name>=value``: keyword
        arguments of the encoder classes (``x_encoder__input_shape=(1, 8,
        8)``). They are parameters of the estimator, seen by ``get_params``,
        ``set_params``, ``clone`` and ``GridSearchCV`` (skorch's ``module__``
        routing).

    Attributes
    ----------
    n_components_ : int
        Dimension of the shared space: ``n_components``, or twice that when
        ``init="auto"`` kept a blend (the CCA and the trained embedding side
        by side).
    linear_share_ : float or None
        Share ``s`` of CCA's cosine in the blended similarity chosen by
        ``init="auto"`` (0: the trained encoders, 1: CCA); None where CCA was
        not a candidate.
    model_ : torch.nn.Module
        The trained encoders (``model_.encoder_x``, ``model_.encoder_y``), the
        logit scale and the optional decoder.
    loss_curve_ : list of float
        Mean training loss of every epoch, across ``fit``/``partial_fit``
        calls while warm starting.
    validation_scores_ : list of float or None
        Validation MRR after each epoch of the last ``fit`` (NaN for epochs
        that ``validation_interval`` skips); None without early stopping.
    n_iter_ : int
        Epochs run (accumulated over warm starts and ``partial_fit``).
    best_epoch_ : int
        Epoch (counted like ``n_iter_``) whose weights are kept: the best
        validation epoch with early stopping, else the last finished one;
        0 when ``init="auto"`` or ``"cca"`` kept the CCA solution.
    device_ : str
        Device the model lives on, resolved from ``device`` once per
        ``fit``/``partial_fit`` call.
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

    Inside an initialised ``torch.distributed`` process group of several
    ranks (``torchrun``, or :func:`skcrossmodal.distributed.fit`), ``fit`` and
    ``partial_fit`` train one model data-parallel: each rank passes its own
    rows (with the same columns and parameters), the standardisation,
    weights and validation score are reduced over every rank, the loss of
    each batch sees the embeddings of every rank (``batch_size`` is per
    rank) and every rank ends with the same weights. Each rank shuffles with
    its own stream (the seed plus its rank), holds out its own validation
    share, and only rank 0 prints. ``normalization="batch"`` is refused
    there. See the "Scaling out the aligner" page of the documentation.

    If training diverges (a non-finite loss or weight after an epoch), it
    stops with a :class:`~sklearn.exceptions.ConvergenceWarning` and keeps the
    weights and optimiser state of the best (early stopping) or last finite
    epoch; if no epoch of the call finished, ``FloatingPointError`` is raised.
    Any exception raised by ``fit`` or ``partial_fit`` leaves the estimator as
    it was before the call (unfitted after a failed first fit).

    float32 input gives float32 embeddings and predictions; float64 input
    gives float64 (the networks compute in float32 either way).

    With ``init="auto"`` (the default) and ``early_stopping="auto"``, below
    10 000 pairs the fitted similarity is a blend, ``s * cos_CCA + (1 - s) *
    cos_trained`` for ``s`` in 0, 0.25, 0.5, 0.75, 1, with ``s`` chosen by
    K-fold cross-validation (5 folds, 3 from 2 000 pairs): each fold trains
    the aligner (``init="random"``, no early stopping) and fits CCA on the
    other folds, and every share is scored by the MRR of the fold's pairs;
    the share of best mean MRR is kept (the larger on a tie), and the final
    model trains on every pair, with CCA of every pair beside it. A blend is
    an embedding, the two unit embeddings side by side scaled by ``sqrt(s)``
    and ``sqrt(1 - s)``, so retrieval and ``predict`` work on it as on any
    other. Unlike a yes-or-no test, the blend keeps the training gain where
    the folds see one and adds CCA's where the two are complementary. With
    ``early_stopping=True`` (or over the ranks of a process group) the share
    is chosen on the held-out validation pairs instead, after the epoch of
    best validation MRR (a tie goes to the later epoch); with fewer than 30
    (effective) validation pairs that choice would be noise, and CCA is kept.
    A one-component CCA (a one-column view) is no candidate: on the unit
    sphere it keeps only its sign. For ``init="cca"`` the kept epoch must
    beat CCA of the training pairs (the start, epoch 0, which
    also competes as an epoch): the gains in reciprocal rank of the
    validation pairs (mean of both directions, trained minus CCA) must have a
    weighted mean above 1.645 standard errors, a one-sided paired z-test at
    5 %, trusted only on 30 (effective) validation pairs or more. Otherwise
    the aligner keeps CCA (the MLP's output zeroed, linear paths holding the
    CCA map), refitted on every pair, so that on small data it is the linear
    estimator and not a noisier model: the kept epoch is the best of many
    judged on those same pairs, and would beat CCA by chance alone.
    ``"auto"`` trains exactly as ``"random"`` does (no linear paths unless
    CCA is part of what is kept); ``"cca"`` trains from the CCA embedding,
    its linear paths at a tenth of ``learning_rate`` without weight decay
    (decay would pull them away from the start). The CCA candidate is fitted
    from a float64 copy of the training rows on the host (over several ranks,
    gathered on each), so ``"auto"`` considers it only below 10 000 pairs,
    where it can win; above, training beat CCA on every set measured and the
    fit stays on the device. The benchmark behind these defaults, and how
    each start fares by data size and link, are in :doc:`/model_selection`.

    A model trained on a GPU pickles with its weights on the CPU and loads on a
    machine without CUDA (with a warning), where it runs on the CPU.

    **Encoder contract.** An encoder is a ``torch.nn.Module`` whose
    ``forward`` maps a tensor of ``n`` rows of the view, shape ``(n, d_view)``,
    to a float tensor of shape ``(n, n_components)`` (checked on two rows at
    ``fit``); the aligner L2-normalises it. Rows stay 2-D: an encoder of
    images or windows reshapes them itself. The rows it receives are float32
    and standardised per column (as the MLP's) or, when the module has an
    ``input_channels`` attribute (the built-in CNNs do), per channel, the
    columns being that many equal blocks; unless its class declares
    ``integer_input = True``: then the view must hold non-negative integers
    (floats are refused with a ValueError), which it receives as int64,
    unstandardised (token ids), and its ``transform`` output is float64; an
    encoder with a ``vocabulary_size`` attribute has larger ids refused. A
    class's constructor gets ``in_features`` and ``out_features`` keyword
    arguments when it accepts them (by name or ``**kwargs``), and is run
    with torch's global random state seeded from ``random_state`` (and
    restored afterwards), so a fixed ``random_state`` fixes its initial
    weights. Its parameters are trained by the same AdamW (weight decay on
    every parameter of two or more dimensions), under bf16 autocast on CUDA
    and through ``torch.compile`` with ``compile=True``; its
    ``torch.nn.Dropout`` layers draw from torch's global random state (the
    MLP's dropout draws from the fit's private generator). A fitted aligner
    with a custom encoder pickles when the encoder's class can be imported
    by its module path where the pickle is loaded; a class defined inside a
    function cannot, and pickling then raises a ``PicklingError`` saying so.

    References
    ----------
    .. [1] A. Radford et al., "Learning Transferable Visual Models From Natural
       Language Supervision", ICML 2021.
    .. [2] X. Zhai, B. Mustafa, A. Kolesnikov and L. Beyer, "Sigmoid Loss for
       Language Image Pre-Training", ICCV 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import ContrastiveAligner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))
    >>> y = np.tanh(X @ rng.normal(size=(6, 4)))
    >>> model = ContrastiveAligner(
    ...     n_components=4, hidden_layer_sizes=(32,), max_epochs=20,
    ...     device="cpu", random_state=0,
    ... ).fit(X, y)
    >>> model.transform(X).shape, model.predict(X).shape
    ((200, 4), (200, 4))
    >>> model.loss_curve_[-1] < model.loss_curve_[0]
    True
    >>> model.transform(X.astype(np.float32)).dtype
    dtype('float32')

    Any ``torch.nn.Module`` class can encode a view; its constructor
    arguments are ``x_encoder__`` parameters, which a search can tune:

    >>> from torch import nn
    >>> class Tower(nn.Module):
    ...     def __init__(self, in_features, out_features, width=16):
    ...         super().__init__()
    ...         self.net = nn.Sequential(
    ...             nn.Linear(in_features, width), nn.Tanh(),
    ...             nn.Linear(width, out_features))
    ...     def forward(self, x):
    ...         return self.net(x)
    >>> model = ContrastiveAligner(
    ...     n_components=4, x_encoder=Tower, x_encoder__width=8, max_epochs=5,
    ...     device="cpu", random_state=0,
    ... ).fit(X, y)
    >>> model.model_.encoder_x.net[0].out_features
    8
    >>> model.get_params()["x_encoder__width"]
    8
    """

    _shared_space_bounded_by_views = False
    # skcrossmodal.distributed.fit accepts it: fit trains across the ranks.
    _fits_across_ranks = True

    _parameter_constraints: dict = {
        **CONTRASTIVE_PARAMETER_CONSTRAINTS,
        "reconstruction_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "readout_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "compile": ["boolean"],
        "init": [StrOptions({"auto", "cca", "random"})],
        "x_encoder": [
            StrOptions(encoder_spec.ENCODER_NAMES),
            type,
            HasMethods(["forward", "parameters"]),
        ],
        "y_encoder": [
            StrOptions(encoder_spec.ENCODER_NAMES),
            type,
            HasMethods(["forward", "parameters"]),
        ],
    }

    def __init__(
        self,
        n_components=32,
        *,
        hidden_layer_sizes=(256,),
        activation="gelu",
        dropout=0.1,
        normalization=None,
        learning_rate=1e-3,
        weight_decay=1e-2,
        loss="infonce",
        batch_size=256,
        max_epochs="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        max_validation_size="auto",
        validation_interval=1,
        n_iter_no_change=20,
        tol=1e-4,
        reconstruction_weight=0.0,
        readout_alpha=1.0,
        device="auto",
        use_bf16=True,
        compile=False,
        random_state=None,
        verbose=0,
        warm_start=False,
        init="auto",
        x_encoder="mlp",
        y_encoder="mlp",
        n_jobs=None,
        callbacks=None,
        **encoder_params,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.normalization = normalization
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.loss = loss
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_validation_size = max_validation_size
        self.validation_interval = validation_interval
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.reconstruction_weight = reconstruction_weight
        self.readout_alpha = readout_alpha
        self.device = device
        self.use_bf16 = use_bf16
        self.compile = compile
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.init = init
        self.n_jobs = n_jobs
        self.callbacks = callbacks
        self.x_encoder = x_encoder
        self.y_encoder = y_encoder
        for key, value in encoder_params.items():
            # What Python says of any unknown keyword; only the encoders'
            # constructor arguments are routed.
            if not encoder_spec.is_routed(key):
                raise TypeError(
                    f"ContrastiveAligner got an unexpected keyword argument {key!r}; "
                    "besides its own parameters it takes only x_encoder__<name> "
                    "and y_encoder__<name> (arguments of the encoders)."
                )
            setattr(self, key, value)

    # ------------------------------------------------------------ parameters ---
    def get_params(self, deep=True):
        """Get the parameters, the encoders' ``x_encoder__<name>`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            As in :meth:`sklearn.base.BaseEstimator.get_params`.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(
            (key, value)
            for key, value in vars(self).items()
            if encoder_spec.is_routed(key)
        )
        return params

    def set_params(self, **params):
        """Set parameters; ``x_encoder__<name>`` ones go to the encoder's constructor.

        Parameters
        ----------
        **params : dict
            Estimator parameters, and ``x_encoder__<name>`` /
            ``y_encoder__<name>`` arguments of the encoders (used at the next
            ``fit``).

        Returns
        -------
        self : ContrastiveAligner
            This estimator.
        """
        routed = {
            key: params.pop(key) for key in list(params) if encoder_spec.is_routed(key)
        }
        super().set_params(**params)
        for key, value in routed.items():
            setattr(self, key, value)
        return self

    # ------------------------------------------------------------ training ---
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the two encoders on paired views.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view (modality). Row i is paired with row i of ``y``.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view; a 1-D ``y`` is one column. Required.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each pair's loss (see Notes of the class).
            Training is by mini-batches, so an integer weight equals repeating
            the pair only in expectation, not exactly.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with restored_on_error(self):
            X, y, sample_weight = self._validate_on_every_rank(
                X, y, sample_weight, reset=True
            )
            with self._threads_for_views((X.shape[1], y.shape[1])):
                self._fit_views(X, y, sample_weight)
        return self

    def _fit_views(self, X, y, sample_weight):
        device = resolve_device(self.device)  # once per call
        continuing = self.warm_start and hasattr(self, "model_")
        if not continuing and self._share_by_cross_validation(X, y):
            # The share is chosen on folds, and the model trains on every pair.
            share = self._cross_validated_share(X, y, sample_weight)
            self._train(
                X,
                y,
                sample_weight,
                device=device,
                initialize=True,
                max_epochs=None,
                early_stopping=False,
                linear_share=share,
            )
            return
        self._train(
            X,
            y,
            sample_weight,
            device=device,
            initialize=not continuing,
            max_epochs=None,
            early_stopping=self._early_stopping_for(X, y, device),
        )

    def _share_by_cross_validation(self, X, y):
        """Whether ``init="auto"`` chooses its blend by K-fold.

        With ``early_stopping="auto"``, wherever CCA is a candidate (below
        ``AUTO_EARLY_STOPPING_PAIRS`` pairs), in one process (a process group
        holds out validation pairs instead). The folds score every pair once,
        where one split of 10 % could not tell the blends apart on a few
        hundred pairs, and the final model trains on every pair: in the
        benchmark of :doc:`/model_selection` the held-out split and its choice
        of epoch cost more than they gained.
        """
        if self.init != "auto" or self.early_stopping != "auto":
            return False
        if self._communicator().world_size > 1 or X.shape[0] < 4:
            return False
        return self._cca_competes(X.shape[0], X.shape[1], y.shape[1])

    def _cross_validated_share(self, X, y, sample_weight):
        """The blend share of best mean validation MRR over K folds.

        Each fold trains the aligner (``init="random"``, no early stopping) and
        fits CCA on the other folds, in the fold's standardisation, and scores
        every share of ``LINEAR_SHARES`` on its pairs; the MRRs are averaged
        with the folds' weights, and a tie goes to the larger share.
        """
        from sklearn.base import clone
        from sklearn.model_selection import KFold

        from .._linear.embedding import CrossModalEmbedding

        torch, _ = import_torch()
        rng = check_random_state(self.random_state)
        weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        n_folds = (
            CROSS_VALIDATION_FOLDS
            if X.shape[0] < CROSS_VALIDATION_FEWER_FOLDS_PAIRS
            else CROSS_VALIDATION_FEWER_FOLDS
        )
        n_folds = min(n_folds, X.shape[0] // 2)
        folds = KFold(n_folds, shuffle=True, random_state=rng.randint(SEED_MAX))
        totals = np.zeros(len(LINEAR_SHARES))
        for train, test in folds.split(X):
            if not weight[test].sum() > 0 or not weight[train].sum() > 0:
                continue
            fold = clone(self).set_params(
                init="random",  # early_stopping="auto": every epoch, no hold-out
                verbose=0,
                warm_start=False,
                random_state=rng.randint(SEED_MAX),
            )
            fold_weight = None if sample_weight is None else weight[train]
            fold.fit(X[train], y[train], sample_weight=fold_weight)
            trained = [torch.from_numpy(z) for z in fold.transform(X[test], y[test])]
            x_std = (X - fold.x_mean_) / fold.x_scale_
            y_std = (y - fold.y_mean_) / fold.y_scale_
            k = min(self.n_components, X.shape[1], y.shape[1])
            cca = CrossModalEmbedding(k, whiten=True, reg="auto")
            cca.fit(x_std[train], y_std[train], sample_weight=fold_weight)
            linear = [
                torch.nn.functional.normalize(torch.from_numpy(z), dim=1)
                for z in cca.transform(x_std[test], y_std[test])
            ]
            fold_weight_test = torch.from_numpy(weight[test].astype(np.float64))
            totals += weight[test].sum() * np.array(
                [
                    _blended_mrr(linear, trained, share, fold_weight_test)
                    for share in LINEAR_SHARES
                ]
            )
        best = totals.max()
        return max(s for s, v in zip(LINEAR_SHARES, totals, strict=True) if v == best)

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
        with restored_on_error(self):
            X, y, sample_weight = self._validate_on_every_rank(
                X, y, sample_weight, reset=first_call
            )
            with self._threads_for_views((X.shape[1], y.shape[1])):
                self._partial_fit_views(X, y, sample_weight, first_call)
        return self

    def _partial_fit_views(self, X, y, sample_weight, first_call):
        self._train(
            X,
            y,
            sample_weight,
            device=resolve_device(self.device),
            initialize=first_call,
            max_epochs=1,
            early_stopping=False,
        )

    def _cca_competes(self, n_pairs, n_features_x, n_features_y):
        """Whether the CCA solution is a candidate for the fitted model.

        ``init="auto"`` asks for it only below ``AUTO_EARLY_STOPPING_PAIRS``
        pairs, where a trained model can lose to the linear one (measured in
        :doc:`/model_selection`); above, training won on every set measured,
        and the candidate would cost a float64 CCA fit of every training row
        on the host. Nor when CCA has a single component (a one-column view):
        on the unit sphere a one-dimensional score keeps only its sign.
        """
        if not self._mlp_on_both_views():
            return False  # the linear paths sit next to MLPs only
        if self.init == "auto":
            n_shared = min(self.n_components, n_features_x, n_features_y)
            return n_pairs < AUTO_EARLY_STOPPING_PAIRS and n_shared >= 2
        return self.init == "cca"

    def _mlp_on_both_views(self):
        return all(
            isinstance(value, str) and value == "mlp"
            for value in (self.x_encoder, self.y_encoder)
        )

    def _early_stopping_for(self, X, y, device):
        n_samples = X.shape[0]
        if self.early_stopping == "auto":
            n_samples = self._pairs_in_group(n_samples)
            if self._cca_competes(n_samples, X.shape[1], y.shape[1]):
                # The CCA solution must compete with the trained weights:
                # score it whenever the pairs allow a split of two and two.
                n_validation = self._n_validation(n_samples, device)
                return n_validation >= 2 and n_samples - n_validation >= 2
            return n_samples >= AUTO_EARLY_STOPPING_PAIRS
        return bool(self.early_stopping)

    def _validate_on_every_rank(self, X, y, sample_weight, *, reset):
        """``_validate_paired_views``, agreed on by every rank of a process group."""
        return self._validated_on_every_rank(
            lambda: self._validate_paired_views(X, y, sample_weight, reset=reset),
            lambda validated: (
                validated[0].shape[1],
                validated[1].shape[1],
                (validated[0].dtype, validated[1].dtype),
            ),
        )

    # ----------------------------------------------- views and encoders ---
    def _integer_view(self, view, *, reset):
        """Whether ``view``'s encoder reads integer ids (fitted unless ``reset``)."""
        if not reset and hasattr(self, "_model_spec"):
            spec = self._model_spec.encoder(view)
            return spec is not None and spec.integer_input
        return encoder_spec.takes_integer_input(getattr(self, f"{view}_encoder"))

    def _view_dtype(self, view, *, reset):
        if self._integer_view(view, reset=reset):
            return None  # kept, then checked by _token_ids
        return super()._view_dtype(view, reset=reset)

    def _token_ids(self, A, view, *, reset):
        """``A`` as int64 ids if ``view``'s encoder reads ids, else ``A`` itself."""
        if not self._integer_view(view, reset=reset):
            return A
        name = "X" if view == "x" else "y"
        encoder = getattr(self, f"{view}_encoder")
        if not isinstance(encoder, str):  # a class or a (multi-line) module
            encoder = encoder_spec.encoder_class(encoder).__qualname__
        if A.dtype.kind not in "iu":
            raise ValueError(
                f"{name} goes to {view}_encoder={encoder!r}, which reads integer "
                f"token ids, but {name} has dtype {A.dtype}. Pass integer ids, "
                "e.g. from skcrossmodal.encoders.token_id_rows."
            )
        if A.size and A.min() < 0:
            raise ValueError(
                f"{name} holds negative token ids (smallest {A.min()}); ids are "
                "non-negative (0 is the usual padding id)."
            )
        return A.astype(np.int64, copy=False)

    def _check_id_range(self, A, view, model):
        """Refuse ids at or above the encoder's ``vocabulary_size``, if declared."""
        limit = getattr(getattr(model, f"encoder_{view}"), "vocabulary_size", None)
        if limit is not None and A.dtype.kind in "iu" and A.size and A.max() >= limit:
            name = "X" if view == "x" else "y"
            raise ValueError(
                f"{name} holds token id {A.max()}, but the {view} encoder has "
                f"vocabulary_size={limit} (ids 0 to {limit - 1}). Raise "
                f"{view}_encoder__vocabulary_size or map rare tokens to a known id."
            )

    def _validate_paired_views(self, X, y, sample_weight, *, reset, min_samples=2):
        X, y, sample_weight = super()._validate_paired_views(
            X, y, sample_weight, reset=reset, min_samples=min_samples
        )
        X = self._token_ids(X, "x", reset=reset)
        return X, self._token_ids(y, "y", reset=reset), sample_weight

    def _check_x_view(self, X):
        return self._token_ids(super()._check_x_view(X), "x", reset=False)

    def _check_y_view(self, y):
        return self._token_ids(super()._check_y_view(y), "y", reset=False)

    def _encoder_specs(self, n_features_x, n_features_y):
        """The fitted recipes of both encoders (None for the MLP), checked."""
        specs = {
            f"{view}_encoder": encoder_spec.resolve_encoder(
                getattr(self, f"{view}_encoder"),
                encoder_spec.routed_params(self, view),
                view=view,
                in_features=n_features,
                out_features=self.n_components,
            )
            for view, n_features in (("x", n_features_x), ("y", n_features_y))
        }
        if self.init == "cca" and not self._mlp_on_both_views():
            raise ValueError(
                "init='cca' adds a linear path next to each view's MLP, so it needs "
                "x_encoder='mlp' and y_encoder='mlp'; with other encoders use "
                "init='random' (init='auto' is 'random' there)."
            )
        return specs

    def _check_encoder_outputs(self, model, spec, x, y):
        """A custom encoder must map ``(n, d)`` rows to ``(n, n_components)`` floats."""
        torch, _ = import_torch()
        model.eval()
        with torch.no_grad():
            for view, rows in (("x", x[:2]), ("y", y[:2])):
                recipe = spec.encoder(view)
                if recipe is None:
                    continue
                out = getattr(model, f"encoder_{view}")(rows)
                expected = (rows.shape[0], spec.n_components)
                if not (
                    torch.is_tensor(out)
                    and out.is_floating_point()
                    and tuple(out.shape) == expected
                ):
                    shape = tuple(out.shape) if torch.is_tensor(out) else type(out)
                    raise ValueError(
                        f"The {view} encoder, {recipe.describe()}, maps rows of shape "
                        f"{tuple(rows.shape)} to {shape}, but the aligner needs a "
                        f"float tensor of shape {expected}: (rows, n_components). "
                        "Give the class an out_features argument (the aligner "
                        "passes n_components) or make its output n_components wide."
                    )

    def _check_continuation(self, X, y):
        spec = self._model_spec
        for view in ("x", "y"):
            fitted = spec.encoder(view)
            fitted_class = None if fitted is None else fitted.cls
            wanted = getattr(self, f"{view}_encoder")
            if encoder_spec.encoder_class(wanted) is not fitted_class:
                raise ValueError(
                    f"warm_start=True, but {view}_encoder={wanted!r} is not the "
                    "encoder the model was trained with. Set warm_start=False to "
                    "start afresh."
                )
        if spec.loss != self.loss:
            raise ValueError(
                f"loss={self.loss!r}, but the model was trained with "
                f"loss={spec.loss!r}. Set warm_start=False to "
                "start afresh."
            )
        if (X.shape[1], y.shape[1]) != (spec.n_features_x, spec.n_features_y):
            raise ValueError(
                f"warm_start=True, but X and y have {X.shape[1]} and {y.shape[1]} "
                f"features while the model was built for {spec.n_features_x} "
                f"and {spec.n_features_y}. Set warm_start=False to start afresh."
            )

    def _send(self, A, standardization, device):
        """``A`` on the device as float32, shifted and rescaled (not standardised).

        Integer views (token ids) go as int64, unchanged.
        """
        torch, _ = import_torch()
        if A.dtype.kind in "iu":
            return torch.from_numpy(np.ascontiguousarray(A, dtype=np.int64)).to(device)
        shift, unit = standardization[:2]
        out = torch.empty(A.shape, dtype=torch.float32, device=device)
        for start in range(0, A.shape[0], _HOST_CHUNK_ROWS):
            stop = min(start + _HOST_CHUNK_ROWS, A.shape[0])
            chunk = _host_chunk(A, start, stop, shift, unit)
            out[start:stop].copy_(torch.from_numpy(chunk))
        return out

    def _train(
        self,
        X,
        y,
        sample_weight,
        *,
        device,
        initialize,
        max_epochs,
        early_stopping,
        linear_share=None,
    ):
        """One training call: the plan, the data, the loop, the choice, the commit."""
        torch, models = import_torch()
        comm = self._communicator()
        cca_competes = initialize and self._cca_competes(
            self._pairs_in_group(X.shape[0]) if self.init == "auto" else 0,
            X.shape[1],
            y.shape[1],
        )
        if initialize:
            self._random_state = check_random_state(self.random_state)
            spec = ModelSpec(
                n_features_x=X.shape[1],
                n_features_y=y.shape[1],
                n_components=self.n_components,
                hidden_layer_sizes=self._hidden_layer_sizes(),
                activation=self.activation,
                dropout=float(self.dropout),
                normalization=self.normalization,
                decoder=self.reconstruction_weight > 0,
                linear_path=self.init == "cca",
                loss=self.loss,
                **self._encoder_specs(X.shape[1], y.shape[1]),
            )
            init_generator = torch.Generator(device=device)
            init_generator.manual_seed(self._random_state.randint(SEED_MAX))
            model = models.build_model(spec, device, init_generator)
            comm.broadcast_module(model)
            optimizer = models.make_optimizer(
                model, self.learning_rate, self.weight_decay
            )
            standardizations = []
            for A, encoder in ((X, model.encoder_x), (y, model.encoder_y)):
                channels = _input_channels(encoder, A.shape[1])
                shift, unit = _shift_and_unit(A, channels)
                if comm.world_size > 1 and A.dtype.kind == "f":
                    from .._torch.communicator import common_shift_and_unit

                    shift, unit = common_shift_and_unit(comm, A, shift, unit)
                    if channels is not None:  # shifts stay equal per channel
                        unit = _per_channel(unit, channels, np.min)
                standardizations.append((shift, unit))
            x_standardization, y_standardization = standardizations
            # The one device of the call; every step reads it from here.
            self.device_ = str(device)
        else:
            self._check_continuation(X, y)
            self._move_to(device)
            model, optimizer, spec = self.model_, self._optimizer, self._model_spec
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate * group.get("lr_scale", 1.0)
            x_standardization = self._x_standardization
            y_standardization = self._y_standardization
        self._check_id_range(X, "x", model)
        self._check_id_range(y, "y", model)
        generator = torch.Generator(device=device)
        # Each rank shuffles (and drops out) with its own stream.
        generator.manual_seed(self._random_state.randint(SEED_MAX) + comm.rank)

        # The views cross the bus once, as float32.
        x = self._send(X, x_standardization, device)
        y_dev = self._send(y, y_standardization, device)
        if sample_weight is not None:
            sample_weight = models.to_device(
                np.asarray(sample_weight, dtype=np.float64), device
            )
        if initialize:
            x_mean, x_scale = _moments(x, sample_weight, comm, model.encoder_x)
            y_mean, y_scale = _moments(y_dev, sample_weight, comm, model.encoder_y)
            x_standardization = (*x_standardization, x_mean, x_scale)
            y_standardization = (*y_standardization, y_mean, y_scale)
        _standardize(x, x_standardization, device)
        _standardize(y_dev, y_standardization, device)
        if initialize:
            self._check_encoder_outputs(model, spec, x, y_dev)

        data = self._split(x, y_dev, sample_weight, generator, early_stopping, comm)
        if initialize and self.init == "cca":
            self._init_from_cca(model, data, comm)
        model.set_generator(generator)
        plan = self._plan(
            data,
            comm,
            device=device,
            initialize=initialize,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
        )
        loop = self._training_loop(
            model, optimizer, comm, plan, data, self._callbacks_for(plan)
        )
        try:
            result = loop.fit_loop()
        finally:
            model.set_generator(None)
        if cca_competes and early_stopping and result.losses:
            choose = (
                self._blend_linear_and_trained
                if self.init == "auto"
                else self._choose_linear_or_trained
            )
            optimizer = choose(model, optimizer, spec, data, comm, result)
        elif linear_share is not None and result.losses:
            optimizer = self._apply_share(
                linear_share, model, optimizer, spec, data, comm, result
            )
        model.eval()
        z = models.embed_rows(model.embed_x, x)
        self._check_trained(result, plan, bool(z.isfinite().all()), comm)
        readout = self._readout(z, y_dev, sample_weight, y_standardization, comm)
        self._commit(
            plan=plan,
            model=model,
            optimizer=optimizer,
            spec=spec,
            standardization=(x_standardization, y_standardization),
            result=result,
            readout=readout,
        )
        self._report_stop(result, plan, loop)

    def _plan(self, data, comm, *, device, initialize, max_epochs, early_stopping):
        """The frozen ``TrainingPlan`` of this call, from the parameters and data."""
        return TrainingPlan(
            **self._plan_settings(
                data.train_rows.shape[0],
                comm,
                device=device,
                initialize=initialize,
                max_epochs=max_epochs,
                early_stopping=early_stopping,
            ),
            score_initial=initialize and self.init == "cca",
            reconstruction_weight=self.reconstruction_weight,
            compile=self.compile,
        )

    def _training_loop(self, model, optimizer, comm, plan, data, callbacks):
        """The loop object whose steps train the model (a subclass may swap it)."""
        from .._torch.loop import TrainingLoop

        return TrainingLoop(model, optimizer, comm, plan, data, callbacks)

    def _split(self, x, y, sample_weight, generator, early_stopping, comm):
        """The ``TrainingData``: training rows and, for early stopping, validation.

        ``sample_weight`` (float64 on the device, or None when uniform) is
        normalised once, by ``_split_rows``.
        """
        train, held_out, train_weight, val_weight = self._split_rows(
            x.shape[0], sample_weight, generator, early_stopping, comm
        )
        validation = {}
        if held_out is not None:
            validation = {
                "val_x": x[held_out],
                "val_y": y[held_out],
                "val_weight": val_weight,
            }
        return TrainingData(
            x=x,
            y=y,
            sample_weight=sample_weight,
            generator=generator,
            train_rows=train,
            train_weight=train_weight,
            **validation,
        )

    def _choose_linear_or_trained(self, model, optimizer, spec, data, comm, result):
        """Keep the trained weights only if they beat CCA beyond validation noise.

        ``model`` holds the best validated epoch. Unless that is the CCA start
        itself (``init="cca"``, epoch 0), it is compared with the CCA solution
        of the training rows on the validation pairs: each pair's gain in
        reciprocal rank (mean of both directions) must have a weighted mean
        significantly above zero (``_significant_gain``). The best of many
        epochs, picked on a few pairs, beats CCA by chance alone; the test
        asks for more than chance. When CCA is kept, it is refitted on every
        pair (the validation pairs have done their job), ``best_epoch``
        becomes the first epoch of the call and, for ``init="auto"``, the
        model gains the linear paths that hold it (and a fresh optimiser, so
        that a warm start trains on from CCA as ``init="cca"`` would).
        Returns the optimiser to keep.
        """
        torch, models = import_torch()
        from .._torch import loop

        trained = loop.snapshot(model, optimizer)
        added = model.linear_x is None
        if added:  # init="auto": the random start trained without them
            device = torch.device(self.device_)
            model.linear_x = torch.nn.Linear(
                data.x.shape[1], spec.n_components, device=device
            )
            model.linear_y = torch.nn.Linear(
                data.y.shape[1], spec.n_components, device=device
            )
            with torch.no_grad():  # zero: the trained embedding is unchanged
                for linear in (model.linear_x, model.linear_y):
                    linear.weight.zero_()
                    linear.bias.zero_()
        if result.best_epoch != 0:
            trained_ranks = _validation_reciprocal_ranks(model, data, comm)
            self._init_from_cca(model, data, comm)
            linear_ranks = _validation_reciprocal_ranks(model, data, comm)
            val_weight = comm.gather(data.val_weight)
            if _significant_gain(trained_ranks - linear_ranks, val_weight):
                if added:
                    model.linear_x = model.linear_y = None
                loop.restore(model, optimizer, trained)
                return optimizer
        self._init_from_cca(model, data, comm, every_row=True)
        result.best_epoch = 0
        if added:
            optimizer = models.make_optimizer(
                model, self.learning_rate, self.weight_decay
            )
        return optimizer

    def _blend_linear_and_trained(self, model, optimizer, spec, data, comm, result):
        """Blend CCA's cosine with the trained one, as the validation pairs prefer.

        ``model`` holds the best validated epoch (``init="auto"``: random start,
        no linear paths). The similarity of a blend is ``share`` times the
        cosine of the CCA scores of the training rows plus ``1 - share`` times
        the trained cosine; each share of ``LINEAR_SHARES`` is scored by the
        validation MRR (both directions) and the best is kept, a tie going to
        the larger share (the simpler model). Share 0 keeps the trained
        weights, so the training gain is never thrown away where the
        validation pairs see it; share 1 keeps CCA. With fewer than
        ``LINEAR_TEST_MIN_PAIRS`` effective validation pairs the choice would
        be noise, and CCA is kept. Whatever share is kept, its CCA is refitted
        on every pair. Returns the optimiser to keep.
        """
        torch, models = import_torch()
        val_weight = comm.gather(data.val_weight).double()
        effective_pairs = float(val_weight.sum() ** 2 / (val_weight**2).sum())
        share = 1.0
        if effective_pairs >= LINEAR_TEST_MIN_PAIRS:
            model.eval()
            with torch.no_grad():
                trained = [
                    comm.gather(models.embed_rows(embed, getattr(data, key)))
                    for embed, key in (
                        (model.embed_x, "val_x"),
                        (model.embed_y, "val_y"),
                    )
                ]
            cca = self._fit_cca(data, comm)
            linear = [
                torch.nn.functional.normalize(scores, dim=1)
                for scores in self._cca_scores(cca, data, comm)
            ]
            scores = [
                _blended_mrr(linear, trained, candidate, val_weight)
                for candidate in LINEAR_SHARES
            ]
            best = max(scores)
            share = max(
                s for s, v in zip(LINEAR_SHARES, scores, strict=True) if v == best
            )
        return self._apply_share(share, model, optimizer, spec, data, comm, result)

    def _apply_share(self, share, model, optimizer, spec, data, comm, result):
        """Make ``model`` the blend of CCA of every pair and itself at ``share``."""
        torch, models = import_torch()
        result.linear_share = share
        if share == 0.0:
            return optimizer
        if share == 1.0:
            return self._keep_cca(model, spec, data, comm, result)
        device = torch.device(self.device_)
        model.linear_x, model.linear_y = (
            torch.nn.Linear(
                getattr(data, key).shape[1], spec.n_components, device=device
            )
            for key in ("x", "y")
        )
        model.linear_share = share
        self._init_from_cca(model, data, comm, every_row=True, zero_residual=False)
        return models.make_optimizer(model, self.learning_rate, self.weight_decay)

    def _keep_cca(self, model, spec, data, comm, result):
        """Make ``model`` the CCA of every pair (linear paths, MLP output zeroed)."""
        torch, models = import_torch()
        if model.linear_x is None:
            device = torch.device(self.device_)
            model.linear_x, model.linear_y = (
                torch.nn.Linear(
                    getattr(data, key).shape[1], spec.n_components, device=device
                )
                for key in ("x", "y")
            )
        self._init_from_cca(model, data, comm, every_row=True)
        result.best_epoch = 0
        return models.make_optimizer(model, self.learning_rate, self.weight_decay)

    def _fit_cca(self, data, comm, *, every_row=False):
        """Regularised CCA of the standardised training pairs (or of every pair)."""
        from .._linear.embedding import CrossModalEmbedding

        torch, _ = import_torch()
        rows = data.train_rows
        if every_row:
            rows = torch.arange(data.x.shape[0], device=torch.device(self.device_))
        x, y = comm.gather(data.x[rows]), comm.gather(data.y[rows])
        x, y = _on_host((x, y))
        sample_weight = None
        if data.sample_weight is not None:
            (sample_weight,) = _on_host((comm.gather(data.sample_weight[rows]),))
        n_components = min(self.n_components, x.shape[1], y.shape[1])
        cca = CrossModalEmbedding(n_components, whiten=True, reg="auto")
        return cca.fit(x, y, sample_weight=sample_weight)

    def _cca_scores(self, cca, data, comm):
        """CCA scores of every rank's validation pairs, on the device."""
        torch, _ = import_torch()
        device = torch.device(self.device_)
        rotations_x, rotations_y, mean_x, mean_y = _on_device(
            (cca.x_rotations_, cca.y_rotations_, cca.x_mean_, cca.y_mean_), device
        )
        return (
            (comm.gather(data.val_x).double() - mean_x) @ rotations_x,
            (comm.gather(data.val_y).double() - mean_y) @ rotations_y,
        )

    def _init_from_cca(self, model, data, comm, *, every_row=False, zero_residual=True):
        """Set the linear paths to regularised CCA of the standardised training pairs.

        ``CrossModalEmbedding(whiten=True, reg="auto")`` is fitted on the
        training rows (not the validation rows, which judge the start too), in
        float64 on the host; its rotations act on the standardised views the
        encoders see, so before training ``transform`` is the normalised CCA
        score. ``every_row`` fits it on the validation rows too: once the
        start has been kept, it is the CCA of all the pairs ``fit`` was given.
        """
        torch, _ = import_torch()
        cca = self._fit_cca(data, comm, every_row=every_row)
        model.init_from_linear_(
            *_on_device(
                (cca.x_rotations_, cca.y_rotations_, cca.x_mean_, cca.y_mean_),
                torch.device(self.device_),
            ),
            zero_residual=zero_residual,
        )
        comm.broadcast_module(model)

    def _readout(self, z, y, weight, y_standardization, comm):
        """Closed-form weighted ridge from X's shared-space coordinates to y."""
        if self.reconstruction_weight > 0:
            return None, None
        _, models = import_torch()
        # Solved for standardised y, then mapped to y's units: exact (ridge is
        # linear in y) and safe for any magnitude of y.
        coef, intercept = models.weighted_ridge(
            z, y, weight, float(self.readout_alpha), comm
        )
        shift, unit, mean, scale = _on_host(y_standardization)
        y_scale, y_mean = scale / unit, shift + mean / unit
        return coef.cpu().numpy() * y_scale, y_mean + intercept.cpu().numpy() * y_scale

    def _commit(
        self, *, plan, model, optimizer, spec, standardization, result, readout
    ):
        """Store the outcome of a finished call (nothing is stored before)."""
        if plan.initialize:
            # The linear paths the choice of start may have added or blended.
            spec = dataclasses.replace(
                spec,
                linear_path=model.linear_x is not None,
                linear_share=model.linear_share,
            )
            self.model_, self._optimizer, self._model_spec = model, optimizer, spec
            blended = spec.linear_share is not None
            self.n_components_ = spec.n_components * (2 if blended else 1)
            self.linear_share_ = None
            self.loss_curve_, self.n_iter_ = [], 0
            self._x_standardization = _on_host(standardization[0])
            self._y_standardization = _on_host(standardization[1])
            for view, (shift, unit, mean, scale) in (
                ("x", self._x_standardization),
                ("y", self._y_standardization),
            ):
                setattr(self, f"{view}_mean_", shift + mean / unit)
                setattr(self, f"{view}_scale_", scale / unit)
        self.device_ = str(plan.device)
        self.loss_curve_ = self.loss_curve_ + result.losses
        self.n_iter_ += len(result.losses)
        self.best_epoch_ = result.best_epoch
        if result.linear_share is not None:
            self.linear_share_ = result.linear_share
        self.validation_scores_ = result.scores if plan.early_stopping else None
        self.temperature_ = float(1.0 / model.logit_scale.detach().exp().cpu())
        self.readout_coef_, self.readout_intercept_ = readout

    def _report_stop(self, result, plan, loop, kept=None):
        """Warn on divergence; give the callbacks the closing message."""
        share = result.linear_share
        if share == 1.0:
            kept = (
                "the CCA solution (refitted on every pair) is kept: the "
                "validation pairs did not show the trained weights doing better"
            )
        elif share is not None and share > 0:
            kept = (
                f"a blend is kept: {share:g} x the cosine of CCA (refitted on "
                f"every pair) + {1 - share:g} x that of the weights of epoch "
                f"{result.best_epoch}"
            )
        super()._report_stop(result, plan, loop, kept)

    # ----------------------------------------------------------- inference ---
    def _apply_rows(self, A, view, function_of, out_columns):
        """Run ``function_of(device)`` on standardised rows of ``A`` in chunks."""
        torch, models = import_torch()
        standardization = (
            self._x_standardization if view == "x" else self._y_standardization
        )
        device = torch.device(self.device_)
        mean, scale = _on_device(standardization[2:], device)
        self._check_id_range(A, view, self.model_)
        self.model_.eval()
        function = function_of(device)
        # Token ids embed to float64, float rows to their own dtype.
        out_dtype = A.dtype if A.dtype.kind == "f" else np.float64
        out = np.empty((A.shape[0], out_columns), dtype=out_dtype)
        with (
            torch.no_grad(),
            self._threads_for_views((self.n_features_in_, self.n_features_y_in_)),
        ):
            for start in range(0, A.shape[0], _HOST_CHUNK_ROWS):
                stop = min(start + _HOST_CHUNK_ROWS, A.shape[0])
                chunk = self._send(A[start:stop], standardization, device)
                if chunk.is_floating_point():
                    models.standardize_(chunk, mean, scale)
                out[start:stop] = function(chunk).cpu().numpy()
        return out

    def _embed_x(self, X):
        return self._apply_rows(
            X,
            "x",
            lambda device: self.model_.embed_x,
            self.n_components_,
        )

    def _embed_y(self, y):
        return self._apply_rows(
            y,
            "y",
            lambda device: self.model_.embed_y,
            self.n_components_,
        )

    def _predict_views(self, X):
        model = self.model_

        def readout(device):
            _, models = import_torch()
            if self.readout_coef_ is not None:
                coef = models.to_device(self.readout_coef_, device)
                intercept = models.to_device(self.readout_intercept_, device)
                return lambda x: model.embed_x(x).double() @ coef + intercept
            y_mean = models.to_device(self.y_mean_, device)
            y_scale = models.to_device(self.y_scale_, device)
            return lambda x: (
                model.decoder_y(model.embed_x(x)).double() * y_scale + y_mean
            )

        return self._apply_rows(X, "x", readout, self.n_features_y_in_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ------------------------------------------------------------- pickling ---
    def _check_picklable(self):
        for view in ("x", "y"):
            name = f"{view}_encoder"
            encoder_spec.check_picklable(getattr(self, name, None), name)
            if hasattr(self, "_model_spec"):
                encoder_spec.check_picklable(getattr(self._model_spec, name), name)

    def _rebuild_model(self, device):
        _, models = import_torch()
        self._model_spec = ModelSpec.from_stored(self._model_spec)
        return models.build_model(self._model_spec, device)

    def __setstate__(self, state):
        # Pickles from before encoders were parameters: both views used MLPs.
        super().__setstate__({"x_encoder": "mlp", "y_encoder": "mlp", **state})
