"""The softmax family: :func:`cross_entropy` (on logits), :func:`nll_loss` (on log-probabilities) and
:func:`kl_div` (log-probabilities against a target distribution).

Taught in Part III, chapters "From scores to probabilities", "Cross-entropy" and "Divergences and distillation".
Each loss is declared with ``register`` (its metadata) and has its analytic gradient right below it.
The private helpers at the top (class axis, index targets, class weights, the weighted-mean normaliser)
serve any loss whose prediction carries a class axis: axis 1 for batched input ``(N, C, d1, ...)``,
axis 0 for one unbatched sample ``(C,)``, as in PyTorch.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._reduction import reduce
from ._registry import register
from ._stable import (
    log_softmax,
    xlogy,
)
from ._validation import (
    as_float_array,
    as_index_array,
    as_prediction,
    check_finite,
    check_range,
    check_reduction,
    check_same_shape,
    check_scalar,
    describe,
    promote,
    refuse_target_dtype,
    warn_likely_mistake,
)

__all__ = ["cross_entropy", "nll_loss", "kl_div"]

_REFERENCE_CE = (
    "Goodfellow, Bengio & Courville, Deep Learning (2016), ch. 6.2.2; "
    "Szegedy et al., Rethinking the Inception Architecture for Computer Vision (CVPR 2016), sec. 7 (label smoothing)"
)


# ----------------------------------------------------------------------------------------------------------------
# Shared helpers for losses with a class axis
# ----------------------------------------------------------------------------------------------------------------


def _class_axis(input: np.ndarray, fn: str) -> int:
    """The class axis of a prediction: 0 for one unbatched sample ``(C,)``, else 1 (``(N, C, d1, ...)``)."""
    if input.ndim == 0:
        raise ValueError(
            f"{fn}: `input` is a scalar ({describe(input)}), but it must have a class axis: shape (C,) for one "
            "sample, (N, C) for a batch, or (N, C, d1, ...) for per-pixel classes."
        )
    axis = 0 if input.ndim == 1 else 1
    if input.shape[axis] == 0:
        raise ValueError(f"{fn}: `input` has shape {input.shape}, with no classes on its class axis {axis}.")
    return axis


def _index_shape(input: np.ndarray, axis: int) -> tuple:
    """The shape of class-index targets for ``input``: its shape without the class axis."""
    return input.shape[:axis] + input.shape[axis + 1 :]


def _check_ignore_index(ignore_index) -> int:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(
            f"`ignore_index` must be an integer, but it is {ignore_index!r} ({type(ignore_index).__name__})."
        )
    return int(ignore_index)


def _index_target(input: np.ndarray, target, axis: int, ignore_index: int, fn: str):
    """Validate class-index targets against ``input``; return ``(safe, keep)``.

    ``keep`` is False where the target equals ``ignore_index``; ``safe`` is the int64 target with those
    positions replaced by class 0, so it can index any class-axis array (their contributions are masked
    out with ``keep``). Both are shaped like ``input`` without its class axis.
    """
    t = np.asarray(target)
    expected = _index_shape(input, axis)
    C = input.shape[axis]
    if t.dtype.kind not in "iu":
        if t.shape == input.shape and t.dtype.kind in "fb":
            raise TypeError(
                f"{fn}: `target` has the input's shape {t.shape} and dtype {t.dtype}: it looks like one-hot rows or "
                f"class probabilities, but {fn} takes integer class indices of shape {expected}. "
                f"Use `target.argmax(axis={axis})`"
                + (", or cross_entropy, which accepts probability targets." if fn == "nll_loss" else ".")
            )
        if t.dtype.kind == "f" and t.shape == expected:
            whole = t.size and np.all(np.isfinite(t)) and np.all(t == np.round(t))
            fix = "use `target.astype(np.int64)`" if whole else "they must be whole numbers in [0, C-1]"
            raise TypeError(
                f"{fn}: `target` has {describe(t)}, but class indices must be integers: {fix}."
            )
        if t.dtype.kind not in "iu":
            raise TypeError(
                f"{fn}: `target` must hold integer class indices of shape {expected}, but it has {describe(t)}."
            )
    if t.shape != expected:
        onehot_like = t.shape == input.shape and np.all((t == 0) | (t == 1)) and np.all(t.sum(axis=axis) == 1)
        if onehot_like or (t.shape == input.shape and input.ndim > 1):
            hint = f" It looks like one-hot rows; use `target.argmax(axis={axis})` to get class indices."
        elif t.shape == expected + (1,):
            hint = " It has a trailing axis of size 1; squeeze it with `target.squeeze(-1)`."
        elif input.ndim == 1 and t.ndim == 1:
            hint = (
                f" A 1-D input of shape {input.shape} is ONE unbatched sample with {C} classes. "
                f"For {t.shape[0]} samples, "
                f"give input of shape ({t.shape[0]}, C); for binary labels with one logit per sample, use "
                "binary_cross_entropy_with_logits."
            )
        elif input.ndim >= 3 and t.shape == input.shape[:-1]:
            hint = (
                " The class axis is axis 1 (channels first, as in PyTorch). For channels-last logits of shape "
                "(N, d1, ..., C) use `np.moveaxis(input, -1, 1)`."
            )
        else:
            hint = ""
        raise ValueError(
            f"{fn}: `target` has shape {t.shape}, but class indices for `input` of shape {input.shape} must have "
            f"shape {expected} (the input's shape without its class axis {axis}).{hint}"
        )
    t = as_index_array(t, "target", num_classes=C, ignore_index=ignore_index, dtypes=("int64", "uint8"), fn=fn)
    keep = t != ignore_index
    return np.where(keep, t, 0), keep


def _class_weight(weight, C: int, dtype, fn: str):
    """Validate an optional per-class weight: shape (C,), finite, non-negative (integers become ``dtype``)."""
    if weight is None:
        return None
    w = as_float_array(weight, "weight", int_dtype=dtype)
    if w.shape != (C,):
        raise ValueError(
            f"{fn}: `weight` has shape {w.shape}, but it must hold one weight per class: shape ({C},). "
            "(Per-sample weights are not supported by this loss: multiply the 'none' result instead.)"
        )
    check_finite(w, "weight")
    if np.any(w < 0):
        raise ValueError(f"{fn}: `weight` must be non-negative, but it has {describe(w)}.")
    return w


def _along(v: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """Reshape a per-class vector ``(C,)`` so it broadcasts along ``axis`` of an ``ndim``-d array."""
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


def _gather(a: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    """``a`` at class ``idx`` along ``axis`` (``idx`` is shaped like ``a`` without that axis)."""
    return np.take_along_axis(a, np.expand_dims(idx, axis), axis).squeeze(axis)


def _target_weight(weight, safe, keep, dtype):
    """w[target] at every position, 0 where the target is ignored (all ones without class weights)."""
    w_t = weight[safe] if weight is not None else np.ones(safe.shape, dtype=dtype)
    return np.where(keep, w_t, np.zeros((), dtype=dtype))


def _index_scale(reduction: str, w_t: np.ndarray, keep: np.ndarray):
    """Per-position d(reduced)/d(loss_i) for index targets.

    PyTorch's 'mean' divides by the sum of the weights of the non-ignored targets (their count without
    class weights). Ignored positions get 0, even when that sum is 0 (every target ignored): PyTorch's
    gradient is 0 there while the value is NaN. Kept positions whose total weight is 0 (all of them have
    class weight 0) get NaN, as in PyTorch.
    """
    if reduction != "mean":
        return keep.astype(w_t.dtype)
    total = w_t.sum(dtype=w_t.dtype)
    inv = np.asarray(1 / total if total != 0 else np.nan, dtype=w_t.dtype)
    return np.where(keep, inv, np.zeros((), dtype=w_t.dtype))


def _index_reduce(loss: np.ndarray, reduction: str, w_t: np.ndarray) -> np.ndarray:
    """Reduce per-position losses of index targets; 'mean' is sum(loss) / sum(w[target]).

    A zero denominator (every target ignored, or every kept target of weight 0) gives NaN, as in PyTorch,
    whose 'mean' of the NLL term is then 0/0 (even when a label-smoothing term adds a non-zero numerator).
    """
    if reduction == "none":
        # ignored positions hold -0.0 (minus a masked zero); torch returns 0.0 there
        return reduce(loss + np.zeros((), loss.dtype), reduction)
    if reduction != "mean":
        return reduce(loss, reduction)
    total = w_t.sum(dtype=loss.dtype)
    if total == 0:
        return np.asarray(np.nan, dtype=loss.dtype)
    return np.asarray(loss.sum(dtype=loss.dtype) / total)


def _looks_like_probabilities(x: np.ndarray) -> bool:
    """All values in [0, 1] and at least one > 0: impossible for log-probabilities (which are <= 0)."""
    if x.size == 0:
        return False
    hi = x.max()
    return bool(0 < hi <= 1 and x.min() >= 0)


# ----------------------------------------------------------------------------------------------------------------
# cross_entropy
# ----------------------------------------------------------------------------------------------------------------


def _warn_if_softmax_output(input: np.ndarray, axis: int) -> None:
    """Heuristic: every value in [0, 1] and every slice along the class axis summing to 1 (within 1e-3).

    Only checked for C >= 2 and at least 4 values, where random or trained logits essentially never look
    like this; a tiny input such as ``[0.5, 0.5]`` is left alone.
    """
    if input.shape[axis] < 2 or input.size < 4:
        return
    if not (input.min() >= 0 and input.max() <= 1):  # logits almost always fail the first test: one pass
        return
    if np.all(np.abs(input.sum(axis=axis) - 1) <= 1e-3):
        warn_likely_mistake(
            "cross_entropy expects raw logits; it applies log_softmax itself. Passing probabilities (softmax "
            "outputs) applies softmax twice, which flattens the predictions and shrinks the gradients. Pass the "
            "logits (the values before softmax), or pass np.log(probabilities) (log-probabilities are fine).",
        )


def _probability_target(input: np.ndarray, target, axis: int, ignore_index: int) -> np.ndarray:
    """Validate float class-probability targets (the input's shape, finite, in [0, 1])."""
    t = np.asarray(target)
    expected = _index_shape(input, axis)
    if t.shape != input.shape:
        if t.shape == expected:
            whole = t.size and np.all(np.isfinite(t)) and np.all(t == np.round(t))
            fix = (
                "use `target.astype(np.int64)`"
                if whole
                else f"for class probabilities give one row per sample: shape {input.shape}"
            )
            raise TypeError(
                f"cross_entropy: `target` has {describe(t)}: that is the shape of class indices, but class indices "
                f"must be integers: {fix}."
            )
        raise ValueError(
            f"cross_entropy: float `target` is read as class probabilities, which must have the input's shape "
            f"{input.shape}, but it has shape {t.shape}. Give one-hot or probability rows of shape {input.shape}, "
            f"or integer class indices of shape {expected}."
        )
    if ignore_index >= 0:
        raise ValueError(
            f"cross_entropy: `ignore_index`={ignore_index} applies only to class-index targets, but `target` holds "
            "class probabilities (PyTorch refuses this too). Leave ignore_index at its default (-100); to skip "
            "positions with probability targets, compute reduction='none' and mask the result."
        )
    check_finite(t, "target")
    check_range(t, "target", 0.0, 1.0, "class probabilities",
                hint="Probability targets sum to 1 over the class axis; for class indices use an integer array.")
    if t.size and not np.all(np.abs(t.sum(axis=axis) - 1) <= 1e-3):
        warn_likely_mistake(
            f"cross_entropy: the probability `target` does not sum to 1 along the class axis {axis} "
            f"(sums in [{t.sum(axis=axis).min():.4g}, {t.sum(axis=axis).max():.4g}]). The loss is still computed, "
            "but it is then not a cross-entropy between distributions; normalise the target rows.",
        )
    return t


def _ce_prepare(input, target, weight, ignore_index, reduction, label_smoothing):
    check_reduction(reduction)
    input = as_prediction(input, "input")
    axis = _class_axis(input, "cross_entropy")
    C = input.shape[axis]
    ignore_index = _check_ignore_index(ignore_index)
    eps = check_scalar(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(
            f"`label_smoothing` must lie in [0, 1], but it is {label_smoothing!r}. (PyTorch silently accepts "
            "negative values, which sharpen instead of smooth; 0.1 is a common choice.)"
        )
    weight = _class_weight(weight, C, input.dtype, "cross_entropy")
    kind = np.asarray(target).dtype.kind
    if kind == "f":
        target = _probability_target(input, target, axis, ignore_index)
        input, target, weight = promote(input, target, weight)
    else:
        target = _index_target(input, target, axis, ignore_index, "cross_entropy")
        input, weight = promote(input, weight)
    _warn_if_softmax_output(input, axis)
    return input, target, weight, axis, C, eps


@register(
    family="classification",
    prediction="logits",
    target_dtype="class indices: int64 or uint8 (torch refuses int32); probabilities: float (a target "
    "shaped like the input is read as probabilities)",
    target_shape="indices: input's shape without the class axis C ((N,) for (N, C), () for (C,)); "
    "probabilities: same shape as input",
    target_values="indices in [0, C-1] or ignore_index; probabilities in [0, 1] summing to 1 over C",
    torch_function="torch.nn.functional.cross_entropy",
    torch_module="torch.nn.CrossEntropyLoss",
    reference=_REFERENCE_CE,
)
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy between a softmax over the logits and the target class (or distribution).

    With :math:`\log p_{ic} = x_{ic} - \log\sum_k e^{x_{ik}}` (log_softmax over the class axis), smoothing
    :math:`\varepsilon` and class weights :math:`w` (all ones if not given):

    .. math::
        \text{indices: } \ell_i = (1-\varepsilon)\, w_{y_i} \,(-\log p_{i y_i})
            + \frac{\varepsilon}{C} \sum_{c} w_c\,(-\log p_{ic}), \qquad
        \text{mean} = \frac{\sum_i \ell_i}{\sum_{i:\,y_i \ne \text{ignore}} w_{y_i}}

        \text{probabilities: } \ell_i = -\sum_c w_c\, q_{ic} \log p_{ic}, \quad
            q_{ic} = (1-\varepsilon)\, y_{ic} + \frac{\varepsilon}{C}, \qquad
        \text{mean} = \frac{1}{N d_1 \cdots d_K}\sum_i \ell_i

    Args:
        input: logits (raw scores, NOT probabilities), shape ``(C,)`` for one sample, ``(N, C)``, or
            ``(N, C, d1, ...)`` (the class axis is axis 1, channels first).
        target: either class indices (int64 or uint8, as PyTorch takes them; int32 is refused) of the input's
            shape without the class axis (``()``, ``(N,)``, ``(N, d1, ...)``), values in ``[0, C-1]`` or
            ``ignore_index``; or float class probabilities of the input's shape, in [0, 1], summing to 1 over
            the class axis. The shape decides which, as in PyTorch: a target shaped like the input is read as
            probabilities (and must then be floating point), any other as indices.
        weight: optional per-class weight, shape ``(C,)``, non-negative.
        ignore_index: index-target positions equal to it contribute nothing (nor to the 'mean' denominator).
            Only for index targets (a non-negative value with probability targets is refused, as in PyTorch).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shaped like the index target).
        label_smoothing: :math:`\varepsilon \in [0, 1]`, mixing the target with the uniform distribution.

    PyTorch's conventions, followed exactly:

    * with ``weight``, index-target 'mean' divides by the sum of the weights of the non-ignored targets,
      not by their count; when every target is ignored the value is NaN (0/0) and the gradient is 0;
    * with label smoothing and index targets, the smoothing term is weighted by every class's weight
      :math:`w_c` yet normalised by the same :math:`\sum w_{y_i}` as the main term;
    * probability targets: the weight multiplies each class term, and 'mean' divides by the number of
      positions :math:`N d_1 \cdots d_K`, never by the weights; smoothing applies to the target rows.
    * an unbatched ``(C,)`` input with an ignored target gives NaN for 'mean' and 0 for 'none'.

    Differences from PyTorch (stricter): ``label_smoothing`` outside [0, 1] is refused (PyTorch accepts
    negative values); negative class weights, probability targets outside [0, 1] and integer one-hot
    targets are refused with a fix. Logits that look like softmax outputs (all in [0, 1], summing to 1
    over the class axis, C >= 2, at least 4 values) raise a ``LossInputWarning``. Log-probabilities are valid
    input and give the same loss (log_softmax is idempotent), so they are not warned about.

    The gradient w.r.t. the logits is :math:`s_i\,(p_{ic} \sum_k q_{ik} - q_{ic})` with :math:`q` the
    (weighted, smoothed) target distribution and :math:`s_i` the reduction factor. Stable for logits of any
    finite size (log_softmax subtracts the maximum).

    Reference: ``torch.nn.functional.cross_entropy``; Goodfellow et al. (2016), ch. 6.2.2; Szegedy et al.
    (2016) for label smoothing.
    """
    input, target, weight, axis, C, eps = _ce_prepare(input, target, weight, ignore_index, reduction, label_smoothing)
    return _ce_of_log_softmax(log_softmax(input, axis=axis), target, weight, axis, C, eps, reduction)


def _ce_of_log_softmax(logp, target, weight, axis, C, eps, reduction):
    """The loss from ``logp = log_softmax(input)`` and the validated target."""
    dt = logp.dtype
    if isinstance(target, tuple):  # class indices
        safe, keep = target
        w_t = _target_weight(weight, safe, keep, dt)
        # masked, not multiplied by 0: an ignored row may hold -inf or NaN logits (0 * inf is NaN)
        picked = np.where(keep, _gather(logp, safe, axis), np.zeros((), dt))
        loss = -(1 - eps) * w_t * picked
        if eps > 0:
            wlogp = logp * _along(weight, logp.ndim, axis) if weight is not None else logp
            smooth = -wlogp.sum(axis=axis)
            loss = loss + (eps / C) * np.where(keep, smooth, np.zeros((), dtype=dt))
        return _index_reduce(loss.astype(dt, copy=False), reduction, w_t)
    q = target * (1 - eps) + eps / C if eps > 0 else target
    if weight is not None:
        q = q * _along(weight, q.ndim, axis)
    loss = -(q * logp).sum(axis=axis)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(loss.sum(dtype=loss.dtype) / np.asarray(logp.size // C, dtype=loss.dtype))
    return reduce(loss, reduction)


@cross_entropy.defgrad
def _cross_entropy_grad(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """d cross_entropy / d input = s_i (p_ic * sum_k q_ik - q_ic), q the weighted smoothed target, shaped like input."""
    input, target, weight, axis, C, eps = _ce_prepare(input, target, weight, ignore_index, reduction, label_smoothing)
    p = log_softmax(input, axis=axis)
    return _ce_grad_of_softmax(np.exp(p, out=p), target, weight, axis, C, eps, reduction)  # softmax, in place


def _ce_grad_of_softmax(p, target, weight, axis, C, eps, reduction):
    """The gradient from ``p = softmax(input)`` (overwritten where it can be) and the validated target."""
    dt = p.dtype
    if isinstance(target, tuple):
        safe, keep = target
        w_t = _target_weight(weight, safe, keep, dt)
        s = _index_scale(reduction, w_t, keep)
        w_sum = weight.sum(dtype=dt) if weight is not None else np.asarray(C, dtype=dt)
        # unmasked target weight; ignored rows are zeroed by s
        w_raw = weight[safe] if weight is not None else np.ones(safe.shape, dtype=dt)
        Q = (1 - eps) * w_raw + (eps / C) * w_sum
        with np.errstate(invalid="ignore"):
            grad = p
            grad *= np.expand_dims(Q * s, axis)  # in place
            if eps > 0:
                w_c = _along(weight, p.ndim, axis) if weight is not None else np.ones((), dt)
                grad = grad - (eps / C) * w_c * np.expand_dims(s, axis)
            idx = np.expand_dims(safe, axis)
            at_target = np.take_along_axis(grad, idx, axis) - np.expand_dims((1 - eps) * w_raw * s, axis)
        np.put_along_axis(grad, idx, at_target, axis)
        return grad.astype(dt, copy=False)
    q = target * (1 - eps) + eps / C if eps > 0 else target
    if weight is not None:
        q = q * _along(weight, q.ndim, axis)
    grad = p * q.sum(axis=axis, keepdims=True) - q
    if reduction == "mean":
        grad = grad / np.asarray(max(p.size // C, 1), dtype=dt)
    return grad.astype(dt, copy=False)


@cross_entropy.defvalue_and_grad
def _cross_entropy_value_and_grad(input, target, weight=None, ignore_index=-100, reduction="mean",
                                  label_smoothing=0.0):
    """The value and the gradient at once: one validation and one log_softmax, whose exp is the softmax."""
    input, target, weight, axis, C, eps = _ce_prepare(input, target, weight, ignore_index, reduction, label_smoothing)
    logp = log_softmax(input, axis=axis)
    value = _ce_of_log_softmax(logp, target, weight, axis, C, eps, reduction)
    return value, _ce_grad_of_softmax(np.exp(logp, out=logp), target, weight, axis, C, eps, reduction)


# ----------------------------------------------------------------------------------------------------------------
# nll_loss
# ----------------------------------------------------------------------------------------------------------------


def _nll_prepare(input, target, weight, ignore_index, reduction):
    check_reduction(reduction)
    input = as_prediction(input, "input")
    axis = _class_axis(input, "nll_loss")
    ignore_index = _check_ignore_index(ignore_index)
    weight = _class_weight(weight, input.shape[axis], input.dtype, "nll_loss")
    input, weight = promote(input, weight)
    safe, keep = _index_target(input, target, axis, ignore_index, "nll_loss")
    if _looks_like_probabilities(input):
        warn_likely_mistake(
            "nll_loss expects log-probabilities (log_softmax output), which are <= 0; these look like "
            "probabilities (softmax output), all in [0, 1]: take np.log of them, or use cross_entropy on the logits.",
        )
    return input, safe, keep, weight, axis


@register(
    family="classification",
    prediction="log-probabilities",
    target_dtype="int64 or uint8 class indices (torch refuses int32)",
    target_shape="input's shape without the class axis C "
    "((N,) for (N, C), () for (C,), (N, d1, ...) for (N, C, d1, ...))",
    target_values="integers in [0, C-1], or ignore_index",
    torch_function="torch.nn.functional.nll_loss",
    torch_module="torch.nn.NLLLoss",
    reference="Goodfellow, Bengio & Courville, Deep Learning (2016), ch. 5.5 and 6.2.2",
)
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood of the target class, given LOG-probabilities.

    .. math:: \ell_i = -w_{y_i}\, x_{i y_i}, \qquad
              \text{mean} = \frac{\sum_i \ell_i}{\sum_{i:\,y_i \ne \text{ignore}} w_{y_i}}

    ``input`` must hold log-probabilities, e.g. ``log_softmax(logits)``, not probabilities (softmax
    output) and not logits: nll_loss only picks :math:`-x_{i y_i}` and normalises nothing.
    ``nll_loss(log_softmax(x), y) == cross_entropy(x, y)``.

    Args:
        input: log-probabilities, shape ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)`` (class axis 1).
        target: class indices (int64 or uint8, as PyTorch takes them), the input's shape without the class axis,
            in ``[0, C-1]`` or ``ignore_index``.
        weight: optional per-class weight, shape ``(C,)``, non-negative.
        ignore_index: target value whose positions contribute nothing (nor to the 'mean' denominator).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (shaped like ``target``).

    PyTorch's conventions: the weighted 'mean' divides by the sum of the target classes' weights; if
    every target is ignored, 'mean' is NaN (and the gradient 0). Input that looks like probabilities
    (all values in [0, 1], some > 0 — impossible for log-probabilities) raises a ``LossInputWarning``.
    The gradient is :math:`-s_i w_{y_i}` at the target class and 0 elsewhere.

    Reference: ``torch.nn.functional.nll_loss``; Goodfellow et al. (2016), ch. 5.5.
    """
    input, safe, keep, weight, axis = _nll_prepare(input, target, weight, ignore_index, reduction)
    w_t = _target_weight(weight, safe, keep, input.dtype)
    # masked, not multiplied by 0: an ignored row may hold -inf or NaN (0 * inf is NaN)
    loss = -w_t * np.where(keep, _gather(input, safe, axis), np.zeros((), input.dtype))
    return _index_reduce(loss, reduction, w_t)


@nll_loss.defgrad
def _nll_loss_grad(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-s_i w[y_i] at the target class, 0 elsewhere (s_i: 1, or 1/sum of target weights for 'mean')."""
    input, safe, keep, weight, axis = _nll_prepare(input, target, weight, ignore_index, reduction)
    w_t = _target_weight(weight, safe, keep, input.dtype)
    s = _index_scale(reduction, w_t, keep)
    w_raw = weight[safe] if weight is not None else np.ones(safe.shape, dtype=input.dtype)
    grad = np.zeros_like(input)
    with np.errstate(invalid="ignore"):
        np.put_along_axis(grad, np.expand_dims(safe, axis), np.expand_dims(-w_raw * s, axis), axis)
    return grad


# ----------------------------------------------------------------------------------------------------------------
# kl_div
# ----------------------------------------------------------------------------------------------------------------

_KL_REDUCTIONS = ("none", "mean", "batchmean", "sum")


def _kl_prepare(input, target, reduction, log_target):
    check_reduction(reduction, _KL_REDUCTIONS)
    if not isinstance(log_target, (bool, np.bool_)):
        raise TypeError(f"`log_target` must be True or False, but it is {log_target!r}.")
    input = as_prediction(input, "input")
    refuse_target_dtype(target, "target", "kl_div", "biu", "kl_div: Integral inputs not supported.")
    target = as_float_array(target, "target", int_dtype=input.dtype)
    input, target = promote(input, target)
    check_same_shape(input, target, torch_broadcasts="silently")
    if log_target:  # -inf is log(0), a valid log-probability
        if target.size and (np.isnan(target.min()) or target.max() == np.inf):
            raise ValueError(
                f"kl_div: `target` contains NaN or +inf ({describe(target)}). With log_target=True it must hold "
                "log-probabilities: finite values <= 0, or -inf for a probability of 0."
            )
        if target.size and np.any(target > 0):
            raise ValueError(
                f"kl_div: with log_target=True, `target` must hold log-probabilities (<= 0), but it has "
                f"{describe(target)}. If these are probabilities, pass log_target=False."
            )
    else:
        check_finite(target, "target")
        check_range(target, "target", 0.0, 1.0, "probabilities",
                    hint="If these are log-probabilities, pass log_target=True.")
    if reduction == "mean":
        warn_likely_mistake(
            "kl_div with reduction='mean' divides the summed divergence by the number of ELEMENTS (batch size x "
            "classes), which is not the KL divergence; reduction='batchmean' divides by the batch size and gives "
            "the KL divergence per sample (PyTorch warns about this too).",
        )
    if _looks_like_probabilities(input):
        warn_likely_mistake(
            "kl_div expects `input` to hold log-probabilities (e.g. log_softmax output), which are <= 0; these "
            "look like probabilities, all in [0, 1]: pass np.log of them.",
        )
    return input, target


@register(
    family="classification",
    prediction="log-probabilities",
    target_dtype="float; torch refuses integer and boolean targets (use target.float()); mixed float dtypes "
    "are promoted",
    target_shape="same shape as input",
    target_values="probabilities in [0, 1] (log-probabilities <= 0 with log_target=True)",
    torch_function="torch.nn.functional.kl_div",
    torch_module="torch.nn.KLDivLoss",
    reference="Kullback & Leibler, On Information and Sufficiency, Ann. Math. Statist. 22 (1951); "
    "Cover & Thomas, Elements of Information Theory (2006), sec. 2.3",
)
def kl_div(input, target, reduction="mean", log_target=False):
    r"""Kullback-Leibler divergence KL(target || prediction), with the prediction given as log-probabilities.

    .. math:: \ell_{ic} = y_{ic}\,(\log y_{ic} - x_{ic}), \qquad
              \text{batchmean} = \frac{1}{N}\sum_{i,c} \ell_{ic} = \frac{1}{N}\sum_i \mathrm{KL}(y_i \,\|\, e^{x_i})

    where ``x = input`` are log-probabilities and ``y = target`` probabilities (with ``log_target=True`` the
    target is given as :math:`\log y`, and :math:`\ell = e^{\log y}(\log y - x)`). A target of 0 contributes
    0 (:math:`0 \log 0 = 0`, as ``xlogy``), and so does its gradient; with ``log_target=True`` a target of
    ``-inf`` (log 0, a valid log-probability) contributes 0 too (PyTorch 2.13 returns NaN for that value,
    though its gradient there is 0). Integer and boolean targets are refused, as PyTorch refuses them ("Integral
    inputs not supported"); a float target of another precision promotes the computation (float32 with float64
    gives float64).

    Args:
        input: log-probabilities (log_softmax output), any shape; the first axis is the batch.
        target: probabilities in [0, 1] (or log-probabilities <= 0 with ``log_target=True``), same shape;
            float (integers and booleans are refused, as in PyTorch).
        reduction: ``'mean'`` (default), ``'batchmean'``, ``'sum'`` or ``'none'`` (element-wise).
        log_target: whether ``target`` holds log-probabilities.

    PyTorch's surprises, followed: the argument order is (prediction, target) but the divergence is
    KL(target || prediction); the default ``'mean'`` averages over ALL elements, which is not the KL
    divergence (a ``LossInputWarning`` says so, as PyTorch warns); ``'batchmean'`` divides the sum by
    ``input.shape[0]`` (for a 1-D input that is its length; a 0-d input is not divided).
    Stricter than PyTorch: the target must have the input's shape (no broadcasting) and be a valid
    (log-)probability; input that looks like probabilities (all in [0, 1], some > 0) warns.
    Not symmetric, non-negative for normalised distributions, zero only when they are equal.
    The gradient w.r.t. ``input`` is :math:`-y` (times the reduction factor); none is given for ``target``.

    Reference: ``torch.nn.functional.kl_div``; Kullback & Leibler (1951).
    """
    input, target = _kl_prepare(input, target, reduction, log_target)
    if log_target:  # a target of -inf (probability 0) contributes 0, as 0 log 0 = 0 (PyTorch: NaN)
        with np.errstate(invalid="ignore"):
            loss = np.where(target == -np.inf, np.zeros((), input.dtype), np.exp(target) * (target - input))
    else:
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        if input.ndim == 0:
            return np.asarray(loss, dtype=input.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(loss.sum(dtype=loss.dtype) / np.asarray(input.shape[0], dtype=loss.dtype))
    return reduce(loss, reduction)


@kl_div.defgrad
def _kl_div_grad(input, target, reduction="mean", log_target=False):
    """d kl_div / d input = -target (or -exp(target) with log_target), divided by n ('mean') or N ('batchmean')."""
    input, target = _kl_prepare(input, target, reduction, log_target)
    grad = -(np.exp(target) if log_target else target)
    if reduction == "mean" and input.size:
        grad = grad / np.asarray(input.size, dtype=input.dtype)
    elif reduction == "batchmean" and input.ndim and input.shape[0]:
        grad = grad / np.asarray(input.shape[0], dtype=input.dtype)
    return grad.astype(input.dtype, copy=False)
