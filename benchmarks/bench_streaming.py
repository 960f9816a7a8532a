"""Benchmark ``partial_fit`` streaming two memory-mapped float32 files.

Generates (in a new private folder from ``tempfile.mkdtemp``, or under
``--dir`` to reuse files between runs; never in the repository) two ``.npy``
files of ``n`` rows and ``d = 100`` float32 columns, two views of a shared
latent with a large mean (2 x 4 GB at the default ``n = 10 000 000``), then
streams them in chunks of ``--chunk-rows`` rows. Each chunk is a memory-mapped
window of the files, unmapped after use, so the process only ever holds one
chunk. Every measurement runs in a fresh
subprocess, which reports its wall time and its peak resident memory
(``resource.getrusage(...).ru_maxrss``, imports included). On Linux a child
inherits its parent's peak at ``fork``, so this driver stays small: it imports
neither the package nor scipy, and generates the data in a subprocess too.

Prints one table measured in a single run:

- the floor: one pass of ``X_chunk.T @ y_chunk`` over the same chunks, in the
  files' float32 (what the target is measured against) and in float64 (the
  precision ``partial_fit`` computes in);
- ``CrossModalEmbedding().partial_fit`` over all chunks (target: peak RSS
  under 300 MB, time at most 1.5 x the float32 floor), and
  ``SharedLatentRegression(n_components=10).partial_fit`` (which also needs
  ``X^T X``: two products per chunk);
- the peak RSS of ``CrossModalEmbedding().partial_fit`` streaming the first
  1e5, 1e6 and 1e7 rows (target: flat).

Timings include reading the chunks (from the page cache once the files have
been read; the first pass may read from disk). The results are also written to
``streaming_results.json`` in that folder for ``bench_dask.py --dir``.

Run: ``python benchmarks/bench_streaming.py`` (``--quick`` for n = 1 000 000;
``--n N`` for any size; ``--threads N`` pins the BLAS threads of every
measurement, which a busy machine needs: OpenBLAS threads that wait for a busy
core can make a product 10x slower; ``--remove`` deletes the data afterwards,
which is the default in the private folder unless ``--keep``).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

N_FEATURES = 100
N_LATENT = 10


def data_paths(directory, n_samples):
    directory = Path(directory)
    return directory / f"X_{n_samples}.npy", directory / f"y_{n_samples}.npy"


def generate(paths, n_samples, chunk_rows=100_000, seed=0):
    """Write both views chunk by chunk, so that generating needs little memory."""
    rng = np.random.default_rng(seed)
    mixing_x = rng.normal(size=(N_LATENT, N_FEATURES)).astype(np.float32)
    mixing_y = rng.normal(size=(N_LATENT, N_FEATURES)).astype(np.float32)
    header = {"descr": "<f4", "fortran_order": False, "shape": (n_samples, N_FEATURES)}
    with open(paths[0], "wb") as file_x, open(paths[1], "wb") as file_y:
        for file in (file_x, file_y):
            np.lib.format.write_array_header_2_0(file, header)
        for start in range(0, n_samples, chunk_rows):
            rows = min(chunk_rows, n_samples - start)
            latent = rng.standard_normal((rows, N_LATENT), dtype=np.float32)
            noise = rng.standard_normal((rows, N_FEATURES), dtype=np.float32)
            file_x.write((latent @ mixing_x + noise + 1000.0).tobytes())
            noise = rng.standard_normal((rows, N_FEATURES), dtype=np.float32)
            file_y.write((latent @ mixing_y + noise - 500.0).tobytes())


def chunks(paths, n_samples, chunk_rows):
    """Memory-mapped windows of both files, one chunk of rows at a time."""
    layouts = [np.load(path, mmap_mode="r") for path in paths]
    offsets = [layout.offset for layout in layouts]
    n_features = [layout.shape[1] for layout in layouts]
    del layouts
    for start in range(0, n_samples, chunk_rows):
        rows = min(chunk_rows, n_samples - start)
        windows = [
            np.memmap(
                path,
                dtype=np.float32,
                mode="r",
                offset=offset + start * width * 4,
                shape=(rows, width),
            )
            for path, offset, width in zip(paths, offsets, n_features, strict=True)
        ]
        yield windows
        # Unmapping the window releases its pages from this process's RSS.
        for window in windows:
            window._mmap.close()
        del windows


def measure(method, paths, n_samples, chunk_rows):
    """Run one method over the chunks; return seconds and a check value."""
    from skcrossmodal import CrossModalEmbedding, SharedLatentRegression

    start = time.perf_counter()
    if method in ("floor32", "floor64"):
        total = np.zeros((N_FEATURES, N_FEATURES))
        for X, y in chunks(paths, n_samples, chunk_rows):
            if method == "floor64":
                X, y = X.astype(np.float64), y.astype(np.float64)
            total += X.T @ y
        check = float(np.abs(total).sum())
    else:
        model = (
            CrossModalEmbedding()
            if method == "procrustes"
            else SharedLatentRegression(n_components=N_LATENT)
        )
        for X, y in chunks(paths, n_samples, chunk_rows):
            model.partial_fit(X, y)
        assert model.n_samples_seen_ == n_samples
        check = float(model.coef_[0, 0])
    return time.perf_counter() - start, check


def run_in_subprocess(method, args, n_samples):
    """Measure in a fresh interpreter: its peak RSS is this measurement's alone."""
    command = [
        sys.executable,
        __file__,
        "--measure",
        method,
        "--dir",
        str(args.dir),
        "--n",
        str(args.n),
        "--rows",
        str(n_samples),
        "--chunk-rows",
        str(args.chunk_rows),
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir",
        type=Path,
        help="folder for the data (default: a new private folder, whose data files "
        "are deleted at the end unless --keep)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the private data")
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="n = 1 000 000")
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings")
    parser.add_argument("--threads", type=int, help="BLAS threads (default: all)")
    parser.add_argument("--remove", action="store_true", help="delete the data")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.n = 1_000_000
    if args.dir is None:
        if args.measure:
            parser.error("--measure needs --dir")
        # A fresh folder that only this user can enter: a fixed name under the
        # shared temporary folder could be pre-created, or hold planted
        # symlinks that the data would be written through.
        args.dir = Path(tempfile.mkdtemp(prefix="skcrossmodal_bench_"))
        args.remove = args.remove or not args.keep
    paths = data_paths(args.dir, args.n)

    if args.measure == "generate":  # child process: write the data files
        generate(paths, args.n)
        return
    if args.measure:  # child process: one measurement, printed as JSON
        # Imported before the thread limit is set, so that it reaches every
        # BLAS (scipy's wheels bundle their own); every measurement pays it.
        import skcrossmodal  # noqa: F401

        with threadpool_limits(args.threads):
            seconds, _ = measure(args.measure, paths, args.rows, args.chunk_rows)
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"seconds": seconds, "peak_mb": peak_kib / 1024}))
        return

    args.dir.mkdir(parents=True, exist_ok=True)
    size_gb = args.n * N_FEATURES * 4 / 1e9
    if not all(path.exists() for path in paths):
        print(f"Generating 2 x {size_gb:.1f} GB of float32 under {args.dir} ...")
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--measure", "generate", "--dir", str(args.dir)]
            + ["--n", str(args.n)],
            check=True,
        )
        print(f"  done in {time.perf_counter() - start:.0f} s")
    print(
        f"n = {args.n:,}, d_x = d_y = {N_FEATURES}, float32 files of "
        f"{size_gb:.1f} GB each, chunks of {args.chunk_rows:,} rows; "
        f"{os.cpu_count()} CPUs, BLAS threads: {args.threads or 'all'}\n"
    )

    methods = {
        "floor32": "floor: X_chunk.T @ y_chunk (float32)",
        "floor64": "floor: X_chunk.T @ y_chunk (float64)",
        "procrustes": "CrossModalEmbedding.partial_fit",
        "latent": f"SharedLatentRegression(k={N_LATENT}).partial_fit",
    }
    results = {}
    for _ in range(args.repeat):
        for method in methods:
            result = run_in_subprocess(method, args, args.n)
            best = results.get(method)
            if best is None or result["seconds"] < best["seconds"]:
                results[method] = result
    floor = results["floor32"]["seconds"]
    print(f"{'method':<45} {'time (s)':>9} {'/ floor32':>10} {'peak RSS (MB)':>14}")
    for method, label in methods.items():
        result = results[method]
        print(
            f"{label:<45} {result['seconds']:>9.1f} "
            f"{result['seconds'] / floor:>10.2f} {result['peak_mb']:>14.0f}"
        )

    print("\nPeak RSS of CrossModalEmbedding.partial_fit as n grows:")
    print(f"{'n':>12} {'time (s)':>9} {'peak RSS (MB)':>14}")
    growth = {}
    for n_rows in (10**5, 10**6, 10**7):
        if n_rows > args.n:
            break
        growth[n_rows] = run_in_subprocess("procrustes", args, n_rows)
        print(
            f"{n_rows:>12,} {growth[n_rows]['seconds']:>9.1f} "
            f"{growth[n_rows]['peak_mb']:>14.0f}"
        )

    summary = {
        "n": args.n,
        "chunk_rows": args.chunk_rows,
        "results": results,
        "growth": {str(n): value for n, value in growth.items()},
    }
    (args.dir / "streaming_results.json").write_text(json.dumps(summary, indent=1))
    print(f"\nResults in {args.dir / 'streaming_results.json'}")
    if args.remove:
        for path in paths:
            path.unlink()


if __name__ == "__main__":
    main()
