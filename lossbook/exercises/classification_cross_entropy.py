"""Exercises of chapters/classification/cross_entropy.ipynb (Cross-entropy and NLL)."""
import math
import warnings

import numpy as np

import lossbook
from lossbook._stable import softmax

from ._core import exercise

_Z = np.array([[2.0, 0.5, 0.1], [0.3, 2.1, 0.2]])
_Y = np.array([0, 1])

ex1 = exercise("classification.cross_entropy.1", chapter="classification/cross_entropy",
               title="Article 000's example, the hard way")


@ex1.solution
def _():
    return float(lossbook.cross_entropy(_Z, _Y))


@ex1.mistake("You applied a softmax before the cross-entropy, which applies its own: pass the logits unchanged.")
def _():
    with warnings.catch_warnings():  # lossbook rightly warns about softmax outputs: this IS the mistake
        warnings.simplefilter("ignore", lossbook.LossInputWarning)
        return float(lossbook.cross_entropy(softmax(_Z, axis=1), _Y))


@ex1.mistake("You used log10; cross-entropy uses the natural logarithm.")
def _():
    return float(lossbook.cross_entropy(_Z, _Y)) / math.log(10)


@ex1.mistake("That is the sum over the two samples; the default reduction='mean' divides by 2.")
def _():
    return float(lossbook.cross_entropy(_Z, _Y, reduction="sum"))


_L2 = np.array([0.2, 0.5, 1.0])
_T2 = np.array([0, 1, 1])
_W2 = np.array([3.0, 1.0])

ex2 = exercise("classification.cross_entropy.2", chapter="classification/cross_entropy", title="A weighted mean")


def _log_probs():
    lp = np.zeros((3, 2))
    lp[np.arange(3), _T2] = -_L2
    return lp


@ex2.solution
def _():
    return float(lossbook.nll_loss(_log_probs(), _T2, weight=_W2))


@ex2.mistake("You divided the weighted sum by the batch size; the weighted mean divides by the sum of the targets' weights (3 + 1 + 1).")
def _():
    return float(np.sum(_W2[_T2] * _L2) / 3)


@ex2.mistake("That is the plain mean: each sample's loss must first be multiplied by the weight of its target class.")
def _():
    return float(np.mean(_L2))


ex3 = exercise("classification.cross_entropy.3", chapter="classification/cross_entropy", title="A smoothed target")


@ex3.solution
def _():
    return 0.8 * np.eye(4)[2] + 0.2 / 4


@ex3.mistake("You spread epsilon over the C - 1 other classes; PyTorch divides it by C, the true class included.")
def _():
    t = np.full(4, 0.2 / 3)
    t[2] = 0.8
    return t


@ex3.mistake("The true class keeps 1 - epsilon AND gets its share epsilon / C, so its probability is 0.85 and the row sums to 1.")
def _():
    t = np.full(4, 0.05)
    t[2] = 0.8
    return t


ex4 = exercise("classification.cross_entropy.4", chapter="classification/cross_entropy",
               title="The floor for a hundred classes")


@ex4.solution
def _():
    # the cross-entropy of a one-hot "logit" vector: -log(e / (e + 99))
    return float(-np.log(np.e / (np.e + 99)))


@ex4.mistake("ln 100 is the loss of a uniform prediction; a one-hot softmax output does better, but not 0.")
def _():
    return math.log(100)


@ex4.mistake("0 is the floor with logits; after a second softmax even a one-hot output gives the true class only e / (e + 99).")
def _():
    return 0.0
