"""Cross-entropy at large vocabularies and in low precision: the memory arithmetic of large vocabularies, a vocabulary-chunked (online)
log-sum-exp, the stabilisers of large models (z-loss, logit soft-capping), and a PyTorch chunked reference.

These are the helpers of the chapters "Cross-entropy at large vocabularies" and "Cross-entropy in low
precision" (Part V). The token-chunked fused loss itself is
:func:`~lossbook.fused.linear_cross_entropy` (in :mod:`lossbook.fused`). Everything here is NumPy, except
:func:`torch_chunked_cross_entropy` and :func:`saved_tensor_bytes`, which import PyTorch when called.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "logits_bytes",
    "online_logsumexp",
    "vocab_chunked_cross_entropy",
    "z_loss",
    "z_loss_grad",
    "soft_cap",
    "torch_chunked_cross_entropy",
    "saved_tensor_bytes",
]


def logits_bytes(tokens, vocab, bytes_per_value=4):
    """Bytes taken by a ``(tokens, vocab)`` logits matrix: ``tokens × vocab × bytes_per_value``
    (4 for float32, 2 for float16 and bfloat16). Works element-wise on arrays."""
    return np.asarray(tokens, dtype=np.float64) * np.asarray(vocab, dtype=np.float64) * bytes_per_value


def _check_chunk(vocab_chunk):
    if int(vocab_chunk) != vocab_chunk or vocab_chunk < 1:
        raise ValueError(f"`vocab_chunk` must be a positive integer, but it is {vocab_chunk!r}.")
    return int(vocab_chunk)


def online_logsumexp(input, linear_weight, *, linear_bias=None, vocab_chunk=1024):
    r"""Row-wise :math:`\log \sum_v \exp(z_{nv})` of the logits ``z = input @ linear_weight.T (+ linear_bias)``,
    computed one block of ``vocab_chunk`` classes at a time with a running maximum ``m`` and a running sum ``s``:

    .. math::
        m' = \max(m, \max_{v \in B} z_v), \qquad s' = s\, e^{m - m'} + \sum_{v \in B} e^{z_v - m'},
        \qquad \mathrm{LSE} = m + \log s.

    Only an ``(N, vocab_chunk)`` block of logits exists at a time, so memory does not grow with the
    vocabulary (the idea behind online softmax, Milakov & Gimelshein 2018, and Cut Cross-Entropy).

    Args:
        input: ``(N, d)`` hidden states. linear_weight: ``(V, d)``. linear_bias: optional ``(V,)``.
        vocab_chunk: classes per block.
    Returns:
        ``(N,)`` array, equal to ``scipy.special.logsumexp(z, axis=1)``.
    """
    x, W = np.asarray(input), np.asarray(linear_weight)
    if W.ndim != 2 or x.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"online_logsumexp: `input` must be (N, d) and `linear_weight` (V, d) with the same d, "
                         f"but they have shapes {x.shape} and {W.shape}.")
    size = _check_chunk(vocab_chunk)
    dt = np.result_type(x, W)
    m = np.full(x.shape[0], -np.inf, dtype=dt)
    s = np.zeros(x.shape[0], dtype=dt)
    for start in range(0, W.shape[0], size):
        z = x @ W[start:start + size].T
        if linear_bias is not None:
            z += np.asarray(linear_bias)[start:start + size]
        m_new = np.maximum(m, z.max(axis=1))
        with np.errstate(invalid="ignore"):  # exp(-inf - -inf) on the first block: s is 0 there anyway
            rescale = np.where(np.isfinite(m), np.exp(m - m_new), 0.0)
        s = s * rescale + np.exp(z - m_new[:, None]).sum(axis=1)
        m = m_new
    return m + np.log(s)


def vocab_chunked_cross_entropy(input, linear_weight, target, *, linear_bias=None, vocab_chunk=1024):
    r"""Mean cross-entropy of ``z = input @ linear_weight.T (+ b)`` against class indices ``target``, computed
    without the ``(N, V)`` logits: :math:`\ell_n = \mathrm{LSE}(z_n) - z_{n, y_n}`, where the log-sum-exp is
    :func:`online_logsumexp` (blocks over the vocabulary) and the target's logit is one dot product per row,
    :math:`z_{n,y_n} = x_n \cdot W_{y_n} + b_{y_n}`. Equals ``cross_entropy(z, target)`` (no weights,
    no smoothing, no ignored targets: this is the teaching version of the idea)."""
    x, W = np.asarray(input), np.asarray(linear_weight)
    target = np.asarray(target)
    if target.shape != (x.shape[0],) or not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"vocab_chunked_cross_entropy: `target` must be integer class indices of shape "
                         f"({x.shape[0]},), but it has dtype {target.dtype} and shape {target.shape}.")
    if target.size and (target.min() < 0 or target.max() >= W.shape[0]):
        raise ValueError(f"vocab_chunked_cross_entropy: `target` must lie in [0, {W.shape[0] - 1}], but it "
                         f"ranges over [{target.min()}, {target.max()}].")
    lse = online_logsumexp(x, W, linear_bias=linear_bias, vocab_chunk=vocab_chunk)
    z_target = np.einsum("nd,nd->n", x, W[target])
    if linear_bias is not None:
        z_target = z_target + np.asarray(linear_bias)[target]
    return np.mean(lse - z_target)


def z_loss(logits, coefficient=1e-4):
    r"""The auxiliary z-loss of PaLM (Chowdhery et al. 2023): :math:`c \cdot \operatorname{mean}_n
    \log^2 Z_n` with :math:`\log Z_n = \mathrm{LSE}(z_n)`, which pulls the softmax normaliser towards 1
    (log Z towards 0) so the logits cannot drift to large values. PaLM uses :math:`c = 10^{-4}`.

    ``logits``: ``(N, C)``. Returns a scalar. Its gradient is ``z_loss_grad``."""
    z = np.asarray(logits)
    m = z.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]
    return coefficient * np.mean(lse ** 2)


def z_loss_grad(logits, coefficient=1e-4):
    r"""Gradient of :func:`z_loss` with respect to the logits: :math:`\frac{2c}{N} \log Z_n \, \mathrm{softmax}(z_n)`."""
    z = np.asarray(logits)
    m = z.max(axis=-1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=-1, keepdims=True)
    lse = m + np.log(s)
    n = z.shape[0] if z.ndim > 1 else 1
    return 2 * coefficient / n * lse * e / s


def soft_cap(logits, cap):
    r"""Logit soft-capping as in Gemma 2: :math:`\mathrm{cap} \cdot \tanh(z / \mathrm{cap})`. Close to the
    identity for :math:`|z| \ll \mathrm{cap}`, and never beyond :math:`\pm\mathrm{cap}` (Gemma 2 uses 30 for
    the final logits, 50 inside attention). Its derivative is :math:`1 - \tanh^2(z / \mathrm{cap})`."""
    if not cap > 0:
        raise ValueError(f"soft_cap: `cap` must be positive, but it is {cap!r}.")
    return cap * np.tanh(np.asarray(logits) / cap)


def torch_chunked_cross_entropy(input, linear_weight, target, chunks=8, checkpointing=True):
    """PyTorch reference: the mean cross-entropy of ``input @ linear_weight.T`` computed over ``chunks`` blocks
    of tokens. With ``checkpointing=True`` each block runs under ``torch.utils.checkpoint``, so autograd keeps
    only the block's inputs and recomputes its logits in the backward pass; without it, each block's logits are
    saved and the memory is that of the naive loss. ``target``: int64 class indices (no ignored entries)."""
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    def block(x, y):
        return F.cross_entropy(x @ linear_weight.T, y, reduction="sum")

    total = input.new_zeros(())
    for xs, ys in zip(input.chunk(chunks), target.chunk(chunks), strict=False):
        total = total + (checkpoint(block, xs, ys, use_reentrant=False) if checkpointing else block(xs, ys))
    return total / target.numel()


def saved_tensor_bytes(fn, *args, **kwargs):
    """Run the PyTorch function ``fn(*args, **kwargs)`` and return ``(result, bytes)``, the memory of the tensors
    autograd saved for the backward pass meanwhile (through ``torch.autograd.graph.saved_tensors_hooks``). Each
    storage is counted once, however many backward nodes save it or a view of it: ``F.cross_entropy`` saves one
    log-softmax matrix for both ``LogSoftmaxBackward`` and ``NllLossBackward``, which is one matrix in memory. A
    deterministic, device-independent measure of the activation memory a loss keeps alive until ``backward()``.
    Custom autograd functions that keep tensors on ``ctx`` attributes instead of ``save_for_backward`` are
    invisible to it."""
    import torch

    seen = {}

    def pack(t):
        storage = t.untyped_storage()
        seen[(t.device.type, storage.data_ptr())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn(*args, **kwargs)
    return result, sum(seen.values())
