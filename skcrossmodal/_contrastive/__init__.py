"""The contrastive aligner: the estimator side (no torch import at import time)."""
