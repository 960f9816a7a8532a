"""Benchmark exact and approximate search in the shared space.

Prints one table per (gallery size, dimension), every time measured in the
same run (best of ``--repeat``), as ratios to the float32 matrix-product floor
(the blocked ``queries @ gallery.T`` alone, which any exact search must pay):

- ``SharedSpaceIndex`` exact top-10 (numpy float32; target <= 1.5x the floor
  and no slower than faiss ``IndexFlatIP``), with CSLS and the inverted softmax
  from stored reference queries (target <= 2.5x);
- ``search_top_k`` (what ``retrieve`` runs), with CSLS estimated from the
  queries themselves (two passes: target <= 2.5x);
- ``mean_reciprocal_rank`` on float32 pairs (the queries and as many gallery
  rows), against the floor of that square product (target <= 1.5x);
- ``sklearn.neighbors.NearestNeighbors(algorithm="brute", metric="cosine")``;
- faiss-cpu ``IndexFlatIP`` (exact) and the approximate ``backend="faiss"``
  index (inverted file): its recall@10 against the exact answer and its speed
  relative to the exact index (target for a 1e6 gallery: recall >= 0.95 at
  >= 10x the exact speed).

The embeddings are a mixture of 1000 Gaussian clusters (shared-space
embeddings of real data are clustered; an inverted file finds little to
exploit in pure noise, so its recall there is lower at the same speed).
``--spread`` sets the within-cluster noise (default 0.5, against centres of
unit spread per dimension); 1.0 makes neighbours cross cell borders more often
and is the harder test of the approximate backend.

Run: ``python benchmarks/bench_retrieval.py`` (``--quick`` for a small run;
``--million`` adds the 1e6-gallery approximate run, about 1 GB of memory;
``--million-only`` runs that alone).
"""

import argparse
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

from skcrossmodal._numerics import similarity as _similarity
from skcrossmodal.metrics import mean_reciprocal_rank
from skcrossmodal.retrieval import SharedSpaceIndex, search_top_k

K = 10


class Table(list):
    """Rows printed as they are measured, so a long run shows progress."""

    def append(self, row):
        super().append(row)
        label, name, seconds, ratio, note = row
        print(f"{label:<24} {name:<42} {seconds:8.3f} {ratio:8.2f}  {note}", flush=True)


def best_time(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


SPREAD = 0.5  # within-cluster noise per dimension; the centres have 1


def clustered(rng, n, d, centres):
    labels = rng.integers(0, len(centres), size=n)
    noise = rng.standard_normal((n, d), dtype=np.float32)
    return centres[labels] + np.float32(SPREAD) * noise


def recall_at_k(found, exact):
    hits = [len(np.intersect1d(a, e)) for a, e in zip(found, exact, strict=True)]
    return np.mean(hits) / exact.shape[1]


def gemm_floor(queries, gallery, repeat):
    """The float32 product, in the blocks the exact search uses."""
    step = _similarity._block_rows(gallery.shape[0])
    gallery_t = gallery.T

    def product():
        for start in range(0, queries.shape[0], step):
            queries[start : start + step] @ gallery_t

    return best_time(product, repeat)


def bench(n_gallery, n_queries, d, repeat, rows):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((1000, d), dtype=np.float32)
    gallery = _similarity.normalize_rows(clustered(rng, n_gallery, d, centres))
    queries = _similarity.normalize_rows(clustered(rng, n_queries, d, centres))
    reference = clustered(rng, 2000, d, centres)
    label = f"n={n_gallery:.0e} q={n_queries:.0e} d={d}"

    floor = gemm_floor(queries, gallery, repeat)
    rows.append((label, "float32 GEMM floor", floor, 1.0, ""))

    def add(name, seconds, note=""):
        rows.append((label, name, seconds, seconds / floor, note))

    index = SharedSpaceIndex(n_neighbors=K).fit(gallery, reference_queries=reference)
    exact = index.kneighbors(queries)[1]
    t_exact = best_time(lambda: index.kneighbors(queries), repeat)
    add("SharedSpaceIndex exact top-10", t_exact)
    for hubness in ("csls", "inverted_softmax", "qb_norm"):
        add(
            f"  hubness={hubness}",
            best_time(lambda h=hubness: index.kneighbors(queries, hubness=h), repeat),
        )
    add(
        "search_top_k (retrieve)",
        best_time(lambda: search_top_k(queries, gallery, n_neighbors=K), repeat),
    )
    add(
        "  similarity=csls (from the queries)",
        best_time(
            lambda: search_top_k(queries, gallery, n_neighbors=K, similarity="csls"),
            repeat,
        ),
    )
    # MRR needs pairs: the queries against as many gallery rows, with the
    # floor of that square product.
    square = gallery[:n_queries]
    square_floor = gemm_floor(queries, square, repeat)
    mrr = best_time(
        lambda: mean_reciprocal_rank(queries, square, direction="x_to_y"), repeat
    )
    rows.append(
        (
            label,
            "mean_reciprocal_rank (float32)",
            mrr,
            mrr / square_floor,
            f"vs its own q x q floor {square_floor:.3f}s",
        )
    )
    nn = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="cosine")
    nn.fit(gallery)
    add("sklearn NearestNeighbors brute", best_time(lambda: nn.kneighbors(queries), 1))
    try:
        import faiss
    except ImportError:
        rows.append((label, "faiss", float("nan"), float("nan"), "not installed"))
        return
    flat = faiss.IndexFlatIP(d)
    flat.add(gallery)
    add("faiss IndexFlatIP", best_time(lambda: flat.search(queries, K), repeat))
    approximate_rows(label, gallery, queries, exact, t_exact, floor, repeat, rows)


def approximate_rows(label, gallery, queries, exact, t_exact, floor, repeat, rows):
    """The faiss backend with its default cells, at its default n_probe and
    half and twice that (one build; n_probe only changes the search)."""
    start = time.perf_counter()
    approx = SharedSpaceIndex(n_neighbors=K, backend="faiss").fit(gallery)
    build = time.perf_counter() - start
    faiss_index = approx._faiss_index  # benchmark only: vary n_probe in place
    default = faiss_index.nprobe
    for n_probe in sorted({max(1, default // 2), default, 2 * default}):
        faiss_index.nprobe = min(n_probe, faiss_index.nlist)
        found = approx.kneighbors(queries)[1]
        seconds = best_time(lambda a=approx: a.kneighbors(queries), repeat)
        rows.append(
            (
                label,
                f"faiss IVF n_lists={faiss_index.nlist} n_probe={faiss_index.nprobe}"
                + (" (default)" if n_probe == default else ""),
                seconds,
                seconds / floor,
                f"recall@10={recall_at_k(found, exact):.3f} "
                f"speed-up vs exact={t_exact / seconds:.1f}x build={build:.1f}s",
            )
        )


def bench_million(repeat, rows, n_queries=1000):
    """Approximate search of a 1e6 gallery against the exact index."""
    import faiss  # noqa: F401  (the run needs it)

    d, n_gallery = 64, 1_000_000
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((1000, d), dtype=np.float32)
    gallery = _similarity.normalize_rows(clustered(rng, n_gallery, d, centres))
    queries = _similarity.normalize_rows(clustered(rng, n_queries, d, centres))
    label = f"n=1e+06 q={n_queries:.0e} d={d} spread={SPREAD}"
    floor = gemm_floor(queries, gallery, 1)
    rows.append((label, "float32 GEMM floor", floor, 1.0, ""))
    start = time.perf_counter()
    index = SharedSpaceIndex(n_neighbors=K).fit(gallery)
    fit = time.perf_counter() - start
    # One timed exact run (it takes about a minute on a loaded machine).
    start = time.perf_counter()
    exact = index.kneighbors(queries)[1]
    t_exact = time.perf_counter() - start
    rows.append(
        (
            label,
            "SharedSpaceIndex exact top-10",
            t_exact,
            t_exact / floor,
            f"fit={fit:.1f}s",
        )
    )
    approximate_rows(label, gallery, queries, exact, t_exact, floor, repeat, rows)


def main():
    global SPREAD
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small size")
    parser.add_argument("--million", action="store_true", help="add a 1e6 gallery")
    parser.add_argument(
        "--million-only", action="store_true", help="only the 1e6 gallery"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--spread",
        type=float,
        default=SPREAD,
        help="within-cluster noise (centres have unit spread); larger is harder",
    )
    parser.add_argument(
        "--sizes", help="only these configurations, e.g. '20000,2000,64;200000,2000,64'"
    )
    args = parser.parse_args()
    SPREAD = args.spread
    if args.sizes:
        configs = [
            tuple(int(v) for v in size.split(",")) for size in args.sizes.split(";")
        ]
    elif args.million_only:
        configs = []
    elif args.quick:
        configs = [(20_000, 2_000, 64)]
    else:
        configs = [
            (20_000, 5_000, 64),
            (20_000, 2_000, 256),
            (200_000, 1_000, 64),
            (200_000, 500, 256),
        ]
    print(f"{'sizes':<24} {'method':<42} {'seconds':>8} {'x floor':>8}  note")
    rows = Table()
    for n_gallery, n_queries, d in configs:
        bench(n_gallery, n_queries, d, args.repeat, rows)
    if args.million or args.million_only:
        bench_million(args.repeat, rows)


if __name__ == "__main__":
    main()
