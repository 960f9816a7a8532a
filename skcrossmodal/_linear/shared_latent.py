"""Shared-latent (reduced-rank ridge) regression of one view onto the other.

The first view is mapped to a ``k``-dimensional latent ``z = Z^T (x - x_mean)``
and the second view is read off it, ``y ~ y_mean + W^T z``, with ``W`` having
orthonormal rows so that the ridge penalty on ``Z`` pins the scale. Both the
alternating solver and the closed form use only the sufficient statistics of
``two_view_moments`` (weighted means, ``X^T X``, ``X^T y`` and the trace of
``y^T y``), so once those are accumulated nothing depends on the number of rows.
"""

import numbers
import warnings

import numpy as np
from scipy import linalg
from scipy.linalg.lapack import dpocon
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.extmath import randomized_svd

from .._compat import IntegerInterval, Interval, StrOptions
from ..base import CrossModalEstimator
from .embedding import oas_shrinkage
from .sufficient_statistics import SufficientStatisticsMixin, affine_map


def _scaled_statistics(moments, scale):
    """Return ``(cxx, cxy, cyy, x_std, y_std)`` of the (scaled) centred views.

    Co-moments are sums over the weighted rows (not divided by the weight sum),
    so that ``alpha`` weighs against them as in :class:`sklearn.linear_model.Ridge`.
    ``x_std``/``y_std`` are ``None`` unless ``scale``.
    """
    cxx, cxy, cyy = moments.cross_xx, moments.cross_xy, moments.cross_yy
    if not scale:
        return cxx, cxy, cyy, None, None
    x_std = _weighted_std(np.diag(cxx), moments.weight_sum)
    y_std = _weighted_std(np.diag(cyy), moments.weight_sum)
    cxx = cxx / np.outer(x_std, x_std)
    cxy = cxy / np.outer(x_std, y_std)
    return cxx, cxy, cyy / np.outer(y_std, y_std), x_std, y_std


def _weighted_std(sum_of_squares, weight_sum):
    std = np.sqrt(sum_of_squares / weight_sum)
    std[std == 0.0] = 1.0  # constant features: leave them as they are
    return std


def _factor_ridge_gram(cxx, alpha, *, given_alpha=None):
    """Cholesky factor of ``cxx + alpha I``, or a ValueError if it is singular.

    ``given_alpha`` is the parameter as the user set it, named in the error
    (``alpha`` may be in the scaled units of the statistics, or chosen).

    The 1-norm condition estimate of LAPACK's ``pocon`` costs O(d^2) on top of
    the factorisation and catches the numerically singular case that Cholesky
    lets through with a tiny positive pivot (which would give huge or NaN
    coefficients).
    """
    n_features = cxx.shape[0]
    gram = cxx.copy()
    gram.flat[:: n_features + 1] += alpha
    norm_1 = np.abs(gram).sum(axis=0).max()
    try:
        factor, lower = linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
        rcond, _ = dpocon(factor, norm_1, uplo="L" if lower else "U")
    except linalg.LinAlgError:
        rcond = 0.0
    if not rcond > 10 * n_features * np.finfo(np.float64).eps:
        shown = alpha if given_alpha is None or given_alpha == "auto" else given_alpha
        raise ValueError(
            f"X^T X + alpha * I is singular with alpha={shown}: X is rank-deficient "
            "(collinear or constant features, or more features than samples). "
            "Raise alpha (for example alpha=1.0), or reduce X's features first."
        )
    return factor, lower


def gcv_alpha(cxx, cxy, trace_yy, n_samples):
    """Ridge penalty minimising generalised cross-validation, from the statistics.

    For ridge regression of y on X (the ``n_components=None`` case) with
    ``C_xx = Q diag(l) Q^T`` and ``P = Q^T C_xy``, the residual sum of squares
    is ``tr(C_yy) - sum_j ||P_j||^2 (l_j + 2 a) / (l_j + a)^2`` and the
    degrees of freedom are ``sum_j l_j / (l_j + a)``; GCV is
    ``RSS / (n - 1 - df)^2`` (one degree for the intercept), the leave-one-out
    error with every row's leverage replaced by the mean (Golub, Heath &
    Wahba, 1979). It is minimised over 61 penalties spread geometrically from
    ``1e-6`` to ``1e3`` times the mean eigenvalue of ``C_xx``; ``n_samples``
    is the weight sum (weights count as repetitions). Costs one ``d_x x d_x``
    eigendecomposition.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._linear.shared_latent import gcv_alpha
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 10)); signal = X[:, :1]
    >>> def penalty(noise):
    ...     y = signal + noise * rng.normal(size=(50, 1))
    ...     Xc, yc = X - X.mean(0), y - y.mean(0)
    ...     return gcv_alpha(Xc.T @ Xc, Xc.T @ yc, float((yc**2).sum()), 50.0)
    >>> bool(penalty(0.01) < penalty(1.0) < penalty(100.0))
    True
    """
    # GCV's minimiser scales with C_xx and is otherwise free of the units:
    # solve in units where max|C_xx| = 1 and tr(C_yy) = 1, so that squares of
    # statistics of data at 1e150 neither overflow nor underflow.
    x_unit = np.max(np.abs(cxx)) if cxx.size else 0.0
    if not x_unit > 0 or not trace_yy > 0:
        return 1.0  # a constant view: the penalty changes nothing
    cxy = cxy / np.sqrt(x_unit) / np.sqrt(trace_yy)
    eigenvalues, eigenvectors = linalg.eigh(cxx / x_unit, check_finite=False)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    projected = np.sum((eigenvectors.T @ cxy) ** 2, axis=1)
    mean_eigenvalue = eigenvalues.mean()
    if not mean_eigenvalue > 0:
        return 1.0  # X is constant: the penalty changes nothing
    trace_yy = 1.0
    alphas = np.geomspace(1e-6, 1e3, 61) * mean_eigenvalue
    shrunk = eigenvalues[None, :] + alphas[:, None]
    explained = (projected * (eigenvalues + 2 * alphas[:, None]) / shrunk**2).sum(1)
    residual = np.maximum(trace_yy - explained, 0.0)
    dof = (eigenvalues / shrunk).sum(axis=1)
    room = n_samples - 1.0 - dof
    with np.errstate(divide="ignore"):
        criterion = np.where(
            room > 0, residual / np.where(room > 0, room, 1) ** 2, np.inf
        )
    return float(alphas[np.argmin(criterion)] * x_unit)


def _orthonormal_rows_closest_to(matrix):
    """Orthogonal Procrustes: the ``W`` with ``W W^T = I`` maximising tr(W M^T)."""
    U, _, Vt = linalg.svd(matrix, full_matrices=False, check_finite=False)
    return U @ Vt


def _initial_loadings(cxy, n_components, init, random_state):
    """Starting ``W`` (k x d_y, orthonormal rows)."""
    if n_components == cxy.shape[1]:
        # W is square: every orthogonal W gives the same coef_, so skip the SVD.
        return np.eye(n_components)
    if init == "random":
        gaussian = random_state.standard_normal((cxy.shape[1], n_components))
        return linalg.qr(gaussian, mode="economic")[0].T
    # "pls": top right singular vectors of X^T y, the ALS fixed point as alpha grows.
    if 4 * (n_components + 10) < min(cxy.shape):
        # Only k of d singular vectors are needed: a randomized SVD is O(d^2 k).
        # Two power iterations suffice for a start that ALS refines anyway.
        _, _, Vt = randomized_svd(
            cxy, n_components, n_iter=2, random_state=random_state
        )
        return Vt
    return linalg.svd(cxy, full_matrices=False, check_finite=False)[2][:n_components]


def _alternating_least_squares(cxy, factor, trace_yy, W, *, max_iter, tol):
    """Alternate the ridge Z-step and the Procrustes W-step.

    Each iteration costs O(d_x^2 k + d_x d_y k): two triangular solves against the
    Cholesky factor and two products with ``cxy``. Returns
    ``(Z, W, n_iter, objective_path, converged)``.
    """
    Z = linalg.cho_solve(factor, cxy @ W.T, check_finite=False)
    latent_cross = Z.T @ cxy  # Z^T C_xy, k x d_y
    # At the Z-step optimum, alpha||Z||^2 + Z^T C_xx Z terms equal tr(Z^T C_xy W^T),
    # so the objective is tr(C_yy) - tr(Z^T C_xy W^T).
    objective_path = [trace_yy - np.vdot(latent_cross, W)]
    converged = False
    n_iter = 0
    while not converged and n_iter < max_iter:
        n_iter += 1
        W_old, Z_old = W, Z
        W = _orthonormal_rows_closest_to(latent_cross)
        Z = linalg.cho_solve(factor, cxy @ W.T, check_finite=False)
        latent_cross = Z.T @ cxy
        objective_path.append(trace_yy - np.vdot(latent_cross, W))
        # Compared on coef = Z W, which is unique even where W is not (rank < k);
        # ||Z W||_F = ||Z||_F because W has orthonormal rows.
        change = _coef_change(Z_old, W_old, Z, W)
        converged = change <= tol * linalg.norm(Z)
    return Z, W, n_iter, np.asarray(objective_path), converged


def _coef_change(Z_old, W_old, Z, W):
    """``||Z W - Z_old W_old||_F`` in O(d k^2), without forming either product.

    Splitting ``W = G W_old + W_perp`` (``G = W W_old^T``, ``W_perp`` orthogonal
    to ``W_old``'s rows) gives two Frobenius-orthogonal parts,
    ``(Z G - Z_old) W_old`` and ``Z W_perp``; both are computed as differences
    of the small factors, so a change near machine precision is still resolved
    (expanding ``||a - b||^2`` would lose half the digits).
    """
    overlap = W @ W_old.T
    W_perp = W - overlap @ W_old
    in_span = linalg.norm(Z @ overlap - Z_old) ** 2
    out_of_span = np.vdot(Z.T @ Z, W_perp @ W_perp.T)
    return np.sqrt(in_span + max(out_of_span, 0.0))


def _closed_form(cxy, factor, trace_yy, n_components):
    """Reduced-rank ridge of Mukherjee & Zhu (2011): top eigenvectors of y's fit."""
    ridge_coef = linalg.cho_solve(factor, cxy, check_finite=False)
    fitted_comoment = cxy.T @ ridge_coef
    fitted_comoment = (fitted_comoment + fitted_comoment.T) / 2  # exact symmetry
    n_features_y = cxy.shape[1]
    _, eigenvectors = linalg.eigh(
        fitted_comoment,
        subset_by_index=[n_features_y - n_components, n_features_y - 1],
        check_finite=False,
    )
    Z = ridge_coef @ eigenvectors
    W = eigenvectors.T
    objective = trace_yy - np.vdot(Z.T @ cxy, W)
    return Z, W, np.array([objective])


def _canonical_axes(Z, W, cxy):
    """Rotate the latent so that its axes are ordered and signed reproducibly.

    ``(Z Q, Q^T W)`` has the same ``coef = Z W`` and objective for any rotation
    ``Q``; we take the eigenvectors of ``Z^T C_xy W^T`` (the part of y's
    co-moment explained along each axis), largest first, with the largest
    entry of each row of ``W`` positive.
    """
    explained = Z.T @ cxy @ W.T
    _, rotation = linalg.eigh((explained + explained.T) / 2)
    rotation = rotation[:, ::-1]
    W = rotation.T @ W
    signs = np.sign(W[np.arange(W.shape[0]), np.argmax(np.abs(W), axis=1)])
    signs[signs == 0] = 1.0
    return Z @ (rotation * signs), W * signs[:, None]


def _residual_covariance(cxx, cxy, cyy, coef, weight_sum):
    """OAS-shrunk covariance of y's training residuals, scaled to mean variance 1.

    ``y - x coef`` has co-moment ``C_yy - C_yx B - B^T C_xy + B^T C_xx B``; it
    is shrunk like :class:`CrossModalEmbedding`'s whitening (``oas_shrinkage``,
    as :func:`sklearn.covariance.oas`), since with as many y features as pairs
    the residuals' covariance is badly estimated. Only its shape matters to
    the embedding, so it is divided by its mean variance (which also keeps
    data of any units away from overflow). A perfect fit leaves no residual
    to measure: every direction then counts the same.
    """
    fitted_cross = cxy.T @ coef
    residual = cyy - fitted_cross - fitted_cross.T + coef.T @ cxx @ coef
    residual = (residual + residual.T) / 2
    mean_variance = np.trace(residual) / residual.shape[0]
    identity = np.eye(residual.shape[0])
    # Rounding leaves a residual of ~1e-16 of y's spread on an exact fit.
    floor = 1e-12 * max(np.trace(cyy) / cyy.shape[0], 0.0)
    if not (np.isfinite(mean_variance) and mean_variance > floor):
        return identity
    residual = residual / mean_variance
    shrinkage = oas_shrinkage(residual / weight_sum, weight_sum)
    return (1.0 - shrinkage) * residual + shrinkage * identity


def _noise_whitened_maps(W, residual_cov):
    """``(P, M^{1/2}, M^{-1/2})`` of the generalised least-squares latent of y.

    With ``y = z W + e`` and ``cov(e) = S``, the latent read from y by
    generalised least squares is ``y P M^{-1}`` with ``P = S^{-1} W^T`` and
    ``M = W S^{-1} W^T``, whose error has covariance ``M^{-1}``. Multiplying
    both views' latent by ``M^{1/2}`` makes that error isotropic.
    """
    values, vectors = linalg.eigh(residual_cov, check_finite=False)
    values = np.maximum(values, 1e-12 * values[-1])
    P = (vectors / values) @ (vectors.T @ W.T)
    M = W @ P
    values, vectors = linalg.eigh((M + M.T) / 2, check_finite=False)
    values = np.maximum(values, 1e-12 * values[-1])
    root = np.sqrt(values)
    return P, (vectors * root) @ vectors.T, (vectors / root) @ vectors.T


def _ordered_embedding(x_rotations, y_rotations, y_loadings, cxx):
    """Rotate the embedding's axes: largest spread of X's scores first.

    A common rotation of both views' maps changes no cosine similarity and
    no prediction; ordering by the spread of X's scores (the predicted latent
    in units of its error) puts the axes with the most signal per unit of
    noise first. Signs: the largest entry of each loading is positive.
    """
    spread = x_rotations.T @ cxx @ x_rotations
    _, rotation = linalg.eigh((spread + spread.T) / 2)
    rotation = rotation[:, ::-1]
    y_loadings = y_loadings @ rotation
    column = np.arange(y_loadings.shape[1])
    signs = np.sign(y_loadings[np.argmax(np.abs(y_loadings), axis=0), column])
    signs[signs == 0] = 1.0
    rotation = rotation * signs
    return x_rotations @ rotation, y_rotations @ rotation


class SharedLatentRegression(SufficientStatisticsMixin, CrossModalEstimator):
    """Predict one view from the other through a shared, ridge-penalised latent.

    The first view is mapped to a latent of ``n_components`` dimensions,
    ``z = Z^T (x - x_mean)``, and the second view is reconstructed from it,
    ``y ~ y_mean + W^T z``. With ``W`` constrained to orthonormal rows the
    penalty pins the scale, and the problem below has one solution ``coef_``
    (when its spectrum has a gap at ``k``; the latent is unique up to a
    rotation, fixed at the end as described in the Notes):

    .. math:: \\min_{Z, W} \\sum_i s_i \\|y_i - \\bar y - W^T Z^T (x_i - \\bar x)\\|^2
              + \\alpha \\|Z\\|_F^2 \\quad \\text{s.t. } W W^T = I

    where ``s_i`` are the sample weights (a sum, as in
    :class:`~sklearn.linear_model.Ridge`, not a mean). Its minimiser is the
    reduced-rank ridge regression ``coef_ = Z W`` of Mukherjee & Zhu [1]_. The
    default solver alternates a ridge regression for ``Z`` (``W`` fixed) and an
    orthogonal Procrustes problem for ``W`` (``Z`` fixed); both steps use only
    the weighted means and co-moment matrices, so an iteration costs
    ``O(d^2 k)`` whatever the number of samples.

    ``transform`` places both views in the latent for retrieval: X by its
    prediction of the latent, y by the generalised least-squares estimate of
    its latent under the covariance of the training residuals, both expressed
    in units of the error between the two (see Notes), so that cosine
    similarity weighs each latent direction by how reliably X predicts it.

    Parameters
    ----------
    n_components : int, default=None
        Rank ``k`` of the map, the dimension of the shared latent. ``None`` uses
        ``min(n_features, n_features_y)``: without evidence that the relation
        is low-rank the safe choice for held-out data is no rank constraint,
        which is plain ridge regression of y on X (and the only default valid
        for every shape, a 1-D ``y`` included). Lower it, jointly with
        ``alpha``, by cross-validation when the views share a few factors.
    alpha : float or "auto", default="auto"
        Ridge penalty on ``Z``, in the units of the co-moment sums ``X^T X``
        (as in :class:`~sklearn.linear_model.Ridge`). ``0`` is unpenalised
        reduced-rank regression and needs X to have full column rank.
        ``"auto"`` picks the penalty that minimises generalised
        cross-validation of the full-rank ridge fit, from the statistics
        alone (one eigendecomposition of ``X^T X``, 61 penalties from
        ``1e-6`` to ``1e3`` times its mean eigenvalue); the value used is
        ``alpha_``.
    solver : {"als", "closed_form"}, default="als"
        ``"als"``: alternating least squares, ``O(d^2 k)`` per iteration, best
        when the rank is much smaller than the dimensions. ``"closed_form"``:
        one eigendecomposition of a ``d_y x d_y`` matrix; exact, and faster
        when y has few features or the spectrum has no clear gap at ``k``.
    max_iter : int, default=500
        Maximum number of alternating iterations.
    tol : float, default=1e-6
        Stop when the relative change of ``coef_`` between two iterations,
        ``||coef_new - coef_old||_F / ||coef_new||_F``, is at most ``tol``.
    init : {"pls", "random"}, default="pls"
        Starting ``W``: the top right singular vectors of ``X^T y`` (the
        solution as ``alpha`` grows large), or a random orthonormal matrix.
        Ignored by ``solver="closed_form"``.
    scale : bool, default=False
        Divide each feature of both views by its weighted standard deviation
        before solving (``alpha`` then penalises the scaled problem).
        Predictions are always in y's original units. Off by default, so that
        ``StandardScaler`` in a pipeline is the one place this happens.
    random_state : int, RandomState instance or None, default=None
        Seeds ``init="random"`` and the randomized SVD of ``init="pls"`` (used
        when the views have many more features than ``n_components``).
    n_jobs : int, default=None
        Number of threads that compute the sufficient statistics; ``None``
        lets the library choose (see the scaling guide).

    Attributes
    ----------
    n_components_ : int
        Dimension of the shared latent.
    x_mean_ : ndarray of shape (n_features_in_,)
        Weighted mean of X.
    y_mean_ : ndarray of shape (n_features_y_in_,)
        Weighted mean of y.
    x_weights_ : ndarray of shape (n_features_in_, n_components_)
        ``Z`` in X's units: the latent ``z = (X - x_mean_) @ x_weights_``.
    y_weights_ : ndarray of shape (n_features_y_in_, n_components_)
        ``W^T`` in y's units: the orthogonal projection of ``y - y_mean_`` on
        the latent axes. Equal to ``y_loadings_`` unless ``scale=True``.
    y_loadings_ : ndarray of shape (n_features_y_in_, n_components_)
        Reconstruction of y from the latent:
        ``predict(X) = z @ y_loadings_.T + y_mean_``.
    x_rotations_ : ndarray of shape (n_features_in_, n_components_)
        ``transform(X) = (X - x_mean_) @ x_rotations_``: the latent ``z`` in
        units of its error (``Z M^{1/2}`` in the Notes, axes rotated).
    y_rotations_ : ndarray of shape (n_features_y_in_, n_components_)
        ``transform(X, y)[1] = (y - y_mean_) @ y_rotations_``: y's
        generalised least-squares latent in the same units.
    coef_ : ndarray of shape (n_features_in_, n_features_y_in_)
        ``predict(X) = (X - x_mean_) @ coef_ + y_mean_``; rank ``n_components_``.
    intercept_ : ndarray of shape (n_features_y_in_,)
        ``y_mean_ - x_mean_ @ coef_``, for ``X @ coef_ + intercept_``.
    alpha_ : float
        The ridge penalty used: ``alpha``, or the one ``"auto"`` chose.
    n_iter_ : int
        Number of alternating iterations run (0 for ``solver="closed_form"``).
    objective_path_ : ndarray of shape (n_iter_ + 1,)
        Objective (in the scaled units when ``scale=True``) at the start and
        after each iteration; it never increases.
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
    CrossModalEmbedding : Orthogonal (rotation) map between the views.
    sklearn.linear_model.Ridge : The case ``n_components=None``.
    sklearn.cross_decomposition.PLSCanonical : Iterative latent-factor model.

    Notes
    -----
    Because ``W`` has orthonormal rows, ``||Z W||_F = ||Z||_F``: the problem is
    ridge regression restricted to rank ``k``, whose solution is the ridge
    coefficient ``B = (X^T X + alpha I)^{-1} X^T y`` projected on the top ``k``
    eigenvectors ``V`` of ``y^T X B``: ``coef_ = B V V^T``. The alternating
    solver is a subspace iteration on that matrix, so it converges at the rate
    of the ratio of its ``(k+1)``-th to ``k``-th eigenvalue. The latent axes
    are rotated at the end so that the first explains the most of y.

    ``predict`` needs only ``coef_``; retrieval (``transform``, ``score``)
    needs a geometry in which to compare the two views' latents. Under the
    model, ``y = z W + e``: the y side's latent is estimated by generalised
    least squares, ``z_y = y P M^{-1}`` with ``P = S^{-1} W^T`` and
    ``M = W S^{-1} W^T``, where ``S`` is the covariance of the training
    residuals ``e`` (OAS-shrunk, as :class:`CrossModalEmbedding` shrinks its
    whitening; only its shape matters), and ``z_y - z`` then has covariance
    ``M^{-1}``. Both latents are multiplied by ``M^{1/2}``, which makes that
    error isotropic: a latent direction that X predicts to within little
    residual noise counts more in cosine similarity than one buried in it, and
    the inner product of the two scores, ``z^T W S^{-1} y``, is the term of
    the Gaussian log-likelihood of the pair that involves both views. The
    plain projections ``(z, y W^T)`` would instead weigh directions by y's
    raw variance, which is how an unwhitened regression loses to CCA on
    retrieval. At full rank without penalty this is CCA with each canonical
    axis weighted by ``rho / (1 - rho^2)`` in the inner product. The maps are
    then rotated together (no cosine or prediction changes) so that the
    first axis has the largest spread of X's scores.

    As the fit needs only the statistics, ``partial_fit`` can stream data that
    does not fit in memory, one chunk at a time (the alternating solver then
    restarts from the previous solution, unless the usual start already does
    better), and ``fit`` takes ``dask.array``
    inputs, reduced chunk by chunk on dask's workers. ``transform`` and
    ``predict`` of a dask array return lazy dask arrays.

    References
    ----------
    .. [1] A. Mukherjee and J. Zhu, "Reduced rank ridge regression and its
       kernel extensions", Statistical Analysis and Data Mining 4(6), 2011.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import SharedLatentRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))
    >>> y = X @ rng.normal(size=(6, 2)) @ rng.normal(size=(2, 4)) + 1.0
    >>> model = SharedLatentRegression(n_components=2, alpha=1e-6).fit(X, y)
    >>> np.allclose(model.predict(X), y)
    True
    >>> model.coef_.shape, np.linalg.matrix_rank(model.coef_)
    ((6, 4), np.int64(2))
    >>> X_scores, y_scores = model.transform(X, y)
    >>> X_scores.shape, np.allclose(X_scores, y_scores)
    ((200, 2), True)

    Streaming the rows in chunks gives the same model:

    >>> streamed = SharedLatentRegression(n_components=2, alpha=1e-6)
    >>> for rows in np.array_split(np.arange(200), 5):
    ...     streamed = streamed.partial_fit(X[rows], y[rows])
    >>> np.allclose(streamed.coef_, model.coef_)
    True
    """

    _parameter_constraints: dict = {
        "n_components": [IntegerInterval(1, None, closed="left"), None],
        "alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "solver": [StrOptions({"als", "closed_form"})],
        "max_iter": [IntegerInterval(1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "init": [StrOptions({"pls", "random"})],
        "scale": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [None, IntegerInterval(1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=None,
        *,
        alpha="auto",
        solver="als",
        max_iter=500,
        tol=1e-6,
        init="pls",
        scale=False,
        random_state=None,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.scale = scale
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _second_order(self):
        # y's full co-moment gives the covariance of the residuals that
        # transform whitens.
        return "full", "full"

    def _solution_units(self):
        """Power of (X's scale, y's scale) that each fitted attribute carries.

        With ``scale=True`` the problem is solved on standardised views, so
        the latent, the penalty and the objective are free of units.
        """
        if self.scale:
            latent, penalty, objective = (-1, 0), (0, 0), (0, 0)
            y_weights, y_loadings, y_rotations = (0, -1), (0, 1), (0, -1)
        else:
            latent, objective = (-1, 1), (0, 2)
            penalty = (2, 0) if self.alpha == "auto" else (0, 0)
            y_weights, y_loadings, y_rotations = (0, 0), (0, 0), (0, 0)
        return {
            "x_mean_": (1, 0),
            "y_mean_": (0, 1),
            "coef_": (-1, 1),
            "intercept_": (0, 1),
            "x_weights_": latent,
            "x_rotations_": latent,
            "y_weights_": y_weights,
            "y_loadings_": y_loadings,
            "y_rotations_": y_rotations,
            "alpha_": penalty,
            "objective_path_": objective,
        }

    def _set_solution(
        self, moments, n_components, *, warm_start=False, exponents=(0, 0)
    ):
        """Solve from the sufficient statistics and store the maps.

        With ``warm_start`` (a ``partial_fit`` after the first), the alternating
        solver starts from the previous ``W``: one more chunk moves the solution
        little, so a few iterations suffice. ``moments`` are in the units that
        ``exponents`` set (see ``view_exponents``), so a given ``alpha`` is
        converted to them. Nothing is assigned before the solve has succeeded.
        """
        cxx, cxy, cyy, x_std, y_std = _scaled_statistics(moments, self.scale)
        trace_yy = float(np.trace(cyy))
        alpha = self.alpha
        if alpha == "auto":
            alpha = gcv_alpha(cxx, cxy, trace_yy, moments.weight_sum)
        elif not self.scale:
            # alpha weighs against X^T X, which carries X's scale squared. A
            # penalty 2**600 times the scaled co-moments (which are near 1)
            # already shrinks every coefficient to nothing; capping it keeps
            # the ridge system finite (alpha=1 on data of 1e-300).
            with np.errstate(over="ignore"):
                alpha = float(min(np.ldexp(alpha, -2 * exponents[0]), 2.0**600))
        factor = _factor_ridge_gram(cxx, alpha, given_alpha=self.alpha)
        if self.solver == "closed_form":
            Z, W, objective_path = _closed_form(cxy, factor, trace_yy, n_components)
            n_iter = 0
        else:
            Z, W, n_iter, objective_path, converged = self._alternate(
                cxy, factor, trace_yy, n_components, warm_start
            )
            if not converged:
                warnings.warn(
                    f"SharedLatentRegression did not converge in max_iter="
                    f"{self.max_iter} iterations (tol={self.tol}). Increase "
                    "max_iter, or use solver='closed_form'.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
        Z, W = _canonical_axes(Z, W, cxy)
        residual_cov = _residual_covariance(cxx, cxy, cyy, Z @ W, moments.weight_sum)
        P, root, inverse_root = _noise_whitened_maps(W, residual_cov)
        x_rotations, y_rotations = _ordered_embedding(
            Z @ root, P @ inverse_root, W.T @ inverse_root, cxx
        )

        self.n_components_ = n_components
        # A given penalty is reported as given, not in the statistics' units.
        self.alpha_ = alpha if self.alpha == "auto" else float(self.alpha)
        self._latent_loadings = W  # orthonormal rows, in the (scaled) y space
        self.n_iter_ = n_iter
        self.objective_path_ = objective_path
        self.x_mean_ = moments.mean_x
        self.y_mean_ = moments.mean_y
        # Undo the scaling: x_tilde = x_c / x_std and y_c = y_tilde * y_std.
        self.x_weights_ = Z if x_std is None else Z / x_std[:, None]
        self.y_weights_ = W.T if y_std is None else W.T / y_std[:, None]
        self.y_loadings_ = W.T if y_std is None else W.T * y_std[:, None]
        self.coef_ = self.x_weights_ @ self.y_loadings_.T
        self.intercept_ = self.y_mean_ - self.x_mean_ @ self.coef_
        if x_std is None:
            self.x_rotations_, self.y_rotations_ = x_rotations, y_rotations
        else:
            self.x_rotations_ = x_rotations / x_std[:, None]
            self.y_rotations_ = y_rotations / y_std[:, None]

    def _alternate(self, cxy, factor, trace_yy, n_components, warm_start):
        """Alternating least squares, from the previous ``W`` after a new chunk.

        A warm start can sit orthogonal to what the new rows reveal (after a
        first chunk without cross-covariance, say): ALS then stalls at the
        saddle point ``Z = 0`` and "converges" at once. So the usual start is
        tried too, and ALS restarts from it when its very first objective
        already beats where the warm start ended (ALS never raises the
        objective, so the warm result cannot be the better one then).
        """
        random_state = check_random_state(self.random_state)
        previous = getattr(self, "_latent_loadings", None) if warm_start else None
        if previous is None or previous.shape[0] != n_components:
            W = _initial_loadings(cxy, n_components, self.init, random_state)
            return _alternating_least_squares(
                cxy, factor, trace_yy, W, max_iter=self.max_iter, tol=self.tol
            )
        warm = _alternating_least_squares(
            cxy, factor, trace_yy, previous, max_iter=self.max_iter, tol=self.tol
        )
        W = _initial_loadings(cxy, n_components, self.init, random_state)
        Z = linalg.cho_solve(factor, cxy @ W.T, check_finite=False)
        if trace_yy - np.vdot(Z.T @ cxy, W) >= warm[3][-1]:
            return warm
        return _alternating_least_squares(
            cxy, factor, trace_yy, W, max_iter=self.max_iter, tol=self.tol
        )

    def _embed_x(self, X):
        return affine_map(X, self.x_mean_, self.x_rotations_)

    def _embed_y(self, y):
        return affine_map(y, self.y_mean_, self.y_rotations_)

    def _predict_views(self, X):
        return affine_map(X, self.x_mean_, self.coef_, self.y_mean_)
