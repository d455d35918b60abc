"""lossbook.metrics against scikit-learn (an independent implementation) and against definitions."""
import numpy as np
import pytest

from lossbook import metrics

sk = pytest.importorskip("sklearn.metrics")


def _cases(n_cases=150, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        n = int(rng.integers(2, 60))
        y = rng.integers(0, 2, n)
        if not y.any():
            y[0] = 1
        s = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # rounding creates ties
        yield y, s


@pytest.mark.parametrize("case", range(3))
def test_precision_recall_curve_matches_sklearn(case):
    for y, s in _cases(seed=case):
        p, r, t = metrics.precision_recall_curve(y, s)
        P, R, T = sk.precision_recall_curve(y, s)
        np.testing.assert_allclose(p, P)
        np.testing.assert_allclose(r, R)
        np.testing.assert_allclose(t, T)


@pytest.mark.parametrize("case", range(3))
def test_average_precision_matches_sklearn(case):
    for y, s in _cases(seed=10 + case):
        assert metrics.average_precision(y, s) == pytest.approx(sk.average_precision_score(y, s), abs=1e-12)


def test_average_precision_extremes_and_sign_labels():
    y = np.array([0, 0, 1, 1, 0, 1])
    assert metrics.average_precision(y, y * 3.0) == 1.0                      # a perfect ranking
    assert metrics.average_precision(2 * y - 1, y * 3.0) == 1.0              # -1/+1 labels mean the same
    last = np.where(y == 1, -1.0, 1.0) + 0.01 * np.arange(6)                 # positives ranked last, no ties
    worst = metrics.average_precision(y, last)
    assert worst == pytest.approx(sk.average_precision_score(y, last))
    assert worst == pytest.approx((1 / 4 + 2 / 5 + 3 / 6) / 3)
    assert worst < y.mean()                                                  # below chance
    # a constant score ties everything: precision is the positive rate at the only threshold
    assert metrics.average_precision(y, np.zeros(6)) == pytest.approx(y.mean())


def test_precision_recall_at_matches_sklearn():
    for y, s in _cases(seed=3):
        pred = (s > 0.1).astype(int)
        p, r = metrics.precision_recall_at(y, s, threshold=0.1)
        assert p == pytest.approx(sk.precision_score(y, pred, zero_division=0))
        assert r == pytest.approx(sk.recall_score(y, pred))


def test_prior_bias():
    assert metrics.prior_bias(0.01) == pytest.approx(-4.59511985, abs=1e-8)
    for pi in (0.001, 0.1, 0.5, 0.9):
        assert 1 / (1 + np.exp(-metrics.prior_bias(pi))) == pytest.approx(pi)  # sigmoid(b) = pi
    for bad in (0, 1, -0.1, 1.5):
        with pytest.raises(ValueError, match="pi"):
            metrics.prior_bias(bad)


def test_oversample_balances_and_keeps_originals():
    X = np.arange(20.0).reshape(10, 2)
    y = np.array([1, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    Xo, yo = metrics.oversample(X, y, seed=1)
    assert (yo == 1).sum() == (yo == 0).sum() == 8
    np.testing.assert_array_equal(Xo[:10], X)
    assert set(map(tuple, Xo[10:])) <= {tuple(X[0]), tuple(X[7])}           # copies of positives only
    Xo2, yo2 = metrics.oversample(X, y, seed=1)
    np.testing.assert_array_equal(Xo, Xo2)                                   # seeded


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="y_true.*binary"):
        metrics.average_precision(np.array([0, 1, 2]), np.zeros(3))
    with pytest.raises(ValueError, match="no positive"):
        metrics.average_precision(np.zeros(4), np.arange(4.0))
    with pytest.raises(ValueError, match="same length"):
        metrics.average_precision(np.array([0, 1]), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="both classes"):
        metrics.oversample(np.zeros((3, 1)), np.zeros(3))


def test_one_vs_rest_rate_and_order():
    y = np.repeat(np.arange(5), 40)                  # 40 rows per class
    X = np.arange(len(y))[:, None] * 1.0
    Xb, t = metrics.one_vs_rest(X, y, positive=3)
    np.testing.assert_array_equal(t, (y == 3).astype(np.float32))
    Xr, tr = metrics.one_vs_rest(X, y, positive=3, rate=0.05, seed=2)
    assert tr.sum() == round(0.05 / 0.95 * 160) and (tr == 0).sum() == 160
    assert np.all(np.diff(Xr[:, 0]) > 0)             # original order kept, no duplicates
    assert np.all(y[Xr[:, 0].astype(int)][tr == 1] == 3)
    with pytest.raises(ValueError, match="only 40"):
        metrics.one_vs_rest(X, y, positive=3, rate=0.5)
    with pytest.raises(ValueError, match="positive"):
        metrics.one_vs_rest(X, y, positive=7)
