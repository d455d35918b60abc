"""Exercises of chapters/foundations/preface.ipynb (the notation example: four predictions and their targets)."""
import numpy as np

import lossbook

from ._core import exercise

_PRED, _TARGET = np.array([2.5, 0.0, 2.0, 8.0]), np.array([3.0, -0.5, 2.0, 7.0])

ex = exercise("foundations.preface.1", chapter="foundations/preface", title="The three reductions of the MAE")


@ex.solution
def _():
    return np.array([float(lossbook.l1_loss(_PRED, _TARGET, reduction=r)) for r in ("sum", "mean")])


@ex.mistake("Those are the squared errors' sum and mean (mse_loss); the MAE takes absolute residuals.")
def _():
    return np.array([float(lossbook.mse_loss(_PRED, _TARGET, reduction=r)) for r in ("sum", "mean")])


@ex.mistake("The mean divides by the number of elements, 4, including the one whose residual is 0.")
def _():
    total = float(lossbook.l1_loss(_PRED, _TARGET, reduction="sum"))
    return np.array([total, total / 3])
