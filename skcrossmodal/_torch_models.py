"""Torch side of :class:`ContrastiveAligner`: encoders, loss, one training epoch.

This module imports torch at import time; only ``_contrastive`` imports it, and
only inside methods, so that ``import skcrossmodal`` never imports torch.
Everything here works on tensors that already live on the training device.
"""

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}

#: CLIP's initial temperature, and the largest logit scale (1 / temperature).
INIT_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = 100.0
_MAX_LOG_SCALE = math.log(MAX_LOGIT_SCALE)

# Rows per forward pass when embedding whole arrays (inference only).
INFERENCE_ROWS = 65536


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
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class TwoViewEncoder(nn.Module):
    """One MLP encoder per view into a shared, L2-normalised space.

    Holds the learnable logit scale of the InfoNCE loss and, when asked, a
    decoder from the shared space back to (standardised) y for the
    cross-reconstruction term.
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
    ):
        super().__init__()
        layer_options = {
            "activation": activation,
            "dropout": dropout,
            "normalization": normalization,
        }
        self.encoder_x = build_mlp(
            n_features_x, hidden_layer_sizes, n_components, **layer_options
        )
        self.encoder_y = build_mlp(
            n_features_y, hidden_layer_sizes, n_components, **layer_options
        )
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / INIT_TEMPERATURE)))
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

    def embed_x(self, x):
        return F.normalize(self.encoder_x(x), dim=1)

    def embed_y(self, y):
        return F.normalize(self.encoder_y(y), dim=1)

    def forward(self, x, y):
        return self.embed_x(x), self.embed_y(y)

    def clamp_logit_scale_(self):
        """Keep the logit scale at most ``MAX_LOGIT_SCALE`` (CLIP's clamp)."""
        with torch.no_grad():
            self.logit_scale.clamp_(max=_MAX_LOG_SCALE)


def parameter_groups(model, weight_decay):
    """AdamW groups: decay only the weight matrices.

    Biases, normalisation gains and the logit scale are not decayed: shrinking
    them has no regularising meaning (decaying the logit scale would just push
    the temperature up).
    """
    decayed, kept = [], []
    for name, parameter in model.named_parameters():
        is_matrix = parameter.ndim >= 2 and name != "logit_scale"
        (decayed if is_matrix else kept).append(parameter)
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": kept, "weight_decay": 0.0},
    ]


def _at_least_float32(tensor):
    # Under bf16 autocast the softmax and the squared error are taken in float32.
    if tensor.dtype in (torch.float16, torch.bfloat16):
        return tensor.float()
    return tensor


def symmetric_info_nce(z_x, z_y, logit_scale, weight=None):
    """Symmetric InfoNCE (CLIP) loss of a batch of L2-normalised pairs.

    Row i of ``z_x`` must find row i of ``z_y`` among the batch and vice versa.
    The per-pair loss (mean of both directions) is multiplied by ``weight``,
    whose mean over the whole training set is 1, and averaged over the batch.
    """
    scale = logit_scale.clamp(max=_MAX_LOG_SCALE).exp()
    logits = _at_least_float32(scale * (z_x @ z_y.T))
    targets = torch.arange(logits.shape[0], device=logits.device)
    if weight is None:  # the fused mean reduction is cheaper
        return 0.5 * (
            F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)
        )
    per_pair = 0.5 * (
        F.cross_entropy(logits, targets, reduction="none")
        + F.cross_entropy(logits.T, targets, reduction="none")
    )
    return (per_pair * weight).mean()


def weighted_mse(prediction, target, weight=None):
    """Mean squared error per pair (averaged over features), weighted like the loss."""
    per_pair = (_at_least_float32(prediction) - target).square().mean(dim=1)
    if weight is None:
        return per_pair.mean()
    return (per_pair * weight).mean()


def n_batches(n_samples, batch_size):
    """Number of near-equal batches with at most ``batch_size`` and at least 2 rows.

    InfoNCE needs negatives: a batch of one pair has zero loss, so the rows are
    split evenly rather than leaving a small remainder batch.
    """
    return max(1, min(-(-n_samples // batch_size), n_samples // 2))


def train_one_epoch(
    model,
    optimizer,
    x,
    y,
    weight,
    *,
    batch_size,
    generator,
    reconstruction_weight,
    use_bf16,
):
    """One pass over the shuffled pairs; returns the mean training loss.

    ``x``, ``y`` and ``weight`` already live on the training device: only a
    permutation is drawn there per epoch, and the loss is read back once.
    """
    n_samples = x.shape[0]
    permutation = torch.randperm(n_samples, generator=generator, device=x.device)
    autocast = use_bf16 and x.device.type == "cuda"
    total = torch.zeros((), device=x.device)
    model.train()
    for rows in torch.tensor_split(permutation, n_batches(n_samples, batch_size)):
        x_batch, y_batch = x[rows], y[rows]
        w_batch = None if weight is None else weight[rows]
        with (
            torch.autocast(x.device.type, dtype=torch.bfloat16)
            if autocast
            else contextlib.nullcontext()
        ):
            z_x, z_y = model(x_batch, y_batch)
            loss = symmetric_info_nce(z_x, z_y, model.logit_scale, w_batch)
            if reconstruction_weight > 0:
                loss = loss + reconstruction_weight * weighted_mse(
                    model.decoder_y(z_x), y_batch, w_batch
                )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.clamp_logit_scale_()
        total += loss.detach() * rows.shape[0]
    return float(total) / n_samples


@torch.no_grad()
def embed_rows(embed, array, device):
    """Apply ``embed`` to a float32 numpy array in chunks; float64 numpy out."""
    outputs = []
    for start in range(0, array.shape[0], INFERENCE_ROWS):
        chunk = torch.from_numpy(array[start : start + INFERENCE_ROWS]).to(device)
        outputs.append(embed(chunk).float().cpu())
    return torch.cat(outputs).numpy().astype("float64")


def state_to_cpu(state):
    """Copy a (nested) state dict with every tensor moved to the CPU."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {key: state_to_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(state_to_cpu(value) for value in state)
    return state
