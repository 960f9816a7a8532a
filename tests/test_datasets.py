"""Tests of the paired-view generator and the offline loaders."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skcrossmodal import CrossModalEmbedding
from skcrossmodal.datasets import (
    _ACTIVITIES,
    _DIGIT_WORDS,
    _body_to_world,
    _ideal_imu,
    _motion_parameters,
    _pose_and_derivatives,
    _window_features,
    load_digit_views,
    load_sensor_views,
    make_paired_views,
)


# ------------------------------------------------------- make_paired_views ---
def test_make_paired_views_shapes():
    """Both views and the labels have the requested shapes and label range."""
    X, y, labels = make_paired_views(
        40, n_features_x=7, n_features_y=3, n_classes=4, random_state=0
    )
    assert X.shape == (40, 7) and y.shape == (40, 3) and labels.shape == (40,)
    assert set(np.unique(labels)) <= set(range(4))


def test_make_paired_views_is_reproducible():
    """The same seed gives the same data; another seed different data."""
    first = make_paired_views(50, random_state=3)
    again = make_paired_views(50, random_state=3)
    other = make_paired_views(50, random_state=4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first[0], other[0])


def test_noiseless_linear_views_share_exactly_the_latent():
    """With no noise and a linear link, X has rank n_latent and predicts y exactly."""
    X, y, _ = make_paired_views(
        200, n_features_x=12, n_features_y=9, n_latent=4, noise=0.0, random_state=0
    )
    assert np.linalg.matrix_rank(X) == 4
    assert np.linalg.matrix_rank(y) == 4
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(X @ coef, y, atol=1e-8)


def test_noiseless_nonlinear_views_are_not_linearly_related():
    """A nonlinear link leaves y outside the linear span of X."""
    X, y, _ = make_paired_views(
        500,
        n_features_x=30,
        n_features_y=20,
        n_latent=3,
        link="nonlinear",
        noise=0.0,
        random_state=0,
    )
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    residual = np.linalg.norm(X @ coef - y) / np.linalg.norm(y - y.mean(0))
    assert residual > 1e-3
    # tanh of 2 * n_latent hidden units: the view has that rank, not n_latent.
    assert np.linalg.matrix_rank(X) == 6


def test_noise_is_relative_to_each_feature_spread():
    """The added noise has ``noise`` times each feature's signal standard deviation."""
    clean_X, clean_y, _ = make_paired_views(20000, noise=0.0, random_state=1)
    noisy_X, noisy_y, _ = make_paired_views(20000, noise=0.5, random_state=1)
    for clean, noisy in ((clean_X, noisy_X), (clean_y, noisy_y)):
        ratio = (noisy - clean).std(axis=0) / clean.std(axis=0)
        np.testing.assert_allclose(ratio, 0.5, rtol=0.05)


def test_class_weights_set_the_class_proportions():
    """Labels follow the normalised class weights; a zero weight empties a class."""
    _, _, labels = make_paired_views(
        20000, n_classes=3, class_weights=[6, 0, 2], random_state=0
    )
    proportions = np.bincount(labels, minlength=3) / labels.size
    np.testing.assert_allclose(proportions, [0.75, 0.0, 0.25], atol=0.01)


def test_classes_are_visible_in_both_views():
    """Class means differ in the latent, so labels are predictable from either view."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    X, y, labels = make_paired_views(600, n_classes=3, random_state=0)
    for view in (X, y):
        accuracy = LinearDiscriminantAnalysis().fit(view, labels).score(view, labels)
        assert accuracy > 0.6  # chance is about 1/3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"class_weights": [1.0, 2.0]}, "one weight per class"),
        ({"class_weights": [1.0, -1.0, 1.0]}, "non-negative"),
        ({"class_weights": [0.0, 0.0, 0.0]}, "not all zero"),
        ({"link": "cubic"}, "'link' parameter"),
        ({"noise": -0.1}, "'noise' parameter"),
        ({"n_latent": 0}, "'n_latent' parameter"),
    ],
)
def test_make_paired_views_rejects_bad_parameters(kwargs, match):
    """Bad parameters raise a ValueError naming the problem."""
    with pytest.raises(ValueError, match=match):
        make_paired_views(30, random_state=0, **kwargs)


# -------------------------------------------------------- load_digit_views ---
def test_digit_halves_put_the_image_back_together():
    """Left and right halves side by side are exactly the original 8x8 images."""
    X, y = load_digit_views(return_X_y=True)
    images = load_digits().images
    assert X.shape == (1797, 32) and y.shape == (1797, 32)
    rebuilt = np.concatenate([X.reshape(-1, 8, 4), y.reshape(-1, 8, 4)], axis=2)
    np.testing.assert_array_equal(rebuilt, images)


def test_digit_bunch_matches_return_X_y():
    """The Bunch holds the same views as the tuple, plus the digit and DESCR."""
    data = load_digit_views()
    X, y = load_digit_views(return_X_y=True)
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    np.testing.assert_array_equal(data.target, load_digits().target)
    assert "halves" in data.DESCR


def test_captions_name_the_right_digit_and_only_it():
    """Each caption contains a word of its own digit and no word of another digit."""
    data = load_digit_views(kind="captions")
    assert data.X.shape == (1797, 64) and data.y.shape == (1797,)
    np.testing.assert_array_equal(data.X, load_digits().data)
    for caption, digit in zip(data.y, data.target, strict=True):
        words = set(re.findall(r"[a-z]+", caption))
        assert words & set(_DIGIT_WORDS[digit])
        others = {w for d, ws in enumerate(_DIGIT_WORDS) if d != digit for w in ws}
        assert not words & others


def test_captions_vary_but_are_deterministic():
    """Captions of one digit use several templates, identically on every call."""
    first = load_digit_views(kind="captions")
    again = load_digit_views(kind="captions")
    np.testing.assert_array_equal(first.y, again.y)
    sevens = first.y[first.target == 7]
    assert len(set(sevens)) >= 4
    zeros = " ".join(first.y[first.target == 0])
    assert "zero" in zeros and "nought" in zeros


def test_load_digit_views_rejects_unknown_kind():
    """An unknown kind raises a ValueError naming the parameter."""
    with pytest.raises(ValueError, match="'kind' parameter"):
        load_digit_views(kind="quarters")


# ------------------------------------------------------- load_sensor_views ---
def test_sensor_views_shapes_and_description():
    """The Bunch has features, signals, all activities, and says it is simulated."""
    data = load_sensor_views(n_windows=200, window_length=40)
    assert data.X.shape == (200, 30) and data.y.shape == (200, 30)
    assert data.accelerometer.shape == data.gyroscope.shape == (200, 40, 3)
    assert data.feature_names_x.shape == (30,) and data.feature_names_y.shape == (30,)
    assert set(data.target) == set(range(len(_ACTIVITIES)))
    assert "SIMULATED" in data.DESCR


def test_raw_sensor_features_are_the_flattened_signals():
    """features='raw' flattens each window time-major."""
    data = load_sensor_views(n_windows=20, features="raw")
    np.testing.assert_array_equal(data.X, data.accelerometer.reshape(20, -1))
    np.testing.assert_array_equal(data.y, data.gyroscope.reshape(20, -1))
    assert data.feature_names_y[4] == "gyro_y_t1"


def test_sensor_views_are_reproducible():
    """The default seed gives the same windows on every call."""
    X, y = load_sensor_views(n_windows=30, return_X_y=True)
    X_again, y_again = load_sensor_views(n_windows=30, return_X_y=True)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)


def _fine_motion(seed):
    rng = np.random.default_rng(seed)
    params = [_motion_parameters(a, rng) for a in _ACTIVITIES for _ in range(3)]
    params = [np.stack(p) for p in zip(*params, strict=True)]
    step = 1.0 / 4000.0
    return _pose_and_derivatives(params, np.arange(400) * step), step


def test_gyroscope_is_the_body_frame_angular_velocity():
    """The gyroscope equals R^T dR/dt of the orientation (finite differences)."""
    (pose, rate, accel_world), step = _fine_motion(0)
    _, gyro = _ideal_imu(pose, rate, accel_world)
    rotation = _body_to_world(pose[..., 0], pose[..., 1], pose[..., 2])
    skew = np.einsum(
        "...ji,...jk->...ik", rotation, np.gradient(rotation, step, axis=1)
    )
    angular_velocity = np.stack([skew[..., 2, 1], skew[..., 0, 2], skew[..., 1, 0]], -1)
    np.testing.assert_allclose(gyro[:, 2:-2], angular_velocity[:, 2:-2], atol=1e-3)


def test_accelerometer_is_specific_force_in_the_body_frame():
    """The accelerometer is R^T (d2p/dt2 + g up), d2p/dt2 by finite differences."""
    (pose, rate, accel_world), step = _fine_motion(1)
    accel, _ = _ideal_imu(pose, rate, accel_world)
    position = pose[..., 3:]
    numeric = np.gradient(np.gradient(position, step, axis=1), step, axis=1)
    rotation = _body_to_world(pose[..., 0], pose[..., 1], pose[..., 2])
    expected = np.einsum(
        "...ji,...j->...i", rotation, numeric + np.array([0.0, 0.0, 9.81])
    )
    np.testing.assert_allclose(accel[:, 3:-3], expected[:, 3:-3], atol=1e-2)


def test_standing_accelerometer_reads_gravity():
    """At (nearly) rest the accelerometer's norm is g and the gyroscope reads ~0."""
    data = load_sensor_views(n_windows=200)
    standing = data.target == _ACTIVITIES.index("standing")
    norms = np.linalg.norm(data.accelerometer[standing], axis=-1)
    assert abs(norms.mean() - 9.81) < 0.05
    assert np.abs(data.gyroscope[standing]).mean() < 0.2


def test_window_features_of_a_pure_sine():
    """A sine of amplitude 2 at bin 3 gives mean 0, std sqrt(2) and fft3 = 2."""
    t = np.arange(50)
    signal = 2.0 * np.sin(2 * np.pi * 3 * t / 50)
    windows = np.stack([signal, np.zeros(50), np.ones(50)], axis=-1)[None]
    features, names = _window_features(windows, "acc")
    values = dict(zip(names, features[0], strict=True))
    assert values["acc_x_mean"] == pytest.approx(0.0, abs=1e-12)
    assert values["acc_x_std"] == pytest.approx(np.sqrt(2.0))
    assert values["acc_x_fft3"] == pytest.approx(2.0)
    assert values["acc_x_fft2"] == pytest.approx(0.0, abs=1e-12)
    assert values["acc_z_mean"] == pytest.approx(1.0)


def test_sensors_share_information_across_views():
    """A linear embedding retrieves held-out partners far better than chance."""
    X, y = load_sensor_views(n_windows=400, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = CrossModalEmbedding(scale=True).fit(X_train, y_train)
    chance = np.log(len(X_test)) / len(X_test)
    assert model.score(X_test, y_test) > 4 * chance


def test_load_sensor_views_rejects_short_windows():
    """A window too short for the spectrum features raises a ValueError."""
    with pytest.raises(ValueError, match="'window_length' parameter"):
        load_sensor_views(window_length=8)
