"""Binary and multi-label losses on one probability or logit per element: :func:`binary_cross_entropy` (on
probabilities), :func:`binary_cross_entropy_with_logits` and :func:`sigmoid_focal_loss` (on logits). The soft
Dice loss, once here, is in :mod:`lossbook.vision` with the other mask losses (still ``lossbook.dice_loss``).

Taught in Part III, chapters "Binary classification" and "Imbalanced classes".

Conventions (shared with :mod:`lossbook.margins`, which imports the private helpers below):

* per-element ``weight`` / ``pos_weight`` arrays broadcast against the input as in PyTorch,
  but may never make the result larger than the input (PyTorch raises there too); lossbook also refuses
  negative, NaN or infinite weights, which PyTorch accepts silently;
* losses that take logits warn (:class:`~lossbook.LossInputWarning`) when the input looks like probabilities:
  at least 16 elements (``_WARN_MIN_SIZE``), every one in [0, 1], not all equal. Real logits of that many
  elements almost never all fall in [0, 1]; sigmoid outputs always do.
"""
from __future__ import annotations

import numpy as np

from ._blockwise import value_and_grad
from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import (
    log_sigmoid,
    sigmoid,
)
from ._validation import (
    as_float_array,
    as_input_and_target,
    as_optional_float_array,
    check_nonnegative,
    check_range,
    check_scalar,
    describe,
    promote,
    warn_likely_mistake,
)

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss"]

# Binary, margin and focal losses
# ----------------------------------------------------------------------------------------------------------------

_WARN_MIN_SIZE = 16  # fewer elements than this: too little evidence to warn about probabilities-as-logits
_BCE_LOG_FLOOR = -100.0  # PyTorch clamps each log in binary_cross_entropy at -100
_BCE_GRAD_EPS = 1e-12  # ... and its backward divides by max(x (1 - x), 1e-12)


# --------------------------------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------------------------------
_prepare_pair = as_input_and_target  # (input, target, reduction, ...) -> validated (input, target)


def _check_probability_target(target, name="target"):
    check_range(
        target, name, 0, 1, "probabilities (0/1 labels or soft labels)",
        hint=f"If your labels are -1/+1, map them with `({name} + 1) / 2`.",
    )


def _broadcast_weight(weight, input, name, what="weights"):
    """An optional float weight array (integers become the input's dtype) that broadcasts to ``input`` without
    enlarging it. The caller promotes it with the input (a float64 weight makes a float32 loss float64)."""
    weight = as_optional_float_array(weight, name, int_dtype=input.dtype)
    if weight is None:
        return None
    try:
        shape = np.broadcast_shapes(weight.shape, input.shape)
    except ValueError:
        shape = None
    if shape != input.shape:
        raise ValueError(
            f"`{name}` has shape {weight.shape}, which does not broadcast to the input's shape {input.shape} "
            f"(PyTorch refuses it too). Give one value per element (shape {input.shape}) or one per class along "
            f"the last axis (shape ({input.shape[-1] if input.ndim else 1},))."
        )
    if not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise ValueError(
            f"`{name}` must hold finite, non-negative {what}, but it has {describe(weight)}. "
            "A negative weight turns the loss into a reward."
        )
    return weight


def _margin_class_weight(weight, num_classes, input_dtype, name="weight"):
    """A 1-D per-class weight of length C (multi_margin_loss), float (integers become ``input_dtype``)."""
    weight = as_float_array(weight, name, int_dtype=input_dtype) if weight is not None else None
    if weight is None:
        return None
    if weight.shape != (num_classes,):
        raise ValueError(
            f"`{name}` must be one-dimensional with one weight per class, shape ({num_classes},), "
            f"but it has shape {weight.shape}."
        )
    if not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise ValueError(f"`{name}` must hold finite, non-negative class weights, but it has {describe(weight)}.")
    return weight


def _warn_if_probabilities(x, name, loss_name):
    if x.size < _WARN_MIN_SIZE or (low := x.min()) < 0:  # logits almost always have a negative value: one pass
        return
    if x.max() <= 1 and low < x.max():
        warn_likely_mistake(
            f"{loss_name}: every value of `{name}` lies in [0, 1] ({describe(x)}). This loss expects logits; "
            "sigmoid is applied inside. Passing sigmoid outputs squashes them twice: pass the raw scores "
            "(the values before the sigmoid), or use binary_cross_entropy for probabilities.",
        )


# --------------------------------------------------------------------------------------------------
# binary_cross_entropy
# --------------------------------------------------------------------------------------------------
def _bce_prepare(input, target, weight, reduction):
    input, target = _prepare_pair(
        input, target, reduction, torch_fn="binary_cross_entropy", refuse_kinds="biu",
        torch_error="Found dtype Long but expected Float", torch_broadcasts="raises",
    )
    check_range(
        input, "input", 0, 1, "probabilities",
        hint="These look like logits (raw scores): use binary_cross_entropy_with_logits, which applies the "
        "sigmoid inside and stays numerically stable.",
    )
    _check_probability_target(target)
    return promote(input, target, _broadcast_weight(weight, input, "weight"))


@register(
    family="classification",
    prediction="probabilities",
    target_dtype="float; torch refuses integer and boolean targets (use target.float()) and wants the "
    "input's float dtype (lossbook promotes a float32/float64 pair)",
    target_shape="same shape as input",
    target_values="float in [0, 1] (0/1 labels or soft labels)",
    torch_function="torch.nn.functional.binary_cross_entropy",
    torch_module="torch.nn.BCELoss",
    reference="Goodfellow, Bengio & Courville, Deep Learning (2016), sec. 6.2.2.2",
)
def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    r"""Binary cross-entropy between predicted probabilities and targets in [0, 1].

    .. math:: \ell_i = -w_i\,\bigl[y_i \max(\log p_i, -100) + (1 - y_i) \max(\log(1 - p_i), -100)\bigr],
              \qquad \text{mean} = \tfrac{1}{n}\textstyle\sum_i \ell_i

    Args:
        input: probabilities ``p`` in [0, 1], any shape (values outside are refused: logits belong to
            :func:`binary_cross_entropy_with_logits`).
        target: ``y`` in [0, 1] (hard 0/1 labels or soft labels), same shape as ``input``; float
            (integer and boolean targets are refused, as PyTorch refuses them: pass ``target.astype(float)``).
        weight: optional non-negative weights broadcasting to ``input`` (e.g. shape ``(C,)`` against
            ``(N, C)``). 'mean' is the plain mean of the weighted losses (PyTorch does *not* divide by
            ``sum(weight)`` here, unlike ``cross_entropy``).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    PyTorch's conventions, matched: each log is clamped at -100, so ``p = 0`` with ``y = 1`` costs exactly
    100 instead of ``inf``; the gradient is :math:`w (p - y) / \max(p (1 - p), 10^{-12})`, so it is 0 at
    ``p = y \in \{0, 1\}`` and ``\pm 10^{12}`` at the wrong extreme (it is not the derivative of the
    clamped loss, which would be 0 there).
    Reference: ``torch.nn.functional.binary_cross_entropy``; Goodfellow et al. (2016), sec. 6.2.2.2.
    """
    input, target, weight = _bce_prepare(input, target, weight, reduction)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(input), _BCE_LOG_FLOOR)
        log_q = np.maximum(np.log1p(-input), _BCE_LOG_FLOOR)
    loss = (target - 1) * log_q - target * log_p
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction)


@binary_cross_entropy.defgrad
def _binary_cross_entropy_grad(input, target, weight=None, reduction="mean"):
    """w (p - y) / max(p (1 - p), 1e-12), PyTorch's formula (finite at p = 0 and p = 1), scaled for 'mean'."""
    input, target, weight = _bce_prepare(input, target, weight, reduction)
    grad = (input - target) / np.maximum((1 - input) * input, _BCE_GRAD_EPS)
    if weight is not None:
        grad = grad * weight
    return grad * reduction_scale(reduction, input.size)


# --------------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# --------------------------------------------------------------------------------------------------
def _bce_logits_prepare(input, target, weight, reduction, pos_weight):
    input, target = _prepare_pair(
        input, target, reduction, torch_fn="binary_cross_entropy_with_logits", refuse_kinds="biu",
        torch_error="result type Float can't be cast to the desired output type Long", torch_broadcasts="raises",
    )
    _check_probability_target(target)
    weight = _broadcast_weight(weight, input, "weight")
    pos_weight = _broadcast_weight(pos_weight, input, "pos_weight", "positive-class weights")
    _warn_if_probabilities(input, "input", "binary_cross_entropy_with_logits")
    return promote(input, target, weight, pos_weight)


@register(
    family="classification",
    prediction="logits",
    target_dtype="float; torch refuses integer and boolean targets (use target.float()); mixed float dtypes "
    "are promoted",
    target_shape="same shape as input",
    target_values="float in [0, 1] (0/1 labels or soft labels)",
    torch_function="torch.nn.functional.binary_cross_entropy_with_logits",
    torch_module="torch.nn.BCEWithLogitsLoss",
    reference="Goodfellow, Bengio & Courville, Deep Learning (2016), sec. 6.2.2.2",
)
def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    r"""Binary cross-entropy on logits: the sigmoid and the log fused into one stable formula.

    .. math:: \ell_i = w_i\,\bigl[(1 - y_i)\,x_i + (1 + (q_i - 1)\,y_i)\,\operatorname{softplus}(-x_i)\bigr]
              = -w_i\,\bigl[q_i\,y_i \log\sigma(x_i) + (1 - y_i)\log(1 - \sigma(x_i))\bigr]

    where :math:`q` is ``pos_weight`` (1 if not given).

    Args:
        input: logits ``x`` (any real numbers), any shape.
        target: ``y`` in [0, 1], same shape as ``input``; float (integer and boolean targets are refused, as
            PyTorch refuses them: pass ``target.astype(float)``).
        weight: optional non-negative weights broadcasting to ``input``; 'mean' is the plain mean of the
            weighted losses, as in PyTorch.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        pos_weight: optional non-negative weight of the positive term, broadcasting to ``input`` from the
            right: shape ``(C,)`` weighs each class of an ``(N, C)`` input (for ``(N, C, H, W)`` use
            ``(C, 1, 1)``). ``pos_weight = n_negative / n_positive`` balances a rare class.

    Computed with ``softplus``, so it is finite and exact for logits of any size (±1e4 included).
    The gradient is :math:`w\,[(1 + (q - 1) y)\,\sigma(x) - q\,y]`.
    Warns (:class:`~lossbook.LossInputWarning`) when ``input`` looks like probabilities: at least 16 elements, every
    one in [0, 1], not all equal (real logits almost never do that; sigmoid outputs always do).
    Reference: ``torch.nn.functional.binary_cross_entropy_with_logits``; Goodfellow et al. (2016).
    """
    input, target, weight, pos_weight = _bce_logits_prepare(input, target, weight, reduction, pos_weight)
    soft = -log_sigmoid(input)  # softplus(-x) = -log(sigmoid(x))
    if pos_weight is not None:
        soft = soft * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + soft
    if weight is not None:
        loss = loss * weight
    return reduce(loss, reduction)


@binary_cross_entropy_with_logits.defgrad
def _binary_cross_entropy_with_logits_grad(input, target, weight=None, reduction="mean", pos_weight=None):
    """w [(1 + (q - 1) y) sigmoid(x) - q y] (sigmoid(x) - y without pos_weight), scaled for 'mean'."""
    input, target, weight, pos_weight = _bce_logits_prepare(input, target, weight, reduction, pos_weight)
    if pos_weight is None:
        grad = sigmoid(input) - target
    else:
        qy = pos_weight * target
        grad = (qy + 1 - target) * sigmoid(input) - qy
    if weight is not None:
        grad = grad * weight
    return grad * reduction_scale(reduction, input.size)


def _bce_logits_kernel(input, target, pos_weight=None):
    e = np.exp(-np.abs(input))  # shared by -log sigmoid(x) and sigmoid(x) (the formulas of _stable)
    soft = np.log1p(e) - np.minimum(input, 0)  # softplus(-x) = -log sigmoid(x)
    s = np.exp(np.minimum(input, 0)) / (1 + e)  # sigmoid(x)
    if pos_weight is None:
        return (1 - target) * input + soft, s - target
    qy = pos_weight * target
    return (1 - target) * input + soft * (qy + 1 - target), (qy + 1 - target) * s - qy


@binary_cross_entropy_with_logits.defvalue_and_grad
def _binary_cross_entropy_with_logits_value_and_grad(input, target, weight=None, reduction="mean", pos_weight=None):
    """The value and the gradient at once: one validation, exp(-|x|) computed once (block by block)."""
    input, target, weight, pos_weight = _bce_logits_prepare(input, target, weight, reduction, pos_weight)
    arrays = (input, target) if pos_weight is None else (input, target, np.broadcast_to(pos_weight, input.shape))
    return value_and_grad(_bce_logits_kernel, arrays, reduction, weight=weight)





# --------------------------------------------------------------------------------------------------
# sigmoid_focal_loss
# --------------------------------------------------------------------------------------------------
def _focal_prepare(inputs, targets, alpha, gamma, reduction):
    inputs, targets = _prepare_pair(
        inputs, targets, reduction, "inputs", "targets", torch_fn="binary_cross_entropy_with_logits "
        "(which torchvision.ops.sigmoid_focal_loss calls)", refuse_kinds="biu", torch_broadcasts="raises",
    )
    _check_probability_target(targets, "targets")
    alpha = check_scalar(alpha, "alpha")
    if alpha > 1:
        raise ValueError(
            f"`alpha` must lie in [0, 1] (the weight of the positive class), or be negative to turn the "
            f"weighting off, but it is {alpha!r}."
        )
    gamma = check_nonnegative(gamma, "gamma")
    _warn_if_probabilities(inputs, "inputs", "sigmoid_focal_loss")
    return inputs, targets, alpha, gamma


def _focal_parts(x, t, alpha):
    # sigmoid(x), sigmoid(-x) and log sigmoid(x) share e = exp(-|x|) (the formulas of _stable, computed once)
    e = np.exp(-np.abs(x))
    den = 1 + e
    s = np.exp(np.minimum(x, 0)) / den  # sigmoid(x)
    s_neg = np.exp(-np.maximum(x, 0)) / den  # sigmoid(-x)
    q = s * (1 - t) + s_neg * t  # 1 - p_t, without the cancellation of 1 - (p t + (1 - p)(1 - t))
    ce = (1 - t) * x - (np.minimum(x, 0) - np.log1p(e))  # BCE = (1 - t) x - log sigmoid(x)
    a_t = 1 if alpha < 0 else alpha * t + (1 - alpha) * (1 - t)
    return s, s_neg, q, ce, a_t


@register(
    family="classification",
    prediction="logits",
    target_dtype="float; torchvision refuses integer and boolean targets (use targets.float()); mixed float "
    "dtypes are promoted",
    target_shape="same shape as inputs",
    target_values="float in [0, 1] (0/1 labels or soft labels)",
    torch_function="torchvision.ops.sigmoid_focal_loss",
    torch_module=None,
    reference="Lin, Goyal, Girshick, He & Dollár, Focal Loss for Dense Object Detection, ICCV (2017)",
)
def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    r"""Focal loss: binary cross-entropy on logits, down-weighted where the prediction is already good.

    .. math:: p = \sigma(x),\quad p_t = p\,y + (1 - p)(1 - y),\quad
              \alpha_t = \alpha\,y + (1 - \alpha)(1 - y),\quad
              \ell_i = \alpha_t\,(1 - p_t)^{\gamma}\,\operatorname{BCE}(x_i, y_i)

    Semantics of ``torchvision.ops.sigmoid_focal_loss`` (which is what PyTorch users call):

    Args:
        inputs: logits, any shape.
        targets: float labels in [0, 1] (0/1, or soft), same shape as ``inputs`` (integer and boolean targets
            are refused, as torchvision's ``binary_cross_entropy_with_logits`` call refuses them).
        alpha: weight of the positive class in [0, 1]; a negative ``alpha`` turns the weighting off
            (:math:`\alpha_t = 1`). Values above 1 are refused (torchvision accepts them and gives negative
            weights to the negatives).
        gamma: focusing exponent, >= 0 (``gamma = 0`` with ``alpha < 0`` is plain BCE-with-logits).
        reduction: **``'none'`` by default** (torchvision's default, unlike every torch.nn loss),
            ``'mean'`` or ``'sum'``.

    Stable for logits of any size: :math:`1 - p_t = \sigma(x)(1 - y) + \sigma(-x)\,y` is computed without
    the cancellation of ``1 - p_t``. Warns when ``inputs`` looks like probabilities.
    Reference: Lin et al. (2017); ``torchvision.ops.sigmoid_focal_loss``.
    """
    inputs, targets, alpha, gamma = _focal_prepare(inputs, targets, alpha, gamma, reduction)
    _, _, q, ce, a_t = _focal_parts(inputs, targets, alpha)
    return reduce(a_t * ce * q**gamma, reduction)


@sigmoid_focal_loss.defgrad
def _sigmoid_focal_loss_grad(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    r"""alpha_t [(sigmoid(x) - y)(1 - p_t)^gamma + BCE gamma (1 - p_t)^(gamma-1) sigmoid(x) sigmoid(-x) (1 - 2y)]."""
    inputs, targets, alpha, gamma = _focal_prepare(inputs, targets, alpha, gamma, reduction)
    grad = _focal_dloss(*_focal_parts(inputs, targets, alpha), targets, gamma)
    return (grad * reduction_scale(reduction, inputs.size)).astype(inputs.dtype, copy=False)


def _focal_dloss(s, s_neg, q, ce, a_t, t, gamma):
    """d loss / d x of each element, from the parts :func:`_focal_parts` returns."""
    grad = (s - t) * q**gamma
    if gamma:
        # where 1 - p_t is 0, so is sigmoid(x) sigmoid(-x): the second term vanishes (no 0 * inf).
        with np.errstate(divide="ignore", invalid="ignore"):
            dq = gamma * q ** (gamma - 1)
            if gamma < 1:  # only then is q ** (gamma - 1) infinite at q = 0 (np.where is slow: only if needed)
                dq = np.where(q > 0, dq, 0)
        grad = grad + ce * dq * s * s_neg * (1 - 2 * t)
    return a_t * grad


def _focal_kernel(inputs, targets, alpha, gamma):
    s, s_neg, q, ce, a_t = _focal_parts(inputs, targets, alpha)
    return a_t * ce * q**gamma, _focal_dloss(s, s_neg, q, ce, a_t, targets, gamma)


@sigmoid_focal_loss.defvalue_and_grad
def _sigmoid_focal_loss_value_and_grad(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """The value and the gradient at once: one validation, the sigmoids and 1 - p_t computed once."""
    inputs, targets, alpha, gamma = _focal_prepare(inputs, targets, alpha, gamma, reduction)
    return value_and_grad(_focal_kernel, (inputs, targets), reduction, params=(alpha, gamma))
