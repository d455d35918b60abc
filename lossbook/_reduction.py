"""Reductions shared by every loss: 'none', 'mean', 'sum' (and the scale they give gradients)."""
from __future__ import annotations

import numpy as np

from ._validation import check_reduction

__all__ = ["reduce", "reduction_scale", "weighted_mean"]


def reduce(loss: np.ndarray, reduction: str, allowed=("none", "mean", "sum")) -> np.ndarray:
    """Reduce element-wise losses.

    ``'none'`` returns ``loss`` unchanged; ``'sum'`` and ``'mean'`` return a 0-d array of the same dtype.
    The mean of an empty array is NaN, as in PyTorch.
    """
    check_reduction(reduction, allowed)
    loss = np.asarray(loss)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.asarray(loss.sum(dtype=loss.dtype))
    if loss.size == 0:
        return np.asarray(np.nan, dtype=loss.dtype)
    return np.asarray(loss.mean(dtype=loss.dtype))


def reduction_scale(reduction: str, count: int) -> float:
    """The factor d(reduced)/d(element): 1 for 'none' and 'sum', 1/count for 'mean'.

    Gradients of ``'none'`` are those of the *sum* of the element-wise losses (an upstream gradient of ones).
    """
    check_reduction(reduction, ("none", "mean", "sum", "batchmean"))
    if reduction == "mean":
        return 1.0 / count if count else float("nan")
    return 1.0


def weighted_mean(loss: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum(loss) / sum(weights) as a 0-d array: PyTorch's 'mean' whenever a class weight is given."""
    return np.asarray(loss.sum(dtype=loss.dtype) / weights.sum(dtype=loss.dtype))
