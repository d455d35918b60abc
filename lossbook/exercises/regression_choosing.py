"""Exercises of chapters/regression/choosing.ipynb."""
import numpy as np

import lossbook
from lossbook.book.data import linear_with_outliers

from ._core import exercise

_Y = np.array([1.0, 2.0, 3.0, 4.0, 100.0])


def _best_constants():
    c = np.linspace(0, 30, 300001)
    out = []
    for loss, kw in [(lossbook.mse_loss, {}), (lossbook.l1_loss, {}), (lossbook.huber_loss, {"delta": 1.0}),
                     (lossbook.huber_loss, {"delta": 10.0})]:
        cost = loss(c[:, None] + 0 * _Y, np.broadcast_to(_Y, (len(c), 5)), reduction="none", **kw).mean(axis=1)
        out.append(float(c[int(np.argmin(cost))]))
    return np.array(out)


ex = exercise("regression.choosing.1", chapter="regression/choosing", title="Mean, median and Huber of five numbers", rtol=1e-4)


@ex.solution
def _():
    return _best_constants()


@ex.mistake("MSE gives the mean and MAE the median, not the other way round.")
def _():
    return _best_constants()[[1, 0, 2, 3]]


@ex.mistake("With δ = 10 the outlier does not pull like a squared error: its force is capped at 10, so "
            "(c−1) + (c−2) + (c−3) + (c−4) = 10 and c = 5, not the mean.")
def _():
    b = _best_constants()
    return np.array([b[0], b[1], b[2], b[0]])


def _huber_line(x, y, delta, iters=200):
    A = np.column_stack([np.ones_like(x), x])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    for _ in range(iters):
        w = np.minimum(1.0, delta / np.maximum(np.abs(A @ coef - y), 1e-12))
        coef = np.linalg.solve(A.T @ (w[:, None] * A), A.T @ (w * y))
    return coef


def _delta_errors(deltas=(0.1, 0.3, 1.0, 3.0, 10.0, 20.0)):
    errs = np.zeros(len(deltas))
    for s in range(10):
        x, y, _ = linear_with_outliers(n=100, outlier_fraction=0.2, outlier_shift=(8.0, 15.0), seed=s)
        for j, d in enumerate(deltas):
            errs[j] += abs(_huber_line(x, y, d)[0] - 1.0) / 10
    return dict(zip(deltas, errs, strict=False))


ex = exercise("regression.choosing.2", chapter="regression/choosing", title="Choosing δ")


@ex.solution
def _():
    errs = _delta_errors()
    return float(min(errs, key=errs.get))


@ex.mistake("A large δ puts the outliers in the quadratic zone, where Huber is MSE and inherits its bias; "
            "the error grows with δ.")
def _():
    errs = _delta_errors()
    return float(max(errs, key=errs.get))


def _two_sided():
    err = {"mse": 0.0, "mae": 0.0}
    for s in range(10):
        x, y, out = linear_with_outliers(n=100, outlier_fraction=0.2, outlier_shift=(8.0, 15.0), seed=s)
        flip = out & (np.random.default_rng(s).random(out.shape) < 0.5)
        true = 2.0 * x + 1.0
        y2 = np.where(flip, 2 * true - y, y)
        err["mse"] += abs(_huber_line(x, y2, 1e6, iters=1)[0] - 1.0)
        err["mae"] += abs(_huber_line(x, y2, 1e-4)[0] - 1.0)     # a tiny δ: (almost) the absolute error
    return err


ex = exercise("regression.choosing.3", chapter="regression/choosing", title="Two-sided outliers")


@ex.solution
def _():
    err = _two_sided()
    return bool(err["mse"] <= err["mae"])


@ex.mistake("The average pull cancels, but each data set keeps a random imbalance of outliers above and below, "
            "so the MSE fits still scatter more than the MAE fits.")
def _():
    err = _two_sided()
    return not bool(err["mse"] <= err["mae"])


def _lr_factor(d=0.1):
    gen = np.random.default_rng(0)
    p, t = gen.normal(size=50), gen.normal(size=50)
    g_h = lossbook.huber_loss.grad(p, t, delta=d)
    g_s = lossbook.smooth_l1_loss.grad(p, t, beta=d)
    return float(np.mean(g_h / g_s))


ex = exercise("regression.choosing.4", chapter="regression/choosing", title="Smooth L1 or Huber, and the learning rate")


@ex.solution
def _():
    return _lr_factor()


@ex.mistake("The other way round: Smooth L1's gradient is 1/β = 10 times larger, so the learning rate must be 10 times smaller.")
def _():
    return 1 / _lr_factor()
