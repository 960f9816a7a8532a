"""How many examples a property test draws, under the loaded hypothesis profile.

A test states its budget for CI, ``examples(25)``; the ``dev`` profile (see
the root conftest.py) multiplies every budget, so that a developer can hunt
for counter-examples with ``HYPOTHESIS_PROFILE=dev pytest``.
"""

from hypothesis import settings

# Hypothesis's own default number of examples: the profiles scale from it.
_BASE = 100


def examples(budget):
    """``budget`` examples under the ``ci`` profile, more under ``dev``."""
    return max(1, budget * settings.default.max_examples // _BASE)
