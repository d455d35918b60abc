"""Learning-to-rank losses and NDCG: values and gradients against a PyTorch autograd reference written here,
padding, ties, k, reductions, one-query input, NDCG against scikit-learn, and the error messages."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from parity import check_parity

import lossbook

RNG = np.random.default_rng(7)
REDUCTIONS = ["mean", "sum", "none"]


# ----------------------------------------------------------------------------------------------------------
# Reference implementations in PyTorch, written from the definitions with plain loops (no shared code with
# lossbook): autograd gives the reference gradients.
# ----------------------------------------------------------------------------------------------------------


def _rows(scores, relevance):
    one = scores.dim() == 1
    if one:
        scores, relevance = scores[None], relevance[None]
    return scores, relevance, one


def _discount(position, k):
    """1 / log2(1 + position) for a 1-based position, 0 beyond k."""
    if k is not None and position > k:
        return 0.0
    return 1.0 / math.log2(1 + position)


def _lambda_weight(s, r, i, j, k):
    """|ΔNDCG@k| of swapping items i and j of one query (s, r: Python lists), by the definition."""
    real = [a for a in range(len(r)) if r[a] >= 0]
    ranking = sorted(real, key=lambda a: (-s[a], a))  # descending score, ties in index order
    pos = {a: p + 1 for p, a in enumerate(ranking)}
    gain = {a: 2.0 ** r[a] - 1 for a in real}
    ideal = sorted(gain.values(), reverse=True)
    idcg = sum(g * _discount(p + 1, k) for p, g in enumerate(ideal))
    if idcg == 0:
        return 0.0
    return abs(gain[i] - gain[j]) * abs(_discount(pos[i], k) - _discount(pos[j], k)) / idcg


def _pairwise_reference(scores, relevance, sigma, reduction, k=None, weighted=False):
    S, R, one = _rows(scores, relevance)
    Q, L = S.shape
    zero = S.sum() * 0
    rows, n_pairs = [], 0
    for q in range(Q):
        s_list, r_list = S[q].tolist(), R[q].tolist()
        row = []
        for i in range(L):
            for j in range(L):
                if r_list[i] >= 0 and r_list[j] >= 0 and r_list[i] > r_list[j]:
                    w = _lambda_weight(s_list, r_list, i, j, k) if weighted else 1.0
                    row.append(w * F.softplus(-sigma * (S[q, i] - S[q, j])))
                    n_pairs += 1
                else:
                    row.append(zero)
        rows.append(torch.stack(row).reshape(L, L))
    out = torch.stack(rows)
    if reduction == "none":
        return out[0] if one else out
    if reduction == "sum":
        return out.sum()
    return out.sum() / n_pairs


def torch_ranknet(scores, relevance, sigma=1.0, reduction="mean"):
    return _pairwise_reference(scores, relevance, sigma, reduction)


def torch_lambdarank(scores, relevance, sigma=1.0, k=None, reduction="mean"):
    return _pairwise_reference(scores, relevance, sigma, reduction, k=k, weighted=True)


def _listwise_reference(per_query_fn, scores, relevance, reduction):
    S, R, one = _rows(scores, relevance)
    losses = []
    for q in range(S.shape[0]):
        real = [a for a in range(S.shape[1]) if R[q, a] >= 0]
        losses.append(per_query_fn(S[q], R[q], real) if real else S.sum() * 0)
    out = torch.stack(losses)
    if reduction == "none":
        return out[0] if one else out
    return out.sum() if reduction == "sum" else out.mean()


def torch_listnet(scores, relevance, reduction="mean"):
    def one_query(s, r, real):
        idx = torch.tensor(real)
        p = torch.softmax(r[idx], dim=0)
        return -(p * torch.log_softmax(s[idx], dim=0)).sum()

    return _listwise_reference(one_query, scores, relevance, reduction)


def torch_listmle(scores, relevance, reduction="mean"):
    def one_query(s, r, real):
        order = sorted(real, key=lambda a: (-float(r[a]), a))  # descending relevance, ties in index order
        ss = s[torch.tensor(order)]
        return sum(torch.logsumexp(ss[t:], dim=0) - ss[t] for t in range(len(order)))

    return _listwise_reference(one_query, scores, relevance, reduction)


TORCH_REFERENCE = {
    "ranknet_loss": torch_ranknet,
    "lambdarank_loss": torch_lambdarank,
    "listnet_loss": torch_listnet,
    "listmle_loss": torch_listmle,
}
LOSSES = list(TORCH_REFERENCE)


def _batch(Q=5, L=7, dtype=np.float64, score_ties=True):
    """Scores with ties, graded relevance 0-3 with ties, padding (-1) in some rows, a fully padded row and a
    row whose items are all equally relevant (no pair)."""
    s = RNG.standard_normal((Q, L))
    if score_ties:
        s[0, 1] = s[0, 4] = s[0, 2]  # tied scores
        s[1] = np.round(s[1])
    r = RNG.integers(0, 4, size=(Q, L)).astype(np.float64)
    r[1, -2:] = -1  # padding at the end
    r[2, 0] = -1  # padding at the front
    r[3] = 2.0  # all equally relevant: no pair, ListNet/ListMLE still defined
    r[4] = -1  # a fully padded query
    return s.astype(dtype), r.astype(dtype)


# ----------------------------------------------------------------------------------------------------------
# Parity with the reference
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSSES)
def test_values_and_gradients_match_the_torch_reference(name, reduction):
    s, r = _batch()
    check_parity(name, [s, r], {"reduction": reduction}, torch_fn=TORCH_REFERENCE[name])


@pytest.mark.parametrize("sigma", [0.5, 2.0])
@pytest.mark.parametrize("name", ["ranknet_loss", "lambdarank_loss"])
def test_sigma(name, sigma):
    s, r = _batch()
    check_parity(name, [s, r], {"sigma": sigma}, torch_fn=TORCH_REFERENCE[name])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("k", [None, 1, 3, 20])
def test_lambdarank_cutoff(k, reduction):
    s, r = _batch(L=9)
    check_parity("lambdarank_loss", [s, r], {"k": k, "reduction": reduction}, torch_fn=torch_lambdarank)


def test_lambdarank_pairs_below_the_cutoff_weigh_nothing():
    # Items ranked 3rd and 4th by score, both below k = 2: their pair has weight 0.
    s = np.array([4.0, 3.0, 2.0, 1.0])
    r = np.array([0.0, 0.0, 1.0, 2.0])
    pair = lossbook.lambdarank_loss(s, r, k=2, reduction="none")
    assert pair[3, 2] == 0 and pair[3, 0] > 0
    assert lossbook.ranknet_loss(s, r, reduction="none")[3, 2] > 0


def test_lambdarank_ties_keep_index_order():
    # All scores equal: the ranking is the index order, so swapping items 0 and 3 changes NDCG, 1 and 2 less.
    s = np.zeros(4)
    r = np.array([0.0, 1.0, 2.0, 3.0])
    check_parity("lambdarank_loss", [s, r], {"reduction": "none"}, torch_fn=torch_lambdarank)
    pair = lossbook.lambdarank_loss(s, r, reduction="none")
    assert pair[3, 0] > pair[2, 1] > 0


@pytest.mark.parametrize("name", LOSSES)
def test_float32_keeps_its_dtype_and_matches(name):
    s, r = _batch(dtype=np.float32)
    check_parity(name, [s, r], {}, torch_fn=TORCH_REFERENCE[name])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", LOSSES)
def test_one_query_input_is_the_first_row_of_a_batch(name, reduction):
    s, r = _batch()
    fn = getattr(lossbook, name)
    one = fn(s[0], r[0], reduction=reduction)
    batch = fn(s[:1], r[:1], reduction=reduction)
    expected_shape = {"none": (7, 7) if name in ("ranknet_loss", "lambdarank_loss") else ()}.get(reduction, ())
    assert one.shape == expected_shape
    np.testing.assert_allclose(one, batch[0] if reduction == "none" else batch, rtol=1e-12)
    np.testing.assert_allclose(fn.grad(s[0], r[0], reduction=reduction), fn.grad(s[:1], r[:1], reduction=reduction)[0], rtol=1e-12)
    check_parity(name, [s[0], r[0]], {"reduction": reduction}, torch_fn=TORCH_REFERENCE[name])


@pytest.mark.parametrize("name", LOSSES)
def test_padding_is_the_same_as_a_shorter_list(name):
    s, r = _batch()
    fn = getattr(lossbook, name)
    real = r[1] >= 0
    short = fn(s[1][real], r[1][real], reduction="sum")
    padded = fn(s[1], r[1], reduction="sum")
    np.testing.assert_allclose(padded, short, rtol=1e-12)
    g = fn.grad(s[1], r[1], reduction="sum")
    assert np.all(g[~real] == 0)
    np.testing.assert_allclose(g[real], fn.grad(s[1][real], r[1][real], reduction="sum"), rtol=1e-12)
    # The padded scores may hold anything, even a huge number: nothing changes.
    s2 = s[1].copy()
    s2[~real] = 1e30
    np.testing.assert_allclose(fn(s2, r[1], reduction="sum"), short, rtol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_a_constant_added_to_a_query_changes_nothing(name):
    s, r = _batch()
    fn = getattr(lossbook, name)
    shifted = s + RNG.standard_normal((s.shape[0], 1)) * 10
    np.testing.assert_allclose(fn(shifted, r, reduction="none"), fn(s, r, reduction="none"), rtol=1e-9, atol=1e-12)


def test_mean_without_any_pair_is_nan_and_sum_is_zero():
    s = np.array([[0.1, 0.2], [0.3, 0.4]])
    r = np.array([[1.0, 1.0], [2.0, -1.0]])
    for fn in (lossbook.ranknet_loss, lossbook.lambdarank_loss):
        assert np.isnan(fn(s, r)) and fn(s, r, reduction="sum") == 0
        assert np.all(fn.grad(s, r, reduction="sum") == 0)


def test_ranknet_mean_divides_by_the_number_of_pairs():
    s = np.array([[1.0, 0.0, 0.5], [0.0, 0.0, -1.0]])
    r = np.array([[2.0, 1.0, 0.0], [1.0, 0.0, -1.0]])  # 3 pairs + 1 pair
    assert lossbook.ranknet_loss(s, r) == pytest.approx(float(lossbook.ranknet_loss(s, r, reduction="sum")) / 4)


def test_stable_for_large_scores():
    s = np.array([[1e4, -1e4, 0.0], [800.0, 0.0, -800.0]])
    r = np.array([[0.0, 2.0, 1.0], [2.0, 0.0, 1.0]])
    for name in LOSSES:
        fn = getattr(lossbook, name)
        v, g = fn(s, r), fn.grad(s, r)
        assert np.isfinite(v) and np.all(np.isfinite(g)), name
        check_parity(name, [s, r], {}, torch_fn=TORCH_REFERENCE[name])


def test_listwise_minimum_is_reached_by_the_ideal_scores():
    r = np.array([3.0, 0.0, 1.0, 2.0])
    # ListNet is minimal when softmax(s) = softmax(rel): the gradient vanishes at s = rel.
    np.testing.assert_allclose(lossbook.listnet_loss.grad(r, r), 0, atol=1e-15)
    # ListMLE decreases towards 0 as the ideal order is scored with wider and wider gaps.
    values = [float(lossbook.listmle_loss(c * r, r)) for c in (1, 5, 25)]
    assert values[0] > values[1] > values[2] > 0 and values[2] < 1e-8


# ----------------------------------------------------------------------------------------------------------
# NDCG
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [None, 1, 3, 5, 50])
@pytest.mark.parametrize("seed", range(6))
def test_ndcg_linear_matches_scikit_learn_with_ties(seed, k):
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(seed)
    Q, L = 8, 10
    s = rng.integers(0, 4, size=(Q, L)).astype(np.float64)  # few distinct values: many ties
    r = rng.integers(0, 4, size=(Q, L)).astype(np.float64)
    r[0] = 0  # a query with no relevant item
    ours = lossbook.ndcg(s, r, k=k, gain="linear")
    assert ours.shape == (Q,) and ours[0] == 0
    assert float(ours.mean()) == pytest.approx(ndcg_score(r, s, k=k), rel=1e-12)
    for q in range(Q):  # per query too
        assert ours[q] == pytest.approx(ndcg_score(r[q:q + 1], s[q:q + 1], k=k), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("k", [None, 2, 4])
def test_ndcg_exponential_is_linear_ndcg_of_the_gains(k):
    from sklearn.metrics import ndcg_score

    s = np.round(RNG.standard_normal((6, 8)), 1)
    r = RNG.integers(0, 5, size=(6, 8)).astype(np.float64)
    assert float(lossbook.ndcg(s, r, k=k).mean()) == pytest.approx(ndcg_score(2 ** r - 1, s, k=k), rel=1e-12)


def test_ndcg_by_hand():
    # Ranking by score: rel 1, 3, 0. DCG = 1/log2(2) + 7/log2(3); ideal: 7/log2(2) + 1/log2(3).
    s, r = np.array([0.9, 0.5, 0.1]), np.array([1.0, 3.0, 0.0])
    expected = (1 + 7 / math.log2(3)) / (7 + 1 / math.log2(3))
    assert lossbook.ndcg(s, r) == pytest.approx(expected, rel=1e-14)
    assert lossbook.ndcg(s, r, k=1) == pytest.approx(1 / 7, rel=1e-14)
    assert lossbook.ndcg(np.array([0.5, 0.9, 0.1]), r) == 1.0  # the ideal order
    assert lossbook.ndcg(s, r).shape == ()


def test_ndcg_ties_average_the_discounts():
    r = np.array([3.0, 0.0, 0.0, 1.0])
    constant = np.zeros(4)
    # A constant score cannot be helped by the storage order: the same value for every permutation.
    perm = RNG.permutation(4)
    assert lossbook.ndcg(constant, r) == pytest.approx(float(lossbook.ndcg(constant[perm], r[perm])), rel=1e-14)
    # Each item gets the average of the four discounts.
    avg = np.mean(1 / np.log2(np.arange(2, 6)))
    idcg = 7 / np.log2(2) + 1 / np.log2(3)
    assert lossbook.ndcg(constant, r) == pytest.approx(8 * avg / idcg, rel=1e-14)


def test_ndcg_ignores_padding():
    s = RNG.standard_normal((3, 6))
    r = RNG.integers(0, 4, size=(3, 6)).astype(np.float64)
    r[:, 0] = 3
    padded_r = r.copy()
    padded_r[:, 4:] = -1
    got = lossbook.ndcg(s, padded_r, k=3)
    np.testing.assert_allclose(got, lossbook.ndcg(s[:, :4], r[:, :4], k=3), rtol=1e-14)
    s2 = s.copy()
    s2[:, 4:] = 100.0  # padded items scored first change nothing
    np.testing.assert_allclose(lossbook.ndcg(s2, padded_r, k=3), got, rtol=1e-14)


# ----------------------------------------------------------------------------------------------------------
# Metadata and errors
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LOSSES)
def test_registered_as_ranking_losses_on_scores(name):
    info = getattr(lossbook, name).info
    assert info.family == "ranking" and info.prediction == "scores" and info.torch_function is None
    assert name in [i.name for i in lossbook.catalogue("ranking")]
    assert "ndcg" not in [i.name for i in lossbook.catalogue()]


@pytest.mark.parametrize("name", LOSSES)
def test_shape_mismatch_names_both_arguments(name):
    fn = getattr(lossbook, name)
    with pytest.raises(ValueError, match=r"`relevance` has shape \(2, 3\) but `scores` has shape \(3, 2\).*reshape"):
        fn(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"`scores` must have shape \(Q, L\).*\(2, 3, 1\).*squeeze"):
        fn(np.zeros((2, 3, 1)), np.zeros((2, 3, 1)))


def test_invalid_arguments_are_refused_with_the_fix():
    s, r = np.zeros((2, 3)), np.ones((2, 3))
    with pytest.raises(ValueError, match="`relevance` contains NaN"):
        lossbook.ranknet_loss(s, np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]]))
    with pytest.raises(ValueError, match="`sigma` must be positive"):
        lossbook.ranknet_loss(s, r, sigma=0.0)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        lossbook.listnet_loss(s, r, reduction="batchmean")
    with pytest.raises(ValueError, match="`k` must be a positive integer or None"):
        lossbook.lambdarank_loss(s, r, k=0)
    with pytest.raises(TypeError, match="`k` must be a positive integer or None"):
        lossbook.ndcg(s, r, k=2.5)
    with pytest.raises(TypeError, match="`k` must be a positive integer"):
        lossbook.ndcg(s, r, k=True)
    with pytest.raises(ValueError, match="`gain` must be 'exponential'"):
        lossbook.ndcg(s, r, gain="log")
    with pytest.raises(TypeError, match=r"\.detach\(\)\.cpu\(\)\.numpy\(\)"):
        lossbook.listmle_loss(torch.zeros(3), np.zeros(3))
    with pytest.raises(TypeError, match="`relevance` must hold real numbers"):
        lossbook.ndcg(s, np.array([["a", "b", "c"], ["d", "e", "f"]]))
