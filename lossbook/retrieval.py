"""Retrieval and metric learning: distance matrices, triplet mining, retrieval metrics, a small training loop.

The losses themselves live in :mod:`lossbook.ranking` (pairs, triplets, contrastive, InfoNCE); this module holds
what the chapters of Part IV need around them:

* :func:`distance_matrix`: all pairwise Euclidean, squared Euclidean or cosine distances between two sets.
* :func:`negative_kind` and :func:`mine_triplets`: FaceNet's easy / semi-hard / hard negatives, and the batch
  strategies of metric learning (all valid triplets, batch-all, batch-hard, hardest or semi-hard negative per pair).
* :func:`recall_at_k` and :func:`mean_average_precision`: how well nearest neighbours retrieve the same class.
* :func:`pk_batches`, :func:`train_embedding`, :func:`embed`: a seeded torch loop for losses that take a batch of
  embeddings and their labels (pairs, triplets and in-batch negatives are all formed inside the batch).
* :func:`pair_batch_loss`, :func:`triplet_batch_loss`, :func:`nt_xent_loss`, :func:`augment_images`: the batch
  losses the chapters train with, written in torch so that autograd trains the model.

NumPy functions need only NumPy; torch is imported by the functions that use it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validation import as_float_array, check_positive

__all__ = [
    "distance_matrix",
    "negative_kind",
    "mine_triplets",
    "STRATEGIES",
    "recall_at_k",
    "mean_average_precision",
    "spread",
    "project_2d",
    "pk_batches",
    "EmbeddingHistory",
    "train_embedding",
    "embed",
    "pair_batch_loss",
    "triplet_batch_loss",
    "nt_xent_loss",
    "augment_images",
    "plot_embedding",
]

_METRICS = ("euclidean", "sqeuclidean", "cosine")
STRATEGIES = ("all", "batch_all", "batch_hard", "hardest_negative", "semi_hard", "random_negative")


# ----------------------------------------------------------------------------------------------------------
# Distances
# ----------------------------------------------------------------------------------------------------------


def _labels(labels, n, name="labels"):
    lab = np.asarray(labels)
    if lab.shape != (n,):
        raise ValueError(f"`{name}` must have shape ({n},), one label per embedding, but it has shape {lab.shape}.")
    return lab


def _embeddings(x, name):
    x = as_float_array(x, name)
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape (N, D): N embeddings of dimension D, but it has shape {x.shape}. "
                         "For a single embedding use `x.reshape(1, -1)`.")
    return x


def distance_matrix(x, y=None, metric="euclidean"):
    r"""All pairwise distances between the rows of ``x`` (N, D) and of ``y`` (M, D; default ``x``): shape (N, M).

    ``metric``: ``"euclidean"`` :math:`\lVert x_i - y_j\rVert_2`, ``"sqeuclidean"`` its square, or ``"cosine"``
    :math:`1 - \cos(x_i, y_j)` (rows of norm 0 count as norm 1e-12, as ``torch.nn.functional.normalize``).
    Squared distances are computed as :math:`\lVert x\rVert^2 + \lVert y\rVert^2 - 2 x\cdot y` and clipped at 0.
    """
    if metric not in _METRICS:
        raise ValueError(f"`metric` must be one of {_METRICS}, but it is {metric!r}.")
    x = _embeddings(x, "x")
    y = x if y is None else _embeddings(y, "y")
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"`x` and `y` must have the same dimension D, but they have {x.shape[1]} and {y.shape[1]}.")
    if metric == "cosine":
        xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        return 1.0 - xn @ yn.T
    sq = np.sum(x * x, axis=1)[:, None] + np.sum(y * y, axis=1)[None, :] - 2.0 * (x @ y.T)
    sq = np.maximum(sq, 0.0)
    if y is x:
        np.fill_diagonal(sq, 0.0)
    return sq if metric == "sqeuclidean" else np.sqrt(sq)


# ----------------------------------------------------------------------------------------------------------
# Triplet mining
# ----------------------------------------------------------------------------------------------------------


def negative_kind(d_ap, d_an, margin):
    """FaceNet's categories of a negative for one (anchor, positive) pair, element-wise.

    Returns a string array: ``"easy"`` where ``d_an >= d_ap + margin`` (the triplet loss is already 0),
    ``"semi-hard"`` where ``d_ap < d_an < d_ap + margin`` (farther than the positive, but inside the margin), and
    ``"hard"`` where ``d_an <= d_ap`` (the negative is at least as close as the positive).
    """
    d_ap, d_an = np.broadcast_arrays(np.asarray(d_ap, dtype=float), np.asarray(d_an, dtype=float))
    margin = check_positive(margin, "margin")
    out = np.full(d_ap.shape, "semi-hard", dtype=object)
    out[d_an >= d_ap + margin] = "easy"
    out[d_an <= d_ap] = "hard"
    return out.astype(str)


def mine_triplets(dist, labels, strategy="batch_hard", margin=0.2, rng=None):
    """Choose (anchor, positive, negative) index triplets from a batch, given its distance matrix and labels.

    Args:
        dist: (N, N) distances between the batch's embeddings (e.g. :func:`distance_matrix`), a NumPy array.
        labels: (N,) class labels; a positive shares the anchor's label (and is not the anchor), a negative does not.
        strategy: one of

            * ``"all"``: every valid triplet;
            * ``"batch_all"``: every valid triplet whose loss is positive, ``d_ap - d_an + margin > 0``
              (Hermans, Beyer & Leibe 2017);
            * ``"batch_hard"``: per anchor, its farthest positive and its nearest negative (Hermans et al. 2017);
            * ``"hardest_negative"``: per (anchor, positive) pair, the nearest negative;
            * ``"semi_hard"``: per pair, the nearest negative farther than the positive (FaceNet, Schroff et al.
              2015); where no such negative exists, the farthest negative (as TensorFlow Addons does);
            * ``"random_negative"``: per pair, a negative drawn uniformly (needs ``rng``).
        margin: the triplet margin, used by ``"batch_all"``.
        rng: a ``np.random.Generator`` for ``"random_negative"``.

    Returns three int64 arrays ``(a, p, n)`` of equal length (possibly 0). Anchors without a positive or without a
    negative in the batch take part in no triplet.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}, but it is {strategy!r}.")
    dist = np.asarray(dist, dtype=float)
    if dist.ndim != 2 or dist.shape[0] != dist.shape[1]:
        raise ValueError(f"`dist` must be a square (N, N) distance matrix, but it has shape {dist.shape}.")
    n = dist.shape[0]
    lab = _labels(labels, n)
    same = lab[:, None] == lab[None, :]
    pos = same & ~np.eye(n, dtype=bool)
    neg = ~same
    empty = (np.zeros(0, np.int64),) * 3
    if strategy == "batch_hard":
        ok = pos.any(1) & neg.any(1)
        a = np.flatnonzero(ok)
        if a.size == 0:
            return empty
        p = np.argmax(np.where(pos, dist, -np.inf), axis=1)[a]
        q = np.argmin(np.where(neg, dist, np.inf), axis=1)[a]
        return a.astype(np.int64), p.astype(np.int64), q.astype(np.int64)
    a, p = np.nonzero(pos & neg.any(1)[:, None])
    if a.size == 0:
        return empty
    if strategy in ("all", "batch_all"):
        valid = neg[a]                                    # (pairs, N): which columns are negatives of each anchor
        k, q = np.nonzero(valid)
        if strategy == "batch_all":
            keep = dist[a[k], p[k]] - dist[a[k], q] + margin > 0
            k, q = k[keep], q[keep]
        return a[k].astype(np.int64), p[k].astype(np.int64), q.astype(np.int64)
    d_an = np.where(neg[a], dist[a], np.inf)              # (pairs, N)
    if strategy == "hardest_negative":
        q = np.argmin(d_an, axis=1)
    elif strategy == "semi_hard":
        d_ap = dist[a, p][:, None]
        farther = np.where(d_an > d_ap, d_an, np.inf)
        has = np.isfinite(farther).any(1)
        q = np.where(has, np.argmin(farther, axis=1), np.argmax(np.where(neg[a], dist[a], -np.inf), axis=1))
    else:  # random_negative
        if rng is None:
            raise ValueError("strategy 'random_negative' needs `rng`, a np.random.Generator (for reproducible draws).")
        w = neg[a].astype(float)
        cum = np.cumsum(w, axis=1)
        u = rng.random(len(a)) * cum[:, -1]
        q = (cum <= u[:, None]).sum(1)
    return a.astype(np.int64), p.astype(np.int64), q.astype(np.int64)


# ----------------------------------------------------------------------------------------------------------
# Retrieval metrics
# ----------------------------------------------------------------------------------------------------------


def _retrieval_setup(queries, query_labels, gallery, gallery_labels, metric):
    queries = _embeddings(queries, "queries")
    ql = _labels(query_labels, len(queries), "query_labels")
    leave_one_out = gallery is None
    if leave_one_out:
        if gallery_labels is not None:
            raise ValueError("`gallery_labels` was given without `gallery`; pass both, or neither (leave-one-out).")
        gallery, gl = queries, ql
    else:
        if gallery_labels is None:
            raise ValueError("`gallery` needs `gallery_labels`, one label per gallery embedding.")
        gallery = _embeddings(gallery, "gallery")
        gl = _labels(gallery_labels, len(gallery), "gallery_labels")
    d = distance_matrix(queries, gallery, metric=metric)
    if leave_one_out:
        np.fill_diagonal(d, np.inf)                       # a query never retrieves itself
    order = np.argsort(d, axis=1, kind="stable")
    if leave_one_out:
        order = order[:, :-1]                             # drop the query itself (last, at distance inf)
    rel = gl[order] == ql[:, None]                        # (Q, G) relevance in ranked order
    return rel


def recall_at_k(queries, query_labels, gallery=None, gallery_labels=None, k=1, metric="euclidean"):
    """Recall@k of metric learning: the fraction of queries with at least one same-label item among their k nearest.

    Without ``gallery`` every query is searched among the *other* queries (leave-one-out). Ties in distance are
    broken by gallery order. ``k`` may be an int (returns a float) or a sequence (returns an array).
    Reference: the Recall@K of Oh Song et al. (2016) and Musgrave, Belongie & Lim (2020).
    """
    rel = _retrieval_setup(queries, query_labels, gallery, gallery_labels, metric)
    ks = np.atleast_1d(np.asarray(k))
    if ks.dtype.kind not in "iu" or np.any(ks < 1):
        raise ValueError(f"`k` must be a positive integer or a sequence of them, but it is {k!r}.")
    hits = np.cumsum(rel, axis=1) > 0
    out = np.array([hits[:, min(int(kk), rel.shape[1]) - 1].mean() for kk in ks])
    return float(out[0]) if np.ndim(k) == 0 else out


def mean_average_precision(queries, query_labels, gallery=None, gallery_labels=None, metric="euclidean"):
    r"""Mean over queries of the average precision of the whole ranked gallery (same label = relevant).

    :math:`\mathrm{AP} = \frac1{R}\sum_{r:\ \text{item } r \text{ relevant}} \mathrm{precision@}r`, with R the number of
    relevant gallery items; queries with no relevant item are left out of the mean. Leave-one-out without
    ``gallery``, as :func:`recall_at_k`. Without ties it equals ``sklearn.metrics.average_precision_score`` of each
    query with ``-distance`` as the score.
    """
    rel = _retrieval_setup(queries, query_labels, gallery, gallery_labels, metric)
    n_rel = rel.sum(1)
    prec = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    ap = np.sum(prec * rel, axis=1)[n_rel > 0] / n_rel[n_rel > 0]
    if ap.size == 0:
        raise ValueError("no query has a relevant item in the gallery, so the mean average precision is undefined.")
    return float(ap.mean())


def spread(embeddings):
    """The mean Euclidean distance between two different embeddings: 0 when every embedding is the same point."""
    d = distance_matrix(embeddings)
    n = len(d)
    if n < 2:
        raise ValueError("`embeddings` needs at least two rows to measure their spread.")
    return float(d.sum() / (n * (n - 1)))


def project_2d(embeddings):
    """The first two principal components of the embeddings (centred, by SVD), for a 2-D figure; (N, 2)."""
    e = _embeddings(embeddings, "embeddings")
    if e.shape[1] <= 2:
        return e[:, :2] if e.shape[1] == 2 else np.hstack([e, np.zeros_like(e)])
    c = e - e.mean(0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    z = c @ vt[:2].T
    return z * np.sign(z[np.argmax(np.abs(z), axis=0), [0, 1]])   # fix the signs, so figures are reproducible


# ----------------------------------------------------------------------------------------------------------
# Training embeddings with torch
# ----------------------------------------------------------------------------------------------------------


def pk_batches(labels, p, k, rng):
    """Index batches of P classes with K items each (the "PK" sampling of Hermans et al. 2017) covering one epoch.

    Each class's items are shuffled and cut into groups of K (a last short group is dropped); batches take P groups
    of different classes. Every batch therefore contains positives for every item and negatives of P - 1 classes.
    """
    lab = np.asarray(labels)
    classes = np.unique(lab)
    if p > len(classes) or p < 2 or k < 2:
        raise ValueError(f"need 2 <= p <= {len(classes)} (the number of classes) and k >= 2, but p={p!r}, k={k!r}.")
    groups = []
    for c in classes:
        idx = rng.permutation(np.flatnonzero(lab == c))
        groups += [(c, idx[i:i + k]) for i in range(0, len(idx) - k + 1, k)]
    order = rng.permutation(len(groups))
    pending = [groups[i] for i in order]
    batches = []
    while True:
        batch, used = [], set()
        for g in list(pending):
            if g[0] not in used:
                batch.append(g)
                used.add(g[0])
                pending.remove(g)
                if len(batch) == p:
                    break
        if len(batch) < p:
            return batches
        batches.append(np.concatenate([g[1] for g in batch]))


@dataclass
class EmbeddingHistory:
    """Per-epoch training loss and, if an ``evaluate`` function was given, what it returned after each epoch."""

    train_loss: list = field(default_factory=list)
    evaluation: list = field(default_factory=list)


def embed(model, X):
    """The model's embeddings of ``X`` as a float64 NumPy array (eval mode, no gradients)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(X), dtype=torch.float32)).double().numpy()


def train_embedding(model, X, y, loss_fn, epochs=20, p=10, k=8, lr=1e-3, seed=0, evaluate=None, weight_decay=0.0,
                    batch_size=None):
    """Train ``model`` so that ``loss_fn(model(X[batch]), y[batch])`` falls, with Adam on PK batches.

    With ``batch_size`` the batches are plain shuffled slices of that size instead (labels play no part in them,
    as in self-supervised training).

    ``loss_fn(embeddings, labels)`` gets a float32 tensor (B, D) and an int64 tensor (B,) and returns a scalar tensor;
    it forms its own pairs, triplets or in-batch negatives. ``evaluate(model)``, if given, runs after each epoch
    (and once before training, as epoch 0) and its results are collected in ``history.evaluation``.
    Returns an :class:`EmbeddingHistory`.
    """
    import torch

    X_t = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    y_np = np.asarray(y)
    y_t = torch.as_tensor(y_np, dtype=torch.int64)
    if len(X_t) != len(y_t):
        raise ValueError(f"X has {len(X_t)} rows but y has {len(y_t)}; they must match.")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    hist = EmbeddingHistory()
    if evaluate is not None:
        hist.evaluation.append(evaluate(model))
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        if batch_size is None:
            batches = pk_batches(y_np, p, k, rng)
        else:
            perm = rng.permutation(len(y_np))
            batches = [perm[i:i + batch_size] for i in range(0, len(perm) - batch_size + 1, batch_size)]
        for idx in batches:
            idx_t = torch.as_tensor(idx)
            opt.zero_grad()
            loss = loss_fn(model(X_t[idx_t]), y_t[idx_t])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        hist.train_loss.append(total / max(count, 1))
        if evaluate is not None:
            hist.evaluation.append(evaluate(model))
    model.eval()
    return hist


def pair_batch_loss(loss="contrastive", margin=1.0):
    """A batch loss over every pair (i < j) of a batch: ``"contrastive"`` (Hadsell et al. 2006, lossbook's
    convention: ½ d² for same-label pairs, ½ max(0, margin - d)² otherwise) or ``"cosine"``
    (``torch.nn.functional.cosine_embedding_loss`` with targets ±1). Returns ``fn(embeddings, labels)``."""
    import torch
    import torch.nn.functional as F

    if loss not in ("contrastive", "cosine"):
        raise ValueError(f"`loss` must be 'contrastive' or 'cosine', but it is {loss!r}.")

    def fn(emb, labels):
        i, j = torch.triu_indices(len(emb), len(emb), offset=1)
        same = labels[i] == labels[j]
        if loss == "cosine":
            return F.cosine_embedding_loss(emb[i], emb[j], same.float() * 2 - 1, margin=margin)
        d = (emb[i] - emb[j]).pow(2).sum(1).clamp_min(1e-12).sqrt()
        return torch.where(same, 0.5 * d**2, 0.5 * F.relu(margin - d) ** 2).mean()

    return fn


def triplet_batch_loss(strategy="semi_hard", margin=0.2, normalize=True, seed=0):
    """A batch loss: mine triplets with :func:`mine_triplets` on the detached distances, then apply
    ``torch.nn.functional.triplet_margin_loss``. With ``normalize`` the embeddings are first put on the unit
    sphere (as FaceNet). Returns ``fn(embeddings, labels)``; a batch without triplets costs 0."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)

    def fn(emb, labels):
        if normalize:
            emb = F.normalize(emb, dim=1)
        d = distance_matrix(emb.detach().double().numpy())
        a, p, n = (torch.as_tensor(t) for t in mine_triplets(d, labels.numpy(), strategy, margin=margin, rng=rng))
        if len(a) == 0:
            return emb.sum() * 0.0
        return F.triplet_margin_loss(emb[a], emb[p], emb[n], margin=margin)

    return fn


def nt_xent_loss(z1, z2, temperature=0.5):
    """NT-Xent (SimCLR, Chen et al. 2020) in torch: two views (N, D) of N items; each of the 2N embeddings must
    pick out its other view among the 2N - 1 others (cosine similarities divided by the temperature).

    It is ``F.cross_entropy`` over the (2N, 2N) similarity matrix with the diagonal excluded and target
    ``i + N`` for row ``i`` (and ``i`` for row ``i + N``), averaged over the 2N rows.
    """
    import torch
    import torch.nn.functional as F

    check_positive(temperature, "temperature")
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"`z1` and `z2` must both have shape (N, D), but they have {tuple(z1.shape)} and {tuple(z2.shape)}.")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    s = z @ z.T / temperature
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(s, target)


def augment_images(x, generator, shape=(8, 8), max_shift=1, noise=0.3, drop=0.1):
    """A random view of a batch of flattened images (torch, (B, H*W)): shift each image by up to ``max_shift``
    pixels in each direction (filling with 0), zero a fraction ``drop`` of the pixels, add Gaussian noise of
    standard deviation ``noise``. ``generator`` is a ``torch.Generator`` (reproducible views)."""
    import torch

    b = x.shape[0]
    img = x.reshape(b, *shape)
    pad = torch.nn.functional.pad(img, (max_shift,) * 4)
    sh = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=generator)
    rows = (torch.arange(shape[0])[None, :] + sh[:, :1])           # (B, H)
    cols = (torch.arange(shape[1])[None, :] + sh[:, 1:])           # (B, W)
    out = pad[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]].reshape(b, -1)
    keep = (torch.rand(out.shape, generator=generator) >= drop).to(out.dtype)
    return out * keep + noise * torch.randn(out.shape, generator=generator)


def plot_embedding(ax, points, labels, title=None):
    """Scatter 2-D points (N, 2) coloured by class, with each class's label written at its centroid."""
    from .plotting import PALETTE

    pts = np.asarray(points, dtype=float)
    lab = np.asarray(labels)
    colours = list(PALETTE.values()) + ["#777777", "#BBBBBB"]
    for i, c in enumerate(np.unique(lab)):
        m = lab == c
        ax.scatter(pts[m, 0], pts[m, 1], s=9, alpha=0.6, color=colours[i % len(colours)], label=str(c))
        cx, cy = np.median(pts[m], axis=0)
        ax.text(cx, cy, str(c), fontsize=13, fontweight="bold", ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.8, "lw": 0})
    ax.set(xlabel="embedding dimension 1", ylabel="embedding dimension 2")
    if title:
        ax.set_title(title)
    return ax
