"""How many intra-op threads torch may use during one call of an estimator.

torch's intra-op thread count is one setting of the whole process. An
estimator sets it for the duration of a call and puts back what the process
had, also when the call raises and when several calls overlap in threads: the
first call to enter saves the process's count and the last to leave restores
it, so overlapping calls can never leave the process at another call's count.
"""

import contextlib
import threading

import torch

#: Below this many multiply-adds per forward pass of a batch (weights times
#: batch rows), ``n_jobs=None`` uses one thread: splitting steps this small
#: across threads costs more in synchronisation than it gains, and collapses
#: when other processes compete for the cores (issue 19: 0.52 s on one thread
#: against 0.92 s on two, idle, for the default model on 2 000 pairs).
SMALL_MODEL_MULTIPLY_ADDS = 2**26

_lock = threading.Lock()
_active_calls = 0
_process_threads = None


def process_threads():
    """The thread count of the process outside every estimator call.

    Inside a joblib worker this is joblib's limit: its process-based backend
    starts workers with ``OMP_NUM_THREADS`` set to their share of the cores,
    which torch adopts.
    """
    with _lock:
        return torch.get_num_threads() if _active_calls == 0 else _process_threads


def resolve_threads(n_jobs, multiply_adds):
    """The thread count of a call, from ``n_jobs`` and the size of its steps.

    ``None``: one thread for models whose batch step is below
    ``SMALL_MODEL_MULTIPLY_ADDS``, else the process's count. A positive
    integer is used as given; ``-1`` is the process's count (all the
    threads it may use), ``-2`` one fewer, and so on, at least 1.
    """
    limit = process_threads()
    if n_jobs is None:
        return 1 if multiply_adds < SMALL_MODEL_MULTIPLY_ADDS else limit
    if n_jobs > 0:
        return int(n_jobs)
    return max(1, limit + 1 + int(n_jobs))


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` intra-op threads, then restore the process's."""
    global _active_calls, _process_threads
    with _lock:
        if _active_calls == 0:
            _process_threads = torch.get_num_threads()
        _active_calls += 1
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        with _lock:
            _active_calls -= 1
            if _active_calls == 0:
                torch.set_num_threads(_process_threads)
