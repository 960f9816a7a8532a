"""
===========================================
Raw sensor windows: a 1-D CNN on each view
===========================================

An inertial measurement unit's accelerometer and gyroscope watch the same
motion. The usual route summarises each window by hand-made features (per
axis: mean, standard deviation and spectrum amplitudes, as in
:ref:`sphx_glr_auto_examples_plot_sensor_alignment.py`) and aligns those. A
convolutional encoder can instead read the raw samples:
:class:`~skcrossmodal.encoders.SeriesEncoder` slides learned filters over
the window and pools each filter's response over time, so it sees an event
wherever in the window it happens.

Each window is one row of ``channels * length`` values (channel by channel);
the encoder reshapes it with ``input_shape=(channels, length)``. The windows
are **simulated** by :func:`~skcrossmodal.datasets.load_sensor_views`.
"""

# %%
# Raw windows and their features
# ------------------------------
import importlib.util

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from skcrossmodal.datasets import load_sensor_views
from skcrossmodal.metrics import recall_at_k

data = load_sensor_views(n_windows=1500, window_length=50, random_state=0)
n_windows, length, channels = data.accelerometer.shape


def channel_rows(signal):
    """(windows, time, axes) -> rows of axis 0's samples, then axis 1's, ..."""
    return np.moveaxis(signal, 2, 1).reshape(len(signal), -1)


raw_accel, raw_gyro = channel_rows(data.accelerometer), channel_rows(data.gyroscope)
print(f"raw rows: {raw_accel.shape}; spectral features: {data.X.shape}")

# One row of each view, as the encoder receives it: three axes one after the
# other.
fig, axes = plt.subplots(2, 1, figsize=(7, 3.5), sharex=True)
rows_and_units = zip(axes, (raw_accel[0], raw_gyro[0]), ("m/s²", "rad/s"), strict=True)
for ax, row, unit in rows_and_units:
    ax.plot(row)
    for boundary in (length, 2 * length):
        ax.axvline(boundary, color="k", linewidth=0.5)
    ax.set_ylabel(unit)
axes[0].set_title(f"One {data.target_names[data.target[0]]} window as two rows")
axes[1].set_xlabel("column (x axis, then y, then z; 50 samples each)")
fig.tight_layout()
plt.show()
split = train_test_split(
    raw_accel,
    raw_gyro,
    data.X,
    data.y,
    data.target,
    test_size=0.3,
    stratify=data.target,
    random_state=0,
)
(acc_train, acc_test, gyro_train, gyro_test) = split[:4]
(feat_x_train, feat_x_test, feat_y_train, feat_y_test) = split[4:8]
activity_test = split[9]
n_test = len(acc_test)
print(f"{n_test} test windows; chance recall@1 {1 / n_test:.4f}")


def recall_both_ways(model, X, y):
    """Recall@1 of accelerometer -> gyroscope and gyroscope -> accelerometer."""
    X_scores, y_scores = model.transform(X, y)
    return tuple(
        recall_at_k(X_scores, y_scores, k=1, direction=direction)
        for direction in ("x_to_y", "y_to_x")
    )


# %%
# The FFT-feature MLP and the raw-window CNN
# ------------------------------------------
# Both are :class:`~skcrossmodal.ContrastiveAligner`, trained alike; only the
# encoders differ. ``x_encoder="series_cnn"`` builds a
# :class:`~skcrossmodal.encoders.SeriesEncoder` per view, its arguments given
# as ``x_encoder__`` / ``y_encoder__`` parameters. Each sensor's axes are
# standardised as whole channels (not sample by sample), so a time step is
# never rescaled apart from its neighbours.
scores = {}
if importlib.util.find_spec("torch") is None:
    print("torch is not installed: skipping ContrastiveAligner.")
else:
    import torch

    from skcrossmodal import ContrastiveAligner

    torch.set_num_threads(1)  # small networks: one thread is fastest
    common = dict(
        n_components=16,
        learning_rate=3e-3,
        batch_size=128,
        max_epochs=60,
        early_stopping=False,
        init="random",
        device="cpu",
        random_state=0,
    )
    mlp = ContrastiveAligner(hidden_layer_sizes=(128,), **common)
    mlp.fit(feat_x_train, feat_y_train)
    scores["MLP on FFT features"] = recall_both_ways(mlp, feat_x_test, feat_y_test)

    # One layer of 64 filters half a second long (25 samples at 50 Hz): a
    # filter must span a cycle of the motion to tell its rhythm; the mean of
    # its response over the window plays the part of a spectral amplitude.
    series = {
        "input_shape": (channels, length),
        "channels": (64,),
        "kernel_size": 25,
        "pooling": "mean",
    }
    cnn = ContrastiveAligner(
        x_encoder="series_cnn",
        y_encoder="series_cnn",
        **{f"{view}_encoder__{k}": v for view in "xy" for k, v in series.items()},
        **common,
    ).fit(acc_train, gyro_train)
    scores["1-D CNN on raw windows"] = recall_both_ways(cnn, acc_test, gyro_test)

    for name, (forward, backward) in scores.items():
        print(
            f"{name:>24s}: recall@1 accelerometer -> gyroscope {forward:.3f}, "
            f"gyroscope -> accelerometer {backward:.3f}"
        )

# %%
# Recall@1 both ways
# ------------------
# Each test window of one sensor looks for the other sensor's recording of
# the same moment among all test windows. Hand-made spectral features are a
# strong baseline on these windows (the simulation's activities differ in
# their rhythms, which is what the spectrum summarises); the CNN comes close
# to it from the raw samples alone, with no feature engineering. Short
# filters (two layers of 5 samples) did far worse here: they see no rhythm.
if scores:
    fig, ax = plt.subplots(figsize=(6, 3))
    positions = np.arange(len(scores))
    ax.bar(positions - 0.2, [s[0] for s in scores.values()], 0.4, label="acc -> gyro")
    ax.bar(positions + 0.2, [s[1] for s in scores.values()], 0.4, label="gyro -> acc")
    ax.axhline(1 / n_test, color="k", linestyle="--", label="chance")
    ax.set_xticks(positions, list(scores))
    ax.set_ylabel("recall@1 (test windows)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.show()

# %%
# The shared space of the raw-window encoders
# -------------------------------------------
# Test windows of both sensors in the first two principal axes of the CNN's
# shared space (accelerometer: circles, gyroscope: triangles), coloured by
# activity, each window's two sensors joined.
# Standing windows gather apart; walking, running and turning share the rest
# of the picture, where most lines are short: the encoders place each window,
# not only its activity.
if scores:
    from matplotlib.colors import ListedColormap

    from skcrossmodal.plotting import SharedSpaceDisplay

    colours = ListedColormap(plt.cm.tab10.colors[: len(data.target_names)])
    display = SharedSpaceDisplay.from_estimator(
        cnn,
        acc_test,
        gyro_test,
        n_pairs=80,
        labels=activity_test,
        name="1-D CNN",
        cmap=colours,
    )
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colour)
        for colour in colours.colors
    ]
    display.ax_.legend(handles, data.target_names, title="activity", fontsize=8)
    display.ax_.set_title("Accelerometer and gyroscope windows, one space")
    plt.show()
