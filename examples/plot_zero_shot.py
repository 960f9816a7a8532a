"""
==========================================================
Zero-shot classification: digits named by their captions
==========================================================

A shared space of images and captions can classify images without ever
seeing a class label: write one caption per class ("a handwritten seven"),
embed it, and give each image the class of the most similar caption. This is
how image-text models are used as classifiers.

Here the images are scikit-learn's 8x8 handwritten digits and the model only
ever sees (image, caption) pairs, as they might come from a web page; the
digit labels are used solely to measure accuracy, and to train a supervised
classifier on the same pixels for comparison.
"""

# %%
# A shared space from image-caption pairs
# ---------------------------------------
# Pixels are standardised; captions become TF-IDF vectors reduced to 20
# latent semantic axes. CCA (``whiten=True``) aligns the two.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import CrossModalEmbedding, TwoViewPipeline, ZeroShotClassifier
from skcrossmodal.datasets import load_digit_views

data = load_digit_views(kind="captions")
images_train, images_test, captions_train, _, digits_train, digits_test = (
    train_test_split(
        data.X,
        data.y,
        data.target,
        test_size=0.3,
        stratify=data.target,
        random_state=0,
    )
)
space = TwoViewPipeline(
    CrossModalEmbedding(n_components=9, whiten=True, reg=0.1),
    x_transformer=StandardScaler(),
    y_transformer=make_pipeline(
        TfidfVectorizer(), TruncatedSVD(n_components=20, random_state=0)
    ),
).fit(images_train, captions_train)  # pairs only: no digit label

# %%
# Classes described in words
# --------------------------
# One prototype caption per class. The classifier embeds them with the
# caption side of the pipeline and each test image with the image side.
# ``FrozenEstimator`` marks the space as prefit: the classifier uses it as it
# is (without it, ``fit`` would refit the space from labelled pairs).
names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
prototypes = [f"a handwritten {name}" for name in names]
zero_shot = ZeroShotClassifier(
    FrozenEstimator(space), prototypes=prototypes, classes=np.arange(10)
)
zero_shot.fit(images_train)  # embeds the prototypes; still no label
zero_shot_accuracy = accuracy_score(digits_test, zero_shot.predict(images_test))

# %%
# Against a supervised classifier
# -------------------------------
# Logistic regression on the same standardised pixels, trained with the
# digit labels that the zero-shot classifier never saw.
supervised = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
supervised.fit(images_train, digits_train)
supervised_accuracy = supervised.score(images_test, digits_test)
print(f"zero-shot accuracy (no labels):   {zero_shot_accuracy:.3f}")
print(f"supervised accuracy (labels):     {supervised_accuracy:.3f}")
print("chance:                           0.100")

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
ConfusionMatrixDisplay.from_predictions(
    digits_test, zero_shot.predict(images_test), ax=axes[0], colorbar=False
)
axes[0].set_title(f"Zero-shot (accuracy {zero_shot_accuracy:.2f})")
ConfusionMatrixDisplay.from_predictions(
    digits_test, supervised.predict(images_test), ax=axes[1], colorbar=False
)
axes[1].set_title(f"Supervised (accuracy {supervised_accuracy:.2f})")
fig.tight_layout()

# %%
# Calibrated probabilities
# ------------------------
# The predicted class does not depend on the softmax temperature, but the
# probabilities do. With a few labelled images, ``temperature="auto"`` fits it
# by maximum likelihood; here 100 labelled images suffice.
calibrated = ZeroShotClassifier(
    FrozenEstimator(space),
    prototypes=prototypes,
    classes=np.arange(10),
    temperature="auto",
).fit(images_train[:100], digits_train[:100])
proba = calibrated.predict_proba(images_test[:4])
print(f"fitted temperature: {calibrated.temperature_:.3f}")
fig, axes = plt.subplots(1, 4, figsize=(10, 2.6))
for ax, image, row in zip(axes, images_test[:4], proba, strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    best = int(np.argmax(row))
    ax.set_title(f"'{names[best]}' p={row[best]:.2f}", fontsize=9)
    ax.axis("off")
fig.suptitle("Zero-shot predictions with fitted temperature")
fig.tight_layout()
plt.show()
