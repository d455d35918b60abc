"""Vision losses (lossbook.vision): boxes, masks and margins on the sphere.

torchvision and pytorch-metric-learning do not load beside this CPU build of torch, so their formulas are written
below as torch references (from torchvision's ops/giou_loss.py, diou_loss.py, ciou_loss.py and _utils.py, the
authors' reference Lovász code pytorch/lovasz_losses.py, and pytorch-metric-learning's CosFaceLoss and ArcFaceLoss),
and autograd gives the gradients the analytic ones are checked against.
"""
import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_close, check_parity, check_promoted_parity, numerical_grad

import lossbook

pytestmark = pytest.mark.filterwarnings("error::lossbook.LossInputWarning")

RNG = np.random.default_rng(20261206)
DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]
KINDS = ["iou", "giou", "diou", "ciou"]


def _torch_reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


# ---- torch references ------------------------------------------------------------------------------------
def torch_box_loss(boxes1, boxes2, kind="iou", reduction="none", eps=1e-7):
    """torchvision.ops' box losses, as in its current sources (_loss_inter_union, _diou_iou_loss, ...)."""
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    xkis1, ykis1 = torch.max(x1, x1g), torch.max(y1, y1g)
    xkis2, ykis2 = torch.min(x2, x2g), torch.min(y2, y2g)
    intsct = torch.zeros_like(x1)
    mask = (ykis2 > ykis1) & (xkis2 > xkis1)
    intsct[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsct
    iou = intsct / (union + eps)
    xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
    xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
    if kind == "iou":
        loss = 1 - iou
    elif kind == "giou":
        area_c = (xc2 - xc1) * (yc2 - yc1)
        loss = 1 - (iou - (area_c - union) / (area_c + eps))
    else:
        diag = ((xc2 - xc1) ** 2) + ((yc2 - yc1) ** 2) + eps
        dist = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
        loss = 1 - iou + dist / diag
        if kind == "ciou":
            w_pred, h_pred, w_gt, h_gt = x2 - x1, y2 - y1, x2g - x1g, y2g - y1g
            v = (4 / (torch.pi**2)) * torch.pow((torch.atan(w_gt / h_gt) - torch.atan(w_pred / h_pred)), 2)
            with torch.no_grad():
                alpha = v / (1 - iou + v + eps)
            loss = loss + alpha * v
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    return loss.sum() if reduction == "sum" else loss


def torch_dice(input, target, smooth=1.0, reduction="mean"):
    """Soft Dice per sample (Milletari et al. 2016), written with torch ops for autograd."""
    dims = tuple(range(1, input.dim()))
    num = 2 * (input * target).sum(dims) + smooth
    den = input.sum(dims) + target.sum(dims) + smooth
    return _torch_reduce(1 - num / den, reduction)


def torch_tversky(input, target, alpha=0.5, beta=0.5, gamma=1.0, smooth=1.0, reduction="mean"):
    """Salehi et al. (2017); with gamma, Abraham & Khan's (2019) focal Tversky (gamma = their 1/gamma)."""
    dims = tuple(range(1, input.dim()))
    tp = (input * target).sum(dims)
    fp = (input * (1 - target)).sum(dims)
    fn = ((1 - input) * target).sum(dims)
    ti = (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)
    return _torch_reduce((1 - ti) ** gamma, reduction)


def _lovasz_grad(gt_sorted):
    p = len(gt_sorted)
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)   # the reference's .float(), in the input's dtype here
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if p > 1:
        jaccard[1:p] = jaccard[1:p] - jaccard[0:-1]
    return jaccard


def _lovasz_hinge_flat(logits, labels):
    if len(labels) == 0:
        return logits.sum() * 0.0
    labels = labels.to(logits.dtype)
    signs = 2.0 * labels - 1.0
    errors = 1.0 - logits * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    grad = _lovasz_grad(labels[perm])
    return torch.dot(F.relu(errors_sorted), grad)


def torch_lovasz_hinge(logits, labels, per_image=True, ignore_index=None):
    """The authors' reference lovasz_hinge (bermanmaxim/LovaszSoftmax, pytorch/lovasz_losses.py)."""
    def flat(lg, lb):
        lg, lb = lg.reshape(-1), lb.reshape(-1)
        if ignore_index is not None:
            keep = lb != ignore_index
            lg, lb = lg[keep], lb[keep]
        return _lovasz_hinge_flat(lg, lb)

    if per_image:
        return torch.stack([flat(lg, lb) for lg, lb in zip(logits, labels, strict=True)]).mean()
    return flat(logits, labels)


def _lovasz_softmax_flat(probas, labels, classes="present"):
    if probas.numel() == 0:
        return probas.sum() * 0.0
    losses = []
    for c in range(probas.size(1)) if classes in ("all", "present") else classes:
        fg = (labels == c).to(probas.dtype)
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probas[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, _lovasz_grad(fg[perm])))
    return torch.stack(losses).mean() if losses else probas.sum() * 0.0


def torch_lovasz_softmax(probas, labels, classes="present", per_image=False, ignore_index=None):
    """The authors' reference lovasz_softmax, flatten_probas included."""
    def flat(p, lb):
        c = p.shape[1]
        p = p.movedim(1, -1).reshape(-1, c)
        lb = lb.reshape(-1)
        if ignore_index is not None:
            keep = lb != ignore_index
            p, lb = p[keep], lb[keep]
        return _lovasz_softmax_flat(p, lb, classes)

    if per_image:
        return torch.stack([flat(p[None], lb[None]) for p, lb in zip(probas, labels, strict=True)]).mean()
    return flat(probas, labels)


def _torch_margin(embeddings, weight, labels, scale, margin, reduction, kind):
    """pytorch-metric-learning's LargeMarginSoftmaxLoss.compute_loss with CosFace's / ArcFace's
    modify_cosine_of_target_classes; W as (C, D) rows."""
    cosine = F.normalize(embeddings, dim=1) @ F.normalize(weight, dim=1).T
    mask = F.one_hot(labels, weight.shape[0]).to(cosine.dtype)
    c = cosine[mask == 1]
    if kind == "cosface":
        modified = c - margin
    else:
        angles = torch.acos(torch.clamp(c, -1, 1))
        modified = torch.where(angles <= np.deg2rad(180) - margin, torch.cos(angles + margin),
                               torch.cos(angles) - margin * np.sin(margin))
    logits = (cosine + mask * (modified - c).unsqueeze(1)) * scale
    return F.cross_entropy(logits, labels, reduction=reduction)


def torch_cosface(embeddings, weight, labels, scale=64.0, margin=0.35, reduction="mean"):
    return _torch_margin(embeddings, weight, labels, scale, margin, reduction, "cosface")


def torch_arcface(embeddings, weight, labels, scale=64.0, margin=0.5, reduction="mean"):
    return _torch_margin(embeddings, weight, labels, scale, margin, reduction, "arcface")


# ---- data --------------------------------------------------------------------------------------------------
def _boxes(n, dtype=np.float64, rng=RNG, spread=4.0):
    xy = rng.uniform(0, spread, (n, 2))
    wh = rng.uniform(0.5, 3.0, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(dtype)


def _probs(shape, dtype=np.float64):
    return np.asarray(RNG.uniform(0.02, 0.98, shape), dtype=dtype)


def _labels(shape, dtype=np.float64):
    return np.asarray(RNG.integers(0, 2, shape), dtype=dtype)


# =====================================================================================================
# box_iou_loss
# =====================================================================================================
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_box_parity_value_and_both_gradients(kind, reduction, dtype):
    b1, b2 = _boxes(40, dtype), _boxes(40, dtype)   # a spread of 4 with sizes 0.5-3: overlapping and disjoint
    kwargs = {"kind": kind, "reduction": reduction}
    _, grads = check_parity("box_iou_loss", [b1, b2], kwargs, grad_argnums=(0, 1), torch_fn=torch_box_loss)
    assert len(grads) == 2


def test_box_cases_include_disjoint_and_overlapping_boxes():
    b1, b2 = _boxes(40), _boxes(40)
    iou = 1 - lossbook.box_iou_loss(b1, b2)
    assert (iou == 0).sum() >= 5 and (iou > 0.1).sum() >= 5


@pytest.mark.parametrize("kind", KINDS)
def test_box_ties_split_the_gradient_as_torch(kind):
    """Identical boxes and boxes sharing an edge: every max/min is a tie, which torch splits in halves."""
    b = np.array([[1.0, 1.0, 3.0, 4.0], [0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]])
    g = np.array([[1.0, 1.0, 3.0, 4.0], [2.0, 0.0, 4.0, 2.0], [0.0, 0.0, 3.0, 2.0]])
    check_parity("box_iou_loss", [b, g], {"kind": kind}, grad_argnums=(0, 1), torch_fn=torch_box_loss)


@pytest.mark.parametrize("kind", KINDS)
def test_box_single_box_and_leading_axes(kind):
    b, g = _boxes(6), _boxes(6)
    check_parity("box_iou_loss", [b[0], g[0]], {"kind": kind}, grad_argnums=(0, 1), torch_fn=torch_box_loss)
    check_parity("box_iou_loss", [b.reshape(2, 3, 4), g.reshape(2, 3, 4)], {"kind": kind, "reduction": "mean"},
                 grad_argnums=(0, 1), torch_fn=torch_box_loss)


@pytest.mark.parametrize("kind", KINDS)
def test_box_mean_of_no_boxes_is_zero_as_torchvision(kind):
    b = np.zeros((0, 4))
    assert lossbook.box_iou_loss(b, b, kind=kind, reduction="mean") == 0
    g1, g2 = lossbook.box_iou_loss.grad(b, b, kind=kind, reduction="mean")
    assert g1.shape == (0, 4) and g2.shape == (0, 4)


def test_box_known_values_and_properties():
    b, g = np.array([[0.0, 0.0, 2.0, 2.0]]), np.array([[1.0, 1.0, 3.0, 3.0]])
    iou = 1 / 7
    assert lossbook.box_iou_loss(b, g)[0] == pytest.approx(1 - iou, rel=1e-6)
    assert lossbook.box_iou_loss(b, g, kind="giou")[0] == pytest.approx(1 - iou + 2 / 9, rel=1e-6)
    assert lossbook.box_iou_loss(b, g, kind="diou")[0] == pytest.approx(1 - iou + 2 / 18, rel=1e-6)
    # same aspect ratio: v = 0, so CIoU = DIoU
    assert lossbook.box_iou_loss(b, g, kind="ciou")[0] == pytest.approx(1 - iou + 2 / 18, rel=1e-6)
    # disjoint boxes: IoU loss is 1 with zero gradient; GIoU and DIoU exceed 1 and still have a gradient
    far = np.array([[5.0, 0.0, 7.0, 2.0]])
    assert lossbook.box_iou_loss(b, far)[0] == 1
    assert np.all(lossbook.box_iou_loss.grad(b, far)[0] == 0)
    for kind in ("giou", "diou"):
        assert lossbook.box_iou_loss(b, far, kind=kind)[0] > 1
        assert np.abs(lossbook.box_iou_loss.grad(b, far, kind=kind)[0]).sum() > 0
    b1, b2 = _boxes(10), _boxes(10)
    for kind in KINDS:   # symmetric
        np.testing.assert_allclose(lossbook.box_iou_loss(b1, b2, kind=kind), lossbook.box_iou_loss(b2, b1, kind=kind),
                                   rtol=1e-12)
        assert np.all(lossbook.box_iou_loss(b1, b1, kind=kind) < 1e-6)


def test_box_errors():
    b = _boxes(3)
    with pytest.raises(ValueError, match=r"`kind` must be one of 'iou', 'giou', 'diou', 'ciou'"):
        lossbook.box_iou_loss(b, b, kind="eiou")
    with pytest.raises(ValueError, match=r"`boxes2` has shape \(2, 4\) but `boxes1` has shape \(3, 4\)|"
                                         r"`boxes1` has shape \(3, 4\) but `boxes2` has shape \(2, 4\)"):
        lossbook.box_iou_loss(b, b[:2])
    with pytest.raises(ValueError, match=r"`boxes1` must have shape \(N, 4\)"):
        lossbook.box_iou_loss(b[:, :3], b[:, :3])
    cxcywh = np.array([[2.0, 2.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"x1 <= x2.*box_convert\(boxes, 'cxcywh', 'xyxy'\)"):
        lossbook.box_iou_loss(cxcywh, b[:1])
    with pytest.raises(ValueError, match=r"zero width or height.*kind='diou'"):
        lossbook.box_iou_loss(np.array([[0.0, 0.0, 0.0, 1.0]]), b[:1], kind="ciou")
    with pytest.raises(TypeError, match=r"`boxes1` is a prediction"):
        lossbook.box_iou_loss(b.astype(int), b)
    with pytest.raises(ValueError, match="`eps` must be non-negative"):
        lossbook.box_iou_loss(b, b, eps=-1)
    with pytest.raises(ValueError, match=r"`boxes2` contains NaN"):
        lossbook.box_iou_loss(b, np.full((3, 4), np.nan))
    assert lossbook.box_iou_loss(b, np.round(b * 10).astype(int)).dtype == np.float64   # integer targets accepted


def test_box_convert_round_trips_and_matches_torchvision_formulas():
    b = _boxes(5)
    cx = lossbook.box_convert(b, "xyxy", "cxcywh")
    np.testing.assert_allclose(cx[:, :2], (b[:, :2] + b[:, 2:]) / 2)
    np.testing.assert_allclose(cx[:, 2:], b[:, 2:] - b[:, :2])
    for fmt in ("xywh", "cxcywh"):
        np.testing.assert_allclose(lossbook.box_convert(lossbook.box_convert(b, "xyxy", fmt), fmt, "xyxy"), b)
    with pytest.raises(ValueError, match="`out_fmt` must be one of"):
        lossbook.box_convert(b, "xyxy", "yxyx")


@pytest.mark.parametrize("kind", KINDS)
def test_box_mixed_float32_float64_is_promoted(kind):
    check_promoted_parity("box_iou_loss", [_boxes(8, np.float32), _boxes(8)], {"kind": kind, "reduction": "sum"},
                          grad_argnums=(0, 1), torch_fn=torch_box_loss, rtol=1e-9, grad_rtol=1e-5)


# =====================================================================================================
# dice_loss (moved from test_classification_binary.py with the loss)
# =====================================================================================================
@pytest.mark.parametrize("shape", [(3, 8), (2, 4, 5), (2, 3, 4, 4)])
@pytest.mark.parametrize("smooth", [1.0, 0.1, 0.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dice_parity(shape, smooth, reduction, dtype):
    t = _labels(shape, dtype)
    t.reshape(shape[0], -1)[:, 0] = 1  # non-empty masks, so smooth=0 is defined
    kwargs = {"smooth": smooth, "reduction": reduction}
    check_parity("dice_loss", [_probs(shape, dtype), t], kwargs, torch_fn=torch_dice)
    check_parity(
        "dice_loss",
        [_probs(shape, dtype), np.asarray(RNG.uniform(0, 1, shape), dtype=dtype)],
        kwargs,
        torch_fn=torch_dice,
    )


def test_dice_perfect_and_empty_masks():
    t = np.zeros((2, 3, 3))
    t[0, 1, 1] = 1
    np.testing.assert_allclose(lossbook.dice_loss(t.copy(), t, reduction="none"), [0.0, 0.0], atol=1e-15)
    assert lossbook.dice_loss(np.ones((1, 4)), np.zeros((1, 4)), smooth=1.0) == pytest.approx(1 - 1 / 5)


def test_dice_errors():
    with pytest.raises(ValueError, match=r"`input`.*probabilities.*sigmoid"):
        lossbook.dice_loss(RNG.standard_normal((2, 5)) * 5, _labels((2, 5)))
    with pytest.raises(ValueError, match=r"`input` must have shape \(N, \.\.\.\).*input\[None\]"):
        lossbook.dice_loss(_probs((5,)), _labels((5,)))
    with pytest.raises(ValueError, match="`smooth` must be non-negative"):
        lossbook.dice_loss(_probs((2, 5)), _labels((2, 5)), smooth=-1)
    with pytest.raises(ValueError, match=r"`target`.*\[0, 1\]"):
        lossbook.dice_loss(_probs((2, 2)), np.array([[0.0, 2.0], [1.0, 1.0]]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dice_gradient_does_not_underflow_to_nan_with_smooth_0(reduction):
    """(A - 2yB) / B^2 is 0/0 when B^2 underflows (B = 2e-200); torch's autograd gives 0, and so must we."""
    x = np.array([[1e-200, 1e-200], [0.3, 0.6]])
    y = np.array([[0.0, 0.0], [1.0, 0.0]])
    _, (g,) = check_parity("dice_loss", [x, y], {"smooth": 0.0, "reduction": reduction}, torch_fn=torch_dice)
    assert np.all(np.isfinite(g))


# =====================================================================================================
# Tversky, focal Tversky, Jaccard
# =====================================================================================================
@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.3, 0.7), (0.9, 0.1), (1.0, 1.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_tversky_parity(alpha, beta, reduction, dtype):
    p, y = _probs((3, 4, 5), dtype), _labels((3, 4, 5), dtype)
    kw = {"alpha": alpha, "beta": beta, "smooth": 0.5, "reduction": reduction}
    check_parity("tversky_loss", [p, y], kw, torch_fn=torch_tversky)
    for gamma in (0.75, 2.0):
        check_parity("focal_tversky_loss", [p, y], {**kw, "gamma": gamma}, torch_fn=torch_tversky)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_jaccard_parity_and_identities(reduction):
    p, y = _probs((4, 6)), _labels((4, 6))
    check_parity("jaccard_loss", [p, y], {"smooth": 1.0, "reduction": reduction},
                 torch_fn=lambda a, b, smooth, reduction: torch_tversky(a, b, 1.0, 1.0, 1.0, smooth, reduction))
    none = {"reduction": "none"}
    np.testing.assert_allclose(lossbook.tversky_loss(p, y, smooth=0.3, **none),
                               lossbook.dice_loss(p, y, smooth=0.6, **none), rtol=1e-12)
    np.testing.assert_allclose(lossbook.tversky_loss(p, y, 1.0, 1.0, smooth=0.3, **none),
                               lossbook.jaccard_loss(p, y, smooth=0.3, **none), rtol=1e-12)
    np.testing.assert_allclose(lossbook.focal_tversky_loss(p, y, 0.3, 0.7, gamma=1.0, **none),
                               lossbook.tversky_loss(p, y, 0.3, 0.7, **none), rtol=1e-12)
    d = 1 - lossbook.dice_loss(p, y, smooth=0, **none)   # J = D / (2 - D) without smoothing
    np.testing.assert_allclose(1 - lossbook.jaccard_loss(p, y, smooth=0, **none), d / (2 - d), rtol=1e-12)


def test_tversky_weights_false_negatives_by_beta():
    y = np.array([[1.0, 1.0, 0.0, 0.0]])
    misses = np.array([[1.0, 0.0, 0.0, 0.0]])     # one false negative
    extras = np.array([[1.0, 1.0, 1.0, 0.0]])     # one false positive
    fn_heavy = {"alpha": 0.3, "beta": 0.7, "smooth": 0.0}
    assert lossbook.tversky_loss(misses, y, **fn_heavy) > lossbook.tversky_loss(extras, y, **fn_heavy)


def test_focal_tversky_perfect_prediction_has_zero_loss_and_finite_gradient():
    y = _labels((2, 6))
    y[:, 0] = 1
    assert float(lossbook.focal_tversky_loss(y.copy(), y, smooth=0)) == 0
    assert np.all(lossbook.focal_tversky_loss.grad(y.copy(), y, smooth=0) == 0)


def test_mask_loss_errors():
    p, y = _probs((2, 5)), _labels((2, 5))
    with pytest.raises(ValueError, match="`alpha` must be non-negative"):
        lossbook.tversky_loss(p, y, alpha=-0.1)
    with pytest.raises(ValueError, match="`gamma` must be positive"):
        lossbook.focal_tversky_loss(p, y, gamma=0)
    with pytest.raises(ValueError, match=r"`target` has shape \(2, 4\) but `input` has shape \(2, 5\)"):
        lossbook.jaccard_loss(p, y[:, :4])
    with pytest.raises(ValueError, match=r"`target`.*\[0, 1\].*class indices"):
        lossbook.tversky_loss(p, y * 3)


# =====================================================================================================
# Lovász hinge and Lovász-softmax
# =====================================================================================================
@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lovasz_hinge_parity_with_the_reference(per_image, dtype):
    x = np.asarray(2 * RNG.standard_normal((3, 5, 6)), dtype=dtype)
    y = RNG.integers(0, 2, (3, 5, 6))
    check_parity("lovasz_hinge_loss", [x, y], {"per_image": per_image}, torch_fn=torch_lovasz_hinge)


def test_lovasz_hinge_ignore_index_and_empty_image():
    x = 2 * RNG.standard_normal((2, 4, 4))
    y = RNG.integers(0, 2, (2, 4, 4))
    y[0, 0] = 255
    check_parity("lovasz_hinge_loss", [x, y], {"ignore_index": 255}, torch_fn=torch_lovasz_hinge)
    y[1] = 255   # an image with every pixel ignored costs 0 (and passes no gradient)
    value, (g,) = check_parity("lovasz_hinge_loss", [x, y], {"ignore_index": 255}, torch_fn=torch_lovasz_hinge)
    assert np.all(g[1] == 0)


@pytest.mark.parametrize("classes", ["present", "all", [0, 2]])
@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lovasz_softmax_parity_with_the_reference(classes, per_image, dtype):
    logits = 2 * RNG.standard_normal((2, 4, 3, 5))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = RNG.integers(0, 3, (2, 3, 5))   # class 3 absent: 'present' and 'all' differ
    kwargs = {"classes": classes, "per_image": per_image}
    check_parity("lovasz_softmax_loss", [p.astype(dtype), y], kwargs, torch_fn=torch_lovasz_softmax)


def test_lovasz_softmax_ignore_index():
    logits = RNG.standard_normal((2, 3, 4, 4))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = RNG.integers(0, 3, (2, 4, 4))
    y[:, 0] = -1
    check_parity("lovasz_softmax_loss", [p, y], {"ignore_index": -1}, torch_fn=torch_lovasz_softmax)


def _iou(pred, y, c):
    inter = np.sum((pred == c) & (y == c))
    union = np.sum((pred == c) | (y == c))
    return inter / union


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_lovasz_losses_equal_one_minus_iou_on_hard_predictions(seed):
    """The Lovász extension agrees with the set function on the vertices: errors that are all 0 or 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, (1, 5, 5))
    pred = rng.integers(0, 3, (1, 5, 5))
    onehot = np.moveaxis(np.eye(3)[pred], -1, 1)
    present = np.unique(y)
    expected = np.mean([1 - _iou(pred, y, c) for c in present])
    assert float(lossbook.lovasz_softmax_loss(onehot, y)) == pytest.approx(expected, abs=1e-12)
    fg, guess = (y == 0).astype(float), (pred == 0)
    logits = np.where(guess, 1.0, -1.0)        # margins of exactly 0 or 2: hinge errors 0 or 2
    union = np.sum(guess | (fg == 1))
    jac = 1 - np.sum(guess & (fg == 1)) / union if union else 0.0
    assert float(lossbook.lovasz_hinge_loss(logits, fg)) == pytest.approx(2 * jac, abs=1e-12)


def test_lovasz_errors_and_warning():
    p = np.full((1, 2, 2, 2), 0.5)
    with pytest.raises(ValueError, match=r"`target` has shape \(1, 2, 2, 2\).*argmax\(axis=1\)"):
        lossbook.lovasz_softmax_loss(p, np.zeros((1, 2, 2, 2), int))
    with pytest.raises(TypeError, match=r"`target` must hold integer class indices"):
        lossbook.lovasz_softmax_loss(p, np.zeros((1, 2, 2)))
    with pytest.raises(IndexError, match=r"indices must lie in \[0, 1\]"):
        lossbook.lovasz_softmax_loss(p, np.full((1, 2, 2), 2))
    with pytest.raises(ValueError, match="`classes` must be"):
        lossbook.lovasz_softmax_loss(p, np.zeros((1, 2, 2), int), classes="some")
    with pytest.warns(lossbook.LossInputWarning, match="softmax over the class axis"):
        lossbook.lovasz_softmax_loss(np.full((1, 2, 2, 2), 0.2), np.zeros((1, 2, 2), int))
    with pytest.raises(ValueError, match=r"`target` must hold 0/1 labels"):
        lossbook.lovasz_hinge_loss(np.zeros((1, 3)), np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"batch axis"):
        lossbook.lovasz_hinge_loss(np.zeros(3), np.array([0, 1, 1]))


# =====================================================================================================
# CosFace and ArcFace
# =====================================================================================================
def _margin_data(n=12, d=5, c=4, dtype=np.float64, rng=RNG):
    x = rng.standard_normal((n, d)).astype(dtype)
    w = rng.standard_normal((c, d)).astype(dtype)
    y = rng.integers(0, c, n)
    return x, w, y


@pytest.mark.parametrize("name,torch_fn", [("cosface_loss", torch_cosface), ("arcface_loss", torch_arcface)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_margin_parity_with_pytorch_metric_learning(name, torch_fn, reduction, dtype):
    x, w, y = _margin_data(dtype=dtype)
    for scale, margin in [(64.0, 0.35 if name == "cosface_loss" else 0.5), (8.0, 0.2), (30.0, 0.0)]:
        kw = {"scale": scale, "margin": margin, "reduction": reduction}
        check_parity(name, [x, w, y], kw, grad_argnums=(0, 1), torch_fn=torch_fn,
                     grad_rtol=1e-8 if dtype == np.float64 else 2e-3,
                     grad_atol=1e-10 if dtype == np.float64 else 1e-4)


def test_arcface_beyond_pi_minus_m_uses_the_linear_branch():
    """An embedding almost opposite its class vector: theta > pi - m, where cos(theta + m) would increase."""
    w = np.array([[1.0, 0.0], [0.0, 1.0]])
    x = np.array([[-1.0, 0.05], [-1.0, -0.3], [0.3, 1.0]])
    y = np.array([0, 0, 1])
    theta = np.arccos(-1 / np.hypot(1, 0.05))
    assert theta > np.pi - 0.5
    check_parity("arcface_loss", [x, w, y], {"scale": 4.0, "margin": 0.5}, grad_argnums=(0, 1), torch_fn=torch_arcface)
    # monotone: a worse angle to the true class costs more, on both branches (the other class stays orthogonal)
    angles = np.linspace(0.05, np.pi - 0.01, 200)
    xs = np.stack([np.cos(angles), np.sin(angles), np.zeros(200)], 1)
    w3 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    losses = lossbook.arcface_loss(xs, w3, np.zeros(200, int), scale=4.0, margin=0.5, reduction="none")
    assert np.all(np.diff(losses) > 0)


def test_margin_zero_is_normalised_softmax_cross_entropy():
    x, w, y = _margin_data()
    xn, wn = x / np.linalg.norm(x, axis=1, keepdims=True), w / np.linalg.norm(w, axis=1, keepdims=True)
    ce = lossbook.cross_entropy(16.0 * xn @ wn.T, y)
    assert float(lossbook.cosface_loss(x, w, y, scale=16.0, margin=0.0)) == pytest.approx(float(ce), rel=1e-12)
    assert float(lossbook.arcface_loss(x, w, y, scale=16.0, margin=0.0)) == pytest.approx(float(ce), rel=1e-10)
    # a margin makes the loss larger: the true class must win by more
    assert lossbook.cosface_loss(x, w, y, scale=16.0) > ce and lossbook.arcface_loss(x, w, y, scale=16.0) > ce
    # the loss depends on directions only
    assert float(lossbook.arcface_loss(3 * x, 0.5 * w, y)) == pytest.approx(float(lossbook.arcface_loss(x, w, y)))


def test_margin_errors():
    x, w, y = _margin_data()
    with pytest.raises(ValueError, match=r"`weight` must have shape \(C, D\).*transposed.*weight\.T"):
        lossbook.arcface_loss(x, w.T, y)
    with pytest.raises(ValueError, match=r"radians.*degrees \(28\.6\).*np\.radians"):
        lossbook.arcface_loss(x, w, y, margin=28.6)
    with pytest.raises(ValueError, match="`scale` must be positive"):
        lossbook.cosface_loss(x, w, y, scale=0)
    with pytest.raises(IndexError, match=r"indices must lie in \[0, 3\]"):
        lossbook.cosface_loss(x, w, np.full(12, 4))
    with pytest.raises(ValueError, match=r"`labels` must have shape \(12,\)"):
        lossbook.cosface_loss(x, w, y[:5])
    with pytest.raises(TypeError, match=r"`labels` must hold integer class indices"):
        lossbook.cosface_loss(x, w, np.eye(4)[y])
    with pytest.raises(ValueError, match=r"`embeddings` must have shape \(N, D\)"):
        lossbook.cosface_loss(x[0], w, y[:1])


@pytest.mark.parametrize("name,torch_fn", [("cosface_loss", torch_cosface), ("arcface_loss", torch_arcface)])
def test_margin_mixed_float_dtypes_are_promoted(name, torch_fn):
    x, w, y = _margin_data()
    check_promoted_parity(name, [x.astype(np.float32), w, y], {"scale": 8.0}, grad_argnums=(0, 1), torch_fn=torch_fn,
                          rtol=1e-9, grad_rtol=1e-5)


# =====================================================================================================
# metadata, dtypes, finite differences
# =====================================================================================================
VISION = ["box_iou_loss", "dice_loss", "tversky_loss", "focal_tversky_loss", "jaccard_loss", "lovasz_hinge_loss",
          "lovasz_softmax_loss", "cosface_loss", "arcface_loss"]


@pytest.mark.parametrize("name", VISION)
def test_registered_in_the_vision_family_with_gradient_and_docs(name):
    import inspect

    fn = getattr(lossbook, name)
    info = fn.info
    assert info.family == "vision" and info in lossbook.catalogue("vision")
    for field in ("prediction", "target_dtype", "target_shape", "target_values", "reference", "summary"):
        assert getattr(info, field), f"{name}.info.{field} is empty"
    assert ".. math::" in fn.__doc__ and "eference" in fn.__doc__ and ">>>" in fn.__doc__
    assert list(inspect.signature(fn.grad).parameters) == list(inspect.signature(fn).parameters)
    assert name in lossbook.vision.__all__ and name not in lossbook.binary.__all__


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(lossbook.vision, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 9 and result.failed == 0


def test_signatures_follow_torchvision_and_the_papers():
    import inspect

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    empty = inspect.Parameter.empty
    assert params(lossbook.box_iou_loss) == [("boxes1", empty), ("boxes2", empty), ("kind", "iou"),
                                             ("reduction", "none"), ("eps", 1e-7)]
    assert params(lossbook.arcface_loss)[3:5] == [("scale", 64.0), ("margin", 0.5)]
    assert params(lossbook.cosface_loss)[3:5] == [("scale", 64.0), ("margin", 0.35)]
    assert math.isclose(np.radians(28.6), 0.5, rel_tol=2e-3)   # pytorch-metric-learning's default in degrees


def _int_and_bool_cases():
    x, w, y = _margin_data(4, 3, 3)
    return [
        ("box_iou_loss", [_boxes(3), _boxes(3)], {}),
        ("dice_loss", [_probs((2, 3)), _labels((2, 3))], {}),
        ("tversky_loss", [_probs((2, 3)), _labels((2, 3))], {}),
        ("focal_tversky_loss", [_probs((2, 3)), _labels((2, 3))], {}),
        ("jaccard_loss", [_probs((2, 3)), _labels((2, 3))], {}),
        ("lovasz_hinge_loss", [RNG.standard_normal((2, 3)), RNG.integers(0, 2, (2, 3))], {}),
        ("lovasz_softmax_loss", [np.full((1, 2, 3), 0.5), np.zeros((1, 3), int)], {}),
        ("cosface_loss", [x, w, y], {}),
        ("arcface_loss", [x, w, y], {}),
    ]


@pytest.mark.parametrize("kind", ["int", "bool"])
def test_integer_and_boolean_predictions_are_refused(kind):
    for name, args, kwargs in _int_and_bool_cases():
        bad = list(args)
        bad[0] = np.round(args[0]).astype(np.int64) if kind == "int" else args[0] > 0
        what = "integers" if kind == "int" else "booleans"
        first = {"box_iou_loss": "boxes1", "cosface_loss": "embeddings", "arcface_loss": "embeddings"}.get(name, "input")
        with pytest.raises(TypeError, match=rf"`{first}` is a prediction and must hold floating-point.*{what}"):
            getattr(lossbook, name)(*bad, **kwargs)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_property_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    p, soft = rng.uniform(0.05, 0.95, (2, 6)), rng.uniform(0, 1, (2, 6))
    x, w, y = _margin_data(5, 3, 4, rng=rng)
    b1, b2 = _boxes(4, rng=rng, spread=2.0), _boxes(4, rng=rng, spread=2.0)
    cases = [
        ("tversky_loss", p, (soft,), {"alpha": 0.3, "beta": 0.7}),
        ("focal_tversky_loss", p, (soft,), {"gamma": 1.5, "reduction": "sum"}),
        ("jaccard_loss", p, (soft,), {"smooth": 0.1, "reduction": "none"}),
        ("cosface_loss", x, (w, y), {"scale": 4.0}),
        ("arcface_loss", x, (w, y), {"scale": 4.0}),
    ] + [("box_iou_loss", b1, (b2,), {"kind": k}) for k in ("giou", "diou")]
    for name, a, rest, kwargs in cases:
        fn = getattr(lossbook, name)
        num = numerical_grad(lambda v, fn=fn, rest=rest, kwargs=kwargs: np.sum(fn(v, *rest, **kwargs)), a)
        g = fn.grad(a, *rest, **kwargs)
        g = g[0] if isinstance(g, tuple) else g
        assert_close(g, num, rtol=1e-5, atol=1e-6, what=f"{name} grad vs finite differences")


# =====================================================================================================
# value_and_grad: the fused training step of the Lovász and margin losses
# =====================================================================================================
def _fused_cases():
    x, w, y = _margin_data(12, 6, 5)
    p = RNG.dirichlet(np.ones(3), (2, 4, 5)).transpose(0, 3, 1, 2)   # (N=2, C=3, 4, 5) probabilities
    return [
        ("lovasz_hinge_loss", (RNG.standard_normal((3, 4, 5)), _labels((3, 4, 5))), {}),
        ("lovasz_hinge_loss", (RNG.standard_normal((3, 4, 5)), _labels((3, 4, 5))), {"per_image": False}),
        ("lovasz_softmax_loss", (p, RNG.integers(0, 3, (2, 4, 5))), {}),
        ("lovasz_softmax_loss", (p, RNG.integers(0, 3, (2, 4, 5))), {"per_image": True, "classes": "all"}),
        ("cosface_loss", (x, w, y), {"scale": 8.0}),
        ("arcface_loss", (x, w, y), {"scale": 8.0, "reduction": "none"}),
        ("arcface_loss", (x, w, y), {"reduction": "sum"}),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_value_and_grad_equal_the_loss_and_its_grad(dtype):
    for name, args, kwargs in _fused_cases():
        args = tuple(a.astype(dtype) if a.dtype.kind == "f" else a for a in args)
        fn = getattr(lossbook, name)
        assert fn.value_and_grad.__qualname__ == f"{name}.value_and_grad", name   # its own fused body
        value, grads = fn.value_and_grad(*args, **kwargs)
        expected, expected_grads = fn(*args, **kwargs), fn.grad(*args, **kwargs)
        grads, expected_grads = (g if isinstance(g, tuple) else (g,) for g in (grads, expected_grads))
        assert value.dtype == expected.dtype == dtype and value.shape == expected.shape
        np.testing.assert_array_equal(value, expected)   # the same operations in the same order
        assert len(grads) == len(expected_grads)
        for g, e in zip(grads, expected_grads, strict=True):
            assert g.dtype == e.dtype == dtype
            np.testing.assert_array_equal(g, e)


def test_fused_value_and_grad_refuse_bad_input_as_the_loss():
    x, w, y = _margin_data(6, 4, 3)
    bad = [
        ("lovasz_hinge_loss", (RNG.standard_normal((2, 3)), np.full((2, 3), 2)), {}),
        ("lovasz_softmax_loss", (np.full((1, 2, 3), 0.5), np.array([[0, 2, 1]])), {}),
        ("cosface_loss", (x, w.T.copy(), y), {}),
        ("arcface_loss", (x, w, y), {"margin": 2.0}),
    ]
    for name, args, kwargs in bad:
        fn = getattr(lossbook, name)
        with pytest.raises((ValueError, IndexError)) as expected:
            fn(*args, **kwargs)
        with pytest.raises(expected.type, match=re.escape(str(expected.value))):
            fn.value_and_grad(*args, **kwargs)
