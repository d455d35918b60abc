"""Classification losses: the softmax family, binary and margin losses, focal and Dice.

* The softmax family: :func:`cross_entropy` (on logits), :func:`nll_loss` (on log-probabilities) and
  :func:`kl_div` (log-probabilities against a target distribution).
* Binary and multi-label losses: :func:`binary_cross_entropy` (on probabilities),
  :func:`binary_cross_entropy_with_logits`, :func:`multilabel_soft_margin_loss`, :func:`sigmoid_focal_loss`
  (on logits), :func:`dice_loss` (on probabilities).
* Margin losses: :func:`soft_margin_loss` (±1 targets), :func:`multi_margin_loss` (class indices),
  :func:`multilabel_margin_loss` (padded lists of class indices).

Each loss is declared with ``register`` (its metadata) and has its analytic gradient right below it.
The private helpers at the top (class axis, index targets, class weights, the weighted-mean normaliser)
serve any loss whose prediction carries a class axis: axis 1 for batched input ``(N, C, d1, ...)``,
axis 0 for one unbatched sample ``(C,)``, as in PyTorch.

Conventions of the binary and margin losses:

* per-element or per-class ``weight`` / ``pos_weight`` arrays broadcast against the input as in PyTorch,
  but may never make the result larger than the input (PyTorch raises there too); lossbook also refuses
  negative, NaN or infinite weights, which PyTorch accepts silently;
* losses that take logits warn (:class:`~lossbook.LossInputWarning`) when the input looks like probabilities:
  at least 16 elements (``_WARN_MIN_SIZE``), every one in [0, 1], not all equal. Real logits of that many
  elements almost never all fall in [0, 1]; sigmoid outputs always do.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import (
    log_sigmoid,
    log_softmax,
    sigmoid,
    softplus,
    xlogy,
)
from ._validation import (
    as_float_array,
    as_index_array,
    as_input_and_target,
    as_optional_float_array,
    as_prediction,
    check_finite,
    check_nonnegative,
    check_range,
    check_reduction,
    check_same_shape,
    check_scalar,
    describe,
    promote,
    warn_likely_mistake,
)

__all__ = [
    "cross_entropy",
    "nll_loss",
    "kl_div",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "sigmoid_focal_loss",
    "dice_loss",
]

# stacklevel for warnings raised from a helper called by a loss:
# warn_likely_mistake -> helper -> _prepare -> loss -> user
_WARN_LEVEL = 5

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
    t = as_index_array(t, "target", num_classes=C, ignore_index=ignore_index)
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
            stacklevel=_WARN_LEVEL,
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
            stacklevel=_WARN_LEVEL,
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
    target_dtype="int64 class indices, or float class probabilities",
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
        target: either int class indices of the input's shape without the class axis (``()``, ``(N,)``,
            ``(N, d1, ...)``), values in ``[0, C-1]`` or ``ignore_index``; or float class probabilities of the
            input's shape, in [0, 1], summing to 1 over the class axis. The dtype decides which.
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
    logp = log_softmax(input, axis=axis)
    if isinstance(target, tuple):  # class indices
        safe, keep = target
        w_t = _target_weight(weight, safe, keep, input.dtype)
        # masked, not multiplied by 0: an ignored row may hold -inf or NaN logits (0 * inf is NaN)
        picked = np.where(keep, _gather(logp, safe, axis), np.zeros((), input.dtype))
        loss = -(1 - eps) * w_t * picked
        if eps > 0:
            wlogp = logp * _along(weight, logp.ndim, axis) if weight is not None else logp
            smooth = -wlogp.sum(axis=axis)
            loss = loss + (eps / C) * np.where(keep, smooth, np.zeros((), dtype=input.dtype))
        return _index_reduce(loss.astype(input.dtype, copy=False), reduction, w_t)
    q = target * (1 - eps) + eps / C if eps > 0 else target
    if weight is not None:
        q = q * _along(weight, q.ndim, axis)
    loss = -(q * logp).sum(axis=axis)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(loss.sum(dtype=loss.dtype) / np.asarray(input.size // C, dtype=loss.dtype))
    return reduce(loss, reduction)


@cross_entropy.defgrad
def _cross_entropy_grad(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """d cross_entropy / d input = s_i (p_ic * sum_k q_ik - q_ic), q the weighted smoothed target, shaped like input."""
    input, target, weight, axis, C, eps = _ce_prepare(input, target, weight, ignore_index, reduction, label_smoothing)
    p = np.exp(log_softmax(input, axis=axis))
    dt = input.dtype
    if isinstance(target, tuple):
        safe, keep = target
        w_t = _target_weight(weight, safe, keep, dt)
        s = _index_scale(reduction, w_t, keep)
        w_sum = weight.sum(dtype=dt) if weight is not None else np.asarray(C, dtype=dt)
        # unmasked target weight; ignored rows are zeroed by s
        w_raw = weight[safe] if weight is not None else np.ones(safe.shape, dtype=dt)
        Q = (1 - eps) * w_raw + (eps / C) * w_sum
        with np.errstate(invalid="ignore"):
            grad = p * np.expand_dims(Q * s, axis)
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
        grad = grad / np.asarray(max(input.size // C, 1), dtype=dt)
    return grad.astype(dt, copy=False)


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
            stacklevel=_WARN_LEVEL - 1,
        )
    return input, safe, keep, weight, axis


@register(
    family="classification",
    prediction="log-probabilities",
    target_dtype="int64 class indices",
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
        target: int class indices, the input's shape without the class axis, in ``[0, C-1]`` or ``ignore_index``.
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
    target = as_float_array(target, "target", int_dtype=input.dtype)
    input, target = promote(input, target)
    check_same_shape(input, target)
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
            stacklevel=_WARN_LEVEL - 1,
        )
    if _looks_like_probabilities(input):
        warn_likely_mistake(
            "kl_div expects `input` to hold log-probabilities (e.g. log_softmax output), which are <= 0; these "
            "look like probabilities, all in [0, 1]: pass np.log of them.",
            stacklevel=_WARN_LEVEL - 1,
        )
    return input, target


@register(
    family="classification",
    prediction="log-probabilities",
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
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
    though its gradient there is 0). Integer targets are accepted (converted to float); a float target of another
    precision promotes the computation (float32 with float64 gives float64).

    Args:
        input: log-probabilities (log_softmax output), any shape; the first axis is the batch.
        target: probabilities in [0, 1] (or log-probabilities <= 0 with ``log_target=True``), same shape;
            float or integer (integers are converted).
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


# ----------------------------------------------------------------------------------------------------------------
# Binary, margin, focal and Dice losses
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
    return promote(input, target, _broadcast_weight(weight, input, "weight"))


@register(
    family="classification",
    prediction="probabilities",
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
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
        target: ``y`` in [0, 1] (hard 0/1 labels or soft labels), same shape as ``input``; float or integer
            (integer labels are converted).
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
    return promote(input, target, weight, pos_weight)


@register(
    family="classification",
    prediction="logits",
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
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
        target: ``y`` in [0, 1], same shape as ``input``; float or integer (integer labels are converted).
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
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
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
    target = as_index_array(target, "target", num_classes)
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
    input, target = _prepare_pair(input, target, reduction)
    if input.ndim == 0:
        raise ValueError("`input` must have at least one axis (the classes, last); it is a scalar.")
    _check_probability_target(target)
    weight = _broadcast_weight(weight, input, "weight")
    _warn_if_probabilities(input, "input", "multilabel_soft_margin_loss")
    return promote(input, target, weight)


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
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
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
        targets: labels in [0, 1] (0/1, or soft; float or integer), same shape as ``inputs``.
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
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
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
        target: the mask ``y`` (0/1, or soft values in [0, 1]; float or integer), same shape as ``input``.
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
    # (A/B - 2y) / B, not (A - 2yB) / B^2: B^2 underflows to 0 for tiny probabilities (1e-200), giving 0/0
    grad = (num / den - 2 * target) / den
    return (grad * reduction_scale(reduction, input.shape[0])).astype(input.dtype, copy=False)
