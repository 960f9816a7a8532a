"""Data-parallel contrastive training: 2 gloo ranks x 1 thread vs 1 process x 2.

Both train the same model (``TwoViewEncoder`` of ``_torch_models``: one MLP
per view, L2-normalised outputs, learnable logit scale) with AdamW and the
symmetric InfoNCE loss on the same global batch per step:

- *one process*: batch ``B`` with ``torch.set_num_threads(2)``;
- *two ranks* (:func:`skcrossmodal.distributed.run`, gloo on 127.0.0.1): each
  rank encodes ``B / 2`` rows with 1 thread, all-gathers the embeddings
  with gradients (``ProcessGroupCommunicator.gather_with_grad``), takes the
  global-batch loss and sums the gradients (``sum_gradients``) before the
  step -- the loop that ``ContrastiveAligner`` runs under ``torchrun``.

Printed: pairs per second of each (and of 1 process x 1 thread, the
reference for what either gains from a second core), their ratio, and the
share of a rank's step time spent in the gather and in the gradient
all-reduce. The same loop
runs on GPUs with ``--backend nccl`` (one rank per device).

Run: ``python benchmarks/bench_distributed.py`` (``--quick`` for a smoke run).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))


def make_views(n_samples, n_x, n_y, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_x)).astype(np.float32)
    mixing = rng.normal(size=(n_x, n_y)).astype(np.float32) / np.sqrt(n_x)
    y = np.tanh(X @ mixing) + 0.1 * rng.normal(size=(n_samples, n_y))
    return X, y.astype(np.float32)


class _Clock:
    """Wall time spent inside the wrapped communicator calls."""

    def __init__(self, comm):
        self.comm = comm
        self.gather = 0.0
        self.reduce = 0.0

    def gather_with_grad(self, tensor):
        start = time.perf_counter()
        result = self.comm.gather_with_grad(tensor)
        self.gather += time.perf_counter() - start
        return result

    def sum_gradients(self, parameters, replicated=()):
        start = time.perf_counter()
        self.comm.sum_gradients(parameters, replicated=replicated)
        self.reduce += time.perf_counter() - start


def train(X, y, *, global_batch, steps, hidden, n_components, comm=None):
    """``steps`` timed steps (after 3 warm-up steps); returns the timings."""
    import torch

    from skcrossmodal._torch.modules import TwoViewEncoder, symmetric_info_nce

    rank, world = (0, 1) if comm is None else (comm.rank, comm.world_size)
    device = (
        torch.device("cuda", rank)
        if torch.cuda.is_available() and (comm is not None and comm.backend == "nccl")
        else torch.device("cpu")
    )
    torch.manual_seed(0)
    model = TwoViewEncoder(
        X.shape[1],
        y.shape[1],
        n_components,
        (hidden,),
        activation="gelu",
        dropout=0.0,
        normalization="layer",
        decoder=False,
    ).to(device)
    if comm is not None:
        comm.broadcast_module(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    local = global_batch // world
    x_all = torch.from_numpy(X).to(device)
    y_all = torch.from_numpy(y).to(device)
    generator = torch.Generator(device="cpu").manual_seed(rank)
    clock = _Clock(comm) if comm is not None else None

    def step():
        rows = torch.randint(0, X.shape[0], (local,), generator=generator)
        z_x, z_y = model(x_all[rows.to(device)], y_all[rows.to(device)])
        if clock is not None:
            z_x, z_y = clock.gather_with_grad(z_x), clock.gather_with_grad(z_y)
        loss = symmetric_info_nce(z_x, z_y, model.logit_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clock is not None:
            clock.sum_gradients(model.parameters(), replicated=[model.logit_scale])
        optimizer.step()
        model.clamp_logit_scale_()

    for _ in range(3):
        step()
    if clock is not None:
        clock.gather = clock.reduce = 0.0
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "gather": 0.0 if clock is None else clock.gather,
        "reduce": 0.0 if clock is None else clock.reduce,
    }


def _rank_benchmark(X, y, options):
    import torch.distributed as dist

    from skcrossmodal._torch.communicator import ProcessGroupCommunicator

    comm = ProcessGroupCommunicator()
    comm.backend = dist.get_backend()
    return train(X, y, comm=comm, **options)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--backend", default="gloo", choices=["gloo", "nccl"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from skcrossmodal import distributed

    n_samples, steps = (4096, 10) if args.quick else (32768, 30)
    options = {"global_batch": 512, "steps": steps, "hidden": 256, "n_components": 32}
    X, y = make_views(n_samples, 64, 48)
    print(
        f"global batch {options['global_batch']}, {steps} steps, d_x=64, d_y=48, "
        f"hidden={options['hidden']}, n_components={options['n_components']}, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}"
    )
    pairs = options["global_batch"] * steps
    rows = []
    for repeat in range(args.repeats):
        torch.set_num_threads(1)
        one_thread = train(X, y, **options)
        torch.set_num_threads(args.ranks)
        single = train(X, y, **options)
        ranked = distributed.run(
            _rank_benchmark,
            X,
            y,
            options,
            n_processes=args.ranks,
            backend=args.backend,
            n_threads=1,
            timeout=600,
        )
        slowest = max(r["seconds"] for r in ranked)
        gather = np.mean([r["gather"] / r["seconds"] for r in ranked])
        reduce = np.mean([r["reduce"] / r["seconds"] for r in ranked])
        rows.append(
            (
                pairs / single["seconds"],
                pairs / slowest,
                gather,
                reduce,
                pairs / one_thread["seconds"],
            )
        )
        print(
            f"run {repeat}: 1 process x 1 thread {rows[-1][4]:9.0f} pairs/s | "
            f"1 process x {args.ranks} threads "
            f"{rows[-1][0]:9.0f} pairs/s | {args.ranks} ranks x 1 thread "
            f"{rows[-1][1]:9.0f} pairs/s | ratio {rows[-1][1] / rows[-1][0]:.2f} | "
            f"gather {100 * gather:.1f}% of step, grad all-reduce "
            f"{100 * reduce:.1f}%"
        )
    one, many, gather, reduce, alone = np.median(np.array(rows), axis=0)
    print(
        f"median: {args.ranks} threads {one:.0f} vs {args.ranks} ranks {many:.0f} "
        f"pairs/s (ranks / threads = {many / one:.2f}; 1 thread {alone:.0f}); "
        f"gather {100 * gather:.1f}%, all-reduce {100 * reduce:.1f}% of a rank's "
        f"step; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
