"""Test-session configuration shared by the doctests and the test suite.

torch is an optional extra: without it, the torch-only module cannot even be
imported for its doctests, and the doctests that train a ``ContrastiveAligner``
cannot run. They are skipped with that reason; ``tests/`` skips its own.
"""

import importlib.util

import pytest

_TORCH_MISSING = importlib.util.find_spec("torch") is None

collect_ignore = ["skcrossmodal/_torch_models.py"] if _TORCH_MISSING else []


def pytest_collection_modifyitems(config, items):
    if not _TORCH_MISSING:
        return
    skip = pytest.mark.skip(
        reason="torch is not installed: pip install 'skcrossmodal[torch]'"
    )
    for item in items:
        if isinstance(item, pytest.DoctestItem) and "_contrastive" in item.nodeid:
            item.add_marker(skip)
