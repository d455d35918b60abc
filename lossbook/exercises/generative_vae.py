"""Exercises of chapters/generative/vae.ipynb: the Gaussian KL, the beta a reduction implies, the variance of an MSE."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

_MEAN, _LOG_VAR = np.array([[1.0, 0.0]]), np.array([[0.0, np.log(2)]])
ex = exercise("generative.vae.1", chapter="generative/vae", title="A KL by hand")


@ex.solution
def _():
    return float(lossbook.gaussian_kl(_MEAN, _LOG_VAR))


@ex.mistake("You used the variance 2 where the formula wants the log-variance: log_var = log(2), so exp(log_var) = 2.")
def _():
    return float(lossbook.gaussian_kl(_MEAN, np.array([[0.0, 2.0]])))


@ex.mistake("You forgot the factor 1/2 in KL = (mu^2 + sigma^2 - 1 - log sigma^2) / 2.")
def _():
    return 2 * float(lossbook.gaussian_kl(_MEAN, _LOG_VAR))


@ex.mistake("That is the mean over the two dimensions; the KL of a diagonal Gaussian is their sum.")
def _():
    return float(lossbook.gaussian_kl(_MEAN, _LOG_VAR, reduction="mean"))


ex = exercise("generative.vae.2", chapter="generative/vae", title="The beta in someone's code")


@ex.solution
def _():
    return 784.0


@ex.mistake("The latent size does not enter: the reconstruction is divided by the number of pixels, 28 x 28.")
def _():
    return 16.0


@ex.mistake("Upside down: the KL is weighted D times more than in the ELBO, not D times less.")
def _():
    return 1 / 784


@ex.mistake("28 is one side of the image; the mean runs over all 28 x 28 pixels.")
def _():
    return 28.0


ex = exercise("generative.vae.3", chapter="generative/vae", title="The variance an MSE assumes")


@ex.solution
def _():
    return float(np.sqrt(0.5))


@ex.mistake("The Gaussian NLL is (x - m)^2 / (2 s^2): a plain sum of squares means 2 s^2 = 1, not s = 1.")
def _():
    return 1.0


@ex.mistake("That is the variance s^2 = 1/2; the question asks for the standard deviation s.")
def _():
    return 0.5
