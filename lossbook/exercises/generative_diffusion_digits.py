"""Exercises of chapters/generative/diffusion_digits.ipynb: a Fréchet distance by hand, reading a judge's accuracy."""
from lossbook.exercises import exercise

ex = exercise("generative.diffusion_digits.1", chapter="generative/diffusion_digits",
              title="The Fréchet distance of two Gaussians")


@ex.solution
def _():
    return 2.0


@ex.mistake("The cross term uses the standard deviations, 2 * sigma1 * sigma2 = 2 * 1 * 2 = 4, not the variances "
            "(2 * 1 * 4 = 8).")
def _():
    return (0 - 1) ** 2 + 1 + 4 - 2 * 1 * 4.0


@ex.mistake("You left out the variance terms: the distance is (m1 - m2)^2 plus (sigma1 - sigma2)^2.")
def _():
    return 1.0


ex = exercise("generative.diffusion_digits.2", chapter="generative/diffusion_digits", title="Reading a judge")


@ex.solution
def _():
    return 0.5 * 0.95


@ex.mistake("Half of the digits are wrong, and the judge also misreads 5% of the right ones: 0.5 x 0.95.")
def _():
    return 0.5


ex = exercise("generative.diffusion_digits.3", chapter="generative/diffusion_digits",
              title="Min-SNR on a noise target")


@ex.solution
def _():
    return 5 / 25


@ex.mistake("5 is the weight Min-SNR-5 puts on the clean-sample error; on the noise error it is min(SNR, 5) / SNR.")
def _():
    return 5.0


@ex.mistake("With weighting='none' every noise level weighs 1; Min-SNR lowers the weight of the easy, low-noise "
            "samples: min(SNR, 5) / SNR.")
def _():
    return 1.0
