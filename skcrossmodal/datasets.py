"""Paired two-view datasets: a synthetic generator and offline loaders.

Every function returns two views whose row i describes the same event: a
synthetic pair with a known shared latent (:func:`make_paired_views`), two views
of scikit-learn's bundled handwritten digits (:func:`load_digit_views`), and
simulated accelerometer and gyroscope windows of one motion
(:func:`load_sensor_views`). Nothing is downloaded.
"""

import numbers

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state

from ._compat import IntegerInterval, Interval, StrOptions, validate_params

__all__ = [
    "load_digit_quadrants",
    "load_digit_views",
    "load_sensor_views",
    "make_multiview",
    "make_paired_views",
]


# ---------------------------------------------------------------- synthetic ---
def _class_proportions(class_weights, n_classes):
    if class_weights is None:
        return np.full(n_classes, 1.0 / n_classes)
    weights = np.asarray(class_weights, dtype=np.float64)
    if weights.shape != (n_classes,):
        raise ValueError(
            f"class_weights must hold one weight per class ({n_classes}); got "
            f"shape {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(
            "class_weights must be finite, non-negative and not all zero; got "
            f"{weights.tolist()}."
        )
    return weights / weights.sum()


def _link(latent, n_features, link, rng):
    """Map the latent into one view: a random linear map, or tanh then linear."""
    n_latent = latent.shape[1]
    if link == "nonlinear":
        hidden = rng.normal(size=(n_latent, 2 * n_latent)) / np.sqrt(n_latent)
        latent = np.tanh(latent @ hidden)
    mixing = rng.normal(size=(latent.shape[1], n_features)) / np.sqrt(latent.shape[1])
    return latent @ mixing


def _add_relative_noise(signal, noise, rng):
    # Each feature's noise is scaled by that feature's own signal spread, so that
    # ``noise`` is a signal-to-noise knob independent of the random map.
    scale = noise * signal.std(axis=0)
    return signal + rng.normal(size=signal.shape) * scale


@validate_params(
    {
        "n_samples": [IntegerInterval(2, None, closed="left")],
        "n_features_x": [IntegerInterval(1, None, closed="left")],
        "n_features_y": [IntegerInterval(1, None, closed="left")],
        "n_latent": [IntegerInterval(1, None, closed="left")],
        "link": [StrOptions({"linear", "nonlinear"})],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "n_classes": [IntegerInterval(1, None, closed="left")],
        "class_weights": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_paired_views(
    n_samples=500,
    *,
    n_features_x=20,
    n_features_y=15,
    n_latent=5,
    link="linear",
    noise=0.1,
    n_classes=3,
    class_weights=None,
    random_state=None,
):
    """Generate two views of one shared latent, with class labels.

    The generative model, for each sample ``i``:

    1. a class ``c_i`` is drawn with probabilities ``class_weights``;
    2. a latent ``z_i = m_{c_i} + e_i`` of ``n_latent`` dimensions, where the
       class means ``m_c ~ N(0, 1.5^2 I)`` and ``e_i ~ N(0, I)`` (a Gaussian
       mixture, so the classes overlap but are visible in the latent);
    3. each view is a function of the same latent: ``f_X(z) = z A_X`` and
       ``f_y(z) = z A_y`` for ``link="linear"``, or ``f_X(z) = tanh(z B_X) A_X``
       (and likewise for y, with independent maps) for ``link="nonlinear"``;
       all maps have independent ``N(0, 1 / fan_in)`` entries;
    4. independent Gaussian noise is added to every feature, with standard
       deviation ``noise`` times the standard deviation of that feature's
       noiseless values: ``X_ij = f_X(z_i)_j + noise * std_j * eps_ij``.

    Parameters
    ----------
    n_samples : int, default=500
        Number of pairs.
    n_features_x : int, default=20
        Number of features of the first view.
    n_features_y : int, default=15
        Number of features of the second view.
    n_latent : int, default=5
        Dimension of the shared latent: the most components the views share.
    link : {"linear", "nonlinear"}, default="linear"
        How the latent is mapped into each view (step 3).
    noise : float, default=0.1
        Noise level relative to each feature's signal spread; 0 gives exact,
        noiseless views.
    n_classes : int, default=3
        Number of mixture components (classes) of the latent.
    class_weights : array-like of shape (n_classes,), default=None
        Relative class frequencies (normalised to sum to one), for imbalanced
        classes; ``None`` draws classes uniformly.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw (classes, latent, maps, noise).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features_x)
        First view.
    y : ndarray of shape (n_samples, n_features_y)
        Second view; row i is the partner of ``X[i]``.
    labels : ndarray of shape (n_samples,)
        Class of each pair, integers in ``[0, n_classes)``.

    Examples
    --------
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal.datasets import make_paired_views
    >>> X, y, labels = make_paired_views(300, noise=0.05, random_state=0)
    >>> X.shape, y.shape, labels.shape
    ((300, 20), (300, 15), (300,))
    >>> model = CrossModalEmbedding(n_components=5, whiten=True).fit(X, y)
    >>> bool(model.score(X, y) > 0.9)
    True
    """
    rng = check_random_state(random_state)
    proportions = _class_proportions(class_weights, n_classes)
    labels = rng.choice(n_classes, size=n_samples, p=proportions)
    class_means = rng.normal(scale=1.5, size=(n_classes, n_latent))
    latent = class_means[labels] + rng.normal(size=(n_samples, n_latent))
    X = _add_relative_noise(_link(latent, n_features_x, link, rng), noise, rng)
    y = _add_relative_noise(_link(latent, n_features_y, link, rng), noise, rng)
    return X, y, labels


# ------------------------------------------------------------------- digits ---
_DIGIT_WORDS = (
    ("zero", "nought"),
    ("one",),
    ("two",),
    ("three",),
    ("four",),
    ("five",),
    ("six",),
    ("seven",),
    ("eight",),
    ("nine",),
)

_CAPTION_TEMPLATES = (
    "a handwritten {word}",
    "the digit {word}",
    "a scanned {word}",
    "the number {word} written by hand",
    "a small image of a {word}",
    "{word}, drawn with a pen",
)

_DIGITS_DESCR = """\
Two views of scikit-learn's handwritten digits
----------------------------------------------

The 1797 8x8 grey-level images of ``sklearn.datasets.load_digits`` (pixel
values 0-16, ten classes), shipped with scikit-learn, split into two views of
the same image, row by row:

- ``kind="halves"``: X holds the left four columns of each image and y the
  right four (32 pixels each, read row by row). The views share the digit's
  identity and its stroke, so each half can find its other half.
- ``kind="captions"``: X holds all 64 pixels and y a short English caption of
  the label, such as "a handwritten seven" or "the digit seven". The caption
  templates (and "zero"/"nought") are drawn with a fixed seed, so the text
  varies between images but is the same on every call. Captions only know the
  class, so retrieval is judged by class: any caption of the right digit is a
  correct match. Vectorise the captions (for example ``TfidfVectorizer``
  followed by ``TruncatedSVD``) inside a ``skcrossmodal.TwoViewPipeline``.

``target`` is the digit (0-9) of each row.
"""


def _digit_captions(target):
    rng = np.random.default_rng(0)  # fixed: the same captions on every call
    templates = rng.integers(len(_CAPTION_TEMPLATES), size=target.shape[0])
    synonym_draws = rng.integers(2, size=target.shape[0])
    captions = []
    for digit, template, draw in zip(target, templates, synonym_draws, strict=True):
        words = _DIGIT_WORDS[digit]
        word = words[draw % len(words)]
        captions.append(_CAPTION_TEMPLATES[template].format(word=word))
    return np.asarray(captions)


@validate_params(
    {"kind": [StrOptions({"halves", "captions"})], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_digit_views(*, kind="halves", return_X_y=False):
    """Load two paired views of scikit-learn's bundled handwritten digits.

    Offline: the images ship with scikit-learn.

    Parameters
    ----------
    kind : {"halves", "captions"}, default="halves"
        ``"halves"``: X is the left half of each 8x8 image (32 pixels) and y the
        right half (32 pixels). ``"captions"``: X is the whole image (64
        pixels) and y a short English caption of its digit.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (ndarray of shape (1797, 32) or (1797, 64)), ``y`` (ndarray of
        shape (1797, 32), or of shape (1797,) holding strings), ``target``
        (the digit of each row) and ``DESCR``.
    (X, y) : tuple
        When ``return_X_y`` is True.

    Examples
    --------
    >>> from skcrossmodal.datasets import load_digit_views
    >>> X, y = load_digit_views(return_X_y=True)
    >>> X.shape, y.shape
    ((1797, 32), (1797, 32))
    >>> data = load_digit_views(kind="captions")
    >>> data.X.shape, data.y.shape, int(data.target[7])
    ((1797, 64), (1797,), 7)
    >>> "seven" in data.y[7]
    True
    """
    digits = load_digits()
    images, target = digits.images, digits.target
    n_samples = images.shape[0]
    if kind == "halves":
        X = images[:, :, :4].reshape(n_samples, -1)
        y = images[:, :, 4:].reshape(n_samples, -1)
    else:
        X = images.reshape(n_samples, -1)
        y = _digit_captions(target)
    if return_X_y:
        return X, y
    return Bunch(X=X, y=y, target=target, DESCR=_DIGITS_DESCR)


# ------------------------------------------------------------------ sensors ---
_GRAVITY = 9.81  # m/s^2
_SAMPLING_RATE = 50.0  # Hz
_ACTIVITIES = ("standing", "walking", "running", "turning")
# Each pose signal is offset + rate * t + sum_k amp_k sin(freq_k t + phase_k);
# the signals are roll, pitch, yaw (rad) and the position x, y, z (m).
_N_SIGNALS, _N_WAVES = 6, 2
_ROLL, _PITCH, _YAW, _PX, _PY, _PZ = range(_N_SIGNALS)
_N_SPECTRUM_BINS = 8


def _motion_parameters(activity, rng):
    """Pose of one window as offsets, rates and sinusoids (see ``_ACTIVITIES``)."""
    offset = np.zeros(_N_SIGNALS)
    rate = np.zeros(_N_SIGNALS)
    amp = np.zeros((_N_SIGNALS, _N_WAVES))
    freq = np.zeros((_N_SIGNALS, _N_WAVES))  # angular frequency, rad/s
    phase = rng.uniform(0, 2 * np.pi, size=(_N_SIGNALS, _N_WAVES))
    # How the device sits on the body: tilted a little, facing anywhere.
    offset[[_ROLL, _PITCH]] = rng.uniform(-0.3, 0.3, size=2)
    offset[_YAW] = rng.uniform(0, 2 * np.pi)

    def wave(signal, k, amplitude, hertz):
        amp[signal, k], freq[signal, k] = amplitude, 2 * np.pi * hertz

    if activity == "standing":  # physiological tremor and slow postural sway
        tremor = rng.uniform(4.0, 8.0)
        for signal in (_ROLL, _PITCH, _YAW):
            wave(signal, 0, rng.uniform(0.001, 0.005), tremor)
            wave(signal, 1, rng.uniform(0.01, 0.03), rng.uniform(0.2, 0.5))
        wave(_PX, 0, rng.uniform(0.002, 0.01), rng.uniform(0.2, 0.5))
    elif activity in ("walking", "running"):  # bounce and sway at the step rate
        running = activity == "running"
        step = rng.uniform(2.6, 3.2) if running else rng.uniform(1.6, 2.2)
        wave(
            _PITCH,
            0,
            rng.uniform(0.2, 0.35) if running else rng.uniform(0.08, 0.15),
            step,
        )
        wave(
            _ROLL,
            0,
            rng.uniform(0.06, 0.12) if running else rng.uniform(0.03, 0.06),
            step / 2,
        )
        wave(_YAW, 0, rng.uniform(0.03, 0.08), step / 2)
        wave(
            _PZ,
            0,
            rng.uniform(0.05, 0.09) if running else rng.uniform(0.02, 0.04),
            step,
        )
        wave(_PY, 0, rng.uniform(0.01, 0.03), step / 2)
        rate[_PX] = rng.uniform(3.0, 4.0) if running else rng.uniform(1.0, 1.6)
    else:  # turning: walking around a circle, heading along the path
        yaw_rate = rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.2)
        radius = rng.uniform(1.0, 3.0)
        rate[_YAW] = yaw_rate
        # Position on the circle at angle yaw - pi/2 (sign-adjusted) makes the
        # velocity point along the heading, as when walking round a bend.
        centre_phase = offset[_YAW] - np.sign(yaw_rate) * np.pi / 2
        for signal, shift in ((_PX, np.pi / 2), (_PY, 0.0)):
            amp[signal, 0] = radius
            freq[signal, 0] = yaw_rate
            phase[signal, 0] = centre_phase + shift
        step = rng.uniform(1.6, 2.0)
        wave(_PITCH, 1, rng.uniform(0.03, 0.08), step)
        wave(_PZ, 1, rng.uniform(0.01, 0.03), step)
    return offset, rate, amp, freq, phase


def _pose_and_derivatives(params, t):
    """Pose signals and their first two time derivatives, in closed form.

    ``params`` are stacked ``(offset, rate, amp, freq, phase)`` over windows;
    the results have shape ``(n_windows, n_times, n_signals)``.
    """
    offset, rate, amp, freq, phase = params
    angle = freq[:, None] * t[None, :, None, None] + phase[:, None]
    amp, freq = amp[:, None], freq[:, None]
    value = offset[:, None] + rate[:, None] * t[None, :, None]
    value = value + (amp * np.sin(angle)).sum(-1)
    first = rate[:, None] + (amp * freq * np.cos(angle)).sum(-1)
    second = -(amp * freq**2 * np.sin(angle)).sum(-1)
    return value, first, second


def _body_to_world(roll, pitch, yaw):
    """Rotation matrices ``Rz(yaw) Ry(pitch) Rx(roll)``, shape ``(..., 3, 3)``."""
    cr, sr = np.cos(roll), np.sin(roll)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    return np.stack(
        [
            np.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], -1),
            np.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], -1),
            np.stack([-sp, cp * sr, cp * cr], -1),
        ],
        -2,
    )


def _ideal_imu(pose, pose_rate, pose_accel):
    """Noiseless gyroscope and accelerometer readings of a rigid body's motion.

    The gyroscope measures the angular velocity in the body frame, obtained
    from the Euler angle rates; the accelerometer measures the specific force,
    the body's linear acceleration minus gravity, rotated into the body frame
    (at rest it reads +9.81 m/s^2 along the world's up axis).
    """
    roll, pitch, yaw = (pose[..., i] for i in (_ROLL, _PITCH, _YAW))
    droll, dpitch, dyaw = (pose_rate[..., i] for i in (_ROLL, _PITCH, _YAW))
    gyro = np.stack(
        [
            droll - dyaw * np.sin(pitch),
            dpitch * np.cos(roll) + dyaw * np.cos(pitch) * np.sin(roll),
            -dpitch * np.sin(roll) + dyaw * np.cos(pitch) * np.cos(roll),
        ],
        -1,
    )
    specific_force = pose_accel[..., [_PX, _PY, _PZ]] + np.array([0, 0, _GRAVITY])
    rotation = _body_to_world(roll, pitch, yaw)
    accel = np.einsum("...ji,...j->...i", rotation, specific_force)  # R^T f
    return accel, gyro


def _simulate_imu(activities, window_length, rng, *, accel_noise, gyro_noise):
    """Accelerometer and gyroscope signals, ``(n_windows, window_length, 3)``."""
    params = [_motion_parameters(_ACTIVITIES[a], rng) for a in activities]
    params = [np.stack(p) for p in zip(*params, strict=True)]
    t = np.arange(window_length) / _SAMPLING_RATE
    accel, gyro = _ideal_imu(*_pose_and_derivatives(params, t))
    accel = accel + accel_noise * rng.normal(size=accel.shape)
    gyro = gyro + gyro_noise * rng.normal(size=gyro.shape)
    return accel, gyro


def _window_features(signals, prefix):
    """Per axis: mean, standard deviation and the low-frequency amplitude spectrum.

    The spectrum (bins 1-8 of the window's real FFT, scaled to amplitudes)
    carries the step rate and its strength, which both sensors see.
    """
    n_bins = min(_N_SPECTRUM_BINS, signals.shape[1] // 2)
    spectrum = np.abs(np.fft.rfft(signals, axis=1))[:, 1 : n_bins + 1]
    spectrum *= 2.0 / signals.shape[1]
    columns, names = [], []
    for axis, axis_name in enumerate("xyz"):
        columns += [signals[:, :, axis].mean(1)[:, None]]
        columns += [signals[:, :, axis].std(1)[:, None], spectrum[:, :, axis]]
        names += [f"{prefix}_{axis_name}_mean", f"{prefix}_{axis_name}_std"]
        names += [f"{prefix}_{axis_name}_fft{b}" for b in range(1, n_bins + 1)]
    return np.hstack(columns), np.asarray(names, dtype=object)


_SENSORS_DESCR = """\
Simulated accelerometer and gyroscope windows
---------------------------------------------

SIMULATED data, not recordings. Each window is one second (by default) of a
rigid body's motion sampled at 50 Hz, seen by two sensors of one inertial
measurement unit:

- the gyroscope measures the body-frame angular velocity (rad/s), computed in
  closed form from the Euler angle rates of the simulated orientation;
- the accelerometer measures the specific force (m/s^2): the linear
  acceleration minus gravity, rotated into the body frame, so a device at rest
  reads 9.81 m/s^2 along the world's up axis.

Both are derived from the same motion, so they are physically consistent, and
each gets independent white noise (0.05 m/s^2 and 0.01 rad/s). Four activities
(``target``) have different motion patterns, with per-window random
amplitudes, rates and device orientation:

- standing: tremor at 4-8 Hz and slow postural sway;
- walking: bounce and pitch at a step rate of 1.6-2.2 Hz, sway at half of it;
- running: the same at 2.6-3.2 Hz with larger amplitudes;
- turning: walking round a circle of 1-3 m radius at 0.6-1.2 rad/s (yaw rate
  and centripetal acceleration).

With ``features="summary"`` each sensor axis is summarised by its mean,
standard deviation and the amplitudes of the first eight bins of its
spectrum; with ``features="raw"`` the signals are flattened.
"""


@validate_params(
    {
        "n_windows": [IntegerInterval(2, None, closed="left")],
        "window_length": [IntegerInterval(16, None, closed="left")],
        "random_state": ["random_state"],
        "return_X_y": ["boolean"],
        "features": [StrOptions({"summary", "raw"})],
    },
    prefer_skip_nested_validation=True,
)
def load_sensor_views(
    *,
    n_windows=600,
    window_length=50,
    random_state=0,
    return_X_y=False,
    features="summary",
):
    """Simulate paired accelerometer and gyroscope windows of one shared motion.

    The data are SIMULATED (nothing is recorded or downloaded): for every
    window a rigid-body motion of one of four activities is drawn, and both
    sensors' readings are derived from it with the physics described in
    ``DESCR``, plus sensor noise.

    Parameters
    ----------
    n_windows : int, default=600
        Number of windows (pairs); activities are drawn uniformly.
    window_length : int, default=50
        Samples per window, at 50 Hz (50 is one second).
    random_state : int, RandomState instance or None, default=0
        Seed of the simulation.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    features : {"summary", "raw"}, default="summary"
        ``"summary"``: per axis, the mean, the standard deviation and the
        amplitudes of spectrum bins 1-8 (30 features per sensor at the default
        window length). ``"raw"``: the window's samples, flattened time-major
        (``3 * window_length`` features per sensor).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (accelerometer features), ``y`` (gyroscope features), ``target``
        (activity index), ``target_names``, ``feature_names_x``,
        ``feature_names_y``, the signals ``accelerometer`` (m/s^2) and
        ``gyroscope`` (rad/s) of shape ``(n_windows, window_length, 3)``,
        ``sampling_rate`` (Hz) and ``DESCR``.
    (X, y) : tuple
        When ``return_X_y`` is True.

    Examples
    --------
    >>> from skcrossmodal.datasets import load_sensor_views
    >>> data = load_sensor_views(n_windows=100)
    >>> data.X.shape, data.y.shape, data.accelerometer.shape
    ((100, 30), (100, 30), (100, 50, 3))
    >>> list(data.target_names)
    ['standing', 'walking', 'running', 'turning']
    """
    rng = check_random_state(random_state)
    activities = rng.randint(len(_ACTIVITIES), size=n_windows)
    accel, gyro = _simulate_imu(
        activities, window_length, rng, accel_noise=0.05, gyro_noise=0.01
    )
    if features == "summary":
        X, names_x = _window_features(accel, "acc")
        y, names_y = _window_features(gyro, "gyro")
    else:
        X, y = accel.reshape(n_windows, -1), gyro.reshape(n_windows, -1)
        time_axis = [(i, a) for i in range(window_length) for a in "xyz"]
        names_x = np.asarray([f"acc_{a}_t{i}" for i, a in time_axis], dtype=object)
        names_y = np.asarray([f"gyro_{a}_t{i}" for i, a in time_axis], dtype=object)
    if return_X_y:
        return X, y
    return Bunch(
        X=X,
        y=y,
        target=activities,
        target_names=np.asarray(_ACTIVITIES, dtype=object),
        feature_names_x=names_x,
        feature_names_y=names_y,
        accelerometer=accel,
        gyroscope=gyro,
        sampling_rate=_SAMPLING_RATE,
        DESCR=_SENSORS_DESCR,
    )


# --------------------------------------------------------------- K views ---
@validate_params(
    {
        "n_samples": [IntegerInterval(1, None, closed="left")],
        "n_views": [IntegerInterval(2, None, closed="left")],
        "n_features": [IntegerInterval(1, None, closed="left"), "array-like"],
        "n_latent": [IntegerInterval(1, None, closed="left")],
        "n_private": [IntegerInterval(0, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "missing_rate": [Interval(numbers.Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_multiview(
    n_samples=500,
    *,
    n_views=3,
    n_features=10,
    n_latent=3,
    n_private=2,
    noise=0.1,
    missing_rate=0.0,
    random_state=None,
):
    """Generate K views of one shared latent, each with private structure.

    The generative model, for each sample ``i`` and view ``k``:

    1. a shared latent ``z_i ~ N(0, I)`` of ``n_latent`` dimensions, and a
       private latent ``p_ik ~ N(0, I)`` of ``n_private`` dimensions per view;
    2. ``x_ik = z_i A_k + p_ik B_k``, with independent ``N(0, 1 / fan_in)``
       maps, so that the private factors are as strong as the shared ones
       and a method must tell them apart;
    3. independent Gaussian noise on every feature, of standard deviation
       ``noise`` times that feature's noiseless standard deviation;
    4. with ``missing_rate > 0``, each view of each row is removed (set to
       NaN) independently with that probability (missing completely at
       random); a row that would lose every view keeps one, drawn at random.

    Parameters
    ----------
    n_samples : int, default=500
        Number of rows.
    n_views : int, default=3
        Number of views K.
    n_features : int or array-like of int, default=10
        Features of every view, or of each view.
    n_latent : int, default=3
        Dimension of the latent shared by all views.
    n_private : int, default=2
        Dimension of each view's private latent.
    noise : float, default=0.1
        Noise level relative to each feature's signal spread.
    missing_rate : float, default=0.0
        Probability that a view is missing from a row, in ``[0, 1)``.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw.

    Returns
    -------
    X : ndarray of shape (n_samples, sum of n_features)
        The views side by side; a missing view is all NaN in its columns.
    views : dict of str to slice
        The columns of each view (``"view0"``, ``"view1"``, ...), ready for
        the ``views`` parameter of :class:`~skcrossmodal.MultiViewCCA`.
    latent : ndarray of shape (n_samples, n_latent)
        The shared latent.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import MultiViewCCA
    >>> from skcrossmodal.datasets import make_multiview
    >>> X, views, latent = make_multiview(
    ...     300, n_views=4, missing_rate=0.2, random_state=0)
    >>> X.shape, list(views), latent.shape
    ((300, 40), ['view0', 'view1', 'view2', 'view3'], (300, 3))
    >>> bool(np.isnan(X[:, views["view1"]]).all(axis=1).any())
    True
    >>> model = MultiViewCCA(views, n_components=3).fit(X)
    >>> bool(model.canonical_correlations_.min() > 0.9)
    True
    """
    rng = check_random_state(random_state)
    widths = np.broadcast_to(np.asarray(n_features), (n_views,)).astype(int)
    if np.any(widths < 1):
        raise ValueError(f"n_features must be positive; got {n_features!r}.")
    latent = rng.normal(size=(n_samples, n_latent))
    blocks = []
    for width in widths:
        signal = latent @ rng.normal(scale=n_latent**-0.5, size=(n_latent, width))
        if n_private:
            private = rng.normal(size=(n_samples, n_private))
            signal += private @ rng.normal(
                scale=n_private**-0.5, size=(n_private, width)
            )
        blocks.append(_add_relative_noise(signal, noise, rng))
    if missing_rate > 0:
        missing = rng.uniform(size=(n_samples, n_views)) < missing_rate
        empty = np.flatnonzero(missing.all(axis=1))
        missing[empty, rng.randint(n_views, size=empty.size)] = False
        for k, block in enumerate(blocks):
            block[missing[:, k]] = np.nan
    bounds = np.concatenate([[0], np.cumsum(widths)])
    views = {
        f"view{k}": slice(int(bounds[k]), int(bounds[k + 1])) for k in range(n_views)
    }
    return np.hstack(blocks), views, latent


_QUADRANTS = {
    "top_left": (slice(0, 4), slice(0, 4)),
    "top_right": (slice(0, 4), slice(4, 8)),
    "bottom_left": (slice(4, 8), slice(0, 4)),
    "bottom_right": (slice(4, 8), slice(4, 8)),
}

_QUADRANTS_DESCR = """\
Four views of scikit-learn's handwritten digits
-----------------------------------------------

The 1797 8x8 grey-level images of ``sklearn.datasets.load_digits`` (pixel
values 0-16, ten classes), shipped with scikit-learn. ``X`` holds the 64
pixels read row by row (column ``"r{row}c{col}"``); ``views`` splits them
into the four 4x4 quadrants (``top_left``, ``top_right``, ``bottom_left``,
``bottom_right``, 16 pixels each). The quadrants of one image share its
digit and its stroke, so each can find the others. ``target`` is the digit.
"""


def load_digit_quadrants(*, as_frame=False):
    """Load the four quadrants of scikit-learn's digits as four views of one X.

    Offline: the images ship with scikit-learn.

    Parameters
    ----------
    as_frame : bool, default=False
        Return ``X`` as a pandas DataFrame with columns ``"r{row}c{col}"``,
        and the views as lists of those names.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (ndarray or DataFrame of shape (1797, 64)), ``views`` (dict
        from quadrant name to its 16 column indices, or names), ``target``
        (the digit of each row), ``feature_names`` and ``DESCR``.

    Examples
    --------
    >>> from skcrossmodal import MultiViewCCA
    >>> from skcrossmodal.datasets import load_digit_quadrants
    >>> data = load_digit_quadrants()
    >>> data.X.shape, list(data.views)
    ((1797, 64), ['top_left', 'top_right', 'bottom_left', 'bottom_right'])
    >>> model = MultiViewCCA(data.views, n_components=8).fit(data.X)
    >>> model.transform(data.X).shape
    (1797, 32)
    >>> frame = load_digit_quadrants(as_frame=True)
    >>> frame.views["top_left"][:3]
    ['r0c0', 'r0c1', 'r0c2']
    """
    digits = load_digits()
    X = digits.images.reshape(digits.images.shape[0], -1)
    names = [f"r{row}c{col}" for row in range(8) for col in range(8)]
    grid = np.arange(64).reshape(8, 8)
    views = {
        name: grid[rows, cols].ravel() for name, (rows, cols) in _QUADRANTS.items()
    }
    if as_frame:
        import pandas as pd  # optional dependency, needed only here

        X = pd.DataFrame(X, columns=names)
        views = {name: [names[j] for j in columns] for name, columns in views.items()}
    return Bunch(
        X=X,
        views=views,
        target=digits.target,
        feature_names=names,
        DESCR=_QUADRANTS_DESCR,
    )
