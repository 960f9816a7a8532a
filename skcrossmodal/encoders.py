"""Encoders for raw modalities, to pass to :class:`~skcrossmodal.ContrastiveAligner`.

Images, time series and texts enter the aligner as 2-D arrays, one row per
sample: an image flattened to ``C * H * W`` values, a multichannel window to
``channels * length`` values, a text to its token ids padded with zeros. The
encoders reshape the rows themselves:

- :class:`ImageEncoder`: a small CNN (conv -> pool -> conv -> pool -> MLP);
- :class:`SeriesEncoder`: a 1-D CNN with global pooling over time;
- :class:`TokenBagEncoder`: an embedding bag over integer token ids;
- :func:`token_id_rows`: padded token-id rows from a fitted ``CountVectorizer``.

They are also available by name: ``ContrastiveAligner(x_encoder="image_cnn",
x_encoder__input_shape=(1, 8, 8))`` (``"image_cnn"``, ``"series_cnn"``,
``"token_bag"``). The encoder classes need torch; it is imported when one of
them is first used, not by ``import skcrossmodal`` nor by importing this
module, so :func:`token_id_rows` works without torch.
"""

import numbers
from collections.abc import Mapping

import numpy as np
from sklearn.utils.validation import check_is_fitted

# The encoder classes are loaded by __getattr__ below.
__all__ = ["ImageEncoder", "SeriesEncoder", "TokenBagEncoder", "token_id_rows"]  # noqa: F822

_TORCH_ENCODERS = ("ImageEncoder", "SeriesEncoder", "TokenBagEncoder")


def __getattr__(name):
    # The torch modules load on first use (PEP 562), keeping this import light.
    if name in _TORCH_ENCODERS:
        from ._contrastive.aligner import import_torch
        from ._torch import encoders

        import_torch()  # says how to install torch when it is missing
        return getattr(encoders, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


def token_id_rows(documents, vocabulary, *, analyzer=None, max_tokens=None):
    """Turn texts into rows of integer token ids, padded with 0.

    Each document is split into tokens by the analyzer; a token of the
    vocabulary with index ``j`` gets id ``j + 1`` (id 0 is padding), tokens
    outside the vocabulary are dropped, and the ids are written in order and
    padded with zeros to ``max_tokens`` columns (longer documents are cut).
    The rows are what :class:`TokenBagEncoder` reads, with
    ``vocabulary_size = len(vocabulary) + 1`` and ``pad_id=0``.

    Parameters
    ----------
    documents : iterable of str
        The texts, one per row.
    vocabulary : fitted CountVectorizer or TfidfVectorizer, or mapping
        A fitted scikit-learn vectorizer (its ``vocabulary_`` and its
        analyzer are used, n-grams included), or a mapping from token to a
        distinct index in ``[0, len(vocabulary))``.
    analyzer : callable, default=None
        Splits a document into tokens, when ``vocabulary`` is a mapping;
        ``None`` lower-cases and splits on whitespace. Ignored for a
        vectorizer, whose own analyzer is used.
    max_tokens : int, default=None
        Columns of the result; ``None`` uses the longest document (at least 1).

    Returns
    -------
    ids : ndarray of shape (n_documents, max_tokens), dtype int64
        Token ids, 1 to ``len(vocabulary)``, then zeros.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import CountVectorizer
    >>> from skcrossmodal.encoders import token_id_rows
    >>> texts = ["a round zero", "a thin one", "zero"]
    >>> vectorizer = CountVectorizer(token_pattern=r"\\w+").fit(texts)
    >>> sorted(vectorizer.vocabulary_.items())
    [('a', 0), ('one', 1), ('round', 2), ('thin', 3), ('zero', 4)]
    >>> token_id_rows(texts, vectorizer)
    array([[1, 3, 5],
           [1, 4, 2],
           [5, 0, 0]])
    >>> token_id_rows(["one unknown"], {"one": 0}, max_tokens=4)
    array([[1, 0, 0, 0]])
    """
    if isinstance(documents, str | bytes):
        raise TypeError(
            "documents must be an iterable of texts, one per row; got a single "
            "string. Wrap it in a list: [text]."
        )
    if isinstance(vocabulary, Mapping):
        mapping = vocabulary
        analyze = analyzer or (lambda text: text.lower().split())
    elif hasattr(vocabulary, "build_analyzer"):
        check_is_fitted(vocabulary, "vocabulary_")
        mapping, analyze = vocabulary.vocabulary_, vocabulary.build_analyzer()
    else:
        raise TypeError(
            "vocabulary must be a fitted CountVectorizer/TfidfVectorizer or a "
            f"mapping from token to index; got {type(vocabulary).__name__}."
        )
    indices = list(mapping.values())
    if sorted(indices) != list(range(len(indices))) or not all(
        isinstance(i, numbers.Integral) for i in indices
    ):
        raise ValueError(
            "The vocabulary's indices must be the distinct integers 0 to "
            f"len(vocabulary) - 1 = {len(indices) - 1}."
        )
    if max_tokens is not None and (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, numbers.Integral)
        or max_tokens < 1
    ):
        raise ValueError(f"max_tokens must be a positive integer; got {max_tokens!r}.")
    rows = [
        [mapping[token] + 1 for token in analyze(text) if token in mapping]
        for text in documents
    ]
    width = max_tokens or max(1, max((len(row) for row in rows), default=0))
    ids = np.zeros((len(rows), width), dtype=np.int64)
    for index, row in enumerate(rows):
        row = row[:width]
        ids[index, : len(row)] = row
    return ids
