"""Multiview CCA in closed form: SUMCOR (MCCA) and MAXVAR (GCCA).

Both solve one symmetric eigenproblem built from the block statistics of
:mod:`.moments`: with ``D_k`` view ``k``'s (shrunk) covariance and ``C_kl``
the cross-covariance of views ``k`` and ``l``, whiten every view,
``M_kl = D_k^{-1/2} C_kl D_l^{-1/2}``, and take the leading eigenvectors of
the block matrix ``M`` whose diagonal blocks are

- the identity (MCCA, SUMCOR): ``M v = lambda v`` is the generalised problem
  ``(A + D) w = lambda D w`` with ``A`` the off-diagonal blocks of the
  co-moment matrix and ``D`` its shrunk block diagonal, the relaxed
  sum-of-correlations objective ``max sum_{k,l} w_k^T C_kl w_l`` subject to
  ``sum_k w_k^T D_k w_k = 1``;
- ``D_k^{-1/2} C_kk D_k^{-1/2}`` (GCCA, MAXVAR): ``C w = lambda D w`` with the
  unshrunk co-moment matrix ``C``, whose eigenvectors are the maps of the
  shared latent ``G`` that minimises ``sum_k ||G - X_k W_k||^2`` with
  ridge-regularised ``W_k`` (Carroll's generalised CCA). Without shrinkage the
  two coincide.

With two views both reduce to CCA: the eigenvalues of ``[[I, M], [M^T, I]]``
are ``1 +- s_j`` with ``s_j`` the singular values of ``M``, and its
eigenvectors stack the singular vectors.
"""

import numbers

import numpy as np
from scipy import linalg

from .._compat import IntegerInterval, Interval, StrOptions
from .._linear.embedding import oas_shrinkage
from .._numerics.moments import shrunk_covariance_roots
from .base import MultiViewEstimator


def _whitening(moments, names, reg):
    """Per view: ``(D^{-1/2}, covariance, shrinkage)`` of its rows."""
    result = []
    for stats, name in zip(moments.views, names, strict=True):
        cov = stats.cross_xx / stats.weight_sum
        # Weights count as repetitions, so the weight sum is the sample size.
        shrinkage = oas_shrinkage(cov, stats.weight_sum) if reg == "auto" else reg
        inverse_root, _ = shrunk_covariance_roots(cov, shrinkage, view_name=name)
        result.append((inverse_root, cov, shrinkage))
    return result


def whitened_block_matrix(moments, whitening, *, diagonal):
    """The symmetric block matrix ``M`` of the module docstring.

    ``diagonal="identity"`` gives SUMCOR's, ``"covariance"`` MAXVAR's.
    """
    widths = [w[0].shape[0] for w in whitening]
    bounds = np.concatenate([[0], np.cumsum(widths)])
    blocks = np.zeros((bounds[-1], bounds[-1]))
    for k, (inverse_root, cov, _) in enumerate(whitening):
        here = slice(bounds[k], bounds[k + 1])
        if diagonal == "identity":
            blocks[here, here] = np.eye(widths[k])
        else:
            blocks[here, here] = inverse_root @ cov @ inverse_root
    for (k, m), stats in moments.pairs.items():
        cross = stats.cross_xy / stats.weight_sum
        whitened = whitening[k][0] @ cross @ whitening[m][0]
        blocks[bounds[k] : bounds[k + 1], bounds[m] : bounds[m + 1]] = whitened
        blocks[bounds[m] : bounds[m + 1], bounds[k] : bounds[k + 1]] = whitened.T
    return (blocks + blocks.T) / 2, bounds


def _leading_eigenvectors(blocks, n_components):
    size = blocks.shape[0]
    values, vectors = linalg.eigh(
        blocks, subset_by_index=[size - n_components, size - 1], check_finite=False
    )
    return values[::-1], vectors[:, ::-1]


def _sign_by_first_view(vectors, first):
    """Largest entry of each column of view 0's block positive (as svd_flip)."""
    block = vectors[first]
    if not np.any(block):
        block = vectors
    largest = block[np.argmax(np.abs(block), axis=0), np.arange(block.shape[1])]
    signs = np.where(largest < 0, -1.0, 1.0)
    return vectors * signs


def _pair_correlations(moments, rotations):
    """Correlation of the training scores of each pair of views, per axis.

    Over the rows that have both views, so each is a true sample
    correlation (at most 1 whatever the shrinkage). An axis with no spread
    in one view gets 0.
    """
    n_views = len(rotations)
    n_components = rotations[0].shape[1]
    correlations = np.zeros((n_views, n_views, n_components))
    for k in range(n_views):
        correlations[k, k] = 1.0
    for (k, m), stats in moments.pairs.items():
        a, b = rotations[k], rotations[m]
        covariance = np.einsum("ij,ij->j", a, stats.cross_xy @ b)
        spread_a = _spread(a, stats.cross_xx)
        spread_b = _spread(b, stats.cross_yy)
        scale = np.sqrt(spread_a) * np.sqrt(spread_b)  # two roots: no overflow
        positive = scale > 0
        value = np.where(positive, covariance / np.where(positive, scale, 1.0), 0.0)
        correlations[k, m] = correlations[m, k] = value
    return correlations


def _spread(rotations, second_order):
    """``diag(R^T S R)``, 0 below the rounding error of its computation."""
    spread = np.einsum("ij,ij->j", rotations, second_order @ rotations)
    norm = np.max(np.abs(second_order).sum(axis=1), initial=0.0)
    rounding = (
        np.finfo(float).eps
        * len(second_order)
        * np.einsum("ij,ij->j", rotations, rotations)
        * norm
    )
    return np.where(spread <= rounding, 0.0, spread)


class _BlockEigenCCA(MultiViewEstimator):
    """The parameters and solve shared by MultiViewCCA and GeneralizedCCA."""

    _parameter_constraints: dict = {
        "views": [list, tuple, dict, None],
        "n_components": [IntegerInterval(1, None, closed="left"), None],
        "reg": [Interval(numbers.Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "n_jobs": [None, IntegerInterval(1, None, closed="left")],
    }

    # Diagonal blocks of the whitened block matrix (see the module docstring).
    _diagonal = "identity"

    def __init__(self, views=None, *, n_components=None, reg="auto", n_jobs=None):
        self.views = views
        self.n_components = n_components
        self.reg = reg
        self.n_jobs = n_jobs

    def _set_solution(self, moments, n_components):
        whitening = _whitening(moments, self.view_names_, self.reg)
        blocks, bounds = whitened_block_matrix(
            moments, whitening, diagonal=self._diagonal
        )
        eigenvalues, vectors = _leading_eigenvectors(blocks, n_components)
        vectors = _sign_by_first_view(vectors, slice(bounds[0], bounds[1]))
        rotations = []
        for k, (inverse_root, _, _) in enumerate(whitening):
            block = vectors[bounds[k] : bounds[k + 1]]
            # Each view's map has unit (shrunk) variance along every axis, as
            # CCA's: the stacked eigenvector splits its unit norm among views.
            norms = np.linalg.norm(block, axis=0)
            block = block / np.where(norms > 0, norms, 1.0)
            rotations.append(inverse_root @ block)
        pairwise = _pair_correlations(moments, rotations)
        n_views = len(rotations)
        upper = np.triu_indices(n_views, 1)
        canonical = pairwise[upper].mean(axis=0)

        self.n_components_ = n_components
        self.eigenvalues_ = eigenvalues
        self.pairwise_correlations_ = pairwise
        self.canonical_correlations_ = canonical
        # As CrossModalEmbedding(whiten=True): weighting each axis by how far
        # the views share it keeps cosine similarity from trusting a barely
        # shared axis as much as the best one.
        weight = np.maximum(canonical, 0.0)
        self.rotations_ = [rotation * weight for rotation in rotations]
        self.view_means_ = moments.absolute_means()
        self.shrinkages_ = np.array([s for _, _, s in whitening], dtype=float)
        self.weight_sums_ = np.array([s.weight_sum for s in moments.views])


_COMMON_PARAMETERS = """
    Parameters
    ----------
    views : dict, list or None, default=None
        The column selections that make up each view, in the vocabulary of
        :class:`~sklearn.compose.ColumnTransformer`: a dict ``{name:
        columns}``, a list of ``(name, columns)`` pairs, or a list of
        ``columns`` (named ``"view0"``, ``"view1"``, ...), where ``columns``
        is a slice, an integer or boolean array, column names (X a
        DataFrame) or a callable such as
        :func:`~sklearn.compose.make_column_selector`. Views may share
        columns. ``None`` makes every column its own view (one-feature
        views; declare the views of real data).
    n_components : int, default=None
        Dimension of the shared space; ``None`` uses the number of features
        of the narrowest view (its upper bound).
    reg : float or "auto", default="auto"
        Shrinkage of each view's covariance towards a scaled identity,
        ``(1 - reg) C + reg * mean(diag(C)) I``, in ``[0, 1]``, as in
        :class:`~skcrossmodal.CrossModalEmbedding`; ``"auto"`` uses each
        view's Oracle Approximating Shrinkage, from the statistics.
    n_jobs : int, default=None
        Threads that compute the statistics; ``None`` lets the library
        choose.

    Attributes
    ----------
    n_components_ : int
        Dimension of the shared space.
    n_views_ : int
        Number of views.
    view_names_ : list of str
        Name of each view.
    view_columns_ : list of ndarray of int
        Columns of ``X`` of each view.
    view_means_ : list of ndarray
        Weighted mean of each view over the rows that have it.
    rotations_ : list of ndarray of shape (n_features_k, n_components_)
        View ``k``'s scores are ``(X_k - view_means_[k]) @ rotations_[k]``:
        whitened canonical variates weighted by ``canonical_correlations_``.
    eigenvalues_ : ndarray of shape (n_components_,)
        Leading eigenvalues of the whitened block matrix, largest first.
    canonical_correlations_ : ndarray of shape (n_components_,)
        Per axis, the mean over pairs of views of the correlation of their
        training scores.
    pairwise_correlations_ : ndarray of shape (n_views_, n_views_, n_components_)
        The correlation of each pair of views along each axis (over the rows
        that have both); 1 on the diagonal.
    shrinkages_ : ndarray of shape (n_views_,)
        Shrinkage applied to each view's covariance.
    weight_sums_ : ndarray of shape (n_views_,)
        Sum of the weights of the rows that have each view.
    n_samples_seen_ : int
        Rows seen by ``fit`` and every ``partial_fit`` since.
    n_features_in_ : int
        Number of columns of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's columns, when X had string column names.
"""

_MISSING_NOTES = """
    The fit needs only each view's weighted mean and co-moment matrix and the
    cross co-moments of every pair of views, accumulated block by block and
    merged exactly (Chan et al.), so ``partial_fit`` streams chunks into the
    same statistics and after any chunking equals ``fit``.

    **Missing modalities.** A row whose columns of a view are all NaN lacks
    that view. Each view's statistics come from the rows that have it and
    each pair's cross-covariance from the rows that have both
    (pairwise-complete moments), so every observed view of every row is
    used. This is consistent when views are missing completely at random
    (whether a view is missing does not depend on any value): each block
    then estimates its complete-data counterpart and the solution converges
    to the complete-data one as rows accrue. When missingness depends on the
    data (a sensor that drops out when the signal saturates), the blocks
    estimate different sub-populations and the solution is biased. The
    assembled block matrix need not be positive semi-definite, unlike a
    complete-data one; the leading eigenvectors stay well defined. Rows
    lacking every view are ignored.
"""


class MultiViewCCA(_BlockEigenCCA):
    __doc__ = (
        """Multiview CCA (SUMCOR) of K views in one X, in closed form.

    Finds, for every view ``k``, a map ``w_k`` that maximises the sum of the
    covariances of all pairs of views' scores, under one budget for their
    (shrunk) variances,

    .. math:: \\max_{w} \\sum_{k \\neq l} w_k^T C_{kl} w_l
              \\quad \\text{s.t.} \\quad \\sum_k w_k^T D_k w_k = 1,

    the generalised eigenproblem ``(A + D) w = lambda D w`` (``A``: the
    off-diagonal blocks of the views' co-moment matrix, ``D``: its block
    diagonal, each block shrunk as ``reg`` says), solved by one symmetric
    eigendecomposition after whitening each view. With two views it is
    :class:`~skcrossmodal.CrossModalEmbedding` with ``whiten=True``: the same
    canonical correlations, maps and scores.
"""
        + _COMMON_PARAMETERS
        + """
    See Also
    --------
    GeneralizedCCA : The MAXVAR formulation (a shared latent for all views).
    skcrossmodal.CrossModalEmbedding : The two-view case.

    Notes
    -----
    ``transform`` returns the K views' scores side by side (view ``k`` in
    columns ``k * n_components_`` onwards, NaN where a row lacks it), and
    ``transform_view`` one view's; ``retrieve`` searches a gallery of one
    view with queries of another; ``score`` averages the cross-view mean
    reciprocal rank over all pairs of views.
"""
        + _MISSING_NOTES
        + """
    References
    ----------
    .. [1] J. R. Kettenring, "Canonical analysis of several sets of
       variables", Biometrika 58(3), 1971.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import MultiViewCCA
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(200, 4))
    >>> X = np.hstack([latent @ rng.normal(size=(4, 5)) for _ in range(3)])
    >>> X += 0.1 * rng.normal(size=X.shape)
    >>> views = {"a": slice(0, 5), "b": slice(5, 10), "c": slice(10, 15)}
    >>> model = MultiViewCCA(views, n_components=4).fit(X)
    >>> model.transform(X).shape
    (200, 12)
    >>> model.get_feature_names_out()[:2].tolist()
    ['a__multiviewcca0', 'a__multiviewcca1']
    >>> bool(model.canonical_correlations_[0] > 0.99), bool(model.score(X) > 0.7)
    (True, True)

    View ``"b"`` missing from the first 50 rows (all its columns NaN):

    >>> X[:50, 5:10] = np.nan
    >>> scores = model.fit(X).transform_view(X, "b")
    >>> bool(np.isnan(scores[:50]).all()), bool(np.isfinite(scores[50:]).all())
    (True, True)
"""
    )

    _diagonal = "identity"


class GeneralizedCCA(_BlockEigenCCA):
    __doc__ = (
        """Generalised CCA (MAXVAR) of K views in one X, in closed form.

    Finds one shared latent ``G`` (unit variance, uncorrelated columns) that
    every view predicts best, by ridge-regularised regression,

    .. math:: \\min_{G, W} \\sum_k \\|G - X_k W_k\\|_F^2
              \\quad \\text{s.t.} \\quad G^T G = I,

    whose view maps are the leading eigenvectors of ``C w = lambda D w``
    (``C``: the views' co-moment matrix, ``D``: its block diagonal, each
    block shrunk as ``reg`` says); ``lambda`` is the sum over views of the
    (regularised) squared multiple correlation of the latent with the view.
    Without shrinkage (``reg=0``) it equals :class:`MultiViewCCA`, and with
    two views :class:`~skcrossmodal.CrossModalEmbedding` (``whiten=True``,
    ``reg=0``); with shrinkage the diagonal blocks keep the unshrunk
    covariances, which weighs a view's own variance into the latent.
"""
        + _COMMON_PARAMETERS
        + """
    See Also
    --------
    MultiViewCCA : The SUMCOR formulation.
    skcrossmodal.CrossModalEmbedding : The two-view case.

    Notes
    -----
    The output layout is :class:`MultiViewCCA`'s: ``transform`` returns the
    K views' scores side by side, each view's scores being its estimate of
    the shared latent, weighted per axis by the mean canonical correlation.
"""
        + _MISSING_NOTES
        + """
    References
    ----------
    .. [1] J. D. Carroll, "Generalization of canonical correlation analysis
       to three or more sets of variables", Proceedings of the 76th Annual
       Convention of the American Psychological Association, 1968.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import GeneralizedCCA, MultiViewCCA
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(200, 2))
    >>> X = np.hstack([latent @ rng.normal(size=(2, 3)) for _ in range(3)])
    >>> X += 0.1 * rng.normal(size=X.shape)
    >>> views = [slice(0, 3), slice(3, 6), slice(6, 9)]
    >>> gcca = GeneralizedCCA(views, n_components=2, reg=0.0).fit(X)
    >>> mcca = MultiViewCCA(views, n_components=2, reg=0.0).fit(X)
    >>> np.allclose(gcca.transform(X), mcca.transform(X))
    True
"""
    )

    _diagonal = "covariance"
