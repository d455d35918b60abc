"""Exercises of chapters/generative/diffusion_digits.ipynb: a Fréchet distance by hand, reading a judge's accuracy."""
from lossbook.exercises import exercise

ex = exercise("generative.diffusion_digits.1", chapter="generative/diffusion_digits",
              title="The Fréchet distance of two Gaussians")


@ex.solution
def _():
    return 2.0


@ex.mistake("The formula uses the standard deviations in the cross term: 2 * sigma1 * sigma2 = 2 * 1 * 2 = 4.")
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
