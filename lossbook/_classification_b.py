"""Binary, margin, focal and Dice classification losses (merged into classification.py when complete).

Each loss is declared with :func:`lossbook._registry.register` (its metadata) and has its analytic
gradient defined right below it with ``@<loss>.defgrad``. Shared conventions of this part:

* per-element or per-class ``weight`` / ``pos_weight`` arrays broadcast against the input as in PyTorch,
  but may never make the result larger than the input (PyTorch raises there too); lossbook also refuses
  negative, NaN or infinite weights, which PyTorch accepts silently;
* losses that take logits warn (:class:`LossInputWarning`) when the input looks like probabilities:
  at least :data:`_WARN_MIN_SIZE` elements, every one in [0, 1], not all equal. Real logits of that many
  elements almost never all fall in [0, 1]; sigmoid outputs always do.
"""
from __future__ import annotations

import numpy as np

from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import log_sigmoid, sigmoid, softplus
from ._validation import (
    as_float_array,
    as_index_array,
    as_optional_float_array,
    check_finite,
    check_nonnegative,
    check_range,
    check_reduction,
    check_same_shape,
    check_scalar,
    describe,
    warn_likely_mistake,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "sigmoid_focal_loss",
    "dice_loss",
]

_WARN_MIN_SIZE = 16  # fewer elements than this: too little evidence to warn about probabilities-as-logits
_BCE_LOG_FLOOR = -100.0  # PyTorch clamps each log in binary_cross_entropy at -100
_BCE_GRAD_EPS = 1e-12  # ... and its backward divides by max(x (1 - x), 1e-12)


# --------------------------------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------------------------------
def _prepare_pair(input, target, reduction, input_name="input", target_name="target", allowed=("none", "mean", "sum")):
    """Validate (input, float target of the same shape, reduction); the target takes the input's dtype."""
    check_reduction(reduction, allowed)
    input = as_float_array(input, input_name)
    target = as_float_array(target, target_name).astype(input.dtype, copy=False)
    check_same_shape(input, target, input_name, target_name)
    check_finite(target, target_name)
    return input, target


def _check_probability_target(target, name="target"):
    check_range(
        target, name, 0, 1, "probabilities (0/1 labels or soft labels)",
        hint=f"If your labels are -1/+1, map them with `({name} + 1) / 2`.",
    )


def _broadcast_weight(weight, input, name, what="weights"):
    """An optional weight array in the input's dtype that broadcasts to ``input`` without enlarging it."""
    weight = as_optional_float_array(weight, name, input.dtype)
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
    """A 1-D per-class weight of length C (multi_margin_loss)."""
    weight = as_optional_float_array(weight, name, input_dtype)
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
    if x.size >= _WARN_MIN_SIZE and x.min() >= 0 and x.max() <= 1 and x.min() < x.max():
        warn_likely_mistake(
            f"{loss_name}: every value of `{name}` lies in [0, 1] ({describe(x)}). This loss expects logits; "
            "sigmoid is applied inside. Passing sigmoid outputs squashes them twice: pass the raw scores "
            "(the values before the sigmoid), or use binary_cross_entropy for probabilities.",
            stacklevel=5,  # warn_likely_mistake <- this helper <- _prepare <- the loss <- the caller
        )


# --------------------------------------------------------------------------------------------------
# binary_cross_entropy
# --------------------------------------------------------------------------------------------------
def _bce_prepare(input, target, weight, reduction):
    input, target = _prepare_pair(input, target, reduction)
    check_range(
        input, "input", 0, 1, "probabilities",
        hint="These look like logits (raw scores): use binary_cross_entropy_with_logits, which applies the "
        "sigmoid inside and stays numerically stable.",
    )
    _check_probability_target(target)
    return input, target, _broadcast_weight(weight, input, "weight")


@register(
    family="classification",
    prediction="probabilities",
    target_dtype="float (same dtype as input)",
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
        target: ``y`` in [0, 1] (hard 0/1 labels or soft labels), same shape as ``input``.
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
    input, target = _prepare_pair(input, target, reduction)
    _check_probability_target(target)
    weight = _broadcast_weight(weight, input, "weight")
    pos_weight = _broadcast_weight(pos_weight, input, "pos_weight", "positive-class weights")
    _warn_if_probabilities(input, "input", "binary_cross_entropy_with_logits")
    return input, target, weight, pos_weight


@register(
    family="classification",
    prediction="logits",
    target_dtype="float (same dtype as input)",
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
        target: ``y`` in [0, 1], same shape as ``input``.
        weight: optional non-negative weights broadcasting to ``input``; 'mean' is the plain mean of the
            weighted losses, as in PyTorch.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.
        pos_weight: optional non-negative weight of the positive term, broadcasting to ``input`` from the
            right: shape ``(C,)`` weighs each class of an ``(N, C)`` input (for ``(N, C, H, W)`` use
            ``(C, 1, 1)``). ``pos_weight = n_negative / n_positive`` balances a rare class.

    Computed with ``softplus``, so it is finite and exact for logits of any size (±1e4 included).
    The gradient is :math:`w\,[(1 + (q - 1) y)\,\sigma(x) - q\,y]`.
    Warns (:class:`LossInputWarning`) when ``input`` looks like probabilities: at least 16 elements, every
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


# --------------------------------------------------------------------------------------------------
# soft_margin_loss
# --------------------------------------------------------------------------------------------------
def _soft_margin_prepare(input, target, reduction):
    input, target = _prepare_pair(input, target, reduction)
    if not np.all(np.abs(target) == 1):
        hint = ""
        if np.all((target == 0) | (target == 1)):
            hint = " These look like 0/1 labels: map them with `2 * target - 1`."
        raise ValueError(f"`target` must hold labels -1 or +1, but it has {describe(target)}.{hint}")
    return input, target


@register(
    family="classification",
    prediction="scores",
    target_dtype="float (same dtype as input)",
    target_shape="same shape as input",
    target_values="±1 (float), same shape as input",
    torch_function="torch.nn.functional.soft_margin_loss",
    torch_module="torch.nn.SoftMarginLoss",
    reference="Goodfellow, Bengio & Courville, Deep Learning (2016), sec. 6.2.2.2 (logistic loss)",
)
def soft_margin_loss(input, target, reduction="mean"):
    r"""Two-class logistic loss on the margin :math:`y x` with labels ±1.

    .. math:: \ell_i = \log\bigl(1 + e^{-y_i x_i}\bigr) = \operatorname{softplus}(-y_i x_i)

    Args:
        input: scores ``x`` (any real numbers), any shape.
        target: labels ``y`` equal to -1 or +1, same shape as ``input`` (0/1 labels are refused:
            map them with ``2 * t - 1``).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Equal to ``binary_cross_entropy_with_logits(x, (y + 1) / 2)``. The gradient is
    :math:`-y\,\sigma(-y x)`.

    Where lossbook differs from PyTorch: PyTorch evaluates ``log(1 + exp(-y x))`` literally, so it returns
    ``inf`` (and a NaN gradient) once ``-y x`` exceeds about 709 in float64 (88 in float32); lossbook uses
    ``softplus`` and returns the finite, correct value ``-y x`` (gradient ``-y``) there.
    Reference: ``torch.nn.functional.soft_margin_loss``.
    """
    input, target = _soft_margin_prepare(input, target, reduction)
    return reduce(softplus(-target * input), reduction)


@soft_margin_loss.defgrad
def _soft_margin_loss_grad(input, target, reduction="mean"):
    """-y sigmoid(-y x), computed stably, scaled for 'mean'."""
    input, target = _soft_margin_prepare(input, target, reduction)
    return -target * sigmoid(-target * input) * reduction_scale(reduction, input.size)


# --------------------------------------------------------------------------------------------------
# multi_margin_loss
# --------------------------------------------------------------------------------------------------
def _multi_margin_prepare(input, target, p, margin, weight, reduction):
    check_reduction(reduction)
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"`p` must be 1 or 2 (as in PyTorch), but it is {p!r}.")
    margin = check_scalar(margin, "margin")
    input = as_float_array(input, "input")
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(
            f"`input` must have shape (N, C) or (C,) with C >= 1 (one score per class), but it has shape "
            f"{input.shape}."
        )
    num_classes = input.shape[-1]
    target = np.asarray(target)
    if target.dtype.kind == "f" and target.shape == input.shape and input.ndim == 2:
        raise TypeError(
            f"`target` has {describe(target)}, the input's shape: one-hot rows? multi_margin_loss expects "
            "integer class indices of shape (N,): use `target.argmax(axis=1)`."
        )
    target = as_index_array(target, "target", num_classes)
    expected = [(input.shape[0],)] if input.ndim == 2 else [(), (1,)]
    if target.shape not in expected:
        hint = " If it is one-hot, use `target.argmax(axis=1)`." if target.shape == input.shape else ""
        raise ValueError(
            f"`target` has shape {target.shape}, but for an input of shape {input.shape} multi_margin_loss "
            f"expects class indices of shape {' or '.join(str(s) for s in expected)}.{hint}"
        )
    weight = _margin_class_weight(weight, num_classes, input.dtype)
    return input, target, p, margin, weight


def _multi_margin_terms(input, target, margin):
    """(N, C) scores, (N,) indices, and z[n, j] = margin - x[n, y_n] + x[n, j] with the target column masked."""
    x = input.reshape(-1, input.shape[-1])
    y = target.reshape(-1)
    z = margin - np.take_along_axis(x, y[:, None], axis=1) + x
    other = np.ones(x.shape, dtype=bool)
    other[np.arange(x.shape[0]), y] = False
    return x, y, z, other & (z > 0)


@register(
    family="classification",
    prediction="scores",
    target_dtype="int64 class indices",
    target_shape="(N,) for input (N, C); a scalar for input (C,)",
    target_values="integers in [0, C-1]",
    torch_function="torch.nn.functional.multi_margin_loss",
    torch_module="torch.nn.MultiMarginLoss",
    reference="Weston & Watkins (1999), Support Vector Machines for Multi-Class Pattern Recognition; "
    "Crammer & Singer (2001), JMLR 2",
)
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    r"""Multi-class hinge loss: every wrong class should score ``margin`` below the right one.

    .. math:: \ell_n = \frac{w_{y_n}}{C} \sum_{j \ne y_n} \max\bigl(0,\ \text{margin} - x_{n, y_n} + x_{n, j}\bigr)^p

    Args:
        input: scores of shape ``(N, C)``, or ``(C,)`` for one sample.
        target: integer class indices, shape ``(N,)`` (a scalar, or shape ``(1,)``, for an input ``(C,)``);
            one-hot rows are refused with the ``argmax`` fix.
        p: 1 (hinge) or 2 (squared hinge); nothing else, as in PyTorch.
        margin: the required gap (any real number; PyTorch allows negative margins too).
        weight: optional per-class weights, shape ``(C,)``: the *target* class's weight multiplies the
            sample's loss. 'mean' still divides by ``N`` (not by the sum of the weights).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shaped like ``target``).

    This is the Weston-Watkins form (a sum over wrong classes) divided by ``C``, PyTorch's convention;
    Crammer & Singer take the maximum instead. At the kink (a term exactly 0) the gradient is 0, PyTorch's
    choice. With ``N = 0`` the 'mean' is NaN (PyTorch 2.13 returns a meaningless
    number there, e.g. 4.7e-310).
    Reference: ``torch.nn.functional.multi_margin_loss``; Weston & Watkins (1999); Crammer & Singer (2001).
    """
    input, target, p, margin, weight = _multi_margin_prepare(input, target, p, margin, weight, reduction)
    x, y, z, active = _multi_margin_terms(input, target, margin)
    h = np.where(active, z, 0) ** p
    if weight is not None:
        h = h * weight[y][:, None]
    loss = (h.sum(axis=1) / x.shape[1]).reshape(target.shape)
    return reduce(loss, reduction)


@multi_margin_loss.defgrad
def _multi_margin_loss_grad(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """Each active term adds p z^(p-1) w_y / C to its wrong class and subtracts it from the target class."""
    input, target, p, margin, weight = _multi_margin_prepare(input, target, p, margin, weight, reduction)
    x, y, z, active = _multi_margin_terms(input, target, margin)
    d = np.where(active, 1.0 if p == 1 else 2 * z, 0).astype(x.dtype, copy=False)
    if weight is not None:
        d = d * weight[y][:, None]
    d[np.arange(x.shape[0]), y] = -d.sum(axis=1)
    return (d * (reduction_scale(reduction, target.size) / x.shape[1])).reshape(input.shape)


# --------------------------------------------------------------------------------------------------
# multilabel_margin_loss
# --------------------------------------------------------------------------------------------------
_PAIR_BUDGET = 1 << 22  # elements of the (rows, C, C) pair array built at once


def _multilabel_margin_prepare(input, target, reduction):
    check_reduction(reduction)
    input = as_float_array(input, "input")
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(
            f"`input` must have shape (N, C) or (C,) with C >= 1, but it has shape {input.shape}."
        )
    target = np.asarray(target)
    if target.dtype.kind == "f":
        raise TypeError(
            f"`target` must hold integer class indices padded with -1, but it has {describe(target)}. "
            "multilabel_margin_loss does not take multi-hot 0/1 rows: for those use "
            "multilabel_soft_margin_loss, or convert each row to its indices followed by -1."
        )
    target = as_index_array(target, "target")
    if target.shape != input.shape:
        raise ValueError(
            f"`target` has shape {target.shape} but `input` has shape {input.shape}; multilabel_margin_loss "
            "expects a target of the input's shape holding class indices followed by -1 padding "
            "(e.g. [3, 0, -1, -1] for classes 3 and 0 out of 4)."
        )
    num_classes = input.shape[-1]
    if target.size and (target.min() < -1 or target.max() >= num_classes):
        raise IndexError(
            f"`target` holds values in [{target.min()}, {target.max()}], but with {num_classes} classes it "
            f"must hold class indices in [0, {num_classes - 1}] or the padding value -1 (PyTorch checks every "
            "entry, even after the first -1)."
        )
    y = target.reshape(-1, num_classes)
    listed = np.cumprod(y != -1, axis=1).astype(bool)  # entries before the first -1
    rows = np.nonzero(listed)[0]
    counts = np.bincount(rows * num_classes + y[listed], minlength=y.size).reshape(y.shape)
    if counts.size and counts.max() > 1:
        n = int(np.argmax(counts.max(axis=1) > 1))
        hint = ""
        if np.all(listed[n]) and np.all((y[n] == 0) | (y[n] == 1)):
            hint = (
                " It looks like a multi-hot 0/1 row, which this format misreads as the class indices 0 and 1: "
                "use multilabel_soft_margin_loss for multi-hot targets, or convert each row to its indices "
                "followed by -1 (e.g. [0, 1, 1, 0] -> [1, 2, -1, -1])."
            )
        raise ValueError(
            f"`target` row {n} ({y[n].tolist()}) lists a class index more than once before its first -1. "
            "multilabel_margin_loss expects distinct class indices followed by -1 padding; PyTorch would count "
            f"the repeated class twice.{hint}"
        )
    return input, counts > 0


def _multilabel_margin_blocks(x, is_target):
    """Yield (rows, z, active) per block of rows: z[n, j, k] = 1 - x_j + x_k; active: j a target, k not, z > 0."""
    n, c = x.shape
    step = max(1, _PAIR_BUDGET // (c * c))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        xb, tb = x[rows], is_target[rows]
        z = 1 - xb[:, :, None] + xb[:, None, :]
        active = tb[:, :, None] & ~tb[:, None, :] & (z > 0)
        yield rows, z, active


@register(
    family="classification",
    prediction="scores",
    target_dtype="int64",
    target_shape="same shape as input: (N, C) or (C,)",
    target_values="int64, same shape as input: target class indices, then -1 padding (entries after the first "
    "-1 are ignored); not multi-hot",
    torch_function="torch.nn.functional.multilabel_margin_loss",
    torch_module="torch.nn.MultiLabelMarginLoss",
    reference="Weston & Watkins (1999); Crammer & Singer (2001), JMLR 2 (multi-label hinge ranking)",
)
def multilabel_margin_loss(input, target, reduction="mean"):
    r"""Multi-label hinge loss: every target class should score at least 1 above every non-target class.

    .. math:: \ell_n = \frac{1}{C} \sum_{j \in T_n} \sum_{k \notin T_n} \max\bigl(0,\ 1 - (x_{n, j} - x_{n, k})\bigr)

    Args:
        input: scores of shape ``(N, C)`` or ``(C,)``.
        target: **integers of the input's shape holding the target class indices followed by -1 padding**:
            ``[3, 0, -1, -1]`` means classes 3 and 0 out of 4; everything after the first -1 is ignored
            (but must still lie in [-1, C-1], as PyTorch checks). This is *not* a multi-hot vector: a 0/1
            row ``[0, 1, 1, 0]`` would be read as the classes 0 and 1. lossbook refuses rows that list a
            class twice (PyTorch silently counts it twice), which catches multi-hot rows of 3 or more
            classes; for multi-hot targets use :func:`multilabel_soft_margin_loss`.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shape ``(N,)``, or a scalar for ``(C,)``).

    At the kink (``x_j - x_k`` exactly 1) the gradient is 0, PyTorch's choice.
    Reference: ``torch.nn.functional.multilabel_margin_loss``.
    """
    input, is_target = _multilabel_margin_prepare(input, target, reduction)
    x = input.reshape(-1, input.shape[-1])
    loss = np.zeros(x.shape[0], dtype=x.dtype)
    for rows, z, active in _multilabel_margin_blocks(x, is_target):
        loss[rows] = np.where(active, z, 0).sum(axis=(1, 2))
    return reduce((loss / x.shape[1]).reshape(input.shape[:-1]), reduction)


@multilabel_margin_loss.defgrad
def _multilabel_margin_loss_grad(input, target, reduction="mean"):
    """Each active pair (j target, k not) adds -1/C to x_j and +1/C to x_k, scaled for 'mean'."""
    input, is_target = _multilabel_margin_prepare(input, target, reduction)
    x = input.reshape(-1, input.shape[-1])
    grad = np.zeros_like(x)
    for rows, _, active in _multilabel_margin_blocks(x, is_target):
        grad[rows] = active.sum(axis=1) - active.sum(axis=2)
    scale = reduction_scale(reduction, x.shape[0] if input.ndim == 2 else 1) / x.shape[1]
    return (grad * scale).reshape(input.shape)


# --------------------------------------------------------------------------------------------------
# multilabel_soft_margin_loss
# --------------------------------------------------------------------------------------------------
def _multilabel_soft_margin_prepare(input, target, weight, reduction):
    input, target = _prepare_pair(input, target, reduction)
    if input.ndim == 0:
        raise ValueError("`input` must have at least one axis (the classes, last); it is a scalar.")
    _check_probability_target(target)
    weight = _broadcast_weight(weight, input, "weight")
    _warn_if_probabilities(input, "input", "multilabel_soft_margin_loss")
    return input, target, weight


@register(
    family="classification",
    prediction="logits",
    target_dtype="float or int (converted to the input's float dtype)",
    target_shape="same shape as input: (N, C) or (C,), classes last",
    target_values="multi-hot 0/1 (soft values in [0, 1] allowed)",
    torch_function="torch.nn.functional.multilabel_soft_margin_loss",
    torch_module="torch.nn.MultiLabelSoftMarginLoss",
    reference="Goodfellow, Bengio & Courville, Deep Learning (2016), sec. 6.2.2.2",
)
def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    r"""Multi-label logistic loss: one binary cross-entropy per class on logits, averaged over the classes.

    .. math:: \ell_n = \frac{1}{C} \sum_{c} w_c \bigl[y_{n,c}\,\operatorname{softplus}(-x_{n,c})
              + (1 - y_{n,c})\,\operatorname{softplus}(x_{n,c})\bigr]

    Args:
        input: logits with the classes on the last axis: ``(N, C)``, ``(C,)`` (PyTorch also accepts
            more leading axes, and so does lossbook).
        target: multi-hot labels (0/1, float or int), same shape as ``input``.
        weight: optional non-negative per-class weights ``(C,)`` (or anything broadcasting to ``input``).
        reduction: ``'mean'`` (default, over samples), ``'sum'`` or ``'none'`` (the input's shape without
            its last axis).

    Stable for logits of any size (``softplus``); the gradient is :math:`w (\sigma(x) - y) / C`.
    Equal to ``binary_cross_entropy_with_logits(x, y, weight, 'none').mean(-1)`` reduced over samples.
    Warns when ``input`` looks like probabilities.
    Reference: ``torch.nn.functional.multilabel_soft_margin_loss``.
    """
    input, target, weight = _multilabel_soft_margin_prepare(input, target, weight, reduction)
    loss = target * softplus(-input) + (1 - target) * softplus(input)
    if weight is not None:
        loss = loss * weight
    return reduce(loss.sum(axis=-1) / input.shape[-1], reduction)


@multilabel_soft_margin_loss.defgrad
def _multilabel_soft_margin_loss_grad(input, target, weight=None, reduction="mean"):
    """w (sigmoid(x) - y) / C, scaled for 'mean' over the samples."""
    input, target, weight = _multilabel_soft_margin_prepare(input, target, weight, reduction)
    grad = sigmoid(input) - target
    if weight is not None:
        grad = grad * weight
    count = input.size // input.shape[-1] if input.shape[-1] else 0
    return grad * (reduction_scale(reduction, count) / input.shape[-1])


# --------------------------------------------------------------------------------------------------
# sigmoid_focal_loss
# --------------------------------------------------------------------------------------------------
def _focal_prepare(inputs, targets, alpha, gamma, reduction):
    inputs, targets = _prepare_pair(inputs, targets, reduction, "inputs", "targets")
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
    s, s_neg = sigmoid(x), sigmoid(-x)
    q = s * (1 - t) + s_neg * t  # 1 - p_t, without the cancellation of 1 - (p t + (1 - p)(1 - t))
    ce = (1 - t) * x - log_sigmoid(x)
    a_t = 1 if alpha < 0 else alpha * t + (1 - alpha) * (1 - t)
    return s, s_neg, q, ce, a_t


@register(
    family="classification",
    prediction="logits",
    target_dtype="float (same dtype as inputs)",
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
        targets: labels in [0, 1] (0/1, or soft), same shape as ``inputs``.
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
    s, s_neg, q, ce, a_t = _focal_parts(inputs, targets, alpha)
    grad = (s - targets) * q**gamma
    if gamma:
        # where 1 - p_t is 0, so is sigmoid(x) sigmoid(-x): the second term vanishes (no 0 * inf).
        with np.errstate(divide="ignore", invalid="ignore"):
            dq = np.where(q > 0, gamma * q ** (gamma - 1), 0)
        grad = grad + ce * dq * s * s_neg * (1 - 2 * targets)
    return (a_t * grad * reduction_scale(reduction, inputs.size)).astype(inputs.dtype, copy=False)


# --------------------------------------------------------------------------------------------------
# dice_loss
# --------------------------------------------------------------------------------------------------
def _dice_prepare(input, target, smooth, reduction):
    input, target = _prepare_pair(input, target, reduction)
    if input.ndim < 2:
        raise ValueError(
            f"`input` must have shape (N, ...) with at least one axis after the batch axis, but it has shape "
            f"{input.shape}. For a single sample add a batch axis: `input[None]` (and `target[None]`)."
        )
    check_range(
        input, "input", 0, 1, "probabilities",
        hint="Apply a sigmoid (or a softmax over the class axis) to the logits first.",
    )
    _check_probability_target(target)
    smooth = check_nonnegative(smooth, "smooth")
    return input, target, smooth


def _dice_sums(p, t, smooth):
    axes = tuple(range(1, p.ndim))
    num = 2 * (p * t).sum(axis=axes) + smooth
    den = p.sum(axis=axes) + t.sum(axis=axes) + smooth
    return num, den


@register(
    family="classification",
    prediction="probabilities",
    target_dtype="float (same dtype as input)",
    target_shape="same shape as input: (N, ...)",
    target_values="0/1 mask (soft values in [0, 1] allowed)",
    torch_function=None,
    torch_module=None,
    reference="Milletari, Navab & Ahmadi, V-Net, 3DV (2016)",
)
def dice_loss(input, target, smooth=1.0, reduction="mean"):
    r"""Soft Dice loss: one minus the (smoothed) overlap between a predicted and a true mask, per sample.

    .. math:: \ell_n = 1 - \frac{2 \sum_i p_{n,i}\,y_{n,i} + s}{\sum_i p_{n,i} + \sum_i y_{n,i} + s}

    (sums over every non-batch element). Not in PyTorch; this is lossbook's convention:

    Args:
        input: probabilities ``p`` in [0, 1] of shape ``(N, ...)`` (e.g. ``(N, H, W)`` or ``(N, C, H, W)``,
            where a class axis is pooled with the pixels; call it per class for a per-class Dice).
        target: the mask ``y`` (0/1, or soft values in [0, 1]), same shape as ``input``.
        smooth: ``s >= 0`` added to numerator and denominator: an empty prediction of an empty mask scores 0
            loss, and the gradient stays finite. With ``s = 0`` that case is 0/0 = NaN.
        reduction: ``'mean'`` (default, over samples), ``'sum'`` or ``'none'`` (shape ``(N,)``).

    The squared-denominator variant of Milletari et al. (sums of ``p**2`` and ``y**2``) is not this one.
    The gradient is :math:`\partial \ell_n / \partial p_{n,i} = \bigl(A - 2 y_{n,i} B\bigr) / B^2` with
    :math:`A` the numerator and :math:`B` the denominator above.
    Reference: Milletari et al. (2016).
    """
    input, target, smooth = _dice_prepare(input, target, smooth, reduction)
    num, den = _dice_sums(input, target, smooth)
    return reduce((1 - num / den).astype(input.dtype, copy=False), reduction)


@dice_loss.defgrad
def _dice_loss_grad(input, target, smooth=1.0, reduction="mean"):
    """(A - 2 y B) / B^2 per sample (A numerator, B denominator), scaled for 'mean' over samples."""
    input, target, smooth = _dice_prepare(input, target, smooth, reduction)
    num, den = _dice_sums(input, target, smooth)
    shape = (-1,) + (1,) * (input.ndim - 1)
    num, den = num.reshape(shape), den.reshape(shape)
    grad = (num - 2 * target * den) / den**2
    return (grad * reduction_scale(reduction, input.shape[0])).astype(input.dtype, copy=False)
