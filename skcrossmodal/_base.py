"""Former home of the two-view contract, kept for imports that still use it.

The contract now lives in the public module :mod:`skcrossmodal.base`;
``CrossModalMixin`` is another name for :class:`~skcrossmodal.base.CrossModalEstimator`.
"""

from ._dask import holds_dask_array
from .base import (
    FLOAT_DTYPES,
    CrossModalEstimator,
    _check_same_rows,
    resolve_n_components,
)

CrossModalMixin = CrossModalEstimator

__all__ = [
    "FLOAT_DTYPES",
    "CrossModalMixin",
    "_check_same_rows",
    "holds_dask_array",
    "resolve_n_components",
]
