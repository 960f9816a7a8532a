"""Torch code of the aligner: modules, losses, training loop, communicators.

Every module in this package imports torch at import time; only code paths that
need torch import them, so ``import skcrossmodal`` never does.
"""
