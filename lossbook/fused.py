"""Losses fused with the layer before them, for outputs too large to materialise (large vocabularies).

A language model's last step maps N hidden states of width d to V logits, ``input @ linear_weight.T``, and takes
the cross-entropy. At N = 32k tokens and V = 128k words the float32 logits alone take 16 GiB, and the softmax and
its gradient as much again. :func:`linear_cross_entropy` computes the same loss and gradients one block of tokens
at a time, so no more than ``chunk_size`` rows of logits exist at once.
"""
from __future__ import annotations

import tracemalloc

import numpy as np

from ._registry import register
from ._validation import check_reduction
from .softmax import cross_entropy

__all__ = ["linear_cross_entropy", "peak_memory", "materialised_cross_entropy"]

DEFAULT_CHUNK_SIZE = 128


def _prepare(input, linear_weight, target, linear_bias, weight, reduction, chunk_size):
    check_reduction(reduction)
    input = np.asarray(input)
    linear_weight = np.asarray(linear_weight)
    for name, a in (("input", input), ("linear_weight", linear_weight)):
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError(f"linear_cross_entropy: `{name}` must be a float array, but its dtype is {a.dtype}. "
                            "Pass the hidden states and the output layer's weight as floats.")
    if linear_weight.ndim != 2:
        raise ValueError(f"linear_cross_entropy: `linear_weight` must have shape (V, d) like nn.Linear(d, V).weight, "
                         f"but it has shape {linear_weight.shape}.")
    V, d = linear_weight.shape
    if input.ndim not in (1, 2) or input.shape[-1] != d:
        raise ValueError(f"linear_cross_entropy: `input` must have shape (N, d) or (d,) with d = {d} (the width of "
                         f"`linear_weight`), but it has shape {input.shape}.")
    dtypes = [input.dtype, linear_weight.dtype]
    if linear_bias is not None:
        linear_bias = np.asarray(linear_bias)
        if linear_bias.shape != (V,):
            raise ValueError(f"linear_cross_entropy: `linear_bias` must have shape ({V},), one per class, but it has "
                             f"shape {linear_bias.shape}.")
        dtypes.append(linear_bias.dtype)
    if weight is not None:
        weight = np.asarray(weight)
        if np.issubdtype(weight.dtype, np.floating):
            dtypes.append(weight.dtype)
    dt = np.result_type(*dtypes)
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"linear_cross_entropy: `chunk_size` must be a positive integer, but it is {chunk_size!r}.")
    target = np.asarray(target)
    return input.astype(dt, copy=False), linear_weight.astype(dt, copy=False), target, \
        None if linear_bias is None else linear_bias.astype(dt, copy=False), weight, dt, int(chunk_size)


def _chunks(n, size):
    return [(s, min(s + size, n)) for s in range(0, n, size)] or [(0, 0)]


def _mean_denominator(target, weight, ignore_index, n_rows, dt):
    """What PyTorch's 'mean' divides by: the weights of the non-ignored index targets, or the number of rows."""
    if np.issubdtype(target.dtype, np.floating):
        return dt.type(n_rows)
    keep = target != ignore_index
    if weight is None:
        return dt.type(np.count_nonzero(keep))
    return np.asarray(weight, dtype=dt)[target[keep]].sum(dtype=dt)


@register(
    family="classification",
    prediction="features and a linear layer",
    target_dtype="class indices: int64 or uint8 (torch refuses int32); probabilities: float",
    target_shape="(N,) for indices, (N, V) for probabilities",
    target_values="indices in [0, V-1] or ignore_index; probabilities summing to 1 per row",
    torch_function="torch.nn.functional.linear_cross_entropy",
    reference="Wijmans et al. (2025), Cut Your Losses in Large-Vocabulary Language Models",
)
def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=-100, label_smoothing=0.0, chunk_size=DEFAULT_CHUNK_SIZE):
    r"""Cross-entropy of the logits ``input @ linear_weight.T + linear_bias``, computed in blocks of tokens.

    .. math::
        z_n = W x_n + b, \qquad \ell_n = \text{cross\_entropy}(z_n, y_n)

    with every option of :func:`~lossbook.softmax.cross_entropy` (class ``weight``, ``ignore_index``, ``label_smoothing``,
    index or probability targets, and its reductions: 'mean' divides by the sum of the weights of the non-ignored
    targets, or by N for probability targets). The (N, V) logits are never formed: each block of ``chunk_size``
    rows is projected, reduced and discarded, so the extra memory is about ``chunk_size × V`` values, whatever N.

    Args:
        input: hidden states (the features of the last layer), float, shape ``(N, d)`` or ``(d,)``.
        linear_weight: the output layer's weight, shape ``(V, d)`` (``nn.Linear(d, V).weight``).
        target: int class indices ``(N,)`` in ``[0, V-1]`` or ``ignore_index``; or float probabilities ``(N, V)``
            (which are themselves N × V: pass indices to save memory).
        linear_bias: optional ``(V,)``.
        weight: optional per-class weight ``(V,)``.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shape ``(N,)``).
        ignore_index: index targets equal to it are skipped (default -100, as in PyTorch).
        label_smoothing: :math:`\varepsilon \in [0, 1]`.
        chunk_size: rows (tokens) per block; memory falls and Python overhead rises as it shrinks.

    Same value as ``torch.nn.functional.linear_cross_entropy`` (PyTorch 2.13) and as :func:`~lossbook.softmax.cross_entropy` on
    the materialised logits. The gradients are ``linear_cross_entropy.grad``: a tuple ``(d input, d linear_weight)``,
    plus ``d linear_bias`` when a bias is given.

    Reference: ``torch.nn.functional.linear_cross_entropy``; Wijmans et al. (2025), ICLR (Cut Cross-Entropy).
    """
    x, W, target, b, weight, dt, size = _prepare(input, linear_weight, target, linear_bias, weight, reduction, chunk_size)
    if x.ndim == 1:
        z = x @ W.T + (b if b is not None else 0)
        return cross_entropy(z, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
                             label_smoothing=label_smoothing)
    n = x.shape[0]
    if len(target) != n:
        raise ValueError(f"linear_cross_entropy: `target` must have {n} rows, one per row of `input`, but it has "
                         f"shape {target.shape}.")
    kw = dict(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    if reduction == "none":
        out = np.empty(n, dtype=dt)
        for s, e in _chunks(n, size):
            z = x[s:e] @ W.T
            if b is not None:
                z += b
            out[s:e] = cross_entropy(z, target[s:e], reduction="none", **kw)
        return out
    total = dt.type(0)
    for s, e in _chunks(n, size):
        z = x[s:e] @ W.T
        if b is not None:
            z += b
        total += cross_entropy(z, target[s:e], reduction="sum", **kw)
    if reduction == "sum":
        return np.asarray(total, dtype=dt)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / _mean_denominator(target, weight, ignore_index, n, dt), dtype=dt)


@linear_cross_entropy.defgrad
def _linear_cross_entropy_grad(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                               ignore_index=-100, label_smoothing=0.0, chunk_size=DEFAULT_CHUNK_SIZE):
    """Gradients of :func:`linear_cross_entropy` with respect to ``input`` and ``linear_weight`` (and
    ``linear_bias`` when given), block by block: with G the gradient with respect to a block's logits,
    d input = G W, d W += Gᵀ x, d b += Σ G. Only one block of G exists at a time."""
    x, W, target, b, weight, dt, size = _prepare(input, linear_weight, target, linear_bias, weight, reduction, chunk_size)
    kw = dict(weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)
    if x.ndim == 1:
        z = x @ W.T + (b if b is not None else 0)
        G = cross_entropy.grad(z, target, reduction=reduction, **kw)
        grads = (G @ W, np.outer(G, x))
        return grads + ((G,) if b is not None else ())
    n = x.shape[0]
    if len(target) != n:
        raise ValueError(f"linear_cross_entropy: `target` must have {n} rows, one per row of `input`, but it has "
                         f"shape {target.shape}.")
    scale = dt.type(1)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = dt.type(1) / _mean_denominator(target, weight, ignore_index, n, dt)
        if not np.isfinite(scale):  # every target ignored: the loss is NaN and PyTorch's gradient is 0
            scale = dt.type(0)
    dx = np.empty_like(x)
    dW = np.zeros_like(W)
    db = np.zeros(W.shape[0], dtype=dt) if b is not None else None
    for s, e in _chunks(n, size):
        z = x[s:e] @ W.T
        if b is not None:
            z += b
        G = cross_entropy.grad(z, target[s:e], reduction="sum", **kw)
        if scale != 1:
            G *= scale
        dx[s:e] = G @ W
        dW += G.T @ x[s:e]
        if db is not None:
            db += G.sum(axis=0)
    return (dx, dW) + ((db,) if db is not None else ())


def peak_memory(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` and return ``(result, peak)``: the peak bytes allocated meanwhile, as
    ``tracemalloc`` sees them (NumPy reports its array buffers there). Only allocations made during the call
    count, not the inputs that already exist."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = fn(*args, **kwargs)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, peak


def materialised_cross_entropy(input, linear_weight, target, **kwargs):
    """The naive computation :func:`linear_cross_entropy` replaces, for comparisons: form the (N, V) logits,
    then :func:`~lossbook.softmax.cross_entropy` and its gradient. Returns ``(loss, d input, d linear_weight)``."""
    logits = np.asarray(input) @ np.asarray(linear_weight).T
    loss = cross_entropy(logits, target, **kwargs)
    G = cross_entropy.grad(logits, target, **kwargs)
    return loss, G @ linear_weight, G.T @ input
