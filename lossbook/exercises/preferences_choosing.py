"""Exercises of chapters/preferences/choosing.ipynb: unpaired feedback, a mask from labels, summed or averaged."""
import numpy as np

from lossbook.exercises import exercise

ex = exercise("preferences.choosing.1", chapter="preferences/choosing", title="Thumbs up, thumbs down")


@ex.solution
def _():
    return "kto_loss"


@ex.mistake("DPO needs a chosen and a rejected answer to the same prompt; this data has single answers with a label.")
def _():
    return "dpo_loss"


@ex.mistake("The Bradley–Terry loss trains a reward model from comparisons; here nothing was compared.")
def _():
    return "bradley_terry_loss"


ex = exercise("preferences.choosing.2", chapter="preferences/choosing", title="A mask from labels")
_LABELS = np.array([[-100, 5, 7, 2], [-100, -100, 3, -100]])


@ex.solution
def _():
    return (_LABELS != -100).astype(float)


@ex.mistake("That mask is inverted: 1 must mark the answer tokens (labels != -100), 0 the prompt and padding.")
def _():
    return (_LABELS == -100).astype(float)


ex = exercise("preferences.choosing.3", chapter="preferences/choosing", title="Summed or averaged")


@ex.solution
def _():
    return 3.0


@ex.mistake("That is the difference of the summed log-probabilities; SimPO divides each by its answer's length.")
def _():
    return -2.0


@ex.mistake("Check the sign: chosen minus rejected, -2 - (-5).")
def _():
    return -3.0
