"""Numerical kernels shared by the estimators: moments, similarities, partner ranks."""
