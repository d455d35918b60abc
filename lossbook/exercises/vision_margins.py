"""Exercises of chapters/vision/margins.ipynb: CosFace by hand, ArcFace's target logit, beyond pi - m."""
import math

import numpy as np

import lossbook
from lossbook.exercises import exercise

ex = exercise("vision.margins.1", chapter="vision/margins", title="CosFace by hand")


@ex.solution
def _():
    emb = np.array([[1.0, 0.0]])
    w = np.array([[0.8, 0.6], [0.2, math.sqrt(1 - 0.04)]])
    return float(lossbook.cosface_loss(emb, w, np.array([0]), scale=4.0, margin=0.35))


@ex.mistake("That is the loss without the margin, log(1 + e^-2.4); subtract m = 0.35 from the true cosine first.")
def _():
    return math.log1p(math.exp(-2.4))


@ex.mistake("You forgot the scale: the logits are s cos, with s = 4.")
def _():
    return math.log1p(math.exp(-(0.8 - 0.35 - 0.2)))


ex = exercise("vision.margins.2", chapter="vision/margins", title="ArcFace's target logit")


@ex.solution
def _():
    return math.cos(math.pi / 3 + 0.5)


@ex.mistake("That is CosFace's cos(theta) - m; ArcFace adds the margin to the angle: cos(theta + m).")
def _():
    return 0.5 - 0.5


@ex.mistake("You added 0.5 degrees, not 0.5 radians, to 60 degrees.")
def _():
    return math.cos(math.radians(60.5))


ex = exercise("vision.margins.3", chapter="vision/margins", title="Beyond pi - m")


@ex.solution
def _():
    return math.cos(2.9) - 0.5 * math.sin(0.5)


@ex.mistake("That is the unfixed cos(theta + m); beyond pi - m ArcFace uses cos(theta) - m sin(m).")
def _():
    return math.cos(3.4)


@ex.mistake("That is cos(theta) - m, CosFace's logit; the fix subtracts m sin(m).")
def _():
    return math.cos(2.9) - 0.5
