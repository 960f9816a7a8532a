"""Preprocess each of K views with its own transformer, inside one estimator.

``ColumnTransformer`` followed by a multiview estimator would fit every
transformer on all rows, including the rows where that view is missing
(all NaN), which most transformers refuse (PCA) or learn from (a scaler's
mean ignores NaN, but a vectoriser does not). ``MultiViewPipeline`` fits
each view's transformer on the rows that have the view, then the multiview
estimator on the transformed views side by side, missing rows kept missing.
"""

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from .._compat import HasMethods
from .._utils.failure_safe import FailureSafeMixin
from ..base import atomic_fit
from .base import MultiViewStatistics
from .views import _named_selections, resolve_views


def _rows_of(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _view_block(X, columns, scalar):
    """The columns of one view; one 1-D column when selected by a scalar."""
    if hasattr(X, "iloc"):
        block = X.iloc[:, columns]
        return block.iloc[:, 0] if scalar else block
    block = np.asarray(X)[:, columns]
    return block[:, 0] if scalar else block


def _absent_rows(block, name):
    """Rows where the view is missing: every value NaN or None."""
    if hasattr(block, "isna"):  # pandas: NaN and None in any dtype
        missing = np.asarray(block.isna())
    else:
        values = np.asarray(block)
        if values.dtype.kind in "fc":
            missing = np.isnan(values)
        elif values.dtype.kind == "O":
            missing = np.vectorize(lambda v: v is None or v != v, otypes=[bool])(values)
        else:
            missing = np.zeros(values.shape, dtype=bool)
    if missing.ndim == 1:
        return missing
    absent = missing.all(axis=1)
    partial = np.flatnonzero(missing.any(axis=1) & ~absent)
    if partial.size:
        raise ValueError(
            f"View {name!r} is missing in only some of its columns in row "
            f"{int(partial[0])}. A view of a row is either complete or entirely "
            "missing; impute partly observed views first."
        )
    return absent


def _dense(output, name):
    if sparse.issparse(output):
        raise TypeError(
            f"The transformer of view {name!r} returned a sparse matrix; the "
            "multiview estimators need dense input. End it with a step that "
            "returns a dense array (for text, TruncatedSVD after TfidfVectorizer)."
        )
    output = np.asarray(output, dtype=np.float64)
    return output.reshape(-1, 1) if output.ndim == 1 else output


class MultiViewPipeline(FailureSafeMixin, TransformerMixin, BaseEstimator):
    """A multiview estimator with its own preprocessing of each view.

    ``fit`` resolves the estimator's ``views`` on ``X``, fits a clone of
    each view's transformer on the rows that have that view, and fits a
    clone of ``estimator`` on the transformed views side by side (its
    ``views`` replaced by the transformed blocks, under the same names). A
    row missing a view stays missing: its transformed block is NaN. Inside
    ``GridSearchCV`` every transformer is refitted on each training fold.

    Parameters
    ----------
    estimator : MultiViewCCA, GeneralizedCCA or MultiViewSharedLatentRegression
        The multiview estimator; its ``views`` select the raw columns of each
        view (a view selected by a single column name or index is passed to
        its transformer as one 1-D column, as ``ColumnTransformer`` does, so
        that a text vectoriser can take it).
    transformers : dict, default=None
        ``{view name: transformer}``; views not listed, or mapped to
        ``"passthrough"``, are passed through (they must be numeric). A
        transformer must return a dense array.

    Attributes
    ----------
    estimator_ : object
        The fitted clone of ``estimator``, on the transformed views.
    transformers_ : dict
        The fitted clone of each view's transformer (``"passthrough"``
        for the others).
    view_names_ : list of str
        Name of each view.
    n_features_in_ : int
        Number of columns of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's columns, when X had string column names.

    See Also
    --------
    skcrossmodal.TwoViewPipeline : The two-view case.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcrossmodal import MultiViewCCA, MultiViewPipeline
    >>> from skcrossmodal.datasets import make_multiview
    >>> X, views, _ = make_multiview(300, n_views=3, missing_rate=0.2,
    ...                              random_state=0)
    >>> model = MultiViewPipeline(
    ...     MultiViewCCA(views, n_components=3),
    ...     transformers={"view0": PCA(5), "view1": StandardScaler()},
    ... ).fit(X)
    >>> model.transform(X).shape
    (300, 9)
    >>> model.estimator_.view_columns_[0].tolist()
    [0, 1, 2, 3, 4]
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform"])],
        "transformers": [dict, None],
    }

    def __init__(self, estimator, *, transformers=None):
        self.estimator = estimator
        self.transformers = transformers

    @atomic_fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit each view's transformer, then the estimator on their outputs.

        A call that raises leaves the estimator as it was.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views side by side.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's ``fit`` (the transformers are fitted
            unweighted).

        Returns
        -------
        self : object
        """
        if not isinstance(self.estimator, MultiViewStatistics):
            raise TypeError(
                "estimator must be a multiview estimator (MultiViewCCA, "
                "GeneralizedCCA or MultiViewSharedLatentRegression); got "
                f"{type(self.estimator).__name__}."
            )
        X = self._validate(X, reset=True)
        names, columns = resolve_views(self.estimator.views, X)
        unknown = set(self.transformers or {}) - set(names)
        if unknown:
            raise ValueError(
                f"transformers names views {sorted(unknown)} that are not among "
                f"the estimator's views {names}."
            )
        selections = _named_selections(self.estimator.views, X.shape[1])
        scalars = [np.isscalar(selection) for _, selection in selections]
        fitted = {}
        for name, cols, scalar in zip(names, columns, scalars, strict=True):
            transformer = (self.transformers or {}).get(name, "passthrough")
            if transformer != "passthrough":
                block = _view_block(X, cols, scalar)
                present = np.flatnonzero(~_absent_rows(block, name))
                transformer = clone(transformer).fit(_rows_of(block, present))
            fitted[name] = transformer
        self.transformers_ = fitted
        self.view_names_ = names
        self._view_columns = columns
        self._scalars = scalars
        transformed, inner_views = self._transform_views(X)
        self.estimator_ = clone(self.estimator).set_params(views=inner_views)
        self.estimator_.fit(transformed, sample_weight=sample_weight)
        return self

    def _transform_views(self, X):
        blocks, inner_views, start = [], {}, 0
        for name, cols, scalar in zip(
            self.view_names_, self._view_columns, self._scalars, strict=True
        ):
            block = _view_block(X, cols, scalar)
            absent = _absent_rows(block, name)
            transformer = self.transformers_[name]
            present = np.flatnonzero(~absent)
            if transformer == "passthrough":
                values = _dense(_rows_of(block, present), name)
            else:
                values = _dense(transformer.transform(_rows_of(block, present)), name)
            out = np.full((len(absent), values.shape[1]), np.nan)
            out[present] = values
            blocks.append(out)
            inner_views[name] = slice(start, start + out.shape[1])
            start += out.shape[1]
        return np.hstack(blocks), inner_views

    def _validate(self, X, *, reset):
        """Check X's shape and names; keep a DataFrame's column dtypes.

        An array is checked as scikit-learn checks input (2-D, dense, not
        empty, not complex), keeping object arrays (text) as they are; a
        DataFrame goes to the transformers as it is, so that each sees its
        columns' own dtypes.
        """
        if hasattr(X, "iloc"):
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.shape[0] == 0:
                raise ValueError("Found array with 0 sample(s) (shape=(0, ...)).")
            return X
        return validate_data(
            self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan"
        )

    def _check(self, X):
        check_is_fitted(self)
        return self._transform_views(self._validate(X, reset=False))[0]

    def transform(self, X):
        """The estimator's ``transform`` of the preprocessed views.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.

        Returns
        -------
        X_out : ndarray
            See the estimator's ``transform``.
        """
        return self.estimator_.transform(self._check(X))

    def transform_view(self, X, view):
        """One view's scores (for estimators that have ``transform_view``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.
        view : str or int
            The view's name or index.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_components)
        """
        return self.estimator_.transform_view(self._check(X), view)

    def score(self, X, y=None, sample_weight=None):
        """The estimator's ``score`` of the preprocessed views.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            All views, as at fit.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the estimator's ``score``.

        Returns
        -------
        score : float
        """
        return self.estimator_.score(self._check(X), sample_weight=sample_weight)

    def get_feature_names_out(self, input_features=None):
        """The estimator's output names.

        Parameters
        ----------
        input_features : None
            Ignored (the estimator names its outputs by view).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return self.estimator_.get_feature_names_out()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
