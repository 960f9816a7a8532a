"""
==================================================
Raw pixels and token ids: a CNN and a bag of words
==================================================

Cross-modal learning starts from raw data: an image is pixels, a caption is a
sequence of tokens. :class:`~skcrossmodal.ContrastiveAligner` takes one torch
encoder per view, so both can be learned end to end, in one shared space:
here a small convolutional network (conv -> pool -> conv -> pool -> linear,
:class:`~skcrossmodal.encoders.ImageEncoder`) reads the 8x8 digit images and
an embedding bag (:class:`~skcrossmodal.encoders.TokenBagEncoder`) reads the
captions' token ids. Both views stay 2-D arrays: an image is a row of 64
pixels (the encoder reshapes it), a caption a row of token ids padded with 0.

Each caption names the digit and five attributes measured on the image (ink,
slant, width, position), so that it describes one image rather than
only its class, and retrieval can be scored by recall@1: the fraction of
queries whose own partner comes first. The CNN and the token encoder are
compared with an MLP on the flattened pixels and word counts, and with
canonical correlation analysis (CCA).
"""

# %%
# Captions from labels and attributes
# -----------------------------------
import importlib.util

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, TwoViewPipeline
from skcrossmodal.metrics import recall_at_k

digits = load_digits()
images, labels = digits.images, digits.target
rows, cols = np.mgrid[0:8, 0:8]
ink = images.sum(axis=(1, 2))
weights = images / ink[:, None, None]
centre_row = (weights * rows).sum(axis=(1, 2))
centre_col = (weights * cols).sum(axis=(1, 2))
d_row = rows - centre_row[:, None, None]
d_col = cols - centre_col[:, None, None]
width = np.sqrt((weights * d_col**2).sum(axis=(1, 2)))
slant = (weights * d_row * d_col).sum(axis=(1, 2)) / (weights * d_row**2).sum(
    axis=(1, 2)
)

attributes = {
    "ink": (ink, ["faint", "plain", "bold", "heavy"]),
    "slant": (slant, ["backslanted", "upright", "slanted", "italic"]),
    "width": (width, ["narrow", "compact", "broad", "wide"]),
    "height": (centre_row, ["high", "central", "low"]),
    "side": (centre_col, ["leftward", "centred", "rightward"]),
}
names = "zero one two three four five six seven eight nine".split()


def word(values, levels):
    """Each value's level, from equal-count bins of all values."""
    edges = np.quantile(values, np.linspace(0, 1, len(levels) + 1)[1:-1])
    return np.asarray(levels)[np.searchsorted(edges, values)]


words = [word(values, levels) for values, levels in attributes.values()]
captions = np.array(
    [
        f"a {words[0][i]} {words[1][i]} {names[labels[i]]}, {words[2][i]}, "
        f"{words[3][i]} and {words[4][i]}"
        for i in range(len(labels))
    ]
)
print(captions[:3])

# %%
# Token ids
# ---------
# A ``CountVectorizer`` fitted on the training captions gives the vocabulary;
# :func:`~skcrossmodal.encoders.token_id_rows` turns each caption into the
# ids of its words (id 0 pads). The pixels stay as they are, one row of 64
# values per image.
pixels = images.reshape(len(images), -1)
(pixels_train, pixels_test, captions_train, captions_test, _, labels_test) = (
    train_test_split(
        pixels, captions, labels, test_size=0.3, stratify=labels, random_state=0
    )
)
vectorizer = CountVectorizer().fit(captions_train)
counts_train = vectorizer.transform(captions_train).toarray()
counts_test = vectorizer.transform(captions_test).toarray()
print(f"{len(vectorizer.vocabulary_)} words")

n_test = len(captions_test)
print(
    f"{n_test} test pairs, {len(set(captions_test))} distinct captions; "
    f"chance recall@1: {1 / n_test:.3f}"
)


def recall_both_ways(model, X, y):
    """Recall@1 of image -> caption and caption -> image queries."""
    X_scores, y_scores = model.transform(X, y)
    return tuple(
        recall_at_k(X_scores, y_scores, k=1, direction=direction)
        for direction in ("x_to_y", "y_to_x")
    )


# %%
# CCA on pixels and word counts
# -----------------------------
cca = TwoViewPipeline(
    CrossModalEmbedding(n_components=20, whiten=True, reg=0.1),
    x_transformer=StandardScaler(),
).fit(pixels_train, counts_train)
scores = {"CCA": recall_both_ways(cca, pixels_test, counts_test)}

# %%
# Contrastive: MLPs, then the CNN and the token encoder
# -----------------------------------------------------
# The same aligner with its default MLP encoders on the flattened pixels and
# the word counts, and with ``x_encoder="image_cnn"`` and
# ``y_encoder="token_bag"``: the encoders' own arguments are ``x_encoder__``
# and ``y_encoder__`` parameters of the estimator (``GridSearchCV`` can tune
# them). The token encoder reads integer ids; the aligner keeps that view as
# integers.
if importlib.util.find_spec("torch") is None:
    print("torch is not installed: skipping ContrastiveAligner.")
else:
    import torch

    from skcrossmodal import ContrastiveAligner
    from skcrossmodal.encoders import token_id_rows

    torch.set_num_threads(1)  # small networks: one thread is fastest
    ids_train = token_id_rows(captions_train, vectorizer)
    ids_test = token_id_rows(captions_test, vectorizer)
    print(f"token ids: {ids_train.shape}, e.g. {ids_train[0]}")
    common = dict(
        n_components=32,
        learning_rate=3e-3,
        batch_size=128,
        max_epochs=40,
        early_stopping=False,
        init="random",
        device="cpu",
        random_state=0,
    )
    mlp = ContrastiveAligner(hidden_layer_sizes=(128,), **common)
    mlp.fit(pixels_train, counts_train)
    scores["MLP"] = recall_both_ways(mlp, pixels_test, counts_test)

    raw = ContrastiveAligner(
        x_encoder="image_cnn",
        x_encoder__input_shape=(1, 8, 8),
        y_encoder="token_bag",
        y_encoder__vocabulary_size=len(vectorizer.vocabulary_) + 1,
        **common,
    ).fit(pixels_train, ids_train)
    scores["CNN + token bag"] = recall_both_ways(raw, pixels_test, ids_test)
    print(raw.model_.encoder_x)

for name, (image_to_text, text_to_image) in scores.items():
    print(
        f"{name:>16s}: recall@1 image -> caption {image_to_text:.3f}, "
        f"caption -> image {text_to_image:.3f}"
    )

# %%
# Recall@1 both ways
# ------------------
# Both contrastive aligners read the attributes far better than CCA, whose
# linear maps cannot turn pixels into "slanted" or "bold". On images this
# small, the CNN and the MLP are on a par: 64 pixels leave little for shared
# convolution weights to save; the CNN's advantage (the same detector at
# every position) grows with the image. Some captions are shared by several
# test images (ties count half), so no model reaches 1.
fig, ax = plt.subplots(figsize=(6, 3))
positions = np.arange(len(scores))
ax.bar(positions - 0.2, [s[0] for s in scores.values()], 0.4, label="image -> caption")
ax.bar(positions + 0.2, [s[1] for s in scores.values()], 0.4, label="caption -> image")
ax.axhline(1 / n_test, color="k", linestyle="--", label="chance")
ax.set_xticks(positions, list(scores))
ax.set_ylabel("recall@1 (test pairs)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# The shared space
# ----------------
# Test images (circles) and their captions (triangles) in the first two
# principal axes of the raw-input aligner's shared space, coloured by digit,
# partners joined. The space has 32 dimensions, shared between the digit and
# five attributes, so two axes show only part of it: digits overlap here, but
# many lines are short -- an image lands next to its own caption.
if "CNN + token bag" in scores:
    from matplotlib.colors import ListedColormap

    from skcrossmodal.plotting import SharedSpaceDisplay

    colours = ListedColormap(plt.cm.tab10.colors)
    display = SharedSpaceDisplay.from_estimator(
        raw,
        pixels_test,
        ids_test,
        n_pairs=60,
        labels=labels_test,
        name="CNN",
        cmap=colours,
    )
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colour)
        for colour in colours.colors
    ]
    display.ax_.legend(handles, names, title="digit", fontsize=7, ncol=2)
    display.ax_.set_title("Images and captions in one space")
    plt.show()
