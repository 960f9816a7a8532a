"""Displays of retrieval quality and of the shared space, in scikit-learn's style.

Each display is built with ``from_estimator`` (a fitted two-view estimator and
held-out pairs) or ``from_predictions`` (scores already in the shared space),
stores what it plots, and draws with ``plot``. matplotlib is an optional
dependency (``pip install matplotlib``), imported only when drawing.
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state

from ._compat import (
    IntegerInterval,
    StrOptions,
    check_matplotlib_support,
    validate_params,
)
from ._numerics.similarity import SIMILARITIES
from ._utils.validation import check_paired_embeddings, transform_pair
from .metrics import retrieval_ranks

__all__ = ["RecallAtKDisplay", "SharedSpaceDisplay"]


def _axes(ax, caller):
    check_matplotlib_support(caller)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax


def _estimator_name(estimator):
    inner = getattr(estimator, "estimator_", None)
    if hasattr(estimator, "steps"):
        inner = estimator.steps[-1][1]
    return type(estimator if inner is None else inner).__name__


class RecallAtKDisplay:
    """Recall@k against k, with each view querying the other.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`; the
    recall values are stored, so they can be checked or reused.

    Parameters
    ----------
    k : ndarray of shape (n_k,)
        The values of k, ``1, 2, ..., k_max``.
    recall_x_to_y : ndarray of shape (n_k,)
        Fraction of X queries whose partner is among their k best y matches.
    recall_y_to_x : ndarray of shape (n_k,)
        Fraction of y queries whose partner is among their k best X matches.
    name : str, default=None
        Name shown in the legend (usually the estimator's).

    Attributes
    ----------
    line_x_to_y_ : matplotlib Line2D
        The X → y curve.
    line_y_to_x_ : matplotlib Line2D
        The y → X curve.
    ax_ : matplotlib Axes
        Axes with the curves.
    figure_ : matplotlib Figure
        Figure containing the axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal.datasets import make_paired_views
    >>> from skcrossmodal.plotting import RecallAtKDisplay
    >>> X, y, _ = make_paired_views(200, noise=0.5, random_state=0)
    >>> model = CrossModalEmbedding(n_components=5).fit(X[:150], y[:150])
    >>> display = RecallAtKDisplay.from_estimator(model, X[150:], y[150:], k_max=5)
    >>> display.k.tolist()
    [1, 2, 3, 4, 5]
    >>> bool((display.recall_x_to_y[-1] >= display.recall_x_to_y[0]))
    True
    """

    def __init__(self, k, recall_x_to_y, recall_y_to_x, *, name=None):
        self.k = k
        self.recall_x_to_y = recall_x_to_y
        self.recall_y_to_x = recall_y_to_x
        self.name = name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw both curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        name : str, default=None
            Legend prefix; overrides the ``name`` given at construction.
        **kwargs : dict
            Passed to matplotlib's ``plot`` for both curves.

        Returns
        -------
        display : RecallAtKDisplay
            With ``ax_``, ``figure_`` and the lines set.
        """
        ax = _axes(ax, "RecallAtKDisplay.plot")
        name = self.name if name is None else name
        prefix = "" if name is None else f"{name}: "
        (self.line_x_to_y_,) = ax.plot(
            self.k, self.recall_x_to_y, marker="o", label=f"{prefix}X → y", **kwargs
        )
        (self.line_y_to_x_,) = ax.plot(
            self.k,
            self.recall_y_to_x,
            marker="s",
            linestyle="--",
            label=f"{prefix}y → X",
            **kwargs,
        )
        ax.set(xlabel="k", ylabel="recall@k", ylim=(0.0, 1.02))
        ax.legend(loc="lower right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(
        cls,
        X_scores,
        y_scores,
        *,
        k_max=10,
        similarity="cosine",
        csls_k=10,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot recall@k from paired rows already in the shared space.

        Parameters
        ----------
        X_scores : array-like of shape (n_samples, n_components)
            First view in the shared space.
        y_scores : array-like of shape (n_samples, n_components)
            Second view; row i is the partner of ``X_scores[i]``.
        k_max : int, default=10
            Largest k plotted, at most ``n_samples``.
        similarity : {"cosine", "csls"}, default="cosine"
            See :func:`skcrossmodal.metrics.retrieval_ranks`.
        csls_k : int, default=10
            Neighbourhood size of the CSLS correction.
        name : str, default=None
            Legend prefix.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : RecallAtKDisplay
        """
        _validate_recall_options(k_max, similarity, csls_k)
        X_scores, y_scores = check_paired_embeddings(X_scores, y_scores)
        if k_max > X_scores.shape[0]:
            raise ValueError(
                f"k_max={k_max} is larger than the number of pairs "
                f"({X_scores.shape[0]}). Reduce k_max."
            )
        k = np.arange(1, k_max + 1)
        # One ranking per direction gives recall at every k at once.
        recalls = [
            np.mean(
                retrieval_ranks(
                    X_scores,
                    y_scores,
                    direction=direction,
                    similarity=similarity,
                    csls_k=csls_k,
                )[:, None]
                <= k[None, :],
                axis=0,
            )
            for direction in ("x_to_y", "y_to_x")
        ]
        display = cls(k, recalls[0], recalls[1], name=name)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        k_max=10,
        similarity="cosine",
        csls_k=10,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot recall@k of a fitted two-view estimator on paired data.

        Parameters
        ----------
        estimator : object
            A fitted two-view estimator, :class:`~skcrossmodal.TwoViewPipeline`
            or ``Pipeline`` ending in one.
        X : array-like of shape (n_samples, n_features)
            First view (held-out pairs, ideally).
        y : array-like of shape (n_samples, n_features_y)
            Second view, paired row by row with ``X``.
        k_max : int, default=10
            Largest k plotted, at most ``n_samples``.
        similarity : {"cosine", "csls"}, default="cosine"
            See :func:`skcrossmodal.metrics.retrieval_ranks`.
        csls_k : int, default=10
            Neighbourhood size of the CSLS correction.
        name : str, default=None
            Legend prefix; the estimator's class name when None.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : RecallAtKDisplay
        """
        _validate_recall_options(k_max, similarity, csls_k)
        X_scores, y_scores = transform_pair(estimator, X, y)
        return cls.from_predictions(
            np.asarray(X_scores),
            np.asarray(y_scores),
            k_max=k_max,
            similarity=similarity,
            csls_k=csls_k,
            name=_estimator_name(estimator) if name is None else name,
            ax=ax,
            **kwargs,
        )


@validate_params(
    {
        "k_max": [IntegerInterval(1, None, closed="left")],
        "similarity": [StrOptions(set(SIMILARITIES))],
        "csls_k": [IntegerInterval(1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def _validate_recall_options(k_max, similarity, csls_k):
    """Reject bad options before any work (raises ``InvalidParameterError``)."""


class SharedSpaceDisplay:
    """Both modalities in a 2-D view of the shared space, partners joined by lines.

    A good alignment shows short lines: each row of X lands next to its
    partner from y. The picture uses the first two shared components, or the
    first two principal components of the shared space (fitted on both views
    together) when it has more than two.

    Parameters
    ----------
    X_points : ndarray of shape (n_pairs, 2)
        Plotted positions of the first view's rows.
    y_points : ndarray of shape (n_pairs, 2)
        Plotted positions of their partners from the second view.
    labels : ndarray of shape (n_pairs,), default=None
        Class of each pair, used to colour the points.
    name : str, default=None
        Title of the plot (usually the estimator's name).

    Attributes
    ----------
    scatter_x_ : matplotlib PathCollection
        The first view's points.
    scatter_y_ : matplotlib PathCollection
        The second view's points.
    lines_ : matplotlib LineCollection
        One segment per pair, from ``X_points[i]`` to ``y_points[i]``.
    ax_ : matplotlib Axes
        Axes with the picture.
    figure_ : matplotlib Figure
        Figure containing the axes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skcrossmodal import CrossModalEmbedding
    >>> from skcrossmodal.datasets import make_paired_views
    >>> from skcrossmodal.plotting import SharedSpaceDisplay
    >>> X, y, labels = make_paired_views(200, random_state=0)
    >>> model = CrossModalEmbedding(n_components=5).fit(X, y)
    >>> display = SharedSpaceDisplay.from_estimator(
    ...     model, X, y, n_pairs=30, labels=labels
    ... )
    >>> display.X_points.shape, display.y_points.shape, display.indices.shape
    ((30, 2), (30, 2), (30,))
    """

    def __init__(self, X_points, y_points, *, labels=None, indices=None, name=None):
        self.X_points = X_points
        self.y_points = y_points
        self.labels = labels
        self.indices = indices
        self.name = name

    def plot(self, ax=None, *, name=None, cmap="tab10"):
        """Draw the points of both views and the lines joining partners.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        name : str, default=None
            Title; overrides the ``name`` given at construction.
        cmap : str or matplotlib Colormap, default="tab10"
            Colours of the classes when ``labels`` were given.

        Returns
        -------
        display : SharedSpaceDisplay
            With ``ax_``, ``figure_`` and the artists set.
        """
        ax = _axes(ax, "SharedSpaceDisplay.plot")
        from matplotlib.collections import LineCollection

        segments = np.stack([self.X_points, self.y_points], axis=1)
        self.lines_ = ax.add_collection(
            LineCollection(segments, colors="0.6", linewidths=0.8, zorder=1)
        )
        colour = {} if self.labels is None else {"c": self.labels, "cmap": cmap}
        self.scatter_x_ = ax.scatter(
            *self.X_points.T, marker="o", label="X", zorder=2, **colour
        )
        self.scatter_y_ = ax.scatter(
            *self.y_points.T, marker="^", label="y", zorder=2, **colour
        )
        ax.autoscale_view()
        ax.set(xlabel="shared component 1", ylabel="shared component 2")
        ax.legend(loc="best")
        name = self.name if name is None else name
        if name is not None:
            ax.set_title(name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(
        cls,
        X_scores,
        y_scores,
        *,
        n_pairs=50,
        labels=None,
        random_state=0,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Picture paired rows already in the shared space.

        Parameters
        ----------
        X_scores : array-like of shape (n_samples, n_components)
            First view in the shared space (at least two components).
        y_scores : array-like of shape (n_samples, n_components)
            Second view; row i is the partner of ``X_scores[i]``.
        n_pairs : int, default=50
            How many pairs to draw, chosen at random (all when there are
            fewer); the 2-D projection is fitted on all rows.
        labels : array-like of shape (n_samples,), default=None
            Class of each pair, to colour the points.
        random_state : int, RandomState instance or None, default=0
            Seed of the choice of pairs.
        name : str, default=None
            Title of the plot.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SharedSpaceDisplay
        """
        _validate_picture_options(n_pairs, random_state)
        X_scores, y_scores = check_paired_embeddings(X_scores, y_scores)
        n_samples, n_components = X_scores.shape
        if n_components < 2:
            raise ValueError(
                "SharedSpaceDisplay needs a shared space of at least 2 components; "
                f"got {n_components}."
            )
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (n_samples,):
                raise ValueError(
                    f"labels must have shape ({n_samples},), one per pair; got "
                    f"{labels.shape}."
                )
        X_points, y_points = _project_to_plane(X_scores, y_scores)
        rng = check_random_state(random_state)
        indices = np.sort(
            rng.choice(n_samples, size=min(n_pairs, n_samples), replace=False)
        )
        display = cls(
            X_points[indices],
            y_points[indices],
            labels=None if labels is None else labels[indices],
            indices=indices,
            name=name,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        n_pairs=50,
        labels=None,
        random_state=0,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Picture the shared space of a fitted two-view estimator.

        Parameters
        ----------
        estimator : object
            A fitted two-view estimator, :class:`~skcrossmodal.TwoViewPipeline`
            or ``Pipeline`` ending in one.
        X : array-like of shape (n_samples, n_features)
            First view.
        y : array-like of shape (n_samples, n_features_y)
            Second view, paired row by row with ``X``.
        n_pairs : int, default=50
            How many pairs to draw, chosen at random (all when there are
            fewer).
        labels : array-like of shape (n_samples,), default=None
            Class of each pair, to colour the points.
        random_state : int, RandomState instance or None, default=0
            Seed of the choice of pairs.
        name : str, default=None
            Title; the estimator's class name when None.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Passed to :meth:`plot`.

        Returns
        -------
        display : SharedSpaceDisplay
        """
        _validate_picture_options(n_pairs, random_state)
        X_scores, y_scores = transform_pair(estimator, X, y)
        return cls.from_predictions(
            np.asarray(X_scores),
            np.asarray(y_scores),
            n_pairs=n_pairs,
            labels=labels,
            random_state=random_state,
            name=_estimator_name(estimator) if name is None else name,
            ax=ax,
            **kwargs,
        )


@validate_params(
    {
        "n_pairs": [IntegerInterval(1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def _validate_picture_options(n_pairs, random_state):
    """Reject bad options before any work (raises ``InvalidParameterError``)."""


def _project_to_plane(X_scores, y_scores):
    """Both views in the same two coordinates of the shared space.

    Two components are used as they are. More are reduced by one PCA fitted on
    both views stacked, so that both go through the same projection and the
    distances between partners stay comparable.
    """
    if X_scores.shape[1] == 2:
        return X_scores, y_scores
    pca = PCA(n_components=2, svd_solver="full").fit(np.vstack([X_scores, y_scores]))
    return pca.transform(X_scores), pca.transform(y_scores)
