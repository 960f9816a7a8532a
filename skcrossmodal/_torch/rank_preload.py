"""What every rank of :mod:`skcrossmodal.distributed` imports, imported once.

The launcher's forkserver imports this module before it forks the ranks, so
that each rank starts with torch and the aligner's torch code already loaded
instead of importing them again (seconds per rank, on every launch).
"""

import torch
import torch._dynamo  # noqa: F401  (torch's optimisers import it on first use)
import torch.distributed  # noqa: F401

from .. import distributed  # noqa: F401
from . import communicator, losses, modules  # noqa: F401

__all__ = ["torch"]
