"""Ranks of true partners on the training device: the one torch rank kernel.

The aligner's validation (the score of each epoch, and the paired test of the
trained weights against the CCA solution) ranks every validation partner
among all validation rows of the other view, on the device that holds them.
Row ``i`` of the queries is partnered with gallery row ``offset + i``
(``offset`` places one rank's queries in the gathered gallery); its rank is
``1 + B + (T - 1) / 2`` with ``B`` gallery rows more similar and ``T`` as
similar (the partner included), as in :mod:`skcrossmodal._numerics.ranks`,
and a gallery row equal to the partner ties with it.
"""

import torch

# Similarities per block. On the CPU, 2**18 float32 (1 MiB) stay in a core's
# L2 cache between the product and the count; on a GPU, blocks of 2**24
# (64 MiB) keep the number of kernel launches small.
RANK_BLOCK_SIMILARITIES = 2**18
RANK_BLOCK_SIMILARITIES_ACCELERATOR = 2**24


@torch.no_grad()
def partner_rank_blocks(queries, gallery, offset=0):
    """Yield ``(start, stop, ranks)`` for consecutive blocks of query rows.

    Cosine similarity of unit rows, one block of about
    ``RANK_BLOCK_SIMILARITIES`` similarities at a time on the CPU (else
    ``RANK_BLOCK_SIMILARITIES_ACCELERATOR``), in one reused buffer, never the
    full matrix. As ``B + W + T = n`` (``W`` less similar), the rank is
    ``(n + 1 + B - W) / 2``, and ``B - W`` is the sum of the signs of the
    similarities minus the partner's: one pass over each block, no masks. The
    partner's similarity is read from the same product, so exact ties stay
    exact; a product may round the dot products of equal rows differently,
    so gallery rows equal to the partner are given its similarity first.
    """
    n_gallery, n_components = gallery.shape
    # Sums of up to n_gallery signs are exact integers in float32 below 2**24.
    sum_dtype = torch.float32 if n_gallery < 2**24 else torch.float64
    block_size = (
        RANK_BLOCK_SIMILARITIES
        if queries.device.type == "cpu"
        else RANK_BLOCK_SIMILARITIES_ACCELERATOR
    )
    # How far a similarity of unit rows may be from its exact value.
    margin = (2 * n_components + 16) * torch.finfo(queries.dtype).eps
    step = max(1, block_size // max(n_gallery, 1))
    buffer = queries.new_empty((min(step, queries.shape[0]), n_gallery))
    for start in range(0, queries.shape[0], step):
        block_queries = queries[start : start + step]
        size = block_queries.shape[0]
        block = torch.mm(block_queries, gallery.T, out=buffer[:size])
        partner = block.diagonal(offset + start).clone()
        difference = block.sub_(partner[:, None])
        rows, items = torch.nonzero(difference.abs() <= margin, as_tuple=True)
        same = (gallery[items] == gallery[offset + start + rows]).all(dim=1)
        difference[rows[same], items[same]] = 0.0
        signs = difference.sign_().sum(dim=1, dtype=sum_dtype)
        yield start, start + size, 0.5 * (n_gallery + 1 + signs.double())


@torch.no_grad()
def partner_ranks(queries, gallery, offset=0):
    """Rank of each query's partner, as a float64 tensor (see the module)."""
    ranks = [block for _, _, block in partner_rank_blocks(queries, gallery, offset)]
    if not ranks:
        return torch.empty(0, dtype=torch.float64, device=queries.device)
    return torch.cat(ranks)


@torch.no_grad()
def reciprocal_rank_sums(queries, gallery, offset, weight):
    """Weighted sum of 1 / rank of each query's partner, and the weights' sum."""
    total = torch.zeros((), dtype=torch.float64, device=queries.device)
    for start, stop, rank in partner_rank_blocks(queries, gallery, offset):
        total += (weight[start:stop] / rank).sum()
    return total, weight.sum()
