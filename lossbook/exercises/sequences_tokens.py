"""Exercises of the chapter "Cross-entropy over tokens" (chapters/sequences/tokens.ipynb)."""
import numpy as np

from lossbook.exercises import exercise

_CH = "sequences/tokens"

ex = exercise("sequences.tokens.1", chapter=_CH, title="The loss of two accumulated micro-batches")


@ex.solution
def _():
    return (25.0 + 45.0) / (10 + 30)


@ex.mistake("You averaged the two micro-batch means, (2.5 + 1.5) / 2: that weights the 10 tokens of the first "
            "micro-batch like the 30 of the second. Add the sums, then divide by the total number of real tokens.")
def _():
    return (25.0 / 10 + 45.0 / 30) / 2


@ex.mistake("You added the sums without dividing: 'mean' divides by the number of real tokens, 40.")
def _():
    return 70.0


ex = exercise("sequences.tokens.2", chapter=_CH, title="Perplexity from bits per character", rtol=1e-6)


@ex.solution
def _():
    return float(2.0 ** 2.0)


@ex.mistake("You computed e**2: bits are logarithms in base 2, so the perplexity is 2**2.")
def _():
    return float(np.exp(2.0))


ex = exercise("sequences.tokens.3", chapter=_CH, title="The weight of a token of a short sequence")


@ex.solution
def _():
    return 15.0


@ex.mistake("That is the token mean, which weights every token alike; the mean over sequences divides each "
            "sequence's sum by its own length.")
def _():
    return 1.0


@ex.mistake("You inverted the ratio: the short sequence's tokens get more weight, 1/2 against 1/30.")
def _():
    return 1 / 15
