"""Exercises of chapters/preferences/comparisons.ipynb: the Bradley–Terry loss, the noise ceiling, swapped pairs."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

ex = exercise("preferences.comparisons.1", chapter="preferences/comparisons", title="One pair by hand")


@ex.solution
def _():
    return float(lossbook.bradley_terry_loss(np.array([1.2]), np.array([0.4])))


@ex.mistake("You swapped the two scores: the loss is -log σ(r_chosen - r_rejected), small when the chosen one leads.")
def _():
    return float(lossbook.bradley_terry_loss(np.array([0.4]), np.array([1.2])))


@ex.mistake("That is σ(0.8), the probability of the preference; the loss is its negative logarithm.")
def _():
    return float(1 / (1 + np.exp(-0.8)))


ex = exercise("preferences.comparisons.2", chapter="preferences/comparisons", title="A noise ceiling")
_GAPS = np.array([0.0, 1.0, 3.0])


@ex.solution
def _():
    return float(np.mean(1 / (1 + np.exp(-_GAPS))))


@ex.mistake("A perfect model is not always right: a label agrees with the true order only with probability σ(|gap|).")
def _():
    return 1.0


@ex.mistake("You left out the tied pair; it counts, with accuracy 1/2 for any model.")
def _():
    return float(np.mean(1 / (1 + np.exp(-_GAPS[1:]))))


ex = exercise("preferences.comparisons.3", chapter="preferences/comparisons", title="Swapped arguments")


@ex.solution
def _():
    return 0.25


@ex.mistake("That is the accuracy with the arguments in the right order; the swap flips every comparison.")
def _():
    return 0.75
