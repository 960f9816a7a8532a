"""
==========================================
Accelerometer and gyroscope: sensor views
==========================================

An inertial measurement unit carries two sensors that watch the same motion:
the accelerometer (specific force, m/s²) and the gyroscope (angular velocity,
rad/s). Aligning them lets one sensor's windows be searched with the other's,
and lets the gyroscope be predicted when only the accelerometer is present.

The windows here are **simulated** (see
:func:`~skcrossmodal.datasets.load_sensor_views`): one rigid-body motion per
window, of four activities, with both sensors' readings derived from it with
the physics of an IMU plus sensor noise. Each sensor axis is summarised by its
mean, its standard deviation and the amplitudes of the first bins of its
spectrum.
"""

# %%
# The two sensors
# ---------------
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, SharedLatentRegression, TwoViewPipeline
from skcrossmodal.datasets import load_sensor_views
from skcrossmodal.metrics import recall_at_k
from skcrossmodal.plotting import RecallAtKDisplay, SharedSpaceDisplay

data = load_sensor_views(n_windows=800, random_state=0)
print(f"accelerometer features: {data.X.shape}, gyroscope features: {data.y.shape}")

time = np.arange(data.accelerometer.shape[1]) / data.sampling_rate
fig, axes = plt.subplots(2, 4, figsize=(10, 4.5), sharex=True, sharey="row")
for col, activity in enumerate(data.target_names):
    window = np.flatnonzero(data.target == col)[0]
    for row, (signal, unit) in enumerate(
        [(data.accelerometer, "m/s²"), (data.gyroscope, "rad/s")]
    ):
        axes[row, col].plot(time, signal[window])
        axes[row, 0].set_ylabel(f"{('accelerometer', 'gyroscope')[row]}\n({unit})")
    axes[0, col].set_title(activity)
    axes[1, col].set_xlabel("time (s)")
axes[0, -1].legend(["x", "y", "z"], loc="upper right", fontsize=8)
fig.suptitle("One simulated window per activity: both sensors see one motion")
fig.tight_layout()
plt.show()

# %%
# Align the sensors
# -----------------
# Both views are standardised inside a
# :class:`~skcrossmodal.TwoViewPipeline`, so the scaling of each sensor is
# learned from the training windows only. We compare canonical correlation
# analysis (:class:`~skcrossmodal.CrossModalEmbedding` with ``whiten=True``)
# with :class:`~skcrossmodal.SharedLatentRegression`, a rank-10 ridge map from
# accelerometer to gyroscope.
X_train, X_test, y_train, y_test, act_train, act_test = train_test_split(
    data.X, data.y, data.target, test_size=0.3, stratify=data.target, random_state=0
)


def standardised(estimator):
    return TwoViewPipeline(
        estimator, x_transformer=StandardScaler(), y_transformer=StandardScaler()
    )


models = {
    "CCA": standardised(CrossModalEmbedding(n_components=10, whiten=True, reg=0.1)),
    "SharedLatentRegression": standardised(
        SharedLatentRegression(n_components=10, alpha=10.0)
    ),
}
n_test = X_test.shape[0]
print(f"{n_test} test windows; a random guess has MRR ~ {np.log(n_test) / n_test:.3f}")
for name, model in models.items():
    model.fit(X_train, y_train)
    X_scores, y_scores = model.transform(X_test, y_test)
    print(
        f"{name:>24s}: MRR {model.score(X_test, y_test):.3f}, "
        f"recall@10 {recall_at_k(X_scores, y_scores, k=10):.3f}"
    )

# %%
# Each test window of one sensor queries all test windows of the other: the
# true partner is the window recorded at the same moment, not merely one of
# the same activity. Recall@k in both directions:
fig, ax = plt.subplots(figsize=(6, 4))
for (name, model), colour in zip(models.items(), ["C0", "C1"], strict=True):
    RecallAtKDisplay.from_estimator(
        model, X_test, y_test, k_max=20, name=name, ax=ax, color=colour
    )
ax.set_title("Accelerometer (X) ↔ gyroscope (y) retrieval")
fig.tight_layout()
plt.show()

# %%
# The shared space
# ----------------
# Test windows of both sensors in the first two shared axes, coloured by
# activity, with the two sensors of one window joined. Running, the most
# vigorous activity, spreads far from the rest; standing, walking and turning
# form tight groups, and partners sit close together.
# One colour per activity, shared by the next figures.
activity_colours = ListedColormap(plt.cm.tab10.colors[: len(data.target_names)])
handles = [
    plt.Line2D([], [], marker="o", linestyle="", color=colour)
    for colour in activity_colours.colors
]
display = SharedSpaceDisplay.from_estimator(
    models["CCA"],
    X_test,
    y_test,
    n_pairs=80,
    labels=act_test,
    name="CCA",
    cmap=activity_colours,
)
display.ax_.legend(handles, data.target_names, title="activity", fontsize=8)
plt.show()

# %%
# Predict the gyroscope from the accelerometer
# --------------------------------------------
# ``predict`` returns gyroscope features in their own units (the pipeline
# undoes the standardisation). The overall rotation intensity of a window,
# the root sum of squares of the three axes' standard deviations, does not
# depend on how the device is oriented; here it is predicted from the
# accelerometer alone.
model = models["SharedLatentRegression"]
gyro_pred = model.predict(X_test)
print(f"R² over all gyroscope features: {r2_score(y_test, gyro_pred):.3f}")

std_columns = [list(data.feature_names_y).index(f"gyro_{a}_std") for a in "xyz"]


def intensity(features):
    return np.sqrt(np.sum(features[:, std_columns] ** 2, axis=1))


fig, ax = plt.subplots(figsize=(5, 4.5))
scatter = ax.scatter(
    intensity(y_test), intensity(gyro_pred), c=act_test, cmap=activity_colours, s=12
)
limits = [0, intensity(y_test).max() * 1.05]
ax.plot(limits, limits, "k--", linewidth=1)
ax.set(
    xlabel="measured rotation intensity (rad/s)",
    ylabel="predicted from the accelerometer (rad/s)",
    title="Gyroscope predicted from the accelerometer",
)
ax.legend(handles, data.target_names, title="activity", fontsize=8)
fig.tight_layout()
plt.show()
