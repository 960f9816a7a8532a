"""
=============================================
Training the aligner on several processes
=============================================

Train :class:`~skcrossmodal.ContrastiveAligner` data-parallel with
``torch.distributed``. Two ways to run this script (the gallery shows it but
does not run it: it needs several processes):

- ``python examples/distributed_aligner.py`` starts 2 local processes with
  :func:`skcrossmodal.distributed.fit` (gloo, CPU) and prints the held-out
  score of the model they trained together, next to a one-process fit;
- ``torchrun --nproc-per-node=2 examples/distributed_aligner.py`` lets
  torchrun start the ranks (add ``--nnodes``/``--rdzv-endpoint`` for several
  machines): every rank loads only its own rows and calls ``fit`` on them;
  rank 0 prints the score.

Each rank holds ``1 / n_ranks`` of the pairs, and every pair meets the whole
global batch (``batch_size`` pairs *per rank* times the number of ranks) as
negatives.
"""

import os

import torch.distributed as dist
from sklearn.model_selection import train_test_split

from skcrossmodal import ContrastiveAligner
from skcrossmodal import distributed as skdist
from skcrossmodal.datasets import make_paired_views

N_RANKS = 2


def make_estimator():
    return ContrastiveAligner(
        n_components=8,
        hidden_layer_sizes=(64,),
        batch_size=64,  # per rank: the global batch is 64 * n_ranks
        max_epochs=20,
        device="cpu",
        random_state=0,
    )


def load_split():
    X, y, _ = make_paired_views(n_samples=1200, random_state=0)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def under_torchrun():
    """One rank of ``torchrun``: fit on this rank's rows only."""
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    X_train, X_test, y_train, y_test = load_split()
    # A real job would read only its own file or slice here.
    model = make_estimator().fit(X_train[rank::world], y_train[rank::world])
    if rank == 0:
        print(
            f"{world} ranks (torchrun): held-out MRR {model.score(X_test, y_test):.3f}"
        )
    dist.destroy_process_group()


def from_one_script():
    """Start the ranks from this process and compare with a one-process fit."""
    X_train, X_test, y_train, y_test = load_split()
    model = skdist.fit(make_estimator(), X_train, y_train, n_processes=N_RANKS)
    print(f"{N_RANKS} ranks: held-out MRR {model.score(X_test, y_test):.3f}")
    alone = make_estimator().set_params(batch_size=64 * N_RANKS)
    alone.fit(X_train, y_train)
    print(
        f"1 process, same global batch: held-out MRR {alone.score(X_test, y_test):.3f}"
    )


if __name__ == "__main__":
    if "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ:
        under_torchrun()
    else:
        from_one_script()
