"""Exercises of chapters/ranking/choosing.ipynb."""
import numpy as np

from lossbook.exercises import exercise

CH = "ranking/choosing"

ex = exercise("ranking.choosing.1", chapter=CH, title="Labels from a pipeline")


@ex.solution
def _():
    return np.array([1.0, -1.0, -1.0, 1.0])


@ex.mistake("These are the 0/1 labels unchanged: cosine_embedding_loss expects +1 (similar) and -1 (dissimilar); "
            "PyTorch would silently give every 0-labelled pair a loss of 0. Use `2 * same - 1`.")
def _():
    return np.array([1.0, 0.0, 0.0, 1.0])


@ex.mistake("The signs are swapped: +1 means similar (the cosine should be high), -1 dissimilar.")
def _():
    return np.array([-1.0, 1.0, 1.0, -1.0])


ex = exercise("ranking.choosing.2", chapter=CH, title="Two lists in one batch")


@ex.solution
def _():
    return np.array([[3.0, 1.0, 0.0], [2.0, 0.0, -1.0]])


@ex.mistake("The padded slot has relevance 0, which makes it a fake irrelevant document; mark padding with a "
            "negative relevance (-1).")
def _():
    return np.array([[3.0, 1.0, 0.0], [2.0, 0.0, 0.0]])


@ex.mistake("The padding is at the front of query B, which shifts its documents: keep each document in its column "
            "and pad at the end.")
def _():
    return np.array([[3.0, 1.0, 0.0], [-1.0, 2.0, 0.0]])


ex = exercise("ranking.choosing.3", chapter=CH, title="Counting terms")


@ex.solution
def _():
    return np.array([475.0, 100.0])


@ex.mistake("4950 is the number of all pairs of documents; RankNet only uses pairs of different relevance.")
def _():
    return np.array([4950.0, 100.0])


@ex.mistake("ListNet's softmax runs over every real item of the list, irrelevant ones included, not only the relevant ones.")
def _():
    return np.array([475.0, 5.0])


ex = exercise("ranking.choosing.4", chapter=CH, title="Design the evaluation")


@ex.solution
def _():
    return "b"


@ex.mistake("New photos of the training categories test something close to classification: the embedding has seen "
            "those classes. The catalogue needs classes held out of training.")
def _():
    return "a"


@ex.mistake("A low training loss says the model fits its training triplets, not that it retrieves unseen classes.")
def _():
    return "c"
