"""The SigLIP pairwise sigmoid loss, as a pure function of tensors.

This module imports torch at import time; ``skcrossmodal/__init__.py`` never
imports it.
"""

import math

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

#: SigLIP's initialisation: logit scale exp(log 10) = 10 and logit bias -10,
#: so that the first steps are not swamped by the n^2 - n negatives.
SIGLIP_INIT_LOG_SCALE = math.log(10.0)
SIGLIP_INIT_BIAS = -10.0


def _weighted_block_loss(z_x_rows, z_y, scale, logit_bias, row_weight, weight, first):
    # Sum over the block's rows i and all columns j of
    # (w_i + w_j) / 2 * softplus(-label_ij * logit_ij), where label is +1 on
    # the diagonal (i == j in the whole batch) and -1 elsewhere.
    logits = scale * (z_x_rows @ z_y.T) + logit_bias
    logits = (
        logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    )
    signs = -torch.ones_like(logits)
    diagonal = torch.arange(z_x_rows.shape[0], device=logits.device)
    signs[diagonal, diagonal + first] = 1.0
    pair_weight = 0.5 * (row_weight[:, None] + weight[None, :])
    return (pair_weight * F.softplus(-signs * logits)).sum()


def sigmoid_pairwise_loss(
    z_x, z_y, logit_scale, logit_bias, weight=None, *, chunk_size=None
):
    """SigLIP's pairwise sigmoid loss of a batch of (L2-normalised) pairs.

    Every pair (i, j) of the batch is an independent binary problem: is
    ``z_x[i]`` the partner of ``z_y[j]``? With logits
    :math:`s_{ij} = e^{t} \\langle z^x_i, z^y_j \\rangle + b` and labels
    :math:`\\ell_{ij} = +1` if :math:`i = j`, else :math:`-1`, the loss is

    .. math::

        L = \\frac{1}{n} \\sum_{i=1}^{n} \\sum_{j=1}^{n}
            \\frac{w_i + w_j}{2} \\log\\left(1 + e^{-\\ell_{ij} s_{ij}}\\right).

    With unit weights it is SigLIP's loss (sum over all :math:`n^2` pairs,
    divided by the batch size). With weights it equals the batch mean of
    :math:`w_i` times the pair's own loss, averaged over its row (pair i
    against every y) and its column (every x against pair i) -- the same
    per-pair weighting as the symmetric InfoNCE loss of ``modules``.
    No softmax couples the rows, so the global batch of several ranks only
    needs their embeddings (``comm.gather_with_grad``), exactly like InfoNCE.

    Parameters
    ----------
    z_x, z_y : Tensor of shape (n, d)
        Embeddings of both views; row i of each is pair i.
    logit_scale : Tensor of shape ()
        The log of the logit scale, :math:`t` (learnable; SigLIP starts it at
        ``SIGLIP_INIT_LOG_SCALE`` = log 10).
    logit_bias : Tensor of shape ()
        The bias :math:`b` (learnable; SigLIP starts it at
        ``SIGLIP_INIT_BIAS`` = -10).
    weight : Tensor of shape (n,) or None, default=None
        Per-pair weights; None means 1 for every pair.
    chunk_size : int or None, default=None
        When given, the :math:`n \\times n` logits are formed ``chunk_size``
        rows at a time and recomputed during the backward pass (activation
        checkpointing), so memory grows as ``chunk_size * n`` rather than
        :math:`n^2`. The value is the same to rounding.

    Returns
    -------
    loss : Tensor of shape ()

    Examples
    --------
    >>> import torch
    >>> from skcrossmodal._torch.losses import sigmoid_pairwise_loss
    >>> z = torch.nn.functional.normalize(torch.randn(6, 3), dim=1)
    >>> t, b = torch.tensor(2.0), torch.tensor(-1.0)
    >>> whole = sigmoid_pairwise_loss(z, z, t, b)
    >>> chunked = sigmoid_pairwise_loss(z, z, t, b, chunk_size=4)
    >>> bool(torch.allclose(whole, chunked))
    True
    """
    n_pairs = z_x.shape[0]
    if z_y.shape[0] != n_pairs:
        raise ValueError(
            f"z_x and z_y must hold the same pairs; got {n_pairs} and "
            f"{z_y.shape[0]} rows."
        )
    scale = logit_scale.exp()
    if weight is None:
        dtype = torch.promote_types(z_x.dtype, torch.float32)
        weight = torch.ones(n_pairs, dtype=dtype, device=z_x.device)
    if chunk_size is None or chunk_size >= n_pairs:
        total = _weighted_block_loss(z_x, z_y, scale, logit_bias, weight, weight, 0)
        return total / n_pairs
    total = 0.0
    for first in range(0, n_pairs, chunk_size):
        rows = slice(first, first + chunk_size)
        total = total + checkpoint(
            _weighted_block_loss,
            z_x[rows],
            z_y,
            scale,
            logit_bias,
            weight[rows],
            weight,
            first,
            use_reentrant=False,
        )
    return total / n_pairs
