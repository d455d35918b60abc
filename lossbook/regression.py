"""Regression losses: the prediction is a real value, the target a real value of the same shape.

Each loss is declared with ``lossbook._registry.register`` (its metadata) and has its analytic
gradient defined right below it with ``@<loss>.defgrad``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._blockwise import value_and_grad
from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import log_cosh
from ._validation import (
    as_float_array,
    as_input_and_target,
    as_optional_float_array,
    check_nonnegative,
    check_positive,
    check_same_shape,
    check_scalar,
    describe,
    promote,
    warn_likely_mistake,
)

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss", "quantile_loss",
           "gaussian_nll_loss", "poisson_nll_loss"]

_REAL_TARGET = dict(
    target_dtype="float, or int (converted to float); mixed float dtypes are promoted",
    target_shape="same shape as input",
    target_values="any finite real number",
)


def _prepare(input, target, reduction, weight=None):
    """Validate and convert the common (input, target, reduction, weight) arguments of a regression loss."""
    input, target = as_input_and_target(input, target, reduction)
    weight = as_optional_float_array(weight, "weight", int_dtype=input.dtype)
    if weight is not None:
        check_same_shape(input, weight, target_name="weight")
        input, target, weight = promote(input, target, weight)
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
    """The gradient counterpart of :func:`_weighted_reduce` (``grad`` is d loss_i / d input_i, a fresh array that
    is scaled in place)."""
    if weight is None:
        grad *= reduction_scale(reduction, grad.size)
        return grad
    grad *= weight
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
              \text{mean} = \frac{\sum_i \ell_i}{\sum_i w_i}
              \;(\text{or } \tfrac{1}{n}\textstyle\sum_i \ell_i \text{ without weights})

    Args:
        input: predictions ``x``, any shape, float.
        target: targets ``y``, same shape as ``input``, finite; float or integer (integers are converted).
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


def _mse_kernel(input, target):
    r = input - target
    return r * r, 2 * r


@mse_loss.defvalue_and_grad
def _mse_loss_value_and_grad(input, target, reduction="mean", weight=None):
    """The value and the gradient at once: one validation, the residual computed once (block by block)."""
    input, target, weight = _prepare(input, target, reduction, weight)
    return value_and_grad(_mse_kernel, (input, target), reduction, weight=weight, mean_over_weights=True)


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
        target: targets ``y``, same shape as ``input``, finite; float or integer (integers are converted).
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


@register(
    family="regression",
    prediction="real values",
    torch_function="torch.nn.functional.huber_loss",
    torch_module="torch.nn.HuberLoss",
    reference="Huber, Robust Estimation of a Location Parameter, Ann. Math. Statist. 35(1) (1964)",
    **_REAL_TARGET,
)
def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    r"""Huber loss: squared error for small residuals, ``delta``-scaled absolute error for large ones.

    .. math:: \ell_i = w_i \begin{cases} \tfrac12 r_i^2 & |r_i| < \delta \\
              \delta\,(|r_i| - \tfrac12\delta) & \text{otherwise} \end{cases}, \qquad r_i = x_i - y_i

    Args:
        input: predictions ``x``, any shape, float.
        target: targets ``y``, same shape as ``input``, finite; float or integer (integers are converted).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        delta: the threshold where the quadratic turns linear; must be positive.
        weight: optional per-element weights (same shape as ``input``).

    PyTorch surprise: with ``weight``, ``'mean'`` is the plain mean of the weighted losses
    (divided by the number of elements), whereas ``mse_loss`` and ``l1_loss`` divide by ``sum(weight)``.
    ``huber_loss(delta=d) == d * smooth_l1_loss(beta=d)``. The gradient is ``clip(r, -delta, delta)``
    (0 at r == 0, as PyTorch). The loss is finite for any finite residual: it grows linearly.
    Reference: Huber (1964); ``torch.nn.functional.huber_loss``.
    """
    delta = check_positive(delta, "delta")
    input, target, weight = _prepare(input, target, reduction, weight)
    a = np.abs(input - target)
    m = np.minimum(a, delta)  # m (a - m/2) is a^2/2 below delta, delta (a - delta/2) above: no np.where needed
    a -= 0.5 * m  # in place: fewer large temporaries
    a *= m
    return _weighted_reduce(a, reduction, weight, mean_over_weights=False)


@huber_loss.defgrad
def _huber_loss_grad(input, target, reduction="mean", delta=1.0, weight=None):
    """clip(x - y, -delta, delta) times w, divided by n for 'mean' (also with weights, as PyTorch)."""
    delta = check_positive(delta, "delta")
    input, target, weight = _prepare(input, target, reduction, weight)
    return _weighted_grad(np.clip(input - target, -delta, delta), reduction, weight, mean_over_weights=False)


def _huber_kernel(input, target, delta):
    r = input - target
    g = np.clip(r, -delta, delta)  # d loss / d input
    return g * (r - 0.5 * g), g  # r^2 / 2 below delta, delta (|r| - delta / 2) above


@huber_loss.defvalue_and_grad
def _huber_loss_value_and_grad(input, target, reduction="mean", delta=1.0, weight=None):
    """The value and the gradient at once: one validation, the residual and its clip computed once."""
    delta = check_positive(delta, "delta")
    input, target, weight = _prepare(input, target, reduction, weight)
    return value_and_grad(_huber_kernel, (input, target), reduction, weight=weight, params=(delta,))


@register(
    family="regression",
    prediction="real values",
    torch_function="torch.nn.functional.smooth_l1_loss",
    torch_module="torch.nn.SmoothL1Loss",
    reference="Girshick, Fast R-CNN, ICCV (2015)",
    **_REAL_TARGET,
)
def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    r"""Smooth L1 loss: absolute error with the kink at 0 rounded off by a parabola of width ``beta``.

    .. math:: \ell_i = \begin{cases} \tfrac{1}{2\beta} r_i^2 & |r_i| < \beta \\
              |r_i| - \tfrac12\beta & \text{otherwise} \end{cases}, \qquad r_i = x_i - y_i

    Args:
        input: predictions ``x``, any shape, float.
        target: targets ``y``, same shape as ``input``, finite; float or integer (integers are converted).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        beta: width of the quadratic zone; must be non-negative. ``beta=0`` is exactly ``l1_loss``
            (PyTorch's convention, followed here).

    Unlike Huber, the linear part has slope 1 whatever ``beta`` is:
    ``smooth_l1_loss(beta=d) == huber_loss(delta=d) / d``. The gradient is ``clip(r / beta, -1, 1)``
    (``sign(r)`` for ``beta=0``, 0 at r == 0, as PyTorch). There is no ``weight`` argument (PyTorch has none).
    Reference: Girshick (2015); ``torch.nn.functional.smooth_l1_loss``.
    """
    beta = check_nonnegative(beta, "beta")
    input, target, _ = _prepare(input, target, reduction)
    a = np.abs(input - target)
    if beta == 0:
        return reduce(a, reduction)
    m = np.minimum(a, beta)  # (m / beta)(a - m/2): a^2 / (2 beta) below beta, a - beta/2 above
    a -= 0.5 * m  # in place: fewer large temporaries
    m /= beta
    a *= m
    return reduce(a, reduction)


@smooth_l1_loss.defgrad
def _smooth_l1_loss_grad(input, target, reduction="mean", beta=1.0):
    """clip((x - y) / beta, -1, 1) (sign(x - y) for beta=0), divided by n for 'mean'."""
    beta = check_nonnegative(beta, "beta")
    input, target, _ = _prepare(input, target, reduction)
    r = input - target
    g = np.sign(r) if beta == 0 else np.clip(r / beta, -1, 1)
    return g * reduction_scale(reduction, g.size)


def _smooth_l1_kernel(input, target, beta):
    r = input - target
    if beta == 0:
        return np.abs(r), np.sign(r)
    g = np.clip(r / beta, -1, 1)  # d loss / d input
    return g * (r - 0.5 * beta * g), g  # r^2 / (2 beta) below beta, |r| - beta / 2 above


@smooth_l1_loss.defvalue_and_grad
def _smooth_l1_loss_value_and_grad(input, target, reduction="mean", beta=1.0):
    """The value and the gradient at once: one validation, the residual and its clip computed once."""
    beta = check_nonnegative(beta, "beta")
    input, target, _ = _prepare(input, target, reduction)
    return value_and_grad(_smooth_l1_kernel, (input, target), reduction, params=(beta,))


def _accurate_log_cosh(r):
    """log(cosh(r)) to full relative precision for every finite r.

    ``_stable.log_cosh`` (|r| + log1p(exp(-2|r|)) - log 2) never overflows but cancels for small |r|, where the
    result is ~r^2/2 (it returns 0 at r = 1e-10). There we use the identity cosh(r) - 1 = 2 sinh(r/2)^2:
    log(cosh(r)) = log1p(2 sinh(r/2)^2), accurate for |r| < 1 (and the sinh never overflows, its argument is
    clipped).
    """
    a = np.abs(r)
    s = np.sinh(0.5 * np.minimum(a, 1))
    small = a < 1  # both branches are finite, so multiplying by the mask selects exactly (faster than np.where)
    return np.log1p(2 * s * s) * small + log_cosh(a) * ~small


@register(
    family="regression",
    prediction="real values",
    reference=(
        "Saleh & Saleh, Statistical properties of the log-cosh loss function used in machine learning, "
        "arXiv:2208.04564 (2022)"
    ),
    **_REAL_TARGET,
)
def log_cosh_loss(input, target, reduction="mean"):
    r"""Log-cosh loss: a smooth loss that is quadratic near zero and linear (slope 1) far away.

    .. math:: \ell_i = \log\cosh(x_i - y_i)
              = |r_i| + \log\!\left(1 + e^{-2|r_i|}\right) - \log 2, \qquad r_i = x_i - y_i

    Args:
        input: predictions ``x``, any shape, float.
        target: targets ``y``, same shape as ``input``, finite; float or integer (integers are converted).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Not in PyTorch (``torch.log(torch.cosh(r))`` overflows to ``inf`` for ``|r| > 710`` in float64 and
    ``|r| > 89`` in float32, and loses all relative accuracy for tiny ``|r|``); lossbook evaluates the
    right-hand form for ``|r| >= 1`` (finite for every finite residual) and ``log1p(2 sinh(r/2)^2)`` below,
    so the result is accurate to a few ulps everywhere, also where it is ~``r²/2``.
    Convention: no factor 1/2 and no scale parameter, so ``log_cosh(r) ≈ r²/2`` for small ``r`` and
    ``≈ |r| - log 2`` for large ``|r|``; it never exceeds ``|r|`` or ``r²/2``. The gradient is ``tanh(r)``,
    smooth everywhere (0 at r == 0).
    Reference: Saleh & Saleh (2022), arXiv:2208.04564.
    """
    input, target, _ = _prepare(input, target, reduction)
    return reduce(_accurate_log_cosh(input - target), reduction)


@log_cosh_loss.defgrad
def _log_cosh_loss_grad(input, target, reduction="mean"):
    """tanh(x - y), divided by n for 'mean'."""
    input, target, _ = _prepare(input, target, reduction)
    g = np.tanh(input - target)
    return g * reduction_scale(reduction, g.size)


def _log_cosh_kernel(input, target):
    r = input - target
    return _accurate_log_cosh(r), np.tanh(r)


@log_cosh_loss.defvalue_and_grad
def _log_cosh_loss_value_and_grad(input, target, reduction="mean"):
    """The value and the gradient at once: one validation, the residual computed once (block by block)."""
    input, target, _ = _prepare(input, target, reduction)
    return value_and_grad(_log_cosh_kernel, (input, target), reduction)


def _check_quantile(quantile) -> float:
    if isinstance(quantile, (list, tuple)) or (isinstance(quantile, np.ndarray) and quantile.ndim > 0):
        raise TypeError(
            f"`quantile` must be a single number in (0, 1), but it is a sequence/array of shape "
            f"{np.shape(quantile)}. To fit several quantiles, call quantile_loss once per quantile."
        )
    q = check_scalar(quantile, "quantile")
    if not 0 < q < 1:
        raise ValueError(
            f"`quantile` must lie strictly between 0 and 1, but it is {quantile!r}. "
            "Use e.g. 0.5 for the median, 0.9 for the 90th percentile (not 90)."
        )
    return q


@register(
    family="regression",
    prediction="real values",
    reference="Koenker & Bassett, Regression Quantiles, Econometrica 46(1) (1978)",
    **_REAL_TARGET,
)
def quantile_loss(input, target, quantile=0.5, reduction="mean"):
    r"""Quantile (pinball) loss: an asymmetric absolute error whose minimiser is a quantile of the target.

    .. math:: \ell_i = \max\big(q\,u_i,\; (q - 1)\,u_i\big), \qquad u_i = y_i - x_i

    so under-prediction (``u > 0``) costs ``q`` per unit and over-prediction ``1 - q`` per unit.

    Args:
        input: predictions ``x`` (of the ``q``-th quantile), any shape, float.
        target: targets ``y``, same shape as ``input``, finite; float or integer (integers are converted).
        quantile: ``q``, a number strictly between 0 and 1 (0.5: the median).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    ``q = 0.5`` gives **half** the absolute error (``quantile_loss(x, y, 0.5) == l1_loss(x, y) / 2``).
    The constant ``c`` minimising the expected loss ``E[ℓ(c, Y)]`` is the ``q``-th quantile of ``Y``
    (for a sample: any sample ``q``-quantile, e.g. ``np.quantile(y, q, method='inverted_cdf')``).
    Not in PyTorch. Gradient w.r.t. ``input``: ``-q`` where ``u > 0``, ``1 - q`` where ``u < 0``, and at the
    kink ``u == 0`` the average of the two, ``1/2 - q`` — what ``torch.autograd`` gives for
    ``torch.maximum(q*u, (q-1)*u)`` (it splits the gradient evenly at ties); 0 for the median.
    Reference: Koenker & Bassett (1978).
    """
    q = _check_quantile(quantile)
    input, target, _ = _prepare(input, target, reduction)
    u = target - input
    return reduce(np.maximum(q * u, (q - 1) * u) + 0.0, reduction)  # (+ 0.0 turns the -0.0 at u == 0 into 0)


@quantile_loss.defgrad
def _quantile_loss_grad(input, target, quantile=0.5, reduction="mean"):
    """-q where y > x, 1 - q where y < x, 1/2 - q where y == x; divided by n for 'mean'."""
    q = _check_quantile(quantile)
    input, target, _ = _prepare(input, target, reduction)
    g = (0.5 - q) - 0.5 * np.sign(target - input)  # -q, 1 - q, or 1/2 - q where target == input
    return g * reduction_scale(reduction, g.size)


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, but it is {value!r} ({type(value).__name__}).")
    return bool(value)


def _gaussian_var(var, input):
    """Validate ``var`` and return ``(var, sum_to_var)``: ``var`` broadcastable to ``input``, and a function
    that sums an input-shaped gradient down to the shape ``var`` was given in (``None`` for a Python number).

    The accepted shapes are PyTorch's: the shape of ``input``; ``input.shape[:-1]`` (one variance per
    row, shared along the last axis); the shape of ``input`` with a single axis of size 1; or a scalar.
    """
    if isinstance(var, (numbers.Real, np.generic)) and not isinstance(var, (bool, np.bool_)):
        v = check_scalar(var, "var")
        if v < 0:
            raise ValueError(f"`var` must be non-negative (a variance), but it is {var!r}.")
        return np.asarray(v, dtype=input.dtype), lambda g: None
    v = as_float_array(var, "var", int_dtype=input.dtype)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"`var` contains NaN or inf ({describe(v)}). Variances must be finite numbers.")
    if v.size and v.min() < 0:
        raise ValueError(
            f"`var` must hold non-negative variances, but it has {describe(v)}. If these are log-variances, "
            "pass `np.exp(var)`; if a network predicts them, make it output a positive value (e.g. softplus)."
        )
    if v.ndim == 0:  # a 0-d array: one variance for everything, its gradient a 0-d array
        return v, lambda g: np.asarray(g.sum(dtype=g.dtype))
    if v.shape == input.shape:
        return v, lambda g: g
    if v.shape == input.shape[:-1]:
        return v[..., None], lambda g: g.sum(axis=-1)
    if v.ndim == input.ndim:
        mismatched = [k for k, (a, b) in enumerate(zip(input.shape, v.shape, strict=True)) if a != b]
        if len(mismatched) == 1 and v.shape[mismatched[0]] == 1:
            axis = mismatched[0]
            return v, lambda g: g.sum(axis=axis, keepdims=True)
    raise ValueError(
        f"`var` has shape {v.shape}, which does not fit `input` of shape {input.shape}. gaussian_nll_loss "
        f"accepts a var of shape {input.shape} (one variance per element), {input.shape[:-1]} (one per row, "
        "shared along the last axis), the input's shape with one axis of size 1, or a single number."
    )


def _prepare_gaussian(input, target, var, full, eps, reduction):
    _check_flag(full, "full")
    eps = check_nonnegative(eps, "eps")
    input, target, _ = _prepare(input, target, reduction)
    var, sum_to_var = _gaussian_var(var, input)
    input, target, var = promote(input, target, var)
    var_c = np.maximum(var, eps)
    if eps == 0 and var_c.size and var_c.min() == 0:
        raise ValueError("`var` contains zeros and `eps` is 0, so the loss is undefined; use eps > 0 (default 1e-6).")
    return input, target, var_c, sum_to_var


@register(
    family="regression",
    prediction="mean and variance",
    wrt=("input", "var"),
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
    target_shape="same shape as input (var: same shape, input.shape[:-1], one axis of size 1, or a number)",
    target_values="any finite real number (var: non-negative)",
    torch_function="torch.nn.functional.gaussian_nll_loss",
    torch_module="torch.nn.GaussianNLLLoss",
    reference=(
        "Nix & Weigend, Estimating the mean and variance of the target probability distribution, "
        "IEEE ICNN (1994)"
    ),
)
def gaussian_nll_loss(input, target, var, full=False, eps=1e-06, reduction="mean"):
    r"""Gaussian negative log-likelihood of ``target`` under a normal with mean ``input`` and variance ``var``.

    .. math:: \ell_i = \tfrac12\left(\log v_i + \frac{(x_i - y_i)^2}{v_i}\right)
              \;\left[+\tfrac12\log 2\pi \text{ if full}\right], \qquad v_i = \max(\mathrm{var}_i, \varepsilon)

    Args:
        input: predicted means ``x``, any shape, float.
        target: targets ``y``, same shape as ``input``, finite; float or integer (integers are converted).
        var: predicted variances (not standard deviations, not log-variances), non-negative: the shape of
            ``input`` (heteroscedastic), ``input.shape[:-1]`` (one variance per row, shared along the last
            axis), the shape of ``input`` with one axis of size 1, or a single number.
        full: add the constant ``0.5 * log(2 pi)`` (the exact NLL); default False.
        eps: variances below ``eps`` are raised to ``eps`` (default 1e-6).
        reduction: ``'mean'`` (default; over all elements of ``input``), ``'sum'`` or ``'none'``.

    PyTorch surprises, followed here: the clamp at ``eps`` is done outside autograd, so where it is active
    the gradient w.r.t. ``var`` is **not** zero but ``0.5 (1/eps - r^2/eps^2)`` (the formula evaluated at
    the clamped value, as if the clamp were not there). The loss is computed in the promoted float dtype of
    ``input``, ``target`` and ``var`` (float32 with float64 gives float64).
    ``gaussian_nll_loss.grad`` returns ``(d/d input, d/d var)``; the second is ``None`` when ``var`` is a
    Python/NumPy number (a constant), and has ``var``'s shape otherwise (summed over the axes it is shared on;
    a 0-d array, which lossbook accepts as a number for any input shape, gets a 0-d gradient).
    Reference: Nix & Weigend (1994); ``torch.nn.functional.gaussian_nll_loss``.
    """
    input, target, var_c, _ = _prepare_gaussian(input, target, var, full, eps, reduction)
    loss = 0.5 * (np.log(var_c) + (input - target) ** 2 / var_c)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce(loss, reduction)


@gaussian_nll_loss.defgrad
def _gaussian_nll_loss_grad(input, target, var, full=False, eps=1e-06, reduction="mean"):
    """((x - y) / v, 0.5 (1/v - (x - y)^2 / v^2)) with v the clamped variance, scaled for 'mean';
    the second summed to var's shape (None for a number)."""
    input, target, var_c, sum_to_var = _prepare_gaussian(input, target, var, full, eps, reduction)
    r = input - target
    scale = reduction_scale(reduction, input.size)
    g_input = r / var_c * scale
    g_var = (0.5 * (1 / var_c - r * r / (var_c * var_c))) * scale
    return g_input, sum_to_var(np.broadcast_to(g_var, input.shape))


_POISSON_SAMPLE = 4096


def _prepare_poisson(input, target, log_input, full, eps, reduction, warn):
    log_input = _check_flag(log_input, "log_input")
    full = _check_flag(full, "full")
    eps = check_nonnegative(eps, "eps")
    input, target, _ = _prepare(input, target, reduction)
    if target.size and target.min() < 0:
        raise ValueError(
            f"`target` must hold non-negative counts, but it has {describe(target)}. poisson_nll_loss models "
            "counts (0, 1, 2, ...); for real-valued targets use mse_loss or gaussian_nll_loss."
        )
    if not log_input and input.size and input.min() < 0:
        raise ValueError(
            f"`input` holds negative values ({describe(input)}), but with log_input=False it must hold rates "
            "(non-negative). If these are log-rates, pass log_input=True (the default)."
        )
    if warn and log_input and input.size >= 8:
        # Heuristic: every prediction is >= 0 and, read as rates, the predictions fit the targets better than
        # read as log-rates by more than 1 nat per element: probably rates passed with log_input=True.
        x = input.reshape(-1)[:_POISSON_SAMPLE].astype(np.float64)
        y = target.reshape(-1)[:_POISSON_SAMPLE].astype(np.float64)
        if x.min() >= 0:
            with np.errstate(over="ignore", divide="ignore"):
                nll_as_log_rates = np.mean(np.exp(x) - y * x)
                nll_as_rates = np.mean(x - y * np.log(x + 1e-8))
            if nll_as_rates < nll_as_log_rates - 1:
                warn_likely_mistake(
                    "poisson_nll_loss: log_input=True reads `input` as log-rates, but every value is >= 0 and "
                    "the values fit `target` far better as rates. If `input` holds rates (expected counts), "
                    "pass log_input=False; otherwise ignore this warning.",
                )
    return input, target, log_input, full, eps


@register(
    family="regression",
    prediction="log-rates or rates",
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
    target_shape="same shape as input",
    target_values="non-negative counts (float; need not be whole numbers)",
    torch_function="torch.nn.functional.poisson_nll_loss",
    torch_module="torch.nn.PoissonNLLLoss",
    reference="McCullagh & Nelder, Generalized Linear Models, 2nd ed. (1989), ch. 6",
)
def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-08, reduction="mean"):
    r"""Poisson negative log-likelihood of count ``target`` given a predicted rate (or log-rate) ``input``.

    .. math:: \ell_i = \begin{cases} e^{x_i} - y_i x_i & \text{log\_input (x is a log-rate)} \\
              x_i - y_i \log(x_i + \varepsilon) & \text{otherwise (x is a rate)} \end{cases}
              \;\left[+\; y_i\log y_i - y_i + \tfrac12\log(2\pi y_i) \text{ where } y_i > 1, \text{ if full}\right]

    This is the NLL up to the constant ``log(y!)``; ``full=True`` adds Stirling's approximation of it,
    only where ``target > 1`` (PyTorch's condition; the term is left out for ``y`` in {0, 1}, where
    ``log(y!) = 0``).

    Args:
        input: log-rates (``log_input=True``, default; any real value) or rates (``log_input=False``;
            non-negative), any shape, float.
        target: non-negative counts (float or integer; need not be whole numbers), same shape as ``input``.
        log_input: whether ``input`` is a log-rate.
        full: add the Stirling term.
        eps: added to the rate inside the log when ``log_input=False`` (default 1e-8).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Gradient w.r.t. ``input``: ``exp(x) - y`` (log-rates) or ``1 - y / (x + eps)`` (rates); the Stirling term
    does not depend on ``input``. Where lossbook differs from PyTorch: with ``log_input=False`` and ``eps=0``, a
    zero rate with a zero count gives loss 0 and gradient 1 (the exact limits); PyTorch gives NaN for both
    (``0 * log 0``). A zero rate with a positive count gives ``inf``, as it should. With ``log_input=True`` the
    loss overflows only where ``exp(x)`` does (``x > 709`` in float64), as PyTorch. lossbook refuses negative,
    NaN or infinite targets and, with ``log_input=False``, negative rates. It warns (``LossInputWarning``) when
    ``log_input=True`` but the input looks like rates: at least 8 elements, all ``>= 0``, and, on the first 4096
    elements, the mean loss read as rates is more than 1 nat below the mean loss read as log-rates.
    Reference: McCullagh & Nelder (1989); ``torch.nn.functional.poisson_nll_loss``.
    """
    input, target, log_input, full, eps = _prepare_poisson(input, target, log_input, full, eps, reduction, True)
    if log_input:
        loss = np.exp(input) - target * input
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = input - target * np.log(input + eps)
        if eps == 0:  # a zero rate with a zero count: 0 * log(0) is NaN in torch; the exact loss is 0
            loss = np.where((target == 0) & (input == 0), np.zeros((), loss.dtype), loss)
    if full:  # Stirling's term, only where target > 1 (evaluated at max(target, 1) so it is finite everywhere)
        t = np.maximum(target, 1)
        loss = loss + (t * np.log(t) - t + 0.5 * np.log(2 * math.pi * t)) * (target > 1)
    return reduce(loss, reduction)


@poisson_nll_loss.defgrad
def _poisson_nll_loss_grad(input, target, log_input=True, full=False, eps=1e-08, reduction="mean"):
    """exp(x) - y (log-rates) or 1 - y / (x + eps) (rates; 1 where y == 0), divided by n for 'mean'."""
    input, target, log_input, full, eps = _prepare_poisson(input, target, log_input, full, eps, reduction, False)
    if log_input:
        g = np.exp(input) - target
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = 1 - target / (input + eps)
        if eps == 0:  # zero rate, zero count: the loss is x there, its gradient 1 (torch: NaN)
            g = np.where((target == 0) & (input == 0), np.ones((), g.dtype), g)
    return g * reduction_scale(reduction, g.size)
