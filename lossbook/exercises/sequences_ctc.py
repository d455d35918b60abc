"""Exercises of the chapter "Connectionist temporal classification" (chapters/sequences/ctc.ipynb)."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

_CH = "sequences/ctc"

ex = exercise("sequences.ctc.1", chapter=_CH, title="The shortest input for a target with repeats")


@ex.solution
def _():
    target = [1, 1, 2, 2, 2]
    return len(target) + sum(a == b for a, b in zip(target, target[1:], strict=False))


@ex.mistake("You counted only the labels: two equal neighbours need a blank between them, one extra frame each.")
def _():
    return 5


@ex.mistake("That is the number of states of the extended target, 2S + 1; a path may skip the blanks between "
            "different labels and need not start or end on one.")
def _():
    return 11


ex = exercise("sequences.ctc.2", chapter=_CH, title="Collapse a frame labelling")


@ex.solution
def _():
    return "122"


@ex.mistake("You removed the blanks before merging the repeats: the blank keeps the two twos apart.")
def _():
    return "12"


@ex.mistake("You removed the blanks but did not merge the runs of repeated labels.")
def _():
    return "11222"


ex = exercise("sequences.ctc.3", chapter=_CH, title="The probability of a labelling")


@ex.solution
def _():
    three = np.log(np.tile([0.7, 0.3], (3, 1)))
    return float(np.exp(-lossbook.ctc_loss(three, [1], 3, 1, reduction="sum")))


@ex.mistake("You counted only the three alignments with a single 1 (0.441): 11∅, ∅11 and 111 collapse to 1 too.")
def _():
    return 3 * 0.3 * 0.7**2


@ex.mistake("That is the probability of the best path, ∅∅∅, which collapses to the empty string.")
def _():
    return 0.7**3
