"""The SigLIP pairwise sigmoid loss against hand computations and autograd."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_examples import examples

torch = pytest.importorskip("torch")
losses = pytest.importorskip("skcrossmodal._torch.losses")


def _normalised(rng, n, d):
    z = rng.normal(size=(n, d))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _hand_loss(z_x, z_y, t, b, w):
    """The SigLIP objective written out pair by pair in plain Python."""
    n = len(z_x)
    total = 0.0
    for i in range(n):
        for j in range(n):
            label = 1.0 if i == j else -1.0
            logit = math.exp(t) * float(np.dot(z_x[i], z_y[j])) + b
            total += 0.5 * (w[i] + w[j]) * math.log1p(math.exp(-label * logit))
    return total / n


def _call(z_x, z_y, t, b, w=None, **options):
    as_tensor = torch.as_tensor
    return losses.sigmoid_pairwise_loss(
        as_tensor(z_x),
        as_tensor(z_y),
        torch.tensor(t, dtype=torch.float64),
        torch.tensor(b, dtype=torch.float64),
        None if w is None else as_tensor(w),
        **options,
    )


def test_matches_a_hand_computation_with_weights():
    """Weighted loss of 5 pairs equals the pair-by-pair sum."""
    rng = np.random.default_rng(0)
    z_x, z_y = _normalised(rng, 5, 3), _normalised(rng, 5, 3)
    w = rng.uniform(0.2, 3.0, size=5)
    got = _call(z_x, z_y, 1.3, -2.0, w)
    assert float(got) == pytest.approx(_hand_loss(z_x, z_y, 1.3, -2.0, w), rel=1e-12)


def test_unit_weights_are_siglips_loss():
    """Without weights: -(1/n) sum of log sigmoid(label * logit) over all pairs."""
    rng = np.random.default_rng(1)
    z_x, z_y = _normalised(rng, 4, 6), _normalised(rng, 4, 6)
    t, b = losses.SIGLIP_INIT_LOG_SCALE, losses.SIGLIP_INIT_BIAS
    logits = 10.0 * z_x @ z_y.T - 10.0
    labels = 2 * np.eye(4) - 1
    expected = -np.sum(np.log(1 / (1 + np.exp(-labels * logits)))) / 4
    assert float(_call(z_x, z_y, t, b)) == pytest.approx(expected, rel=1e-12)
    assert float(_call(z_x, z_y, t, b, np.ones(4))) == pytest.approx(
        expected, rel=1e-12
    )


def test_orthonormal_pairs_closed_form():
    """Partners identical and orthogonal to the rest: a two-term closed form."""
    n, t, b = 4, 2.0, -3.0
    z = np.eye(n)
    expected = math.log1p(math.exp(-(math.exp(t) + b))) + (n - 1) * math.log1p(
        math.exp(b)
    )
    assert float(_call(z, z, t, b)) == pytest.approx(expected, rel=1e-12)


def test_weights_are_per_pair_row_and_column_averages():
    """Loss = mean_i w_i * (pair i's row loss + column loss) / 2."""
    rng = np.random.default_rng(2)
    z_x, z_y = _normalised(rng, 6, 3), _normalised(rng, 6, 3)
    w = rng.uniform(0.1, 2.0, size=6)
    logits = math.exp(0.7) * z_x @ z_y.T + 0.4
    per_entry = np.log1p(np.exp(-(2 * np.eye(6) - 1) * logits))
    per_pair = 0.5 * (per_entry.sum(axis=1) + per_entry.sum(axis=0))
    got = float(_call(z_x, z_y, 0.7, 0.4, w))
    assert got == pytest.approx(np.mean(w * per_pair), rel=1e-12)


@settings(max_examples=examples(25), deadline=None)
@given(
    n=st.integers(2, 9),
    chunk=st.integers(1, 10),
    seed=st.integers(0, 2**16),
    weighted=st.booleans(),
)
def test_chunked_equals_whole_in_value_and_gradient(n, chunk, seed, weighted):
    """Any chunk size gives the same loss and the same gradients."""
    rng = np.random.default_rng(seed)
    inputs = [
        torch.tensor(_normalised(rng, n, 3), requires_grad=True),
        torch.tensor(_normalised(rng, n, 3), requires_grad=True),
        torch.tensor(rng.normal(), dtype=torch.float64, requires_grad=True),
        torch.tensor(rng.normal(), dtype=torch.float64, requires_grad=True),
    ]
    weight = torch.tensor(rng.uniform(0.1, 2.0, size=n)) if weighted else None
    results = []
    for chunk_size in (None, chunk):
        loss = losses.sigmoid_pairwise_loss(*inputs, weight, chunk_size=chunk_size)
        results.append((loss.detach(), torch.autograd.grad(loss, inputs)))
    (whole, whole_grads), (chunked, chunked_grads) = results
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)
    for got, expected in zip(chunked_grads, whole_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("chunk_size", [None, 2])
def test_gradcheck_in_float64(chunk_size):
    """Analytic gradients of embeddings, scale, bias and weights match finite ones."""
    rng = np.random.default_rng(3)
    z_x = torch.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    z_y = torch.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-1.5, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(rng.uniform(0.5, 2.0, size=5), requires_grad=True)

    def loss(z_x, z_y, t, b, w):
        return losses.sigmoid_pairwise_loss(z_x, z_y, t, b, w, chunk_size=chunk_size)

    assert torch.autograd.gradcheck(loss, (z_x, z_y, t, b, w))


def test_low_precision_embeddings_give_a_float32_loss():
    """bf16 embeddings (autocast) are scored in float32."""
    z = torch.nn.functional.normalize(torch.randn(4, 3), dim=1)
    t, b = torch.tensor(2.0), torch.tensor(-1.0)
    low = losses.sigmoid_pairwise_loss(z.bfloat16(), z.bfloat16(), t, b)
    assert low.dtype == torch.float32
    full = losses.sigmoid_pairwise_loss(z, z, t, b)
    assert float(low) == pytest.approx(float(full), rel=2e-2)


def test_mismatched_pair_counts_raise():
    """z_x and z_y with different row counts are a clear error."""
    with pytest.raises(ValueError, match="same pairs; got 3 and 4 rows"):
        _call(np.ones((3, 2)), np.ones((4, 2)), 0.0, 0.0)
