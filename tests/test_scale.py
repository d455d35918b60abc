"""lossbook.book.scale: the online log-sum-exp and the vocabulary-chunked cross-entropy equal the materialised ones
(checked against torch), the z-loss and soft-capping have the right values and gradients (torch autograd),
and the PyTorch chunked reference agrees with F.cross_entropy and saves less for the backward pass."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from parity import assert_close

import lossbook
import lossbook.book.scale as sc


def make(n=13, d=6, v=37, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(n, d)), rng.normal(size=(v, d)), rng.normal(size=v), rng.integers(0, v, n))


@pytest.mark.parametrize("vocab_chunk", [1, 5, 37, 100])
@pytest.mark.parametrize("bias", [False, True])
def test_online_logsumexp_matches_torch(vocab_chunk, bias):
    x, W, b, _ = make()
    b = b if bias else None
    z = torch.from_numpy(x) @ torch.from_numpy(W).T + (torch.from_numpy(b) if bias else 0)
    assert_close(sc.online_logsumexp(x, W, linear_bias=b, vocab_chunk=vocab_chunk),
                 torch.logsumexp(z, dim=1).numpy(), 1e-12, 1e-12)


def test_online_logsumexp_survives_logits_that_overflow_exp():
    x, W, _, _ = make(scale=300.0)  # logits in the thousands: exp overflows without the running maximum
    z = torch.from_numpy(x) @ torch.from_numpy(W).T
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(z.numpy())).any()
    out = sc.online_logsumexp(x, W, vocab_chunk=4)
    assert np.isfinite(out).all()
    assert_close(out, torch.logsumexp(z, dim=1).numpy(), 1e-12, 1e-9)


@pytest.mark.parametrize("vocab_chunk", [3, 16, 1000])
def test_vocab_chunked_cross_entropy_matches_torch_and_lossbook(vocab_chunk):
    x, W, b, y = make(seed=3)
    want = F.cross_entropy(torch.from_numpy(x) @ torch.from_numpy(W).T + torch.from_numpy(b), torch.from_numpy(y))
    got = sc.vocab_chunked_cross_entropy(x, W, y, linear_bias=b, vocab_chunk=vocab_chunk)
    assert_close(got, want.numpy(), 1e-12, 1e-12)
    assert_close(got, lossbook.cross_entropy(x @ W.T + b, y), 1e-12, 1e-12)


def test_bad_arguments_name_the_argument():
    x, W, _, y = make()
    with pytest.raises(ValueError, match="vocab_chunk"):
        sc.online_logsumexp(x, W, vocab_chunk=0)
    with pytest.raises(ValueError, match="target"):
        sc.vocab_chunked_cross_entropy(x, W, y.astype(float))
    with pytest.raises(ValueError, match="target"):
        sc.vocab_chunked_cross_entropy(x, W, y + 100)
    with pytest.raises(ValueError, match="shapes"):
        sc.online_logsumexp(x, W.T)
    with pytest.raises(ValueError, match="cap"):
        sc.soft_cap(x, 0.0)


def test_z_loss_value_and_gradient_match_torch():
    rng = np.random.default_rng(4)
    z = 5 * rng.normal(size=(9, 11))
    zt = torch.from_numpy(z).requires_grad_()
    ref = 1e-3 * (torch.logsumexp(zt, dim=1) ** 2).mean()
    ref.backward()
    assert_close(sc.z_loss(z, 1e-3), ref.detach().numpy(), 1e-12, 1e-15)
    assert_close(sc.z_loss_grad(z, 1e-3), zt.grad.numpy(), 1e-10, 1e-15)


def test_z_loss_is_zero_when_the_normaliser_is_one():
    z = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))  # log-probabilities: Z = 1, log Z = 0
    assert sc.z_loss(z) < 1e-30
    assert sc.z_loss(z + 3.0) > 1e-4 * 8.9  # shifting the logits by 3 gives (log Z)^2 = 9


def test_soft_cap_matches_gemma_formula_and_bounds():
    z = np.linspace(-200, 200, 401)
    capped = sc.soft_cap(z, 30.0)
    assert_close(capped, (30.0 * torch.tanh(torch.from_numpy(z) / 30.0)).numpy(), 1e-14, 1e-14)
    assert np.abs(capped).max() < 30.0
    small = np.linspace(-1, 1, 21)
    assert np.abs(sc.soft_cap(small, 30.0) - small).max() < 1e-3  # almost the identity near 0


def test_logits_bytes():
    assert sc.logits_bytes(8192, 256000) == 8192 * 256000 * 4
    assert sc.logits_bytes(2, 3, bytes_per_value=2) == 12
    assert np.array_equal(sc.logits_bytes(np.array([1, 2]), 10), np.array([40.0, 80.0]))


@pytest.mark.parametrize("checkpointing", [False, True])
def test_torch_chunked_cross_entropy_matches_and_checkpointing_saves_less(checkpointing):
    torch.manual_seed(0)
    x = torch.randn(64, 8, dtype=torch.float64, requires_grad=True)
    W = torch.randn(500, 8, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 500, (64,))
    ref, naive_saved = sc.saved_tensor_bytes(lambda: F.cross_entropy(x @ W.T, y))
    gx, gW = torch.autograd.grad(ref, (x, W))
    out, saved = sc.saved_tensor_bytes(sc.torch_chunked_cross_entropy, x, W, y, chunks=4,
                                       checkpointing=checkpointing)
    cx, cW = torch.autograd.grad(out, (x, W))
    assert_close(out.detach().numpy(), ref.detach().numpy(), 1e-12, 1e-12)
    assert_close(cx.numpy(), gx.numpy(), 1e-10, 1e-14)
    assert_close(cW.numpy(), gW.numpy(), 1e-10, 1e-14)
    assert naive_saved >= 64 * 500 * 8  # at least the float64 logits
    if checkpointing:
        assert saved < naive_saved / 10
    else:
        assert saved >= naive_saved


def test_saved_tensor_bytes_counts_a_shared_storage_once():
    """F.cross_entropy saves ONE (N, V) log-softmax for both LogSoftmaxBackward and NllLossBackward (issue 18):
    it must be counted once; blocking without checkpointing keeps the same storages, not more."""
    torch.manual_seed(0)
    x = torch.randn(64, 8, dtype=torch.float64, requires_grad=True)
    W = torch.randn(500, 8, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 500, (64,))
    _, naive = sc.saved_tensor_bytes(lambda: F.cross_entropy(x @ W.T, y))
    matrix, inputs = 64 * 500 * 8, (64 * 8 + 500 * 8) * 8
    assert matrix + inputs <= naive < matrix + inputs + 1024        # plus the targets and a scalar or two
    _, blocked = sc.saved_tensor_bytes(sc.torch_chunked_cross_entropy, x, W, y, chunks=4, checkpointing=False)
    assert matrix + inputs <= blocked < matrix + inputs + 1024
    z = torch.randn(3, 4, requires_grad=True)
    _, once = sc.saved_tensor_bytes(lambda: (z.exp() * z.exp()).sum())  # two saves of distinct results
    _, same = sc.saved_tensor_bytes(lambda: (z * z).sum())               # the same tensor saved twice
    assert once == 2 * 12 * 4 and same == 12 * 4
