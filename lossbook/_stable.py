"""Numerically stable building blocks: finite and accurate wherever the exact result is finite.

The naive formulas overflow: ``log(1 + exp(x))`` is ``inf`` for x > 709 in float64, and
``log(sum(exp(x)))`` is ``inf`` as soon as one logit is that large. Each function here rewrites the
formula so that ``exp`` only ever sees non-positive arguments.
"""
from __future__ import annotations

import numpy as np

__all__ = ["softplus", "log_sigmoid", "sigmoid", "logsumexp", "log_softmax", "softmax", "xlogy", "log_cosh"]


def softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    x = np.asarray(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|))."""
    x = np.asarray(x)
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def sigmoid(x):
    """1 / (1 + exp(-x)) = exp(min(x, 0)) / (1 + exp(-|x|)): no exp of a positive number, so no overflow,
    and no cancellation for very negative x. Branch-free (``np.where`` on a random mask is slow)."""
    x = np.asarray(x)
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


def logsumexp(x, axis=-1, keepdims=False):
    """log(sum(exp(x), axis)) with the maximum subtracted first. All -inf along an axis gives -inf."""
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):  # an axis of all -inf gives log(0) = -inf, the right answer
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def log_softmax(x, axis=-1):
    """(x - max) - log(sum(exp(x - max))) along ``axis``, in that order (as PyTorch).

    ``x - logsumexp(x)`` is the same formula mathematically, but adding the maximum back into the
    logsumexp first and subtracting it again rounds: with logits near 6000 in float32 the spacing of
    representable numbers is 0.0005, as large as the answer. Subtracting the maximum first is exact.
    """
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    shifted = x - np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # an axis of all -inf: log(0) = -inf, result NaN (as torch)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """exp(log_softmax(x))."""
    return np.exp(log_softmax(x, axis=axis))


def xlogy(x, y):
    """x * log(y), with 0 where x == 0 (even where y == 0), as torch.xlogy."""
    x = np.asarray(x)
    y = np.asarray(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    return np.where(x == 0, np.zeros((), dtype=out.dtype), out)


def log_cosh(x):
    """log(cosh(x)) = |x| + log1p(exp(-2|x|)) - log(2), finite for every finite x."""
    a = np.abs(np.asarray(x))
    return a + np.log1p(np.exp(-2 * a)) - np.log(np.asarray(2, dtype=a.dtype))
