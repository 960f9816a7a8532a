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

    Parameters
    ----------
    estimator : FailureSafeMixin
        The object the block may change.

    Examples
    --------
    >>> from skcrossmodal._utils.failure_safe import (
    ...     FailureSafeMixin, restored_on_error)
    >>> class Box(FailureSafeMixin):
    ...     pass
    >>> box = Box()
    >>> box.size_ = 5
    >>> try:
    ...     with restored_on_error(box):
    ...         box.size_ = 7
    ...         raise ValueError("the refit failed")
    ... except ValueError:
    ...     pass
    >>> box.size_
    5
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
