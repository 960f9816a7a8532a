"""Semi-paired learning: grow a few pairs into many by self-learning.

A handful of pairs fixes a rough shared space; in it, a row seen in one view
alone often has an unmistakable partner among the rows seen in the other view
alone. ``SelfLearningAligner`` alternates the two steps of the self-learning
used for cross-lingual word embeddings (VecMap, Artetxe et al. 2018): fit the
two-view estimator on the known pairs plus the pairs induced so far, then
induce pairs afresh among the single-view rows as mutual nearest neighbours
under CSLS.
"""

import numbers
from copy import copy, deepcopy

import numpy as np
from sklearn.base import MetaEstimatorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.utils import Bunch, check_random_state, get_tags
from sklearn.utils.validation import check_is_fitted

from .._compat import HasMethods, IntegerInterval, Interval, _check_sample_weight
from .._numerics.similarity import SimilarityBlocks
from .._utils.validation import check_same_rows
from ..base import CrossModalEstimator, TwoViewTags, atomic_fit
from ..metrics import mean_reciprocal_rank
from .missing_views import embed_x_rows, embed_y_rows, rows_missing, split_views


def mutual_nearest_neighbours(x_scores, y_scores, csls_k):
    """Pairs ``(i, j)`` where each is the other's best match under CSLS.

    Returns ``(x_index, y_index, score)``: row ``x_index[m]`` of ``x_scores``
    and row ``y_index[m]`` of ``y_scores`` are mutual nearest neighbours with
    CSLS similarity ``score[m]``. The similarity matrix is visited one block of
    rows at a time (never held whole); the best row of each column is carried
    across blocks. CSLS (Conneau et al. 2018) is ``2 cos - r_x - r_y``, where
    ``r`` is a point's mean cosine to its ``csls_k`` nearest neighbours in the
    other set; it is symmetric, so one matrix serves both directions.
    """
    n_x, n_y = x_scores.shape[0], y_scores.shape[0]
    if n_x == 0 or n_y == 0:
        return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0)
    row_best = np.empty(n_x, dtype=np.intp)
    row_score = np.empty(n_x, dtype=np.float64)
    column_best = np.zeros(n_y, dtype=np.intp)
    column_score = np.full(n_y, -np.inf)
    columns = np.arange(n_y)
    for start, stop, block in SimilarityBlocks(x_scores, y_scores, "csls", csls_k):
        best = block.argmax(axis=1)
        row_best[start:stop] = best
        row_score[start:stop] = block[np.arange(stop - start), best]
        best_in_block = block.argmax(axis=0)
        score_in_block = block[best_in_block, columns]
        # Strictly better only: on ties the earlier row wins, as in argmax.
        better = score_in_block > column_score
        column_best[better] = best_in_block[better] + start
        column_score[better] = score_in_block[better]
    x_index = np.flatnonzero(column_best[row_best] == np.arange(n_x))
    return x_index, row_best[x_index], row_score[x_index]


class SelfLearningAligner(MetaEstimatorMixin, CrossModalEstimator):
    """Learn a shared space from a few pairs and many single-view rows.

    Rows observed in one view only are marked with NaN: a row whose ``X`` is
    entirely NaN is a *y-only* row, a row whose ``y`` is entirely NaN an
    *X-only* row, and a row with both views a pair (see :ref:`semi_paired`).
    ``fit`` fits a clone of ``estimator`` on the pairs, then repeats

    1. embed the X-only and the y-only rows in the current shared space;
    2. *induce* pairs: an X-only row and a y-only row that are each other's
       nearest neighbour under CSLS (with a CSLS score of at least
       ``threshold``, if given); keep each such candidate with probability ``p_t``
       (stochastic dictionary induction), where ``p_1 = keep_prob`` and
       ``p_t = min(1, keep_prob * keep_prob_growth ** (t - 1))``;
    3. refit a fresh clone of ``estimator`` on the pairs and the induced pairs,
       the latter with weight ``induced_weight`` (times the smaller of the two
       rows' sample weights);

    until the induced set is the one the model was just fitted on (with
    ``p_t = 1``) or after ``max_iter`` rounds. The induced set is drawn anew
    from all single-view rows each round, so an early mistake can be undone.

    Parameters
    ----------
    estimator : object
        A two-view estimator of this library (``fit(X, y, sample_weight)``,
        ``transform(X, y)``, ``predict``), such as
        :class:`~skcrossmodal.CrossModalEmbedding`. It is cloned, and only
        ever sees complete pairs.
    threshold : float or None, default=None
        Smallest CSLS score of an induced pair; ``None`` keeps every pair of
        mutual nearest neighbours. CSLS lies in ``[-2, 2]``; raise the
        threshold to induce only the pairs that stand out from their
        neighbourhoods.
    keep_prob : float, default=0.1
        Probability of keeping each candidate in the first round, in ``(0, 1]``.
        A small value lets the first, rough shared space be corrected before
        its mistakes are all learned (Artetxe et al. 2018).
    keep_prob_growth : float, default=2.0
        Factor by which the keep probability grows each round, at least 1.
    induced_weight : float, default=0.5
        Sample weight of an induced pair relative to a given pair, in
        ``(0, 1]``.
    max_iter : int, default=10
        Maximum number of induce-and-refit rounds; 0 fits on the pairs only.
    csls_k : int, default=10
        Neighbourhood size of the CSLS correction.
    reverse_alpha : float, default=1.0
        Ridge penalty of the reverse read-out used by :meth:`predict_x`, a
        ridge regression (:class:`~sklearn.linear_model.Ridge`) of ``X`` on
        ``y``'s shared-space coordinates, fitted on the final training pairs.
    validation_folds : int or None, default=5
        Folds of the given pairs on which the number of rounds is chosen before
        the final fit: on each fold, self-learning runs from the other folds'
        pairs, and after every round (and before the first) the held-out pairs
        are retrieved among themselves and the single-view rows of the other
        view, which are true negatives (their partners are other events). The
        final fit runs the number of rounds of best mean held-out MRR (the most
        on a tie) if its gain over the pairs alone reaches one standard error
        across the folds, else none, so that self-learning is used only as far
        as it helps, and falls back to the pairs alone when it does not.
        ``None``: no validation, up to ``max_iter`` rounds (as before).
        Validation is skipped when there are fewer than 4 pairs or the
        estimator cannot be fitted on a fold's pairs. It costs about
        ``validation_folds`` times a run of the rounds.
    random_state : int, RandomState instance or None, default=None
        Seeds the stochastic induction.

    Attributes
    ----------
    estimator_ : object
        The clone of ``estimator`` fitted on the pairs and the last induced
        pairs: it embeds, predicts and retrieves.
    induced_pairs_ : list of :class:`~sklearn.utils.Bunch`
        One entry per round: ``x_rows`` and ``y_rows`` (row indices, into the
        ``X`` and ``y`` passed to ``fit``, of the X-only and y-only row of each
        induced pair), ``scores`` (their CSLS scores), ``keep_prob`` (the
        round's ``p_t``) and ``n_candidates`` (mutual nearest neighbours at or
        above ``threshold``, before the random keep).
    n_iter_ : int
        Number of fits of the estimator: one on the pairs, plus one per
        induce-and-refit round (``1 + len(induced_pairs_)``).
    termination_condition_ : str
        Why fitting stopped ("converged", "max_iter", "validation" or
        "no_single_rows"): the induced set stopped changing, ``max_iter``
        rounds ran, validation (``validation_folds``) chose fewer rounds, or there was
        nothing to induce (no X-only or no y-only row).
    validation_scores_ : ndarray of shape (max_iter + 1,) or None
        Mean held-out MRR of the given pairs after 0, 1, ..., ``max_iter``
        rounds (see ``validation_folds``); None when not validated.
    pair_rows_ : ndarray of int
        Rows of the training data that were pairs.
    x_only_rows_ : ndarray of int
        Rows that held X only.
    y_only_rows_ : ndarray of int
        Rows that held y only.
    reverse_regressor_ : :class:`~sklearn.linear_model.Ridge`
        The read-out from y's shared-space coordinates to X (:meth:`predict_x`).
    n_components_ : int
        Dimension of the shared space (the estimator's).
    n_features_in_ : int
        Number of features of X seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of X's features, when X had string column names.
    n_features_y_in_ : int
        Number of features of y seen during fit.

    See Also
    --------
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training with
        pseudo-labels for a classifier.

    Notes
    -----
    The refit starts from a fresh clone each round rather than calling
    ``partial_fit``: the induced set is replaced, not grown, and statistics
    cannot be taken back out. For the linear estimators the refit costs far
    less than the nearest-neighbour search among the single-view rows.

    Pipeline steps before this estimator see the NaN rows: use steps that let
    NaN through, such as :class:`~sklearn.preprocessing.StandardScaler`.
    Preprocessing that refuses NaN (``PCA``) goes inside ``estimator``, for
    instance as a :class:`~skcrossmodal.TwoViewPipeline`, which is then fitted
    on complete pairs only.

    References
    ----------
    .. [1] M. Artetxe, G. Labaka and E. Agirre, "A robust self-learning method
       for fully unsupervised cross-lingual mappings of word embeddings",
       ACL 2018.
    .. [2] A. Conneau, G. Lample, M. Ranzato, L. Denoyer and H. Jégou, "Word
       translation without parallel data", ICLR 2018.

    Examples
    --------
    Ten pairs, and 300 events whose X and y were recorded apart (the y rows
    arrive in another order), for two views related by a rotation:

    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from skcrossmodal import CrossModalEmbedding, SelfLearningAligner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(310, 5)) * [5, 4, 3, 2, 1]
    >>> y = X @ ortho_group.rvs(5, random_state=0)
    >>> order = rng.permutation(300)
    >>> nan = np.full((300, 5), np.nan)
    >>> X_semi = np.vstack([X, nan])  # rows 10..309 hold X only
    >>> y_semi = np.vstack([y[:10], nan, y[10:][order]])  # rows 310.. y only
    >>> model = SelfLearningAligner(CrossModalEmbedding(), random_state=0)
    >>> model = model.fit(X_semi, y_semi)
    >>> model.pair_rows_.size, model.x_only_rows_.size, model.y_only_rows_.size
    (10, 300, 300)
    >>> model.termination_condition_
    'converged'

    Every pair induced in the last round is a true one:

    >>> last = model.induced_pairs_[-1]
    >>> true_partner = order[last.y_rows - 310] + 10
    >>> last.x_rows.size > 250, bool(np.all(true_partner == last.x_rows))
    (True, True)

    A row holding one view gets its shared-space point from that view:

    >>> rows = [0, 20, 400]  # a pair, an X-only row, a y-only row
    >>> X_scores, y_scores = model.transform(X_semi[rows], y_semi[rows])
    >>> np.isnan(X_scores[:, 0]).tolist(), np.isnan(y_scores[:, 0]).tolist()
    ([False, False, True], [False, True, False])
    >>> model.predict_x(y_semi[[400]]).shape
    (1, 5)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "transform", "predict"])],
        "threshold": [Interval(numbers.Real, None, None, closed="neither"), None],
        "keep_prob": [Interval(numbers.Real, 0, 1, closed="right")],
        "keep_prob_growth": [Interval(numbers.Real, 1, None, closed="left")],
        "induced_weight": [Interval(numbers.Real, 0, 1, closed="right")],
        "max_iter": [IntegerInterval(0, None, closed="left")],
        "validation_folds": [IntegerInterval(2, None, closed="left"), None],
        "csls_k": [IntegerInterval(1, None, closed="left")],
        "reverse_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        threshold=None,
        keep_prob=0.1,
        keep_prob_growth=2.0,
        induced_weight=0.5,
        max_iter=10,
        csls_k=10,
        reverse_alpha=1.0,
        validation_folds=5,
        random_state=None,
    ):
        self.estimator = estimator
        self.threshold = threshold
        self.keep_prob = keep_prob
        self.keep_prob_growth = keep_prob_growth
        self.induced_weight = induced_weight
        self.max_iter = max_iter
        self.csls_k = csls_k
        self.reverse_alpha = reverse_alpha
        self.validation_folds = validation_folds
        self.random_state = random_state

    # Rows holding one view are what self-learning learns from.
    _accepts_single_view_rows = True

    # ----------------------------------------------------------------- fit ---
    # The wrapped estimator validates its own parameters.
    @atomic_fit(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit on the pairs, then induce pairs among single-view rows and refit.

        A call that raises leaves the estimator exactly as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view; a row that is entirely NaN holds y only.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view; a row that is entirely NaN holds X only.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row. A pair passes its weight to the
            estimator; an induced pair weighs ``induced_weight`` times the
            smaller weight of its two rows; a single-view row of weight 0 is
            never induced.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if not isinstance(self.estimator, CrossModalEstimator):
            # A Pipeline would fail much later, on an attribute it lacks.
            raise TypeError(
                f"{type(self).__name__} needs a two-view estimator (such as "
                "CrossModalEmbedding); got "
                f"{type(self.estimator).__name__}. To preprocess the views, wrap "
                "the estimator in TwoViewPipeline(estimator, x_transformer=..., "
                "y_transformer=...) rather than a Pipeline."
            )
        X, y, sample_weight = self._validate_paired_views(
            X, y, sample_weight, reset=True
        )
        self._fit_views(X, y, sample_weight)
        return self

    def _fit_views(self, X, y, sample_weight):
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        pairs, x_only, y_only = split_views(X, y)
        self._check_enough_pairs(pairs, x_only, y_only, weights)

        pair_weight = None if sample_weight is None else weights[pairs]
        estimator = _fit_estimator(self.estimator, X[pairs], y[pairs], pair_weight)
        self._check_pairs_span_components(np.count_nonzero(weights[pairs]), estimator)

        # Zero-weight rows are left out, as a zero weight leaves a pair out.
        x_candidates = x_only[weights[x_only] > 0]
        y_candidates = y_only[weights[y_only] > 0]
        anchor_x = X[pairs[0]]
        rng = check_random_state(self.random_state)
        history = []
        fitted_on = None
        termination = "max_iter"
        validation_scores = None
        if x_candidates.size == 0 or y_candidates.size == 0:
            termination = "no_single_rows"
        else:
            singles = (X, y, x_candidates, y_candidates, anchor_x)
            n_rounds = self.max_iter
            if self.validation_folds is not None and self.max_iter > 0:
                # A copy of the stream: the final rounds draw what they would
                # draw without validation.
                per_fold = self._validate_rounds(
                    singles, weights, pairs, sample_weight is not None, deepcopy(rng)
                )
                if per_fold is not None:
                    validation_scores, n_rounds = _rounds_to_keep(*per_fold)
            rounds = self._self_learn(singles, weights, pairs, estimator, rng)
            for _ in range(n_rounds):
                step = next(rounds, None)
                if step is None:
                    termination = "converged"
                    break
                estimator, fitted_on = step
                history.append(fitted_on)
            else:
                if n_rounds < self.max_iter:
                    termination = "validation"

        rows_x, rows_y, train_weights = pairs, pairs, weights[pairs]
        if fitted_on is not None:
            rows_x = np.concatenate([pairs, fitted_on.x_rows])
            rows_y = np.concatenate([pairs, fitted_on.y_rows])
            train_weights = np.concatenate(
                [
                    weights[pairs],
                    self.induced_weight
                    * np.minimum(weights[fitted_on.x_rows], weights[fitted_on.y_rows]),
                ]
            )
        reverse = Ridge(alpha=self.reverse_alpha).fit(
            embed_y_rows(estimator, y[rows_y], anchor_x),
            X[rows_x],
            sample_weight=train_weights,
        )

        # Everything is computed; only now is the estimator changed.
        self.estimator_ = estimator
        self.reverse_regressor_ = reverse
        self.induced_pairs_ = history
        self.n_iter_ = 1 + len(history)
        self.termination_condition_ = termination
        self.validation_scores_ = validation_scores
        self.pair_rows_, self.x_only_rows_, self.y_only_rows_ = pairs, x_only, y_only
        self._anchor_x = anchor_x

    def _self_learn(self, singles, weights, pairs, estimator, rng):
        """Yield ``(estimator, induced)`` after each induce-and-refit round.

        ``estimator`` is fitted on ``pairs``; the rounds stop (the generator
        ends) when the induced set is the one just fitted on with ``p_t = 1``,
        or after ``max_iter`` rounds.
        """
        X, y, x_candidates, y_candidates, anchor_x = singles
        fitted_on = None
        for round_ in range(self.max_iter):
            keep = min(1.0, self.keep_prob * self.keep_prob_growth**round_)
            induced = self._induce(
                estimator, X, y, x_candidates, y_candidates, anchor_x, keep, rng
            )
            if keep == 1.0 and _same_pairs(induced, fitted_on):
                return
            rows_x = np.concatenate([pairs, induced.x_rows])
            rows_y = np.concatenate([pairs, induced.y_rows])
            induced_weights = self.induced_weight * np.minimum(
                weights[induced.x_rows], weights[induced.y_rows]
            )
            estimator = _fit_estimator(
                self.estimator,
                X[rows_x],
                y[rows_y],
                np.concatenate([weights[pairs], induced_weights]),
            )
            fitted_on = induced
            yield estimator, induced

    def _validate_rounds(self, singles, weights, pairs, weighted, rng):
        """Held-out MRR of the true pairs after 0, 1, ..., ``max_iter`` rounds.

        The given pairs are split into ``validation_folds`` folds; on each, self-
        learning runs from the other folds' pairs (and every single-view row), and
        after each round the held-out pairs are retrieved among themselves and the
        single-view rows of the other view (whose partners are other events, so they
        are true negatives), in both directions. A run that converges early keeps
        its last score for the later rounds. Returns the fold average (weighted by
        the held-out weights), or None when there are too few pairs to split (fewer
        than 2 a fold) or the estimator cannot be fitted on a fold's pairs.
        """
        X, y, x_candidates, y_candidates, anchor_x = singles
        n_folds = min(self.validation_folds, pairs.size // 2)
        if n_folds < 2:
            return None
        from sklearn.model_selection import KFold

        folds = KFold(n_folds, shuffle=True, random_state=rng.randint(2**31 - 1))
        fold_scores, fold_weights = [], []
        for train, test in folds.split(pairs):
            train, test = pairs[train], pairs[test]
            held_weight = weights[test]
            if not held_weight.sum() > 0:
                continue
            try:
                start = _fit_estimator(
                    self.estimator,
                    X[train],
                    y[train],
                    weights[train] if weighted else None,
                )
            except ValueError:
                return None

            x_rows = np.concatenate([test, x_candidates])
            y_rows = np.concatenate([test, y_candidates])
            fitted = [start]
            fitted += [
                refit
                for refit, _ in self._self_learn(singles, weights, train, start, rng)
            ]
            scores = [
                _held_out_mrr(
                    embed_x_rows(model, X[x_rows]),
                    embed_y_rows(model, y[y_rows], anchor_x),
                    test.size,
                    held_weight,
                )
                for model in fitted
            ]
            scores += [scores[-1]] * (self.max_iter + 1 - len(scores))
            fold_scores.append(scores)
            fold_weights.append(held_weight.sum())
        if len(fold_scores) < 2:
            return None
        return np.asarray(fold_scores), np.asarray(fold_weights)

    def _induce(self, estimator, X, y, x_candidates, y_candidates, anchor_x, keep, rng):
        """One round of dictionary induction among the single-view rows."""
        x_scores = embed_x_rows(estimator, X[x_candidates])
        y_scores = embed_y_rows(estimator, y[y_candidates], anchor_x)
        x_index, y_index, scores = mutual_nearest_neighbours(
            x_scores, y_scores, self.csls_k
        )
        if self.threshold is not None:
            confident = scores >= self.threshold
            x_index, y_index = x_index[confident], y_index[confident]
            scores = scores[confident]
        # One draw per candidate every round, so that the stream of random
        # numbers (and hence the result) depends only on random_state.
        kept = rng.uniform(size=scores.size) < keep
        return Bunch(
            x_rows=x_candidates[x_index[kept]],
            y_rows=y_candidates[y_index[kept]],
            scores=scores[kept],
            keep_prob=keep,
            n_candidates=int(scores.size),
        )

    def _check_enough_pairs(self, pairs, x_only, y_only, weights):
        n_pairs = np.count_nonzero(weights[pairs])
        if n_pairs < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 pairs (rows with both X "
                f"and y, of non-zero weight) to start from; got {n_pairs} pairs, "
                f"{x_only.size} X-only rows and {y_only.size} y-only rows. Pair a "
                "few rows by hand: self-learning refines a shared space, it cannot "
                "find one from single-view rows alone."
            )

    def _check_pairs_span_components(self, n_pairs, estimator):
        n_components = estimator.n_components_
        if n_pairs <= n_components:
            raise ValueError(
                f"{type(self).__name__} got {n_pairs} pairs for n_components="
                f"{n_components}: centred pairs span at most n_pairs - 1 = "
                f"{n_pairs - 1} dimensions, so the shared space would be partly "
                "arbitrary. Provide more than n_components pairs, or reduce the "
                "estimator's n_components."
            )

    def _check_paired_rows(self, X, y):
        check_same_rows(X, y)
        split_views(X, y)  # a row missing both views (or partly NaN) is an error

    # ------------------------------------------------------ shared space ---
    def transform(self, X, y=None):
        """Shared-space coordinates of each row, from each view it holds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view; entirely NaN rows (no X) give NaN coordinates.
        y : array-like of shape (n_samples, n_features_y), default=None
            Second view, row by row with ``X``; entirely NaN rows (no y) give
            NaN coordinates.

        Returns
        -------
        X_scores : ndarray of shape (n_samples, n_components)
            Returned alone when ``y`` is None.
        (X_scores, y_scores) : tuple of ndarray
            When ``y`` is given. A row with one view has its shared-space
            point in that view's scores and NaN in the other's.
        """
        return super().transform(X, y)

    def _embed_x(self, X):
        return self._embed(X, "X")

    def _embed_y(self, y):
        return self._embed(y, "y")

    def _embed(self, view, name):
        missing = rows_missing(view, name)
        scores = np.full((view.shape[0], self.n_components_), np.nan)
        if name == "X":
            scores[~missing] = embed_x_rows(self.estimator_, view[~missing])
        else:
            scores[~missing] = embed_y_rows(
                self.estimator_, view[~missing], self._anchor_x
            )
        return scores

    def _predict_views(self, X):
        # y for rows without it: the estimator's predict, complete rows only.
        X = self._complete_rows(X, "X", "predict_x")
        return np.asarray(self.estimator_.predict(X)).reshape(X.shape[0], -1)

    def predict_x(self, y):
        """Predict X from y (the reverse read-out): X for rows without it.

        y is embedded in the shared space and ``reverse_regressor_`` (a ridge
        regression fitted on the final training pairs) reads X off the shared
        point.

        Parameters
        ----------
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view, complete rows only.

        Returns
        -------
        X_pred : ndarray of shape (n_samples, n_features)
            In X's units.
        """
        check_is_fitted(self)
        y = self._complete_rows(self._check_y_view(y), "y", "predict")
        return self.reverse_regressor_.predict(
            embed_y_rows(self.estimator_, y, self._anchor_x)
        )

    def impute(self, X, y):
        """Fill each row's missing view from the view it holds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view, with entirely NaN rows where it is missing.
        y : array-like of shape (n_samples, n_features_y) or (n_samples,)
            Second view, with entirely NaN rows where it is missing.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
            ``X`` with its missing rows predicted from ``y`` (:meth:`predict_x`).
        y_filled : ndarray of shape (n_samples, n_features_y) or (n_samples,)
            ``y`` with its missing rows predicted from ``X`` (:meth:`predict`).
        """
        check_is_fitted(self)
        X_filled = np.array(self._check_x_view(X), dtype=np.float64)
        y_filled = np.array(self._check_y_view(y), dtype=np.float64)
        check_same_rows(X_filled, y_filled)
        _, x_only, y_only = split_views(X_filled, y_filled)
        if y_only.size:
            X_filled[y_only] = self.predict_x(y_filled[y_only])
        if x_only.size:
            y_filled[x_only] = self.predict(X_filled[x_only]).reshape(x_only.size, -1)
        return X_filled, (y_filled.ravel() if self._y_is_1d else y_filled)

    def _complete_rows(self, view, name, other_method):
        missing = rows_missing(view, name)
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            if other_method is None:  # retrieve: no direction to switch to
                raise ValueError(
                    f"Input {name} contains NaN: row {row} is entirely NaN (its "
                    f"{name} view is missing), and retrieve compares complete "
                    "rows only. Leave that row out, or fill it with impute(X, y)."
                )
            raise ValueError(
                f"Input {name} contains NaN: row {row} has no {name} to predict "
                f"from. Predict the other direction with {other_method}, or fill "
                "both views with impute(X, y)."
            )
        return view

    def score(self, X, y, sample_weight=None):
        """Mean reciprocal rank of true partners, over the rows with both views.

        Rows with one view cannot be scored and are left out.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            First view.
        y : array-like of shape (n_samples, n_features_y)
            Second view, row by row with ``X``.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each pair in the average.

        Returns
        -------
        score : float
        """
        X_scores, y_scores = self.transform(X, y)
        X_scores, y_scores = np.asarray(X_scores), np.asarray(y_scores)
        pairs = np.flatnonzero(
            ~np.isnan(X_scores).any(axis=1) & ~np.isnan(y_scores).any(axis=1)
        )
        if pairs.size == 0:
            raise ValueError(
                "score needs at least one row with both X and y; every row given "
                "holds one view only."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X_scores)[pairs]
        return mean_reciprocal_rank(
            X_scores[pairs], y_scores[pairs], sample_weight=sample_weight
        )

    def _retrieve_rows(self, X_rows, y_rows, *, query_view, **search):
        # Queries and gallery hold complete rows; the estimator searches.
        X_rows = self._complete_rows(self._check_x_view(X_rows), "X", None)
        y_rows = self._complete_rows(self._check_y_view(y_rows), "y", None)
        queries, gallery = (X_rows, y_rows) if query_view == "X" else (y_rows, X_rows)
        return self.estimator_.retrieve(
            queries, gallery, query_view=query_view, **search
        )

    # ---------------------------------------------------------- metadata ---
    @property
    def n_components_(self):
        """Dimension of the shared space, as fitted by the estimator."""
        return self.estimator_.n_components_

    def __sklearn_tags__(self):
        # Only entirely NaN rows are allowed (a missing view), and scikit-learn's
        # allow_nan tag means NaN anywhere, so it stays False.
        tags = super().__sklearn_tags__()
        # What holds of the shared space holds of the wrapped estimator's.
        inner = getattr(get_tags(self.estimator), "two_view_tags", None)
        tags.two_view_tags = TwoViewTags() if inner is None else copy(inner)
        return tags


def _rounds_to_keep(fold_scores, fold_weights):
    """Mean validation score per round count, and the round count to run.

    The most rounds among those of best mean (weighted by the folds'
    held-out weights): a tie induced as many pairs or more at no measured
    cost. Those rounds are kept only if their gain over the pairs alone,
    fold by fold, has a mean of at least one standard error; otherwise the
    pairs alone (0 rounds): a gain within the folds' noise is no evidence
    that induced pairs help, and the pairs alone are the model that cannot
    have learned wrong partners. (Where every fold scores the same, as when
    the pairs alone already retrieve perfectly, the rounds are kept.)
    """
    share = fold_weights / fold_weights.sum()
    scores = share @ fold_scores
    n_rounds = int(np.flatnonzero(scores == scores.max())[-1])
    gains = fold_scores[:, n_rounds] - fold_scores[:, 0]
    mean_gain = share @ gains
    spread = np.sqrt(share @ (gains - mean_gain) ** 2 / (len(gains) - 1))
    if mean_gain < spread:
        n_rounds = 0
    return scores, n_rounds


def _held_out_mrr(x_scores, y_scores, n_held, weight):
    """MRR (cosine, both directions) of the first ``n_held`` rows' partners.

    Row i < ``n_held`` of each view is partnered with row i of the other;
    the rows after them are distractors. Ties count half.
    """
    x_unit = x_scores / np.linalg.norm(x_scores, axis=1, keepdims=True)
    y_unit = y_scores / np.linalg.norm(y_scores, axis=1, keepdims=True)
    total = 0.0
    for queries, gallery in ((x_unit, y_unit), (y_unit, x_unit)):
        similarity = queries[:n_held] @ gallery.T
        partner = similarity[np.arange(n_held), np.arange(n_held)][:, None]
        better = (similarity > partner).sum(axis=1)
        tied = (similarity == partner).sum(axis=1) - 1
        total += 0.5 * weight @ (1.0 / (1.0 + better + 0.5 * tied))
    return total / weight.sum()


def _fit_estimator(estimator, X, y, sample_weight):
    fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
    return clone(estimator).fit(X, y, **fit_params)


def _same_pairs(induced, previous):
    """Whether two induced sets hold the same pairs (in any order)."""
    if previous is None:
        return False
    return _pair_set(induced) == _pair_set(previous)


def _pair_set(induced):
    return set(zip(induced.x_rows.tolist(), induced.y_rows.tolist(), strict=True))
