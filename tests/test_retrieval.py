"""lossbook.retrieval: distances, triplet mining, retrieval metrics and the embedding training loop, checked
against brute-force loops, scipy/scikit-learn and torch."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.spatial.distance import cdist
from sklearn.metrics import average_precision_score

from lossbook import retrieval as R
from lossbook.book import embeddings as E

RNG = np.random.default_rng(7)


def _batch(n=24, d=5, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


# ---- distances ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_distance_matrix_matches_scipy(metric):
    x, y = RNG.standard_normal((7, 4)), RNG.standard_normal((5, 4))
    assert np.allclose(R.distance_matrix(x, y, metric), cdist(x, y, metric), atol=1e-10)
    assert np.allclose(R.distance_matrix(x, metric=metric), cdist(x, x, metric), atol=1e-7)


def test_distance_matrix_errors():
    with pytest.raises(ValueError, match="metric"):
        R.distance_matrix(np.ones((2, 3)), metric="manhattan")
    with pytest.raises(ValueError, match=r"shape \(N, D\)"):
        R.distance_matrix(np.ones(3))
    with pytest.raises(ValueError, match="same dimension"):
        R.distance_matrix(np.ones((2, 3)), np.ones((2, 4)))


# ---- mining ------------------------------------------------------------------------------------------------


def _brute_triplets(labels):
    n = len(labels)
    return [(a, p, q) for a, p, q in itertools.product(range(n), repeat=3)
            if a != p and labels[a] == labels[p] and labels[q] != labels[a]]


def test_negative_kind():
    kinds = R.negative_kind(1.0, np.array([0.5, 1.0, 1.1, 1.2, 1.3]), margin=0.2)
    assert kinds.tolist() == ["hard", "hard", "semi-hard", "easy", "easy"]


def test_mine_all_and_batch_all_against_brute_force():
    x, lab = _batch()
    d = R.distance_matrix(x)
    got = set(zip(*R.mine_triplets(d, lab, "all"), strict=False))
    want = _brute_triplets(lab)
    assert got == set(want) and len(want) > 0
    got = set(zip(*R.mine_triplets(d, lab, "batch_all", margin=0.5), strict=False))
    assert got == {(a, p, q) for a, p, q in want if d[a, p] - d[a, q] + 0.5 > 0}


def test_mine_batch_hard_against_brute_force():
    x, lab = _batch(seed=1)
    d = R.distance_matrix(x)
    a, p, q = R.mine_triplets(d, lab, "batch_hard")
    trip = _brute_triplets(lab)
    anchors = sorted({t[0] for t in trip})
    assert a.tolist() == anchors
    for ai, pi, qi in zip(a, p, q, strict=False):
        assert d[ai, pi] == max(d[t[0], t[1]] for t in trip if t[0] == ai)
        assert d[ai, qi] == min(d[t[0], t[2]] for t in trip if t[0] == ai)


@pytest.mark.parametrize("strategy", ["hardest_negative", "semi_hard", "random_negative"])
def test_mine_per_pair_strategies(strategy):
    x, lab = _batch(seed=2)
    d = R.distance_matrix(x)
    a, p, q = R.mine_triplets(d, lab, strategy, margin=0.3, rng=np.random.default_rng(0))
    trip = _brute_triplets(lab)
    pairs = sorted({(t[0], t[1]) for t in trip})
    assert sorted(zip(a.tolist(), p.tolist(), strict=False)) == pairs
    for ai, pi, qi in zip(a, p, q, strict=False):
        negs = [t[2] for t in trip if t[0] == ai and t[1] == pi]
        assert qi in negs
        dn = d[ai, negs]
        if strategy == "hardest_negative":
            assert d[ai, qi] == dn.min()
        elif strategy == "semi_hard":
            farther = dn[dn > d[ai, pi]]
            assert d[ai, qi] == (farther.min() if farther.size else dn.max())


def test_random_negative_is_uniform_and_needs_rng():
    lab = np.array([0, 0, 1, 2, 3])
    d = np.zeros((5, 5))
    with pytest.raises(ValueError, match="rng"):
        R.mine_triplets(d, lab, "random_negative")
    rng = np.random.default_rng(0)
    draws = np.concatenate([R.mine_triplets(d, lab, "random_negative", rng=rng)[2] for _ in range(3000)])
    freq = np.bincount(draws, minlength=5)[2:] / len(draws)
    assert np.allclose(freq, 1 / 3, atol=0.02)


def test_mine_without_positives_gives_no_triplets():
    a, p, q = R.mine_triplets(np.zeros((3, 3)), np.array([0, 1, 2]), "batch_hard")
    assert len(a) == len(p) == len(q) == 0
    with pytest.raises(ValueError, match="strategy"):
        R.mine_triplets(np.zeros((3, 3)), np.array([0, 1, 2]), "hard")


# ---- retrieval metrics -------------------------------------------------------------------------------------


def test_recall_at_k_brute_force():
    x, lab = _batch(n=30, classes=3, seed=3)
    d = cdist(x, x)
    for k in (1, 3, 10):
        hits = []
        for i in range(len(x)):
            others = [j for j in np.argsort(d[i], kind="stable") if j != i][:k]
            hits.append(any(lab[j] == lab[i] for j in others))
        assert R.recall_at_k(x, lab, k=k) == pytest.approx(np.mean(hits))
    assert R.recall_at_k(x, lab, k=[1, 3]).shape == (2,)


def test_recall_with_gallery_and_errors():
    q, ql = _batch(n=10, seed=4)
    g, gl = _batch(n=15, seed=5)
    d = cdist(q, g)
    want = np.mean([gl[np.argmin(d[i])] == ql[i] for i in range(10)])
    assert R.recall_at_k(q, ql, g, gl, k=1) == pytest.approx(want)
    with pytest.raises(ValueError, match="gallery_labels"):
        R.recall_at_k(q, ql, g, k=1)
    with pytest.raises(ValueError, match="positive integer"):
        R.recall_at_k(q, ql, k=0)


def test_mean_average_precision_matches_sklearn():
    x, lab = _batch(n=40, classes=4, seed=6)
    d = cdist(x, x)
    aps = []
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        rel = lab[keep] == lab[i]
        if rel.any():
            aps.append(average_precision_score(rel, -d[i, keep]))
    assert R.mean_average_precision(x, lab) == pytest.approx(np.mean(aps))


def _map_at_r_reference(queries, qlab, gallery, glab, leave_one_out):
    # Musgrave et al. (2020), written out query by query: R = number of same-label gallery items,
    # MAP@R = (1/R) * sum over the first R neighbours of precision@i for each relevant neighbour i
    d = cdist(queries, gallery)
    values = []
    for i in range(len(queries)):
        order = [j for j in np.argsort(d[i], kind="stable") if not (leave_one_out and j == i)]
        rel = [glab[j] == qlab[i] for j in order]
        r = sum(rel)
        if r == 0:
            continue
        total, hits = 0.0, 0
        for pos in range(r):
            if rel[pos]:
                hits += 1
                total += hits / (pos + 1)
        values.append(total / r)
    return np.mean(values)


def test_map_at_r_against_reference():
    x, lab = _batch(n=40, classes=4, seed=7)
    assert R.map_at_r(x, lab) == pytest.approx(_map_at_r_reference(x, lab, x, lab, True), rel=1e-12)
    q, ql = _batch(n=12, classes=3, seed=8)
    g, gl = _batch(n=20, classes=3, seed=9)
    assert R.map_at_r(q, ql, g, gl) == pytest.approx(_map_at_r_reference(q, ql, g, gl, False), rel=1e-12)
    # MAP@R is at most the full mean average precision (it counts nothing after position R)
    assert R.map_at_r(x, lab) <= R.mean_average_precision(x, lab) + 1e-12


def test_map_at_r_docstring_example_and_errors():
    # relevant at ranks 1 and 3 of five: MAP@R = (1 + 0) / 2, while the full AP is (1 + 2/3) / 2
    gallery = np.arange(1, 6, dtype=float)[:, None]
    glab = np.array([1, 0, 1, 0, 0])
    assert R.map_at_r(np.zeros((1, 1)), np.array([1]), gallery, glab) == pytest.approx(0.5)
    assert R.mean_average_precision(np.zeros((1, 1)), np.array([1]), gallery, glab) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="MAP@R is undefined"):
        R.map_at_r(np.zeros((1, 1)), np.array([2]), gallery, glab)


def test_perfect_clusters_score_one():
    lab = np.repeat(np.arange(3), 4)
    x = np.eye(3)[lab] * 10 + RNG.normal(scale=0.01, size=(12, 3))
    assert R.recall_at_k(x, lab, k=1) == 1.0
    assert R.mean_average_precision(x, lab) == pytest.approx(1.0)
    assert R.map_at_r(x, lab) == pytest.approx(1.0)


def test_spread_and_projection():
    x = RNG.standard_normal((6, 5))
    assert R.spread(x) == pytest.approx(cdist(x, x).sum() / 30)
    assert R.spread(np.ones((4, 3))) == 0.0
    z = R.project_2d(x)
    c = x - x.mean(0)
    # the projection keeps the largest share of the variance: compare with the top-2 eigenvalues
    ev = np.sort(np.linalg.eigvalsh(c.T @ c))[::-1][:2]
    assert np.allclose(np.sort((z**2).sum(0))[::-1], ev)


# ---- torch pieces ------------------------------------------------------------------------------------------


def test_nt_xent_against_explicit_loop():
    torch.manual_seed(0)
    z1, z2 = torch.randn(5, 3), torch.randn(5, 3)
    tau = 0.3
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    terms = []
    for i in range(10):
        j = (i + 5) % 10
        sims = torch.stack([z[i] @ z[k] / tau for k in range(10) if k != i])
        terms.append(-(z[i] @ z[j] / tau - torch.logsumexp(sims, 0)))
    assert torch.allclose(E.nt_xent_loss(z1, z2, tau), torch.stack(terms).mean(), atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        E.nt_xent_loss(z1, z2[:4])


def test_pair_batch_loss_matches_lossbook_contrastive():
    import lossbook

    torch.manual_seed(1)
    emb, lab = torch.randn(8, 3, dtype=torch.float64), torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    i, j = np.triu_indices(8, 1)
    want = lossbook.contrastive_loss(emb.numpy()[i], emb.numpy()[j], (lab.numpy()[i] == lab.numpy()[j]).astype(float))
    assert float(E.pair_batch_loss("contrastive", 1.0)(emb, lab)) == pytest.approx(float(want))
    want = F.cosine_embedding_loss(emb[i], emb[j], torch.where(lab[i] == lab[j], 1.0, -1.0).double())
    assert float(E.pair_batch_loss("cosine", 0.0)(emb, lab)) == pytest.approx(float(want))


def test_pk_batches():
    lab = np.repeat(np.arange(5), [9, 8, 8, 12, 7])
    batches = E.pk_batches(lab, p=3, k=2, rng=np.random.default_rng(0))
    assert batches
    seen = np.concatenate(batches)
    assert len(seen) == len(set(seen.tolist()))
    for b in batches:
        counts = np.bincount(lab[b], minlength=5)
        assert sorted(counts[counts > 0].tolist()) == [2, 2, 2]
    with pytest.raises(ValueError, match="p <="):
        E.pk_batches(lab, p=6, k=2, rng=np.random.default_rng(0))


def test_train_embedding_improves_retrieval_and_is_deterministic():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 6))
    y = np.repeat(np.arange(4), 40)
    X = centres[y] + rng.standard_normal((160, 6))

    def run():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        hist = E.train_embedding(model, X, y, E.triplet_batch_loss("semi_hard", 0.2), epochs=8, p=4, k=5, lr=1e-2,
                                 evaluate=lambda m: R.mean_average_precision(E.embed(m, X), y))
        return hist

    h1, h2 = run(), run()
    assert h1.train_loss == h2.train_loss and len(h1.train_loss) == 8 and len(h1.evaluation) == 9
    assert h1.evaluation[-1] > h1.evaluation[0] + 0.1


def test_augment_images_shapes_and_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(64.0).reshape(1, 64) + 1
    out = E.augment_images(x, g, noise=0.0, drop=0.0)
    img = out.reshape(8, 8)
    # a shift by at most one pixel keeps the centre 6x6 values within the original's neighbourhoods
    assert out.shape == (1, 64)
    orig = x.reshape(8, 8)
    assert any(torch.equal(img[2:6, 2:6], orig[2 + di:6 + di, 2 + dj:6 + dj]) for di in (-1, 0, 1) for dj in (-1, 0, 1))


def test_seed_mlp_members_are_independent_runs():
    # member s starts as nn.Sequential built after manual_seed(seed + s) and trains as train_embedding(seed + s)
    from torch import nn

    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 6)).astype(np.float32)
    y = np.repeat(np.arange(3), 20)
    loss_fn = E.pair_batch_loss("contrastive", margin=1.0)
    batched = E.seed_mlp(3, sizes=(6, 5, 2), seed=10)
    hist = E.train_seeds(batched, X, y, loss_fn, epochs=2, p=3, k=4, lr=1e-2, seed=10,
                         evaluate=lambda m: E.embed_seeds(m, X).shape)
    assert hist.train_loss.shape == (2, 3) and hist.evaluation == [(3, 60, 2)] * 3
    emb = E.embed_seeds(batched, X)
    for s in range(3):
        torch.manual_seed(10 + s)
        single = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
        E.train_embedding(single, X, y, loss_fn, epochs=2, p=3, k=4, lr=1e-2, seed=10 + s)
        # compare distances: the loss is blind to a shift of every embedding, so Adam moves the last bias by noise
        assert np.allclose(R.distance_matrix(emb[s]), R.distance_matrix(E.embed(single, X)), atol=1e-4)
    assert not np.allclose(emb[0], emb[1])


def test_class_split_and_mean_sd():
    X, y = np.arange(20.0)[:, None], np.arange(20) % 4
    X_fit, y_fit, seen, unseen = E.class_split(X, y, X, y, seen=[0, 1])
    assert set(y_fit) == {0, 1} and len(X_fit) == 10
    assert np.array_equal(seen, np.isin(y, [0, 1])) and np.array_equal(unseen, ~seen)
    with pytest.raises(ValueError, match="some but not all"):
        E.class_split(X, y, X, y, seen=range(4))
    assert E.mean_sd([0.1, 0.2, 0.3]) == "0.20 ± 0.10"
    scores = E.retrieval_scores(X, y)
    assert set(scores) == {"recall@1", "MAP@R"}
