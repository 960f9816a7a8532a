"""Benchmark ContrastiveAligner against a minimal hand-written torch loop.

Both train the same model (one MLP per view: Linear → LayerNorm → GELU →
Linear, L2-normalised outputs, learnable logit scale), with the same AdamW
settings, batch size and data, for the same number of epochs. The hand loop is
the floor: data already standardised and on the device, a shuffle per epoch,
forward, symmetric InfoNCE, step (torch's default AdamW). ``ContrastiveAligner.fit``
is timed whole (standardisation, moving the data, model set-up, validation,
the ridge read-out at the end), so its overhead shows in the ratio; its epochs
are also timed alone, so that the fixed costs (everything outside the epochs)
are reported.

- default (CPU): per-epoch time of the hand loop, of ``fit`` with
  ``early_stopping=False`` (target <= 1.1x the loop) and of ``fit`` with
  the hand loop's own encoder class passed as ``x_encoder``/``y_encoder``
  (the custom-encoder path; target <= 1.1x the loop); then, at n = 200 000
  (``--large-n``, ``--large-epochs``), the hand loop, ``fit`` with
  ``early_stopping=False``, ``fit`` with the defaults (early stopping on,
  ``max_validation_size="auto"``: 2 000 held-out pairs on the CPU; target
  <= 1.2x the loop and validation <= 5 % of fit time) and ``fit`` with the
  GPU cap of 10 000 held-out pairs, for comparison;
- ``--gpu``: n = 1 000 000, d = 256, hidden 1024, n_components 256, batch 4096,
  10 epochs on CUDA (bf16 autocast): the hand loop, ``fit`` with
  ``early_stopping=False``, with the hand loop's encoder class, with the
  defaults (early stopping on, 10 000 held-out pairs), and with
  ``compile=True`` -- pairs per second, seconds per epoch, fixed costs,
  peak GPU memory and the share of fit time spent scoring the validation
  pairs. ``--device cpu`` runs the same code path on the CPU
  (with ``--quick``, as a smoke test where no GPU is present).

"valid %" is the time spent in validation scoring over the whole fit time,
measured by timing every call of the scoring function; "ratio" is seconds per
epoch (fixed costs included) over the hand loop's; "steady pairs/s" uses the
median epoch after the first (compiling and warm-up excluded).

Run: ``python benchmarks/bench_contrastive.py`` (or ``--gpu``; ``--quick`` for
smaller sizes; ``--threads 1`` for steadier CPU timings on a busy machine).
"""

import argparse
import math
import os
import sys
import time
import warnings

import numpy as np


def make_views(n_samples, n_features, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)).astype(np.float32)
    mixing = rng.normal(size=(n_features, n_features)).astype(np.float32)
    y = np.tanh(X @ mixing / np.sqrt(n_features)) + 0.1 * rng.normal(
        size=(n_samples, n_features)
    ).astype(np.float32)
    return X, y.astype(np.float32)


def hand_encoder_class(torch):
    """The hand loop's encoder as a class, for ``x_encoder=`` (same modules)."""
    from torch import nn

    class HandEncoder(nn.Sequential):
        """Linear -> LayerNorm -> GELU -> Linear, the aligner's default MLP."""

        def __init__(self, in_features, out_features, hidden):
            super().__init__(
                nn.Linear(in_features, hidden),
                nn.LayerNorm(hidden),
                nn.GELU(),
                nn.Linear(hidden, out_features),
            )

    return HandEncoder


def hand_written_epochs(
    torch, X, y, *, hidden, n_components, batch_size, epochs, device, bf16
):
    """The minimal loop; returns each epoch's seconds (data already on device)."""
    from torch import nn
    from torch.nn import functional as F

    encoder_class = hand_encoder_class(torch)

    def encoder(n_in):
        return encoder_class(n_in, n_components, hidden).to(device)

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
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
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
        seconds.append(time.perf_counter() - start)
    return seconds


class _Timer:
    """Times each call of ``models.<name>`` during a fit (synchronising CUDA).

    ``argument`` is the index of a positional argument whose device
    (``device_of(argument)``, by default its ``.device``) is synchronised after
    the call, so that asynchronous GPU work is counted.
    """

    def __init__(self, torch, models, name, argument, device_of=None):
        self.torch, self.models = torch, models
        self.name, self.argument = name, argument
        self.device_of = device_of or (lambda tensor: tensor.device)
        self.seconds = []

    def __enter__(self):
        original = self.original = getattr(self.models, self.name)
        torch, argument = self.torch, self.argument

        def timed(*args, **kwargs):
            start = time.perf_counter()
            result = original(*args, **kwargs)
            device = torch.device(self.device_of(args[argument]))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            self.seconds.append(time.perf_counter() - start)
            return result

        setattr(self.models, self.name, timed)
        return self

    def __exit__(self, *exc):
        setattr(self.models, self.name, self.original)


def aligner_fit(
    torch, X, y, *, hidden, n_components, batch_size, epochs, device, **params
):
    """Time a whole ``fit``: (total s, each epoch's s, s in validation, model)."""
    from skcrossmodal import ContrastiveAligner
    from skcrossmodal._torch import modules as _torch_models
    from skcrossmodal._torch.loop import TrainingLoop

    defaults = {
        "hidden_layer_sizes": (hidden,),
        "dropout": 0.0,
        "batch_size": batch_size,
        "max_epochs": epochs,
        "early_stopping": False,
        "n_iter_no_change": epochs + 1,
        "device": device,
        "random_state": 0,
    }
    model = ContrastiveAligner(n_components, **{**defaults, **params})
    epochs_timer = _Timer(
        torch, TrainingLoop, "run_epoch", 0, device_of=lambda loop: loop.plan.device
    )
    validation_timer = _Timer(torch, _torch_models, "validation_mrr", 1)
    with epochs_timer, validation_timer:
        start = time.perf_counter()
        with warnings.catch_warnings():
            # A compile fallback warns; the row then shows eager speed.
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", DeprecationWarning)
            model.fit(X, y)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    assert model.n_iter_ == epochs, (model.n_iter_, epochs)
    return elapsed, epochs_timer.seconds, sum(validation_timer.seconds), model


def _peak_memory(torch, device):
    if torch.device(device).type != "cuda":
        return math.nan
    return torch.cuda.max_memory_allocated() / 2**30


def _reset_peak(torch, device):
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def measure(torch, rows, X, y, *, config, repeat):
    """Best-of-``repeat`` timings of each row; interleaved so load hits all alike."""
    dev = torch.device(config["device"])
    sizes = {k: config[k] for k in ("hidden", "n_components", "batch_size")}
    epochs = config["epochs"]
    results = {name: [] for name, _ in rows}
    for _ in range(repeat):
        for name, params in rows:
            _reset_peak(torch, dev)
            if params is None:
                per_epoch = hand_written_epochs(
                    torch,
                    X,
                    y,
                    **sizes,
                    epochs=epochs,
                    device=dev,
                    bf16=dev.type == "cuda",
                )
                total, in_validation = sum(per_epoch), 0.0
            else:
                if params.get("x_encoder") == "hand":
                    # The custom-encoder path with the hand loop's modules.
                    cls = hand_encoder_class(torch)
                    params = {
                        **params,
                        "x_encoder": cls,
                        "y_encoder": cls,
                        "x_encoder__hidden": sizes["hidden"],
                        "y_encoder__hidden": sizes["hidden"],
                    }
                total, per_epoch, in_validation, _ = aligner_fit(
                    torch, X, y, **sizes, epochs=epochs, device=str(dev), **params
                )
            # Steady state: the median epoch after the first (which pays for
            # warm-up and, with compile=True, for compiling).
            steady = float(np.median(per_epoch[1:] or per_epoch))
            results[name].append(
                (total, sum(per_epoch), in_validation, steady, _peak_memory(torch, dev))
            )
    return {name: min(values) for name, values in results.items()}


def print_table(results, n, epochs, baseline="hand-written loop"):
    print(
        f"{'':36}{'s/epoch':>9}{'pairs/s':>13}{'fixed s':>9}{'ratio':>7}"
        f"{'valid %':>9}{'steady pairs/s':>16}{'peak GiB':>10}"
    )
    floor = results[baseline][0] / epochs
    for name, (total, in_epochs, in_validation, steady, memory) in results.items():
        per_epoch = total / epochs
        fixed = total - in_epochs
        memory_text = "-" if math.isnan(memory) else f"{memory:.2f}"
        print(
            f"{name:36}{per_epoch:9.3f}{n / per_epoch:13,.0f}{fixed:9.2f}"
            f"{per_epoch / floor:7.2f}{in_validation / total:9.1%}"
            f"{n / steady:16,.0f}{memory_text:>10}"
        )


def print_targets(results, targets, baseline="hand-written loop"):
    """One line per ``(row, kind, bound)``: the measured value, met or not."""
    floor, floor_steady = results[baseline][0], results[baseline][3]
    for name, kind, bound in targets:
        if name not in results:
            continue
        total, _, in_validation, steady, _ = results[name]
        if kind == "ratio":
            value, met = total / floor, total / floor <= bound
            text = f"{value:.2f} x the hand loop (target <= {bound} x)"
        elif kind == "speed-up":
            # The step's speed: steady-state epochs (compiling excluded).
            value = floor_steady / steady
            met = value >= bound
            text = (
                f"{value:.2f} x the hand loop's steady pairs/s (target >= {bound} x;"
                f" {floor / total:.2f} x counting the whole fit)"
            )
        else:
            value, met = in_validation / total, in_validation / total <= bound
            text = f"validation {value:.1%} of fit time (target <= {bound:.0%})"
        print(f"  {name}: {text}: {'met' if met else 'NOT met'}")


def main():
    if "--distributed" in sys.argv[1:]:
        # 2 gloo ranks x 1 thread against 1 process x 2 threads: the options
        # that follow are bench_distributed.py's.
        sys.argv.remove("--distributed")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_distributed

        return bench_distributed.main()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="n=1e6, d=256 on CUDA")
    parser.add_argument(
        "--device", default=None, help="override the device (e.g. cpu with --gpu)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="epochs of the first table"
    )
    parser.add_argument(
        "--large-n", type=int, default=200_000, help="pairs of the CPU defaults table"
    )
    parser.add_argument(
        "--large-epochs", type=int, default=3, help="epochs of that table"
    )
    parser.add_argument(
        "--large-repeat", type=int, default=1, help="runs of that table (best of)"
    )
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    if args.gpu:
        device = args.device or "cuda"
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            sys.exit(
                "No CUDA GPU is available (torch.cuda.is_available() is False): "
                "the --gpu benchmark needs one (or --device cpu --quick for a "
                "smoke test of its code path). Run without --gpu for the CPU table."
            )
        config = {
            "n": 20_000 if args.quick else 1_000_000,
            "d": 32 if args.quick else 256,
            "hidden": 64 if args.quick else 1024,
            "n_components": 16 if args.quick else 256,
            "batch_size": 512 if args.quick else 4096,
            "epochs": args.epochs or (2 if args.quick else 10),
            "device": device,
        }
        rows = [
            ("hand-written loop", None),
            ("fit, early_stopping=False", {}),
            ("fit, x_encoder=hand loop's class", {"x_encoder": "hand"}),
            ("fit, defaults", {"early_stopping": "auto"}),
            ("fit, compile=True", {"compile": True}),
        ]
        repeat = args.repeat or 1
    else:
        config = {
            "n": 4_096 if args.quick else 20_480,
            "d": 64,
            "hidden": 256,
            "n_components": 32,
            "batch_size": 256,
            "epochs": args.epochs or (3 if args.quick else 10),
            "device": args.device or "cpu",
        }
        rows = [
            ("hand-written loop", None),
            ("fit, early_stopping=False", {}),
            ("fit, x_encoder=hand loop's class", {"x_encoder": "hand"}),
        ]
        repeat = args.repeat or 3
    where = (
        torch.cuda.get_device_name()
        if torch.device(config["device"]).type == "cuda"
        else "CPU"
    )
    print(
        f"ContrastiveAligner vs hand-written torch loop on {where} "
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads)"
    )
    X, y = make_views(config["n"], config["d"])
    print(
        f"n={config['n']}, d={config['d']}, hidden={config['hidden']}, "
        f"n_components={config['n_components']}, batch={config['batch_size']}, "
        f"{config['epochs']} epochs, best of {repeat}; fixed s = fit time "
        "outside the epochs; ratio = s/epoch over the hand loop's"
    )
    results = measure(torch, rows, X, y, config=config, repeat=repeat)
    print_table(results, config["n"], config["epochs"])
    targets = [
        ("fit, early_stopping=False", "ratio", 1.1),
        ("fit, x_encoder=hand loop's class", "ratio", 1.1),
    ]
    if args.gpu:
        targets += [
            ("fit, defaults", "ratio", 1.2),
            ("fit, defaults", "validation", 0.05),
            ("fit, compile=True", "speed-up", 2.0),
        ]
        print("targets:")
        print_targets(results, targets)
        return
    print("targets:")
    print_targets(results, targets)
    # Early stopping with the defaults (validation every epoch on at most
    # max_validation_size="auto" pairs) against none, at a size where
    # early_stopping="auto" turns it on.
    config = {
        **config,
        "n": 20_000 if args.quick else args.large_n,
        "epochs": args.large_epochs,
    }
    X, y = make_views(config["n"], config["d"])
    print(
        f"\nn={config['n']}, {config['epochs']} epochs, best of "
        f"{args.large_repeat}: the defaults "
        "(early stopping, validation every epoch) against none"
    )
    rows = [
        ("hand-written loop", None),
        ("fit, early_stopping=False", {}),
        ("fit, defaults", {"early_stopping": "auto"}),
        (
            "fit, max_validation_size=10_000",
            {"early_stopping": "auto", "max_validation_size": 10_000},
        ),
    ]
    results = measure(torch, rows, X, y, config=config, repeat=args.large_repeat)
    print_table(results, config["n"], config["epochs"])
    print("targets:")
    print_targets(
        results,
        [
            ("fit, early_stopping=False", "ratio", 1.1),
            ("fit, defaults", "ratio", 1.2),
            ("fit, defaults", "validation", 0.05),
            ("fit, max_validation_size=10_000", "ratio", 1.2),
            ("fit, max_validation_size=10_000", "validation", 0.05),
        ],
    )


if __name__ == "__main__":
    main()
