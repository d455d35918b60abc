"""Exercises of chapters/ranking/contrastive.ipynb: the log N cap, InfoNCE of a small matrix, NT-Xent negatives, a prediction about the temperature."""
import math

import numpy as np

from lossbook.exercises import exercise

ex = exercise("ranking.contrastive.1", chapter="ranking/contrastive", title="The cap of a batch")


@ex.solution
def _():
    return math.log(256)


@ex.mistake("That is log2(256), in bits; cross-entropy losses (and the bound) are in nats: use the natural logarithm.")
def _():
    return 8.0


@ex.mistake("The cap is log N of the batch size, not N itself or log(N - 1): log(256).")
def _():
    return math.log(255)


ex = exercise("ranking.contrastive.2", chapter="ranking/contrastive", title="InfoNCE of a small matrix")
_C = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.3], [0.0, 0.4, 0.5]])


def _info_nce(s):
    m = s.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(s - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(lse - np.diagonal(s)))


@ex.solution
def _():
    return _info_nce(_C / 0.5)


@ex.mistake("You forgot the temperature: divide the cosines by tau = 0.5 before the softmax.")
def _():
    return _info_nce(_C)


@ex.mistake("You normalised over columns (which anchor goes with each positive); InfoNCE's rows are the anchors.")
def _():
    return _info_nce((_C / 0.5).T)


ex = exercise("ranking.contrastive.3", chapter="ranking/contrastive", title="Counting negatives")


@ex.solution
def _():
    return 2 * 128 - 2


@ex.mistake("N - 1 = 127 is InfoNCE over N pairs; NT-Xent pools both views, 2N embeddings, so 2N - 2 are negatives.")
def _():
    return 127


@ex.mistake("Exclude the positive too: of the 2N - 1 other embeddings, one is the other view of the same image.")
def _():
    return 2 * 128 - 1


ex = exercise("ranking.contrastive.4", chapter="ranking/contrastive", title="Predict: a cold temperature on a correct batch",
              atol=5e-4)


@ex.solution
def _():
    return float(np.log1p(np.exp(-0.4 / 0.01)))


@ex.mistake("A cold temperature does not blow the loss up when every positive leads its negatives: each row is "
            "log(1 + exp(-0.4 / tau)), which falls to 0 as tau shrinks.")
def _():
    return float(np.log(2.0))


@ex.mistake("That is the loss at tau = 1; at tau = 0.01 the 0.4 lead of each positive becomes 40 in the logits.")
def _():
    return float(np.log1p(np.exp(-0.4)))
