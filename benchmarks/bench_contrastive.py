"""Benchmark ContrastiveAligner against a minimal hand-written torch loop.

Both train the same model (one MLP per view: Linear → LayerNorm → GELU →
Linear, L2-normalised outputs, learnable logit scale), with the same AdamW
settings, batch size and data, for the same number of epochs. The hand loop is
the floor: data already standardised and on the device, a shuffle per epoch,
forward, symmetric InfoNCE, step. ``ContrastiveAligner.fit`` is timed whole
(validation, standardisation, moving the data, model set-up, the ridge
read-out at the end), so its overhead shows in the ratio.

- default (CPU): time per epoch of each and the ratio (target <= 1.1x);
- ``--gpu``: n = 1 000 000, d = 256, batch 4096 on CUDA (bf16 autocast for
  both), pairs per second of each; exits with a message when no GPU is present.

Run: ``python benchmarks/bench_contrastive.py`` (or ``--gpu``; ``--quick`` for
smaller sizes; ``--threads 1`` for steadier CPU timings on a busy machine).
"""

import argparse
import math
import sys
import time

import numpy as np


def make_views(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)).astype(np.float32)
    mixing = rng.normal(size=(n_features, n_features)).astype(np.float32)
    y = np.tanh(X @ mixing / np.sqrt(n_features)) + 0.1 * rng.normal(
        size=(n_samples, n_features)
    ).astype(np.float32)
    return X, y.astype(np.float32)


def hand_written_epochs(
    torch, X, y, *, hidden, n_components, batch_size, epochs, device, bf16
):
    """The minimal loop; returns seconds spent training (data already on device)."""
    from torch import nn
    from torch.nn import functional as F

    def encoder(n_in):
        return nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Linear(hidden, n_components),
        ).to(device)

    torch.manual_seed(0)
    f, g = encoder(X.shape[1]), encoder(y.shape[1])
    logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07), device=device))
    matrices = [p for p in [*f.parameters(), *g.parameters()] if p.ndim == 2]
    others = [p for p in [*f.parameters(), *g.parameters()] if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": matrices, "weight_decay": 1e-4},
            {"params": [*others, logit_scale], "weight_decay": 0.0},
        ],
        lr=1e-3,
    )
    x_all = torch.from_numpy((X - X.mean(0)) / X.std(0)).to(device)
    y_all = torch.from_numpy((y - y.mean(0)) / y.std(0)).to(device)
    n = x_all.shape[0]
    targets = torch.arange(batch_size, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(epochs):
        permutation = torch.randperm(n, device=device)
        for rows in permutation.split(batch_size):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                z_x = F.normalize(f(x_all[rows]), dim=1)
                z_y = F.normalize(g(y_all[rows]), dim=1)
                logits = (logit_scale.exp() * z_x @ z_y.T).float()
                loss = 0.5 * (
                    F.cross_entropy(logits, targets[: len(rows)])
                    + F.cross_entropy(logits.T, targets[: len(rows)])
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                logit_scale.clamp_(max=math.log(100))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def aligner_epochs(X, y, *, hidden, n_components, batch_size, epochs, device):
    from skcrossmodal import ContrastiveAligner

    model = ContrastiveAligner(
        n_components,
        hidden_layer_sizes=(hidden,),
        dropout=0.0,
        batch_size=batch_size,
        max_epochs=epochs,
        early_stopping=False,
        n_iter_no_change=epochs + 1,
        device=device,
        random_state=0,
    )
    start = time.perf_counter()
    model.fit(X, y)
    elapsed = time.perf_counter() - start
    assert model.n_iter_ == epochs
    return elapsed


def run(torch, *, n, d, hidden, n_components, batch_size, epochs, device, repeat):
    X, y = make_views(n, d)
    dev = torch.device(device)
    bf16 = dev.type == "cuda"
    sizes = {"hidden": hidden, "n_components": n_components, "batch_size": batch_size}
    hand, ours = [], []
    for _ in range(repeat):  # interleaved, so that load changes hit both alike
        hand.append(
            hand_written_epochs(
                torch, X, y, **sizes, epochs=epochs, device=dev, bf16=bf16
            )
        )
        ours.append(aligner_epochs(X, y, **sizes, epochs=epochs, device=device))
    return min(hand) / epochs, min(ours) / epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="CUDA, n=1e6, d=256")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    if args.gpu:
        if not torch.cuda.is_available():
            sys.exit(
                "No CUDA GPU is available (torch.cuda.is_available() is False): "
                "the --gpu benchmark needs one. Run without --gpu for the CPU "
                "table."
            )
        config = {
            "n": 100_000 if args.quick else 1_000_000,
            "d": 256,
            "hidden": 1024,
            "n_components": 256,
            "batch_size": 4096,
            "epochs": 2,
            "device": "cuda",
        }
    else:
        config = {
            "n": 4_096 if args.quick else 20_480,
            "d": 64,
            "hidden": 256,
            "n_components": 32,
            "batch_size": 256,
            "epochs": 10,
            "device": "cpu",
        }
    hand, ours = run(torch, **config, repeat=args.repeat)
    pairs = config["n"]
    where = torch.cuda.get_device_name() if args.gpu else "CPU"
    print(
        f"ContrastiveAligner vs hand-written torch loop on {where} "
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads)"
    )
    print(
        f"n={pairs}, d={config['d']}, hidden={config['hidden']}, "
        f"n_components={config['n_components']}, batch={config['batch_size']}, "
        f"{config['epochs']} epochs, best of {args.repeat}"
    )
    print(f"{'':28}{'s/epoch':>10}{'pairs/s':>14}")
    print(f"{'hand-written loop':28}{hand:10.3f}{pairs / hand:14,.0f}")
    print(f"{'ContrastiveAligner.fit':28}{ours:10.3f}{pairs / ours:14,.0f}")
    target = "" if args.gpu else " (target <= 1.1)"
    print(f"{'ratio (aligner / loop)':28}{ours / hand:10.2f}{target}")


if __name__ == "__main__":
    main()
