"""The one place that touches scikit-learn's private names.

scikit-learn offers no public API for parameter constraints, the ``_fit_context``
decorator, its ``set_output`` wrappers or its sample-weight check, yet every
estimator here needs them to behave like scikit-learn's own. Importing them from
one module means a renamed private name breaks one file, not thirteen, and that
version differences are handled here alone.
"""

from numbers import Integral

from sklearn.base import _fit_context
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils._set_output import _safe_set_output, _wrap_data_with_container
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "HasMethods",
    "Interval",
    "IntegerInterval",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "_safe_set_output",
    "_wrap_data_with_container",
    "check_matplotlib_support",
    "validate_params",
]


class IntegerInterval(Interval):
    """An interval of integers that refuses booleans.

    ``bool`` is a subclass of ``int``, so scikit-learn's ``Interval(Integral, ...)``
    accepts ``n_components=True`` and stores it; a count given as ``True`` is
    always a mistake.
    """

    def __init__(self, left, right, *, closed):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)
