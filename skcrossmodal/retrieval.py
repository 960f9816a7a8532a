"""Search a shared space: an index over a gallery, hubness corrections, pipelines.

A fitted two-view estimator maps both views into one space; searching that
space is what users do with it. :class:`SharedSpaceIndex` holds a gallery of
shared-space embeddings and answers nearest-neighbour queries by cosine
similarity, exactly (numpy in float32, or torch on any device) or
approximately (faiss-cpu, for galleries of millions), optionally corrected for
hubness with statistics of reference queries stored at fit time.
:func:`retrieve` searches through a fitted ``Pipeline`` or ``GridSearchCV``
whose last step is a two-view estimator.
"""

import numbers
import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._compat import Hidden, IntegerInterval, Interval, StrOptions, _fit_context
from ._numerics.inverted_file import (
    CALIBRATION_QUERIES,
    build_inverted_file,
    calibrate_n_probe,
    default_n_lists,
    import_faiss,
    search_inverted_file,
)
from ._numerics.similarity import (
    BLOCK_NUMBERS,
    SIMILARITIES,
    map_similarity_blocks,
    mean_of_top_k_per_row,
    normalize_rows,
    top_k,
    top_k_of_block,
)
from ._utils.failure_safe import FailureSafeMixin, failure_safe
from ._utils.validation import (
    check_count,
    check_query_view,
    check_two_view,
    unwrap_two_view,
)

__all__ = ["SharedSpaceIndex", "retrieve", "search_top_k"]

INDEX_SIMILARITIES = ("cosine", "csls", "inverted_softmax", "qb_norm")

# An inverted file scans its rows slower than a matrix product reads them:
# visiting more than this share of the cells, it is no faster than the exact
# search (on 2e5 isotropic rows, 43% of the cells took twice the exact time).
_EXACT_IS_FASTER_ABOVE = 0.25

# Renamed parameters: scikit-learn's deprecation cycle (a FutureWarning, the
# old name still works for two releases).
_RENAMED_IN, _REMOVED_IN = "0.1", "0.3"


def _renamed_hubness(similarity, hubness, where, stacklevel):
    """The similarity asked for, through the new name or the deprecated one."""
    if isinstance(hubness, str) and hubness == "deprecated":
        return similarity
    warnings.warn(
        f"`hubness` was renamed `similarity` in {_RENAMED_IN} and will be removed "
        f"in {_REMOVED_IN}{where}; hubness='none' is similarity='cosine'.",
        FutureWarning,
        stacklevel=stacklevel,
    )
    if similarity not in (None, "cosine"):
        raise ValueError(
            f"Give similarity={similarity!r} or the deprecated hubness={hubness!r}, "
            "not both."
        )
    return "cosine" if hubness == "none" else hubness


def search_top_k(
    query_scores, gallery_scores, *, n_neighbors=5, similarity="cosine", csls_k=10
):
    """Best gallery rows of each query in the shared space, exactly.

    This is the search behind every estimator's ``retrieve``: cosine
    similarity, or CSLS with its correction estimated from this set of
    queries and gallery, computed in the embeddings' dtype.

    Parameters
    ----------
    query_scores : array-like of shape (n_queries, n_components)
        Queries, already in the shared space.
    gallery_scores : array-like of shape (n_gallery, n_components)
        Gallery, in the same space.
    n_neighbors : int, default=5
        How many gallery rows to return per query.
    similarity : {"cosine", "csls"}, default="cosine"
        Cosine similarity, or cross-domain similarity local scaling.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.

    Returns
    -------
    similarities : ndarray of shape (n_queries, n_neighbors)
        Best first; equal similarities come in gallery order.
    indices : ndarray of shape (n_queries, n_neighbors)
        Row indices into the gallery.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.retrieval import search_top_k
    >>> gallery = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> similarities, indices = search_top_k([[2.0, 0.1]], gallery, n_neighbors=2)
    >>> indices.tolist()
    [[0, 2]]
    """
    check_count("n_neighbors", n_neighbors)
    check_count("csls_k", csls_k)
    if similarity not in SIMILARITIES:
        raise ValueError(
            f"similarity must be one of {SIMILARITIES}; got {similarity!r}."
        )
    dtype = [np.float32, np.float64]
    query_scores = check_array(query_scores, dtype=dtype, input_name="queries")
    gallery_scores = check_array(gallery_scores, dtype=dtype, input_name="gallery")
    if query_scores.shape[1] != gallery_scores.shape[1]:
        raise ValueError(
            "Queries and gallery must live in the same space; got "
            f"{query_scores.shape[1]} and {gallery_scores.shape[1]} columns."
        )
    if n_neighbors > gallery_scores.shape[0]:
        raise ValueError(
            f"n_neighbors={n_neighbors} is larger than the gallery "
            f"({gallery_scores.shape[0]} rows). Reduce n_neighbors."
        )
    return top_k(query_scores, gallery_scores, n_neighbors, similarity, csls_k)


def _logsumexp_rows(block, beta):
    return logsumexp(beta * block.astype(np.float64), axis=1)


class SharedSpaceIndex(FailureSafeMixin, BaseEstimator):
    """Nearest-neighbour search over a gallery of shared-space embeddings.

    Fit on the gallery (the ``y_scores`` or ``X_scores`` of a fitted two-view
    estimator, e.g. every image of a collection); query with
    :meth:`kneighbors`, which returns the nearest gallery rows as
    scikit-learn's neighbours estimators do (distances ascending, cosine
    distance ``1 - cos``), or with :meth:`most_similar`, which returns the
    similarities themselves, best first. The search runs in blocks of queries,
    so memory stays bounded whatever the sizes. Equal scores come in gallery
    order, the same rows from every backend.

    Hubness corrections lower the score of gallery "hubs" that are near many
    queries. Each needs statistics of the distribution of queries, which are
    taken from ``reference_queries`` given to :meth:`fit` (e.g. the training
    queries): one query is then corrected exactly as it would be in a batch.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours returned by default.
    similarity : {"cosine", "csls", "inverted_softmax", "qb_norm"}, \
            default="cosine"
        Default score; :meth:`kneighbors` and :meth:`most_similar` can choose
        another per call. The names are those of ``similarity`` and
        ``csls_k`` in :func:`search_top_k`, the estimators' ``retrieve`` and
        the metrics.

        - ``"cosine"``: no correction.
        - ``"csls"``: ``2 cos(q, g) - r(q) - r_ref(g)``, with ``r(q)`` the mean
          cosine of ``q`` to its ``csls_k`` nearest gallery rows and
          ``r_ref(g)`` that of ``g`` to its ``csls_k`` nearest reference
          queries (Conneau et al., 2018).
        - ``"inverted_softmax"``: ``beta cos(q, g) - log sum_r exp(beta cos(r, g))``
          over the reference queries r, the log of the inverted softmax of
          Smith et al. (2017): a gallery row close to many references is
          normalised down.
        - ``"qb_norm"``: query-bank normalisation with the dynamic inverted
          softmax (Bogolin et al., 2022): the inverted softmax is applied only
          to queries whose nearest gallery row is in the activation set (the
          rows among the ``activation_k`` nearest of some reference query),
          other queries keep ``beta cos(q, g)``.
    csls_k : int, default=10
        Neighbourhood size of CSLS.
    beta : float, default=20.0
        Inverse temperature of the inverted softmax and QB-Norm.
    activation_k : int, default=1
        Depth of the reference queries' rankings that forms QB-Norm's
        activation set.
    backend : {"numpy", "torch", "faiss"}, default="numpy"
        ``"numpy"``: exact, float32, threaded over blocks of queries.
        ``"torch"``: exact, float32, on ``device`` (a GPU when available).
        ``"faiss"``: approximate, an inverted-file index of faiss-cpu (install
        ``faiss-cpu``); hubness corrections re-rank a shortlist of
        ``shortlist_factor * n_neighbors`` cosine neighbours.
    device : str, default="cpu"
        Torch device of the ``"torch"`` backend.
    n_lists : int or None, default=None
        Cells of the faiss inverted file; None picks ``2 sqrt(n_gallery)``
        (at most ``n_gallery / 39``, so each cell trains on enough points).
        The cells are 10 k-means iterations on at most 64 gallery rows per
        cell, so building costs about ``n_lists`` distance computations per
        gallery row plus ``4 n_gallery`` k-means ones (build times are in
        :doc:`/performance`).
    n_probe : int or None, default=None
        Cells visited per query by faiss; None calibrates it at fit time to
        ``target_recall``. A given value is used as is (its recall is still
        measured, in ``recall_estimate_``).
    target_recall : float, default=0.95
        Recall@``n_neighbors`` of the cosine search that the faiss backend is
        calibrated to when ``n_probe`` is None. It is measured on the exact
        neighbours of up to 1000 reference queries, or, without reference
        queries, of up to 1000 gallery rows held out from their own
        neighbours; the smallest number of cells whose measured recall, less
        two standard errors, reaches the target is chosen. The estimate holds
        for queries distributed like the calibration queries: give reference
        queries when the queries differ from the gallery rows (another view).
        How many cells that takes depends on the data: a few percent of them
        on clustered embeddings, a large share on isotropic noise (a
        warning says when it is more than a quarter of them, where the exact
        backends are as fast).
    shortlist_factor : int, default=4
        How many times ``n_neighbors`` cosine candidates the approximate
        backend re-ranks when a hubness correction is used.
    hubness : str, default="deprecated"
        Deprecated name of ``similarity`` (``"none"`` is ``"cosine"``);
        renamed in 0.1, removed in 0.3.
    hubness_k : int, default="deprecated"
        Deprecated name of ``csls_k``; renamed in 0.1, removed in 0.3.

    Attributes
    ----------
    n_features_in_ : int
        Dimension of the shared space.
    n_gallery_ : int
        Number of gallery rows.
    n_reference_ : int
        Number of reference queries (0 when none were given).
    reference_hubness_ : ndarray of shape (n_gallery,) or None
        ``r_ref(g)`` of CSLS, when reference queries were given.
    reference_log_partition_ : ndarray of shape (n_gallery,) or None
        ``log sum_r exp(beta cos(r, g))`` of the inverted softmax.
    activation_set_ : ndarray of shape (n_gallery,) of bool or None
        QB-Norm's activation set.
    n_probe_ : int or None
        Cells the faiss backend visits per query (None for exact backends).
    recall_estimate_ : float
        Recall@``n_neighbors`` of the cosine search measured at fit time on
        the calibration queries (1.0 for the exact backends).

    See Also
    --------
    retrieve : Search through a fitted pipeline.

    References
    ----------
    Conneau et al., "Word translation without parallel data", ICLR 2018.
    Smith et al., "Offline bilingual word vectors, orthogonal transformations
    and the inverted softmax", ICLR 2017.
    Bogolin et al., "Cross modal retrieval with querybank normalisation",
    CVPR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.retrieval import SharedSpaceIndex
    >>> rng = np.random.default_rng(0)
    >>> gallery = rng.normal(size=(100, 8))
    >>> index = SharedSpaceIndex(n_neighbors=3).fit(gallery)
    >>> distances, indices = index.kneighbors(gallery[:2] + 0.01)
    >>> indices[:, 0].tolist()
    [0, 1]
    >>> bool(np.all(np.diff(distances, axis=1) >= 0))
    True
    >>> similarities, indices = index.most_similar(gallery[:2] + 0.01)
    >>> np.allclose(similarities, 1 - distances)
    True
    >>> index = SharedSpaceIndex(similarity="csls").fit(
    ...     gallery, reference_queries=rng.normal(size=(50, 8)))
    >>> index.kneighbors(gallery[:1], n_neighbors=2)[1].shape
    (1, 2)
    """

    _parameter_constraints = {
        "n_neighbors": [IntegerInterval(1, None, closed="left")],
        "similarity": [StrOptions(set(INDEX_SIMILARITIES))],
        "csls_k": [IntegerInterval(1, None, closed="left")],
        "beta": [Interval(numbers.Real, 0, None, closed="neither")],
        "activation_k": [IntegerInterval(1, None, closed="left")],
        "backend": [StrOptions({"numpy", "torch", "faiss"})],
        "device": [str],
        "n_lists": [IntegerInterval(1, None, closed="left"), None],
        "n_probe": [IntegerInterval(1, None, closed="left"), None],
        "target_recall": [Interval(numbers.Real, 0, 1, closed="right")],
        "shortlist_factor": [IntegerInterval(1, None, closed="left")],
        "hubness": [
            StrOptions({"none", "csls", "inverted_softmax", "qb_norm"}),
            Hidden(StrOptions({"deprecated"})),
        ],
        "hubness_k": [
            IntegerInterval(1, None, closed="left"),
            Hidden(StrOptions({"deprecated"})),
        ],
    }

    def __init__(
        self,
        *,
        n_neighbors=5,
        similarity="cosine",
        csls_k=10,
        beta=20.0,
        activation_k=1,
        backend="numpy",
        device="cpu",
        n_lists=None,
        n_probe=None,
        target_recall=0.95,
        shortlist_factor=4,
        hubness="deprecated",
        hubness_k="deprecated",
    ):
        self.n_neighbors = n_neighbors
        self.similarity = similarity
        self.csls_k = csls_k
        self.beta = beta
        self.activation_k = activation_k
        self.backend = backend
        self.device = device
        self.n_lists = n_lists
        self.n_probe = n_probe
        self.target_recall = target_recall
        self.shortlist_factor = shortlist_factor
        self.hubness = hubness
        self.hubness_k = hubness_k

    def _renamed_parameters(self):
        """``(similarity, csls_k)``, honouring the deprecated names."""
        # The warnings point at the caller of fit (past scikit-learn's wrapper).
        similarity = _renamed_hubness(self.similarity, self.hubness, "", 5)
        csls_k = self.csls_k
        if not (isinstance(self.hubness_k, str) and self.hubness_k == "deprecated"):
            warnings.warn(
                f"`hubness_k` was renamed `csls_k` in {_RENAMED_IN} and will be "
                f"removed in {_REMOVED_IN}.",
                FutureWarning,
                stacklevel=4,
            )
            if self.csls_k != 10:
                raise ValueError(
                    f"Give csls_k={self.csls_k} or the deprecated "
                    f"hubness_k={self.hubness_k}, not both."
                )
            csls_k = self.hubness_k
        return similarity, csls_k

    @_fit_context(prefer_skip_nested_validation=True)
    @failure_safe
    def fit(self, X, y=None, *, reference_queries=None):
        """Store the gallery and the reference statistics of the corrections.

        A call that raises leaves the index exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_gallery, n_components)
            Gallery embeddings in the shared space (any scale: rows are
            compared by cosine).
        y : None
            Ignored.
        reference_queries : array-like of shape (n_reference, n_components), \
                default=None
            Queries representative of those to come (e.g. the training
            queries), from which the hubness corrections are estimated and
            the faiss backend is calibrated.

        Returns
        -------
        self : SharedSpaceIndex
        """
        similarity, csls_k = self._renamed_parameters()
        X = validate_data(self, X, dtype=[np.float32, np.float64])
        gallery = normalize_rows(X).astype(np.float32)
        reference = None
        if reference_queries is not None:
            reference = check_array(
                reference_queries,
                dtype=[np.float32, np.float64],
                input_name="reference_queries",
            )
            if reference.shape[1] != X.shape[1]:
                raise ValueError(
                    f"reference_queries have {reference.shape[1]} columns but the "
                    f"gallery has {X.shape[1]}; they must share the space."
                )
            reference = normalize_rows(reference).astype(np.float32)
        faiss_index, n_probe, recall = None, None, 1.0
        if self.backend == "faiss":
            faiss_index, n_probe, recall = self._fit_faiss(gallery, reference)

        self._similarity, self._csls_k = similarity, csls_k
        self._gallery = gallery
        self._faiss_index = faiss_index
        self._device_gallery = None
        self.n_gallery_ = gallery.shape[0]
        self.n_reference_ = 0 if reference is None else reference.shape[0]
        self.n_probe_ = n_probe
        self.recall_estimate_ = recall
        self.reference_hubness_ = None
        self.reference_log_partition_ = None
        self.activation_set_ = None
        if reference is not None:
            self._fit_reference_statistics(reference)
        return self

    def _fit_reference_statistics(self, reference):
        gallery = self._gallery
        k = min(self._csls_k, reference.shape[0])

        def gallery_rows(start, stop, block):
            return mean_of_top_k_per_row(block, k), _logsumexp_rows(block, self.beta)

        parts = map_similarity_blocks(gallery, reference, gallery_rows)
        self.reference_hubness_ = np.concatenate([p[0] for p in parts])
        self.reference_log_partition_ = np.concatenate([p[1] for p in parts])
        depth = min(self.activation_k, gallery.shape[0])
        active = np.zeros(gallery.shape[0], dtype=bool)
        nearest = map_similarity_blocks(
            reference, gallery, lambda start, stop, block: top_k_of_block(block, depth)
        )
        for _, columns in nearest:
            active[columns.ravel()] = True
        self.activation_set_ = active

    def _fit_faiss(self, gallery, reference):
        """The inverted file, its calibrated ``n_probe`` and measured recall."""
        import_faiss()
        n = gallery.shape[0]
        n_lists = self._n_lists(n)
        index = build_inverted_file(gallery, n_lists)
        # Calibrate on the reference queries when given, else on gallery rows
        # held out from their own neighbours.
        rng = np.random.default_rng(0)
        queries, own_rows = reference, None
        if queries is None:
            own_rows = np.arange(n)
            if n > CALIBRATION_QUERIES:
                own_rows = np.sort(rng.choice(n, CALIBRATION_QUERIES, replace=False))
            queries = gallery[own_rows]
        elif len(queries) > CALIBRATION_QUERIES:
            rows = np.sort(rng.choice(len(queries), CALIBRATION_QUERIES, replace=False))
            queries = queries[rows]
        n_probe, recall = calibrate_n_probe(
            index,
            gallery,
            np.ascontiguousarray(queries),
            self.n_neighbors,
            self.target_recall,
            exclude_self=own_rows,
            n_probe=self.n_probe,
        )
        index.nprobe = n_probe
        if self.n_probe is None and n_probe > n_lists * _EXACT_IS_FASTER_ABOVE:
            warnings.warn(
                f"The faiss backend visits {n_probe} of its {n_lists} cells to "
                f"reach recall {self.target_recall} on this gallery (its rows have "
                "little structure for an inverted file to exploit): the exact "
                "backend='numpy' is likely as fast. Lower target_recall to trade "
                "recall for speed.",
                UserWarning,
                stacklevel=4,
            )
        return index, n_probe, recall

    def _n_lists(self, n):
        n_lists = default_n_lists(n) if self.n_lists is None else self.n_lists
        if n_lists > n:
            raise ValueError(
                f"n_lists={n_lists} is larger than the gallery ({n} rows). "
                "Reduce n_lists."
            )
        return n_lists

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in ("_faiss_index", "_device_gallery"):
            if state.get(name) is not None:
                state[name] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        # faiss objects do not pickle: rebuilt from the gallery, with the
        # cells visited that the fit chose.
        if self.backend == "faiss" and getattr(self, "_gallery", None) is not None:
            gallery = self._gallery
            self._faiss_index = build_inverted_file(
                gallery, self._n_lists(gallery.shape[0])
            )
            self._faiss_index.nprobe = self.n_probe_

    def _check_similarity(self, similarity):
        if similarity not in INDEX_SIMILARITIES:
            raise ValueError(
                f"similarity must be one of {INDEX_SIMILARITIES}; got {similarity!r}."
            )
        if similarity != "cosine" and self.n_reference_ == 0:
            raise ValueError(
                f"similarity={similarity!r} needs reference queries: fit the index "
                "with reference_queries=... (e.g. the training queries)."
            )
        csls_k = self._csls_k
        if similarity == "csls" and self.n_reference_ < csls_k:
            raise ValueError(
                f"similarity='csls' with csls_k={csls_k} needs at least "
                f"{csls_k} reference queries; the index has "
                f"{self.n_reference_}. Give more reference queries or reduce "
                "csls_k."
            )
        if similarity == "csls" and csls_k > self.n_gallery_:
            raise ValueError(
                f"csls_k={csls_k} is larger than the gallery "
                f"({self.n_gallery_} rows). Reduce csls_k."
            )

    def most_similar(
        self, X=None, n_neighbors=None, *, similarity=None, hubness="deprecated"
    ):
        """Most similar gallery rows of each query, with their similarities.

        The search of :meth:`kneighbors`, returning scores (greater is more
        similar) rather than distances.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_components), default=None
            Queries in the shared space. None queries with every gallery row,
            which is not counted as its own neighbour (as in scikit-learn).
        n_neighbors : int, default=None
            How many rows to return; None uses the ``n_neighbors`` parameter.
        similarity : {"cosine", "csls", "inverted_softmax", "qb_norm"}, \
                default=None
            Score for this call; None uses the ``similarity`` parameter.
        hubness : str, default="deprecated"
            Deprecated name of ``similarity`` (``"none"`` is ``"cosine"``).

        Returns
        -------
        similarities : ndarray of shape (n_queries, n_neighbors), float32
            Cosine similarities, or the corrected scores (comparable within a
            query; across queries only for "cosine", "csls" and
            "inverted_softmax"), best first; equal scores in gallery order.
        indices : ndarray of shape (n_queries, n_neighbors)
            Row indices into the gallery.

        Examples
        --------
        >>> import numpy as np
        >>> from skcrossmodal.retrieval import SharedSpaceIndex
        >>> index = SharedSpaceIndex(n_neighbors=2).fit([[1.0, 0.0], [1.0, 1.0]])
        >>> similarities, indices = index.most_similar([[2.0, 0.0]])
        >>> indices.tolist()
        [[0, 1]]
        >>> np.allclose(similarities, [[1.0, np.sqrt(0.5)]])
        True
        """
        similarity = _renamed_hubness(similarity, hubness, " (as an argument)", 3)
        return self._search(X, n_neighbors, similarity)

    def kneighbors(
        self,
        X=None,
        n_neighbors=None,
        return_distance=True,
        *,
        similarity=None,
        hubness="deprecated",
    ):
        """Nearest gallery rows of each query, as scikit-learn's ``kneighbors``.

        Distances are ascending; they are the cosine distance ``1 - cos(q, g)``
        for ``similarity="cosine"``, ``1 - s / 2`` for the CSLS score ``s``
        (the cosine distance when no row is a hub; it may be negative), and
        ``-s`` for the inverted softmax and QB-Norm scores ``s`` (the negative
        log of the inverted softmax). :meth:`most_similar` returns the
        scores themselves.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_components), default=None
            Queries in the shared space. None queries with every gallery row,
            which is not counted as its own neighbour (as in scikit-learn).
        n_neighbors : int, default=None
            How many rows to return; None uses the ``n_neighbors`` parameter.
        return_distance : bool, default=True
            Whether to return the distances with the indices.
        similarity : {"cosine", "csls", "inverted_softmax", "qb_norm"}, \
                default=None
            Score for this call; None uses the ``similarity`` parameter.
        hubness : str, default="deprecated"
            Deprecated name of ``similarity`` (``"none"`` is ``"cosine"``).

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors), float32
            Only when ``return_distance``; nearest first, equal scores in
            gallery order.
        indices : ndarray of shape (n_queries, n_neighbors)
            Row indices into the gallery.
        """
        similarity = _renamed_hubness(similarity, hubness, " (as an argument)", 3)
        scores, indices = self._search(X, n_neighbors, similarity)
        if not return_distance:
            return indices
        similarity = self._similarity if similarity is None else similarity
        if similarity == "cosine":
            distances = 1 - scores
        elif similarity == "csls":
            distances = 1 - scores / 2
        else:
            distances = -scores
        return distances.astype(np.float32, copy=False), indices

    def _search(self, X, n_neighbors, similarity):
        check_is_fitted(self)
        n_neighbors = self.n_neighbors if n_neighbors is None else n_neighbors
        check_count("n_neighbors", n_neighbors)
        similarity = self._similarity if similarity is None else similarity
        self._check_similarity(similarity)
        # Without X the gallery queries itself, each row not its own neighbour.
        available = self.n_gallery_ - (X is None)
        if n_neighbors > available:
            raise ValueError(
                f"n_neighbors={n_neighbors} is larger than the gallery "
                f"({self.n_gallery_} rows"
                + (", less the query itself" if X is None else "")
                + "). Reduce n_neighbors."
            )
        if X is None:
            return self._search_gallery_rows(n_neighbors, similarity)
        queries = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        queries = normalize_rows(queries).astype(np.float32)
        return self._search_rows(queries, n_neighbors, similarity)

    def _search_rows(self, queries, n_neighbors, similarity):
        if self.backend == "torch":
            return self._search_torch(queries, n_neighbors, similarity)
        if self.backend == "faiss":
            return self._search_faiss(queries, n_neighbors, similarity)
        return self._search_numpy(queries, n_neighbors, similarity)

    def _search_gallery_rows(self, n_neighbors, similarity):
        """Neighbours of each gallery row but itself (scikit-learn's X=None).

        One neighbour more is searched; the row itself is dropped from its
        list, or, when a tie or the approximate search left it out, the last.
        """
        n = self.n_gallery_
        scores, indices = self._search_rows(self._gallery, n_neighbors + 1, similarity)
        keep = indices != np.arange(n)[:, None]
        keep[np.all(keep, axis=1), -1] = False
        return (
            scores[keep].reshape(n, n_neighbors),
            indices[keep].reshape(n, n_neighbors),
        )

    # ------------------------------------------------------------- exact ---
    def _correct(self, block, similarity, columns=None):
        """Apply the correction to cosine ``block`` (in place where possible).

        ``columns`` names the gallery rows of the block's columns when the
        block holds a shortlist rather than the whole gallery.
        """
        if similarity == "cosine":
            return block

        def per_gallery(values):
            return values[None, :] if columns is None else values[columns]

        if similarity == "csls":
            k = min(self._csls_k, block.shape[1])
            query_hubness = mean_of_top_k_per_row(block, k)
            block *= 2
            block -= query_hubness[:, None]
            block -= per_gallery(self.reference_hubness_)
            return block
        inverted = self.beta * block - per_gallery(self.reference_log_partition_)
        if similarity == "inverted_softmax":
            return inverted.astype(block.dtype, copy=False)
        nearest = np.argmax(block, axis=1)
        if columns is not None:
            nearest = columns[np.arange(len(block)), nearest]
        activated = self.activation_set_[nearest]
        plain = self.beta * block
        return np.where(activated[:, None], inverted, plain).astype(block.dtype)

    def _search_numpy(self, queries, n_neighbors, similarity):
        def reduce_block(start, stop, block):
            return top_k_of_block(self._correct(block, similarity), n_neighbors)

        return self._gather(
            map_similarity_blocks(queries, self._gallery, reduce_block), n_neighbors
        )

    @staticmethod
    def _gather(parts, n_neighbors):
        if not parts:
            return (
                np.empty((0, n_neighbors), dtype=np.float32),
                np.empty((0, n_neighbors), dtype=np.intp),
            )
        scores = np.concatenate([p[0] for p in parts]).astype(np.float32, copy=False)
        indices = np.concatenate([p[1] for p in parts]).astype(np.intp, copy=False)
        return scores, indices

    def _search_torch(self, queries, n_neighbors, similarity):
        try:
            import torch
        except ImportError as error:
            raise ImportError(
                "backend='torch' needs torch: see the installation page for the "
                "CPU-only build."
            ) from error
        device = torch.device(self.device)
        if self._device_gallery is None or self._device_gallery.device != device:
            self._device_gallery = torch.from_numpy(self._gallery).to(device)
        gallery = self._device_gallery
        terms = {}
        for name in ("reference_hubness_", "reference_log_partition_"):
            values = getattr(self, name)
            if values is not None:
                terms[name] = torch.from_numpy(values.astype(np.float32)).to(device)
        if self.activation_set_ is not None:
            terms["activation_set_"] = torch.from_numpy(self.activation_set_).to(device)
        n_queries, n_gallery = queries.shape[0], self.n_gallery_
        scores = np.empty((n_queries, n_neighbors), dtype=np.float32)
        indices = np.empty((n_queries, n_neighbors), dtype=np.int64)
        step = min(max(1, BLOCK_NUMBERS // max(1, n_gallery)), max(1, n_queries))
        # Every buffer is allocated once for the whole search: a block
        # allocated and freed per step is kept by the CPU allocator between
        # the small results, and memory grew with the number of queries
        # (4.2 GB for 1e5 queries of a 1e4 gallery).
        block_buffer = torch.empty(
            (step, n_gallery), dtype=torch.float32, device=device
        )
        depth = min(n_neighbors + 1, n_gallery)
        top_buffers = (
            torch.empty((step, depth), dtype=torch.float32, device=device),
            torch.empty((step, depth), dtype=torch.int64, device=device),
        )
        with torch.no_grad():
            for start in range(0, n_queries, step):
                stop = min(start + step, n_queries)
                rows = stop - start
                block = torch.matmul(
                    torch.from_numpy(queries[start:stop]).to(device),
                    gallery.T,
                    out=block_buffer[:rows],
                )
                block = self._correct_torch(torch, block, similarity, terms)
                values, columns = _top_k_torch(
                    torch,
                    block,
                    n_neighbors,
                    (top_buffers[0][:rows], top_buffers[1][:rows]),
                )
                scores[start:stop] = values.cpu().numpy()
                indices[start:stop] = columns.cpu().numpy()
        return scores, indices.astype(np.intp, copy=False)

    def _correct_torch(self, torch, block, similarity, terms):
        """The corrections of :meth:`_correct`, in place on the block."""
        if similarity == "cosine":
            return block
        if similarity == "csls":
            k = min(self._csls_k, block.shape[1])
            query_hubness = torch.topk(block, k, dim=1).values.mean(dim=1)
            block.mul_(2).sub_(query_hubness[:, None])
            return block.sub_(terms["reference_hubness_"])
        log_partition = terms["reference_log_partition_"]
        if similarity == "inverted_softmax":
            return block.mul_(self.beta).sub_(log_partition)
        activated = terms["activation_set_"][torch.argmax(block, dim=1)]
        # beta cos - log Z(g) on activated rows, beta cos elsewhere; addcmul
        # broadcasts without a block-sized temporary.
        block.mul_(self.beta)
        return block.addcmul_(
            activated[:, None].to(block.dtype), log_partition[None, :], value=-1
        )

    # ------------------------------------------------------- approximate ---
    def _search_faiss(self, queries, n_neighbors, similarity):
        depth = n_neighbors
        if similarity != "cosine":
            depth = max(self.shortlist_factor * n_neighbors, self._csls_k)
        depth = min(depth, self.n_gallery_)
        similarities, columns = search_inverted_file(
            self._faiss_index, self._gallery, queries, depth
        )
        if similarity == "cosine":
            return similarities, columns
        # The shortlist in gallery order, so that equal corrected scores come
        # in gallery order too.
        order = np.argsort(columns, axis=1)
        columns = np.take_along_axis(columns, order, axis=1)
        corrected = self._correct(
            np.take_along_axis(similarities, order, axis=1), similarity, columns
        )
        values, best = top_k_of_block(corrected, n_neighbors)
        return (
            values.astype(np.float32),
            np.take_along_axis(columns, best, axis=1).astype(np.intp),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


def _top_k_torch(torch, block, k, buffers):
    """:func:`top_k_of_block` on a torch block; ``(values, columns)``.

    ``buffers`` are a float and an int64 tensor of ``block.shape[0]`` rows and
    ``min(k + 1, n_gallery)`` columns, which receive the result. As in numpy,
    the entry after the k-th tells whether a tie crosses the k-th place
    (``torch.topk`` keeps an arbitrary subset of tied entries); such rows take
    the tied entries from the lowest columns, and equal values come out by
    column.
    """
    values, columns = buffers
    torch.topk(block, values.shape[1], dim=1, out=(values, columns))
    if values.shape[1] > k:
        tied = torch.nonzero(values[:, k] == values[:, k - 1]).ravel()
        values, columns = values[:, :k], columns[:, :k]
        if tied.numel():
            rows, kth = block[tied], values[tied, k - 1 :]
            greater, equal = rows > kth, rows == kth
            missing = k - greater.sum(dim=1, keepdim=True)
            first = equal.cumsum(dim=1, dtype=torch.int32) <= missing
            keep = greater | (equal & first)
            tied_columns = torch.nonzero(keep)[:, 1].reshape(-1, k)
            values[tied] = rows.gather(1, tied_columns)
            columns[tied] = tied_columns
    # Equal values by column: sort by column, then stably by value (with -0.0
    # made +0.0 first, so that no sort can tell them apart).
    values.add_(0.0)
    by_column, order = torch.sort(columns, dim=1)
    by_value, order_of_values = torch.sort(
        values.gather(1, order), dim=1, descending=True, stable=True
    )
    values.copy_(by_value)
    columns.copy_(by_column.gather(1, order_of_values))
    return values, columns


def retrieve(
    estimator,
    queries,
    gallery,
    *,
    query_view="X",
    n_neighbors=5,
    similarity="cosine",
    csls_k=10,
):
    """Retrieve with a fitted pipeline, search or two-view estimator.

    ``Pipeline([..., ("model", CrossModalEmbedding())])`` preprocesses the
    first view only (``Pipeline.transform`` forwards X), so its last step's
    ``retrieve`` cannot be called on raw rows. This function sends rows of the
    first view through the preprocessing steps, whether they are the queries
    (``query_view="X"``) or the gallery (``query_view="y"``), and calls the
    last step's ``retrieve``. A fitted ``GridSearchCV`` is searched through
    its refitted best model; a ``TwoViewPipeline`` (which preprocesses both
    views itself) is called directly.

    Parameters
    ----------
    estimator : estimator
        Fitted two-view estimator, ``Pipeline`` ending in one,
        ``TwoViewPipeline``, or fitted ``GridSearchCV`` over any of them.
    queries : array-like of shape (n_queries, n_features_of_query_view)
        Raw rows of the view named by ``query_view``.
    gallery : array-like of shape (n_gallery, n_features_of_other_view)
        Raw rows of the other view.
    query_view : {"X", "y"}, default="X"
        Which view the queries belong to.
    n_neighbors : int, default=5
        How many gallery rows to return per query.
    similarity : {"cosine", "csls"}, default="cosine"
        Cosine similarity, or CSLS estimated from these queries and gallery.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.

    Returns
    -------
    similarities : ndarray of shape (n_queries, n_neighbors)
        Best first.
    indices : ndarray of shape (n_queries, n_neighbors)
        Row indices into ``gallery``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal.retrieval import retrieve
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 5)) * 100
    >>> y = X @ rng.normal(size=(5, 4)) + rng.normal(size=(80, 4))
    >>> pipe = make_pipeline(StandardScaler(), CrossModalEmbedding()).fit(X, y)
    >>> similarities, indices = retrieve(pipe, X[:3], y, n_neighbors=2)
    >>> indices.shape
    (3, 2)
    """
    check_count("n_neighbors", n_neighbors)
    check_query_view(query_view)
    preprocessing, final = unwrap_two_view(estimator)
    check_two_view(final)
    if preprocessing is not None:
        if query_view == "X":
            queries = preprocessing.transform(queries)
        else:
            gallery = preprocessing.transform(gallery)
    return final.retrieve(
        queries,
        gallery,
        query_view=query_view,
        n_neighbors=n_neighbors,
        similarity=similarity,
        csls_k=csls_k,
    )
