"""Losses for vision (Part VIII): boxes, masks and margins on the sphere.

* **Boxes**: :func:`box_iou_loss` with ``kind`` in ``"iou"``, ``"giou"``, ``"diou"``, ``"ciou"``: the values,
  gradients and conventions of ``torchvision.ops.generalized_box_iou_loss``, ``distance_box_iou_loss`` and
  ``complete_box_iou_loss`` (boxes as ``(x1, y1, x2, y2)``, ``eps=1e-7``, reduction ``'none'`` by default,
  CIoU's trade-off weight held constant); :func:`box_convert` between box formats.
* **Masks** (probabilities against 0/1 masks, one value per sample): :func:`dice_loss`, :func:`tversky_loss`,
  :func:`focal_tversky_loss`, :func:`jaccard_loss`; and the Lovász surrogates of the IoU
  (Berman et al. 2018, following the authors' reference implementation ``pytorch/lovasz_losses.py``):
  :func:`lovasz_hinge_loss` (binary, on logits) and :func:`lovasz_softmax_loss` (multi-class, on
  probabilities).
* **Margins on the sphere**: :func:`cosface_loss` (additive cosine margin) and :func:`arcface_loss` (additive
  angular margin) on embeddings, a matrix of class weight vectors and class indices, with the conventions of
  pytorch-metric-learning's ``CosFaceLoss`` and ``ArcFaceLoss`` (``losses/cosface_loss.py``,
  ``losses/arcface_loss.py``): both vectors normalised, the target logit replaced, ``scale=64``, then
  cross-entropy averaged over the batch.

Taught in Part VIII, chapters "Boxes", "Masks" and "Margins on the sphere".
"""
from __future__ import annotations

import math

import numpy as np

from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import log_softmax
from ._validation import (
    as_float_array,
    as_index_array,
    as_input_and_target,
    as_prediction,
    check_finite,
    check_nonnegative,
    check_positive,
    check_range,
    check_reduction,
    check_scalar,
    describe,
    promote,
    warn_likely_mistake,
)

__all__ = [
    "box_iou_loss",
    "box_convert",
    "dice_loss",
    "tversky_loss",
    "focal_tversky_loss",
    "jaccard_loss",
    "lovasz_hinge_loss",
    "lovasz_softmax_loss",
    "cosface_loss",
    "arcface_loss",
]

_BOX_KINDS = ("iou", "giou", "diou", "ciou")
_BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


# --------------------------------------------------------------------------------------------------
# boxes
# --------------------------------------------------------------------------------------------------
def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes between ``'xyxy'`` (corners), ``'xywh'`` (corner, size) and ``'cxcywh'`` (centre, size),
    along the last axis, as ``torchvision.ops.box_convert`` does. Returns a new float array."""
    for name, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in _BOX_FORMATS:
            raise ValueError(f"`{name}` must be one of {', '.join(map(repr, _BOX_FORMATS))}, but it is {fmt!r}.")
    b = as_float_array(boxes, "boxes")
    if b.ndim == 0 or b.shape[-1] != 4:
        raise ValueError(f"`boxes` must have shape (..., 4), but it has shape {b.shape}.")
    a, c, d, e = np.moveaxis(b, -1, 0)
    if in_fmt == "xywh":
        a, c, d, e = a, c, a + d, c + e
    elif in_fmt == "cxcywh":
        a, c, d, e = a - d / 2, c - e / 2, a + d / 2, c + e / 2
    if out_fmt == "xywh":
        a, c, d, e = a, c, d - a, e - c
    elif out_fmt == "cxcywh":
        a, c, d, e = (a + d) / 2, (c + e) / 2, d - a, e - c
    return np.stack([a, c, d, e], axis=-1)


def _box_prepare(boxes1, boxes2, kind, reduction, eps):
    check_reduction(reduction)
    if kind not in _BOX_KINDS:
        raise ValueError(f"`kind` must be one of {', '.join(map(repr, _BOX_KINDS))}, but it is {kind!r}.")
    eps = check_nonnegative(eps, "eps")
    b1 = as_prediction(boxes1, "boxes1")
    b2 = as_float_array(boxes2, "boxes2", int_dtype=b1.dtype)
    b1, b2 = promote(b1, b2)
    for name, b in (("boxes1", b1), ("boxes2", b2)):
        if b.ndim == 0 or b.shape[-1] != 4:
            raise ValueError(
                f"`{name}` must have shape (N, 4) or (4,) (any leading axes, 4 coordinates last), but it has "
                f"shape {b.shape}. Boxes are (x1, y1, x2, y2): corners, not centres."
            )
    if b1.shape != b2.shape:
        raise ValueError(
            f"`boxes1` has shape {b1.shape} but `boxes2` has shape {b2.shape}: the loss compares box i of one "
            "with box i of the other, so they must have the same shape (torchvision.ops.box_iou gives the "
            "pairwise matrix instead)."
        )
    for name, b in (("boxes1", b1), ("boxes2", b2)):
        check_finite(b, name)
        bad = (b[..., 2] < b[..., 0]) | (b[..., 3] < b[..., 1])
        if bad.any():
            i = np.unravel_index(np.flatnonzero(bad)[0], bad.shape)
            raise ValueError(
                f"`{name}` must hold boxes (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, but box {tuple(map(int, i))} "
                f"is {b[i].tolist()}. If your boxes are (cx, cy, w, h) or (x, y, w, h), convert them with "
                "`lossbook.box_convert(boxes, 'cxcywh', 'xyxy')` (torchvision.ops.box_convert) first."
            )
        if kind == "ciou" and ((b[..., 2] == b[..., 0]) | (b[..., 3] == b[..., 1])).any():
            raise ValueError(
                f"`{name}` holds a box of zero width or height; CIoU divides width by height for the "
                "aspect-ratio term, so it needs boxes of positive size (use kind='diou' for degenerate boxes)."
            )
    return b1, b2, eps


def _max_grad(a, b):
    """How torch's elementwise max (and min) passes a gradient: all of it to the winner, half each on a tie."""
    return np.where(a == b, 0.5, (a > b).astype(float))


def _box_terms(b1, b2, kind, eps):
    x1, y1, x2, y2 = np.moveaxis(b1, -1, 0)
    x1g, y1g, x2g, y2g = np.moveaxis(b2, -1, 0)
    t = {}
    t["xk1"], t["yk1"] = np.maximum(x1, x1g), np.maximum(y1, y1g)
    t["xk2"], t["yk2"] = np.minimum(x2, x2g), np.minimum(y2, y2g)
    t["mask"] = (t["yk2"] > t["yk1"]) & (t["xk2"] > t["xk1"])
    t["iw"], t["ih"] = t["xk2"] - t["xk1"], t["yk2"] - t["yk1"]
    inter = np.where(t["mask"], t["iw"] * t["ih"], 0.0)
    t["w"], t["h"], t["wg"], t["hg"] = x2 - x1, y2 - y1, x2g - x1g, y2g - y1g
    union = t["w"] * t["h"] + t["wg"] * t["hg"] - inter
    iou = inter / (union + eps)
    t.update(inter=inter, union=union, iou=iou)
    loss = 1 - iou
    if kind != "iou":
        t["cw"] = np.maximum(x2, x2g) - np.minimum(x1, x1g)
        t["ch"] = np.maximum(y2, y2g) - np.minimum(y1, y1g)
    if kind == "giou":
        area_c = t["cw"] * t["ch"]
        t["area_c"] = area_c
        loss = loss + (area_c - union) / (area_c + eps)
    if kind in ("diou", "ciou"):
        t["diag"] = t["cw"] ** 2 + t["ch"] ** 2 + eps
        t["dx"] = (x1 + x2) / 2 - (x1g + x2g) / 2
        t["dy"] = (y1 + y2) / 2 - (y1g + y2g) / 2
        t["dist"] = t["dx"] ** 2 + t["dy"] ** 2
        loss = loss + t["dist"] / t["diag"]
    if kind == "ciou":
        t["d_atan"] = np.arctan(t["wg"] / t["hg"]) - np.arctan(t["w"] / t["h"])
        v = (4 / math.pi**2) * t["d_atan"] ** 2
        t["alpha"] = v / (1 - iou + v + eps)  # a constant: torchvision computes it under torch.no_grad()
        loss = loss + t["alpha"] * v
    return loss, t


@register(
    family="vision",
    prediction="boxes (x1, y1, x2, y2)",
    target_dtype="float (or int, converted); mixed float dtypes are promoted",
    target_shape="same shape as boxes1: (N, 4) or (4,)",
    target_values="boxes (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2",
    torch_function="torchvision.ops.generalized_box_iou_loss / distance_box_iou_loss / complete_box_iou_loss",
    torch_module=None,
    wrt=("boxes1", "boxes2"),
    reference="Rezatofighi et al., Generalized IoU, CVPR (2019); Zheng et al., Distance-IoU Loss, AAAI (2020)",
)
def box_iou_loss(boxes1, boxes2, kind="iou", reduction="none", eps=1e-7):
    r"""IoU-family loss between box i of ``boxes1`` and box i of ``boxes2``: IoU, GIoU, DIoU or CIoU.

    With :math:`I` the intersection, :math:`U` the union, :math:`C` the smallest enclosing box (area
    :math:`|C|`, squared diagonal :math:`c^2`), :math:`\rho^2` the squared distance of the two centres and
    :math:`w, h` the widths and heights:

    .. math::
        \mathrm{IoU} = \frac{I}{U + \epsilon},\qquad
        \ell_\mathrm{iou} = 1 - \mathrm{IoU},\qquad
        \ell_\mathrm{giou} = 1 - \mathrm{IoU} + \frac{|C| - U}{|C| + \epsilon},

        \ell_\mathrm{diou} = 1 - \mathrm{IoU} + \frac{\rho^2}{c^2 + \epsilon},\qquad
        \ell_\mathrm{ciou} = \ell_\mathrm{diou} + \alpha v,\quad
        v = \frac{4}{\pi^2}\Bigl(\arctan\frac{w_2}{h_2} - \arctan\frac{w_1}{h_1}\Bigr)^2,\quad
        \alpha = \frac{v}{1 - \mathrm{IoU} + v + \epsilon}.

    Args:
        boxes1: predicted boxes ``(x1, y1, x2, y2)``, shape ``(N, 4)`` or ``(4,)`` (any leading axes), float,
            with ``x1 <= x2`` and ``y1 <= y2``.
        boxes2: true boxes, same shape and format (integers are converted).
        kind: ``"iou"``, ``"giou"`` (``torchvision.ops.generalized_box_iou_loss``), ``"diou"``
            (``distance_box_iou_loss``) or ``"ciou"`` (``complete_box_iou_loss``; needs boxes of positive size).
        reduction: **``'none'`` by default** (shape ``(N,)``), as torchvision; ``'mean'`` (0 for no boxes, as
            torchvision) or ``'sum'``.
        eps: the small number torchvision adds to each denominator, ``1e-7``.

    torchvision's conventions, matched in value and gradient: the intersection is 0 (and passes no gradient)
    unless the boxes overlap with positive area; a tie in a max or min splits the gradient in halves; CIoU's
    :math:`\alpha` is a constant (computed under ``torch.no_grad()``). The loss is symmetric, and ``.grad``
    returns the gradients with respect to both ``boxes1`` and ``boxes2``. Boxes in ``(cx, cy, w, h)`` must
    be converted first (:func:`box_convert`); lossbook refuses boxes with ``x2 < x1`` or ``y2 < y1``.

    Reference: Rezatofighi et al. (2019); Zheng et al. (2020); torchvision's ``ops/giou_loss.py``,
    ``ops/diou_loss.py``, ``ops/ciou_loss.py`` and ``ops/_utils.py`` (``_loss_inter_union``).

    >>> b = np.array([[0.0, 0.0, 2.0, 2.0]]); g = np.array([[1.0, 1.0, 3.0, 3.0]])
    >>> round(float(box_iou_loss(b, g, kind="giou")[0]), 4)   # 1 - 1/7 + (9 - 7)/9
    1.0794
    """
    b1, b2, eps = _box_prepare(boxes1, boxes2, kind, reduction, eps)
    loss, _ = _box_terms(b1, b2, kind, eps)
    if reduction == "mean" and loss.size == 0:
        return np.asarray(0.0, dtype=loss.dtype)
    return reduce(loss, reduction)


@box_iou_loss.defgrad
def _box_iou_loss_grad(boxes1, boxes2, kind="iou", reduction="none", eps=1e-7):
    """Back-propagation through the formula above, term by term, with torchvision's max/min tie rule."""
    b1, b2, eps = _box_prepare(boxes1, boxes2, kind, reduction, eps)
    _, t = _box_terms(b1, b2, kind, eps)
    x1, y1, x2, y2 = np.moveaxis(b1, -1, 0)
    x1g, y1g, x2g, y2g = np.moveaxis(b2, -1, 0)
    up = 1.0
    g1 = np.zeros(b1.shape)
    g2 = np.zeros(b2.shape)
    union_eps = t["union"] + eps
    g_inter = -up / union_eps                       # d(1 - I / (U + eps)) / dI
    g_union = up * t["inter"] / union_eps**2        # ... / dU
    g_w = np.zeros_like(t["w"])
    g_h, g_wg, g_hg = np.zeros_like(g_w), np.zeros_like(g_w), np.zeros_like(g_w)
    g_cw = np.zeros_like(g_w)
    g_ch = np.zeros_like(g_w)
    if kind == "giou":
        ce = t["area_c"] + eps
        g_area_c = up * (t["union"] + eps) / ce**2
        g_union = g_union - up / ce
        g_cw, g_ch = g_area_c * t["ch"], g_area_c * t["cw"]
    if kind in ("diou", "ciou"):
        g_dist = up / t["diag"]
        g_diag = -up * t["dist"] / t["diag"] ** 2
        g_cw, g_ch = g_diag * 2 * t["cw"], g_diag * 2 * t["ch"]
        g_cx, g_cy = g_dist * 2 * t["dx"], g_dist * 2 * t["dy"]
        for k, s in ((0, 0.5), (2, 0.5)):
            g1[..., k] += s * g_cx
            g2[..., k] -= s * g_cx
            g1[..., k + 1] += s * g_cy
            g2[..., k + 1] -= s * g_cy
    if kind == "ciou":
        g_d = up * t["alpha"] * (8 / math.pi**2) * t["d_atan"]   # d(alpha v)/d(atan(wg/hg) - atan(w/h))
        r, rg = t["w"] ** 2 + t["h"] ** 2, t["wg"] ** 2 + t["hg"] ** 2
        g_w, g_h = -g_d * t["h"] / r, g_d * t["w"] / r
        g_wg, g_hg = g_d * t["hg"] / rg, -g_d * t["wg"] / rg
    # the union U = w h + wg hg - I
    g_inter = g_inter - g_union
    g_w = g_w + g_union * t["h"]
    g_h = g_h + g_union * t["w"]
    g_wg = g_wg + g_union * t["hg"]
    g_hg = g_hg + g_union * t["wg"]
    # the intersection I = iw ih where the boxes overlap, else 0
    g_iw = np.where(t["mask"], g_inter * t["ih"], 0.0)
    g_ih = np.where(t["mask"], g_inter * t["iw"], 0.0)
    for k, gk1, gk2 in ((0, x1, x1g), (1, y1, y1g)):   # xk1 = max(x1, x1g), subtracted in iw
        g = -(g_iw if k == 0 else g_ih)
        share = _max_grad(gk1, gk2)
        g1[..., k] += g * share
        g2[..., k] += g * (1 - share)
    for k, gk1, gk2 in ((2, x2, x2g), (3, y2, y2g)):   # xk2 = min(x2, x2g), added in iw
        g = g_iw if k == 2 else g_ih
        share = _max_grad(-gk1, -gk2)
        g1[..., k] += g * share
        g2[..., k] += g * (1 - share)
    if kind != "iou":   # enclosing box: cw = max(x2, x2g) - min(x1, x1g)
        for k, gk1, gk2, sign in ((0, x1, x1g, -1), (1, y1, y1g, -1), (2, x2, x2g, 1), (3, y2, y2g, 1)):
            g = sign * (g_cw if k % 2 == 0 else g_ch)
            share = _max_grad(sign * gk1, sign * gk2)
            g1[..., k] += g * share
            g2[..., k] += g * (1 - share)
    # widths and heights: w = x2 - x1, h = y2 - y1
    g1[..., 0] -= g_w
    g1[..., 2] += g_w
    g1[..., 1] -= g_h
    g1[..., 3] += g_h
    g2[..., 0] -= g_wg
    g2[..., 2] += g_wg
    g2[..., 1] -= g_hg
    g2[..., 3] += g_hg
    n = int(np.prod(b1.shape[:-1]))
    scale = (1.0 / n if n else 0.0) if reduction == "mean" else 1.0
    return (g1 * scale).astype(b1.dtype, copy=False), (g2 * scale).astype(b2.dtype, copy=False)


# --------------------------------------------------------------------------------------------------
# masks: Dice, Tversky, focal Tversky, Jaccard
# --------------------------------------------------------------------------------------------------
def _check_probability_target(target, name="target"):
    check_range(
        target, name, 0, 1, "probabilities (0/1 labels or soft labels)",
        hint=f"If your labels are -1/+1, map them with `({name} + 1) / 2`; if they are class indices, "
        "make one mask per class first.",
    )


def _mask_prepare(input, target, smooth, reduction):
    input, target = as_input_and_target(input, target, reduction)
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


_MASK_TARGET = dict(
    target_dtype="float or int (converted to float; mixed float dtypes are promoted)",
    target_shape="same shape as input: (N, ...)",
    target_values="0/1 mask (soft values in [0, 1] allowed)",
    torch_function=None,
    torch_module=None,
)


@register(family="vision", prediction="probabilities", reference="Milletari, Navab & Ahmadi, V-Net, 3DV (2016)",
          **_MASK_TARGET)
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

    >>> round(float(dice_loss(np.array([[0.9, 0.1]]), np.array([[1, 0]]), smooth=0)), 4)
    0.1
    """
    input, target, smooth = _mask_prepare(input, target, smooth, reduction)
    num, den = _dice_sums(input, target, smooth)
    return reduce((1 - num / den).astype(input.dtype, copy=False), reduction)


@dice_loss.defgrad
def _dice_loss_grad(input, target, smooth=1.0, reduction="mean"):
    """(A - 2 y B) / B^2 per sample (A numerator, B denominator), scaled for 'mean' over samples."""
    input, target, smooth = _mask_prepare(input, target, smooth, reduction)
    num, den = _dice_sums(input, target, smooth)
    shape = (-1,) + (1,) * (input.ndim - 1)
    num, den = num.reshape(shape), den.reshape(shape)
    # (A/B - 2y) / B, not (A - 2yB) / B^2: B^2 underflows to 0 for tiny probabilities (1e-200), giving 0/0.
    # In place, with the per-sample factors formed on N values: three passes over the pixels.
    grad = target * -2.0
    grad += num / den
    grad *= reduction_scale(reduction, input.shape[0]) / den
    return grad.astype(input.dtype, copy=False)


def _tversky_prepare(input, target, alpha, beta, gamma, smooth, reduction):
    input, target, smooth = _mask_prepare(input, target, smooth, reduction)
    alpha, beta = check_nonnegative(alpha, "alpha"), check_nonnegative(beta, "beta")
    gamma = check_positive(gamma, "gamma")
    return input, target, alpha, beta, gamma, smooth


def _tversky_index(p, y, alpha, beta, smooth):
    """(TP + s) / (TP + alpha FP + beta FN + s) per sample, with its numerator and denominator.

    FP = sum(p (1 - y)) = sum(p) - TP and FN = sum((1 - p) y) = sum(y) - TP: one product and three sums over
    the pixels instead of three products, two complements and three sums. The subtraction loses nothing that
    matters: its rounding error is at most eps sum(p) (or eps sum(y)), small against the denominator, which
    is at least min(1, alpha) sum(p) (or min(1, beta) sum(y))."""
    axes = tuple(range(1, p.ndim))
    tp = (p * y).sum(axis=axes)
    fp = p.sum(axis=axes) - tp
    fn = y.sum(axis=axes) - tp
    num = tp + smooth
    den = tp + alpha * fp + beta * fn + smooth
    return num / den, num, den


def _tversky_value(p, y, alpha, beta, gamma, smooth, reduction):
    ti, _, _ = _tversky_index(p, y, alpha, beta, smooth)
    loss = np.maximum(1 - ti, 0) ** gamma
    return reduce(loss.astype(p.dtype, copy=False), reduction)


def _tversky_grad(p, y, alpha, beta, gamma, smooth, reduction):
    ti, num, den = _tversky_index(p, y, alpha, beta, smooth)
    shape = (-1,) + (1,) * (p.ndim - 1)
    ti, num, den = ti.reshape(shape), num.reshape(shape), den.reshape(shape)
    if gamma == 1:
        outer = 1.0
    else:
        base = np.maximum(1 - ti, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            outer = np.where(base > 0, gamma * base ** (gamma - 1), 0.0)
    # d(loss)/dp = -outer dT/dp, dT/dp = (y B - A dB) / B^2 = (y - T dB) / B (without forming B^2), and
    # dB = d(TP + alpha FP + beta FN)/dp = y + alpha (1 - y) - beta y = alpha + (1 - alpha - beta) y.
    # The per-sample factors on N values first, then four passes over the pixels, in place.
    grad = y * (1 - alpha - beta)
    grad += alpha                                     # dB
    grad *= ti
    grad -= y                                         # T dB - y
    grad *= outer * reduction_scale(reduction, p.shape[0]) / den
    return grad.astype(p.dtype, copy=False)


@register(family="vision", prediction="probabilities",
          reference="Salehi, Erdogmus & Gholipour, Tversky loss function for image segmentation, MLMI (2017)",
          **_MASK_TARGET)
def tversky_loss(input, target, alpha=0.5, beta=0.5, smooth=1.0, reduction="mean"):
    r"""Tversky loss: one minus a Dice-like overlap that weighs false positives by ``alpha`` and false
    negatives by ``beta``, per sample.

    .. math:: \mathrm{TP} = \sum_i p_i y_i,\quad \mathrm{FP} = \sum_i p_i (1 - y_i),\quad
              \mathrm{FN} = \sum_i (1 - p_i)\,y_i,\qquad
              \ell_n = 1 - \frac{\mathrm{TP} + s}{\mathrm{TP} + \alpha\,\mathrm{FP} + \beta\,\mathrm{FN} + s}

    ``alpha = beta = 0.5`` is the soft Dice loss (exactly ``dice_loss(..., smooth=2 * s)``); ``alpha = beta
    = 1`` is the soft Jaccard loss (:func:`jaccard_loss`). ``beta > alpha`` punishes missed foreground more:
    Salehi et al. use ``alpha = 0.3, beta = 0.7`` for small lesions.

    Args:
        input: probabilities in [0, 1], shape ``(N, ...)`` (sums over every non-batch axis).
        target: 0/1 mask (soft values allowed), same shape.
        alpha, beta: the non-negative weights of false positives and false negatives.
        smooth: ``s >= 0`` in numerator and denominator (an empty prediction of an empty mask costs 0).
        reduction: ``'mean'`` (default, over samples), ``'sum'`` or ``'none'`` (shape ``(N,)``).

    Not in PyTorch. Reference: Salehi et al. (2017).

    >>> p, y = np.array([[0.8, 0.6, 0.0]]), np.array([[1, 0, 1]])
    >>> round(float(tversky_loss(p, y, alpha=0.3, beta=0.7, smooth=0)), 4)   # 1 - 0.8 / (0.8 + 0.18 + 0.84)
    0.5604
    """
    input, target, alpha, beta, _, smooth = _tversky_prepare(input, target, alpha, beta, 1.0, smooth, reduction)
    return _tversky_value(input, target, alpha, beta, 1.0, smooth, reduction)


@tversky_loss.defgrad
def _tversky_loss_grad(input, target, alpha=0.5, beta=0.5, smooth=1.0, reduction="mean"):
    """-(y - T (y + alpha (1 - y) - beta y)) / B per element, T the Tversky index and B its denominator."""
    input, target, alpha, beta, _, smooth = _tversky_prepare(input, target, alpha, beta, 1.0, smooth, reduction)
    return _tversky_grad(input, target, alpha, beta, 1.0, smooth, reduction)


@register(family="vision", prediction="probabilities",
          reference="Abraham & Khan, A novel focal Tversky loss function, ISBI (2019)", **_MASK_TARGET)
def focal_tversky_loss(input, target, alpha=0.7, beta=0.3, gamma=0.75, smooth=1.0, reduction="mean"):
    r"""Focal Tversky loss: the Tversky loss raised to a power ``gamma``, per sample.

    .. math:: \ell_n = \bigl(1 - \mathrm{TI}_n\bigr)^{\gamma},\qquad
              \mathrm{TI}_n = \frac{\mathrm{TP} + s}{\mathrm{TP} + \alpha\,\mathrm{FP} + \beta\,\mathrm{FN} + s}

    Abraham and Khan write the exponent as :math:`1/\gamma` with their :math:`\gamma = 4/3`; here
    ``gamma`` *is* the exponent, so their recommended setting is ``gamma=0.75`` (the default), with their
    ``alpha = 0.7`` and ``beta = 0.3`` (in their notation alpha weighs the false negatives, so their
    alpha is this ``beta``: pass ``alpha=0.3, beta=0.7`` to weigh missed foreground more). ``gamma < 1``
    makes the loss *larger* for samples that are already fairly good (``1 - TI`` small) and the gradient
    steeper near a good overlap; ``gamma = 1`` is :func:`tversky_loss`.

    Args:
        input, target, alpha, beta, smooth, reduction: as in :func:`tversky_loss`.
        gamma: the exponent, > 0.

    At a perfect overlap (``TI = 1``) with ``gamma < 1`` the derivative is unbounded; lossbook returns a
    zero gradient there (the minimum). Not in PyTorch. Reference: Abraham & Khan (2019).

    >>> p, y = np.array([[0.8, 0.6, 0.0]]), np.array([[1, 0, 1]])
    >>> round(float(focal_tversky_loss(p, y, alpha=0.3, beta=0.7, gamma=0.75, smooth=0)), 4)
    0.6477
    """
    input, target, alpha, beta, gamma, smooth = _tversky_prepare(
        input, target, alpha, beta, gamma, smooth, reduction)
    return _tversky_value(input, target, alpha, beta, gamma, smooth, reduction)


@focal_tversky_loss.defgrad
def _focal_tversky_loss_grad(input, target, alpha=0.7, beta=0.3, gamma=0.75, smooth=1.0, reduction="mean"):
    """gamma (1 - TI)^(gamma - 1) times the Tversky loss's gradient (0 where TI = 1)."""
    input, target, alpha, beta, gamma, smooth = _tversky_prepare(
        input, target, alpha, beta, gamma, smooth, reduction)
    return _tversky_grad(input, target, alpha, beta, gamma, smooth, reduction)


@register(family="vision", prediction="probabilities",
          reference="Rahman & Wang, Optimizing intersection-over-union in deep neural networks, ISVC (2016)",
          **_MASK_TARGET)
def jaccard_loss(input, target, smooth=1.0, reduction="mean"):
    r"""Soft Jaccard (IoU) loss: one minus the soft intersection over the soft union, per sample.

    .. math:: \ell_n = 1 - \frac{\sum_i p_i y_i + s}{\sum_i p_i + \sum_i y_i - \sum_i p_i y_i + s}

    The Tversky loss with ``alpha = beta = 1``. Soft Jaccard equals ``D / (2 - D)`` of the soft Dice ``D``
    when ``s = 0``, so the two losses rank predictions the same way but weigh them differently.

    Args:
        input: probabilities in [0, 1], shape ``(N, ...)``; target: 0/1 mask, same shape; smooth ``s >= 0``;
        reduction: ``'mean'`` (default, over samples), ``'sum'`` or ``'none'``.

    Not in PyTorch. Reference: Rahman & Wang (2016).

    >>> round(float(jaccard_loss(np.array([[0.9, 0.1]]), np.array([[1, 0]]), smooth=0)), 4)  # 1 - 0.9 / 1.1
    0.1818
    """
    input, target, *_ = _tversky_prepare(input, target, 1.0, 1.0, 1.0, smooth, reduction)
    smooth = float(smooth)
    return _tversky_value(input, target, 1.0, 1.0, 1.0, smooth, reduction)


@jaccard_loss.defgrad
def _jaccard_loss_grad(input, target, smooth=1.0, reduction="mean"):
    """The Tversky loss's gradient with alpha = beta = 1."""
    input, target, *_ = _tversky_prepare(input, target, 1.0, 1.0, 1.0, smooth, reduction)
    return _tversky_grad(input, target, 1.0, 1.0, 1.0, float(smooth), reduction)


# --------------------------------------------------------------------------------------------------
# Lovász hinge and Lovász-softmax (Berman, Rannen Triki & Blaschko 2018)
# --------------------------------------------------------------------------------------------------
def _lovasz_grad(gt_sorted):
    """The Lovász extension's weights for errors sorted in decreasing order (Alg. 1 of Berman et al.):
    the increments of the Jaccard loss as the sorted elements are counted as errors one by one."""
    gts = gt_sorted.sum()
    intersection = gts - np.cumsum(gt_sorted)
    union = gts + np.cumsum(1 - gt_sorted)
    jaccard = 1.0 - intersection / union
    if len(gt_sorted) > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def _check_binary_labels(target, name="target"):
    if target.size and not np.all((target == 0) | (target == 1)):
        raise ValueError(
            f"`{name}` must hold 0/1 labels (background / foreground), but it has {describe(target)}. "
            "The Lovász losses need hard labels; for several classes use lovasz_softmax_loss."
        )


def _lovasz_hinge_prepare(input, target, per_image, ignore_index):
    input = as_prediction(input, "input")
    target = np.asarray(target)
    if target.dtype.kind not in "biuf":
        raise TypeError(f"`target` must hold 0/1 labels, but it has dtype {target.dtype}.")
    if target.shape != input.shape:
        raise ValueError(
            f"`target` has shape {target.shape} but `input` has shape {input.shape}; the Lovász hinge takes one "
            "logit per pixel and one 0/1 label per pixel, (N, H, W) each."
        )
    if input.ndim < 1 or (per_image and input.ndim < 2):
        raise ValueError(
            f"`input` must have shape (N, ...) with a batch axis when per_image=True, but it has shape "
            f"{input.shape}. Add one with `input[None]`."
        )
    if not isinstance(per_image, (bool, np.bool_)):
        raise TypeError(f"`per_image` must be True or False, but it is {per_image!r}.")
    valid = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    _check_binary_labels(target[valid])
    check_finite(input, "input")
    return input, target.astype(input.dtype), valid


def _lovasz_hinge_flat(x, y):
    """Loss and d(loss)/dx of one flat group of logits ``x`` with labels ``y``."""
    if x.size == 0:
        return 0.0, np.zeros_like(x)
    signs = 2 * y - 1
    errors = 1 - x * signs
    perm = np.argsort(-errors, kind="stable")
    e_sorted = errors[perm]
    w = _lovasz_grad(y[perm])
    loss = float(np.dot(np.maximum(e_sorted, 0), w))
    g = np.zeros_like(x)
    g[perm] = w * (e_sorted > 0)
    return loss, -g * signs


def _lovasz_hinge_parts(input, target, per_image, ignore_index):
    input, target, valid = _lovasz_hinge_prepare(input, target, per_image, ignore_index)
    groups = range(input.shape[0]) if per_image else [slice(None)]
    losses, grad = [], np.zeros(input.shape)
    for k in groups:
        v = valid[k]
        loss, g = _lovasz_hinge_flat(input[k][v].astype(np.float64), target[k][v].astype(np.float64))
        losses.append(loss)
        gk = grad[k]
        gk[v] = g
    return input, losses, grad


@register(
    family="vision",
    prediction="logits",
    target_dtype="int or float holding 0/1 (bool accepted)",
    target_shape="same shape as input: (N, H, W) or (N, ...)",
    target_values="0 (background) or 1 (foreground); ignore_index marks pixels to leave out",
    torch_function=None,
    torch_module=None,
    reference="Berman, Rannen Triki & Blaschko, The Lovász-Softmax loss, CVPR (2018)",
)
def lovasz_hinge_loss(input, target, per_image=True, ignore_index=None):
    r"""Binary Lovász hinge: the Lovász extension of the Jaccard loss applied to hinge errors.

    For one image with logits :math:`x_i`, signs :math:`s_i = 2y_i - 1` and errors
    :math:`m_i = 1 - x_i s_i`, sort the errors in decreasing order, :math:`m_{\pi(1)} \ge m_{\pi(2)} \ge
    \dots`; then

    .. math:: \ell = \sum_k \max(m_{\pi(k)}, 0)\;\bigl(J(k) - J(k - 1)\bigr),\qquad
              J(k) = 1 - \frac{|\mathrm{fg}| - |\mathrm{fg} \cap \pi(1..k)|}{|\mathrm{fg}| + |\mathrm{bg}
              \cap \pi(1..k)|}

    where :math:`J(k)` is the Jaccard loss if the first :math:`k` sorted pixels were wrong. It equals
    :math:`1 - \mathrm{IoU}` of the thresholded prediction when every error is 0 or 1, and is a piecewise-
    linear convex surrogate of it in between.

    Args:
        input: logits, shape ``(N, H, W)`` (any shape ``(N, ...)``).
        target: 0/1 labels, same shape (integers, floats or booleans).
        per_image: ``True`` (default, as the reference ``lovasz_hinge``): the loss of each image, then their
            mean; ``False``: one loss over all the pixels of the batch.
        ignore_index: a label value whose pixels are left out (the reference's ``ignore``), or ``None``.

    Returns the mean over images (a 0-d array); no ``reduction``, as in the reference. Follows the authors'
    reference implementation (``pytorch/lovasz_losses.py``: ``lovasz_hinge``, ``lovasz_hinge_flat`` and
    ``lovasz_grad``) in value and gradient; ties in the errors are broken by a stable sort (the gradient is a
    subgradient there). Reference: Berman et al. (2018).

    >>> round(float(lovasz_hinge_loss(np.array([[2.0, -1.0, 0.5]]), np.array([[1, 0, 0]]))), 4)
    0.75
    """
    input, losses, _ = _lovasz_hinge_parts(input, target, per_image, ignore_index)
    return np.asarray(np.mean(losses) if losses else 0.0, dtype=input.dtype)


@lovasz_hinge_loss.defgrad
def _lovasz_hinge_loss_grad(input, target, per_image=True, ignore_index=None):
    """The Lovász weights of the sorted errors, scattered back to the pixels (times -sign, where the hinge is
    active), divided by the number of images when per_image."""
    input, losses, grad = _lovasz_hinge_parts(input, target, per_image, ignore_index)
    return (grad / max(len(losses), 1)).astype(input.dtype, copy=False)


@lovasz_hinge_loss.defvalue_and_grad
def _lovasz_hinge_loss_value_and_grad(input, target, per_image=True, ignore_index=None):
    """One sort per image gives both: the loss and the weights scattered back."""
    input, losses, grad = _lovasz_hinge_parts(input, target, per_image, ignore_index)
    value = np.asarray(np.mean(losses) if losses else 0.0, dtype=input.dtype)
    return value, (grad / max(len(losses), 1)).astype(input.dtype, copy=False)


def _lovasz_softmax_prepare(input, target, classes, per_image, ignore_index):
    input = as_prediction(input, "input")
    if input.ndim < 2:
        raise ValueError(
            f"`input` must have shape (N, C, ...) (probabilities over C classes on axis 1), but it has shape "
            f"{input.shape}."
        )
    n_classes = input.shape[1]
    target = as_index_array(target, "target", n_classes, ignore_index)
    expected = input.shape[:1] + input.shape[2:]
    if target.shape != expected:
        raise ValueError(
            f"`target` has shape {target.shape}, but for `input` of shape {input.shape} it must hold one class "
            f"index per pixel, shape {expected}. A one-hot target converts with `target.argmax(axis=1)`."
        )
    check_range(input, "input", 0, 1, "probabilities",
                hint="Apply a softmax over the class axis (axis 1) to the logits first.")
    if input.size:
        sums = input.sum(axis=1)
        if np.abs(sums - 1).max() > 1e-3:
            warn_likely_mistake(
                f"lovasz_softmax_loss: the probabilities along axis 1 sum to values in [{sums.min():.3g}, "
                f"{sums.max():.3g}], not 1. This loss expects a softmax over the class axis.",
            )
    if isinstance(classes, str):
        if classes not in ("present", "all"):
            raise ValueError(f"`classes` must be 'present', 'all' or a list of class indices, but it is {classes!r}.")
        chosen = list(range(n_classes))
    else:
        chosen = [int(c) for c in as_index_array(np.asarray(classes), "classes", n_classes).ravel()]
    if not isinstance(per_image, (bool, np.bool_)):
        raise TypeError(f"`per_image` must be True or False, but it is {per_image!r}.")
    return input, target, chosen, classes == "present"


def _lovasz_softmax_flat(p, y, chosen, present_only):
    """p (P, C) probabilities, y (P,) labels: the loss and d(loss)/dp."""
    grad = np.zeros_like(p)
    if p.size == 0:
        return 0.0, grad
    losses = []
    for c in chosen:
        fg = (y == c).astype(np.float64)
        if present_only and fg.sum() == 0:
            continue
        diff = fg - p[:, c]
        errors = np.abs(diff)
        perm = np.argsort(-errors, kind="stable")
        w = _lovasz_grad(fg[perm])
        losses.append(float(np.dot(errors[perm], w)))
        g = np.zeros(len(fg))
        g[perm] = w
        grad[:, c] = -np.sign(diff) * g
    if not losses:
        return 0.0, grad
    return float(np.mean(losses)), grad / len(losses)


def _lovasz_softmax_parts(input, target, classes, per_image, ignore_index):
    input, target, chosen, present_only = _lovasz_softmax_prepare(input, target, classes, per_image, ignore_index)
    moved = np.moveaxis(input, 1, -1).astype(np.float64)       # (N, ..., C)
    groups = range(input.shape[0]) if per_image else [slice(None)]
    losses, grad = [], np.zeros(moved.shape)
    for k in groups:
        p, y = moved[k].reshape(-1, input.shape[1]), target[k].reshape(-1)
        valid = np.ones(len(y), bool) if ignore_index is None else y != ignore_index
        loss, g = _lovasz_softmax_flat(p[valid], y[valid], chosen, present_only)
        losses.append(loss)
        full = np.zeros_like(p)
        full[valid] = g
        grad[k] = full.reshape(moved[k].shape)
    return input, losses, np.moveaxis(grad, -1, 1)


@register(
    family="vision",
    prediction="probabilities",
    target_dtype="int64 class indices",
    target_shape="input (N, C, H, W) -> target (N, H, W)",
    target_values="class index in [0, C-1] per pixel (or ignore_index)",
    torch_function=None,
    torch_module=None,
    reference="Berman, Rannen Triki & Blaschko, The Lovász-Softmax loss, CVPR (2018)",
)
def lovasz_softmax_loss(input, target, classes="present", per_image=False, ignore_index=None):
    r"""Lovász-softmax: for each class, the Lovász extension of its Jaccard loss applied to the errors
    :math:`|y_{i,c} - p_{i,c}|`, averaged over the classes.

    .. math:: \ell = \frac{1}{|K|}\sum_{c \in K} \sum_k m^c_{\pi_c(k)}\,\bigl(J_c(k) - J_c(k-1)\bigr),
              \qquad m^c_i = |[y_i = c] - p_{i,c}|

    with the errors of class :math:`c` sorted decreasingly by :math:`\pi_c` and :math:`J_c(k)` the Jaccard loss
    of class :math:`c` if the first :math:`k` sorted pixels were wrong (see :func:`lovasz_hinge_loss`).

    Args:
        input: probabilities (a softmax over axis 1), shape ``(N, C, H, W)`` (any ``(N, C, ...)``).
        target: class indices, shape ``(N, H, W)``, integers in ``[0, C - 1]``.
        classes: ``'present'`` (default: only the classes present in the target, as the reference),
            ``'all'``, or a list of class indices.
        per_image: ``False`` (default): one loss over all the pixels of the batch; ``True``: per image, then
            the mean.
        ignore_index: a label whose pixels are left out, or ``None``.

    Returns a 0-d array (no ``reduction``, as in the reference). Follows the authors' reference implementation
    (``pytorch/lovasz_losses.py``: ``lovasz_softmax``, ``lovasz_softmax_flat``) in value and gradient
    (``|0|`` passes a zero gradient, as torch's ``abs``); warns when the probabilities along axis 1 do not
    sum to 1. Reference: Berman et al. (2018).

    >>> p = np.array([[[0.9, 0.4]], [[0.1, 0.6]]])[None, :, 0]      # (N=1, C=2, 2 pixels)
    >>> round(float(lovasz_softmax_loss(p, np.array([[0, 1]]))), 4)
    0.325
    """
    input, losses, _ = _lovasz_softmax_parts(input, target, classes, per_image, ignore_index)
    return np.asarray(np.mean(losses) if losses else 0.0, dtype=input.dtype)


@lovasz_softmax_loss.defgrad
def _lovasz_softmax_loss_grad(input, target, classes="present", per_image=False, ignore_index=None):
    """Per class, the Lovász weights of the sorted errors scattered back (times -sign(y - p)), averaged."""
    input, losses, grad = _lovasz_softmax_parts(input, target, classes, per_image, ignore_index)
    return (grad / max(len(losses), 1)).astype(input.dtype, copy=False)


@lovasz_softmax_loss.defvalue_and_grad
def _lovasz_softmax_loss_value_and_grad(input, target, classes="present", per_image=False, ignore_index=None):
    """One sort per class gives both: the loss and the weights scattered back."""
    input, losses, grad = _lovasz_softmax_parts(input, target, classes, per_image, ignore_index)
    value = np.asarray(np.mean(losses) if losses else 0.0, dtype=input.dtype)
    return value, (grad / max(len(losses), 1)).astype(input.dtype, copy=False)


# --------------------------------------------------------------------------------------------------
# margins on the sphere: CosFace and ArcFace
# --------------------------------------------------------------------------------------------------
_NORM_EPS = 1e-12  # torch.nn.functional.normalize's eps


def _margin_prepare(embeddings, weight, labels, scale, margin, reduction, kind):
    check_reduction(reduction)
    x = as_prediction(embeddings, "embeddings")
    w = as_prediction(weight, "weight")
    x, w = promote(x, w)
    if x.ndim != 2:
        raise ValueError(
            f"`embeddings` must have shape (N, D), one embedding per row, but it has shape {x.shape}."
        )
    if w.ndim != 2 or w.shape[1] != x.shape[1]:
        hint = ""
        if w.ndim == 2 and w.shape[0] == x.shape[1]:
            hint = (" It looks transposed: pytorch-metric-learning stores W as (D, C); lossbook takes one row per "
                    "class, as nn.Linear's weight, so pass `weight.T`.")
        raise ValueError(
            f"`weight` must have shape (C, D) = (classes, {x.shape[1]}), one class vector per row, but it has "
            f"shape {w.shape}.{hint}"
        )
    check_finite(x, "embeddings")
    check_finite(w, "weight")
    labels = as_index_array(labels, "labels", w.shape[0])
    if labels.shape != (x.shape[0],):
        raise ValueError(
            f"`labels` must have shape ({x.shape[0]},), one class index per embedding, but it has shape "
            f"{labels.shape}."
        )
    scale = check_positive(scale, "scale")
    margin = check_scalar(margin, "margin")
    if kind == "arcface" and not 0 <= margin < math.pi / 2:
        raise ValueError(
            f"`margin` is an angle in radians and must lie in [0, pi/2), but it is {margin!r}. ArcFace uses "
            f"0.5; pytorch-metric-learning's ArcFaceLoss takes degrees (28.6): convert with np.radians."
        )
    if kind == "cosface" and margin < 0:
        raise ValueError(f"`margin` must be non-negative, but it is {margin!r} (CosFace uses 0.35).")
    return x, w, labels, scale, margin


def _normalize(a):
    n = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.maximum(n, _NORM_EPS), n


def _normalize_backward(g, a_hat, n):
    """Gradient through a / max(|a|, eps) (rows), as torch.nn.functional.normalize."""
    big = n > _NORM_EPS
    proj = g - a_hat * (a_hat * g).sum(axis=1, keepdims=True)
    return np.where(big, proj / np.maximum(n, _NORM_EPS), g / _NORM_EPS)


def _margin_parts(x, w, labels, scale, margin, kind):
    xh, xn = _normalize(x)
    wh, wn = _normalize(w)
    cos = xh @ wh.T
    rows = np.arange(len(labels))
    c = cos[rows, labels]
    if kind == "cosface":
        phi, dphi = c - margin, np.ones_like(c)
    else:
        cc = np.clip(c, -1.0, 1.0)
        theta = np.arccos(cc)
        sin = np.sqrt(np.maximum(1 - cc**2, 0.0))
        easy = theta <= math.pi - margin
        phi = np.where(easy, np.cos(theta + margin), cc - margin * math.sin(margin))
        with np.errstate(divide="ignore", invalid="ignore"):
            d_easy = np.where(sin > 0, np.sin(theta + margin) / sin, math.cos(margin))
        inside = (c >= -1) & (c <= 1)   # torch.clamp passes the gradient only inside its bounds
        dphi = np.where(easy, d_easy, 1.0) * inside
    logits = scale * cos
    logits[rows, labels] = scale * phi
    return xh, xn, wh, wn, logits, dphi, rows


def _margin_value(embeddings, weight, labels, scale, margin, reduction, kind):
    x, w, labels, scale, margin = _margin_prepare(embeddings, weight, labels, scale, margin, reduction, kind)
    *_, logits, _, rows = _margin_parts(x, w, labels, scale, margin, kind)
    loss = -log_softmax(logits, axis=1)[rows, labels]
    return reduce(loss.astype(x.dtype, copy=False), reduction)


def _margin_grad(embeddings, weight, labels, scale, margin, reduction, kind):
    return _margin_value_and_grad(embeddings, weight, labels, scale, margin, reduction, kind)[1]


def _margin_value_and_grad(embeddings, weight, labels, scale, margin, reduction, kind):
    """The training step: one validation, one cosine matrix and one log-softmax serve the value and the
    gradient (three matrix products, not four); the value costs one gather more than the gradient alone."""
    x, w, labels, scale, margin = _margin_prepare(embeddings, weight, labels, scale, margin, reduction, kind)
    xh, xn, wh, wn, logits, dphi, rows = _margin_parts(x, w, labels, scale, margin, kind)
    log_p = log_softmax(logits, axis=1)
    value = reduce((-log_p[rows, labels]).astype(x.dtype, copy=False), reduction)
    g_logits = np.exp(log_p)
    g_logits[rows, labels] -= 1
    g_logits *= reduction_scale(reduction, len(labels))
    g_cos = scale * g_logits
    g_cos[rows, labels] *= dphi
    g_x = _normalize_backward(g_cos @ wh, xh, xn)
    g_w = _normalize_backward(g_cos.T @ xh, wh, wn)
    return value, (g_x.astype(x.dtype, copy=False), g_w.astype(w.dtype, copy=False))


_MARGIN_TARGET = dict(
    target_dtype="int64 class indices",
    target_shape="embeddings (N, D), weight (C, D) -> labels (N,)",
    target_values="class index in [0, C-1]",
    torch_function=None,
    torch_module=None,
    wrt=("embeddings", "weight"),
)


@register(family="vision", prediction="embeddings and class weights",
          reference="Wang et al., CosFace: Large Margin Cosine Loss, CVPR (2018)", **_MARGIN_TARGET)
def cosface_loss(embeddings, weight, labels, scale=64.0, margin=0.35, reduction="mean"):
    r"""CosFace (large-margin cosine loss): cross-entropy on scaled cosines, the true class's cosine reduced
    by an additive margin.

    .. math:: \cos\theta_{n,j} = \frac{x_n^\top w_j}{\lVert x_n\rVert\,\lVert w_j\rVert},\qquad
              \ell_n = -\log\frac{e^{s(\cos\theta_{n,y_n} - m)}}
              {e^{s(\cos\theta_{n,y_n} - m)} + \sum_{j \ne y_n} e^{s\cos\theta_{n,j}}}

    Args:
        embeddings: ``(N, D)`` float features (normalised inside).
        weight: ``(C, D)`` class weight vectors, one row per class as ``nn.Linear``'s weight (normalised
            inside); pytorch-metric-learning stores the transpose ``(D, C)``.
        labels: ``(N,)`` class indices.
        scale: ``s > 0`` (64, as the paper and pytorch-metric-learning).
        margin: ``m >= 0`` on the cosine (0.35).
        reduction: ``'mean'`` (default, over the batch, as pytorch-metric-learning), ``'sum'`` or ``'none'``.

    Normalisation as ``torch.nn.functional.normalize`` (``x / max(|x|, 1e-12)``). ``.grad`` returns the
    gradients with respect to ``embeddings`` and ``weight``. ``margin=0`` is the normalised softmax (NormFace).
    Follows pytorch-metric-learning's ``CosFaceLoss`` (``losses/cosface_loss.py``), without its optional
    weight regulariser. Reference: Wang et al. (2018).

    >>> x, W = np.array([[1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(cosface_loss(x, W, np.array([0]), scale=4.0, margin=0.5)), 4)  # -log(e^2 / (e^2 + 1))
    0.1269
    """
    return _margin_value(embeddings, weight, labels, scale, margin, reduction, "cosface")


@cosface_loss.defgrad
def _cosface_loss_grad(embeddings, weight, labels, scale=64.0, margin=0.35, reduction="mean"):
    """s (softmax - one-hot) back through the cosine matrix and the two row normalisations."""
    return _margin_grad(embeddings, weight, labels, scale, margin, reduction, "cosface")


@cosface_loss.defvalue_and_grad
def _cosface_loss_value_and_grad(embeddings, weight, labels, scale=64.0, margin=0.35, reduction="mean"):
    return _margin_value_and_grad(embeddings, weight, labels, scale, margin, reduction, "cosface")


@register(family="vision", prediction="embeddings and class weights",
          reference="Deng, Guo, Xue & Zafeiriou, ArcFace: Additive Angular Margin Loss, CVPR (2019)",
          **_MARGIN_TARGET)
def arcface_loss(embeddings, weight, labels, scale=64.0, margin=0.5, reduction="mean"):
    r"""ArcFace (additive angular margin loss): cross-entropy on scaled cosines, the true class's *angle*
    increased by a margin.

    .. math:: \ell_n = -\log\frac{e^{s\,\phi(\theta_{n,y_n})}}
              {e^{s\,\phi(\theta_{n,y_n})} + \sum_{j \ne y_n} e^{s\cos\theta_{n,j}}},\qquad
              \phi(\theta) = \begin{cases} \cos(\theta + m) & \theta \le \pi - m \\
              \cos\theta - m \sin m & \theta > \pi - m \end{cases}

    The second branch is the fix for angles above :math:`\pi - m`: there :math:`\cos(\theta + m)` would
    *increase* with :math:`\theta` (the margin would reward a worse angle); :math:`\cos\theta - m \sin m`
    (a CosFace-like margin; :math:`\phi` steps down slightly at :math:`\pi - m`) keeps it decreasing, as
    insightface and pytorch-metric-learning do.

    Args:
        embeddings: ``(N, D)``; weight: ``(C, D)`` class vectors, one row per class (the transpose of
            pytorch-metric-learning's ``W``); labels: ``(N,)`` class indices.
        scale: ``s > 0`` (64).
        margin: ``m`` in radians, ``0 <= m < pi/2`` (0.5, as the paper; pytorch-metric-learning's
            ``ArcFaceLoss`` takes degrees, ``margin=28.6``).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Follows pytorch-metric-learning's ``ArcFaceLoss`` (``losses/arcface_loss.py``): cosine clamped to
    [-1, 1], :math:`\theta = \arccos`, the branch above, without the optional weight regulariser. The
    derivative of :math:`\cos(\arccos c + m)` is :math:`\sin(\theta + m)/\sin\theta`, unbounded as
    :math:`\theta \to 0`; at :math:`\theta = 0` exactly lossbook uses its limit from the formula
    :math:`\cos m + \sin m \cdot c / \sin\theta` with the last term dropped. Reference: Deng et al. (2019).

    >>> x, W = np.array([[1.0, 0.0]]), np.array([[0.6, 0.8], [0.0, 1.0]])
    >>> round(float(arcface_loss(x, W, np.array([0]), scale=4.0, margin=0.5)), 4)
    0.4475
    """
    return _margin_value(embeddings, weight, labels, scale, margin, reduction, "arcface")


@arcface_loss.defgrad
def _arcface_loss_grad(embeddings, weight, labels, scale=64.0, margin=0.5, reduction="mean"):
    """s (softmax - one-hot), times d(phi)/d(cos) at the true class, back through the normalisations."""
    return _margin_grad(embeddings, weight, labels, scale, margin, reduction, "arcface")


@arcface_loss.defvalue_and_grad
def _arcface_loss_value_and_grad(embeddings, weight, labels, scale=64.0, margin=0.5, reduction="mean"):
    return _margin_value_and_grad(embeddings, weight, labels, scale, margin, reduction, "arcface")
