"""Per-view encoders of ContrastiveAligner: routing, contract and built-in encoders."""

import inspect
import pickle
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skcrossmodal import ContrastiveAligner
from skcrossmodal.metrics import recall_at_k

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from skcrossmodal._contrastive.plan import ModelSpec  # noqa: E402
from skcrossmodal._torch import modules as models  # noqa: E402
from skcrossmodal._torch.loop import TrainingStep  # noqa: E402
from skcrossmodal.encoders import (  # noqa: E402
    ImageEncoder,
    SeriesEncoder,
    TokenBagEncoder,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Tower(nn.Module):
    """A user's encoder: Linear -> Tanh -> Linear, ``width`` hidden units."""

    def __init__(self, in_features, out_features, width=16):
        super().__init__()
        self.width = width
        self.net = nn.Sequential(
            nn.Linear(in_features, width), nn.Tanh(), nn.Linear(width, out_features)
        )

    def forward(self, x):
        return self.net(x)


class FixedWidth(nn.Module):
    """An encoder that ignores ``out_features``: always ``width`` outputs."""

    def __init__(self, in_features, width=3):
        super().__init__()
        self.linear = nn.Linear(in_features, width)

    def forward(self, x):
        return self.linear(x)


def _views(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = np.tanh(X @ rng.normal(size=(6, 4)))
    return X, y


def _small(**params):
    defaults = {
        "n_components": 4,
        "hidden_layer_sizes": (8,),
        "max_epochs": 3,
        "batch_size": 32,
        "early_stopping": False,
        "device": "cpu",
        "random_state": 0,
    }
    return ContrastiveAligner(**{**defaults, **params})


# ------------------------------------------------------------ "mlp" default ---
# Initial weights of the default MLP encoders, recorded before encoders became
# parameters (commit b4dfb91): sum and first entries of each tensor.
_MLP_SNAPSHOT = {
    "encoder_x.0.weight": (0.5296631102683023, [-0.0642962, -0.0113975, 0.0378823]),
    "encoder_x.0.bias": (0.5186499059200287, [-0.4010261, 0.4359808, 0.4328615]),
    "encoder_x.4.weight": (-1.1268788885790855, [-0.0349306, -0.2236652, -0.2751895]),
    "encoder_x.4.bias": (-0.17264478915603831, [0.218528, -0.2526094, -0.0005622]),
    "encoder_y.0.weight": (-0.5958279650658369, [-0.2409537, 0.0625347, 0.4612305]),
    "encoder_y.0.bias": (1.0378411822021008, [0.1199289, 0.2886696, 0.3779643]),
    "encoder_y.4.weight": (0.9759509758441709, [0.2992146, -0.2879786, -0.2134184]),
    "encoder_y.4.bias": (-0.10780473053455353, [0.3829632, -0.333404, -0.2187079]),
}


@pytest.mark.parametrize("explicit", [False, True])
def test_mlp_encoder_keeps_the_weights_of_before(explicit):
    """x_encoder="mlp" (or nothing) starts from the weights recorded before encoders."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), rng.normal(size=(40, 3))
    extra = {"x_encoder": "mlp", "y_encoder": "mlp"} if explicit else {}
    # A learning rate of 1e-12 moves no float32 weight: the fitted weights
    # are the initial ones.
    model = ContrastiveAligner(
        n_components=4,
        hidden_layer_sizes=(6,),
        activation="gelu",
        dropout=0.1,
        normalization="layer",
        learning_rate=1e-12,
        weight_decay=0.0,
        max_epochs=1,
        batch_size=16,
        early_stopping=False,
        init="random",
        device="cpu",
        random_state=0,
        **extra,
    ).fit(X, y)
    state = model.model_.state_dict()
    for name, (total, first) in _MLP_SNAPSHOT.items():
        assert_allclose(float(state[name].double().sum()), total, rtol=1e-6, atol=1e-7)
        assert_allclose(state[name].flatten()[:3].numpy(), first, atol=1e-7)


# ---------------------------------------------------------------- routing ---
def test_encoder_parameters_are_estimator_parameters():
    """x_encoder__ arguments are seen by get_params, set_params and clone."""
    model = _small(x_encoder=Tower, x_encoder__width=5)
    params = model.get_params()
    assert params["x_encoder"] is Tower
    assert params["x_encoder__width"] == 5
    model.set_params(x_encoder__width=7, y_encoder="token_bag")
    model.set_params(y_encoder__vocabulary_size=11)
    cloned = clone(model)
    assert cloned.get_params()["x_encoder__width"] == 7
    assert cloned.get_params()["y_encoder__vocabulary_size"] == 11
    assert "x_encoder__width=7" in repr(cloned)


def test_init_and_set_params_do_not_validate():
    """scikit-learn's smoke test of __init__/set_params, on the named parameters."""
    names = [
        name
        for name, p in inspect.signature(ContrastiveAligner).parameters.items()
        if p.kind is not p.VAR_KEYWORD
    ]
    assert {"x_encoder", "y_encoder"} <= set(names)
    for value in (-1, 3.0, "helloworld", np.array([1.0, 4.0]), [1], {}, []):
        params = dict.fromkeys(names, value)
        ContrastiveAligner(**params).set_params(**params)
    ContrastiveAligner(x_encoder__anything=object()).set_params(y_encoder__x=[])


def test_unknown_keyword_is_a_type_error():
    """A keyword that is neither a parameter nor routed to an encoder is refused."""
    with pytest.raises(TypeError, match="unexpected keyword argument 'widht'"):
        ContrastiveAligner(widht=3)


def test_class_encoder_gets_its_arguments_and_the_view_widths():
    """A class is built with in_features, out_features and its x_encoder__ values."""
    X, y = _views()
    model = _small(x_encoder=Tower, x_encoder__width=9, init="random").fit(X, y)
    first, last = model.model_.encoder_x.net[0], model.model_.encoder_x.net[2]
    assert (first.in_features, first.out_features) == (6, 9)
    assert last.out_features == 4
    assert model.transform(X).shape == (80, 4)


def test_user_module_is_tuned_by_grid_search():
    """A user's nn.Module trains inside GridSearchCV with its __ parameter tuned."""
    X, y = _views(120)
    search = GridSearchCV(
        _small(x_encoder=Tower, max_epochs=4),
        {"x_encoder__width": [2, 24]},
        cv=2,
    ).fit(X, y)
    widths = [p["x_encoder__width"] for p in search.cv_results_["params"]]
    assert widths == [2, 24]
    best = search.best_params_["x_encoder__width"]
    assert search.best_estimator_.model_.encoder_x.width == best
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_instance_is_copied_not_trained():
    """An instance starts every fit from its own weights and is never trained."""
    X, y = _views()
    torch.manual_seed(0)
    tower = Tower(6, 4, width=5)
    before = {k: v.clone() for k, v in tower.state_dict().items()}
    model = _small(x_encoder=tower, init="random")
    first = model.fit(X, y).transform(X)
    for key, value in tower.state_dict().items():
        assert_array_equal(value, before[key])
    assert model.model_.encoder_x is not tower
    assert_array_equal(clone(model).fit(X, y).transform(X), first)


def test_instance_takes_no_routed_arguments():
    """x_encoder__ values with an instance: a ValueError naming the fix."""
    X, y = _views()
    model = _small(x_encoder=Tower(6, 4), x_encoder__width=3)
    with pytest.raises(ValueError, match="Pass the class"):
        model.fit(X, y)
    assert not hasattr(model, "model_")


def test_class_encoder_is_seeded_and_leaves_global_state():
    """random_state fixes a class encoder's weights; torch's global state is kept."""
    X, y = _views()
    state = torch.random.get_rng_state()
    first = _small(x_encoder=Tower).fit(X, y).transform(X)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(123)  # another global state changes nothing
    assert_array_equal(_small(x_encoder=Tower).fit(X, y).transform(X), first)
    other = _small(x_encoder=Tower, random_state=1).fit(X, y).transform(X)
    assert not np.allclose(other, first)


def test_class_encoder_fits_in_threads_like_serially():
    """Concurrent fits construct their encoders from their own seeds (a lock)."""
    from joblib import Parallel, delayed

    X, y = _views()
    serial = [_small(x_encoder=Tower, random_state=s).fit(X, y) for s in (0, 1)]
    threaded = Parallel(n_jobs=2, backend="threading")(
        delayed(_small(x_encoder=Tower, random_state=s).fit)(X, y) for s in (0, 1)
    )
    for one, other in zip(serial, threaded, strict=True):
        assert_array_equal(one.transform(X), other.transform(X))


def test_bad_encoder_argument_names_the_encoder():
    """An argument the class does not take: TypeError naming the call to fix."""
    X, y = _views()
    with pytest.raises(TypeError, match=r"Building the encoder Tower\(.*depth=3"):
        _small(x_encoder=Tower, x_encoder__depth=3).fit(X, y)


def test_wrong_output_width_is_refused():
    """An encoder whose output is not n_components wide: ValueError at fit."""
    X, y = _views()
    with pytest.raises(ValueError, match=r"maps rows of shape \(2, 6\) to \(2, 3\)"):
        _small(x_encoder=FixedWidth).fit(X, y)
    model = _small(x_encoder=FixedWidth, x_encoder__width=4).fit(X, y)
    assert model.transform(X).shape == (80, 4)


def test_aligner_arguments_are_not_routed():
    """in_features/out_features come from the aligner, not from x_encoder__."""
    X, y = _views()
    with pytest.raises(ValueError, match="x_encoder__out_features is set by"):
        _small(x_encoder=Tower, x_encoder__out_features=3).fit(X, y)
    with pytest.raises(ValueError, match="takes no x_encoder__ parameters"):
        _small(x_encoder__width=3).fit(X, y)


def test_a_non_module_class_is_refused():
    """x_encoder must be a torch.nn.Module class, name or instance."""
    X, y = _views()
    with pytest.raises(TypeError, match="torch.nn.Module subclass"):
        _small(x_encoder=dict).fit(X, y)


def test_custom_encoders_have_no_cca_candidate():
    """init="auto" trains a custom encoder from random; init="cca" is refused."""
    X, y = _views()
    model = _small(x_encoder=Tower, init="auto", early_stopping="auto").fit(X, y)
    assert model.model_.linear_x is None and model.best_epoch_ > 0
    with pytest.raises(ValueError, match="init='cca' adds a linear path"):
        _small(y_encoder=Tower, init="cca").fit(X, y)


def test_warm_start_with_another_encoder_is_refused():
    """warm_start cannot continue with a different encoder class."""
    X, y = _views()
    model = _small(x_encoder=Tower, warm_start=True, init="random").fit(X, y)
    model.set_params(x_encoder="mlp")
    with pytest.raises(ValueError, match="not the encoder the model was trained"):
        model.fit(X, y)
    model.set_params(x_encoder=Tower)
    assert model.fit(X, y).n_iter_ == 6


def test_partial_fit_trains_custom_encoders_one_epoch_at_a_time():
    """partial_fit builds a custom encoder once, then continues its training."""
    X = np.random.default_rng(0).normal(size=(64, 16))
    y = X[:, :3] ** 2
    model = _small(x_encoder="series_cnn", x_encoder__input_shape=(2, 8))
    model.partial_fit(X, y)
    encoder = model.model_.encoder_x
    weights = encoder.head[0].weight.detach().clone()
    model.partial_fit(X, y)
    assert model.model_.encoder_x is encoder and model.n_iter_ == 2
    assert not torch.equal(encoder.head[0].weight, weights)


def test_old_pickles_without_encoder_parameters_load():
    """A pickle made before x_encoder existed loads with both views on "mlp"."""
    X, y = _views()
    state = _small(init="random").fit(X, y).__getstate__()
    for key in ("x_encoder", "y_encoder"):
        del state[key]
    # Such pickles stored the architecture as a dict, without the encoders.
    state["_model_spec"] = {
        k: v
        for k, v in vars(state["_model_spec"]).items()
        if not k.endswith("_encoder")
    }
    loaded = ContrastiveAligner.__new__(ContrastiveAligner)
    loaded.__setstate__(state)
    assert loaded.get_params()["x_encoder"] == "mlp"
    assert loaded.transform(X).shape == (80, 4)


def test_ranks_compare_encoder_instances_by_class():
    """A distributed fit's parameter check sees an encoder instance by its class."""
    from skcrossmodal._torch.communicator import describe_fit

    model = _small(x_encoder=Tower(6, 4), y_encoder=Tower)
    copied = pickle.loads(pickle.dumps(model))  # what another rank holds
    assert describe_fit(model, 6, 4) == describe_fit(copied, 6, 4)
    other = _small(x_encoder=FixedWidth(6), y_encoder=Tower)
    assert describe_fit(model, 6, 4) != describe_fit(other, 6, 4)


# --------------------------------------------------------------- pickling ---
def test_fitted_custom_encoder_pickles():
    """An importable encoder class: the pickle transforms like the original."""
    X, y = _views()
    model = _small(x_encoder=Tower, y_encoder="token_bag", y_encoder__vocabulary_size=9)
    ids = np.random.default_rng(0).integers(0, 9, size=(80, 3))
    model.fit(X, ids)
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.transform(X), model.transform(X))
    assert_array_equal(loaded.transform(X, ids)[1], model.transform(X, ids)[1])


def test_local_encoder_class_says_how_to_pickle():
    """A class defined in a function: PicklingError saying to define it at top level."""

    class Local(Tower):
        pass

    X, y = _views()
    model = _small(x_encoder=Local, init="random").fit(X, y)
    with pytest.raises(pickle.PicklingError, match="top level of a module"):
        pickle.dumps(model)
    with pytest.raises(pickle.PicklingError, match="defined inside a function"):
        pickle.dumps(_small(x_encoder=Local(6, 4)))


# ------------------------------------------------------- integer token ids ---
def test_token_views_keep_integers_and_float_views_cast():
    """Integers go as int64 to a token encoder; an MLP view casts them to float."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 12, size=(60, 5)).astype(np.int32)
    X = rng.normal(size=(60, 4))
    model = _small(y_encoder="token_bag", y_encoder__vocabulary_size=12).fit(X, ids)
    assert_array_equal(model.y_mean_, 0.0)
    assert_array_equal(model.y_scale_, 1.0)
    scores = model.transform(X, ids)[1]
    assert scores.dtype == np.float64 and scores.shape == (60, 4)
    # The MLP reads integer columns as numbers, as before.
    mlp = _small().fit(X, ids)
    assert mlp.transform(X, ids)[1].dtype == np.float64
    assert_allclose(mlp.y_mean_, ids.mean(axis=0))


def test_token_views_refuse_floats_negatives_and_unknown_ids():
    """Float, negative or out-of-vocabulary ids: ValueErrors saying what to pass."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 12, size=(60, 5))
    X = rng.normal(size=(60, 4))
    model = _small(y_encoder="token_bag", y_encoder__vocabulary_size=12)
    with pytest.raises(ValueError, match="reads integer token ids, but y has dtype"):
        model.fit(X, ids.astype(float))
    with pytest.raises(ValueError, match="negative token ids"):
        model.fit(X, ids - 1)
    with pytest.raises(ValueError, match="vocabulary_size=12"):
        model.fit(X, ids + 1)
    assert not hasattr(model, "model_")
    model.fit(X, ids)
    with pytest.raises(ValueError, match="vocabulary_size=12"):
        model.transform(X, ids + 1)


def test_image_and_series_views_are_standardised_per_channel():
    """Conv encoders' views: one mean and scale per channel, from all its values."""
    rng = np.random.default_rng(0)
    scale, shift = np.array([2.0, 0.5]), np.array([1.0, -3.0])
    X = rng.normal(size=(50, 2, 3, 4)) * scale[:, None, None] + shift[:, None, None]
    X[:, 0, 0, 0] = 7.0  # a constant pixel is rescaled with its channel
    rows = X.reshape(50, 24)
    weight = rng.uniform(0.5, 2.0, size=50)
    model = _small(x_encoder="image_cnn", x_encoder__input_shape=(2, 3, 4))
    model.fit(rows, rng.normal(size=(50, 3)), sample_weight=weight)
    for channel in range(2):
        values = X[:, channel].reshape(50, -1)
        mean = np.average(values, axis=0, weights=weight).mean()
        variance = np.average((values - mean) ** 2, axis=0, weights=weight).mean()
        block = slice(12 * channel, 12 * (channel + 1))
        assert_allclose(model.x_mean_[block], mean, rtol=1e-6)
        assert_allclose(model.x_scale_[block], np.sqrt(variance), rtol=1e-6)


# ------------------------------------------------- compile and autocast ---
def test_compile_trains_custom_encoders_like_eager(monkeypatch):
    """compile=True runs custom encoders through torch.compile (aot_eager here)."""
    monkeypatch.setattr(models, "COMPILE_BACKEND", "aot_eager")
    X = np.random.default_rng(0).normal(size=(64, 64))
    y = X[:, :6] @ np.random.default_rng(1).normal(size=(6, 3))
    params = {
        "x_encoder": "image_cnn",
        "x_encoder__input_shape": (1, 8, 8),
        "x_encoder__channels": (4,),
        "y_encoder": Tower,
        "dropout": 0.0,
    }
    eager = _small(**params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled = _small(compile=True, **params).fit(X, y)
    assert_allclose(compiled.loss_curve_, eager.loss_curve_, rtol=1e-4)


def test_autocast_reaches_custom_encoders():
    """Under the step's bf16 autocast a custom encoder computes in bfloat16."""
    spec = {
        "n_features_x": 64,
        "n_features_y": 5,
        "n_components": 4,
        "hidden_layer_sizes": (8,),
        "activation": "gelu",
        "dropout": 0.0,
        "normalization": "layer",
        "decoder": False,
    }
    from skcrossmodal._contrastive.encoder_spec import resolve_encoder

    spec["x_encoder"] = resolve_encoder(
        "image_cnn",
        {"input_shape": (1, 8, 8), "channels": (4,)},
        view="x",
        in_features=64,
        out_features=4,
    )
    spec["y_encoder"] = None
    generator = torch.Generator().manual_seed(0)
    model = models.build_model(ModelSpec(**spec), torch.device("cpu"), generator)
    optimizer = models.make_optimizer(model, 1e-3, 0.0)
    plan = SimpleNamespace(
        reconstruction_weight=0.0,
        autocast=True,  # use_bf16 gives it on CUDA only; forced here
        compile=False,
        loss="infonce",
        max_rows=16,
        device=torch.device("cpu"),
    )
    step = TrainingStep(model, optimizer, models.LocalCommunicator(), plan)
    seen = []
    model.encoder_x.features[0].register_forward_hook(
        lambda module, args, out: seen.append(out.dtype)
    )
    before = model.encoder_x.features[0].weight.detach().clone()
    share = step(torch.randn(16, 64), torch.randn(16, 5), None)
    assert seen == [torch.bfloat16]
    assert torch.isfinite(share)
    assert not torch.equal(model.encoder_x.features[0].weight, before)


# -------------------------------------------------------- built-in encoders ---
def _builtin(name, **params):
    if name == "image":
        return ImageEncoder(3 * 6 * 5, 7, input_shape=(3, 6, 5), **params), (
            torch.randn(4, 90)
        )
    if name == "series":
        return SeriesEncoder(2 * 30, 7, input_shape=(2, 30), **params), torch.randn(
            4, 60
        )
    ids = torch.tensor([[3, 7, 0, 0], [5, 1, 2, 9], [0, 0, 0, 0], [4, 4, 4, 4]])
    return TokenBagEncoder(4, 7, vocabulary_size=10, **params), ids


@pytest.mark.parametrize("name", ["image", "series", "tokens"])
@pytest.mark.parametrize("hidden", [128, None])
def test_builtin_encoder_shapes_and_gradients(name, hidden):
    """(n, d) rows -> (n, out_features); every parameter gets a gradient."""
    torch.manual_seed(0)
    encoder, rows = _builtin(name, hidden=hidden)
    out = encoder(rows)
    assert out.shape == (4, 7) and out.dtype == torch.float32
    (out * torch.randn_like(out)).sum().backward()
    for pname, parameter in encoder.named_parameters():
        assert parameter.grad is not None, pname
        assert parameter.grad.abs().sum() > 0, pname


def test_image_encoder_is_the_conv_pool_conv_pool_linear_network():
    """ImageEncoder is conv -> relu -> pool -> conv -> relu -> pool -> MLP by hand."""
    torch.manual_seed(0)
    encoder = ImageEncoder(3 * 7 * 5, 6, input_shape=(3, 7, 5), channels=(4, 8))
    rows = torch.randn(3, 105)
    conv1, conv2 = encoder.features[0], encoder.features[3]
    h = rows.reshape(3, 3, 7, 5)
    h = F.max_pool2d(
        F.relu(F.conv2d(h, conv1.weight, conv1.bias, padding=1)), 2, 2, ceil_mode=True
    )
    assert h.shape == (3, 4, 4, 3)
    h = F.max_pool2d(
        F.relu(F.conv2d(h, conv2.weight, conv2.bias, padding=1)), 2, 2, ceil_mode=True
    )
    assert h.shape == (3, 8, 2, 2)
    first, last = encoder.head[0], encoder.head[2]
    expected = F.linear(
        F.relu(F.linear(h.flatten(1), first.weight, first.bias)), last.weight, last.bias
    )
    assert_allclose(encoder(rows).detach(), expected.detach(), rtol=1e-5, atol=1e-6)


def test_series_encoder_ignores_where_the_event_is():
    """Shifting an event inside the window leaves the embedding unchanged."""
    torch.manual_seed(0)
    length = 40
    event = torch.zeros(2, length)
    event[0, 10:14] = torch.tensor([1.0, 3.0, -2.0, 0.5])
    event[1, 12] = 2.0
    circular = SeriesEncoder(
        2 * length, 5, input_shape=(2, length), padding_mode="circular"
    )
    zeros = SeriesEncoder(2 * length, 5, input_shape=(2, length), channels=(8, 8))
    for encoder, shifts in ((circular, [-12, 7, 29]), (zeros, [-4, 5, 15])):
        reference = encoder(event.reshape(1, -1))
        for shift in shifts:
            moved = torch.roll(event, shift, dims=1).reshape(1, -1)
            assert_allclose(encoder(moved).detach(), reference.detach(), atol=1e-6)
    # Not a constant map: another event gives another embedding.
    other = torch.roll(event, 1, dims=0).reshape(1, -1)
    assert not torch.allclose(circular(other), circular(event.reshape(1, -1)))


def test_token_bag_ignores_padding_and_order():
    """Padding ids are left out of the mean; the bag does not depend on order."""
    torch.manual_seed(0)
    encoder = TokenBagEncoder(5, 4, vocabulary_size=10, hidden=None)
    a = encoder(torch.tensor([[3, 7, 0, 0, 0]]))
    b = encoder(torch.tensor([[0, 7, 0, 3, 0]]))
    c = TokenBagEncoder.forward(encoder, torch.tensor([[3, 7]]))
    assert_allclose(a.detach(), b.detach(), atol=1e-6)
    assert_allclose(a.detach(), c.detach(), atol=1e-6)
    mean = encoder.bag.weight[[3, 7]].mean(dim=0)
    assert_allclose(a.detach()[0], encoder.head(mean).detach(), atol=1e-6)


@pytest.mark.parametrize(
    ("cls", "params", "match"),
    [
        (ImageEncoder, {"input_shape": (1, 8, 7)}, "hold 56 values"),
        (ImageEncoder, {"input_shape": (1, 8, 8), "kernel_size": 4}, "odd"),
        (SeriesEncoder, {"input_shape": (2, 32), "pooling": "sum"}, "pooling"),
        (SeriesEncoder, {"input_shape": (64,)}, "2 entries"),
        (TokenBagEncoder, {"vocabulary_size": 5, "pad_id": 5}, "pad_id"),
    ],
)
def test_builtin_encoders_refuse_bad_arguments(cls, params, match):
    """Shapes that do not fit the rows, even kernels, unknown modes: ValueError."""
    with pytest.raises(ValueError, match=match):
        cls(64, 4, **params)


# ---------------------------------------------------- small learnable cases ---
def _recall(model, X, y):
    return recall_at_k(*model.transform(X, y), k=1)


def test_image_cnn_learns_where_a_blob_is():
    """CNN on 8x8 images of a blob, aligned with its (row, column): recall@1."""
    rng = np.random.default_rng(0)
    n = 200
    position = rng.uniform(1, 6, size=(n, 2))
    grid = np.arange(8)
    images = np.exp(
        -((grid[None, :, None] - position[:, 0, None, None]) ** 2)
        - (grid[None, None, :] - position[:, 1, None, None]) ** 2
    )
    X = images.reshape(n, 64) + 0.05 * rng.normal(size=(n, 64))
    model = _small(
        x_encoder="image_cnn",
        x_encoder__input_shape=(8, 8),
        max_epochs=30,
        learning_rate=3e-3,
        n_components=8,
    ).fit(X, position)
    assert _recall(model, X, position) > 0.15  # chance: 1 / 200


def test_series_cnn_learns_event_amplitudes_anywhere_in_the_window():
    """1-D CNN on windows with two bumps anywhere, aligned with their sizes."""
    rng = np.random.default_rng(0)
    n, length = 400, 48
    amplitude = rng.uniform(0.5, 3.0, size=(n, 2))
    t = np.arange(length)
    where = rng.uniform(6, length - 6, size=(n, 2))
    windows = amplitude[:, :, None] * np.exp(-0.125 * (t - where[:, :, None]) ** 2)
    X = windows.reshape(n, 2 * length) + 0.05 * rng.normal(size=(n, 2 * length))
    model = _small(
        x_encoder="series_cnn",
        x_encoder__input_shape=(2, length),
        x_encoder__channels=(8,),
        hidden_layer_sizes=(32,),
        max_epochs=20,
        learning_rate=1e-2,
        n_components=8,
    ).fit(X[:300], amplitude[:300])
    assert _recall(model, X[300:], amplitude[300:]) > 0.2  # chance: 1 / 100


def test_token_bag_learns_to_align_captions_with_their_word_counts():
    """Token ids of random 3-word captions, aligned with a map of their counts."""
    rng = np.random.default_rng(0)
    n, vocabulary = 200, 30
    ids = rng.integers(1, vocabulary, size=(n, 3))
    counts = np.zeros((n, vocabulary))
    np.add.at(counts, (np.arange(n)[:, None], ids), 1.0)
    y = counts @ rng.normal(size=(vocabulary, 6))
    model = _small(
        x_encoder="token_bag",
        x_encoder__vocabulary_size=vocabulary,
        max_epochs=30,
        learning_rate=3e-3,
        n_components=8,
    ).fit(ids, y)
    assert _recall(model, ids, y) > 0.3  # chance: 1 / 200


# ------------------------------------------------------------------- CUDA ---
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_custom_encoders_train_under_bf16_and_load_on_cpu(monkeypatch):
    """On a GPU the built-in encoders train under bf16; the pickle loads on a CPU."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 64))
    ids = rng.integers(0, 12, size=(128, 5))
    model = _small(
        device="cuda",
        x_encoder="image_cnn",
        x_encoder__input_shape=(1, 8, 8),
        y_encoder="token_bag",
        y_encoder__vocabulary_size=12,
    ).fit(X, ids)
    assert model.device_.startswith("cuda")
    assert next(model.model_.encoder_x.parameters()).device.type == "cuda"
    assert np.isfinite(model.loss_curve_).all()
    payload = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA is not available here"):
        restored = pickle.loads(payload)
    assert_allclose(restored.transform(X), model.transform(X), atol=1e-5)
    assert_allclose(
        restored.transform(X, ids)[1], model.transform(X, ids)[1], atol=1e-5
    )
