"""Exercises of chapters/regression/mse.ipynb."""
import numpy as np

import lossbook

from ._core import exercise

_PRED, _TARGET = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0])

ex = exercise("regression.mse.1", chapter="regression/mse", title="By hand, then by code")


@ex.solution
def _():
    return lossbook.mse_loss.grad(_PRED, _TARGET)


@ex.mistake("That is the gradient of the *sum*, 2r; with reduction='mean' it is divided by n = 3.")
def _():
    return lossbook.mse_loss.grad(_PRED, _TARGET, reduction="sum")


@ex.mistake("You used r/n, the gradient of ½r²: mse_loss has no ½, so the gradient is 2r/n.")
def _():
    return lossbook.mse_loss.grad(_PRED, _TARGET) / 2


def _ported_lr(lr=0.01, N=64, D=10):
    gen = np.random.default_rng(0)
    P, Y = gen.normal(size=(N, D)), gen.normal(size=(N, D))
    g_theirs = 0.5 * lossbook.mse_loss.grad(P, Y, reduction="sum") / N
    g_torch = lossbook.mse_loss.grad(P, Y)
    return float(lr * np.mean(g_theirs / g_torch))


ex = exercise("regression.mse.2", chapter="regression/mse", title="Porting a learning rate")


@ex.solution
def _():
    return _ported_lr()


@ex.mistake("Inverted: nn.MSELoss divides by N·D and has no ½, so its gradient is D/2 times *smaller* "
            "and the learning rate must be D/2 times larger.")
def _():
    return 0.01 * 0.01 / _ported_lr()


_YS = np.array([1.0, 2.0, 2.0, 3.0, 10.0])

ex = exercise("regression.mse.3", chapter="regression/mse", title="The best constant")


@ex.solution
def _():
    cs = np.linspace(0, 12, 12001)
    losses = [float(lossbook.mse_loss(np.full_like(_YS, c), _YS)) for c in cs]
    return float(cs[int(np.argmin(losses))])


@ex.mistake("That is the median, the best constant under the absolute error (the MAE); the squared error's is the mean.")
def _():
    return float(np.median(_YS))


ex = exercise("regression.mse.4", chapter="regression/mse", title="Estimating the noise", rtol=1e-3)


@ex.solution
def _():
    gen = np.random.default_rng(0)
    y = gen.normal(size=40)
    m = float(lossbook.mse_loss(y + 0.5, y + 0.3 * gen.normal(size=40)))
    s = np.linspace(0.01, 3 * m, 300001)
    nll = 0.5 * np.log(2 * np.pi * s) + m / (2 * s)
    return float(s[int(np.argmin(nll))] / m)


@ex.mistake("The ½ in front of MSE/σ² does not halve the estimate: d/ds [½ log s + MSE/(2s)] = 0 at s = MSE.")
def _():
    return 0.5
