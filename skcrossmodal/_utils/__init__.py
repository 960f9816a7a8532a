"""Helpers shared by the estimators: failure safety, validation, thread policy."""
