"""
====================================================
Four views at once: multiview CCA of digit quadrants
====================================================

Each 8x8 handwritten digit is cut into its four 4x4 quadrants, four views of
the same image. :class:`~skcrossmodal.MultiViewCCA` learns one shared space
for all four from one ``X``: the ``views`` parameter names the columns of each
quadrant, as :class:`~sklearn.compose.ColumnTransformer` would. A quadrant
missing from some images (its 16 columns NaN) is simply left out of the
statistics that need it (see :ref:`multiview`). A contrastive aligner with
one encoder per quadrant goes beyond the linear maps.
"""

# %%
# One X, four views declared by column name
# -----------------------------------------
import importlib.util

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from skcrossmodal import MultiViewCCA, MultiViewContrastiveAligner
from skcrossmodal.datasets import load_digit_quadrants

data = load_digit_quadrants(as_frame=True)
print({name: columns[:2] for name, columns in data.views.items()})
X_train, X_test, digit_train, digit_test = train_test_split(
    data.X, data.target, test_size=500, random_state=0
)

model = MultiViewCCA(data.views, n_components=8).set_output(transform="pandas")
scores = model.fit(X_train).transform(X_test)
print(scores.shape, list(scores.columns[:2]))
print("canonical correlations:", np.round(model.canonical_correlations_, 2))
print(
    f"held-out score (mean over quadrant pairs of the MRR): {model.score(X_test):.3f}"
)

# %%
# A quadrant missing from a third of the training images
# ------------------------------------------------------
# One quadrant, drawn at random, is blanked in 30 % of the training rows.
# Each view's covariance comes from the rows that have it and each pair's
# cross-covariance from the rows that have both, so no row is dropped.
rng = np.random.default_rng(0)
X_missing = X_train.copy()
rows = rng.choice(len(X_missing), size=int(0.3 * len(X_missing)), replace=False)
names = list(data.views)
for row, lost in zip(rows, rng.integers(4, size=rows.size), strict=True):
    X_missing.iloc[row, X_missing.columns.get_indexer(data.views[names[lost]])] = np.nan
missing_model = MultiViewCCA(data.views, n_components=8).fit(X_missing)
print(f"score with missing quadrants: {missing_model.score(X_test):.3f}")

# %%
# Four encoders trained contrastively
# -----------------------------------
# :class:`~skcrossmodal.MultiViewContrastiveAligner` gives each quadrant its
# own small neural network and trains them together, every pair of quadrants
# pulled towards each other. Its default start is the MultiViewCCA solution,
# which it keeps unless training beats it on held-out rows; here training
# does (it needs torch: ``pip install torch``, see the installation page).
if importlib.util.find_spec("torch") is None:
    print("torch is not installed: skipping ContrastiveAligner.")
else:
    aligner = MultiViewContrastiveAligner(data.views, random_state=0).fit(X_train)
    print(
        f"started from {aligner.init_!r}, kept epoch {aligner.best_epoch_} "
        f"(0: the start); held-out score {aligner.score(X_test):.3f} "
        f"(MultiViewCCA: {model.score(X_test):.3f})"
    )

# %%
# How far each pair of quadrants shares the first axis
# ----------------------------------------------------
# Neighbouring quadrants (top-left with bottom-left, the left edge of most
# strokes) share the most; the first two axes of a single quadrant already
# separate several digits.
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
image = left.imshow(model.pairwise_correlations_[:, :, 0], vmin=0, vmax=1)
left.set_xticks(range(4), names, rotation=30)
left.set_yticks(range(4), names)
left.set_title("correlation of the quadrants' first axis")
fig.colorbar(image, ax=left)
top_left = model.transform_view(X_test, "top_left")
points = right.scatter(top_left[:, 0], top_left[:, 1], c=digit_test, cmap="tab10", s=8)
right.set_xlabel("axis 1")
right.set_ylabel("axis 2")
right.set_title("top-left quadrant in the shared space")
fig.colorbar(points, ax=right, label="digit")
fig.tight_layout()
plt.show()
