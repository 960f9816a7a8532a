"""Test-session configuration shared by the doctests and the test suite.

torch is an optional extra: without it, the torch-only module cannot even be
imported for its doctests, and the doctests that train a ``ContrastiveAligner``
cannot run. They are skipped with that reason; ``tests/`` skips its own.

Property tests cannot fail by luck: the ``ci`` hypothesis profile, loaded by
default (and wherever the ``CI`` variable is set), draws the same examples on
every run (``derandomize``, no example database). ``HYPOTHESIS_PROFILE=dev``
loads the ``dev`` profile: random examples, ten times as many (each test's
budget is scaled by ``tests/hypothesis_examples.py``), to hunt for new
counter-examples, which then become fixed regression cases.
"""

import importlib.util
import os
import re

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, print_blob=True
)
settings.register_profile("dev", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(
    "ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "ci")
)

_TORCH_MISSING = importlib.util.find_spec("torch") is None

# Every module of skcrossmodal/_torch imports torch at import time, and so
# does the aligner-fingerprint helper of the tests.
collect_ignore = (
    ["skcrossmodal/_torch", "tests/aligner_fingerprints.py"] if _TORCH_MISSING else []
)


# numpy 2 prints scalars as ``np.float64(0.5)``; numpy 1.x (the oldest
# supported, tested by .ci/run) prints ``0.5``. Doctests written for numpy 2's
# form are skipped there; the test suite checks the same values.
_NUMPY_1 = int(np.__version__.split(".")[0]) < 2
_NUMPY_2_REPR = re.compile(r"\bnp\.(?:float|int|uint|complex|bool|str_|True_|False_)")


def _shows_numpy_2_scalars(item):
    return any(_NUMPY_2_REPR.search(example.want) for example in item.dtest.examples)


def pytest_collection_modifyitems(config, items):
    if _NUMPY_1:
        skip_repr = pytest.mark.skip(
            reason="expected output uses numpy 2's scalar repr (np.int64(2))"
        )
        for item in items:
            if isinstance(item, pytest.DoctestItem) and _shows_numpy_2_scalars(item):
                item.add_marker(skip_repr)
    if not _TORCH_MISSING:
        return
    skip = pytest.mark.skip(
        reason='torch is not installed: pip install -e ".[torch]" (see README)'
    )
    for item in items:
        if isinstance(item, pytest.DoctestItem) and (
            "_contrastive" in item.nodeid
            # The callbacks module imports without torch; its example trains.
            or item.nodeid.endswith("skcrossmodal.callbacks.Callback")
            or _imports_torch(item)
        ):
            item.add_marker(skip)


def _imports_torch(item):
    """Whether a doctest imports torch itself (``distributed.run``'s does) or
    trains an aligner of either family (their examples live in modules that
    import without torch)."""
    return any(
        re.search(r"^\s*(import|from)\s+torch\b", example.source)
        or re.search(r"ContrastiveAligner\(", example.source)
        for example in item.dtest.examples
    )
