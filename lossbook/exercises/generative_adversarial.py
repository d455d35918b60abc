"""Exercises of chapters/generative/adversarial.ipynb: the saturating gradient, the hinge loss, the gradient penalty."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

ex = exercise("generative.adversarial.1", chapter="generative/adversarial", title="A confident discriminator")


@ex.solution
def _():
    return float(lossbook.gan_generator_loss.grad(np.array([-4.0]), "minimax", "sum")[0])


@ex.mistake("That is the non-saturating loss's gradient, -(1 - sigmoid(d)); the minimax one is -sigmoid(d).")
def _():
    return float(lossbook.gan_generator_loss.grad(np.array([-4.0]), "non_saturating", "sum")[0])


@ex.mistake("The sign: the minimax generator minimises log(1 - D) = -softplus(d), whose derivative is negative.")
def _():
    return -float(lossbook.gan_generator_loss.grad(np.array([-4.0]), "minimax", "sum")[0])


_REAL, _FAKE = np.array([1.5, 0.2]), np.array([-2.0, 0.5])
ex = exercise("generative.adversarial.2", chapter="generative/adversarial", title="Hinge by hand")


@ex.solution
def _():
    return float(lossbook.gan_discriminator_loss(_REAL, _FAKE, "hinge"))


@ex.mistake("You summed the terms; each set is averaged (reduction='mean'), then the two means are added.")
def _():
    return float(lossbook.gan_discriminator_loss(_REAL, _FAKE, "hinge", reduction="sum"))


@ex.mistake("The fake term is max(0, 1 + d_f): a generated sample is pushed below -1, not below +1.")
def _():
    return float(np.maximum(0, 1 - _REAL).mean() + np.maximum(0, 1 - _FAKE).mean())


ex = exercise("generative.adversarial.3", chapter="generative/adversarial", title="The penalty of a steep critic")


@ex.solution
def _():
    return 10 * (np.hypot(6.0, 8.0) - 1) ** 2


@ex.mistake("You forgot lambda = 10: the penalty term is lambda (|w| - 1)^2.")
def _():
    return (np.hypot(6.0, 8.0) - 1) ** 2


@ex.mistake("The penalty uses the norm |w| = 10, not the squared norm 100.")
def _():
    return 10 * (100.0 - 1) ** 2
