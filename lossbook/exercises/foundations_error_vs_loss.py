"""Exercises of chapters/foundations/error_vs_loss.ipynb (reductions, the factor D, validation curves)."""
import numpy as np

import lossbook
from lossbook.book.data import polynomial_features, train_val_split

from ._core import exercise

_P, _T = np.array([2.0, 0.5, 3.0, 1.0]), np.array([1.0, 1.5, 1.0, 1.0])


def _reductions(p=_P, t=_T):
    return np.array([lossbook.mse_loss(p, t, reduction="sum"), lossbook.mse_loss(p, t),
                     lossbook.l1_loss(p, t, reduction="sum"), lossbook.l1_loss(p, t)], dtype=float)


ex = exercise("foundations.error_vs_loss.1", chapter="foundations/error_vs_loss", title="Sum and mean by hand")


@ex.solution
def _():
    return _reductions()


@ex.mistake("You swapped 'sum' and 'mean' in each pair: the order asked for is (MSE sum, MSE mean, MAE sum, MAE mean).")
def _():
    return _reductions()[[1, 0, 3, 2]]


@ex.mistake("For the absolute error you added the signed residuals, which cancel; take |r| of each first.")
def _():
    r = _P - _T
    return np.array([np.sum(r**2), np.mean(r**2), np.sum(r), np.mean(r)])


def _ratio(D=5, N=8):
    gen = np.random.default_rng(0)
    pred, target = gen.normal(size=(N, D)), gen.normal(size=(N, D))
    per_sample = lossbook.mse_loss(pred, target, reduction="none").sum(axis=1).mean()
    return float(per_sample / lossbook.mse_loss(pred, target))


ex = exercise("foundations.error_vs_loss.2", chapter="foundations/error_vs_loss", title="The factor D")


@ex.solution
def _():
    return _ratio()


@ex.mistake("The ratio is the other way round: summing over the D outputs makes the paper's loss the larger one.")
def _():
    return 1 / _ratio()


@ex.mistake("N is the batch, which both conventions divide by; the factor between them is D, the outputs per sample.")
def _():
    return _ratio() * 8 / 5


def _sweep(seed, degrees=range(1, 16), noise=0.3):
    gen = np.random.default_rng(seed)
    x = np.sort(gen.uniform(-1.0, 1.0, 30))
    y = np.sin(np.pi * x) + noise * gen.standard_normal(30)
    x_tr, x_va, y_tr, y_va = train_val_split(x, y, val_fraction=1 / 3, seed=seed)
    train, val = [], []
    for d in degrees:
        cols = polynomial_features(x_tr, d)
        mean, std = cols.mean(axis=0), cols.std(axis=0)

        def design(z, d=d, mean=mean, std=std):
            return np.column_stack([np.ones(len(z)), (polynomial_features(z, d) - mean) / std])

        coef = np.linalg.lstsq(design(x_tr), y_tr, rcond=None)[0]
        train.append(float(lossbook.mse_loss(design(x_tr) @ coef, y_tr)))
        val.append(float(lossbook.mse_loss(design(x_va) @ coef, y_va)))
    return np.array(train), np.array(val)


ex = exercise("foundations.error_vs_loss.3", chapter="foundations/error_vs_loss", title="Another sample")


@ex.solution
def _():
    return np.array([1 + int(np.argmin(_sweep(s)[1])) for s in (2, 3, 4)], dtype=float)


@ex.mistake("You chose by the *training* MSE, which always favours the largest degree; choose by the validation MSE.")
def _():
    return np.array([1 + int(np.argmin(_sweep(s)[0])) for s in (2, 3, 4)], dtype=float)


ex = exercise("foundations.error_vs_loss.4", chapter="foundations/error_vs_loss", title="Why the training loss keeps falling")


@ex.solution
def _():
    train, _ = _sweep(1, degrees=(5, 6))
    return bool(train[1] > train[0] + 1e-12)


@ex.mistake("Every degree-5 polynomial is a degree-6 polynomial with a zero top coefficient, so the best degree-6 fit "
            "is at least as good on the training data: its training MSE cannot be larger.")
def _():
    train, _ = _sweep(1, degrees=(5, 6))
    return not bool(train[1] > train[0] + 1e-12)


def _lr_for_sum(lr=0.128, n=128):
    gen = np.random.default_rng(0)
    p, t = gen.normal(size=n), gen.normal(size=n)
    factor = lossbook.mse_loss.grad(p, t, reduction="sum") / lossbook.mse_loss.grad(p, t)
    return float(lr / np.mean(factor))


ex = exercise("foundations.error_vs_loss.5", chapter="foundations/error_vs_loss", title="Moving a learning rate between reductions")


@ex.solution
def _():
    return _lr_for_sum()


@ex.mistake("You multiplied by the batch size: the summed gradient is n times larger, so the learning rate must be n times smaller.")
def _():
    return 0.128 * 128.0
