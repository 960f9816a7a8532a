"""Run code on several local processes joined in one ``torch.distributed`` group.

A thin launcher for users outside ``torchrun``: it starts ``n_processes``
Python processes on this machine (``multiprocessing``, forked from a
forkserver where there is one, else spawned), joins them in one process group
that opens no socket beyond the loopback interface (the rendezvous is a file in
a private temporary directory; the ranks talk over loopback), runs a function
on every rank and returns the results. Every
collective is bounded by ``timeout``, so a rank that fails makes the others
raise rather than wait forever, and the launcher reports every rank's error.

On several machines, or with one process per GPU under a cluster scheduler,
use ``torchrun`` instead (see the "Scaling out the aligner" page of the
documentation); the code inside the ranks is the same.

Importing this module does not import torch; the functions import it when
called.
"""

import datetime
import math
import os
import pathlib
import pickle
import queue
import socket
import tempfile
import time
import traceback
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone

__all__ = ["fit", "run"]

_BACKENDS = ("gloo", "nccl")
# How often the launcher looks for results and dead children.
_POLL_SECONDS = 0.1
# Extra seconds the launcher grants the other ranks to report, past the
# collective timeout, once one rank has failed.
_GRACE_SECONDS = 5.0


def run(function, *args, n_processes=2, backend="gloo", timeout=300.0, n_threads=None):
    """Call ``function(*args)`` on every rank of a new local process group.

    Parameters
    ----------
    function : callable
        A function importable by name (defined at the top level of a module,
        not in ``__main__`` of an interactive session): the spawned processes
        import it. It runs after ``torch.distributed.init_process_group``, so
        it may use ``torch.distributed`` directly or through
        ``skcrossmodal._torch.communicator.ProcessGroupCommunicator``.
    *args
        Positional arguments, pickled once per rank.
    n_processes : int, default=2
        Number of ranks (processes) to start.
    backend : {"gloo", "nccl"}, default="gloo"
        ``"gloo"`` runs on CPUs; ``"nccl"`` needs one CUDA device per rank
        (rank ``r`` uses device ``r``).
    timeout : float, default=300.0
        Seconds any single collective may wait for the other ranks before it
        raises on every rank still running.
    n_threads : int or None, default=None
        torch threads per rank; None shares the CPU cores evenly
        (at least 1 per rank).

    Returns
    -------
    results : list
        ``function``'s return value on each rank, in rank order.

    Raises
    ------
    RuntimeError
        If a rank fails or dies, after every rank has stopped: the exception
        of the first rank to fail is raised when it can be carried across
        processes, with a RuntimeError listing every rank's error as its
        cause.

    Examples
    --------
    >>> import torch.distributed
    >>> from skcrossmodal.distributed import run
    >>> run(torch.distributed.get_rank, n_processes=2, timeout=60)
    [0, 1]
    """
    _check_launch_options(n_processes, backend, timeout, n_threads)
    if backend == "nccl":
        _check_cuda_devices(n_processes)
    import multiprocessing

    if n_threads is None:
        n_threads = max(1, (os.cpu_count() or 1) // n_processes)
    context = _process_context(multiprocessing)
    reports = context.Queue()
    # The rendezvous: a FileStore in a directory only this user can enter. A
    # TCPStore would listen on every interface whatever host it is given, and
    # the ranks unpickle what they exchange.
    rendezvous = tempfile.TemporaryDirectory(prefix="skcrossmodal-rendezvous-")
    address = _file_init_method(rendezvous.name)
    payload = pickle.dumps((function, args))
    workers = [
        context.Process(
            target=_rank_main,
            args=(
                rank,
                n_processes,
                backend,
                address,
                timeout,
                n_threads,
                payload,
                reports,
            ),
            daemon=True,
        )
        for rank in range(n_processes)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = _collect(workers, reports, timeout)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
            worker.join(timeout=_GRACE_SECONDS)
        rendezvous.cleanup()
    return _results_or_raise(outcomes, n_processes)


def fit(
    estimator,
    X,
    y=None,
    *,
    sample_weight=None,
    n_processes=2,
    backend="gloo",
    timeout=300.0,
    n_threads=None,
):
    """Fit a clone of ``estimator`` data-parallel on local processes.

    The rows are cut into ``n_processes`` contiguous shards of near-equal
    size; rank ``r`` fits a clone of ``estimator`` on shard ``r`` inside the
    process group, which the estimator uses to train as one model on all the
    rows (the same convention as under ``torchrun``: each rank passes its own
    rows). Only estimators that train across the ranks of a process group are
    accepted (:class:`~skcrossmodal.ContrastiveAligner` and
    :class:`~skcrossmodal.MultiViewContrastiveAligner`, whose training loops
    drive the process group's collectives).

    Parameters
    ----------
    estimator : estimator instance
        Cloned, never modified.
    X : array-like of shape (n_samples, n_features_x)
        First view (all views, for a K-view estimator: NaN marks a missing
        view there).
    y : array-like of shape (n_samples, n_features_y) or None
        Second view (None for a K-view estimator).
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Per-pair weights, sharded like the rows.
    n_processes, backend, timeout, n_threads
        As in :func:`run`.

    Returns
    -------
    estimator : estimator instance
        The fitted clone from rank 0 (every rank ends with the same weights).

    Examples
    --------
    >>> from skcrossmodal import ContrastiveAligner
    >>> from skcrossmodal.datasets import make_paired_views
    >>> from skcrossmodal import distributed
    >>> X, y, _ = make_paired_views(n_samples=200, random_state=0)
    >>> model = distributed.fit(  # doctest: +SKIP
    ...     ContrastiveAligner(n_components=4, max_epochs=2, device="cpu"),
    ...     X, y, n_processes=2)
    """
    if not getattr(type(estimator), "_fits_across_ranks", False):
        raise TypeError(
            f"{type(estimator).__name__} does not train across the ranks of a "
            "process group, so fitting it on shards would give n_processes "
            "unrelated models. Fit it in one process instead."
        )
    # Every check that can be made on all the rows is made here, before the
    # shards exist: a rank would report lengths and row numbers of its shard.
    _check_launch_options(n_processes, backend, timeout, n_threads)
    n_samples = _n_rows(X)
    if y is not None and _n_rows(y) != n_samples:
        raise ValueError(
            f"X and y must have the same number of rows; got {n_samples} and "
            f"{_n_rows(y)}."
        )
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)
        if sample_weight.shape != (n_samples,):
            raise ValueError(
                "sample_weight must hold one weight per row of X: expected shape "
                f"({n_samples},), got shape {sample_weight.shape}."
            )
    # A K-view estimator reads NaN as a missing view (its own checks, on each
    # rank, refuse a view NaN in only some of its columns).
    nan_means_missing = estimator.__sklearn_tags__().input_tags.allow_nan
    for name, values in (("X", X), ("y", y), ("sample_weight", sample_weight)):
        _check_finite_rows(name, values, allow_nan=nan_means_missing and name == "X")
    if n_processes > n_samples:
        raise ValueError(
            f"n_processes={n_processes} is more than the {n_samples} rows; each "
            "rank needs at least one row."
        )
    shards = np.array_split(np.arange(n_samples), n_processes)
    results = run(
        _fit_shard,
        clone(estimator),
        [_take_rows(X, rows) for rows in shards],
        None if y is None else [_take_rows(y, rows) for rows in shards],
        None if sample_weight is None else [sample_weight[rows] for rows in shards],
        n_processes=n_processes,
        backend=backend,
        timeout=timeout,
        n_threads=n_threads,
    )
    return results[0]


# ------------------------------------------------------------ rank side ---
def _rank_main(
    rank, world_size, backend, address, timeout, n_threads, payload, reports
):
    """Entry point of one spawned rank: join the group, run, report."""
    import torch
    import torch.distributed as dist

    try:
        # The backends' own connections between ranks listen on loopback only.
        loopback = _loopback_interface()
        if loopback is not None:
            os.environ["GLOO_SOCKET_IFNAME"] = loopback
            os.environ["NCCL_SOCKET_IFNAME"] = loopback
        torch.set_num_threads(n_threads)
        if backend == "nccl":
            torch.cuda.set_device(rank)
        dist.init_process_group(
            backend,
            init_method=address,
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout),
        )
        function, args = pickle.loads(payload)
        result = function(*args)
        reports.put((rank, True, pickle.dumps(result)))
    except BaseException as error:  # reported to the launcher, not lost
        reports.put((rank, False, _portable_error(error)))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _fit_shard(estimator, X_shards, y_shards, weight_shards):
    import torch.distributed as dist

    rank = dist.get_rank()
    fit_params = {}
    if weight_shards is not None:
        fit_params["sample_weight"] = weight_shards[rank]
    y = None if y_shards is None else y_shards[rank]
    estimator.fit(X_shards[rank], y, **fit_params)
    # Every rank holds the same model: ship one copy back.
    return estimator if rank == 0 else None


def _portable_error(error):
    text = "".join(traceback.format_exception(error)).rstrip()
    try:
        carried = pickle.dumps(error)
        pickle.loads(carried)
    except Exception:  # an exception that does not pickle travels as text
        carried = None
    return text, carried


# ---------------------------------------------------------- launcher side ---
def _collect(workers, reports, timeout):
    """Gather one outcome per rank; stop waiting once failure is certain."""
    outcomes = {}
    deadline = math.inf
    while len(outcomes) < len(workers):
        try:
            rank, ok, body = reports.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            pass
        else:
            outcomes[rank] = (ok, body)
            if not ok:
                deadline = min(deadline, time.monotonic() + timeout + _GRACE_SECONDS)
            continue
        for rank, worker in enumerate(workers):
            if rank not in outcomes and not worker.is_alive():
                # Drain a report that raced with the exit before declaring death.
                try:
                    late_rank, ok, body = reports.get(timeout=_POLL_SECONDS)
                    outcomes[late_rank] = (ok, body)
                except queue.Empty:
                    message = f"the process exited with code {worker.exitcode}"
                    outcomes[rank] = (False, (message, None))
                    deadline = min(
                        deadline, time.monotonic() + timeout + _GRACE_SECONDS
                    )
        if time.monotonic() > deadline:
            for rank in range(len(workers)):
                outcomes.setdefault(
                    rank, (False, ("still running after the others failed", None))
                )
    return outcomes


def _results_or_raise(outcomes, n_processes):
    failures = {rank: body for rank, (ok, body) in outcomes.items() if not ok}
    if not failures:
        return [pickle.loads(outcomes[rank][1]) for rank in range(n_processes)]
    summary = RuntimeError(
        f"{len(failures)} of {n_processes} ranks failed:\n"
        + "\n".join(
            f"--- rank {rank}:\n{failures[rank][0]}" for rank in sorted(failures)
        )
    )
    # The first rank to report holds the cause; the others' errors are often
    # its consequence ("connection closed by peer").
    for body in failures.values():
        carried = body[1]
        if carried is not None:
            raise pickle.loads(carried) from summary
    raise summary


def _check_launch_options(n_processes, backend, timeout, n_threads):
    if not isinstance(n_processes, Integral) or isinstance(n_processes, bool):
        raise TypeError(f"n_processes must be an integer; got {n_processes!r}.")
    if n_processes < 1:
        raise ValueError(f"n_processes must be at least 1; got {n_processes}.")
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}; got {backend!r}.")
    if not isinstance(timeout, Real) or isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(
            f"timeout must be a positive number of seconds; got {timeout!r}."
        )
    if n_threads is not None and (
        not isinstance(n_threads, Integral)
        or isinstance(n_threads, bool)
        or n_threads < 1
    ):
        raise ValueError(
            f"n_threads must be None or a positive integer; got {n_threads!r}."
        )


def _check_cuda_devices(n_processes):
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available < n_processes:
        raise ValueError(
            f"backend='nccl' needs one CUDA device per rank: {n_processes} ranks "
            f"but {available} device(s). Use backend='gloo' on CPUs."
        )


def _process_context(multiprocessing):
    # A forkserver imports torch and this package once, then forks every rank
    # from that clean, single-threaded process: starting ranks costs
    # milliseconds instead of an import of torch per rank and per call. Where
    # there is no forkserver (Windows) every rank is spawned afresh.
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # "__main__" makes the forkserver import the launching script (guarded by
    # ``if __name__ == "__main__"``, as with spawn), so functions defined in
    # it can run on the ranks.
    context.set_forkserver_preload(["__main__", "skcrossmodal._torch.rank_preload"])
    return context


def _file_init_method(directory):
    """``file://`` URL of a store file in ``directory`` (created 0o700)."""
    return pathlib.Path(directory, "store").absolute().as_uri()


def _loopback_interface():
    """Name of the loopback network interface ("lo", "lo0"), or None if unknown."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (AttributeError, OSError):  # not available on this platform
        return None
    for name in ("lo", "lo0"):
        if name in names:
            return name
    return None


def _check_finite_rows(name, values, allow_nan=False):
    """Refuse NaN or infinite values, naming rows by their number in all rows.

    With ``allow_nan``, NaN is accepted and only infinite values are refused.
    Input that is not numeric (text for a pipeline, sparse matrices) is left
    to the estimator's own checks.
    """
    if values is None or hasattr(values, "toarray"):
        return
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return
    finite = ~np.isinf(values) if allow_nan else np.isfinite(values)
    bad = np.flatnonzero(~finite.reshape(finite.shape[0], -1).all(axis=1))
    if bad.size:
        what = "infinite" if allow_nan else "NaN or infinite"
        raise ValueError(
            f"{name} has {what} values in {bad.size} row(s) (first: row "
            f"{bad[0]} of all {values.shape[0]} rows). Remove or impute them "
            "before fitting."
        )


def _n_rows(array):
    return array.shape[0] if hasattr(array, "shape") else len(array)


def _take_rows(array, rows):
    # pandas objects keep their column names (the estimator records them).
    if hasattr(array, "iloc"):
        return array.iloc[rows]
    return np.asarray(array)[rows]
