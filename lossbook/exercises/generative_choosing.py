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


ex = exercise("generative.choosing.3", chapter="generative/choosing", title="The beta nobody chose")


@ex.solution
def _():
    return 64.0


@ex.mistake("Dividing the reconstruction term by the 64 pixels is the same as multiplying the KL by 64, not by "
            "1/64: (sum / 64) + KL = (sum + 64 KL) / 64, and the constant 1/64 does not move the minimum.")
def _():
    return 1 / 64


@ex.mistake("The mean is over pixels, not over the batch: the batch size scales both terms alike.")
def _():
    return 128.0
