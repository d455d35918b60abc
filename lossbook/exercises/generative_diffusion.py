"""Exercises of chapters/generative/diffusion.ipynb: the SNR factor between targets, a Min-SNR weight, the flow target."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

ex = exercise("generative.diffusion.1", chapter="generative/diffusion", title="The noise level of a target")


@ex.solution
def _():
    return 0.36 / 0.64 * 0.5


@ex.mistake("Upside down: the noise error is SNR times the sample error, with SNR = alpha^2 / sigma^2 = 0.5625.")
def _():
    return 0.5 / (0.36 / 0.64)


@ex.mistake("The SNR is alpha^2 / sigma^2, not alpha / sigma.")
def _():
    return 0.6 / 0.8 * 0.5


_A = 0.99
_S = float(np.sqrt(1 - _A**2))
ex = exercise("generative.diffusion.2", chapter="generative/diffusion", title="A Min-SNR weight")


@ex.solution
def _():
    return float(lossbook.diffusion_weight(_A, _S, "velocity", "min_snr", gamma=5.0))


@ex.mistake("That is the weight for the noise target, min(SNR, 5) / SNR; for the velocity divide by SNR + 1.")
def _():
    return float(lossbook.diffusion_weight(_A, _S, "noise", "min_snr", gamma=5.0))


@ex.mistake("That is the weight on the clean-sample error, min(SNR, 5); the velocity error needs / (1 + SNR).")
def _():
    return 5.0


ex = exercise("generative.diffusion.3", chapter="generative/diffusion", title="The flow-matching target")


@ex.solution
def _():
    return np.array([-0.5, -3.0])


@ex.mistake("The sign: the path goes from data (t = 0) to noise (t = 1), so the velocity is noise - sample.")
def _():
    return np.array([0.5, 3.0])


@ex.mistake("That is x_t, the point the network sees; it regresses the velocity noise - sample.")
def _():
    return np.array([0.85, 1.1])
