"""Exercises of chapters/foundations/three_steps.ipynb (the diabetes line and the ten-feature model)."""
import numpy as np

import lossbook
from lossbook.book.data import load_diabetes

from ._core import exercise


def _data():
    data = load_diabetes()
    return data, data.X[:, data.feature_names.index("bmi")], data.y


def _line_gradient(w, b):
    _, x, y = _data()
    g = lossbook.mse_loss.grad(w * x + b, y)
    return np.array([np.sum(g * x), np.sum(g)])


ex = exercise("foundations.three_steps.1", chapter="foundations/three_steps", title="The gradient by hand")


@ex.solution
def _():
    return _line_gradient(10.0, 100.0)


@ex.mistake("You dropped the factor 2: mse_loss has no ½, so the derivative of r² is 2r, not r.")
def _():
    return _line_gradient(10.0, 100.0) / 2


@ex.mistake("Sign: the residual is prediction minus target, w x + b − y, and its derivative in w is +x.")
def _():
    return -_line_gradient(10.0, 100.0)


def _hessian_eigenvalues():
    data, _, y = _data()
    A = np.column_stack([data.X, np.ones(len(y))])
    return np.linalg.eigvalsh(2 / len(y) * A.T @ A)


ex = exercise("foundations.three_steps.2", chapter="foundations/three_steps", title="Where gradient descent diverges")


@ex.solution
def _():
    return float(2 / _hessian_eigenvalues().max())


@ex.mistake("1/λ_max is the rate that is fastest along the steepest direction; divergence starts at 2/λ_max.")
def _():
    return float(1 / _hessian_eigenvalues().max())


@ex.mistake("You used the smallest eigenvalue; the limit comes from the largest one (the steepest direction).")
def _():
    return float(2 / _hessian_eigenvalues().min())


def _line_fits():
    _, x, y = _data()
    theta = np.zeros(2)
    for t in range(20000):
        g = lossbook.l1_loss.grad(theta[0] * x + theta[1], y)
        theta = theta - 20 / np.sqrt(t + 1) * np.array([np.sum(g * x), np.sum(g)])
    A = np.column_stack([x, np.ones(len(y))])
    return theta, np.linalg.lstsq(A, y, rcond=None)[0]


ex = exercise("foundations.three_steps.3", chapter="foundations/three_steps", title="Swap the loss")


@ex.solution
def _():
    mae_fit, mse_fit = _line_fits()
    return "mae" if mae_fit[0] > mse_fit[0] else "mse"


@ex.mistake("Compare the fitted slopes w: the few very large targets lift the squared-error line's intercept "
            "and leave it flatter than the absolute-error (median-like) line.")
def _():
    mae_fit, mse_fit = _line_fits()
    return "mse" if mae_fit[0] > mse_fit[0] else "mae"


def _single_feature_losses():
    data, _, y = _data()
    losses = {}
    for j, name in enumerate(data.feature_names):
        A = np.column_stack([data.X[:, j], np.ones(len(y))])
        theta = np.linalg.lstsq(A, y, rcond=None)[0]
        losses[name] = float(lossbook.mse_loss(A @ theta, y))
    return losses


ex = exercise("foundations.three_steps.4", chapter="foundations/three_steps", title="Another feature")


@ex.solution
def _():
    losses = _single_feature_losses()
    return min(losses, key=losses.get)


@ex.mistake("s5 is a close second, not the best: compare the two training losses to more digits.")
def _():
    losses = _single_feature_losses()
    return sorted(losses, key=losses.get)[1]


@ex.mistake("That is the feature with the *highest* loss: the best feature has the lowest training MSE.")
def _():
    losses = _single_feature_losses()
    return max(losses, key=losses.get)
