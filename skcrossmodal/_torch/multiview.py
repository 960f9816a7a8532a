"""Torch side of ``MultiViewContrastiveAligner``: K encoders, their loss, the loop.

The K-view model trains in the two-view aligner's loop
(:class:`~skcrossmodal._torch.loop.TrainingLoop`): :class:`MultiViewLoop`
overrides only what K views change, the tensors of a batch (the views side
by side and which rows have which view), the step's loss
(:func:`multiview_batch_loss` on the global batch) and the validation score
(:func:`multiview_validation_mrr`).

This module imports torch at import time; ``skcrossmodal/__init__.py`` never
imports it.
"""

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import modules
from .loop import TrainingLoop, TrainingStep
from .losses import sigmoid_pairwise_loss


class MultiViewEncoder(modules.SharedSpaceModel):
    """One MLP per view into a shared, L2-normalised space.

    The input of the model is the views' columns side by side (``widths``
    columns each, in order); ``embed(view, a)`` maps the columns of one view.
    Holds the learnable logit scale (and, for SigLIP, the logit bias). With
    ``linear_path`` each view also has a linear map next to its MLP, which
    then learns the residual (``init="mcca"``, see ``init_from_linear_``).
    """

    def __init__(
        self,
        widths,
        n_components,
        hidden_layer_sizes,
        *,
        activation,
        dropout,
        normalization,
        loss="infonce",
        linear_path=False,
    ):
        super().__init__()
        self.encoders = nn.ModuleList(
            modules.build_mlp(
                width,
                hidden_layer_sizes,
                n_components,
                activation=activation,
                dropout=dropout,
                normalization=normalization,
            )
            for width in widths
        )
        self._add_logit_parameters(loss)
        # Built after the MLPs, so that a model without them draws the same
        # initial weights from the generator.
        self.linears = (
            nn.ModuleList(nn.Linear(width, n_components) for width in widths)
            if linear_path
            else None
        )
        self.n_components = n_components
        self.bounds = tuple(itertools.accumulate(widths, initial=0))

    def columns(self, x, view):
        """The columns of ``view`` in the side-by-side input ``x``."""
        return x[:, self.bounds[view] : self.bounds[view + 1]]

    def embed(self, view, a):
        """Unit embeddings of rows ``a`` of ``view`` (its columns only)."""
        out = self.encoders[view](a)
        if self.linears is not None:
            out = out + self.linears[view](a)
        return F.normalize(out, dim=1)

    @torch.no_grad()
    def init_from_linear_(self, rotations, means):
        """Start at the linear scores ``(a_k - means[k]) @ rotations[k]`` of each view.

        The MLPs' last layers start at zero, so that before any training step
        each view's embedding is exactly its normalised linear score
        (:func:`~skcrossmodal._torch.modules.start_at_linear_scores_`).
        """
        for linear, encoder, rotation, mean in zip(
            self.linears, self.encoders, rotations, means, strict=True
        ):
            modules.start_at_linear_scores_(linear, encoder, rotation, mean)

    def embed_views(self, x, present, min_rows=1):
        """Each view's embeddings of the rows of ``x``, zeros where absent.

        A view's encoder sees only the rows that have the view, and none
        when fewer than ``min_rows`` have it (a view in fewer than two rows
        of a batch enters no pair, and batch normalisation cannot normalise
        one row). Returns a list of ``(n_rows, n_components)`` tensors.
        """
        embeddings = []
        for view in range(len(self.encoders)):
            rows = present[:, view]
            columns = self.columns(x, view)
            count = int(rows.sum())
            if count == x.shape[0]:
                embeddings.append(self.embed(view, columns))
                continue
            if count < max(min_rows, 1):
                embeddings.append(x.new_zeros((x.shape[0], self.n_components)))
                continue
            encoded = self.embed(view, columns[rows])
            out = encoded.new_zeros((x.shape[0], self.n_components))
            embeddings.append(out.index_put((rows,), encoded))
        return embeddings


def build_model(spec, device, generator=None):
    """A new ``MultiViewEncoder`` on ``device``, initialised from ``generator`` only.

    As :func:`skcrossmodal._torch.modules.build_model`: built on the meta
    device, then initialised from the generator (left uninitialised without
    one, for a state dict to be loaded into).
    """
    with torch.device("meta"):
        model = MultiViewEncoder(**spec.module_kwargs())
    model = model.to_empty(device=device)
    if generator is not None:
        modules.initialize_(model, generator)
    return model


def view_pairs(n_views, pairs, anchor=0):
    """The pairs of views of the loss: every pair, or each view with the anchor."""
    if pairs == "all":
        return tuple(itertools.combinations(range(n_views), 2))
    return tuple((anchor, view) for view in range(n_views) if view != anchor)


def multiview_batch_loss(
    embeddings,
    present,
    pairs,
    logit_scale,
    logit_bias=None,
    weight=None,
    *,
    loss="infonce",
    targets=None,
):
    """The loss of a (global) batch of K views: the mean of its pairs' losses.

    For each pair ``(a, b)`` of ``pairs``, the rows that have both views
    (``present[:, a] & present[:, b]``) give one symmetric loss of their
    embeddings, weighted by ``weight`` restricted to them: InfoNCE
    (:func:`skcrossmodal._torch.modules.symmetric_info_nce`, the weighted
    mean over those rows of the per-pair loss) or SigLIP
    (:func:`skcrossmodal._torch.losses.sigmoid_pairwise_loss`). The batch
    loss is the mean over the pairs that have at least 2 such rows (0, with
    zero gradients, if none has). The embeddings of a row that lacks a view
    enter no term.

    Parameters
    ----------
    embeddings : list of Tensor of shape (n, d)
        Unit embeddings of every view (any values where a row lacks it).
    present : bool Tensor of shape (n, n_views)
        Which rows have which view.
    pairs : sequence of (int, int)
        The pairs of views.
    logit_scale, logit_bias : Tensor of shape ()
        The learnable log scale and (SigLIP) bias.
    weight : Tensor of shape (n,) or None, default=None
        Per-row weights; None means 1.
    loss : {"infonce", "siglip"}, default="infonce"
    targets : Tensor or None, default=None
        ``arange`` of at least ``n`` (InfoNCE), made once per fit.

    Returns
    -------
    loss : Tensor of shape ()
    """
    terms = []
    for a, b in pairs:
        rows = present[:, a] & present[:, b]
        if int(rows.sum()) < 2:
            continue
        z_a, z_b = embeddings[a][rows], embeddings[b][rows]
        row_weight = None if weight is None else weight[rows]
        if loss == "siglip":
            terms.append(
                sigmoid_pairwise_loss(z_a, z_b, logit_scale, logit_bias, row_weight)
            )
        else:
            terms.append(
                modules.symmetric_info_nce(z_a, z_b, logit_scale, row_weight, targets)
            )
    if not terms:
        return 0.0 * logit_scale
    return torch.stack(terms).mean()


class MultiViewStep(TrainingStep):
    """The training step of K views: their embeddings, gathered, and the loss.

    Every rank's embeddings, presence masks and weights are gathered, so the
    loss is that of the global batch; each view's encoder sees only this
    rank's rows that have the view. Never compiled (the plan says
    ``compile=False``): selecting rows by presence makes the shapes dynamic.
    """

    def __init__(self, model, optimizer, comm, plan):
        super().__init__(model, optimizer, comm, plan)
        self.view_pairs = plan.view_pairs

    def _loss(self, x, present, sample_weight):
        comm = self.comm
        with self.precision(x):
            # Alone, a view in one row of the batch enters no pair; across
            # ranks that row may meet others, so it is encoded.
            min_rows = 2 if comm.world_size == 1 else 1
            embeddings = self.model.embed_views(x, present, min_rows)
            gathered = [comm.gather_with_grad(z) for z in embeddings]
            present_all = comm.gather(present.to(torch.uint8)).bool()
            weight_all = None if sample_weight is None else comm.gather(sample_weight)
            loss = multiview_batch_loss(
                gathered,
                present_all,
                self.view_pairs,
                self.model.logit_scale,
                self.model.logit_bias,
                weight_all,
                loss=self.loss_name,
                targets=self.targets,
            )
        # This rank's share of the epoch's loss sum: the global-batch loss
        # per local row.
        return loss, loss.detach() * x.shape[0]


@torch.no_grad()
def embed_all(model, x):
    """Every view's embeddings of every row of ``x`` (eval mode), as a list."""
    model.eval()
    return [
        modules.embed_rows(
            lambda a, view=view: model.embed(view, a), model.columns(x, view)
        )
        for view in range(len(model.encoders))
    ]


@torch.no_grad()
def multiview_validation_mrr(model, x, present, weight, comm):
    """Mean over view pairs of the two-way validation MRR, on the device.

    For each pair of views, the validation rows of every rank that have both
    are ranked as :func:`skcrossmodal._torch.modules.validation_mrr` ranks a
    two-view pair; pairs with fewer than 2 such rows, or no positive weight,
    are left out. NaN if every pair is.
    """
    embeddings = embed_all(model, x)
    values = []
    for a, b in itertools.combinations(range(len(embeddings)), 2):
        rows = present[:, a] & present[:, b]
        if int(comm.all_reduce_sum(rows.sum())) < 2:
            continue
        sums = modules.two_way_rank_sums(
            embeddings[a][rows], embeddings[b][rows], weight[rows], comm
        )
        if float(sums[2]) > 0:
            values.append(float(0.5 * (sums[0] + sums[1]) / sums[2]))
    return sum(values) / len(values) if values else math.nan


class MultiViewLoop(TrainingLoop):
    """The two-view loop with K views' batches, step and validation score."""

    step_class = MultiViewStep

    def batch(self, rows):
        """The side-by-side views, presence and weights of the rows ``rows``."""
        data = self.data
        weight = None if data.train_weight is None else data.train_weight[rows]
        return data.x[rows], data.present[rows], weight

    def validation_score(self):
        """Mean over view pairs of the validation MRR, both directions (a float)."""
        data = self.data
        return multiview_validation_mrr(
            self.model, data.val_x, data.val_present, data.val_weight, self.comm
        )
