"""The thread policy, written once: how many threads, and BLAS held to one.

The blockwise kernels (statistics, similarity search, partner ranks) spread
blocks over Python threads, each running BLAS on one thread: many small
products in parallel beat one product split up. Two rules serve them all:

- :func:`thread_count`: as many threads as BLAS may use at this moment
  (``threadpoolctl.threadpool_limits``, or joblib's limit inside the workers
  of ``GridSearchCV(n_jobs=k)``), at most the available cores, so that nothing
  is oversubscribed; or ``n_jobs`` resolved as joblib does.
- :func:`one_blas_thread`: BLAS held to one thread while the blocks run.
  BLAS limits are process-wide, and threadpoolctl's context restores the
  limits *it* found on entry, so two overlapping calls in two threads would
  leave the process at one thread (the second saved the first's limit). Here
  the first caller in saves the limits and the last caller out restores them.
"""

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

_LOCK = threading.Lock()
# Callers inside one_blas_thread, the limiter of the first, and the BLAS
# thread count it found: what the blocks may use while BLAS is held to one.
_holders = 0
_limiter = None
_outer_threads = None


@functools.cache
def blas_controller():
    """threadpoolctl's controller, found once (it takes milliseconds)."""
    return ThreadpoolController()


def available_cores():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _current_blas_threads():
    limits = [
        info["num_threads"] for info in blas_controller().select(user_api="blas").info()
    ]
    return min(limits) if limits else None


def blas_threads():
    """Threads BLAS may use: its current limit, or the one before one_blas_thread.

    Returns None without a BLAS library.
    """
    with _LOCK:
        if _holders:
            return _outer_threads
    return _current_blas_threads()


def thread_count(n_jobs=None):
    """Threads for a blockwise kernel: ``n_jobs`` resolved as joblib does.

    ``None`` follows the number of threads BLAS may use right now (see the
    module docstring), at most the available cores; without a BLAS library it
    is every available core.

    Parameters
    ----------
    n_jobs : int or None
        ``None``, a positive count, or a negative count from the top
        (``-1``: all available CPUs).

    Returns
    -------
    n_threads : int
        At least 1.

    Examples
    --------
    >>> from threadpoolctl import threadpool_limits
    >>> from skcrossmodal._utils.threads import thread_count
    >>> with threadpool_limits(limits=1, user_api="blas"):
    ...     thread_count(None)
    1
    >>> thread_count(3)
    3
    """
    cores = available_cores()
    if n_jobs is None:
        limit = blas_threads()
        return cores if limit is None else max(1, min(limit, cores))
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return max(1, int(n_jobs))


@contextlib.contextmanager
def one_blas_thread():
    """Hold BLAS to one thread; the last of overlapping callers restores it.

    Inside, :func:`thread_count` still reports what BLAS was allowed before,
    so the blocks can be spread over that many Python threads.

    Examples
    --------
    >>> from threadpoolctl import threadpool_limits
    >>> from skcrossmodal._utils.threads import one_blas_thread, thread_count
    >>> with threadpool_limits(limits=1, user_api="blas"):
    ...     with one_blas_thread():
    ...         thread_count(None)
    1
    """
    global _holders, _limiter, _outer_threads
    with _LOCK:
        if _holders == 0:
            _outer_threads = _current_blas_threads()
            _limiter = blas_controller().limit(limits=1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _LOCK:
            _holders -= 1
            if _holders == 0:
                _limiter.restore_original_limits()
                _limiter = _outer_threads = None


def map_in_threads(function, items, n_workers):
    """``[function(item) for item in items]``, spread over Python threads.

    With more than one worker, BLAS is held to one thread while they run
    (:func:`one_blas_thread`), so that the workers, not BLAS, use the cores.

    Parameters
    ----------
    function : callable
        Called once per item; must be safe to call from several threads.
    items : iterable
        The arguments, one call each.
    n_workers : int
        Most threads (e.g. :func:`thread_count`); 1 runs in this thread.

    Returns
    -------
    results : list
        In the order of ``items``.

    Examples
    --------
    >>> from skcrossmodal._utils.threads import map_in_threads
    >>> map_in_threads(lambda n: n * n, range(4), n_workers=2)
    [0, 1, 4, 9]
    """
    items = list(items)
    n_workers = min(n_workers, len(items))
    if n_workers <= 1:
        return [function(item) for item in items]
    with one_blas_thread(), ThreadPoolExecutor(max_workers=n_workers) as executor:
        return list(executor.map(function, items))
