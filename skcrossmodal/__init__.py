"""Cross-modal learning for scikit-learn: one shared space for paired views.

Row i of ``X`` and row i of ``y`` are the same event seen by two modalities.
Every two-view estimator here learns maps of both into one shared space where
partners land together, so one modality can be searched, predicted or
classified from the other; the multi-view estimators do the same for K views
held side by side in one ``X`` (``views=...``). Importing this package never
imports torch.
"""

from . import datasets, metrics, retrieval
from ._contrastive.aligner import ContrastiveAligner
from ._linear.embedding import CrossModalEmbedding
from ._linear.shared_latent import SharedLatentRegression
from ._meta.compose import TwoViewPipeline
from ._meta.self_learning import SelfLearningAligner
from ._meta.zero_shot import ZeroShotClassifier
from ._model_selection.multiview_search import GeneralizedCCACV, MultiViewCCACV
from ._model_selection.search import CrossModalEmbeddingCV, SharedLatentRegressionCV
from ._multiview.cca import GeneralizedCCA, MultiViewCCA
from ._multiview.compose import MultiViewPipeline
from ._multiview.contrastive import MultiViewContrastiveAligner
from ._multiview.shared_latent import MultiViewSharedLatentRegression
from .retrieval import SharedSpaceIndex

__version__ = "0.1.0.dev0"

__all__ = [
    "ContrastiveAligner",
    "CrossModalEmbedding",
    "CrossModalEmbeddingCV",
    "GeneralizedCCA",
    "GeneralizedCCACV",
    "MultiViewCCA",
    "MultiViewCCACV",
    "MultiViewContrastiveAligner",
    "MultiViewPipeline",
    "MultiViewSharedLatentRegression",
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
