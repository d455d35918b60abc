"""linear_cross_entropy: the same values and gradients as torch.nn.functional.linear_cross_entropy and as
cross_entropy on materialised logits, for every option; and a fraction of their memory."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from parity import assert_close

import lossbook
from lossbook.fused import materialised_cross_entropy, peak_memory

N, D, V = 11, 5, 7


def make(seed=0, dtype=np.float64, bias=False, n=N, d=D, v=V):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(dtype)
    W = rng.normal(size=(v, d)).astype(dtype)
    b = rng.normal(size=v).astype(dtype) if bias else None
    y = rng.integers(0, v, size=n)
    return x, W, b, y


def torch_reference(x, W, y, b=None, **kw):
    xt = torch.from_numpy(x.copy()).requires_grad_()
    Wt = torch.from_numpy(W.copy()).requires_grad_()
    bt = torch.from_numpy(b.copy()).requires_grad_() if b is not None else None
    kw = {k: (torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    out = F.linear_cross_entropy(xt, Wt, torch.from_numpy(np.asarray(y)), linear_bias=bt, **kw)
    out.backward(torch.ones_like(out))
    grads = (xt.grad.numpy(), Wt.grad.numpy()) + ((bt.grad.numpy(),) if bt is not None else ())
    return out.detach().numpy(), grads


CASES = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"label_smoothing": 0.2},
    {"weight": "w"},
    {"weight": "w", "label_smoothing": 0.1},
    {"ignore_index": 3},
    {"weight": "w", "ignore_index": 3, "label_smoothing": 0.3, "reduction": "mean"},
    {"weight": "w", "ignore_index": 3, "reduction": "none"},
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 4, 256])
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_matches_torch_in_value_and_gradients(case, chunk_size, bias):
    x, W, b, y = make(bias=bias)
    kw = dict(case)
    if kw.get("weight") == "w":
        kw["weight"] = np.random.default_rng(1).uniform(0.2, 2.0, V)
    if "ignore_index" in kw:
        y[::3] = kw["ignore_index"] = -100 if kw["ignore_index"] == 3 else kw["ignore_index"]
    t_val, t_grads = torch_reference(x, W, y, b, **kw)
    val = lossbook.linear_cross_entropy(x, W, y, linear_bias=b, chunk_size=chunk_size, **kw)
    grads = lossbook.linear_cross_entropy.grad(x, W, y, linear_bias=b, chunk_size=chunk_size, **kw)
    assert_close(val, t_val, 1e-10, 1e-12, what="value")
    assert len(grads) == len(t_grads)
    for k, (g, tg) in enumerate(zip(grads, t_grads, strict=True)):
        assert_close(g, tg, 1e-8, 1e-12, what=f"grad[{k}]")


def test_probability_targets_and_unbatched_input_match_torch():
    x, W, b, _ = make(bias=True)
    q = np.random.default_rng(2).dirichlet(np.ones(V), size=N)
    for kw in ({}, {"label_smoothing": 0.1}, {"reduction": "sum"}):
        t_val, t_grads = torch_reference(x, W, q, b, **kw)
        assert_close(lossbook.linear_cross_entropy(x, W, q, linear_bias=b, chunk_size=3, **kw), t_val, 1e-10, 1e-12)
        for g, tg in zip(lossbook.linear_cross_entropy.grad(x, W, q, linear_bias=b, chunk_size=3, **kw), t_grads, strict=True):
            assert_close(g, tg, 1e-8, 1e-12)
    t_val, t_grads = torch_reference(x[0], W, np.int64(2), b)
    assert_close(lossbook.linear_cross_entropy(x[0], W, np.int64(2), linear_bias=b), t_val, 1e-10, 1e-12)
    for g, tg in zip(lossbook.linear_cross_entropy.grad(x[0], W, np.int64(2), linear_bias=b), t_grads, strict=True):
        assert_close(g, tg, 1e-8, 1e-12)


def test_equals_cross_entropy_on_materialised_logits_in_float32():
    x, W, b, y = make(seed=3, dtype=np.float32, bias=True, n=64, d=16, v=50)
    logits = x @ W.T + b
    for reduction in ("mean", "sum", "none"):
        full = lossbook.cross_entropy(logits, y, reduction=reduction)
        fused = lossbook.linear_cross_entropy(x, W, y, linear_bias=b, reduction=reduction, chunk_size=10)
        assert fused.dtype == np.float32
        np.testing.assert_allclose(fused, full, rtol=1e-5)
    G = lossbook.cross_entropy.grad(logits, y)
    dx, dW, db = lossbook.linear_cross_entropy.grad(x, W, y, linear_bias=b, chunk_size=10)
    np.testing.assert_allclose(dx, G @ W, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(dW, G.T @ x, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(db, G.sum(axis=0), rtol=1e-4, atol=1e-7)


def test_every_target_ignored_gives_nan_loss_and_zero_gradient_like_torch():
    x, W, _, y = make()
    y[:] = -100
    t_val, t_grads = torch_reference(x, W, y)
    val = lossbook.linear_cross_entropy(x, W, y, chunk_size=4)
    assert np.isnan(val) and np.isnan(t_val)
    for g, tg in zip(lossbook.linear_cross_entropy.grad(x, W, y, chunk_size=4), t_grads, strict=True):
        assert_close(g, tg, 0, 0)


def test_bad_input_is_refused_with_a_clear_message():
    x, W, _, y = make()
    with pytest.raises(ValueError, match="linear_weight.*shape \\(V, d\\)"):
        lossbook.linear_cross_entropy(x, W[None], y)
    with pytest.raises(ValueError, match="d = 5"):
        lossbook.linear_cross_entropy(x[:, :3], W, y)
    with pytest.raises(ValueError, match="chunk_size"):
        lossbook.linear_cross_entropy(x, W, y, chunk_size=0)
    with pytest.raises(ValueError, match="11 rows"):
        lossbook.linear_cross_entropy(x, W, y[:5])
    with pytest.raises(TypeError, match="float"):
        lossbook.linear_cross_entropy(x.astype(np.int64), W, y)
    with pytest.raises(ValueError, match="linear_bias"):
        lossbook.linear_cross_entropy(x, W, y, linear_bias=np.zeros(3))


def test_peak_memory_is_at_most_a_tenth_of_materialising_the_logits():
    # the shape: N = 4096 tokens, d = 256, V = 32768 words, float32
    x, W, _, y = make(seed=4, dtype=np.float32, n=4096, d=256, v=32768)
    # Logits of a realistic size (standard deviation 1, not 16): the softmax then meets no float32 underflow,
    # whose subnormal arithmetic made this test take twice as long. Memory does not depend on the values.
    x /= np.float32(16)
    (loss_n, dx_n, dW_n), naive = peak_memory(materialised_cross_entropy, x, W, y)
    (loss_f, (dx_f, dW_f)), chunked = peak_memory(
        lambda: (lossbook.linear_cross_entropy(x, W, y), lossbook.linear_cross_entropy.grad(x, W, y)))
    assert naive >= 4096 * 32768 * 4                  # the baseline really holds the (N, V) float32 logits
    assert chunked <= 0.10 * naive, f"fused peak {chunked / 2**20:.0f} MiB vs {naive / 2**20:.0f} MiB"
    np.testing.assert_allclose(loss_f, loss_n, rtol=1e-5)
    np.testing.assert_allclose(dW_f, dW_n, rtol=1e-3, atol=1e-8)


def test_peak_memory_counts_only_what_the_call_allocates():
    big = np.ones(10**6)
    _, peak = peak_memory(lambda: big.sum())
    assert peak < 10**5

    def two_arrays():
        a, b = np.ones(10**6), np.ones(10**6)        # two 8 MB arrays alive at once
        return float(a @ b)

    _, peak = peak_memory(two_arrays)
    assert 1.5e7 <= peak <= 2.5e7
