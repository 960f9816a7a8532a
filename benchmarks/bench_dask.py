"""Benchmark ``fit`` on dask arrays on a dask.distributed LocalCluster.

The data are the same shape as ``bench_streaming.py``'s (n rows, d = 100
float32 columns per view, a shared 10-dimensional latent plus noise and a
large mean) but generated lazily by ``dask.array.random`` on the workers,
block by block: they never exist in full anywhere. The cluster has two
single-threaded worker processes (``LocalCluster(n_workers=2,
threads_per_worker=1)``; dask's nanny already pins each worker's BLAS to one
thread).

Prints one table measured in a single run:

- generating the data alone (``X.sum() + y.sum()`` over the same blocks), the
  least any computation on them costs;
- ``CrossModalEmbedding().fit`` and ``SharedLatentRegression(n_components=10)
  .fit`` on the dask arrays: the statistics are a tree reduction of one
  ``TwoViewMoments`` per block, merged on the workers;
- the peak RSS of each worker process (its ``ru_maxrss``), to show that no
  worker holds more than a few blocks;
- the ratio to the streaming run of ``bench_streaming.py`` at the same ``n``,
  read from its ``streaming_results.json`` when that exists (note: streaming
  reads a file on one core; here two workers also generate the data).

Run: ``python benchmarks/bench_dask.py`` (``--quick`` for n = 1 000 000;
``--n N``; ``--dir`` where ``bench_streaming.py`` wrote its results).
"""

import argparse
import json
import logging
import resource
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

from skcrossmodal import CrossModalEmbedding, SharedLatentRegression

N_FEATURES = 100
N_LATENT = 10


def lazy_views(n_samples, chunk_rows, seed=0):
    """Two float32 views of a shared latent, generated block by block by dask."""
    rng = np.random.default_rng(seed)
    mixing_x = rng.normal(size=(N_LATENT, N_FEATURES)).astype(np.float32)
    mixing_y = rng.normal(size=(N_LATENT, N_FEATURES)).astype(np.float32)
    generator = da.random.default_rng(seed)

    def gaussian(width):
        return generator.standard_normal(
            (n_samples, width), dtype=np.float32, chunks=(chunk_rows, width)
        )

    latent = gaussian(N_LATENT)
    X = latent @ mixing_x + gaussian(N_FEATURES) + np.float32(1000.0)
    y = latent @ mixing_y + gaussian(N_FEATURES) - np.float32(500.0)
    return X, y


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def worker_peak_mb(client):
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return [value / 1024 for value in peaks.values()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="n = 1 000 000")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/skcrossmodal_bench"))
    args = parser.parse_args()
    if args.quick:
        args.n = 1_000_000

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: 8787 may be taken
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        X, y = lazy_views(args.n, args.chunk_rows)
        print(
            f"n = {args.n:,}, d_x = d_y = {N_FEATURES}, float32 generated lazily "
            f"in {X.numblocks[0]} blocks of {args.chunk_rows:,} rows "
            f"({args.n * N_FEATURES * 4 / 1e9:.1f} GB per view); LocalCluster "
            "with 2 worker processes x 1 thread\n"
        )
        rows = {}
        rows["generate only: X.sum() + y.sum()"] = timed(
            lambda: dask.compute(X.sum(), y.sum())
        )[0]
        procrustes_time, procrustes = timed(lambda: CrossModalEmbedding().fit(X, y))
        rows["CrossModalEmbedding.fit"] = procrustes_time
        rows[f"SharedLatentRegression(k={N_LATENT}).fit"] = timed(
            lambda: SharedLatentRegression(n_components=N_LATENT).fit(X, y)
        )[0]
        assert procrustes.n_samples_seen_ == args.n
        peaks = worker_peak_mb(client)

    streaming = None
    results_path = args.dir / "streaming_results.json"
    if results_path.exists():
        saved = json.loads(results_path.read_text())
        if saved["n"] == args.n:
            streaming = saved["results"]
    reference = {
        "CrossModalEmbedding.fit": "procrustes",
        f"SharedLatentRegression(k={N_LATENT}).fit": "latent",
    }
    print(f"{'method':<40} {'time (s)':>9} {'/ streaming':>12}")
    for label, seconds in rows.items():
        ratio = "-"
        if streaming is not None and label in reference:
            ratio = f"{seconds / streaming[reference[label]]['seconds']:.2f}"
        print(f"{label:<40} {seconds:>9.1f} {ratio:>12}")
    if streaming is None:
        print(f"(no streaming results for n = {args.n:,} in {results_path})")
    print(
        "\nPeak RSS of the worker processes (MB): "
        + ", ".join(f"{peak:.0f}" for peak in peaks)
    )


if __name__ == "__main__":
    main()
