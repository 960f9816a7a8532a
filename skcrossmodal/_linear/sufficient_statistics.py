"""Learning from running sufficient statistics: ``partial_fit`` and dask arrays.

The linear estimators are functions of a few weighted means and co-moment
matrices (:class:`~skcrossmodal._numerics.moments.TwoViewMoments`, O(d^2)
numbers whatever the number of rows). This mixin keeps those statistics after
every fit, so that

- ``partial_fit`` merges one more chunk into them (Chan et al.'s update, the
  same merge ``fit`` uses between its blocks) and re-solves: after any split of
  the rows into chunks the model is the one ``fit`` learns from all of them. The
  statistics are kept relative to the first pair seen
  (``shifted_two_view_moments``), so that merging chunks loses no precision
  when the mean is large next to the spread;
- ``fit`` on ``dask.array`` inputs has dask reduce the chunks to one set of
  statistics on the workers (see ``dask_arrays.py``), then solves as usual.

The statistics are those of each view divided by a power of two that brings
it near 1 (``view_exponents``; 1 for data within ``2**-64..2**64``), so that
data of 1e-300 or 1e300 are solved as data of 1 are: the subclass solves in
those units and declares, in ``_solution_units()``, the power of each view's
scale that each fitted attribute carries; the attributes are then put back in
the data's units (exactly: a power of two).

The subclass lists the parameters the statistics depend on in
``_statistics_params``, says which within-view co-moments it needs in
``_second_order()``, and implements ``_set_solution(moments, n_components,
warm_start=..., exponents=...)``, which must raise before assigning any
attribute so that a failed solve leaves the estimator unchanged.
"""

import dataclasses

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._numerics.moments import shifted_two_view_moments, view_exponents
from ..base import atomic_fit, copy_input_description, resolve_n_components
from .dask_arrays import holds_dask_array

# The solution needs a spread of rows, as ``fit`` does (``ensure_min_samples=2``).
_MIN_SAMPLES_TO_SOLVE = 2

# Fitted attributes that describe the fit rather than map rows: in the data's
# units they may overflow (covariances of data of 1e300) and are then inf.
_REPORTED_STATISTICS = ("singular_values_", "alpha_", "objective_path_")


class SufficientStatisticsMixin:
    """``fit``, ``partial_fit`` and dask input for estimators solved from moments.

    List it before :class:`~skcrossmodal.base.CrossModalEstimator` in the bases.
    """

    # The embedding is affine_map, one row at a time (see CrossModalEstimator).
    _embeds_in_row_blocks = True

    # Parameters whose value the accumulated statistics depend on.
    _statistics_params: tuple = ("n_components",)

    def __sklearn_is_fitted__(self):
        # Statistics of a single row are kept, but they define no solution yet.
        return getattr(self, "n_samples_seen_", 0) >= _MIN_SAMPLES_TO_SOLVE

    def _fit_views(self, X, y, sample_weight):
        self._discard_statistics()
        shifts = _first_rows(X, y)
        exponents = view_exponents(X, y)
        moments = self._chunk_statistics(X, y, sample_weight, shifts, exponents)
        self._commit_statistics(
            moments, X.shape[0], shifts, warm_start=False, exponents=exponents
        )

    def _chunk_statistics(self, X, y, sample_weight, shifts, exponents):
        second_order_x, second_order_y = self._second_order()
        return shifted_two_view_moments(
            X,
            y,
            sample_weight,
            shift_x=shifts[0],
            shift_y=shifts[1],
            second_order_x=second_order_x,
            second_order_y=second_order_y,
            # ``n_jobs`` is a parameter of the estimators that declare it;
            # None sizes the threads from the current BLAS limit (see
            # ``thread_count``), which is safe inside GridSearchCV(n_jobs=k).
            n_jobs=getattr(self, "n_jobs", None),
            exponents=exponents,
        )

    @atomic_fit
    def fit(self, X, y=None, sample_weight=None):
        """Learn the shared space from paired views.

        A call that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            First view (modality). Row i is paired with row i of ``y``. A
            ``dask.array.Array`` (here, in ``y`` or in ``sample_weight``) is
            reduced chunk by chunk by dask, never gathered in one place.
        y : array-like or dask array of shape (n_samples, n_features_y) or \
(n_samples,)
            Second view; a 1-D ``y`` is one column. Required.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each pair, not all zero; an integer weight
            counts as repeating the pair that many times.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if holds_dask_array(X, y, sample_weight):
            self._fit_dask(X, y, sample_weight)
            return self
        return super().fit(X, y, sample_weight)

    def _fit_dask(self, X, y, sample_weight):
        # Imported here: dask is optional, and importing the package must not
        # import it (a dask array can only reach this point if dask is loaded).
        from .dask_arrays import dask_two_view_moments

        self._discard_statistics()
        second_order_x, second_order_y = self._second_order()
        moments, shifts, shapes, exponents = dask_two_view_moments(
            X,
            y,
            sample_weight,
            second_order_x=second_order_x,
            second_order_y=second_order_y,
            estimator_name=type(self).__name__,
        )
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_  # a dask array carries no column names
        self.n_features_in_ = shapes["n_features_x"]
        self.n_features_y_in_ = shapes["n_features_y"]
        self._y_is_1d = shapes["y_is_1d"]
        self._commit_statistics(
            moments, shapes["n_samples"], shifts, warm_start=False, exponents=exponents
        )

    @atomic_fit
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one more chunk of paired rows.

        The chunk's weighted means and co-moments are merged into the running
        statistics (those of every earlier ``partial_fit`` call, and of
        ``fit`` if it was called before), and the solution is recomputed from
        them. After any split of the rows into chunks the model equals
        ``fit`` on all the rows (to rounding; for the alternating solver of
        :class:`SharedLatentRegression`, to its tolerance ``tol``). Memory
        stays O(d^2) however many rows are streamed.

        A chunk may hold a single row. Until two rows in all have been seen the
        statistics are kept but define no solution: ``transform`` and
        ``predict`` raise :class:`~sklearn.exceptions.NotFittedError`. A call
        that raises (an empty chunk, a chunk with NaN or infinite values, the
        wrong number of features, a singular solve) leaves the estimator
        exactly as it was, so the caller can skip that chunk and go on.
        ``n_components`` (and, for :class:`CrossModalEmbedding`, ``scale``
        and ``whiten``) cannot change between calls; call ``fit`` to start
        over.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A chunk of the first view, with at least one row.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            The paired chunk of the second view.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the chunk's pairs, not all zero.

        Returns
        -------
        self : object
            The updated estimator.
        """
        first_call = not hasattr(self, "_moments")
        if not first_call:
            self._check_statistics_params()
        # Validate the whole chunk before anything is changed.
        X, y, sample_weight = self._validate_paired_views(
            X, y, sample_weight, reset=first_call, min_samples=1
        )
        if first_call:
            # The units of the first chunk hold for the whole stream.
            shifts, exponents = _first_rows(X, y), view_exponents(X, y)
        else:
            shifts, exponents = self._moments_shifts, self._moments_exponents
        moments = self._chunk_statistics(X, y, sample_weight, shifts, exponents)
        n_samples = X.shape[0]
        if not first_call:
            moments = self._moments.merge(moments)
            n_samples += self.n_samples_seen_
        self._commit_statistics(
            moments,
            n_samples,
            shifts,
            warm_start=not first_call,
            exponents=exponents,
        )
        return self

    def transform(self, X, y=None):
        """Map X (and optionally its paired y) into the shared space.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            First view.
        y : array-like or dask array of shape (n_samples, n_features_y), \
default=None
            Second view, paired row by row with ``X``.

        Returns
        -------
        X_scores : ndarray of shape (n_samples, n_components)
            Returned alone when ``y`` is None. A lazy dask array, computed
            chunk by chunk, when ``X`` is a dask array.
        (X_scores, y_scores) : tuple of ndarray
            When ``y`` is given; both live in the same space, where partners
            are close (compare them with cosine similarity).
        """
        if holds_dask_array(X, y):
            check_is_fitted(self)
            from .dask_arrays import dask_transform

            return dask_transform(
                self, X, y, embed_x=self._embed_x, embed_y=self._embed_y
            )
        return super().transform(X, y)

    def predict(self, X):
        """Predict the second view from the first (cross-modal translation).

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            First view.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_features_y) or (n_samples,)
            In y's original units; 1-D when ``y`` was 1-D at fit. A lazy dask
            array, computed chunk by chunk, when ``X`` is a dask array.
        """
        if holds_dask_array(X):
            check_is_fitted(self)
            from .dask_arrays import dask_predict

            return dask_predict(
                self, X, predict_views=self._predict_views, y_is_1d=self._y_is_1d
            )
        return super().predict(X)

    # ------------------------------------------------------------ helpers ---
    def _discard_statistics(self):
        """Forget the running statistics: ``fit`` starts over."""
        for name in (
            "_moments",
            "_moments_shifts",
            "_moments_exponents",
            "n_samples_seen_",
            "weight_sum_",
        ):
            if hasattr(self, name):
                delattr(self, name)

    def _check_statistics_params(self):
        for name, value in self._statistics_snapshot.items():
            current = getattr(self, name)
            if current != value:
                raise ValueError(
                    f"{name}={current!r} differs from {name}={value!r}, with which "
                    f"the statistics so far were accumulated (by fit or earlier "
                    f"partial_fit calls); {name} cannot change between calls. Set "
                    f"{name}={value!r} back, or call fit to start over."
                )

    def _commit_statistics(
        self, moments, n_samples, shifts, *, warm_start, exponents=(0, 0)
    ):
        """Solve from ``moments`` (relative to ``shifts``) when possible, keep them.

        ``moments`` are in the units ``exponents`` set (``view_exponents``);
        the fitted attributes come out in the data's. The solve comes first:
        if it raises, nothing has been changed.
        """
        n_components = resolve_n_components(
            self.n_components, self.n_features_in_, self.n_features_y_in_
        )
        _check_finite_statistics(moments, exponents)
        if n_samples >= _MIN_SAMPLES_TO_SOLVE:
            absolute = dataclasses.replace(
                moments,
                mean_x=moments.mean_x + np.ldexp(shifts[0], -exponents[0]),
                mean_y=moments.mean_y + np.ldexp(shifts[1], -exponents[1]),
            )
            self._set_solution(
                absolute, n_components, warm_start=warm_start, exponents=exponents
            )
            if any(exponents):
                self._restore_units(exponents)
        self._moments = moments
        self._moments_shifts = shifts
        self._moments_exponents = exponents
        self._statistics_snapshot = {
            name: getattr(self, name) for name in self._statistics_params
        }
        self.n_samples_seen_ = n_samples
        self.weight_sum_ = moments.weight_sum

    def _restore_units(self, exponents):
        """Put the attributes solved in scaled units back in the data's units.

        An attribute listed with ``(a, b)`` by ``_solution_units`` scales as
        ``scale_x**a * scale_y**b``; multiplying by ``2**(a e_x + b e_y)`` is
        exact unless the result leaves the float64 range.
        """
        e_x, e_y = exponents
        restored = {}
        for name, (a, b) in self._solution_units().items():
            value = getattr(self, name)
            if value is None or not (a or b):
                continue
            with np.errstate(over="ignore", under="ignore"):
                value = np.ldexp(value, a * e_x + b * e_y)
            # Reported statistics (plain Procrustes' covariances, the ridge
            # penalty) may leave the range at 1e300 without harm; the maps may not.
            if name not in _REPORTED_STATISTICS and not np.isfinite(value).all():
                # Raised before any attribute changes; fit restores the rest.
                raise ValueError(
                    f"{type(self).__name__}.{name} does not fit in float64 in the "
                    f"data's units: the views' magnitudes (about 2**{e_x} for X, "
                    f"2**{e_y} for y) are too far apart for a map between them. "
                    "Rescale one view (for example divide each by its largest "
                    "magnitude) and fit again."
                )
            restored[name] = value if np.ndim(value) else float(value)
        for name, value in restored.items():
            setattr(self, name, value)


def affine_map(rows, mean, matrix, offset=None):
    """``(rows - mean) @ matrix (+ offset)`` in the rows' float dtype.

    The fitted attributes are float64; cast to float32 rows, the map keeps
    float32 input in float32 (half the memory, and the float32 product that
    retrieval then searches with), as scikit-learn's transformers do.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._linear.sufficient_statistics import affine_map
    >>> rows = np.ones((2, 3), dtype=np.float32)
    >>> affine_map(rows, np.zeros(3), np.eye(3)[:, :2]).dtype
    dtype('float32')
    """
    dtype = rows.dtype
    result = (rows - mean.astype(dtype, copy=False)) @ matrix.astype(dtype, copy=False)
    if offset is not None:
        result += offset.astype(dtype, copy=False)
    return result


def _check_finite_statistics(moments, exponents):
    """Refuse statistics that overflowed, naming that cause.

    Each view is brought near 1 before its statistics are formed, so this
    only happens when the values themselves sit at the edge of the float64
    range (differences of values near 1.8e308 overflow), or when a later
    ``partial_fit`` chunk is ~1e150 times larger than the first one, which
    set the units.
    """
    parts = [moments.mean_x, moments.mean_y, moments.cross_xy]
    parts += [part for part in (moments.cross_xx, moments.cross_yy) if part is not None]
    if all(np.isfinite(part).all() for part in parts):
        return
    raise ValueError(
        "The sums of squares and products of the data overflowed the float64 "
        "range: values near 1e308, or (with partial_fit) chunks far larger than "
        f"the first one, which set the units (2**{exponents[0]} for X, "
        f"2**{exponents[1]} for y). Rescale the data (for example divide it by "
        "its largest magnitude) and fit again."
    )


def _first_rows(X, y):
    """The origin of the running statistics: the first pair, in float64."""
    return X[0].astype(np.float64), y[0].astype(np.float64)


def second_order_of(estimator):
    """The within-view co-moments ``estimator`` needs, ``(for X, for y)``.

    Each is None (means only), ``"diag"`` or ``"full"``.
    """
    return estimator._second_order()


def fit_from_statistics(
    estimator, moments, n_samples, shifts, *, inputs_of, exponents=(0, 0)
):
    """Fit an unfitted ``estimator`` of this family from statistics alone.

    ``moments`` are kept relative to ``shifts`` (as ``partial_fit`` keeps
    them), in the units ``exponents`` set (``view_exponents``); the
    description of the inputs (widths, feature names, y's shape) is that of
    the fitted ``inputs_of``, which saw the rows. A cross-validation search
    fits its candidates so, one per fold, without the rows.
    """
    copy_input_description(inputs_of, estimator)
    estimator._commit_statistics(
        moments, n_samples, shifts, warm_start=False, exponents=exponents
    )
    return estimator
