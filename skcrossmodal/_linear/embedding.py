"""Closed-form orthogonal Procrustes embedding of two paired views."""

import numbers

import numpy as np
from scipy import linalg
from sklearn.utils.extmath import svd_flip

from .._compat import IntegerInterval, Interval, StrOptions
from .._numerics.moments import shrunk_covariance_roots
from ..base import CrossModalEstimator
from .sufficient_statistics import SufficientStatisticsMixin, affine_map


def oas_shrinkage(cov, n_samples):
    """Oracle Approximating Shrinkage intensity of a covariance (Chen et al., 2010).

    The same formula as :func:`sklearn.covariance.oas`, computed from the
    covariance and the number of samples alone (here the weight sum), so that
    it comes from the sufficient statistics: ``OAS`` needs ``tr(S)`` and
    ``||S||_F^2`` only, where Ledoit-Wolf needs fourth moments of the rows.
    Returns ``s`` in ``[0, 1]`` for ``(1 - s) S + s * mean(diag(S)) * I``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.covariance import oas
    >>> from skcrossmodal._linear.embedding import oas_shrinkage
    >>> X = np.random.default_rng(0).normal(size=(30, 5))
    >>> cov = np.cov(X, rowvar=False, bias=True)
    >>> bool(np.isclose(oas_shrinkage(cov, 30), oas(X)[1]))
    True
    """
    n_features = cov.shape[0]
    if n_features == 1:
        return 0.0  # one feature: every shrinkage gives the same whitening
    # The shrinkage is free of the units: work with cov / max|cov| so that its
    # squares neither overflow (data of 1e150) nor underflow.
    largest = np.max(np.abs(cov))
    if largest == 0.0 or not np.isfinite(largest):
        return 1.0
    cov = cov / largest
    mean_variance = np.trace(cov) / n_features
    mean_square = np.mean(cov**2)
    numerator = mean_square + mean_variance**2
    denominator = (n_samples + 1) * (mean_square - mean_variance**2 / n_features)
    return 1.0 if denominator <= 0 else float(min(numerator / denominator, 1.0))


def _view_transforms(moments, view, *, scale, whiten, reg, view_name):
    """Maps into and out of the space in which Procrustes is solved, for one view.

    Returns ``(forward, backward, shrinkage)``: ``x_tilde = (x - mean) @
    forward`` and ``(x - mean) = x_tilde @ backward``. Plain centring is
    ``(None, None, None)``; scaling divides by the weighted standard deviation;
    whitening applies the inverse square root of the (shrunk) covariance, which
    turns Procrustes into CCA, and reports the shrinkage used.
    """
    second_order = moments.cross_xx if view == "x" else moments.cross_yy
    if whiten:
        cov = second_order / moments.weight_sum
        # Weights count as repetitions (scikit-learn's convention), so the
        # weight sum is the sample size that sets the shrinkage.
        shrinkage = oas_shrinkage(cov, moments.weight_sum) if reg == "auto" else reg
        return (
            *shrunk_covariance_roots(cov, shrinkage, view_name=view_name),
            shrinkage,
        )
    if scale:
        # Statistics gathered for other candidates may hold the full matrix.
        variances = second_order if second_order.ndim == 1 else np.diag(second_order)
        std = np.sqrt(variances / moments.weight_sum)
        std[std == 0.0] = 1.0  # constant features: leave them as they are
        return np.diag(1.0 / std), np.diag(std), None
    return None, None, None


def _apply(matrix, transform):
    return matrix if transform is None else transform @ matrix


def _axis_moments(rotations, second_order):
    """``diag(R^T C R)``: the co-moment of the data along each column of ``R``.

    A moment below the rounding error of its own computation is set to 0: a
    column in the null space of ``C`` (a constant combination of features,
    blown up by whitening) would otherwise get a spread, and a correlation
    as a ratio of two rounding errors, that varies with the BLAS.
    """
    squared_norms = np.einsum("ij,ij->j", rotations, rotations)
    if second_order.ndim == 1:
        moments = np.einsum("ij,ij,i->j", rotations, rotations, second_order)
        norm = np.max(np.abs(second_order), initial=0.0)
    else:
        moments = np.einsum("ij,ij->j", rotations, second_order @ rotations)
        norm = np.max(np.abs(second_order).sum(axis=1), initial=0.0)
    rounding = np.finfo(float).eps * len(second_order) * squared_norms * norm
    return np.where(np.abs(moments) <= rounding, 0.0, moments)


def _safe_ratio(numerator, denominator):
    """``numerator / denominator``, 0 where the denominator is 0 (no spread)."""
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1.0), 0.0)


class CrossModalEmbedding(SufficientStatisticsMixin, CrossModalEstimator):
    """Orthogonal Procrustes embedding of two paired views, in closed form.

    Learns the (semi-)orthogonal map ``W`` that best carries the centred first
    view onto the centred second view,

    .. math:: \\min_W \\sum_i s_i \\|(y_i - \\bar y) - W^T (x_i - \\bar x)\\|^2
              \\quad \\text{s.t. } W \\text{ has orthonormal rows or columns},

    from one SVD of the weighted cross-covariance ``C_xy = U S V^T``: the
    solution is ``W = U V^T``. The shared space is spanned by the singular
    vectors: ``X_scores = (X - x_mean) U`` and ``y_scores = (y - y_mean) V``,
    which coincide for a perfect rotation. Keeping the first ``n_components``
    singular pairs gives a rank-``n_components`` map.

    Parameters
    ----------
    n_components : int, default=None
        Dimension of the shared space; ``None`` uses
        ``min(n_features, n_features_y)``, the full Procrustes map.
    scale : bool, default=False
        Divide each feature of both views by its (weighted) standard deviation
        before solving; predictions are returned in y's original units.
    whiten : bool, default=True
        Whiten each view with the inverse square root of its (shrunk)
        covariance before solving. The shared space is then that of canonical
        correlation analysis (CCA), each axis weighted by its canonical
        correlation, and ``singular_values_`` are the canonical correlations.
        ``False`` gives plain orthogonal Procrustes, for views that are
        already in one geometry (word embeddings of two languages, say). The
        default is measured in :doc:`/model_selection`: whitened, shrunk CCA
        retrieves as well as or better than plain Procrustes on every data set
        tried there.
    reg : float or "auto", default="auto"
        Shrinkage of each covariance towards a scaled identity before whitening,
        ``(1 - reg) C + reg * mean(diag(C)) I``, in ``[0, 1]``. ``0`` gives exact
        CCA; ``"auto"`` uses, for each view, the Oracle Approximating
        Shrinkage of :func:`sklearn.covariance.oas` computed from the
        statistics (small when there are many pairs per feature, large when
        a view has more features than pairs). Ignored unless ``whiten=True``.
    n_jobs : int, default=None
        Number of threads that compute the sufficient statistics; ``None``
        lets the library choose (see the scaling guide).

    Attributes
    ----------
    n_components_ : int
        Dimension of the shared space.
    x_mean_ : ndarray of shape (n_features_in_,)
        Weighted mean of X.
    y_mean_ : ndarray of shape (n_features_y_in_,)
        Weighted mean of y.
    x_rotations_ : ndarray of shape (n_features_in_, n_components_)
        ``X_scores = (X - x_mean_) @ x_rotations_`` (includes scaling/whitening).
    y_rotations_ : ndarray of shape (n_features_y_in_, n_components_)
        ``y_scores = (y - y_mean_) @ y_rotations_``.
    coef_ : ndarray of shape (n_features_in_, n_features_y_in_)
        ``predict(X) = (X - x_mean_) @ coef_ + y_mean_``: the orthogonal map
        times its least-squares scale, or with ``whiten=True`` the
        least-squares read-out of each canonical axis (see Notes).
    intercept_ : ndarray of shape (n_features_y_in_,)
        ``y_mean_ - x_mean_ @ coef_``, for ``X @ coef_ + intercept_``.
    singular_values_ : ndarray of shape (n_components_,)
        Singular values of the cross-covariance of the (scaled) views, the
        covariances along the shared axes; with ``whiten=True``, the
        correlations of the training scores along each axis (the canonical
        correlations, at most 1 whatever ``reg``).
    x_shrinkage_ : float or None
        Shrinkage applied to X's covariance (``reg``, or the one ``"auto"``
        chose); ``None`` unless ``whiten=True``.
    y_shrinkage_ : float or None
        The same for y.
    n_features_in_ : int
        Number of features of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's features, when X had string column names.
    n_features_y_in_ : int
        Number of features (columns) of y seen during fit.
    n_samples_seen_ : int
        Number of pairs the statistics hold: those of ``fit`` and of every
        ``partial_fit`` call since.
    weight_sum_ : float
        Sum of their sample weights (``n_samples_seen_`` without weights).

    See Also
    --------
    SharedLatentRegression : Regularised reduced-rank map through a latent.
    sklearn.cross_decomposition.CCA : Iterative CCA; ``whiten=True`` gives the
        same canonical correlations in closed form.

    Notes
    -----
    The fit uses only the weighted means and the centred cross-products
    ``X^T y`` and ``X^T X`` (plus y's diagonal or covariance when ``scale`` or
    ``whiten`` ask for them), accumulated block by block: it never makes a
    centred copy of X or y. When X has more features than y the exact
    least-squares problem with ``W^T W = I`` has no closed form; ``U V^T`` is
    then the map that maximises the cross term ``tr(W^T C_xy)``, as in
    Schönemann's solution for equal dimensions.

    ``predict`` is in y's units although the map is orthogonal: without
    whitening it multiplies the map by the scale ``s`` that minimises
    ``sum_i ||y_i - y_mean - s W^T (x_i - x_mean)||^2`` (the extended
    Procrustes problem with a scale factor of Schönemann & Carroll [2]_,
    ``s = tr(S_k) / tr(U_k^T C_xx U_k)``); with ``whiten=True`` each canonical
    axis ``j`` is read out by the least-squares slope of y's score on X's,
    ``cov(x a_j, y b_j) / var(x a_j)``, which for ``reg=0`` is the canonical
    correlation, and with all components and ``reg=0`` gives ordinary least
    squares. This needs X's full co-moment matrix, so every fit accumulates
    ``X^T X`` as well as ``X^T y``.

    Because only these statistics are needed, the model can also be learnt from
    data that does not fit in memory: ``partial_fit`` merges one chunk at a
    time into the running statistics (the model equals ``fit`` on all rows),
    and ``fit`` takes ``dask.array`` inputs, which dask reduces chunk by chunk
    on its workers. ``transform`` and ``predict`` of a dask array return lazy
    dask arrays.

    References
    ----------
    .. [1] P. H. Schönemann, "A generalized solution of the orthogonal Procrustes
       problem", Psychometrika 31(1), 1966.
    .. [2] P. H. Schönemann and R. M. Carroll, "Fitting one matrix to another
       under choice of a central dilation and a rigid motion", Psychometrika
       35(2), 1970.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from skcrossmodal import CrossModalEmbedding
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> rotation = ortho_group.rvs(5, random_state=0)
    >>> y = X @ rotation + 3.0
    >>> model = CrossModalEmbedding().fit(X, y)
    >>> np.allclose(model.predict(X), y)
    True
    >>> X_scores, y_scores = model.transform(X, y)
    >>> X_scores.shape, np.allclose(X_scores, y_scores)
    ((100, 5), True)
    >>> model.score(X, y)
    1.0

    Streaming the same rows in chunks gives the same model:

    >>> streamed = CrossModalEmbedding()
    >>> for rows in np.array_split(np.arange(100), 7):
    ...     streamed = streamed.partial_fit(X[rows], y[rows])
    >>> streamed.n_samples_seen_, np.allclose(streamed.coef_, model.coef_)
    (100, True)
    """

    _parameter_constraints: dict = {
        "n_components": [IntegerInterval(1, None, closed="left"), None],
        "scale": ["boolean"],
        "whiten": ["boolean"],
        "reg": [Interval(numbers.Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "n_jobs": [None, IntegerInterval(1, None, closed="left")],
    }

    def __init__(
        self, n_components=None, *, scale=False, whiten=True, reg="auto", n_jobs=None
    ):
        self.n_components = n_components
        self.scale = scale
        self.whiten = whiten
        self.reg = reg
        self.n_jobs = n_jobs

    # Scaling and whitening need within-view co-moments that plain Procrustes
    # does not accumulate, so they cannot be switched on between partial_fits.
    _statistics_params = ("n_components", "scale", "whiten")

    def _second_order(self):
        # X's full co-moment gives the least-squares scale of predict.
        second_order_y = "full" if self.whiten else ("diag" if self.scale else None)
        return "full", second_order_y

    def _solution_units(self):
        """Power of (X's scale, y's scale) that each fitted attribute carries.

        Whitened or scaled views are free of units, so their scores are too;
        plain Procrustes rotates the data in their own units.
        """
        unit_free = self.whiten or self.scale
        return {
            "x_mean_": (1, 0),
            "y_mean_": (0, 1),
            "coef_": (-1, 1),
            "intercept_": (0, 1),
            "x_rotations_": (-1, 0) if unit_free else (0, 0),
            "y_rotations_": (0, -1) if unit_free else (0, 0),
            "singular_values_": (0, 0) if unit_free else (1, 1),
        }

    def _set_solution(self, moments, n_components, *, warm_start=False, exponents=None):
        """Solve Procrustes from the sufficient statistics and store the maps.

        The closed form has no iterate to warm-start; ``warm_start`` is ignored,
        and so are the units ``exponents`` (no parameter carries units).
        """
        options = {"scale": self.scale, "whiten": self.whiten, "reg": self.reg}
        x_forward, x_backward, x_shrinkage = _view_transforms(
            moments, "x", view_name="X", **options
        )
        y_forward, y_backward, y_shrinkage = _view_transforms(
            moments, "y", view_name="y", **options
        )
        cross_covariance = moments.cross_xy / moments.weight_sum
        cross_covariance = _apply(
            cross_covariance, None if x_forward is None else x_forward.T
        )
        if y_forward is not None:
            cross_covariance = cross_covariance @ y_forward
        U, singular_values, Vt = linalg.svd(cross_covariance, full_matrices=False)
        U, Vt = svd_flip(U, Vt)
        U, Vt = U[:, :n_components], Vt[:n_components]
        x_rotations = _apply(U, x_forward)
        y_rotations = _apply(Vt.T, y_forward)
        x_spread = _axis_moments(x_rotations, moments.cross_xx)
        if self.whiten:
            # Canonical correlations of the training scores, <= 1 whatever the
            # shrinkage (the singular values of the shrunk problem can exceed
            # 1), and the least-squares slope of y's score on X's along each
            # canonical axis.
            covariances = np.einsum(
                "ij,ij->j", x_rotations, moments.cross_xy @ y_rotations
            )
            y_spread = _axis_moments(y_rotations, moments.cross_yy)
            reported = _safe_ratio(
                covariances,
                # Two roots, not the root of a product: co-moments weighted
                # by 1e300 would overflow when multiplied.
                np.sqrt(np.maximum(x_spread, 0.0)) * np.sqrt(np.maximum(y_spread, 0.0)),
            )
            read_out = _safe_ratio(covariances, x_spread)[:, None] * Vt
        else:
            # Extended Procrustes: the one scale s minimising
            # ||y_tilde - s x_tilde U V^T||^2 is tr(S_k) / tr(U^T C_xx U).
            reported = singular_values[:n_components]
            explained = reported.sum() * moments.weight_sum
            read_out = float(_safe_ratio(explained, x_spread.sum())) * Vt

        self.n_components_ = n_components
        self.x_mean_ = moments.mean_x
        self.y_mean_ = moments.mean_y
        self.singular_values_ = reported
        self.coef_ = x_rotations @ (
            read_out if y_backward is None else read_out @ y_backward
        )
        if self.whiten:
            # Whitened scores have unit variance along every axis, so cosine
            # similarity would trust a barely shared axis as much as the best
            # one; weighting each by its canonical correlation makes the
            # shared space trust each axis as far as the views share it.
            x_rotations = x_rotations * np.maximum(reported, 0.0)
            y_rotations = y_rotations * np.maximum(reported, 0.0)
        self.x_rotations_ = x_rotations
        self.y_rotations_ = y_rotations
        self.intercept_ = self.y_mean_ - self.x_mean_ @ self.coef_
        self.x_shrinkage_ = x_shrinkage
        self.y_shrinkage_ = y_shrinkage

    def _embed_x(self, X):
        return affine_map(X, self.x_mean_, self.x_rotations_)

    def _embed_y(self, y):
        return affine_map(y, self.y_mean_, self.y_rotations_)

    def _predict_views(self, X):
        return affine_map(X, self.x_mean_, self.coef_, self.y_mean_)
