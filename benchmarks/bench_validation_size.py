"""Does early stopping on 2 000 held-out pairs keep the epochs 10 000 would?

``ContrastiveAligner(max_validation_size="auto")`` scores 2 000 held-out pairs
on the CPU (10 000 on a GPU). This trains one model with 20 000 held-out pairs
and scores, after every epoch, the first 10 000 of them (the GPU cap), the
first 5 000, five disjoint sets of 2 000 (the CPU cap) and, as the judge, the
other 10 000 (a test set no selector sees). For each selector it replays the
stopping rule (best epoch kept, patience ``p`` epochs, ``tol=1e-4``) and prints
the test MRR of the epoch it keeps.

Two synthetic problems (a shared 12-dimensional latent seen through tanh and
sin maps, 64 features per view, Gaussian noise):

- ``slow``: 60 000 training pairs, noise 1.0, the default model (dropout 0.1):
  the score creeps up for tens of epochs;
- ``overfit``: 8 572 training pairs, noise 0.7, hidden 512 and no dropout:
  the score peaks after a few epochs and then falls.

Run: ``python benchmarks/bench_validation_size.py slow --epochs 30`` (about 4
minutes on one idle CPU thread) or ``overfit --epochs 40``.
"""

import argparse
import time

import numpy as np


def make_problem(n_samples, noise, seed=0):
    rng = np.random.default_rng(seed)
    n_features, n_latent = 64, 12
    latent = rng.normal(size=(n_samples, n_latent))
    X = np.tanh(latent @ rng.normal(size=(n_latent, n_features)) / 2)
    y = np.sin(latent @ rng.normal(size=(n_latent, n_features)) / 2)
    X += noise * rng.normal(size=X.shape)
    y += noise * rng.normal(size=y.shape)
    return X.astype(np.float32), y.astype(np.float32)


SCENARIOS = {
    # n pairs, noise, validation_fraction (20 000 held out), model parameters
    "slow": (80_000, 1.0, 0.25, {}),
    "overfit": (28_572, 0.7, 0.7, {"dropout": 0.0, "hidden_layer_sizes": (512,)}),
}


def replay_stopping(curve, patience, tol=1e-4):
    """(epoch kept, epoch stopped), 0-based, by ContrastiveAligner's rule."""
    best, kept, stall = -np.inf, 0, 0
    for epoch, score in enumerate(curve):
        improved = score > best + tol
        if score > best:
            best, kept = score, epoch
        stall = 0 if improved else stall + 1
        if stall >= patience:
            break
    return kept, epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    from skcrossmodal import ContrastiveAligner
    from skcrossmodal._torch import modules as _torch_models
    from skcrossmodal._torch import ranks as _torch_ranks

    torch.set_num_threads(args.threads)
    n_samples, noise, fraction, params = SCENARIOS[args.scenario]
    X, y = make_problem(n_samples, noise)
    selectors = {"10 000 (GPU cap)": slice(0, 10_000), "5 000": slice(0, 5_000)}
    for i in range(5):
        selectors[f"2 000 (CPU cap) #{i + 1}"] = slice(2_000 * i, 2_000 * (i + 1))
    curves = {name: [] for name in selectors}
    test_curve = []
    scored = _torch_models.validation_mrr

    def mrr(z_x, z_y):
        weight = torch.ones(z_x.shape[0], dtype=torch.float64)
        x_to_y, norm = _torch_ranks.reciprocal_rank_sums(z_x, z_y, 0, weight)
        y_to_x, _ = _torch_ranks.reciprocal_rank_sums(z_y, z_x, 0, weight)
        return float(0.5 * (x_to_y + y_to_x) / norm)

    def recording(model, x, y, weight, comm):
        model.eval()
        z_x = _torch_models.embed_rows(model.embed_x, x)
        z_y = _torch_models.embed_rows(model.embed_y, y)
        for name, rows in selectors.items():
            curves[name].append(mrr(z_x[rows], z_y[rows]))
        test_curve.append(mrr(z_x[10_000:], z_y[10_000:]))
        # Training runs every epoch: the score it sees does not matter here.
        return torch.tensor(curves["10 000 (GPU cap)"][-1])

    _torch_models.validation_mrr = recording
    start = time.perf_counter()
    try:
        ContrastiveAligner(
            max_epochs=args.epochs,
            n_iter_no_change=args.epochs + 1,
            early_stopping=True,
            validation_fraction=fraction,
            max_validation_size=20_000,
            device="cpu",
            random_state=0,
            **params,
        ).fit(X, y)
    finally:
        _torch_models.validation_mrr = scored
    test = np.array(test_curve)
    print(
        f"{args.scenario}: {n_samples - 20_000} training pairs, {len(test)} epochs "
        f"in {time.perf_counter() - start:.0f} s; test MRR (10 000 other held-out "
        f"pairs) from {test.min():.4f} to {test.max():.4f}, best at epoch "
        f"{test.argmax() + 1}"
    )
    patiences = (5, 10, 20)
    print(
        f"{'scored pairs':22}{'corr. with test':>16}"
        + "".join(f"{f'p={p}: kept/stop, test MRR':>30}" for p in patiences)
    )
    for name, curve in curves.items():
        row = f"{name:22}{np.corrcoef(curve, test)[0, 1]:16.4f}"
        for patience in patiences:
            kept, stopped = replay_stopping(curve, patience)
            row += f"{f'{kept + 1}/{stopped + 1}, {test[kept]:.4f}':>30}"
        print(row)


if __name__ == "__main__":
    main()
