"""The digits learning-to-rank task and the NumPy linear-ranker trainer used by the learning-to-rank chapter."""
import numpy as np
import pytest
from parity import numerical_grad

import lossbook
from lossbook.book.ranking_tasks import (
    digit_queries,
    fit_linear_ranker,
    fit_pointwise_exact,
    pointwise_regression_loss,
)


@pytest.fixture(scope="module")
def task():
    return digit_queries("train", n_queries=40, list_size=20, n_same=5, n_confusable=4, n_close=2, seed=3)


def test_shapes_grades_and_composition(task):
    assert task.features.shape == (40, 20, 128) and task.relevance.shape == (40, 20)
    for q in range(40):
        counts = {g: int((task.relevance[q] == g).sum()) for g in (0, 1, 2, 3)}
        assert counts == {3: 2, 2: 3, 1: 4, 0: 11}
        same = task.item_labels[q] == task.query_labels[q]
        assert np.array_equal(same, task.relevance[q] >= 2)


def test_features_are_defined_from_the_images(task):
    data = lossbook.book.data.load_classification("digits")
    xq = task.queries[5]
    xc = data.X_train[task.items[5, 7]]
    np.testing.assert_array_equal(task.features[5, 7], np.concatenate([-np.abs(xq - xc), xq * xc]))
    # Grade 3 goes to the same-digit candidates nearest to the query in L1 distance.
    d = -task.features[5, :, :64].sum(-1)
    same = task.relevance[5] >= 2
    assert d[task.relevance[5] == 3].max() <= d[same & (task.relevance[5] == 2)].min()


def test_deterministic_and_seeded():
    a = digit_queries("test", n_queries=5, seed=1)
    b = digit_queries("test", n_queries=5, seed=1)
    c = digit_queries("test", n_queries=5, seed=2)
    assert np.array_equal(a.features, b.features) and np.array_equal(a.relevance, b.relevance)
    assert not np.array_equal(a.items, c.items)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`split` must be"):
        digit_queries("validation")
    with pytest.raises(ValueError, match="n_same \\+ n_confusable <= list_size"):
        digit_queries(list_size=5, n_same=4, n_confusable=4)


def test_pointwise_gradient_and_padding():
    rng = np.random.default_rng(0)
    s, r = rng.standard_normal((3, 4)), rng.integers(0, 3, (3, 4)).astype(float)
    r[0, 0] = -1
    g = pointwise_regression_loss.grad(s, r)
    np.testing.assert_allclose(g, numerical_grad(lambda x: pointwise_regression_loss(x, r), s), rtol=1e-6, atol=1e-9)
    assert g[0, 0] == 0
    keep = r >= 0
    assert float(pointwise_regression_loss(s, r)) == pytest.approx(np.mean((s[keep] - r[keep]) ** 2))


@pytest.mark.parametrize("loss", [lossbook.ranknet_loss, lossbook.listnet_loss, pointwise_regression_loss])
def test_training_lowers_the_loss_and_beats_a_random_ranking(task, loss):
    model = fit_linear_ranker(loss, task.features, task.relevance, steps=40, lr=0.05,
                              eval_features=task.features, eval_relevance=task.relevance, record_every=20)
    assert model.steps_recorded == [0, 20, 40]
    assert model.loss_history[-1] < model.loss_history[0]
    random_scores = np.random.default_rng(0).standard_normal(task.relevance.shape)
    assert model.ndcg_history[-1] > lossbook.ndcg(random_scores, task.relevance, k=10).mean() + 0.1
    np.testing.assert_allclose(model.score(task.features), task.features @ model.w + model.b)


def test_pointwise_exact_is_the_minimum_adam_approaches():
    rng = np.random.default_rng(5)
    F = rng.standard_normal((6, 7, 4))
    r = rng.integers(0, 3, size=(6, 7)).astype(float)
    r[0, -2:] = -1                                          # padded slots take no part
    exact = fit_pointwise_exact(F, r, weight_decay=1e-2)
    # the gradient of the penalised objective vanishes there (the bias is not penalised)
    g = pointwise_regression_loss.grad(exact.score(F), r)
    assert np.allclose(np.einsum("qld,ql->d", F, g) + 1e-2 * exact.w, 0, atol=1e-12)
    assert abs(g.sum()) < 1e-12
    # and long Adam training with the same penalty ends there
    adam = fit_linear_ranker(pointwise_regression_loss, F, r, steps=3000, lr=0.05, weight_decay=1e-2)
    assert np.allclose(adam.w, exact.w, atol=1e-3) and abs(adam.b - exact.b) < 1e-3
    with pytest.raises(ValueError, match="shape"):
        fit_pointwise_exact(F, r[:, :3])


def test_grades_are_described_as_built():
    from lossbook.book.ranking_tasks import GRADES

    task = digit_queries("test", n_queries=20, seed=3)
    l1 = task.features[..., :64].sum(-1)                   # minus the pixel L1 distance
    # grade 3 is defined by that distance: both grade-3 items beat every grade-2 item
    worst3 = np.where(task.relevance == 3, l1, np.inf).min(1)
    best2 = np.where(task.relevance == 2, l1, -np.inf).max(1)
    assert np.all(worst3 > best2)
    assert "L1" in GRADES[3] and "mean image" in GRADES[1]
