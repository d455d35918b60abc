"""Retrieval and metric learning: distance matrices, triplet mining, retrieval metrics.

The losses themselves live in :mod:`lossbook.ranking` (pairs, triplets, contrastive, InfoNCE); this module holds
what the chapters of Part IV need around them:

* :func:`distance_matrix`: all pairwise Euclidean, squared Euclidean or cosine distances between two sets.
* :func:`negative_kind` and :func:`mine_triplets`: FaceNet's easy / semi-hard / hard negatives, and the batch
  strategies of metric learning (all valid triplets, batch-all, batch-hard, hardest or semi-hard negative per pair).
* :func:`recall_at_k`, :func:`mean_average_precision` and :func:`map_at_r`: how well nearest neighbours retrieve the
  same class.

The chapters' torch training loop for embeddings (PK batches, batch losses, augmentations) lives in
:mod:`lossbook.book.embeddings`. Everything here needs only NumPy.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_positive

__all__ = [
    "distance_matrix",
    "negative_kind",
    "mine_triplets",
    "STRATEGIES",
    "recall_at_k",
    "mean_average_precision",
    "map_at_r",
    "spread",
    "project_2d",
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

    This is the "at least one hit in the top k" convention of the metric-learning literature (Oh Song et al. 2016;
    Musgrave, Belongie & Lim 2020), not the recall of information retrieval (the fraction of *all* relevant items
    found in the top k): torchmetrics calls this quantity ``RetrievalHitRate``, and its ``RetrievalRecall`` is the
    other one. It is 1 for a query as soon as one relevant item is in the top k, however many others there are, so
    it saturates quickly when classes are large; :func:`map_at_r` scores the whole neighbourhood.

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


def map_at_r(queries, query_labels, gallery=None, gallery_labels=None, metric="euclidean"):
    r"""MAP@R (Musgrave, Belongie & Lim 2020): average precision over the first R neighbours, R = the query's positives.

    For a query with R relevant (same-label) gallery items,

    .. math:: \mathrm{MAP@R} = \frac1R \sum_{i=1}^{R} P(i)\,\mathrm{rel}(i),

    with :math:`P(i)` the precision among the first i neighbours and :math:`\mathrm{rel}(i)` 1 if the i-th neighbour
    is relevant. It is 1 only when the R nearest neighbours are exactly the R relevant items, and, unlike
    recall@k, it rewards ranking *all* of a class first, not one hit; unlike the full mean average precision it does
    not look past position R. Queries with no relevant item are left out of the mean; leave-one-out without
    ``gallery``, as :func:`recall_at_k`. Follows ``mean_average_precision_at_r`` in pytorch-metric-learning's
    ``utils/accuracy_calculator.py``.

    Example: relevant items at ranks 1 and 3 of five, so R = 2: MAP@R = (1/1 + 0)/2 = 0.5 (the full AP is 0.833).
    """
    rel = _retrieval_setup(queries, query_labels, gallery, gallery_labels, metric)
    n_rel = rel.sum(1)
    keep = n_rel > 0
    if not np.any(keep):
        raise ValueError("no query has a relevant item in the gallery, so MAP@R is undefined.")
    ranks = np.arange(1, rel.shape[1] + 1)
    prec = np.cumsum(rel, axis=1) / ranks
    within_r = ranks[None, :] <= n_rel[:, None]
    ap_r = np.sum(prec * rel * within_r, axis=1)[keep] / n_rel[keep]
    return float(ap_r.mean())


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
