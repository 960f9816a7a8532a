"""The one place that touches scikit-learn's private names.

scikit-learn offers no public API for parameter constraints, the ``_fit_context``
decorator, its ``set_output`` wrappers, its sample-weight check or its row
indexing of any container (``_safe_indexing``), yet every
estimator here needs them to behave like scikit-learn's own. Importing them from
one module means a renamed private name breaks one file, not thirteen, and that
version differences are handled here alone.
"""

import inspect
from numbers import Integral

from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils._set_output import _safe_set_output, _wrap_data_with_container
from sklearn.utils.validation import _check_sample_weight as _sklearn_check_weight

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "IntegerInterval",
    "InvalidParameterError",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "_safe_indexing",
    "_safe_set_output",
    "_wrap_data_with_container",
    "check_matplotlib_support",
    "parametrize_with_checks",
    "scorer_accepts_sample_weight",
    "validate_estimator_parameters",
    "validate_params",
]

# scikit-learn 1.9 refuses all-zero weights unless told otherwise, with a
# keyword that older versions lack; they accept them silently.
_HAS_ALL_ZERO_KEYWORD = (
    "allow_all_zero_weights" in inspect.signature(_sklearn_check_weight).parameters
)


def _check_sample_weight(
    sample_weight,
    X,
    *,
    dtype=None,
    ensure_non_negative=False,
    allow_all_zero_weights=False,
):
    """scikit-learn's sample-weight check, behaving as in 1.9 on every version.

    All-zero weights raise the same ``ValueError`` everywhere unless
    ``allow_all_zero_weights`` (older versions would return them, and a fit
    would then divide by a zero weight sum).
    """
    options = {"allow_all_zero_weights": True} if _HAS_ALL_ZERO_KEYWORD else {}
    sample_weight = _sklearn_check_weight(
        sample_weight,
        X,
        dtype=dtype,
        ensure_non_negative=ensure_non_negative,
        **options,
    )
    if not allow_all_zero_weights and sample_weight.size and not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


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


def validate_estimator_parameters(estimator, *, context=None):
    """Check ``estimator``'s parameters against its ``_parameter_constraints``.

    What ``fit`` does first, for an estimator that is solved without calling
    its ``fit`` (a candidate of a statistics-based search). Raises
    ``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``) naming the
    parameter, the allowed values and, when given, ``context`` first.
    """
    constraints = getattr(estimator, "_parameter_constraints", None)
    if constraints is None:
        return
    try:
        validate_parameter_constraints(
            constraints,
            estimator.get_params(deep=False),
            caller_name=type(estimator).__name__,
        )
    except InvalidParameterError as error:
        if context is None:
            raise
        raise InvalidParameterError(f"{context}: {error}") from error


def scorer_accepts_sample_weight(scorer):
    """Whether ``GridSearchCV`` would pass ``sample_weight`` on to ``scorer``.

    scikit-learn (without metadata routing) forwards the ``sample_weight`` of
    ``fit`` to a scorer that accepts it: a scorer object says so through its
    private ``_accept_sample_weight``, a plain function by its signature.
    """
    accepts = getattr(scorer, "_accept_sample_weight", None)
    if accepts is not None:
        return bool(accepts())
    return "sample_weight" in inspect.signature(scorer).parameters


def parametrize_with_checks(estimators, **options):
    """scikit-learn's ``parametrize_with_checks``, with its cases in a list.

    scikit-learn 1.6 hands ``pytest.mark.parametrize`` a generator of cases,
    which pytest 8.4 deprecates and pytest 9 refuses; 1.7 passes a list. The
    decorator is rebuilt with the same names, ids and marks on every version.
    Imports pytest (a test dependency), so only tests call it.
    """
    import pytest
    from sklearn.utils.estimator_checks import (
        parametrize_with_checks as sklearn_parametrize,
    )

    decorator = sklearn_parametrize(estimators, **options)
    argnames, argvalues = decorator.mark.args
    return pytest.mark.parametrize(argnames, list(argvalues), **decorator.mark.kwargs)
