"""Meta-estimators on the two-view contract: pipelines, self-learning, zero-shot."""
