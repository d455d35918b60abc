"""lossbook.ctc_loss against torch.nn.functional.ctc_loss (values to 1e-10 relative in float64, on random and
edge cases), its gradient against finite differences and against torch through log_softmax, its errors;
lossbook.token_cross_entropy against F.cross_entropy on flattened tokens, and exact gradient accumulation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from parity import assert_close

import lossbook
from lossbook import LossInputWarning


def random_case(T=12, N=4, C=5, S=4, blank=0, seed=0, min_len=None):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, N, C)) * 1.5
    lp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    labels = [c for c in range(C) if c != blank]
    tl = rng.integers(0, S + 1, N)
    tg = rng.choice(labels, (N, S))
    il = rng.integers(min_len if min_len is not None else T // 2, T + 1, N)
    return lp, tg, il, tl


def torch_ctc(lp, tg, il, tl, **kw):
    lpt = torch.tensor(lp, requires_grad=True)
    out = F.ctc_loss(lpt, torch.as_tensor(np.asarray(tg)), torch.as_tensor(np.asarray(il)),
                     torch.as_tensor(np.asarray(tl)), **kw)
    out.sum().backward()
    return out.detach().numpy(), lpt.grad.numpy()


def through_log_softmax(grad_lp, lp):
    """Back-propagate a gradient w.r.t. log_probs = log_softmax(z) to z (z's gradient)."""
    return grad_lp - np.exp(lp) * grad_lp.sum(axis=-1, keepdims=True)


KWARGS = [
    {}, {"reduction": "sum"}, {"reduction": "none"}, {"zero_infinity": True},
    {"blank": 2}, {"blank": 4, "reduction": "none"}, {"blank": 1, "reduction": "sum", "zero_infinity": True},
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kw", KWARGS, ids=str)
def test_random_cases_match_torch(kw, seed):
    lp, tg, il, tl = random_case(seed=seed, blank=kw.get("blank", 0))
    ours = lossbook.ctc_loss(lp, tg, il, tl, **kw)
    theirs, tgrad = torch_ctc(lp, tg, il, tl, **kw)
    assert_close(ours, theirs, rtol=1e-10)
    grad = lossbook.ctc_loss.grad(lp, tg, il, tl, **kw)
    assert grad.shape == lp.shape and grad.dtype == lp.dtype
    assert_close(through_log_softmax(grad, lp), through_log_softmax(tgrad, lp), rtol=1e-8, atol=1e-13,
                 what="gradient through log_softmax")


def test_concatenated_targets_lists_and_tuples_match_padded():
    lp, tg, il, tl = random_case(seed=3)
    flat = np.concatenate([tg[n, :tl[n]] for n in range(len(tl))])
    padded = lossbook.ctc_loss(lp, tg, il, tl, reduction="none")
    concat = lossbook.ctc_loss(lp, flat, tuple(il.tolist()), list(tl.tolist()), reduction="none")
    theirs, _ = torch_ctc(lp, flat, il, tl, reduction="none")
    assert_close(concat, theirs, rtol=1e-10)
    assert_close(padded, concat, rtol=1e-12)
    assert_close(lossbook.ctc_loss.grad(lp, flat, il, tl), lossbook.ctc_loss.grad(lp, tg, il, tl), rtol=1e-12)


def test_unbatched_input():
    lp, tg, il, tl = random_case(seed=4)
    tl[0] = 3
    theirs, tgrad = torch_ctc(lp[:, 0], tg[0, :3], int(il[0]), 3, reduction="none")
    ours = lossbook.ctc_loss(lp[:, 0], tg[0, :3], int(il[0]), 3, reduction="none")
    assert np.ndim(ours) == 0
    assert_close(ours, theirs, rtol=1e-10)
    g = lossbook.ctc_loss.grad(lp[:, 0], tg[0, :3], int(il[0]), 3, reduction="none")
    assert_close(through_log_softmax(g, lp[:, 0]), through_log_softmax(tgrad, lp[:, 0]), rtol=1e-8, atol=1e-13)


def edge_cases():
    rng = np.random.default_rng(7)
    T, C = 6, 4
    z = rng.normal(size=(T, 5, C))
    lp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
    return {
        # sequence: empty target; repeated labels needing a blank between them; T exactly at the minimum
        # (3 labels with one repeat need 4 steps); T too short (infinite loss); lengths shorter than the arrays
        "empty targets": (lp, np.array([[1, 2, 3]] * 5), [6, 5, 1, 6, 3], [0, 0, 0, 0, 0]),
        "repeats": (lp, np.array([[1, 1, 1], [2, 2, 3], [3, 1, 1], [1, 2, 1], [2, 2, 2]]), [6] * 5, [3] * 5),
        "T at the minimum": (lp, np.array([[1, 1, 2], [1, 2, 3], [3, 3, 3], [2, 2, 0], [1, 0, 0]]),
                             [4, 3, 5, 3, 1], [3, 3, 3, 2, 1]),
        "T too short": (lp, np.array([[1, 1, 2], [1, 2, 3], [3, 3, 3], [2, 3, 1], [1, 2, 1]]),
                        [3, 2, 4, 6, 1], [3, 3, 3, 3, 3]),
        "short lengths in long arrays": (lp, np.array([[1, 2, 3]] * 5), [2, 3, 4, 5, 6], [1, 2, 1, 3, 2]),
        "zero input length": (lp, np.array([[1, 2, 3]] * 5), [0, 0, 6, 6, 6], [0, 2, 1, 0, 3]),
    }


@pytest.mark.parametrize("kw", [{}, {"reduction": "none"}, {"reduction": "sum", "zero_infinity": True},
                                {"zero_infinity": True, "reduction": "none"}], ids=str)
@pytest.mark.parametrize("name", list(edge_cases()))
def test_edge_cases_match_torch(name, kw):
    lp, tg, il, tl = edge_cases()[name]
    ours = lossbook.ctc_loss(lp, tg, il, tl, **kw)
    theirs, tgrad = torch_ctc(lp, tg, il, tl, **kw)
    assert_close(ours, theirs, rtol=1e-10)
    grad = lossbook.ctc_loss.grad(lp, tg, il, tl, **kw)
    assert np.array_equal(np.isnan(grad), np.isnan(tgrad))
    assert_close(through_log_softmax(grad, lp), through_log_softmax(tgrad, lp), rtol=1e-8, atol=1e-13)


def test_blank_not_zero_edge_cases():
    lp, tg, il, tl = edge_cases()["repeats"]
    tg = np.where(tg == 1, 0, tg)  # labels {0, 2, 3}, blank = 1
    ours = lossbook.ctc_loss(lp, tg, il, tl, blank=1, reduction="none")
    theirs, _ = torch_ctc(lp, tg, il, tl, blank=1, reduction="none")
    assert_close(ours, theirs, rtol=1e-10)


def test_too_short_is_infinite_and_zero_infinity_zeroes_it():
    lp, tg, il, tl = edge_cases()["T too short"]
    loss = lossbook.ctc_loss(lp, tg, il, tl, reduction="none")
    # minimum lengths: [1,1,2] -> 4, [1,2,3] -> 3, [3,3,3] -> 5, [2,3,1] -> 3, [1,2,1] -> 3
    assert np.array_equal(np.isinf(loss), np.array([True, True, True, False, True]))
    assert lossbook.ctc_loss(lp, tg, il, tl) == np.inf
    g = lossbook.ctc_loss.grad(lp, tg, il, tl, zero_infinity=True, reduction="none")
    assert np.all(g[:, [0, 1, 2, 4]] == 0) and np.any(g[:, 3] != 0)


def test_gradient_is_the_partial_derivative_of_free_log_probs():
    lp, tg, il, tl = random_case(T=7, N=3, C=4, S=3, seed=5)
    free = lp - 0.3 + np.random.default_rng(0).normal(scale=0.1, size=lp.shape)  # not normalised
    free = np.minimum(free, -1e-3)
    for kw in ({}, {"reduction": "none"}, {"reduction": "sum", "blank": 2}):
        tg_k = np.where(tg == kw.get("blank", 0), 1, tg)
        grad = lossbook.ctc_loss.grad(free, tg_k, il, tl, **kw)
        fd = np.zeros_like(free)
        h = 1e-6
        for idx in np.ndindex(free.shape):
            up, dn = free.copy(), free.copy()
            up[idx] += h
            dn[idx] -= h
            fd[idx] = (np.sum(lossbook.ctc_loss(up, tg_k, il, tl, **kw))
                       - np.sum(lossbook.ctc_loss(dn, tg_k, il, tl, **kw))) / (2 * h)
        assert_close(grad, fd, rtol=1e-6, atol=1e-8, what="finite differences")


def test_torch_gradient_is_not_the_free_derivative_but_agrees_through_log_softmax():
    lp, tg, il, tl = random_case(seed=6)
    _, tgrad = torch_ctc(lp, tg, il, tl, reduction="sum")
    grad = lossbook.ctc_loss.grad(lp, tg, il, tl, reduction="sum")
    active = (np.arange(lp.shape[0])[:, None] < il[None, :])[:, :, None]
    assert np.abs(tgrad - grad).max() > 0.1                       # they differ as free derivatives ...
    assert_close(tgrad, grad + np.exp(lp) * active, rtol=1e-8, atol=1e-12)  # ... by exp(log_probs)
    z = torch.tensor(np.log(np.exp(lp)) + 0.7, requires_grad=True)  # any logits whose log_softmax is lp
    F.ctc_loss(z.log_softmax(2), torch.tensor(tg), torch.tensor(il), torch.tensor(tl), reduction="sum").backward()
    assert_close(through_log_softmax(grad, lp), z.grad.numpy(), rtol=1e-8, atol=1e-13)


def test_float32_stays_float32():
    lp, tg, il, tl = random_case(seed=8)
    lp32 = lp.astype(np.float32)
    ours = lossbook.ctc_loss(lp32, tg, il, tl)
    theirs, _ = torch_ctc(lp32, tg, il, tl)
    assert ours.dtype == np.float32
    assert_close(ours, theirs, rtol=1e-5)
    assert lossbook.ctc_loss.grad(lp32, tg, il, tl).dtype == np.float32


def test_errors_for_bad_input():
    lp, tg, il, tl = random_case(T=10, N=4, seed=9)
    tl = np.array([2, 3, 1, 4])
    with pytest.raises(ValueError, match="blank label 0"):
        lossbook.ctc_loss(lp, np.where(tg == tg[0, 0], 0, tg), il, [4, 4, 4, 4])
    with pytest.raises(ValueError, match="at most T"):
        lossbook.ctc_loss(lp, tg, [11, 10, 10, 10], tl)
    with pytest.raises(ValueError, match="longer than the padded"):
        lossbook.ctc_loss(lp, tg, il, [5, 1, 1, 1])
    with pytest.raises(ValueError, match="sum\\(target_lengths\\)"):
        lossbook.ctc_loss(lp, np.ones(9, dtype=np.int64), il, tl)
    with pytest.raises(IndexError, match="labels must lie in"):
        lossbook.ctc_loss(lp, tg + 10, il, tl)
    with pytest.raises(TypeError, match="integer lengths"):
        lossbook.ctc_loss(lp, tg, il.astype(float), tl)
    with pytest.raises(TypeError, match="integer class indices"):
        lossbook.ctc_loss(lp, tg.astype(float), il, tl)
    with pytest.raises(ValueError, match="one length per sequence"):
        lossbook.ctc_loss(lp, tg, il[:3], tl)
    with pytest.raises(ValueError, match="`blank`"):
        lossbook.ctc_loss(lp, tg, il, tl, blank=5)
    with pytest.raises(ValueError, match=r"\(T, N, C\)"):
        lossbook.ctc_loss(lp[0, 0], tg, il, tl)
    with pytest.raises(ValueError, match="reduction"):
        lossbook.ctc_loss(lp, tg, il, tl, reduction="batchmean")
    with pytest.warns(LossInputWarning, match="log_softmax"):
        lossbook.ctc_loss(np.exp(lp), tg, il, tl)


def test_batch_first_hint_names_the_transpose():
    lp, tg, il, tl = random_case(T=10, N=4, seed=10)
    with pytest.raises(ValueError, match="batch-first") as info:
        lossbook.ctc_loss(lp.transpose(1, 0, 2), tg, il, tl)
    assert "transpose(0, 1)" in str(info.value) and "transpose(1, 0, 2)" in str(info.value)


# ---- token_cross_entropy ----------------------------------------------------------------------------------


def lm_batch(B=4, T=6, V=7, seed=0, pad=True):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(B, T, V))
    y = rng.integers(0, V, (B, T))
    if pad:
        lengths = rng.integers(1, T + 1, B)
        y[np.arange(T)[None, :] >= lengths[:, None]] = -100
    return z, y


@pytest.mark.parametrize("kw", [{}, {"reduction": "mean"}, {"reduction": "none"}, {"label_smoothing": 0.2},
                                {"reduction": "mean", "label_smoothing": 0.1}, {"num_tokens": 50}], ids=str)
def test_token_cross_entropy_matches_torch_on_flattened_tokens(kw):
    z, y = lm_batch()
    zt = torch.tensor(z, requires_grad=True)
    kw_t = {k: v for k, v in kw.items() if k != "num_tokens"}
    kw_t.setdefault("reduction", "sum")
    out = F.cross_entropy(zt.flatten(0, 1), torch.tensor(y).flatten(), ignore_index=-100, **kw_t)
    out = out.reshape(y.shape) if kw_t["reduction"] == "none" else out / kw.get("num_tokens", 1)
    out.sum().backward()
    assert_close(lossbook.token_cross_entropy(z, y, **kw), out.detach().numpy(), rtol=1e-10)
    assert_close(lossbook.token_cross_entropy.grad(z, y, **kw), zt.grad.numpy(), rtol=1e-8, atol=1e-15)


def test_accumulation_with_the_global_count_is_exact_and_mean_of_means_is_not():
    z, y = lm_batch(B=8, T=9, seed=1)
    y[:4, 2:] = -100                        # the first micro-batch is mostly padding
    whole = lossbook.token_cross_entropy(z, y, reduction="mean")
    whole_grad = lossbook.token_cross_entropy.grad(z, y, reduction="mean")
    n = int((y != -100).sum())
    parts = [slice(0, 4), slice(4, 8)]
    fixed = sum(lossbook.token_cross_entropy(z[p], y[p], num_tokens=n) for p in parts)
    fixed_grad = np.concatenate([lossbook.token_cross_entropy.grad(z[p], y[p], num_tokens=n) for p in parts])
    assert_close(fixed, whole, rtol=1e-12)
    assert_close(fixed_grad, whole_grad, rtol=1e-10, atol=1e-16)
    mean_of_means = np.mean([lossbook.token_cross_entropy(z[p], y[p], reduction="mean") for p in parts])
    assert abs(mean_of_means - whole) > 1e-3


def test_all_padding_batch_is_nan_with_mean_and_zero_with_a_count():
    z, y = lm_batch()
    y[:] = -100
    ref = F.cross_entropy(torch.tensor(z).flatten(0, 1), torch.tensor(y).flatten())
    assert np.isnan(float(ref)) and np.isnan(lossbook.token_cross_entropy(z, y, reduction="mean"))
    assert lossbook.token_cross_entropy(z, y, num_tokens=10) == 0.0
    assert np.all(lossbook.token_cross_entropy.grad(z, y, num_tokens=10) == 0.0)


def test_token_cross_entropy_errors():
    z, y = lm_batch()
    with pytest.raises(ValueError, match="vocabulary LAST"):
        lossbook.token_cross_entropy(z.transpose(0, 2, 1), y)
    with pytest.raises(ValueError, match="reduction='sum'"):
        lossbook.token_cross_entropy(z, y, reduction="mean", num_tokens=3)
    with pytest.raises(ValueError, match="positive"):
        lossbook.token_cross_entropy(z, y, num_tokens=0)
    with pytest.raises(IndexError):
        lossbook.token_cross_entropy(z, y + 10)


# ---- the chapters' helpers (lossbook.book.text, lossbook.book.sequence_tasks) ------------------------------


def test_corpus_is_pinned_and_split_by_document():
    from lossbook.book import text

    corpus = text.load_corpus()
    assert corpus.sha256 == text.CORPUS_SHA256
    assert len(corpus.train) > 30_000 and len(corpus.test) > 4_000
    assert corpus.decode(corpus.train[:50]) == corpus.train_text[:50]
    assert "Diabetes dataset" in corpus.test_text and "Diabetes dataset" not in corpus.train_text
    X, y = text.windows(np.array([5, 6, 7]), 2)
    assert X.tolist() == [[0, 0], [0, 5], [5, 6]] and y.tolist() == [5, 6, 7]
    uni = text.ngram_cross_entropy(corpus.train, corpus.test, len(corpus.alphabet), order=0)
    bi = text.ngram_cross_entropy(corpus.train, corpus.test, len(corpus.alphabet), order=1)
    assert bi < uni < np.log(len(corpus.alphabet))


def test_digit_strips_are_seeded_and_their_frame_targets_line_up():
    from lossbook.book import sequence_tasks as st

    train_pool, test_pool = st.digit_pools()
    a, b = st.digit_strips(train_pool, 20, seed=3), st.digit_strips(train_pool, 20, seed=3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.digits, b.digits)
    assert ((a.lengths >= 3) & (a.lengths <= 6)).all()
    assert (a.images[np.arange(20), :, a.widths - 1].sum(1) >= 0).all()
    assert all(a.images[i, :, a.widths[i]:].sum() == 0 for i in range(20))
    y = st._frame_targets(a, np.arange(20))
    for i in range(20):
        labels = y[i][(y[i] > 0)] - 1
        assert labels.tolist() == a.strings()[i]
        assert (y[i, st.frames_of(a.widths[i]):] == -100).all()
    assert len(train_pool[1]) + len(test_pool[1]) == 1797


def test_decoders_and_error_rates():
    from lossbook.book import sequence_tasks as st

    lp = np.log(np.array([[0.1, 0.9, 0.0], [0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7]])
                + 1e-12)
    assert st.ctc_greedy_decode(lp) == [1, 1, 2]
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3)) * 2
    lp = z - np.log(np.exp(z).sum(1, keepdims=True))
    best, logp = st.ctc_prefix_beam_search(lp, beam=50)
    # with an unbounded beam, the result is the most probable labelling: check it by CTC over all candidates
    import itertools

    cands = [list(c) for n in range(0, 5) for c in itertools.product([1, 2], repeat=n)]
    probs = {tuple(c): -lossbook.ctc_loss(lp, np.array(c, dtype=np.int64), 4, len(c), reduction="sum")
             for c in cands}
    assert tuple(best) == max(probs, key=probs.get) and abs(logp - probs[tuple(best)]) < 1e-10
    assert st.edit_distance([1, 2, 3], [1, 3]) == 1 and st.edit_distance([], [4, 4]) == 2
    cer, ser = st.error_rates([[1, 2], [3]], [[1, 2], [4, 4]])
    assert cer == 2 / 4 and ser == 0.5
