"""Exercises of chapters/generative/choosing.ipynb: which loss failed, and the cost of a sample."""
from lossbook.exercises import exercise

ex = exercise("generative.choosing.1", chapter="generative/choosing", title="Which loss failed?")


@ex.solution
def _():
    return "adversarial"


@ex.mistake("A likelihood loss must keep every training digit probable: it blurs rather than dropping modes.")
def _():
    return "likelihood"


@ex.mistake("Denoising losses are weighted likelihood bounds and cover the modes; sharp samples of two digits only "
            "is mode collapse.")
def _():
    return "denoising"


ex = exercise("generative.choosing.2", chapter="generative/choosing", title="The cost of a sample")


@ex.solution
def _():
    return 50.0


@ex.mistake("The number of images cancels: each diffusion sample costs 50 evaluations, each GAN sample one.")
def _():
    return 50_000.0
