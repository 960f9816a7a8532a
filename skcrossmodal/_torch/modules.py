"""Torch side of :class:`ContrastiveAligner`: encoders, loss, statistics.

This module imports torch at import time; only ``_contrastive`` imports it, and
only inside methods, so that ``import skcrossmodal`` never imports torch.
Everything here works on tensors that already live on the training device:
the data cross the bus once, as float32, and every statistic, the validation
score and the ridge read-out are computed where the data are.

Every reduction over rows goes through a communicator (``LocalCommunicator``
in one process), so that the same loop runs data-parallel when each process
holds a shard of the rows.
"""

import math
import threading

import torch
import torch.nn.functional as F
from torch import nn

from .losses import SIGLIP_INIT_BIAS, SIGLIP_INIT_LOG_SCALE
from .ranks import reciprocal_rank_sums

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}

#: CLIP's initial temperature, and the largest logit scale (1 / temperature).
INIT_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = 100.0
_MAX_LOG_SCALE = math.log(MAX_LOGIT_SCALE)

# Rows per chunk when standardising or embedding whole arrays: bounds the
# float64 temporaries.
CHUNK_ROWS = 65536
# Learning rate of the linear paths (init="cca", "mcca"), relative to the MLPs'.
LINEAR_PATH_LR_SCALE = 0.1
# Parameter names of the linear paths: the two-view model's and the K-view's.
LINEAR_PATH_PREFIXES = ("linear_x.", "linear_y.", "linears.")
# torch.compile backend of the opt-in compiled step (tests may swap it).
COMPILE_BACKEND = "inductor"
# Custom encoders are constructed from torch's global random state, seeded and
# restored around the construction; the lock keeps concurrent fits from
# drawing from each other's seeds.
_CONSTRUCTION_LOCK = threading.Lock()


class LocalCommunicator:
    """The single-process communicator: every collective is the identity.

    The training loop calls these methods where a data-parallel run must
    combine the ranks' shards, so that one loop serves both.
    """

    rank = 0
    world_size = 1
    is_main = True

    def all_reduce_sum(self, tensor):
        return tensor

    def all_reduce_max(self, tensor):
        return tensor

    def gather(self, tensor):
        return tensor

    def gather_with_grad(self, tensor):
        return tensor

    def sum_gradients(self, parameters, replicated=()):
        pass

    def any_true(self, flag):
        return bool(flag)

    def broadcast_module(self, module):
        pass


# ------------------------------------------------------------------ model ---
class GeneratorDropout(nn.Module):
    """Dropout that draws its masks from a given ``torch.Generator``.

    ``nn.Dropout`` draws from the global random state, which threads share: a
    private generator makes concurrent fits reproducible.
    """

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.generator = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)
        return x * mask / keep


def build_mlp(n_in, hidden_layer_sizes, n_out, *, activation, dropout, normalization):
    """Linear → [norm] → activation → [dropout] per hidden layer, then Linear."""
    layers = []
    width = n_in
    for size in hidden_layer_sizes:
        layers.append(nn.Linear(width, size))
        if normalization == "layer":
            layers.append(nn.LayerNorm(size))
        elif normalization == "batch":
            layers.append(nn.BatchNorm1d(size))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(GeneratorDropout(dropout))
        width = size
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class SharedSpaceModel(nn.Module):
    """What every contrastive model here has besides its encoders.

    The learnable logit scale of the loss (and SigLIP's logit bias), its
    clamp, and the switch of its dropout layers to the fit's generator.
    """

    def _add_logit_parameters(self, loss):
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / INIT_TEMPERATURE)))
        # SigLIP's learnable bias of every pair's logit (InfoNCE has none).
        self.logit_bias = (
            nn.Parameter(torch.tensor(SIGLIP_INIT_BIAS)) if loss == "siglip" else None
        )

    def clamp_logit_scale_(self):
        """Keep the logit scale at most ``MAX_LOGIT_SCALE`` (CLIP's clamp)."""
        with torch.no_grad():
            self.logit_scale.clamp_(max=_MAX_LOG_SCALE)

    def set_generator(self, generator):
        """Make every dropout layer draw from ``generator``."""
        for module in self.modules():
            if isinstance(module, GeneratorDropout):
                module.generator = generator


class TwoViewEncoder(SharedSpaceModel):
    """One encoder per view into a shared, L2-normalised space.

    Holds the learnable logit scale of the InfoNCE loss and, when asked, a
    decoder from the shared space back to (standardised) y for the
    cross-reconstruction term. A view's encoder is an MLP unless
    ``x_encoder``/``y_encoder`` is an ``EncoderSpec``: that encoder is left
    out here (``None``) and attached by ``build_model``, since it must not be
    constructed on the meta device.
    """

    def __init__(
        self,
        n_features_x,
        n_features_y,
        n_components,
        hidden_layer_sizes,
        *,
        activation,
        dropout,
        normalization,
        decoder,
        linear_path=False,
        loss="infonce",
        x_encoder=None,
        y_encoder=None,
        linear_share=None,
    ):
        super().__init__()
        layer_options = {
            "activation": activation,
            "dropout": dropout,
            "normalization": normalization,
        }
        self.encoder_x = (
            build_mlp(n_features_x, hidden_layer_sizes, n_components, **layer_options)
            if x_encoder is None
            else None
        )
        self.encoder_y = (
            build_mlp(n_features_y, hidden_layer_sizes, n_components, **layer_options)
            if y_encoder is None
            else None
        )
        self._add_logit_parameters(loss)
        # The decoder mirrors the encoders (widest layer next to y).
        self.decoder_y = (
            build_mlp(
                n_components,
                tuple(reversed(hidden_layer_sizes)),
                n_features_y,
                **layer_options,
            )
            if decoder
            else None
        )
        # init="cca": a linear map per view next to the MLP, which then
        # learns only the residual (see ``init_from_linear_``).
        self.linear_x = nn.Linear(n_features_x, n_components) if linear_path else None
        self.linear_y = nn.Linear(n_features_y, n_components) if linear_path else None
        # init="auto" may keep a blend: the linear and the MLP embeddings, each
        # of unit length, side by side, weighted so that the cosine of two
        # points is ``share * linear cosine + (1 - share) * MLP cosine``.
        self.linear_share = linear_share

    def _embed(self, encoder, linear, a):
        out = encoder(a)
        if linear is None:
            return F.normalize(out, dim=1)
        if self.linear_share is None:  # init="cca": the MLP is a residual
            return F.normalize(out + linear(a), dim=1)
        share = self.linear_share
        return torch.cat(
            [
                math.sqrt(share) * F.normalize(linear(a), dim=1),
                math.sqrt(1.0 - share) * F.normalize(out, dim=1),
            ],
            dim=1,
        )

    def embed_x(self, x):
        return self._embed(self.encoder_x, self.linear_x, x)

    def embed_y(self, y):
        return self._embed(self.encoder_y, self.linear_y, y)

    @torch.no_grad()
    def init_from_linear_(
        self, x_rotations, y_rotations, x_mean, y_mean, *, zero_residual=True
    ):
        """Start at the linear scores ``(x - x_mean) @ x_rotations`` (and y's).

        See :func:`start_at_linear_scores_`; ``zero_residual=False`` leaves
        the MLPs as they are (the linear half of a blend).
        """
        for linear, rotations, mean, encoder in (
            (self.linear_x, x_rotations, x_mean, self.encoder_x),
            (self.linear_y, y_rotations, y_mean, self.encoder_y),
        ):
            start_at_linear_scores_(
                linear, encoder, rotations, mean, zero_residual=zero_residual
            )

    def forward(self, x, y):
        return self.embed_x(x), self.embed_y(y)


@torch.no_grad()
def start_at_linear_scores_(linear, encoder, rotations, mean, *, zero_residual=True):
    """Make ``linear`` compute the scores ``(a - mean) @ rotations``, MLP at zero.

    The rotations fill the first columns of the linear path (the rest are
    zero) and, with ``zero_residual``, the MLP ``encoder``'s last layer
    starts at zero, so that before any training step the view's embedding
    ``normalize(encoder(a) + linear(a))`` is exactly its normalised linear
    score; the hidden layers keep their random start, so the residual gets
    gradients from the first step on. Used by the two-view (``init="cca"``)
    and the K-view (``init="mcca"``) encoders.
    """
    linear.weight.zero_()
    linear.weight[: rotations.shape[1]].copy_(rotations.T)
    linear.bias.zero_()
    linear.bias[: rotations.shape[1]].copy_(-(mean @ rotations))
    if zero_residual:
        encoder[-1].weight.zero_()
        encoder[-1].bias.zero_()


def build_encoder(encoder_spec, device, seed):
    """One view's custom encoder on ``device``, its construction seeded by ``seed``.

    Its constructor is the user's: it initialises its layers from torch's
    global random state. That state is seeded with ``seed`` (drawn from the
    fit's generator, so ``random_state`` fixes the weights) and restored
    afterwards, so the caller's global state is left as it was.
    """
    with _CONSTRUCTION_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            module = encoder_spec.build()
        except TypeError as error:
            raise TypeError(
                f"Building the encoder {encoder_spec.describe()} failed: {error}. "
                "Check its x_encoder__/y_encoder__ parameters."
            ) from error
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"The encoder {encoder_spec.describe()} built a "
            f"{type(module).__name__}, not a torch.nn.Module."
        )
    return module.to(device)


def _attach_custom_encoders(model, spec, device, generator):
    for view in ("x", "y"):
        encoder_spec = spec.encoder(view)
        if encoder_spec is None:
            continue
        seed = 0
        if generator is not None:
            seed = int(
                torch.randint(2**62, (), generator=generator, device=generator.device)
            )
        setattr(model, f"encoder_{view}", build_encoder(encoder_spec, device, seed))


def build_model(spec, device, generator=None):
    """A new ``TwoViewEncoder`` on ``device``, initialised from ``generator`` only.

    The aligner's own modules are built on the meta device (so their
    constructors draw nothing from the global random state) and then
    initialised as torch would, but from the given generator. Without a
    generator the weights are left uninitialised, for a state dict to be
    loaded into. Custom encoders are then attached (``build_encoder``), seeded
    from the same generator.
    """
    with torch.device("meta"):
        model = TwoViewEncoder(**spec.module_kwargs())
    model = model.to_empty(device=device)
    if generator is not None:
        initialize_(model, generator)
    _attach_custom_encoders(model, spec, device, generator)
    return model


def initialize_(model, generator):
    """Initialise a model built on the meta device as torch would, from ``generator``.

    Linear layers get torch's default (Kaiming-uniform weights, uniform
    biases) drawn from ``generator`` in the order of ``model.modules()``,
    normalisation layers their reset, and the logit scale (and SigLIP's
    bias) their starts.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                # torch's own default for Linear layers, with our generator.
                nn.init.kaiming_uniform_(
                    module.weight, a=math.sqrt(5), generator=generator
                )
                bound = 1 / math.sqrt(module.in_features)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
            elif isinstance(module, nn.LayerNorm | nn.BatchNorm1d):
                module.reset_parameters()
        model.logit_scale.fill_(math.log(1 / INIT_TEMPERATURE))
        if model.logit_bias is not None:
            model.logit_scale.fill_(SIGLIP_INIT_LOG_SCALE)
            model.logit_bias.fill_(SIGLIP_INIT_BIAS)


def parameter_groups(model, weight_decay):
    """AdamW groups: decay only the weight matrices.

    Biases, normalisation gains and the logit scale are not decayed: shrinking
    them has no regularising meaning (decaying the logit scale would just push
    the temperature up).
    """
    decayed, kept, linear = [], [], []
    for name, parameter in model.named_parameters():
        is_matrix = parameter.ndim >= 2 and name != "logit_scale"
        if name.startswith(LINEAR_PATH_PREFIXES):
            linear.append(parameter)
        else:
            (decayed if is_matrix else kept).append(parameter)
    groups = [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": kept, "weight_decay": 0.0},
    ]
    if linear:
        # The linear paths start at the CCA solution: decay would pull them
        # towards zero, away from it, and a smaller step keeps the start.
        groups.append(
            {"params": linear, "weight_decay": 0.0, "lr_scale": LINEAR_PATH_LR_SCALE}
        )
    return groups


def make_optimizer(model, learning_rate, weight_decay):
    """AdamW with the fused kernel where the device has one, else foreach."""
    groups = parameter_groups(model, weight_decay)
    for group in groups:
        group["lr"] = learning_rate * group.get("lr_scale", 1.0)
    try:
        return torch.optim.AdamW(groups, lr=learning_rate, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(groups, lr=learning_rate, foreach=True)


# ------------------------------------------------------------------- loss ---
def _at_least_float32(tensor):
    # Under bf16 autocast the softmax and the squared error are taken in float32.
    if tensor.dtype in (torch.float16, torch.bfloat16):
        return tensor.float()
    return tensor


def symmetric_info_nce(z_x, z_y, logit_scale, weight=None, targets=None):
    """Symmetric InfoNCE (CLIP) loss of a batch of L2-normalised pairs.

    Row i of ``z_x`` must find row i of ``z_y`` among the batch and vice versa.
    The per-pair loss (mean of both directions) is multiplied by ``weight``,
    whose mean over the whole training set is 1, and averaged over the batch.
    ``targets``, when given, is ``arange`` of at least the batch's length
    (made once per fit rather than once per step).
    """
    scale = logit_scale.clamp(max=_MAX_LOG_SCALE).exp()
    logits = _at_least_float32(scale * (z_x @ z_y.T))
    n_rows = logits.shape[0]
    if targets is None:
        targets = torch.arange(n_rows, device=logits.device)
    else:
        targets = targets[:n_rows]
    if weight is None:  # the fused mean reduction is cheaper
        return 0.5 * (
            F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)
        )
    per_pair = 0.5 * (
        F.cross_entropy(logits, targets, reduction="none")
        + F.cross_entropy(logits.T, targets, reduction="none")
    )
    return (per_pair * weight).mean()


def weighted_squared_error_sum(prediction, target, weight=None):
    """Sum over pairs of the (weighted) per-pair mean squared error.

    The caller divides by the global batch size: over several ranks each
    holds a part of the sum, and an empty part is 0 rather than a NaN mean.
    """
    per_pair = (_at_least_float32(prediction) - target).square().mean(dim=1)
    if weight is None:
        return per_pair.sum()
    return (per_pair * weight).sum()


def n_batches(n_samples, batch_size):
    """Number of near-equal batches with at most ``batch_size`` and at least 2 rows.

    InfoNCE needs negatives: a batch of one pair has zero loss, so the rows are
    split evenly rather than leaving a small remainder batch.
    """
    return max(1, min(-(-n_samples // batch_size), n_samples // 2))


# ------------------------------------------------- data on the device ---
def to_device(array, device, dtype=None):
    """A numpy array as a tensor on ``device`` (shares memory on the CPU)."""
    tensor = torch.from_numpy(array)
    return tensor.to(device=device, dtype=dtype or tensor.dtype)


def weighted_mean_scale(a, weight, comm):
    """Weighted per-column mean and standard deviation, in float64.

    ``a`` is float32 on the device, ``weight`` float64 (or None for uniform).
    Chunked, so that no float64 copy of ``a`` is made; constant columns get
    scale 1.
    """
    n_local = torch.tensor(float(a.shape[0]), dtype=torch.float64, device=a.device)
    total = comm.all_reduce_sum(n_local if weight is None else weight.sum())
    sums = torch.zeros(a.shape[1], dtype=torch.float64, device=a.device)
    for start in range(0, a.shape[0], CHUNK_ROWS):
        chunk = a[start : start + CHUNK_ROWS].double()
        if weight is None:
            sums += chunk.sum(dim=0)
        else:
            sums += weight[start : start + CHUNK_ROWS] @ chunk
    mean = comm.all_reduce_sum(sums) / total
    squares = torch.zeros_like(sums)
    for start in range(0, a.shape[0], CHUNK_ROWS):
        deviation = (a[start : start + CHUNK_ROWS].double() - mean).square_()
        if weight is None:
            squares += deviation.sum(dim=0)
        else:
            squares += weight[start : start + CHUNK_ROWS] @ deviation
    scale = (comm.all_reduce_sum(squares) / total).sqrt_()
    # Constant columns (spread at rounding level of their mean) get scale 1;
    # relative to the mean only, so that tiny units are not taken for constants.
    tiny = 10 * torch.finfo(torch.float64).eps * mean.abs()
    scale = torch.where(scale <= tiny, torch.ones_like(scale), scale)
    return mean, scale


def standardize_(a, mean, scale):
    """``(a - mean) / scale`` in place on float32 ``a``, computed in float64."""
    for start in range(0, a.shape[0], CHUNK_ROWS):
        chunk = a[start : start + CHUNK_ROWS]
        chunk.copy_((chunk.double() - mean) / scale)
    return a


# --------------------------------------------------------------- inference ---
@torch.no_grad()
def embed_rows(function, a):
    """Apply ``function`` to float32 rows of ``a`` in chunks (eval mode)."""
    outputs = [
        function(a[start : start + CHUNK_ROWS]).float()
        for start in range(0, a.shape[0], CHUNK_ROWS)
    ]
    if not outputs:
        return a.new_empty((0, 0))
    return torch.cat(outputs)


@torch.no_grad()
def weighted_ridge(z, target, weight, alpha, comm):
    """Weighted ridge from ``z`` to ``target`` with an intercept, in float64.

    The weights are divided by their maximum and ``alpha`` with them, which
    leaves the solution unchanged and keeps the sums finite for any weight scale.
    Returns ``(coef, intercept)`` with ``target ≈ z @ coef + intercept``.
    """
    z = z.double()
    target = target.double()
    if weight is None:
        weight = torch.ones(z.shape[0], dtype=torch.float64, device=z.device)
    peak = comm.all_reduce_max(weight.max())
    weight = weight / peak
    total = comm.all_reduce_sum(weight.sum())
    z_mean = comm.all_reduce_sum(weight @ z) / total
    t_mean = comm.all_reduce_sum(weight @ target) / total
    z_centered = z - z_mean
    weighted = z_centered * weight[:, None]
    gram = comm.all_reduce_sum(weighted.T @ z_centered)
    gram.diagonal().add_(alpha / peak)
    cross = comm.all_reduce_sum(weighted.T @ (target - t_mean))
    coef = (
        torch.linalg.solve(gram, cross)
        if alpha > 0
        else torch.linalg.pinv(gram) @ cross
    )
    return coef, t_mean - z_mean @ coef


# -------------------------------------------------------------- validation ---
@torch.no_grad()
def validation_mrr(model, x, y, weight, comm):
    """Mean reciprocal rank of validation partners, both directions, on the device."""
    model.eval()
    z_x = embed_rows(model.embed_x, x)
    z_y = embed_rows(model.embed_y, y)
    sums = two_way_rank_sums(z_x, z_y, weight, comm)
    return 0.5 * (sums[0] + sums[1]) / sums[2]


@torch.no_grad()
def two_way_rank_sums(z_x, z_y, weight, comm):
    """Weighted sums of 1 / partner's rank, x to y and y to x, and of the weights.

    Each rank's rows query the rows of every rank (gathered in rank order);
    returns the float64 tensor ``[x_to_y, y_to_x, weight_sum]`` summed over
    the ranks.
    """
    counts = comm.gather(torch.tensor([z_x.shape[0]], device=z_x.device))
    offset = int(counts[: comm.rank].sum())
    gallery_x, gallery_y = comm.gather(z_x), comm.gather(z_y)
    x_to_y, norm = reciprocal_rank_sums(z_x, gallery_y, offset, weight)
    y_to_x, _ = reciprocal_rank_sums(z_y, gallery_x, offset, weight)
    return comm.all_reduce_sum(torch.stack([x_to_y, y_to_x, norm]))


def state_to_cpu(state):
    """Copy a (nested) state dict with every tensor moved to the CPU."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {key: state_to_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(state_to_cpu(value) for value in state)
    return state
