"""Exercises of chapters/regression/beyond.ipynb."""
import math

import numpy as np

import lossbook
from lossbook.book.data import heteroscedastic, poisson_counts

from ._core import exercise

ex = exercise("regression.beyond.1", chapter="regression/beyond", title="How far is far?", rtol=1e-3)


@ex.solution
def _():
    r = np.linspace(0, 20, 200001)
    gap = lossbook.log_cosh_loss(r, 0 * r, reduction="none") - (r - math.log(2))
    return float(r[int(np.argmax(gap < 1e-6))])


@ex.mistake("The exponent is −2|r|: the gap is log(1 + e^(−2|r|)) ≈ e^(−2|r|), so |r| = ln(10⁶) / 2.")
def _():
    return float(6 * math.log(10))


def _stock(q=0.8):
    demand = np.random.default_rng(7).poisson(20, size=100_000).astype(float)
    stock = np.arange(10, 31, dtype=float)
    pinball = [float(lossbook.quantile_loss(np.full_like(demand, s), demand, quantile=q)) for s in stock]
    return float(stock[int(np.argmin(pinball))])


ex = exercise("regression.beyond.2", chapter="regression/beyond", title="How much to stock")


@ex.solution
def _():
    return _stock(0.8)


@ex.mistake("That is the mean demand; with a shortfall four times as costly as a surplus you stock the 4/(4+1) = 0.8 quantile.")
def _():
    return 20.0


@ex.mistake("q = 1/(1 + 4) = 0.2 would be right if a surplus cost 4 and a shortfall 1; here shortfall is the costly side.")
def _():
    return _stock(0.2)


ex = exercise("regression.beyond.3", chapter="regression/beyond", title="MSE is a Gaussian likelihood")


@ex.solution
def _():
    x, y, _, _ = heteroscedastic(n=300, seed=0)
    scores = []
    for A in (np.column_stack([np.ones_like(x), x, np.sin(x)]), np.column_stack([np.ones_like(x), x])):
        theta = np.linalg.lstsq(A, y, rcond=None)[0]
        mse = float(lossbook.mse_loss(A @ theta, y))
        nll = float(lossbook.gaussian_nll_loss(A @ theta, y, np.full_like(y, mse)))   # at the best shared variance
        scores.append((mse, nll))
    return bool((scores[0][0] < scores[1][0]) == (scores[0][1] < scores[1][1]))


@ex.mistake("With one shared variance the best NLL is ½ log(MSE) + ½, an increasing function of the MSE: "
            "both criteria rank models the same way.")
def _():
    return False


ex = exercise("regression.beyond.4", chapter="regression/beyond", title="The Poisson fit gets the total right")


@ex.solution
def _():
    x, counts, _ = poisson_counts(n=300, seed=0)
    A = np.column_stack([np.ones_like(x), x])
    eta = np.linalg.lstsq(A, np.log1p(counts), rcond=None)[0]
    return bool(np.isclose(np.expm1(A @ eta).sum(), counts.sum(), rtol=1e-6))


@ex.mistake("MSE on log(1 + y) matches the total of log(1 + y), not of y; transformed back, its total falls short.")
def _():
    return True
