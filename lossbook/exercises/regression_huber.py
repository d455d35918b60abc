"""Exercises of chapters/regression/huber.ipynb."""
import numpy as np

import lossbook

from ._core import exercise

ex = exercise("regression.huber.1", chapter="regression/huber", title="Smooth at the seam")


def _seam(d=1.5):
    r, z = np.array([d]), np.zeros(1)
    return np.array([lossbook.huber_loss(r, z, delta=d, reduction="none")[0],
                     lossbook.huber_loss.grad(r, z, delta=d, reduction="none")[0]])


@ex.solution
def _():
    return _seam()


@ex.mistake("You used r² and 2r: Huber's quadratic piece is ½r², whose derivative is r.")
def _():
    return 2 * _seam()


@ex.mistake("The linear piece is δ(|r| − ½δ), not δ|r|: at the seam it equals ½δ², not δ².")
def _():
    return np.array([1.5 * 1.5, 1.5])


def _lr_huber(lr=0.01, d=0.5):
    gen = np.random.default_rng(0)
    p, t = gen.normal(size=100), gen.normal(size=100)
    g_s = lossbook.smooth_l1_loss.grad(p, t, beta=d)
    g_h = lossbook.huber_loss.grad(p, t, delta=d)
    nz = g_h != 0
    return float(lr * np.mean(g_s[nz] / g_h[nz]))


ex = exercise("regression.huber.2", chapter="regression/huber", title="Switching losses")


@ex.solution
def _():
    return _lr_huber()


@ex.mistake("The other way round: huber_loss(delta=0.5) is 0.5 × smooth_l1_loss(beta=0.5), so its gradients are "
            "half as large and the learning rate must double.")
def _():
    return 0.01 * 0.01 / _lr_huber()


ex = exercise("regression.huber.3", chapter="regression/huber", title="The two limits")


@ex.solution
def _():
    res = np.linspace(-3, 3, 13)
    return bool(np.array_equal(lossbook.smooth_l1_loss(res, np.zeros_like(res), beta=0.0, reduction="none"), np.abs(res)))


@ex.mistake("beta=0 is allowed: PyTorch (and lossbook) switch to |r| there instead of dividing by zero.")
def _():
    return False


_RES = np.array([-0.3, 0.1, 0.4, -0.2, 0.0, 6.0, 0.2])

ex = exercise("regression.huber.4", chapter="regression/huber", title="A threshold from the MAD", rtol=1e-4)


@ex.solution
def _():
    return float(1.345 * 1.4826 * np.median(np.abs(_RES - np.median(_RES))))


@ex.mistake("That δ comes from the standard deviation, inflated by the single residual 6.0; use the MAD estimate.")
def _():
    return float(1.345 * _RES.std())


@ex.mistake("You forgot the factor 1.4826 that turns the MAD into an estimate of σ for Gaussian noise.")
def _():
    return float(1.345 * np.median(np.abs(_RES - np.median(_RES))))
