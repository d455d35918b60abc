"""Part VIII's helpers: seeded synthetic images with boxes and masks, tiny torch models and their training loops,
the torch versions of the vision losses that train them, and the measures the chapters report.

* :func:`box_images`, :func:`train_box_regressor`, :func:`box_iou`: one bright rectangle per noisy image and a
  small network that regresses its box;
* :func:`shape_masks`, :func:`train_segmenter`, :func:`mask_iou`: discs and squares of very different sizes and a
  one-layer convolutional segmenter;
* :func:`torch_box_loss`, :func:`torch_mask_loss`, :func:`torch_margin_logits`: the losses of
  :mod:`lossbook.vision` written with torch operations, so autograd trains the models (torchvision does not load
  beside the book's CPU build of torch; these are its formulas, checked against lossbook in the chapters);
* :func:`margin_batch_loss`, :func:`verification_auc`, :func:`mean_and_interval`.

torch is imported by the functions that need it.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "box_images",
    "box_iou",
    "torch_box_loss",
    "train_box_regressor",
    "predict_boxes",
    "shape_masks",
    "mask_iou",
    "torch_mask_loss",
    "train_segmenter",
    "torch_margin_logits",
    "margin_batch_loss",
    "verification_auc",
    "mean_and_interval",
]


# ----------------------------------------------------------------------------------------------------------
# boxes
# ----------------------------------------------------------------------------------------------------------
def box_images(n, size=24, min_side=3, max_side=12, noise=0.3, seed=0):
    """``n`` noisy grey images ``(n, size, size)``, each with one bright rectangle, and its box ``(n, 4)`` as
    ``(x1, y1, x2, y2)`` in pixel units (the rectangle covers pixels ``x1 <= x < x2``, ``y1 <= y < y2``).

    Sides are drawn uniformly in ``[min_side, max_side]``, positions uniformly inside the image.
    """
    rng = np.random.default_rng(seed)
    w = rng.integers(min_side, max_side + 1, n)
    h = rng.integers(min_side, max_side + 1, n)
    x1 = rng.integers(0, size - w + 1)
    y1 = rng.integers(0, size - h + 1)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1).astype(np.float64)
    cols = np.arange(size)
    inside_x = (cols[None, :] >= x1[:, None]) & (cols[None, :] < (x1 + w)[:, None])
    inside_y = (cols[None, :] >= y1[:, None]) & (cols[None, :] < (y1 + h)[:, None])
    images = (inside_y[:, :, None] & inside_x[:, None, :]).astype(np.float64)
    images += noise * rng.standard_normal(images.shape)
    return images, boxes


def box_iou(boxes1, boxes2):
    """IoU of box i of ``boxes1`` with box i of ``boxes2`` (NumPy, (N, 4) ``(x1, y1, x2, y2)``), without eps."""
    b1, b2 = np.asarray(boxes1, float), np.asarray(boxes2, float)
    iw = np.clip(np.minimum(b1[:, 2], b2[:, 2]) - np.maximum(b1[:, 0], b2[:, 0]), 0, None)
    ih = np.clip(np.minimum(b1[:, 3], b2[:, 3]) - np.maximum(b1[:, 1], b2[:, 1]), 0, None)
    inter = iw * ih
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    return inter / (area(b1) + area(b2) - inter)


def torch_box_loss(boxes1, boxes2, kind="giou", eps=1e-7):
    """torchvision.ops' box losses per box (``kind`` in iou, giou, diou, ciou; also ``"l1"`` and
    ``"smooth_l1"`` on the coordinates, summed over the four), written in torch: the formulas of torchvision's
    ``ops/giou_loss.py``, ``diou_loss.py``, ``ciou_loss.py`` and ``_utils.py``. Returns shape ``(N,)``."""
    import torch
    import torch.nn.functional as F

    if kind == "l1":
        return (boxes1 - boxes2).abs().sum(-1)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(boxes1, boxes2, reduction="none", beta=1.0).sum(-1)
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    iw = torch.min(x2, x2g) - torch.max(x1, x1g)
    ih = torch.min(y2, y2g) - torch.max(y1, y1g)
    inter = torch.where((iw > 0) & (ih > 0), iw * ih, torch.zeros_like(iw))
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + eps)
    if kind == "iou":
        return 1 - iou
    cw = torch.max(x2, x2g) - torch.min(x1, x1g)
    ch = torch.max(y2, y2g) - torch.min(y1, y1g)
    if kind == "giou":
        area_c = cw * ch
        return 1 - iou + (area_c - union) / (area_c + eps)
    rho2 = ((x1 + x2 - x1g - x2g) / 2) ** 2 + ((y1 + y2 - y1g - y2g) / 2) ** 2
    loss = 1 - iou + rho2 / (cw**2 + ch**2 + eps)
    if kind == "diou":
        return loss
    if kind != "ciou":
        raise ValueError(f"`kind` must be l1, smooth_l1, iou, giou, diou or ciou, but it is {kind!r}.")
    v = (4 / math.pi**2) * (torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return loss + alpha * v


def _box_model(size, hidden, seed, start="centre"):
    import torch
    import torch.nn as nn

    class BoxRegressor(nn.Module):
        """A small MLP on the image's row and column profiles (the means of its rows and of its columns) that
        predicts a centre in the image and a positive width and height, turned into ``(x1, y1, x2, y2)`` (so
        ``x2 > x1`` always, as the IoU losses require)."""

        def __init__(self):
            super().__init__()
            self.size = size
            self.body = nn.Sequential(nn.Linear(2 * size, hidden), nn.ReLU(), nn.Linear(hidden, 4))

        def forward(self, x):
            profiles = torch.cat([x.mean(dim=1), x.mean(dim=2)], dim=1)   # column means (x), row means (y)
            out = self.body(profiles)
            centre = self.size * torch.sigmoid(out[:, :2])
            half = 0.5 * self.size * torch.sigmoid(out[:, 2:]) + 0.25
            return torch.cat([centre - half, centre + half], dim=1)

    torch.manual_seed(seed)
    model = BoxRegressor()
    if start == "corner":   # every first prediction a small box in the top-left corner: almost none overlaps
        with torch.no_grad():
            model.body[-1].weight.mul_(0.01)
            model.body[-1].bias.copy_(torch.tensor([-3.0, -3.0, -2.0, -2.0]))
    elif start != "centre":
        raise ValueError(f"`start` must be 'centre' or 'corner', but it is {start!r}.")
    return model


def train_box_regressor(images, boxes, kind, steps=100, lr=0.02, hidden=32, seed=0, evaluate=None, every=10,
                        start="centre"):
    """Train a fresh box regressor (seeded; an MLP ``size*size -> hidden -> 4`` whose
    outputs are a centre and a positive half-size) with Adam on the full batch, minimising the mean of
    :func:`torch_box_loss` of ``kind``. ``evaluate(model)``, if given, runs every ``every`` steps (and before the
    first); returns ``(model, evaluations)``. ``start="corner"`` initialises the last layer so that every first
    prediction is a small box in the image's top-left corner, disjoint from almost every true box."""
    import torch

    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(boxes), dtype=torch.float32)
    model = _box_model(x.shape[-1], hidden, seed, start)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(steps + 1):
        if evaluate is not None and step % every == 0:
            history.append(evaluate(model))
        if step == steps:
            break
        opt.zero_grad()
        loss = torch_box_loss(model(x), y, kind).mean()
        loss.backward()
        opt.step()
    return model, history


def predict_boxes(model, images):
    """The model's boxes for ``images`` as a float64 NumPy array (N, 4)."""
    import torch

    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(images), dtype=torch.float32)).double().numpy()


# ----------------------------------------------------------------------------------------------------------
# masks
# ----------------------------------------------------------------------------------------------------------
def shape_masks(n, size=16, small_fraction=0.5, noise=0.5, seed=0):
    """``n`` noisy images ``(n, size, size)`` of one object each, its 0/1 mask, and whether it is small.

    Half the objects (``small_fraction``) are *small* squares of side 1 or 2 pixels; the others are discs of
    radius 2.5 to 5. The image is the mask plus Gaussian noise of standard deviation ``noise``, so the
    foreground is a few per cent of the pixels and a small object is hard to see.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    masks = np.zeros((n, size, size))
    small = rng.random(n) < small_fraction
    for i in range(n):
        if small[i]:
            side = rng.integers(1, 3)
            x0, y0 = rng.integers(1, size - side), rng.integers(1, size - side)
            masks[i, y0:y0 + side, x0:x0 + side] = 1
        else:
            r = rng.uniform(2.5, 5.0)
            cx, cy = rng.uniform(r, size - r, 2)
            masks[i] = ((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r**2)
    images = masks + noise * rng.standard_normal(masks.shape)
    return images, masks, small


def mask_iou(pred, masks):
    """IoU of each predicted 0/1 mask with its true mask, shape (N,) (1 where both are empty)."""
    p, m = np.asarray(pred, bool), np.asarray(masks, bool)
    axes = tuple(range(1, p.ndim))
    inter = (p & m).sum(axes)
    union = (p | m).sum(axes)
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if len(gt_sorted) > 1:
        import torch

        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
    return jaccard


def torch_mask_loss(logits, masks, kind, alpha=0.3, beta=0.7, gamma=0.75, smooth=1.0):
    """A mask loss on logits ``(N, H, W)`` against 0/1 masks, in torch, for training: ``"bce"``, ``"dice"``,
    ``"tversky"``, ``"focal_tversky"``, ``"jaccard"`` (all on ``sigmoid(logits)``, per image then the mean, as
    :mod:`lossbook.vision`) and ``"lovasz"`` (the binary Lovász hinge over the batch's pixels, the authors'
    ``lovasz_hinge`` with ``per_image=False``)."""
    import torch
    import torch.nn.functional as F

    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, masks)
    if kind == "lovasz":
        x, y = logits.reshape(-1), masks.reshape(-1)
        errors = 1 - x * (2 * y - 1)
        errors_sorted, perm = torch.sort(errors, descending=True)
        return torch.dot(F.relu(errors_sorted), _lovasz_grad(y[perm]))
    p = torch.sigmoid(logits)
    dims = tuple(range(1, p.dim()))
    if kind == "dice":   # lossbook.dice_loss's smoothing: (2 TP + s) / (sum p + sum y + s)
        num = 2 * (p * masks).sum(dims) + smooth
        return (1 - num / (p.sum(dims) + masks.sum(dims) + smooth)).mean()
    tp = (p * masks).sum(dims)
    fp = (p * (1 - masks)).sum(dims)
    fn = ((1 - p) * masks).sum(dims)
    if kind not in ("jaccard", "tversky", "focal_tversky"):
        raise ValueError(f"`kind` must be bce, dice, tversky, focal_tversky, jaccard or lovasz, but it is {kind!r}.")
    a, b, g = {"jaccard": (1.0, 1.0, 1.0), "tversky": (alpha, beta, 1.0), "focal_tversky": (alpha, beta, gamma)}[kind]
    ti = (tp + smooth) / (tp + a * fp + b * fn + smooth)
    return ((1 - ti).clamp_min(0) ** g).mean()


def train_segmenter(images, masks, kind, steps=80, lr=0.05, channels=4, seed=0, **loss_kwargs):
    """A one-layer convolutional segmenter (5x5 conv to ``channels``, ReLU, 1x1 conv to one logit per pixel),
    seeded, trained with Adam on the full batch to minimise :func:`torch_mask_loss` of ``kind``
    (``"bce_then_lovasz"``: binary cross-entropy for the first half of the steps, the Lovász hinge for the
    second). Returns a function ``predict(images) -> probabilities (N, H, W)``."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(images), dtype=torch.float32)[:, None]
    y = torch.as_tensor(np.asarray(masks), dtype=torch.float32)
    model = nn.Sequential(nn.Conv2d(1, channels, 5, padding=2), nn.ReLU(), nn.Conv2d(channels, 1, 1))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        opt.zero_grad()
        now = kind
        if kind == "bce_then_lovasz":   # the authors' recipe: start with cross-entropy, finish with Lovász
            now = "bce" if step < steps // 2 else "lovasz"
        loss = torch_mask_loss(model(x)[:, 0], y, now, **loss_kwargs)
        loss.backward()
        opt.step()

    def predict(imgs):
        with torch.no_grad():
            t = torch.as_tensor(np.asarray(imgs), dtype=torch.float32)[:, None]
            return torch.sigmoid(model(t)[:, 0]).double().numpy()

    return predict


# ----------------------------------------------------------------------------------------------------------
# margins on the sphere
# ----------------------------------------------------------------------------------------------------------
def torch_margin_logits(emb, weight, labels, kind, scale, margin):
    """Scaled logits of a margin softmax in torch (pytorch-metric-learning's conventions, ``weight`` as (C, D)):
    ``"softmax"`` (plain linear logits, no normalisation, no scale), ``"normface"`` (normalised, scaled),
    ``"cosface"`` (cosine minus ``margin``) or ``"arcface"`` (angle plus ``margin``, linear beyond pi - m)."""
    import torch
    import torch.nn.functional as F

    if kind == "softmax":
        return emb @ weight.T
    cos = F.normalize(emb, dim=1) @ F.normalize(weight, dim=1).T
    if kind == "normface":
        return scale * cos
    onehot = F.one_hot(labels, weight.shape[0]).bool()
    c = cos[onehot]
    if kind == "cosface":
        phi = c - margin
    elif kind == "arcface":
        theta = torch.acos(c.clamp(-1 + 1e-7, 1 - 1e-7))
        phi = torch.where(theta <= math.pi - margin, torch.cos(theta + margin), c - margin * math.sin(margin))
    else:
        raise ValueError(f"`kind` must be softmax, normface, cosface or arcface, but it is {kind!r}.")
    return scale * torch.where(onehot, phi[:, None].expand_as(cos), cos)


def margin_batch_loss(model, kind, n_classes, dim, scale=16.0, margin=0.3, seed=0):
    """Attach a class-weight matrix ``model.class_weight`` (C, D) to ``model`` (so that
    :func:`lossbook.book.embeddings.train_embedding` optimises it with the network) and return the batch loss
    ``fn(embeddings, labels)``: cross-entropy of :func:`torch_margin_logits`."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    model.class_weight = torch.nn.Parameter(torch.randn(n_classes, dim, generator=g) / math.sqrt(dim))

    def fn(emb, labels):
        return F.cross_entropy(torch_margin_logits(emb, model.class_weight, labels, kind, scale, margin), labels)

    return fn


def verification_auc(embeddings, labels):
    """ROC AUC of face-verification style: every pair of different rows, scored by cosine similarity, same label
    = positive. The probability that a random same-class pair is more similar than a random different-class pair
    (ties count one half)."""
    e = np.asarray(embeddings, float)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    s = e @ e.T
    lab = np.asarray(labels)
    iu = np.triu_indices(len(lab), 1)
    scores, same = s[iu], (lab[:, None] == lab[None, :])[iu]
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2
    ranks[order] = np.repeat(avg, counts)
    n_pos, n_neg = same.sum(), (~same).sum()
    return float((ranks[same].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def mean_and_interval(values, confidence=0.95):
    """Mean of per-seed results and the half-width of a Student-t interval, ``(mean, half_width)``."""
    v = np.asarray(values, float)
    if v.size < 2:
        raise ValueError("need at least two seeds for an interval.")
    t = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}.get(v.size)
    if t is None:
        t = 1.96
    if confidence != 0.95:
        raise ValueError("only 95% intervals are tabulated here.")
    return float(v.mean()), float(t * v.std(ddof=1) / math.sqrt(v.size))
