"""
=====================================
Image and text: digits and captions
=====================================

The founding task of cross-modal learning: put images and their captions in
one space, so that a caption finds its images and an image finds its
captions. The images are scikit-learn's bundled 8x8 handwritten digits; each
comes with a short English caption of its digit ("a handwritten seven", "the
number seven written by hand", ...).

Both views need their own preprocessing: pixels are standardised and captions
are turned into vectors with TF-IDF followed by a truncated SVD (latent
semantic analysis). :class:`~skcrossmodal.TwoViewPipeline` holds both
transformers and the cross-modal estimator in one object, so that the caption
vocabulary, like the pixel scaling, is learned from the training pairs only.
"""

# %%
# Images and captions
# -------------------
import importlib.util
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, TwoViewPipeline
from skcrossmodal.datasets import load_digit_views

data = load_digit_views(kind="captions")
images, captions, digits = data.X, data.y, data.target
print(f"images: {images.shape}, captions: {captions.shape}")

fig, axes = plt.subplots(1, 6, figsize=(9, 2.6))
for ax, image, caption in zip(axes, images[:6], captions[:6], strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(textwrap.fill(caption, 16), fontsize=8)
    ax.set_axis_off()
fig.suptitle("Pairs: an image and its caption")
fig.tight_layout()
plt.show()

# %%
# One estimator, two preprocessing pipelines
# ------------------------------------------
# :class:`~skcrossmodal.CrossModalEmbedding` with ``whiten=True`` is
# canonical correlation analysis (CCA) in closed form. With ten digits, nine
# shared axes are enough to tell all of them apart. The captions use 25
# distinct words; the truncated SVD keeps 20 latent semantic axes. Keep too
# few and some digit names share an axis: with 12, the caption "the number
# seven" retrieves mostly fives. Its ``n_components`` is a parameter of the
# text view like any other, and can be tuned by ``GridSearchCV`` through
# ``y_transformer__truncatedsvd__n_components``.
(
    images_train,
    images_test,
    captions_train,
    captions_test,
    digits_train,
    digits_test,
) = train_test_split(
    images, captions, digits, test_size=0.3, stratify=digits, random_state=0
)


def text_features():
    """TF-IDF of the captions, reduced to dense latent semantic axes."""
    return make_pipeline(
        TfidfVectorizer(), TruncatedSVD(n_components=20, random_state=0)
    )


model = TwoViewPipeline(
    CrossModalEmbedding(n_components=9, whiten=True, reg=0.1),
    x_transformer=StandardScaler(),
    y_transformer=text_features(),
).fit(images_train, captions_train)

# %%
# Retrieval, both ways
# --------------------
# A caption only says which digit an image shows, and many images share the
# same caption word for word. So a retrieved item is *correct* when it shows
# (or names) the query's digit, and we report the fraction of correct items
# among the 10 best: class precision@10. Chance is 0.1.


def class_precision_at_k(model, queries, gallery, query_labels, gallery_labels,
                         query_view, k=10):  # fmt: skip
    """Fraction of each query's k best gallery items that share its label."""
    _, indices = model.retrieve(queries, gallery, query_view=query_view, n_neighbors=k)
    return float(np.mean(gallery_labels[indices] == query_labels[:, None]))


def report(model, name):
    image_to_text = class_precision_at_k(
        model, images_test, captions_test, digits_test, digits_test, "X"
    )
    text_to_image = class_precision_at_k(
        model, captions_test, images_test, digits_test, digits_test, "y"
    )
    print(
        f"{name}: image -> text {image_to_text:.2f}, text -> image {text_to_image:.2f}"
    )
    return image_to_text, text_to_image


scores = {"CCA": report(model, "CCA (CrossModalEmbedding, whiten=True)")}

# %%
# Search images with new captions
# -------------------------------
# Queries need not come from the data set: any text goes through the fitted
# TF-IDF vocabulary and into the shared space. Each row shows the eight test
# images closest to one typed caption.
queries = ["a handwritten three", "the number seven", "nought", "a small four"]
_, best_images = model.retrieve(queries, images_test, query_view="y", n_neighbors=8)
fig, axes = plt.subplots(len(queries), 8, figsize=(8, 4.6))
for row, (query, found) in enumerate(zip(queries, best_images, strict=True)):
    for col, index in enumerate(found):
        ax = axes[row, col]
        ax.imshow(images_test[index].reshape(8, 8), cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[row, 0].set_ylabel(query, rotation=0, ha="right", va="center")
fig.suptitle("Text -> image: the 8 best test images for each caption")
fig.subplots_adjust(left=0.25)
plt.show()

# %%
# Caption images
# --------------
# The other way round: the best caption in the test set for a few test images
# (its digit word is what matters).
_, best_captions = model.retrieve(
    images_test[:5], captions_test, query_view="X", n_neighbors=1
)
for digit, found in zip(digits_test[:5], best_captions[:, 0], strict=True):
    print(f"image of a {digit}: {str(captions_test[found])!r}")

# %%
# A nonlinear aligner
# -------------------
# Pixels relate to a digit's name nonlinearly, which a linear map can only
# approximate: CCA still ranks some wrong digits among an image's 10 best
# captions. :class:`~skcrossmodal.ContrastiveAligner` trains two small
# neural encoders with the contrastive (InfoNCE) loss of CLIP. It drops into
# the same :class:`~skcrossmodal.TwoViewPipeline`. It needs torch; without it
# this part is skipped.
if importlib.util.find_spec("torch") is None:
    print("torch is not installed: skipping ContrastiveAligner.")
else:
    from skcrossmodal import ContrastiveAligner

    neural = TwoViewPipeline(
        ContrastiveAligner(
            n_components=10,
            hidden_layer_sizes=(128,),
            learning_rate=3e-3,
            batch_size=128,
            max_epochs=15,
            early_stopping=False,
            random_state=0,
        ),
        x_transformer=StandardScaler(),
        y_transformer=text_features(),
    ).fit(images_train, captions_train)
    scores["contrastive"] = report(neural, "ContrastiveAligner")

# %%
# Summary
# -------
# Class precision@10 of each model in both directions (chance: 0.1).
fig, ax = plt.subplots(figsize=(5, 3))
names = list(scores)
positions = np.arange(len(names))
ax.bar(positions - 0.2, [s[0] for s in scores.values()], 0.4, label="image -> text")
ax.bar(positions + 0.2, [s[1] for s in scores.values()], 0.4, label="text -> image")
ax.axhline(0.1, color="k", linestyle="--", label="chance")
ax.set_xticks(positions, names)
ax.set_ylim(0, 1.25)
ax.set_yticks(np.linspace(0, 1, 6))
ax.set_ylabel("class precision@10")
ax.legend(loc="upper center", ncol=3, fontsize=8)
fig.tight_layout()
plt.show()
