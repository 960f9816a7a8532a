"""The missing-view convention: pairs, X-only rows and y-only rows.

Paired data are expensive; one modality alone is often plentiful. The library
marks a row observed in one view only as scikit-learn marks a missing value,
with NaN: a row whose X is entirely NaN holds only ``y`` (a *y-only* row), a
row whose ``y`` is entirely NaN holds only ``X`` (an *X-only* row), and a row
with both views complete is a pair. Everything in between is an error here:
a partly observed row is a missing *value*, for an imputer, and a row missing
both views holds nothing.
"""

import numpy as np


def rows_missing(view, name):
    """Boolean mask of the rows of ``view`` that are entirely NaN.

    Raises a ValueError naming the first row that is only partly NaN.
    """
    nan = np.isnan(view)
    missing = nan.all(axis=1)
    partial = np.flatnonzero(nan.any(axis=1) & ~missing)
    if partial.size:
        raise ValueError(
            f"Input {name} contains NaN in only some columns of row "
            f"{int(partial[0])} ({partial.size} such rows). A row of a view is "
            "either complete or entirely NaN (the view is missing for that row). "
            "Impute the missing entries of partly observed rows first, for "
            "example with sklearn.impute.SimpleImputer fitted on complete rows."
        )
    return missing


def split_views(X, y):
    """Sort the rows of two views into pairs, X-only rows and y-only rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        First view; a row that is entirely NaN means X was not observed.
    y : ndarray of shape (n_samples, n_features_y)
        Second view (2-D); a row that is entirely NaN means y was not observed.

    Returns
    -------
    pairs, x_only, y_only : ndarray of int
        Row indices of the rows with both views, with X alone and with y alone,
        in increasing order.

    Raises
    ------
    ValueError
        If a row is NaN in only some of its columns, or NaN in both views.
    """
    x_missing = rows_missing(X, "X")
    y_missing = rows_missing(y, "y")
    both = np.flatnonzero(x_missing & y_missing)
    if both.size:
        raise ValueError(
            f"Rows {both[:5].tolist()}{' ...' if both.size > 5 else ''} "
            f"({both.size} in all) are NaN in both X and y: every row must hold "
            "at least one view. Drop them."
        )
    pairs = np.flatnonzero(~x_missing & ~y_missing)
    x_only = np.flatnonzero(y_missing)
    y_only = np.flatnonzero(x_missing)
    return pairs, x_only, y_only


def embed_y_rows(estimator, y, anchor_x):
    """Shared-space coordinates of rows of ``y`` alone, from a fitted estimator.

    The two-view contract embeds y only beside a paired X
    (``transform(X, y)``); every estimator of the library embeds each view on
    its own, so any valid X row serves as the partner. ``anchor_x`` (one row of
    X seen at fit) is repeated for that purpose.
    """
    if y.shape[0] == 0:
        return np.empty((0, estimator.n_components_))
    partner = np.repeat(anchor_x[None, :], y.shape[0], axis=0)
    return np.asarray(estimator.transform(partner, y)[1], dtype=np.float64)


def embed_x_rows(estimator, X):
    """Shared-space coordinates of rows of ``X``, as a float64 array."""
    if X.shape[0] == 0:
        return np.empty((0, estimator.n_components_))
    return np.asarray(estimator.transform(X), dtype=np.float64)
