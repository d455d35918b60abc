"""Exercises of chapters/classification/probabilities.ipynb (From scores to probabilities)."""

import numpy as np

import lossbook
from lossbook._stable import sigmoid

from ._core import exercise

_Z1 = np.array([1.0, 2.0, 0.5])

ex1 = exercise("classification.probabilities.1", chapter="classification/probabilities", title="Cross-entropy by hand")


@ex1.solution
def _():
    return float(lossbook.cross_entropy(_Z1, np.array(1)))


@ex1.mistake("You took the class with logit 1.0: classes are numbered from 0, so class 1 has the logit 2.0.")
def _():
    return float(lossbook.cross_entropy(_Z1, np.array(0)))


@ex1.mistake("You used log10; cross-entropy in PyTorch and in this book uses the natural logarithm.")
def _():
    return float(-np.log10(np.exp(_Z1[1]) / np.exp(_Z1).sum()))


@ex1.mistake("That is the probability of the class, not the loss: the loss is -log of it.")
def _():
    return float(np.exp(_Z1[1]) / np.exp(_Z1).sum())


ex2 = exercise("classification.probabilities.2", chapter="classification/probabilities", title="The loss before training")


@ex2.solution
def _():
    return float(lossbook.cross_entropy(np.zeros((1, 100)), np.array([0])))


@ex2.mistake("You used log10(100) = 2; the natural logarithm gives ln 100.")
def _():
    return 2.0


@ex2.mistake("1/100 is each class's probability; the loss is -ln(1/100).")
def _():
    return 0.01


ex3 = exercise("classification.probabilities.3", chapter="classification/probabilities", title="How much weaker?")


def _ratio(factor):
    s = float(sigmoid(np.array(-6.0)))
    return 1.0 / (factor * s * (1 - s))


@ex3.solution
def _():
    return _ratio(2.0)


@ex3.mistake("You dropped the factor 2 that differentiating the square brings down: d/dz (s - 1)^2 = 2 (s - 1) s (1 - s).")
def _():
    return _ratio(1.0)


@ex3.mistake("You inverted the ratio: the question asks how many times larger cross-entropy's gradient is.")
def _():
    return 1.0 / _ratio(2.0)




ex4 = exercise("classification.probabilities.4", chapter="classification/probabilities",
               title="Diagnose a first logged loss")


@ex4.solution
def _():
    # the loss of an untrained softmax classifier is ln C: the first logged value names C
    return float(np.exp(2.303))


@ex4.mistake("100 is the number of classes of the data set; the loss at initialisation is ln C of the MODEL's "
             "outputs, so invert it: C = e^loss.")
def _():
    return 100.0


@ex4.mistake("You inverted a base-10 logarithm; cross-entropy uses the natural logarithm: C = e^loss.")
def _():
    return float(10 ** 2.303)
