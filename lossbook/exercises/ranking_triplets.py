"""Exercises of chapters/ranking/triplets.ipynb: one triplet by hand, kinds of negatives, average precision, a diagnosis of a collapsed run."""
import numpy as np

import lossbook
from lossbook import retrieval
from lossbook.exercises import exercise

ex = exercise("ranking.triplets.1", chapter="ranking/triplets", title="One triplet by hand")
_A, _P, _N = np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]), np.array([[0.0, 1.2]])


@ex.solution
def _():
    return float(lossbook.triplet_margin_loss(_A, _P, _N, margin=0.5, eps=0.0))


@ex.mistake("You used squared distances (1 - 1.44 + 0.5); TripletMarginLoss uses the distances themselves.")
def _():
    return 1.0 - 1.44 + 0.5


@ex.mistake("The positive's distance enters with a plus sign and the negative's with a minus: d(a,p) - d(a,n) + margin.")
def _():
    return max(0.0, 1.2 - 1.0 + 0.5)


ex = exercise("ranking.triplets.2", chapter="ranking/triplets", title="Counting semi-hard negatives")
_D = np.array([0.5, 0.7, 0.85, 0.9, 0.95, 1.1, 1.4])


@ex.solution
def _():
    return int(np.sum(retrieval.negative_kind(0.8, _D, margin=0.2) == "semi-hard"))


@ex.mistake("You counted every negative with a positive loss (hard and semi-hard); semi-hard ones are farther than the positive.")
def _():
    return int(np.sum(_D < 1.0))


@ex.mistake("You counted the negatives beyond the margin; those are easy (zero loss), semi-hard ones lie between 0.8 and 1.0.")
def _():
    return int(np.sum(_D >= 1.0))


ex = exercise("ranking.triplets.3", chapter="ranking/triplets", title="Average precision of one query")
_REL = np.array([1, 0, 1, 0, 0], dtype=bool)


@ex.solution
def _():
    return float(np.mean((np.cumsum(_REL) / np.arange(1, 6))[_REL]))


@ex.mistake("You averaged the precision over all five ranks; average precision takes it only at the ranks of relevant items.")
def _():
    return float(np.mean(np.cumsum(_REL) / np.arange(1, 6)))


@ex.mistake("That is the precision at rank 5 (2 relevant of 5); average precision averages precision@r over relevant ranks r.")
def _():
    return 0.4


ex = exercise("ranking.triplets.4", chapter="ranking/triplets", title="Diagnose: a loss stuck at the margin",
              rtol=1e-3)


@ex.solution
def _():
    return 0.3


@ex.mistake("A collapsed model does not reach zero loss: with every distance 0, each triplet costs "
            "max(0, 0 - 0 + margin), the margin itself.")
def _():
    return 0.0
