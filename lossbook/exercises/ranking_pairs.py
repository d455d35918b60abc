"""Exercises of chapters/ranking/pairs.ipynb: margin ranking, hinge embedding, and the 0/1 cosine bug; a diagnosis of the 0/1 run."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

_X1, _X2, _Y = np.array([0.8, 0.2, 0.5]), np.array([0.3, 0.6, 0.5]), np.array([1.0, 1.0, -1.0])

ex = exercise("ranking.pairs.1", chapter="ranking/pairs", title="Margin ranking by hand")


@ex.solution
def _():
    return float(lossbook.margin_ranking_loss(_X1, _X2, _Y, margin=0.1))


@ex.mistake("You used the default margin 0; the exercise asks for margin 0.1, which also makes the tie cost 0.1.")
def _():
    return float(lossbook.margin_ranking_loss(_X1, _X2, _Y, margin=0.0))


@ex.mistake("You flipped the meaning of y: +1 means input1 should rank higher, so the cost is max(0, -y(x1 - x2) + margin).")
def _():
    return float(lossbook.margin_ranking_loss(_X1, _X2, -_Y, margin=0.1))


_D, _T = np.array([0.2, 1.5, 0.4]), np.array([1.0, -1.0, -1.0])
ex = exercise("ranking.pairs.2", chapter="ranking/pairs", title="Hinge embedding of three distances")


@ex.solution
def _():
    return lossbook.hinge_embedding_loss(_D, _T, margin=1.0, reduction="none")


@ex.mistake("That is max(0, 1 - y x), the SVM hinge of source article 004; HingeEmbeddingLoss is x for y = 1 and "
            "max(0, margin - x) for y = -1.")
def _():
    return np.maximum(0.0, 1.0 - _T * _D)


@ex.mistake("For a similar pair (y = +1) the loss is the distance itself, not max(0, margin - x).")
def _():
    return np.maximum(0.0, 1.0 - _D)


_COS, _LAB = np.array([0.9, 0.8, 0.7, 0.6]), np.array([1.0, 0.0, 0.0, 1.0])
ex = exercise("ranking.pairs.3", chapter="ranking/pairs", title="What the 0/1 bug reports")


@ex.solution
def _():
    return float(np.mean(np.where(_LAB == 1, 1 - _COS, 0.0)))


@ex.mistake("That is the loss with correct ±1 targets; PyTorch applies neither case to a target of 0, so those pairs cost 0.")
def _():
    return float(np.mean(np.where(_LAB == 1, 1 - _COS, np.maximum(_COS, 0.0))))


@ex.mistake("The zero terms still count in the mean: divide by all 4 pairs, not by the 2 with target 1.")
def _():
    return float(np.mean((1 - _COS)[_LAB == 1]))


ex = exercise("ranking.pairs.4", chapter="ranking/pairs", title="Diagnose: does a larger margin fix the 0/1 run?")


@ex.solution
def _():
    # with 0/1 targets no pair has y = -1, so the margin term is never evaluated: same loss, same gradient
    return False


@ex.mistake("The margin enters only the y = -1 case, max(0, cos - margin); with 0/1 targets no pair has y = -1, so "
            "the loss and its gradient are the same for every margin, and the run collapses just the same.")
def _():
    return True
