"""Fit configurations of the aligner and the SHA-256 of what each leaves behind.

Used by ``test_aligner_loop.py`` to check that the training loop gives
bit-identical results to the loop it replaced; it imports nothing that the
old code lacked, so that ``python tests/aligner_fingerprints.py`` run against
that code printed the recorded hashes.
"""

import contextlib
import hashlib
import io
import platform
import re

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from skcrossmodal import ContrastiveAligner


class Tower(torch.nn.Module):
    """A small custom encoder (a class, built with x_encoder__ parameters)."""

    def __init__(self, in_features, out_features, width=8):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(in_features, width),
            torch.nn.Tanh(),
            torch.nn.Linear(width, out_features),
        )

    def forward(self, x):
        return self.net(x)


def _views(n=120, n_x=6, n_y=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_x))
    y = np.tanh(X[:, :n_y] + 0.3 * rng.normal(size=(n, n_y)))
    return X, y


def _small(**params):
    defaults = dict(
        n_components=4, hidden_layer_sizes=(16,), max_epochs=3, device="cpu"
    )
    return ContrastiveAligner(**{**defaults, "random_state": 0, **params})


def _default_auto():
    """init="auto" below 10 000 pairs: the K-fold blend."""
    X, y = _views()
    return _small().fit(X, y), X, y


def _auto_with_validation():
    """init="auto" with early stopping: the blend chosen on held-out pairs."""
    X, y = _views(400)
    return _small(early_stopping=True).fit(X, y), X, y


def _random_early_stopping():
    X, y = _views(200)
    model = _small(
        init="random",
        early_stopping=True,
        validation_fraction=0.2,
        max_epochs=8,
        n_iter_no_change=2,
        batch_size=32,
    )
    return model.fit(X, y), X, y


def _cca_start():
    X, y = _views(200)
    model = _small(init="cca", early_stopping=True, reconstruction_weight=0.5)
    return model.fit(X, y), X, y


def _warm_start():
    X, y = _views()
    model = _small(init="random", batch_size=32).fit(X, y)
    model.set_params(warm_start=True, max_epochs=2, learning_rate=5e-4)
    return model.fit(X, y), X, y


def _partial_fit_twice():
    X, y = _views()
    model = _small(batch_size=40)
    model.partial_fit(X[:60], y[:60]).partial_fit(X[60:], y[60:])
    return model, X, y


def _sample_weight():
    X, y = _views()
    weight = np.random.default_rng(1).uniform(0.0, 3.0, size=X.shape[0])
    model = _small(init="random", batch_size=32).fit(X, y, sample_weight=weight)
    return model, X, y


def _uniform_sample_weight():
    X, y = _views()
    weight = np.full(X.shape[0], 2.5)
    model = _small(init="random", batch_size=32).fit(X, y, sample_weight=weight)
    return model, X, y


def _siglip():
    X, y = _views()
    return _small(loss="siglip", init="random", batch_size=32).fit(X, y), X, y


def _image_cnn():
    X, y = _views(n_x=64)
    model = _small(
        x_encoder="image_cnn",
        x_encoder__input_shape=(1, 8, 8),
        x_encoder__channels=(4,),
        x_encoder__hidden=8,
        batch_size=40,
        max_epochs=2,
    )
    return model.fit(X, y), X, y


def _module_class():
    X, y = _views()
    model = _small(x_encoder=Tower, x_encoder__width=5, batch_size=32)
    return model.fit(X, y), X, y


def _verbose():
    X, y = _views(200)
    model = _small(init="random", early_stopping=True, verbose=1, validation_interval=2)
    return model.fit(X, y), X, y


CONFIGURATIONS = {
    "default_auto": _default_auto,
    "auto_with_validation": _auto_with_validation,
    "random_early_stopping": _random_early_stopping,
    "cca_start": _cca_start,
    "warm_start": _warm_start,
    "partial_fit_twice": _partial_fit_twice,
    "sample_weight": _sample_weight,
    "uniform_sample_weight": _uniform_sample_weight,
    "siglip": _siglip,
    "image_cnn": _image_cnn,
    "module_class": _module_class,
    "verbose": _verbose,
}

_TIMING = re.compile(r"[\d,]+ pairs/s, [\d.]+ s, ETA \d+:\d\d:\d\d")


def _sha(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous().numpy()
    if isinstance(value, np.ndarray):
        data = str(value.dtype).encode() + str(value.shape).encode()
        return hashlib.sha256(data + np.ascontiguousarray(value).tobytes()).hexdigest()
    return hashlib.sha256(repr(value).encode()).hexdigest()


def fingerprint(name):
    """SHA-256 of everything a configuration's fit leaves behind."""
    out = io.StringIO()
    # Recorded with one BLAS thread: the host-side CCA of init="auto" sums
    # its means with BLAS, whose last bits depend on the thread count (and
    # so would the biases of the linear paths).
    with contextlib.redirect_stdout(out), threadpool_limits(limits=1, user_api="blas"):
        model, X, y = CONFIGURATIONS[name]()
    prints = {}
    for key, tensor in model.model_.state_dict().items():
        prints[f"model_.{key}"] = _sha(tensor)
    z_x, z_y = model.transform(X, y)
    prints["transform_x"] = _sha(z_x)
    prints["transform_y"] = _sha(z_y)
    prints["predict"] = _sha(model.predict(X))
    prints["n_iter_"] = _sha(model.n_iter_)
    prints["best_epoch_"] = _sha(model.best_epoch_)
    prints["loss_curve_"] = _sha([float(v).hex() for v in model.loss_curve_])
    scores = model.validation_scores_
    prints["validation_scores_"] = _sha(
        None if scores is None else [float(v).hex() for v in scores]
    )
    prints["linear_share_"] = _sha(model.linear_share_)
    prints["stdout"] = _sha(_TIMING.sub("<timing>", out.getvalue()))
    return prints


if __name__ == "__main__":  # print the fingerprints to paste into the test
    import pprint

    print(f"RECORDED_TORCH = {torch.__version__!r}")
    print(f"RECORDED_MACHINE = {platform.machine()!r}")
    print(
        "EXPECTED = "
        + pprint.pformat({name: fingerprint(name) for name in CONFIGURATIONS})
    )
