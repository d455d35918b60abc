"""Exercises of chapters/regression/mae.ipynb."""
import numpy as np

import lossbook

from ._core import exercise

_PRED, _TARGET = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])

ex = exercise("regression.mae.1", chapter="regression/mae", title="A zero residual")


@ex.solution
def _():
    return lossbook.l1_loss.grad(_PRED, _TARGET)


@ex.mistake("At a zero residual PyTorch and lossbook use the subgradient sign(0) = 0, not +1.")
def _():
    return np.array([1.0, 1.0, -1.0]) / 3


@ex.mistake("That is the gradient of the *sum*; with reduction='mean' each sign is divided by n = 3.")
def _():
    return lossbook.l1_loss.grad(_PRED, _TARGET, reduction="sum")


def _flat_interval():
    ys = np.array([1.0, 2.0, 4.0, 10.0])
    cs = np.linspace(0, 12, 12001)
    losses = np.array([float(lossbook.l1_loss(np.full_like(ys, c), ys)) for c in cs])
    best = cs[losses <= losses.min() + 1e-12]
    return np.array([best.min(), best.max()])


ex = exercise("regression.mae.2", chapter="regression/mae", title="An even number of points")


@ex.solution
def _():
    return _flat_interval()


@ex.mistake("3, np.median's midpoint, is one minimiser, but the MAE is flat on a whole interval: give both ends.")
def _():
    return np.array([3.0, 3.0])


@ex.mistake("The interval ends at data points: between 2 and 4 two points lie on each side of c.")
def _():
    return np.array([1.0, 10.0])


_YW, _W = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 5.0])

ex = exercise("regression.mae.3", chapter="regression/mae", title="Weighted samples")


@ex.solution
def _():
    cs = np.linspace(0, 5, 5001)
    losses = [float(lossbook.l1_loss(np.full_like(_YW, c), _YW, weight=_W)) for c in cs]
    return float(cs[int(np.argmin(losses))])


@ex.mistake("That is the unweighted median; the weight 5 on the last sample moves the weighted median onto it.")
def _():
    return float(np.median(_YW))


@ex.mistake("That is the weighted *mean*, the squared error's answer; the absolute error's is the weighted median.")
def _():
    return float(np.sum(_W * _YW) / np.sum(_W))


def _breakdown():
    sample = np.sort(np.random.default_rng(0).lognormal(mean=1.0, sigma=0.8, size=21))

    def first_k(statistic):
        for k in range(1, 22):
            corrupted = sample.copy()
            corrupted[-k:] = 1e6
            if statistic(corrupted) > 100:
                return k

    return np.array([first_k(np.mean), first_k(np.median)], dtype=float)


ex = exercise("regression.mae.4", chapter="regression/mae", title="Breakdown point")


@ex.solution
def _():
    return _breakdown()


@ex.mistake("With 10 of 21 values replaced the median is still the 11th smallest, an original value: it takes 11.")
def _():
    return _breakdown() - np.array([0.0, 1.0])


@ex.mistake("Order: the array is (MSE, MAE), the mean's count first.")
def _():
    return _breakdown()[::-1]
