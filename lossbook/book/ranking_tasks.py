"""A learning-to-rank task built from scikit-learn's bundled digits, and a small NumPy trainer for linear rankers.

The book's learning-to-rank chapter needs queries with graded relevance. Public web-search sets (MSLR-WEB10K and
the like) come with terms the book cannot check for redistribution, so :func:`digit_queries` builds the task from
the digits: a query is an image, its list holds candidate images, and the relevance says how good each candidate
is as an answer (the same digit written alike, the same digit, the digit whose mean image is nearest, another
digit). Everything is seeded and offline. The top grade is defined by the L1 distance between standardised pixels,
which is also the linear score with weight 1 on the 64 ``-|x_q - x_c|`` features: a pixel-distance baseline
encodes that part of the labelling rule exactly.

:func:`fit_linear_ranker` trains ``score = features @ w + b`` with any loss that has lossbook's ``.grad``
(Adam, full batch), so that every learning-to-rank loss is compared with exactly the same model and optimiser.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import as_float_array, check_positive
from ..learning_to_rank import ndcg

__all__ = ["RankingTask", "digit_queries", "pointwise_regression_loss", "fit_linear_ranker", "fit_pointwise_exact",
           "LinearRanker"]

GRADES = {
    3: "same digit, among the two closest in pixel L1 distance",
    2: "same digit",
    1: "the digit whose mean image is nearest",
    0: "another digit",
}


@dataclass
class RankingTask:
    """``features`` (Q, L, D) for each (query, candidate) pair, ``relevance`` (Q, L) graded 0-3, and the digits."""

    features: np.ndarray
    relevance: np.ndarray
    query_labels: np.ndarray
    item_labels: np.ndarray
    queries: np.ndarray
    items: np.ndarray
    feature_names: list
    description: str


def _confusable(X, y):
    """For each class, the other class whose mean image is nearest (on the data given)."""
    classes = np.unique(y)
    means = np.stack([X[y == c].mean(axis=0) for c in classes])
    d = ((means[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return {int(c): int(classes[j]) for c, j in zip(classes, d.argmin(axis=1), strict=False)}


def digit_queries(
    split: str = "train",
    n_queries: int = 200,
    list_size: int = 30,
    n_same: int = 6,
    n_confusable: int = 6,
    n_close: int = 2,
    seed: int = 0,
) -> RankingTask:
    """Queries with graded relevance built from scikit-learn's digits (standardised pixels, no download).

    Each query is a digit image of ``split`` (``"train"``, ``"val"`` or ``"test"`` of
    :func:`lossbook.book.data.load_classification`), and its list holds ``list_size`` other images of the same split:
    ``n_same`` of the query's digit, ``n_confusable`` of the digit whose mean image is nearest to the query's
    (computed on the training images), and the rest drawn from the other digits, in random order.
    Relevance: 3 for the ``n_close`` same-digit candidates nearest to the query in L1 distance on the standardised
    pixels, 2 for the other same-digit ones, 1 for the confusable digit, 0 otherwise. Since ``-L1`` is the sum of
    the first 64 features, the untrained score ``features[..., :64].sum(-1)`` orders grade 3 above grade 2 in
    every list by construction.

    Features of a (query, candidate) pair: the 64 pixel-wise ``-|x_q - x_c|`` followed by the 64 products
    ``x_q * x_c`` (D = 128): a linear score on them is a learned mix of a weighted L1 distance and a correlation.
    """
    from .data import load_classification

    if split not in ("train", "val", "test"):
        raise ValueError(f"`split` must be 'train', 'val' or 'test', but it is {split!r}.")
    n_other = list_size - n_same - n_confusable
    if min(n_same, n_confusable, n_other) < 0 or not 0 <= n_close <= n_same:
        raise ValueError(
            f"need 0 <= n_close <= n_same and n_same + n_confusable <= list_size, but got n_close={n_close}, "
            f"n_same={n_same}, n_confusable={n_confusable}, list_size={list_size}."
        )
    data = load_classification("digits")
    X, y = getattr(data, f"X_{split}"), getattr(data, f"y_{split}")
    confusable = _confusable(data.X_train, data.y_train)
    rng = np.random.default_rng(seed)
    q_idx = rng.choice(len(y), size=n_queries, replace=len(y) < n_queries)
    items = np.empty((n_queries, list_size), dtype=np.int64)
    relevance = np.empty((n_queries, list_size))
    for n, q in enumerate(q_idx):
        c = y[q]
        same = rng.choice(np.flatnonzero((y == c) & (np.arange(len(y)) != q)), n_same, replace=False)
        conf = rng.choice(np.flatnonzero(y == confusable[int(c)]), n_confusable, replace=False)
        other = rng.choice(np.flatnonzero((y != c) & (y != confusable[int(c)])), n_other, replace=False)
        dist = np.abs(X[same] - X[q]).sum(axis=1)
        grade_same = np.where(np.argsort(np.argsort(dist, kind="stable"), kind="stable") < n_close, 3.0, 2.0)
        cand = np.concatenate([same, conf, other])
        rel = np.concatenate([grade_same, np.ones(n_confusable), np.zeros(n_other)])
        perm = rng.permutation(list_size)
        items[n], relevance[n] = cand[perm], rel[perm]
    xq = X[q_idx][:, None, :]
    xc = X[items]
    features = np.concatenate([-np.abs(xq - xc), xq * xc], axis=-1)
    names = [f"-|dq-dc| px{i}" for i in range(64)] + [f"q*c px{i}" for i in range(64)]
    return RankingTask(
        features=features,
        relevance=relevance,
        query_labels=y[q_idx],
        item_labels=y[items],
        queries=X[q_idx],
        items=items,
        feature_names=names,
        description=(
            f"{n_queries} queries of {list_size} candidates from the {split} digits; relevance 3/2/1/0 = "
            + ", ".join(GRADES[g] for g in (3, 2, 1, 0))
        ),
    )


def pointwise_regression_loss(scores, relevance, reduction="mean"):
    """Pointwise baseline: the mean squared error between each real item's score and its relevance label.

    .. math:: \\ell = \\frac{1}{n} \\sum_{q,i:\\ \\mathrm{rel}_{qi} \\ge 0} (s_{qi} - \\mathrm{rel}_{qi})^2

    Padding (negative relevance) is left out. ``reduction`` is ``'mean'`` or ``'sum'``.
    Reference: the "pointwise approach" of Liu, Learning to Rank for Information Retrieval (2009).
    """
    s, r, valid = _masked_pair(scores, relevance)
    err = np.where(valid, s - r, 0.0)
    total = (err**2).sum()
    return np.asarray(total / max(int(valid.sum()), 1) if reduction == "mean" else total)


def _pointwise_grad(scores, relevance, reduction="mean"):
    s, r, valid = _masked_pair(scores, relevance)
    g = 2 * np.where(valid, s - r, 0.0)
    return g / max(int(valid.sum()), 1) if reduction == "mean" else g


pointwise_regression_loss.grad = _pointwise_grad


def _masked_pair(scores, relevance):
    s = as_float_array(scores, "scores")
    r = as_float_array(relevance, "relevance")
    if s.shape != r.shape:
        raise ValueError(f"`relevance` has shape {r.shape} but `scores` has shape {s.shape}; they must match.")
    return s, r, r >= 0


@dataclass
class LinearRanker:
    """``score = features @ w + b``, with the training history (loss and held-out NDCG@k per record)."""

    w: np.ndarray
    b: float
    loss_history: list = field(default_factory=list)
    ndcg_history: list = field(default_factory=list)
    steps_recorded: list = field(default_factory=list)

    def score(self, features) -> np.ndarray:
        return np.asarray(features) @ self.w + self.b


def fit_linear_ranker(
    loss,
    features,
    relevance,
    *,
    steps: int = 200,
    lr: float = 0.05,
    weight_decay: float = 1e-4,
    eval_features=None,
    eval_relevance=None,
    eval_k: int = 10,
    record_every: int = 10,
    **loss_kwargs,
) -> LinearRanker:
    """Train ``score = features @ w + b`` (w, b start at 0) by full-batch Adam on ``loss(scores, relevance)``.

    ``loss`` is any function with lossbook's ``.grad`` (the gradient with respect to the scores), for example
    :func:`lossbook.learning_to_rank.ranknet_loss` or :func:`pointwise_regression_loss`; ``loss_kwargs`` go to it. The chain rule
    to the weights is one contraction: ``dL/dw = sum_{q,i} dL/ds_qi * features_qi``. If evaluation data is given,
    the mean NDCG@eval_k on it is recorded every ``record_every`` steps (and at the end). Deterministic: no sampling.
    """
    F = as_float_array(features, "features")
    if F.ndim != 3:
        raise ValueError(f"`features` must have shape (Q, L, D), but it has shape {F.shape}.")
    lr = check_positive(lr, "lr")
    w, b = np.zeros(F.shape[-1]), 0.0
    m, v = np.zeros(F.shape[-1] + 1), np.zeros(F.shape[-1] + 1)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    model = LinearRanker(w=w, b=b)

    def record(step):
        model.w, model.b = w.copy(), b
        model.loss_history.append(float(loss(F @ w + b, relevance, **loss_kwargs)))
        if eval_features is not None:
            model.ndcg_history.append(float(ndcg(model.score(eval_features), eval_relevance, k=eval_k).mean()))
        model.steps_recorded.append(step)

    for t in range(1, steps + 1):
        if (t - 1) % record_every == 0:
            record(t - 1)
        gs = loss.grad(F @ w + b, relevance, **loss_kwargs)
        grad = np.concatenate([np.einsum("qld,ql->d", F, gs) + weight_decay * w, [gs.sum()]])
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        w = w - step[:-1]
        b = b - step[-1]
    record(steps)
    return model


def fit_pointwise_exact(features, relevance, *, weight_decay: float = 1e-4) -> LinearRanker:
    """The exact minimum of :func:`pointwise_regression_loss` with the coupled L2 penalty of
    :func:`fit_linear_ranker`: the point its Adam iterations converge to, found by solving the normal equations.

    Minimises ``mean over real items of (features @ w + b - relevance)**2 + weight_decay / 2 * |w|**2`` (b is not
    penalised), i.e. ``(A^T A + n * weight_decay / 2 * D) theta = A^T r`` with ``A = [features, 1]`` over the real
    (non-padded) items, ``n`` their number and ``D`` the identity without its bias entry.
    """
    F = as_float_array(features, "features")
    if F.ndim != 3:
        raise ValueError(f"`features` must have shape (Q, L, D), but it has shape {F.shape}.")
    r = as_float_array(relevance, "relevance")
    if r.shape != F.shape[:2]:
        raise ValueError(f"`relevance` has shape {r.shape} but `features` has shape {F.shape}; need (Q, L).")
    real = r >= 0
    A = np.concatenate([F[real], np.ones((int(real.sum()), 1))], axis=1)
    penalty = np.full(A.shape[1], real.sum() * weight_decay / 2)
    penalty[-1] = 0.0
    theta = np.linalg.solve(A.T @ A + np.diag(penalty), A.T @ r[real])
    return LinearRanker(w=theta[:-1], b=float(theta[-1]))
