"""Which columns of ``X`` belong to which view, and which rows have each view.

A multiview estimator takes one ``X`` (array or DataFrame) and a ``views``
parameter of column selections in :class:`~sklearn.compose.ColumnTransformer`'s
vocabulary. The selections are resolved by a ``ColumnTransformer`` of
``"passthrough"`` steps fitted on the first row, so that every form it accepts
(slices, integer or boolean arrays, column names, callables such as
:func:`~sklearn.compose.make_column_selector`) means here what it means there,
with its error messages, and no private scikit-learn name is needed.
"""

import numbers

import numpy as np
from sklearn.compose import ColumnTransformer


def named_selections(views, n_features):
    """``views`` as a list of ``(name, selection)`` pairs.

    ``None`` makes every column its own view. A dict maps names to
    selections; a list holds selections (named ``view0``, ``view1``, ...)
    or ``(name, selection)`` pairs.
    """
    if views is None:
        return [(f"view{j}", [j]) for j in range(n_features)]
    if isinstance(views, dict):
        items = list(views.items())
    else:
        items = []
        for j, entry in enumerate(views):
            if (
                isinstance(entry, tuple)
                and len(entry) == 2
                and isinstance(entry[0], str)
            ):
                items.append(entry)
            else:
                items.append((f"view{j}", entry))
    for name, _ in items:
        if not isinstance(name, str):
            raise TypeError(f"View names must be strings; got {name!r}.")
    return items


def resolve_views(views, X):
    """Column indices of each view of ``X``.

    Parameters
    ----------
    views : dict, list or None
        The estimator's ``views`` parameter.
    X : array-like or DataFrame of shape (n_samples, n_features)
        The data as given to ``fit`` (before conversion to an array, so that
        column names and dtypes can select columns).

    Returns
    -------
    names : list of str
        One name per view.
    columns : list of ndarray of int
        The column indices of each view, in the order the selection gives.

    Raises
    ------
    ValueError
        If fewer than two views are declared or a view selects no column.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._multiview.views import resolve_views
    >>> names, columns = resolve_views(
    ...     {"left": slice(0, 2), "right": [3, 2]}, np.zeros((5, 4)))
    >>> names, [c.tolist() for c in columns]
    (['left', 'right'], [[0, 1], [3, 2]])
    """
    is_frame = hasattr(X, "columns") and hasattr(X, "iloc")
    n_features = len(X.columns) if is_frame else np.shape(X)[1]
    items = named_selections(views, n_features)
    if len(items) < 2:
        raise ValueError(
            f"A multiview estimator needs at least 2 views; got {len(items)} (X has "
            f"{n_features} feature(s)). Declare the views with the views parameter."
        )
    selector = ColumnTransformer(
        # A single column (one name or index) is a one-column view here.
        [
            (name, "passthrough", [selection] if np.isscalar(selection) else selection)
            for name, selection in items
        ],
        remainder="drop",
    )
    if is_frame and all(isinstance(name, str) for name in X.columns):
        # Names (and dtypes, for make_column_selector) come from the frame.
        selector.fit(X.iloc[:1])
        selected = selector.get_feature_names_out()
        positions = {name: j for j, name in enumerate(X.columns)}
        all_columns = [
            positions[out.split("__", 1)[1]] if "__" in out else positions[out]
            for out in selected
        ]
    else:
        # The passthrough output of a row holding each column's own index is
        # the list of selected indices, in the order ColumnTransformer uses.
        index_row = np.arange(n_features, dtype=np.float64)[None, :]
        if is_frame:  # columns not all named by strings: select by position
            index_row = type(X)(index_row, columns=X.columns)
        all_columns = np.asarray(selector.fit_transform(index_row))[0].astype(np.intp)
    names, columns = [], []
    for name, _ in items:
        piece = np.asarray(all_columns[selector.output_indices_[name]], dtype=np.intp)
        if piece.size == 0:
            raise ValueError(
                f"View {name!r} selects no column of X. Each view needs at least "
                "one column."
            )
        names.append(name)
        columns.append(piece)
    return names, columns


def view_presence(X, columns, names, *, first_row=0):
    """Boolean matrix ``(n_samples, n_views)``: which rows have which view.

    A view is absent from a row when all its columns are NaN there; a view
    that is NaN in only some of its columns is a missing *value*, refused
    (the error names the row as ``first_row`` plus its index in ``X``: a
    block of a larger array names the row of the array).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._multiview.views import view_presence
    >>> X = np.array([[1.0, 2.0, 3.0], [np.nan, np.nan, 3.0]])
    >>> view_presence(X, [np.array([0, 1]), np.array([2])], ["a", "b"]).tolist()
    [[True, True], [False, True]]
    """
    if np.isfinite(np.sum(X)):
        # No NaN anywhere (the input is checked finite or NaN, and a NaN
        # propagates through the sum): one fast pass instead of one per view.
        return np.ones((X.shape[0], len(columns)), dtype=bool)
    present = np.empty((X.shape[0], len(columns)), dtype=bool)
    for j, (cols, name) in enumerate(zip(columns, names, strict=True)):
        nan = np.isnan(X[:, cols])
        missing = nan.all(axis=1)
        partial = np.flatnonzero(nan.any(axis=1) & ~missing)
        if partial.size:
            raise ValueError(
                f"View {name!r} is NaN in only some of its columns in row "
                f"{first_row + int(partial[0])} ({partial.size} such rows). A view "
                "of a row is either complete or entirely NaN (that modality is "
                "missing from the row). Impute partly observed views first, for "
                "example with sklearn.impute.SimpleImputer."
            )
        present[:, j] = ~missing
    return present


def check_view_name(view, names):
    """Index of ``view`` (a name or a position) among ``names``."""
    if isinstance(view, str):
        if view not in names:
            raise ValueError(f"Unknown view {view!r}; the views are {names}.")
        return names.index(view)
    if isinstance(view, numbers.Integral) and not isinstance(view, bool):
        if not 0 <= view < len(names):
            raise ValueError(
                f"view={view} is out of range: there are {len(names)} views "
                f"(0 to {len(names) - 1})."
            )
        return int(view)
    raise TypeError(f"view must be a view name or an index; got {view!r}.")
