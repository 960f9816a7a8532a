"""Built-in per-view encoders of :class:`ContrastiveAligner` for raw modalities.

Each encoder is a plain ``torch.nn.Module`` that follows the aligner's encoder
contract: it is constructed with ``in_features`` (the width of the view's 2-D
rows) and ``out_features`` (the shared space's dimension), maps a tensor of
shape ``(n, in_features)`` to ``(n, out_features)``, and declares with the
class attribute ``integer_input`` whether its rows are integer ids (kept as
integers) or numbers (cast to float and standardised per column). Rows stay
2-D so that the aligner, pipelines and searches see ordinary arrays; each
encoder reshapes its rows itself.

Public through :mod:`skcrossmodal.encoders`. This module imports torch at
import time.
"""

import math
import numbers

from torch import nn

__all__ = ["ImageEncoder", "SeriesEncoder", "TokenBagEncoder"]


def _positive_ints(value, name, length=None):
    """``value`` as a tuple of positive ints (of ``length`` items when given)."""
    items = (value,) if isinstance(value, numbers.Integral) else tuple(value)
    if not items or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
        for v in items
    ):
        raise ValueError(f"{name} must hold positive integers; got {value!r}.")
    if length is not None and len(items) != length:
        raise ValueError(f"{name} must have {length} entries; got {value!r}.")
    return tuple(int(v) for v in items)


def _check_flat_width(in_features, input_shape, name):
    expected = math.prod(input_shape)
    if in_features != expected:
        raise ValueError(
            f"{name} rows of input_shape={input_shape} hold {expected} values, "
            f"but the view has {in_features} columns. Pass the input_shape whose "
            "product is the number of columns (rows are reshaped in C order)."
        )


def _head(width, hidden, out_features):
    """Linear read-out to ``out_features``, through one ReLU layer unless None."""
    if hidden is None:
        return nn.Linear(width, out_features)
    (hidden,) = _positive_ints(hidden, "hidden", 1)
    return nn.Sequential(
        nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, out_features)
    )


class ImageEncoder(nn.Module):
    """Small CNN for images flattened to rows: (conv -> ReLU -> max-pool) x k -> MLP.

    Each row of shape ``(C * H * W,)`` is reshaped (C order) to an image of
    ``input_shape=(C, H, W)``; every entry of ``channels`` adds a
    ``kernel_size`` convolution with "same" zero padding, a ReLU and a 2 x 2
    max-pool (rounding up, so odd sizes work); the feature map is flattened
    and read out by ``Linear -> ReLU -> Linear`` (``hidden`` units; a single
    ``Linear`` when ``hidden=None``). With the defaults that is the
    Conv2d -> pool -> Conv2d -> pool -> Linear encoder of the classic
    image-text alignment example.

    Parameters
    ----------
    in_features : int
        Columns of the view, ``C * H * W`` (passed by the aligner).
    out_features : int
        Output width (passed by the aligner: ``n_components``).
    input_shape : tuple of int
        ``(C, H, W)`` (or ``(H, W)`` for one channel).
    channels : tuple of int, default=(16, 32)
        Output channels of each convolution.
    kernel_size : int, default=3
        Odd side of the square kernels.
    hidden : int or None, default=128
        Width of the hidden layer of the read-out.

    Notes
    -----
    Shapes: input ``(n, C*H*W)`` float -> ``(n, C, H, W)`` -> after ``k``
    blocks ``(n, channels[-1], ceil(H / 2**k), ceil(W / 2**k))`` -> output
    ``(n, out_features)``.

    Examples
    --------
    >>> import torch
    >>> from skcrossmodal.encoders import ImageEncoder
    >>> encoder = ImageEncoder(64, 10, input_shape=(1, 8, 8))
    >>> encoder(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    """

    integer_input = False

    def __init__(
        self,
        in_features,
        out_features,
        *,
        input_shape,
        channels=(16, 32),
        kernel_size=3,
        hidden=128,
    ):
        super().__init__()
        shape = _positive_ints(input_shape, "input_shape")
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3:
            raise ValueError(
                f"input_shape must be (C, H, W) or (H, W); got {input_shape!r}."
            )
        _check_flat_width(in_features, shape, "ImageEncoder")
        # The aligner standardises each channel as a whole (not each pixel).
        self.input_channels = shape[0]
        (kernel_size,) = _positive_ints(kernel_size, "kernel_size", 1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd; got {kernel_size}.")
        self.input_shape = shape
        layers = []
        depth, height, width = shape
        for size in _positive_ints(channels, "channels"):
            layers += [
                nn.Conv2d(depth, size, kernel_size, padding=kernel_size // 2),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            depth, height, width = size, -(-height // 2), -(-width // 2)
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = _head(depth * height * width, hidden, out_features)

    def forward(self, x):
        return self.head(self.features(x.reshape(x.shape[0], *self.input_shape)))


class SeriesEncoder(nn.Module):
    """1-D CNN for multichannel time series flattened to rows, with global pooling.

    Each row of shape ``(channels * length,)`` is reshaped (C order) to
    ``input_shape=(channels, length)``; every entry of ``channels`` adds a
    ``kernel_size`` convolution over time with "same" padding and a ReLU, with
    no downsampling; a global max (or mean) over time then gives one value per
    channel, read out by ``Linear -> ReLU -> Linear`` (``hidden`` units; a
    single ``Linear`` when ``hidden=None``).

    Convolutions commute with shifts in time and the global pooling forgets
    where a value came from, so the output does not depend on where in the
    window an event occurs: exactly for circular shifts with
    ``padding_mode="circular"``, and for any shift that keeps the event's
    receptive field inside the window with zero padding.

    Parameters
    ----------
    in_features : int
        Columns of the view, ``channels * length`` (passed by the aligner).
    out_features : int
        Output width (passed by the aligner: ``n_components``).
    input_shape : tuple of int
        ``(channels, length)``: rows hold channel 0's samples first.
    channels : tuple of int, default=(32, 32)
        Output channels of each convolution.
    kernel_size : int, default=5
        Odd length of the kernels.
    padding_mode : {"zeros", "circular"}, default="zeros"
        How the convolutions pad the window's ends: ``"circular"`` for
        periodic windows.
    pooling : {"max", "mean"}, default="max"
        Global pooling over time.
    hidden : int or None, default=128
        Width of the hidden layer of the read-out.

    Notes
    -----
    Shapes: input ``(n, channels*length)`` float -> ``(n, channels, length)``
    -> ``(n, channels[-1], length)`` -> pooled ``(n, channels[-1])`` -> output
    ``(n, out_features)``.

    Examples
    --------
    >>> import torch
    >>> from skcrossmodal.encoders import SeriesEncoder
    >>> encoder = SeriesEncoder(3 * 50, 8, input_shape=(3, 50))
    >>> encoder(torch.zeros(4, 150)).shape
    torch.Size([4, 8])
    """

    integer_input = False

    def __init__(
        self,
        in_features,
        out_features,
        *,
        input_shape,
        channels=(32, 32),
        kernel_size=5,
        padding_mode="zeros",
        pooling="max",
        hidden=128,
    ):
        super().__init__()
        shape = _positive_ints(input_shape, "input_shape", 2)
        _check_flat_width(in_features, shape, "SeriesEncoder")
        # The aligner standardises each channel as a whole (not each sample).
        self.input_channels = shape[0]
        (kernel_size,) = _positive_ints(kernel_size, "kernel_size", 1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd; got {kernel_size}.")
        if padding_mode not in ("zeros", "circular"):
            raise ValueError(
                f"padding_mode must be 'zeros' or 'circular'; got {padding_mode!r}."
            )
        if pooling not in ("max", "mean"):
            raise ValueError(f"pooling must be 'max' or 'mean'; got {pooling!r}.")
        self.input_shape = shape
        self.pooling = pooling
        layers = []
        depth = shape[0]
        for size in _positive_ints(channels, "channels"):
            layers += [
                nn.Conv1d(
                    depth,
                    size,
                    kernel_size,
                    padding=kernel_size // 2,
                    padding_mode=padding_mode,
                ),
                nn.ReLU(),
            ]
            depth = size
        self.features = nn.Sequential(*layers)
        self.head = _head(depth, hidden, out_features)

    def forward(self, x):
        maps = self.features(x.reshape(x.shape[0], *self.input_shape))
        pooled = maps.amax(dim=2) if self.pooling == "max" else maps.mean(dim=2)
        return self.head(pooled)


class TokenBagEncoder(nn.Module):
    """Bag of token embeddings for rows of integer token ids padded with ``pad_id``.

    Each row holds the ids of one text's tokens, padded at the end (or
    anywhere) with ``pad_id``; an embedding bag averages (or sums, or takes
    the maximum of) the embeddings of the row's non-padding tokens, read out
    by ``Linear -> ReLU -> Linear`` (``hidden`` units; a single ``Linear``
    when ``hidden=None``). A row of padding only embeds to zeros before the
    read-out. :func:`skcrossmodal.encoders.token_id_rows` makes such rows
    from a fitted ``CountVectorizer``.

    Its rows are integers: ``integer_input = True`` tells the aligner to keep
    them as int64 (no float cast, no standardisation) and to refuse float
    rows; ids outside ``[0, vocabulary_size)`` are refused.

    Parameters
    ----------
    in_features : int
        Columns of the view: the most tokens per row (passed by the aligner).
    out_features : int
        Output width (passed by the aligner: ``n_components``).
    vocabulary_size : int
        Number of distinct ids, padding included (ids are ``0`` to
        ``vocabulary_size - 1``).
    embedding_dim : int, default=64
        Width of each token's embedding.
    pad_id : int, default=0
        Id that marks padding: its embedding is zero and it is left out of
        the mean.
    mode : {"mean", "sum", "max"}, default="mean"
        How a row's embeddings are combined.
    hidden : int or None, default=128
        Width of the hidden layer of the read-out.

    Notes
    -----
    Shapes: input ``(n, max_tokens)`` int64 -> bag ``(n, embedding_dim)`` ->
    output ``(n, out_features)``.

    Examples
    --------
    >>> import torch
    >>> from skcrossmodal.encoders import TokenBagEncoder
    >>> encoder = TokenBagEncoder(4, 8, vocabulary_size=20)
    >>> ids = torch.tensor([[3, 7, 0, 0], [5, 1, 2, 9]])
    >>> encoder(ids).shape
    torch.Size([2, 8])
    """

    integer_input = True

    def __init__(
        self,
        in_features,
        out_features,
        *,
        vocabulary_size,
        embedding_dim=64,
        pad_id=0,
        mode="mean",
        hidden=128,
    ):
        super().__init__()
        (vocabulary_size,) = _positive_ints(vocabulary_size, "vocabulary_size", 1)
        (embedding_dim,) = _positive_ints(embedding_dim, "embedding_dim", 1)
        if not (isinstance(pad_id, numbers.Integral) and 0 <= pad_id < vocabulary_size):
            raise ValueError(
                f"pad_id must be an id in [0, vocabulary_size={vocabulary_size}); "
                f"got {pad_id!r}."
            )
        if mode not in ("mean", "sum", "max"):
            raise ValueError(f"mode must be 'mean', 'sum' or 'max'; got {mode!r}.")
        self.vocabulary_size = vocabulary_size
        self.bag = nn.EmbeddingBag(
            vocabulary_size, embedding_dim, mode=mode, padding_idx=int(pad_id)
        )
        self.head = _head(embedding_dim, hidden, out_features)

    def forward(self, x):
        return self.head(self.bag(x))
