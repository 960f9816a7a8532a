"""Cross-modal learning for scikit-learn: one shared space for two paired views.

Row i of ``X`` and row i of ``y`` are the same event seen by two modalities.
Every estimator here learns maps of both into one shared space where partners
land together, so one modality can be searched, predicted or classified from the
other. Importing this package never imports torch.
"""

from . import datasets, metrics, retrieval
from ._compose import TwoViewPipeline
from ._contrastive import ContrastiveAligner
from ._model_selection import CrossModalEmbeddingCV, SharedLatentRegressionCV
from ._procrustes import CrossModalEmbedding
from ._self_learning import SelfLearningAligner
from ._shared_latent import SharedLatentRegression
from ._zero_shot import ZeroShotClassifier
from .retrieval import SharedSpaceIndex

__version__ = "0.1.0.dev0"

__all__ = [
    "ContrastiveAligner",
    "CrossModalEmbedding",
    "CrossModalEmbeddingCV",
    "SelfLearningAligner",
    "SharedLatentRegression",
    "SharedLatentRegressionCV",
    "SharedSpaceIndex",
    "TwoViewPipeline",
    "ZeroShotClassifier",
    "datasets",
    "metrics",
    "retrieval",
    "__version__",
]
