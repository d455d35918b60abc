"""Exercises of chapters/vision/masks.ipynb: Dice by hand, choosing a Tversky setting, Lovász on a hard mask."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

ex = exercise("vision.masks.1", chapter="vision/masks", title="Dice by hand")
_P, _Y = np.array([[0.8, 0.4, 0.2, 0.0]]), np.array([[1, 1, 0, 0]])


@ex.solution
def _():
    return float(lossbook.dice_loss(_P, _Y, smooth=0))


@ex.mistake("That is the Dice coefficient 2.4 / 3.4; the loss is one minus it.")
def _():
    return 2.4 / 3.4


@ex.mistake("You forgot the factor 2 in the numerator: 1 - 1.2 / 3.4.")
def _():
    return 1 - 1.2 / 3.4


ex = exercise("vision.masks.2", chapter="vision/masks", title="Which Tversky setting?")


@ex.solution
def _():
    return "c"


@ex.mistake("Setting 'a' weighs false positives (alpha = 0.7) more; beta weighs the missed pixels.")
def _():
    return "a"


@ex.mistake("Setting 'b' is the Dice loss: misses and false alarms cost the same.")
def _():
    return "b"


ex = exercise("vision.masks.3", chapter="vision/masks", title="Lovász on a hard prediction")


@ex.solution
def _():
    y = np.zeros((1, 20))
    y[0, :10] = 1
    pred = np.zeros((1, 20), bool)
    pred[0, 4:12] = True
    return float(lossbook.lovasz_hinge_loss(np.where(pred, 1.0, -1.0), y))


@ex.mistake("That is 1 - IoU; with margins of +-1 the hinge errors are 0 or 2, so the loss is 2 (1 - IoU).")
def _():
    return 0.5


@ex.mistake("That is the IoU itself (6 / 12); the Lovász hinge is a loss, 2 (1 - IoU).")
def _():
    return 0.5 + 1e-3
