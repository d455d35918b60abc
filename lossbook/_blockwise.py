"""The fused value-and-gradient path of the element-wise losses, evaluated block by block.

An element-wise loss and its gradient share their intermediates (the residual ``x - y``, ``exp(-|x|)``, the
sigmoid): ``loss.value_and_grad`` computes them once, as autograd's forward pass saves them for its backward
pass. Each loss writes a *kernel*, its formula on plain 1-d blocks, returning the element-wise loss and its
derivative::

    def _huber_kernel(input, target, delta):
        r = input - target
        g = np.clip(r, -delta, delta)          # d loss / d input
        return g * (r - 0.5 * g), g            # a^2/2 below delta, delta (a - delta/2) above

and :func:`value_and_grad` runs it on blocks of :data:`BLOCK` elements, so that the kernel's temporaries stay
in the processor's cache instead of streaming whole arrays through memory once per operation (a NumPy
expression of six operations on 10^6 floats reads and writes 4 MB six times). The result equals reducing the
whole loss array, to rounding: each block is summed pairwise in the loss's dtype, the block sums are added in
float64.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_reduction

__all__ = ["BLOCK", "value_and_grad"]

BLOCK = 1 << 15  # elements per block: 128 KiB in float32, a few temporaries of which fit in a core's L2 cache


def value_and_grad(kernel, arrays, reduction, *, weight=None, mean_over_weights=False, params=()):
    """The reduced loss and its gradient with respect to ``arrays[0]``, from an element-wise ``kernel``.

    Args:
        kernel: ``kernel(*blocks, *params) -> (loss, grad)``, the element-wise loss and its derivative for
            equal-length 1-d blocks of ``arrays``.
        arrays: arrays of one shape and one float dtype (the validated, promoted arguments).
        reduction: ``'none'``, ``'mean'`` or ``'sum'``; the gradient of ``'none'`` is that of the sum.
        weight: optional per-element weights broadcastable to that shape: ``loss * weight``, ``grad * weight``.
        mean_over_weights: with ``weight``, ``'mean'`` divides by ``sum(weight)`` instead of the number of
            elements (PyTorch's ``mse_loss`` and ``l1_loss``; ``huber_loss`` divides by the count).
        params: extra scalar arguments passed to the kernel after the blocks.

    Returns:
        ``(value, grad)``: a 0-d array (or, for ``'none'``, the element-wise losses) and the gradient, shaped
        like ``arrays[0]``, both in its dtype.
    """
    check_reduction(reduction)
    shape, dtype = arrays[0].shape, arrays[0].dtype
    flat = [np.ravel(a) for a in arrays]
    n = flat[0].size
    w = None if weight is None else np.ravel(np.broadcast_to(weight, shape))
    if reduction != "mean":
        scale = 1.0
    elif w is not None and mean_over_weights:
        scale = 1.0 / float(w.sum(dtype=dtype))
    else:
        scale = 1.0 / n if n else float("nan")
    grad = np.empty(n, dtype)
    losses = np.empty(n, dtype) if reduction == "none" else None
    total = 0.0
    for start in range(0, n, BLOCK):
        part = slice(start, start + BLOCK)
        loss, g = kernel(*(a[part] for a in flat), *params)
        if w is not None:
            loss = loss * w[part]
            g = g * w[part]
        np.multiply(g, scale, out=grad[part], casting="unsafe")
        if losses is None:
            total += float(loss.sum(dtype=dtype))
        else:
            losses[part] = loss
    if losses is not None:
        return losses.reshape(shape), grad.reshape(shape)
    value = total * scale if reduction == "mean" else total
    return np.asarray(value, dtype=dtype), grad.reshape(shape)
