"""Failure-safe fitting, written once: a call that raises leaves the object as it was.

Every ``fit``/``partial_fit`` of the library runs inside :func:`restored_on_error`.
The object is snapshotted before the call through its ``_snapshot_state`` hook
and put back through ``_restore_state`` when the call raises, so a first fit
that fails leaves the estimator unfitted and a failed refit keeps the previous
model whole (its ``n_features_in_`` included). :class:`FailureSafeMixin` gives
the default hooks, a shallow copy of ``__dict__``: fitting code rebinds
attributes to new objects rather than writing into fitted ones. An estimator
that does change objects in place (torch weights, an optimiser's state)
overrides the two hooks to save and restore those too.
"""

import contextlib
import functools


class FailureSafeMixin:
    """The snapshot/restore hooks of :func:`restored_on_error`.

    The default snapshot is a shallow copy of the instance's attributes.
    Override both methods together when fitting mutates an attribute in place.
    """

    def _snapshot_state(self):
        """What :meth:`_restore_state` needs to undo a failed call."""
        return dict(self.__dict__)

    def _restore_state(self, snapshot):
        """Put back the attributes saved by :meth:`_snapshot_state`."""
        self.__dict__.clear()
        self.__dict__.update(snapshot)


@contextlib.contextmanager
def restored_on_error(estimator):
    """Run a block so that an exception leaves ``estimator`` as it was.

    The estimator is snapshotted by its ``_snapshot_state`` hook and put
    back by ``_restore_state`` (:class:`~skcrossmodal.base.CrossModalEstimator`
    copies its attributes; a subclass that changes objects in place, such as
    torch weights, overrides both). :func:`~skcrossmodal.base.atomic_fit`
    runs ``fit`` and ``partial_fit`` inside it.

    Parameters
    ----------
    estimator : object
        The object the block may change, with the two hooks.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal.base import restored_on_error
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> model = CrossModalEmbedding(n_components=2).fit(X, X)
    >>> try:
    ...     with restored_on_error(model):
    ...         model.n_components_ = 99
    ...         raise RuntimeError("interrupted")
    ... except RuntimeError:
    ...     pass
    >>> model.n_components_
    2
    """
    snapshot = estimator._snapshot_state()
    try:
        yield
    except BaseException:
        estimator._restore_state(snapshot)
        raise


def failure_safe(method):
    """Decorate a method so that an exception leaves ``self`` as it was."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with restored_on_error(self):
            return method(self, *args, **kwargs)

    return wrapper
