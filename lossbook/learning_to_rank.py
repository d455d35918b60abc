r"""Learning to rank: losses that order a list of items for each query, and the metric NDCG.

Every function here takes ``scores`` and ``relevance`` of the same shape: ``(Q, L)``, one row per query and
one column per item (a list of at most ``L`` results), or ``(L,)`` for a single query. ``relevance`` holds graded
judgements (higher is more relevant, e.g. 0 to 4); a **negative relevance marks padding**: a padded item takes
part in no pair, no softmax and no gain, so lists of different lengths can share one array.

- :func:`ranknet_loss` (pairwise): a logistic loss on every correctly-ordered pair of the same query.
- :func:`lambdarank_loss` (pairwise, metric-weighted): the same pairs, each weighted by the change of NDCG
  that swapping the two items would cause.
- :func:`listnet_loss` (listwise): cross-entropy between the softmax of the relevance and of the scores.
- :func:`listmle_loss` (listwise): the Plackett–Luce likelihood of the ideal ordering.
- :func:`ndcg`: normalised discounted cumulative gain, one value per query (a metric, not a loss).

PyTorch has none of these; each loss has its analytic gradient with respect to ``scores`` as ``<loss>.grad``
(the relevance is a target, not differentiated).
"""
from __future__ import annotations

import numbers

import numpy as np

from ._reduction import reduction_scale
from ._registry import register
from ._stable import log_softmax, sigmoid, softmax, softplus
from ._validation import as_float_array, as_prediction, check_finite, check_positive, check_reduction, promote

__all__ = ["ranknet_loss", "lambdarank_loss", "listnet_loss", "listmle_loss", "ndcg"]

_GAINS = ("exponential", "linear")

_TARGET = dict(
    target_dtype="float or int (graded relevance)",
    target_shape="same as scores: (Q, L), one row per query, or (L,)",
    target_values="relevance >= 0 (higher is more relevant, e.g. 0-4); a negative value marks a padded item",
)


# ----------------------------------------------------------------------------------------------------------
# Private helpers
# ----------------------------------------------------------------------------------------------------------


def _prepare(scores, relevance, reduction=None):
    """Float scores and relevance of one shape, (Q, L) or (L,), as 2-d arrays; the mask of real items.

    Returns ``(scores2d, relevance2d, valid, one_query)``.
    """
    if reduction is not None:
        check_reduction(reduction)
    s = as_prediction(scores, "scores")
    # integer relevance takes the scores' dtype; float relevance is promoted with the scores (as torch would)
    r = as_float_array(relevance, "relevance", int_dtype=s.dtype)
    s, r = promote(s, r)
    if s.ndim not in (1, 2):
        raise ValueError(
            f"`scores` must have shape (Q, L) (one row per query) or (L,) (one query), but it has shape {s.shape}. "
            + ("If the last axis has size 1, squeeze it: `scores[..., 0]`." if s.ndim == 3 and s.shape[-1] == 1 else
               "Reshape it so that each row holds the items of one query.")
        )
    if r.shape != s.shape:
        hint = ""
        if r.size == s.size:
            hint = f" They hold the same number of values: `relevance.reshape({s.shape})` if they line up."
        raise ValueError(
            f"`relevance` has shape {r.shape} but `scores` has shape {s.shape}; learning-to-rank losses need one "
            f"relevance per score (mark missing items of shorter lists with a negative relevance).{hint}"
        )
    check_finite(r, "relevance")
    r = r.astype(s.dtype, copy=False)
    one_query = s.ndim == 1
    if one_query:
        s, r = s[None, :], r[None, :]
    return s, r, r >= 0, one_query


def _check_k(k):
    if k is None:
        return None
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
        raise TypeError(f"`k` must be a positive integer or None (all positions), but it is {k!r} ({type(k).__name__}).")
    if k < 1:
        raise ValueError(f"`k` must be a positive integer or None (all positions), but it is {k!r}.")
    return int(k)


def _gains(r, valid, gain="exponential"):
    """2^rel - 1 (or rel) for real items, 0 for padding."""
    g = np.exp2(r) - 1 if gain == "exponential" else r
    return np.where(valid, g, np.zeros((), r.dtype))


def _discounts(n, k, dtype):
    """1 / log2(1 + position) for positions 1..n, 0 beyond k."""
    pos = np.arange(1, n + 1, dtype=dtype)
    d = 1 / np.log2(1 + pos)
    if k is not None:
        d[k:] = 0
    return d


def _ideal_dcg(g, k):
    """The DCG@k of the best ordering: gains sorted in descending order (padding has gain 0)."""
    ideal = -np.sort(-g, axis=-1)
    return ideal @ _discounts(g.shape[-1], k, g.dtype)


def _pairs(r, valid):
    """The pairs of each query: index arrays (q, i, j) where items i and j are real and rel_i > rel_j."""
    both = valid[:, :, None] & valid[:, None, :]
    return np.nonzero(both & (r[:, :, None] > r[:, None, :]))


def _pair_values(values, pairs, shape, reduction, one_query):
    """Reduce the losses of the pairs; for 'none', place them in a (Q, L, L) array of zeros."""
    n_pairs = pairs[0].size
    if reduction == "none":
        out = np.zeros(shape + shape[-1:], dtype=values.dtype)
        out[pairs] = values
        return out[0] if one_query else out
    total = values.sum(dtype=values.dtype)
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / values.dtype.type(n_pairs))


def _reduce_queries(per_query, reduction, one_query):
    if reduction == "none":
        return np.asarray(per_query[0]) if one_query else per_query
    if reduction == "sum":
        return np.asarray(per_query.sum(dtype=per_query.dtype))
    return np.asarray(per_query.mean(dtype=per_query.dtype)) if per_query.size else np.asarray(np.nan, per_query.dtype)


def _pairwise_grad(s, pairs, weights, sigma, reduction):
    """Gradient of sum over pairs of w_ij softplus(-sigma (s_i - s_j)) with respect to s (shape (Q, L))."""
    q, i, j = pairs
    Q, L = s.shape
    # d/d s_i of softplus(-sigma d_ij) = -sigma sigmoid(-sigma d_ij); d/d s_j is the opposite.
    g = -sigma * sigmoid(-sigma * (s[q, i] - s[q, j])) * weights
    g = g * g.dtype.type(reduction_scale(reduction, q.size))
    out = np.bincount(q * L + i, g, minlength=Q * L) - np.bincount(q * L + j, g, minlength=Q * L)
    return out.reshape(Q, L).astype(s.dtype, copy=False)


def _lambda_weights(s, r, valid, k, pairs):
    """|ΔNDCG@k| of swapping i and j (for each pair) in the ranking by the current scores (stable: ties keep
    index order, padding last)."""
    Q, L = s.shape
    order = np.lexsort((-s, ~valid), axis=-1) if L else np.zeros((Q, 0), dtype=np.int64)
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.broadcast_to(np.arange(L), (Q, L)), axis=-1)
    disc = _discounts(L, k, s.dtype)[position]  # discount of each item at its current position
    g = _gains(r, valid)
    idcg = _ideal_dcg(g, k)
    q, i, j = pairs
    w = np.abs(g[q, i] - g[q, j]) * np.abs(disc[q, i] - disc[q, j])
    safe = np.where(idcg > 0, idcg, np.ones((), s.dtype))
    return np.where(idcg[q] > 0, w / safe[q], np.zeros((), s.dtype))


def _check_sigma(sigma):
    return check_positive(sigma, "sigma")


# ----------------------------------------------------------------------------------------------------------
# Pairwise: RankNet and LambdaRank
# ----------------------------------------------------------------------------------------------------------


@register(
    family="ranking",
    prediction="scores",
    **_TARGET,
    reference="Burges et al., Learning to Rank using Gradient Descent, ICML (2005)",
)
def ranknet_loss(scores, relevance, sigma=1.0, reduction="mean"):
    r"""RankNet loss: a logistic loss on every pair of items whose relevance says which should rank higher.

    .. math:: \ell_{qij} = \log\bigl(1 + e^{-\sigma (s_{qi} - s_{qj})}\bigr)
        \quad\text{for every pair of real items of query } q \text{ with } \mathrm{rel}_{qi} > \mathrm{rel}_{qj}.

    Args:
        scores: ``(Q, L)`` model scores, one row per query, or ``(L,)`` for one query.
        relevance: same shape, graded relevance (higher is better); negative marks a padded item, which takes
            part in no pair.
        sigma: ``σ > 0`` (default 1), the steepness of the logistic.
        reduction: ``'none'`` returns the ``(Q, L, L)`` pair losses (``(L, L)`` for one query), 0 where (i, j) is
            not a pair; ``'sum'`` sums them; ``'mean'`` (default) divides that sum by the number of pairs
            (NaN if there is none).

    Pairs of equal relevance cost nothing. The loss is the cross-entropy between the target "i above j" and
    the model's probability ``sigmoid(σ (s_i - s_j))``; it only depends on score differences within a query.

    Gradient: ``∂ℓ_ij/∂s_i = -σ sigmoid(-σ (s_i - s_j)) = -∂ℓ_ij/∂s_j``.
    Reference: Burges et al., ICML (2005).
    """
    s, r, valid, one = _prepare(scores, relevance, reduction)
    sigma = _check_sigma(sigma)
    pairs = _pairs(r, valid)
    q, i, j = pairs
    loss = softplus(-s.dtype.type(sigma) * (s[q, i] - s[q, j]))
    return _pair_values(loss, pairs, s.shape, reduction, one)


@ranknet_loss.defgrad
def _ranknet_loss_grad(scores, relevance, sigma=1.0, reduction="mean"):
    s, r, valid, one = _prepare(scores, relevance, reduction)
    sigma = _check_sigma(sigma)
    pairs = _pairs(r, valid)
    g = _pairwise_grad(s, pairs, np.ones((), s.dtype), s.dtype.type(sigma), reduction)
    return g[0] if one else g


@register(
    family="ranking",
    prediction="scores",
    **_TARGET,
    reference="Burges, From RankNet to LambdaRank to LambdaMART: An Overview, MSR-TR-2010-82 (2010); "
    "Burges, Ragno & Le, NeurIPS (2006)",
)
def lambdarank_loss(scores, relevance, sigma=1.0, k=None, reduction="mean"):
    r"""LambdaRank loss: RankNet's pairs, each weighted by how much NDCG@k would change if the two swapped.

    .. math:: \ell_{qij} = |\Delta\mathrm{NDCG@k}_{qij}|\,\log\bigl(1 + e^{-\sigma (s_{qi} - s_{qj})}\bigr),
        \qquad |\Delta\mathrm{NDCG@k}_{qij}| = \frac{|G_{qi} - G_{qj}|\;|D(\pi_{qi}) - D(\pi_{qj})|}{\mathrm{IDCG@k}_q}

    for the same pairs as :func:`ranknet_loss` (real items, ``rel_i > rel_j``). ``G = 2^rel - 1`` is the gain,
    ``π`` the position (1, 2, ...) of an item in the ranking by the *current* scores, sorted by descending score
    and stable (ties keep index order, padding last), ``D(p) = 1 / log2(1 + p)`` for ``p <= k`` and 0 beyond,
    and ``IDCG@k`` the DCG@k of the ideal ordering of the query (weights are 0 if it is 0).

    Args:
        scores, relevance: as for :func:`ranknet_loss` (negative relevance marks padding).
        sigma: ``σ > 0`` (default 1).
        k: cut-off of the NDCG whose change weights the pairs; ``None`` (default) means all positions.
        reduction: as for :func:`ranknet_loss`: ``'none'`` gives the ``(Q, L, L)`` weighted pair losses, ``'sum'``
            their sum, ``'mean'`` (default) that sum divided by the number of pairs.

    The weights are treated as constants for the gradient (the "lambda" trick): the gradient is RankNet's,
    scaled pair by pair, so pairs that would move an item across the top of the list count most, and pairs
    entirely below position k not at all.
    Reference: Burges, MSR-TR-2010-82 (2010); Burges, Ragno & Le, NeurIPS (2006).
    """
    s, r, valid, one = _prepare(scores, relevance, reduction)
    sigma = _check_sigma(sigma)
    k = _check_k(k)
    pairs = _pairs(r, valid)
    q, i, j = pairs
    w = _lambda_weights(s, r, valid, k, pairs)
    loss = w * softplus(-s.dtype.type(sigma) * (s[q, i] - s[q, j]))
    return _pair_values(loss, pairs, s.shape, reduction, one)


@lambdarank_loss.defgrad
def _lambdarank_loss_grad(scores, relevance, sigma=1.0, k=None, reduction="mean"):
    s, r, valid, one = _prepare(scores, relevance, reduction)
    sigma = _check_sigma(sigma)
    k = _check_k(k)
    pairs = _pairs(r, valid)
    g = _pairwise_grad(s, pairs, _lambda_weights(s, r, valid, k, pairs), s.dtype.type(sigma), reduction)
    return g[0] if one else g


# ----------------------------------------------------------------------------------------------------------
# Listwise: ListNet and ListMLE
# ----------------------------------------------------------------------------------------------------------


def _masked(x, valid):
    return np.where(valid, x, np.asarray(-np.inf, x.dtype))


@register(
    family="ranking",
    prediction="scores",
    **_TARGET,
    reference="Cao, Qin, Liu, Tsai & Li, Learning to Rank: From Pairwise Approach to Listwise Approach, ICML (2007)",
)
def listnet_loss(scores, relevance, reduction="mean"):
    r"""ListNet loss: cross-entropy between the top-one distributions given by the relevance and by the scores.

    .. math:: \ell_q = -\sum_{i} \mathrm{softmax}(\mathrm{rel}_q)_i \,\log \mathrm{softmax}(s_q)_i

    with both softmaxes taken over the real items of query ``q`` only (padding, marked by a negative
    relevance, is left out).

    Args:
        scores, relevance: ``(Q, L)`` or ``(L,)``, as for :func:`ranknet_loss`.
        reduction: ``'none'`` returns the ``(Q,)`` per-query losses (a 0-d array for one query), ``'sum'`` their
            sum, ``'mean'`` (default) their average over queries.

    A query with no real item has loss 0 (and counts in the mean); one with a single real item also has loss 0.
    The minimum over scores is the entropy of ``softmax(rel)``, not 0: compare losses, not their distance to 0.

    Gradient: ``∂ℓ_q/∂s_i = softmax(s_q)_i - softmax(rel_q)_i`` for real items, 0 for padding.
    Reference: Cao et al., ICML (2007).
    """
    s, r, valid, one = _prepare(scores, relevance, reduction)
    with np.errstate(invalid="ignore"):  # a fully padded query: softmax over nothing, masked out below
        p = np.where(valid, softmax(_masked(r, valid)), np.zeros((), s.dtype))
        logq = log_softmax(_masked(s, valid))
        per_query = -np.where(valid, p * logq, np.zeros((), s.dtype)).sum(axis=-1)
    return _reduce_queries(per_query, reduction, one)


@listnet_loss.defgrad
def _listnet_loss_grad(scores, relevance, reduction="mean"):
    s, r, valid, one = _prepare(scores, relevance, reduction)
    zero = np.zeros((), s.dtype)
    with np.errstate(invalid="ignore"):
        p = np.where(valid, softmax(_masked(r, valid)), zero)
        q = np.where(valid, softmax(_masked(s, valid)), zero)
    g = (q - p) * s.dtype.type(reduction_scale(reduction, s.shape[0]))
    return g[0] if one else g


@listnet_loss.defvalue_and_grad
def _listnet_loss_value_and_grad(scores, relevance, reduction="mean"):
    """The value and the gradient at once: one validation, each softmax computed once."""
    s, r, valid, one = _prepare(scores, relevance, reduction)
    zero = np.zeros((), s.dtype)
    with np.errstate(invalid="ignore"):
        p = np.where(valid, softmax(_masked(r, valid)), zero)
        logq = log_softmax(_masked(s, valid))
        per_query = -np.where(valid, p * logq, zero).sum(axis=-1)
        g = (np.where(valid, np.exp(logq), zero) - p) * s.dtype.type(reduction_scale(reduction, s.shape[0]))
    return _reduce_queries(per_query, reduction, one), (g[0] if one else g)


def _listmle_parts(s, r, valid):
    """Scores sorted by descending relevance (stable; padding, being negative, goes last) and their mask."""
    order = np.argsort(-r, axis=-1, kind="stable")
    ss = np.take_along_axis(s, order, axis=-1)
    vs = np.take_along_axis(valid, order, axis=-1)
    ss = _masked(ss, vs)
    # lse_t = log sum_{u >= t} exp(ss_u): a reversed cumulative logsumexp (stable, -inf for padding).
    lse = np.logaddexp.accumulate(ss[:, ::-1], axis=-1)[:, ::-1] if s.shape[-1] else ss
    return order, ss, vs, lse


@register(
    family="ranking",
    prediction="scores",
    **_TARGET,
    reference="Xia, Liu, Wang, Zhang & Li, Listwise Approach to Learning to Rank: Theory and Algorithm, ICML (2008)",
)
def listmle_loss(scores, relevance, reduction="mean"):
    r"""ListMLE loss: the Plackett–Luce negative log-likelihood of the ideal ordering of each query.

    .. math:: \ell_q = \sum_{t=1}^{n_q} \Bigl(\log \sum_{u=t}^{n_q} e^{s_{q\pi_u}} - s_{q\pi_t}\Bigr)

    where ``π`` lists the ``n_q`` real items of query ``q`` by descending relevance; items of equal relevance
    keep their index order (a stable sort), so the loss asks for *one* of the ideal orderings.

    Args:
        scores, relevance: ``(Q, L)`` or ``(L,)``, as for :func:`ranknet_loss` (negative relevance marks padding).
        reduction: ``'none'`` returns the ``(Q,)`` per-query losses (0-d for one query), ``'sum'`` their sum,
            ``'mean'`` (default) their average over queries.

    Each term is the cross-entropy of choosing the next item of the ideal order among those still left, so the
    loss is large when a relevant item is scored below many others. A query with at most one real item has
    loss 0.

    Gradient: ``∂ℓ_q/∂s_{π_u} = -1 + Σ_{t ≤ u} exp(s_{π_u} - lse_t)``, with ``lse_t`` the log-sum in term ``t``.
    Reference: Xia et al., ICML (2008).
    """
    s, r, valid, one = _prepare(scores, relevance, reduction)
    _, ss, vs, lse = _listmle_parts(s, r, valid)
    with np.errstate(invalid="ignore"):
        terms = lse - ss
    per_query = np.where(vs, terms, np.zeros((), s.dtype)).sum(axis=-1)
    return _reduce_queries(per_query, reduction, one)


@listmle_loss.defgrad
def _listmle_loss_grad(scores, relevance, reduction="mean"):
    s, r, valid, one = _prepare(scores, relevance, reduction)
    order, ss, vs, lse = _listmle_parts(s, r, valid)
    zero = np.zeros((), s.dtype)
    # log C_u = log sum_{t <= u} exp(-lse_t), over real positions only.
    neg = np.where(vs, -lse, np.asarray(-np.inf, s.dtype))
    logc = np.logaddexp.accumulate(neg, axis=-1) if s.shape[-1] else neg
    with np.errstate(invalid="ignore", over="ignore"):
        g_sorted = np.where(vs, np.exp(ss + logc) - 1, zero)
    g = np.empty_like(g_sorted)
    np.put_along_axis(g, order, g_sorted, axis=-1)
    g = g * s.dtype.type(reduction_scale(reduction, s.shape[0]))
    return g[0] if one else g


# ----------------------------------------------------------------------------------------------------------
# The metric
# ----------------------------------------------------------------------------------------------------------


def ndcg(scores, relevance, k=None, gain="exponential"):
    r"""Normalised discounted cumulative gain of the ranking by ``scores``, one value per query (a metric).

    .. math:: \mathrm{DCG@k} = \sum_{p=1}^{k} \frac{G(\mathrm{rel}_{(p)})}{\log_2(1 + p)}, \qquad
        \mathrm{NDCG@k} = \frac{\mathrm{DCG@k}}{\mathrm{IDCG@k}}

    where ``rel_(p)`` is the relevance of the item at position ``p`` when the real items are sorted by
    descending score, and ``IDCG@k`` is the DCG@k of the ideal ordering (by descending relevance).

    Args:
        scores, relevance: ``(Q, L)`` or ``(L,)``; a negative relevance marks a padded item, which takes no
            position and has no gain.
        k: the cut-off: only the first ``k`` positions count; ``None`` (default) means all.
        gain: ``"exponential"`` (default, ``G = 2^rel - 1``, the usual choice in web search) or ``"linear"``
            (``G = rel``, scikit-learn's ``ndcg_score``).

    Returns:
        ``(Q,)`` values in [0, 1] (a 0-d array for one query). A query whose ideal DCG is 0 (no relevant item)
        scores 0.

    Ties: items with equal scores share the discounts of the positions they occupy, on average (so a model
    that gives every item the same score gets no credit from the order in which the items happen to be
    stored). With ``gain="linear"``, ``ndcg(s, r, k).mean()`` equals ``sklearn.metrics.ndcg_score(r, s, k=k)``.
    Reference: Järvelin & Kekäläinen, Cumulated Gain-Based Evaluation of IR Techniques, ACM TOIS (2002);
    McSherry & Najork, ECIR (2008) for the tie-averaged form.
    """
    s, r, valid, one = _prepare(scores, relevance)
    k = _check_k(k)
    if not isinstance(gain, str) or gain not in _GAINS:
        raise ValueError(f"`gain` must be 'exponential' (2^rel - 1) or 'linear' (rel), but it is {gain!r}.")
    Q, L = s.shape
    g = _gains(r, valid, gain)
    # Cumulative discounts: cum[p] = sum of the discounts of positions 1..p (0 beyond k).
    cum = np.concatenate([np.zeros(1, s.dtype), np.cumsum(_discounts(L, k, s.dtype))])
    both = valid[:, :, None] & valid[:, None, :]
    higher = (both & (s[:, None, :] > s[:, :, None])).sum(axis=-1)  # real items scored above item i
    tied = (both & (s[:, None, :] == s[:, :, None])).sum(axis=-1)  # real items tied with i (itself included)
    tied = np.maximum(tied, 1)
    avg_disc = (cum[np.minimum(higher + tied, L)] - cum[higher]) / tied
    dcg = np.where(valid, g * avg_disc, np.zeros((), s.dtype)).sum(axis=-1)
    idcg = _ideal_dcg(g, k)
    safe = np.where(idcg > 0, idcg, np.ones((), s.dtype))
    out = np.where(idcg > 0, dcg / safe, np.zeros((), s.dtype))
    return np.asarray(out[0]) if one else out
