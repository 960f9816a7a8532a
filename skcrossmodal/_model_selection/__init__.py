"""Hyper-parameter searches solved from per-fold sufficient statistics."""
