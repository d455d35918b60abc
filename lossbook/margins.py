"""Margin losses: :func:`soft_margin_loss` (±1 targets), :func:`multi_margin_loss` (class indices),
:func:`multilabel_margin_loss` (padded lists of class indices) and :func:`multilabel_soft_margin_loss`
(0/1 targets per class, the multi-label logistic loss PyTorch files under its margin losses).

Taught in Part III, chapter "Margins: hinge and friends". Per-class ``weight`` arrays follow the conventions
of :mod:`lossbook.binary`.
"""
from __future__ import annotations

import numpy as np

from ._blockwise import value_and_grad
from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import (
    sigmoid,
    softplus,
)
from ._validation import (
    as_index_array,
    as_prediction,
    check_reduction,
    check_scalar,
    describe,
    promote,
)
from .binary import (
    _broadcast_weight,
    _check_probability_target,
    _margin_class_weight,
    _prepare_pair,
    _warn_if_probabilities,
)

__all__ = ["soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss"]

# --------------------------------------------------------------------------------------------------
# soft_margin_loss
# --------------------------------------------------------------------------------------------------
def _soft_margin_prepare(input, target, reduction):
    input, target = _prepare_pair(input, target, reduction, torch_broadcasts="raises")
    if not np.all(np.abs(target) == 1):
        hint = ""
        if np.all((target == 0) | (target == 1)):
            hint = " These look like 0/1 labels: map them with `2 * target - 1`."
        raise ValueError(f"`target` must hold labels -1 or +1, but it has {describe(target)}.{hint}")
    return input, target


@register(
    family="classification",
    prediction="scores",
    target_dtype="float or int (torch converts integers and booleans); mixed float dtypes are promoted",
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
        target: labels ``y`` equal to -1 or +1 (float or integer), same shape as ``input`` (0/1 labels are refused:
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


def _soft_margin_kernel(input, target):
    z = -target * input  # minus the margin
    e = np.exp(-np.abs(z))  # shared by softplus(z) and sigmoid(z) (the formulas of _stable)
    return np.maximum(z, 0) + np.log1p(e), -target * np.exp(np.minimum(z, 0)) / (1 + e)


@soft_margin_loss.defvalue_and_grad
def _soft_margin_loss_value_and_grad(input, target, reduction="mean"):
    """The value and the gradient at once: one validation, exp(-|y x|) computed once (block by block)."""
    input, target = _soft_margin_prepare(input, target, reduction)
    return value_and_grad(_soft_margin_kernel, (input, target), reduction)


# --------------------------------------------------------------------------------------------------
# multi_margin_loss
# --------------------------------------------------------------------------------------------------
def _multi_margin_prepare(input, target, p, margin, weight, reduction):
    check_reduction(reduction)
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"`p` must be 1 or 2 (as in PyTorch), but it is {p!r}.")
    margin = check_scalar(margin, "margin")
    input = as_prediction(input, "input")
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
    target = as_index_array(target, "target", num_classes, dtypes=("int64",), fn="multi_margin_loss")
    expected = [(input.shape[0],)] if input.ndim == 2 else [(), (1,)]
    if target.shape not in expected:
        hint = " If it is one-hot, use `target.argmax(axis=1)`." if target.shape == input.shape else ""
        raise ValueError(
            f"`target` has shape {target.shape}, but for an input of shape {input.shape} multi_margin_loss "
            f"expects class indices of shape {' or '.join(str(s) for s in expected)}.{hint}"
        )
    weight = _margin_class_weight(weight, num_classes, input.dtype)
    input, weight = promote(input, weight)
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
    target_dtype="int64 class indices (torch refuses int32 and uint8 here)",
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
        target: int64 class indices (PyTorch refuses int32 and uint8 here), shape ``(N,)`` (a scalar, or shape ``(1,)``, for an input ``(C,)``);
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
def _multilabel_margin_prepare(input, target, reduction):
    check_reduction(reduction)
    input = as_prediction(input, "input")
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
    target = as_index_array(target, "target", dtypes=("int64",), fn="multilabel_margin_loss")
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
    return input, y, listed, counts > 0


def _multilabel_margin_slots(x, y, listed, is_target):
    """Yield (j, z, active) for each target slot s: j = y[:, s], z[n, k] = 1 - x[n, j] + x[n, k],
    active = slot s is listed in row n, k is not a target, and z > 0.

    Looping over the (at most C) slots rather than over samples costs O(N C k) for k targets per row,
    the same as PyTorch, without building an (N, C, C) array of pairs.
    """
    rows = np.arange(x.shape[0])
    num_slots = int(listed.sum(axis=1).max()) if listed.size else 0
    for s in range(num_slots):
        j = np.where(listed[:, s], y[:, s], 0)
        z = 1 - x[rows, j][:, None] + x
        active = listed[:, s][:, None] & ~is_target & (z > 0)
        yield j, z, active


@register(
    family="classification",
    prediction="scores",
    target_dtype="int64 class indices padded with -1 (torch refuses other integer dtypes)",
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
    input, y, listed, is_target = _multilabel_margin_prepare(input, target, reduction)
    x = input.reshape(-1, input.shape[-1])
    loss = np.zeros(x.shape[0], dtype=x.dtype)
    for _, z, active in _multilabel_margin_slots(x, y, listed, is_target):
        loss += np.where(active, z, 0).sum(axis=1)
    return reduce((loss / x.shape[1]).reshape(input.shape[:-1]), reduction)


@multilabel_margin_loss.defgrad
def _multilabel_margin_loss_grad(input, target, reduction="mean"):
    """Each active pair (j target, k not) adds -1/C to x_j and +1/C to x_k, scaled for 'mean'."""
    input, y, listed, is_target = _multilabel_margin_prepare(input, target, reduction)
    x = input.reshape(-1, input.shape[-1])
    grad = np.zeros_like(x)
    rows = np.arange(x.shape[0])
    for j, _, active in _multilabel_margin_slots(x, y, listed, is_target):
        grad += active
        np.add.at(grad, (rows, j), -active.sum(axis=1).astype(x.dtype))
    scale = reduction_scale(reduction, x.shape[0] if input.ndim == 2 else 1) / x.shape[1]
    return (grad * scale).reshape(input.shape)


# --------------------------------------------------------------------------------------------------
# multilabel_soft_margin_loss
# --------------------------------------------------------------------------------------------------
def _multilabel_soft_margin_prepare(input, target, weight, reduction):
    input, target = _prepare_pair(
        input, target, reduction, torch_fn="multilabel_soft_margin_loss", refuse_kinds="b",
        torch_error="Subtraction, the `-` operator, with a bool tensor is not supported",
        torch_broadcasts="silently",
    )
    if input.ndim == 0:
        raise ValueError("`input` must have at least one axis (the classes, last); it is a scalar.")
    _check_probability_target(target)
    weight = _broadcast_weight(weight, input, "weight")
    _warn_if_probabilities(input, "input", "multilabel_soft_margin_loss")
    return promote(input, target, weight)


@register(
    family="classification",
    prediction="logits",
    target_dtype="float or int (torch converts integers; it refuses booleans)",
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
        target: multi-hot labels (0/1, float or integer; booleans are refused, as PyTorch refuses them), same
            shape as ``input``.
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
    with np.errstate(invalid="ignore"):  # no classes: 0 / 0 = NaN per sample, as PyTorch
        return reduce(loss.sum(axis=-1) / np.asarray(input.shape[-1], loss.dtype), reduction)


@multilabel_soft_margin_loss.defgrad
def _multilabel_soft_margin_loss_grad(input, target, weight=None, reduction="mean"):
    """w (sigmoid(x) - y) / C, scaled for 'mean' over the samples."""
    input, target, weight = _multilabel_soft_margin_prepare(input, target, weight, reduction)
    grad = sigmoid(input) - target
    if weight is not None:
        grad = grad * weight
    if input.shape[-1] == 0:  # no classes: an empty gradient, as PyTorch
        return grad
    count = input.size // input.shape[-1]
    return grad * (reduction_scale(reduction, count) / input.shape[-1])
