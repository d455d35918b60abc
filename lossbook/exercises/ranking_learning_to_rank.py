"""Exercises of chapters/ranking/learning_to_rank.ipynb."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

CH = "ranking/learning_to_rank"

# 1. NDCG@3 by hand
_S1 = np.array([0.2, 0.9, 0.4, 0.7, 0.1])
_R1 = np.array([3.0, 0.0, 2.0, 1.0, 0.0])
ex = exercise("ranking.learning_to_rank.1", chapter=CH, title="NDCG@3 by hand")


@ex.solution
def _():
    return float(lossbook.ndcg(_S1, _R1, k=3))


@ex.mistake("That is NDCG with linear gains (G = rel); the chapter's NDCG uses G = 2^rel - 1.")
def _():
    return float(lossbook.ndcg(_S1, _R1, k=3, gain="linear"))


@ex.mistake("You scored the whole list: @3 keeps only the first three positions, in the DCG and in the ideal DCG.")
def _():
    return float(lossbook.ndcg(_S1, _R1))


@ex.mistake("That is DCG@3, not yet normalised: divide by the DCG@3 of the ideal ordering.")
def _():
    gains = 2.0 ** _R1[np.argsort(-_S1)][:3] - 1
    return float(np.sum(gains / np.log2(np.arange(2, 5))))


# 2. How many pairs does RankNet's mean divide by?
_R2 = np.array([2.0, 1.0, 1.0, 0.0, -1.0])
ex = exercise("ranking.learning_to_rank.2", chapter=CH, title="Counting RankNet's pairs")


@ex.solution
def _():
    s = np.zeros(5)
    return float(lossbook.ranknet_loss(s, _R2, reduction="sum") / lossbook.ranknet_loss(s, _R2))


@ex.mistake("The last item is padding (negative relevance): it takes part in no pair, it is not an irrelevant item.")
def _():
    return 9.0


@ex.mistake("Pairs of equal relevance are not pairs: neither item should rank above the other, so they cost nothing.")
def _():
    return 6.0


@ex.mistake("That counts every unordered pair of the five entries, padding and ties included.")
def _():
    return 10.0


# 3. Ranks passed as relevance
ex = exercise("ranking.learning_to_rank.3", chapter=CH, title="Rank positions passed as relevance")


@ex.solution
def _():
    return float(lossbook.ndcg(np.array([5.0, 4.0, 3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0])))


@ex.mistake("The model orders the items perfectly, but NDCG measures the order against the relevance it is given, "
            "and here the 'relevance' says that the item in position 5 is the best.")
def _():
    return 1.0


@ex.mistake("That is the value with linear gains; the default gain is 2^rel - 1.")
def _():
    return float(lossbook.ndcg(np.array([5.0, 4.0, 3.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0]), gain="linear"))


# 4. One LambdaRank weight
_S4 = np.array([2.0, 1.5, 1.0, 0.5])
_R4 = np.array([0.0, 1.0, 2.0, 0.0])
ex = exercise("ranking.learning_to_rank.4", chapter=CH, title="One LambdaRank weight")


@ex.solution
def _():
    return float(lossbook.lambdarank_loss(_S4, _R4, reduction="none")[2, 0]
                 / lossbook.ranknet_loss(_S4, _R4, reduction="none")[2, 0])


@ex.mistake("You forgot to divide by the ideal DCG of the query: the weights are changes of NDCG, not of DCG.")
def _():
    return float(3 * (1 - 1 / np.log2(4)))


@ex.mistake("That is the weight with linear gains (rel instead of 2^rel - 1).")
def _():
    idcg = 2 + 1 / np.log2(3)
    return float(2 * (1 - 1 / np.log2(4)) / idcg)


ex = exercise("ranking.learning_to_rank.5", chapter=CH, title="Predict an invariance")


@ex.solution
def _():
    return "listmle_loss ranknet_loss"


@ex.mistake("LambdaRank is pairwise, but it weights each pair by |G_i - G_j| with G = 2^r - 1, which changes when "
            "r becomes r^2. Only losses that use nothing but the order of the labels are unchanged.")
def _():
    return "lambdarank_loss listmle_loss ranknet_loss"


@ex.mistake("ListMLE is listwise, yet it uses only the ideal order of the items (ties stay ties under r -> r^2), so "
            "it is unchanged too.")
def _():
    return "ranknet_loss"


@ex.mistake("ListNet takes softmax(relevance), which changes when the grades change; ListMLE uses only their order.")
def _():
    return "listnet_loss ranknet_loss"
