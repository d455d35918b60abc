"""Regression losses: the prediction is a real value, the target a real value of the same shape.

Each loss is declared with :func:`lossbook._registry.register` (its metadata) and has its analytic
gradient defined right below it with ``@<loss>.defgrad``.
"""
from __future__ import annotations

import numpy as np

from ._reduction import reduce, reduction_scale
from ._registry import register
from ._validation import as_float_array, as_optional_float_array, check_finite, check_reduction, check_same_shape

__all__ = ["mse_loss", "l1_loss"]

_REAL_TARGET = dict(
    target_dtype="float (same dtype as input)",
    target_shape="same shape as input",
    target_values="any finite real number",
)


def _prepare(input, target, reduction, weight=None):
    """Validate and convert the common (input, target, reduction, weight) arguments of a regression loss."""
    check_reduction(reduction)
    input = as_float_array(input, "input")
    target = as_float_array(target, "target").astype(input.dtype, copy=False)
    check_same_shape(input, target)
    check_finite(target, "target")
    weight = as_optional_float_array(weight, "weight", input.dtype)
    if weight is not None:
        check_same_shape(input, weight, target_name="weight")
    return input, target, weight


def _weighted_reduce(loss, reduction, weight, mean_over_weights):
    """Apply an optional per-element weight, then reduce.

    PyTorch is not consistent here: ``mse_loss`` and ``l1_loss`` divide a weighted sum by ``sum(weight)``
    for 'mean', while ``huber_loss`` takes the plain mean of the weighted losses. ``mean_over_weights``
    picks which.
    """
    if weight is None:
        return reduce(loss, reduction)
    loss = loss * weight
    if reduction == "mean" and mean_over_weights:
        return np.asarray(loss.sum() / weight.sum())
    return reduce(loss, reduction)


def _weighted_grad(grad, reduction, weight, mean_over_weights):
    """The gradient counterpart of :func:`_weighted_reduce` (``grad`` is d loss_i / d input_i)."""
    if weight is None:
        return grad * reduction_scale(reduction, grad.size)
    grad = grad * weight
    if reduction == "mean":
        return grad / (weight.sum() if mean_over_weights else grad.size)
    return grad


@register(
    family="regression",
    prediction="real values",
    torch_function="torch.nn.functional.mse_loss",
    torch_module="torch.nn.MSELoss",
    reference="Gauss (1809); Hastie, Tibshirani & Friedman, The Elements of Statistical Learning (2009), sec. 2.4",
    **_REAL_TARGET,
)
def mse_loss(input, target, reduction="mean", weight=None):
    r"""Mean squared error: the squared residual of every element, reduced.

    .. math:: \ell_i = w_i\,(x_i - y_i)^2, \qquad
              \text{mean} = \frac{\sum_i \ell_i}{\sum_i w_i} \;(\text{or } \tfrac{1}{n}\textstyle\sum_i \ell_i \text{ without weights})

    Args:
        input: predictions ``x``, any shape, float.
        target: targets ``y``, same shape as ``input``, finite.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (element-wise, shaped like ``input``).
        weight: optional per-element weights, same shape as ``input``. With ``'mean'`` the weighted
            sum is divided by ``sum(weight)`` (PyTorch's convention).

    No factor 1/2: the gradient of the mean is ``2 (x - y) / n``.
    Reference: ``torch.nn.functional.mse_loss``; Hastie, Tibshirani & Friedman (2009), sec. 2.4.
    """
    input, target, weight = _prepare(input, target, reduction, weight)
    return _weighted_reduce((input - target) ** 2, reduction, weight, mean_over_weights=True)


@mse_loss.defgrad
def _mse_loss_grad(input, target, reduction="mean", weight=None):
    """d mse_loss / d input = 2 (x - y) w, divided by n (or sum(w)) for 'mean'."""
    input, target, weight = _prepare(input, target, reduction, weight)
    return _weighted_grad(2 * (input - target), reduction, weight, mean_over_weights=True)


@register(
    family="regression",
    prediction="real values",
    torch_function="torch.nn.functional.l1_loss",
    torch_module="torch.nn.L1Loss",
    reference="Laplace (1774); Koenker, Quantile Regression (2005), ch. 1",
    **_REAL_TARGET,
)
def l1_loss(input, target, reduction="mean", weight=None):
    r"""Mean absolute error: the absolute residual of every element, reduced.

    .. math:: \ell_i = w_i\,|x_i - y_i|

    Args:
        input: predictions ``x``, any shape, float.
        target: targets ``y``, same shape as ``input``, finite.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        weight: optional per-element weights (same shape); 'mean' divides by ``sum(weight)`` as PyTorch does.

    The gradient is ``sign(x - y)``; at ``x == y`` it is 0, PyTorch's choice of subgradient.
    Reference: ``torch.nn.functional.l1_loss``; Koenker (2005).
    """
    input, target, weight = _prepare(input, target, reduction, weight)
    return _weighted_reduce(np.abs(input - target), reduction, weight, mean_over_weights=True)


@l1_loss.defgrad
def _l1_loss_grad(input, target, reduction="mean", weight=None):
    """sign(x - y) (0 at the kink, as PyTorch), times w, divided by n (or sum(w)) for 'mean'."""
    input, target, weight = _prepare(input, target, reduction, weight)
    return _weighted_grad(np.sign(input - target), reduction, weight, mean_over_weights=True)
