"""
===========
Quick start
===========

Fit a cross-modal model on two paired views, measure how easily partners find
each other, search one view with the other, and translate the first view into
the second.
"""

# %%
# Two paired views
# ----------------
# :func:`~skcrossmodal.datasets.make_paired_views` draws a shared latent and
# shows it to two "modalities" of different dimensions, each with its own
# noise. Row ``i`` of ``X`` and row ``i`` of ``y`` are the same event.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from skcrossmodal import CrossModalEmbedding
from skcrossmodal.datasets import make_paired_views
from skcrossmodal.metrics import median_rank, recall_at_k
from skcrossmodal.plotting import RecallAtKDisplay, SharedSpaceDisplay

X, y, labels = make_paired_views(
    n_samples=600,
    n_features_x=20,
    n_features_y=15,
    n_latent=5,
    noise=0.3,
    random_state=0,
)
X_train, X_test, y_train, y_test, labels_train, labels_test = train_test_split(
    X, y, labels, test_size=0.3, random_state=0
)
print(f"X: {X.shape}, y: {y.shape}")

# %%
# Fit a shared space
# ------------------
# :class:`~skcrossmodal.CrossModalEmbedding` solves the orthogonal Procrustes
# problem in closed form; ``whiten=True`` makes it canonical correlation
# analysis, which suits views whose features have unrelated scales.
model = CrossModalEmbedding(n_components=5, whiten=True).fit(X_train, y_train)
X_scores, y_scores = model.transform(X_test, y_test)
print(f"shared space: {X_scores.shape} and {y_scores.shape}")

# %%
# How well do partners find each other?
# -------------------------------------
# ``score`` is the mean reciprocal rank (MRR) of the true partner, each test
# row of one view querying all test rows of the other, in both directions.
# With 180 test pairs, picking at random would give about 0.03.
print(f"test MRR: {model.score(X_test, y_test):.3f}")
for k in (1, 5, 10):
    print(f"recall@{k:<2d}: {recall_at_k(X_scores, y_scores, k=k):.3f}")
print(f"median rank of the partner: {median_rank(X_scores, y_scores):.1f}")

# %%
# Recall@k against k, in both directions: the fraction of queries whose true
# partner is among the k most similar rows of the other view. The dashed line
# is chance (k / n).
display = RecallAtKDisplay.from_estimator(model, X_test, y_test, k_max=20)
n_test = X_test.shape[0]
display.ax_.plot(np.arange(1, 21), np.arange(1, 21) / n_test, "k--", label="chance")
display.ax_.legend()
plt.show()

# %%
# Search one view with the other
# ------------------------------
# ``retrieve`` returns the best partners of new queries among a gallery of the
# other view, best first. Here each of the first three test rows of ``X``
# queries the test rows of ``y``; the true partner of query ``i`` is gallery
# row ``i``.
similarities, indices = model.retrieve(X_test[:3], y_test, n_neighbors=5)
for i, (row, sims) in enumerate(zip(indices, similarities, strict=True)):
    print(f"query {i}: best y rows {row.tolist()}, cosine {np.round(sims, 2)}")

# %%
# The other direction works the same way with ``query_view="y"``.
_, indices = model.retrieve(y_test[:3], X_test, query_view="y", n_neighbors=5)
print(indices)

# %%
# Both views in the shared space
# ------------------------------
# The first two shared axes, with 50 test pairs joined by a line: short lines
# mean the two modalities of one event land close together. Colours are the
# classes of the latent, which the shared space keeps apart.
SharedSpaceDisplay.from_estimator(model, X_test, y_test, n_pairs=50, labels=labels_test)
plt.show()

# %%
# Translate X into y
# ------------------
# ``predict`` returns the second view predicted from the first, in ``y``'s own
# units.
y_pred = model.predict(X_test)
print(
    f"prediction {y_pred.shape}, R^2 on the test pairs: {r2_score(y_test, y_pred):.3f}"
)
