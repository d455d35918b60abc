"""Exercises of chapters/classification/binary.ipynb (Binary cross-entropy)."""
import math

import numpy as np

import lossbook

from ._core import exercise

_P3 = np.array([0.9, 0.2, 0.4])
_Y3 = np.array([1.0, 0.0, 1.0])

ex1 = exercise("classification.binary.1", chapter="classification/binary", title="Article 003's example by hand")


@ex1.solution
def _():
    return float(lossbook.binary_cross_entropy(_P3, _Y3))


@ex1.mistake("That is the sum of the three terms; reduction='mean' (the default) divides by 3.")
def _():
    return float(lossbook.binary_cross_entropy(_P3, _Y3, reduction="sum"))


@ex1.mistake("You used log10; binary cross-entropy uses the natural logarithm.")
def _():
    return float(np.mean(-(_Y3 * np.log10(_P3) + (1 - _Y3) * np.log10(1 - _P3))))


@ex1.mistake("For the negative sample the active term is -log(1 - p) = -log(0.8), not -log(0.2).")
def _():
    return float(np.mean(-np.log(_P3)))


ex2 = exercise("classification.binary.2", chapter="classification/binary", title="Choosing pos_weight")


@ex2.solution
def _():
    return 570 / 30


@ex2.mistake("pos_weight is negatives over positives (n_neg / n_pos), not the inverse.")
def _():
    return 30 / 570


@ex2.mistake("You divided the total (600) by the positives; balancing needs n_neg / n_pos = 570 / 30.")
def _():
    return 600 / 30


ex3 = exercise("classification.binary.3", chapter="classification/binary", title="The cost of a 0/1 label")


@ex3.solution
def _():
    return math.log(2)


@ex3.mistake("That is the loss with the correct label -1; with the label 0 the margin y z is 0 whatever z is.")
def _():
    return float(lossbook.soft_margin_loss(np.array([3.0]), np.array([-1.0])))


@ex3.mistake("A label of 0 does not make the loss 0: it makes the margin 0, and log(1 + e^0) = ln 2.")
def _():
    return 0.0


ex4 = exercise("classification.binary.4", chapter="classification/binary", title="Diagnose a loss of 33.3")


@ex4.solution
def _():
    # BCELoss clamps each log at -100: one sample at p = 0 with y = 1 (or p = 1 with y = 0) costs exactly 100,
    # the two others almost nothing, so the mean of three is 100 / 3
    return 1


@ex4.mistake("If all three were saturated the mean would be 100, not 33.3: BCELoss caps each sample at 100, and "
             "the batch mean divides by 3.")
def _():
    return 3


@ex4.mistake("Two saturated samples would give a mean of 200 / 3 = 66.7; 33.3 is 100 / 3.")
def _():
    return 2
