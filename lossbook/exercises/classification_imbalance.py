"""Exercises of the chapter on imbalanced classes."""
import numpy as np

import lossbook
from lossbook import metrics
from lossbook.exercises import exercise

ex = exercise("classification.imbalance.1", chapter="classification/imbalance", title="pos_weight from the class counts")


@ex.solution
def _():
    n_pos, n_neg = 100, 300
    return n_neg / n_pos


@ex.mistake("You divided the positives by the negatives: pos_weight multiplies the positive terms, so it is n_neg / n_pos > 1 for a rare positive class.")
def _():
    return 100 / 300


@ex.mistake("That is the positive rate n_pos / (n_pos + n_neg), not the ratio pos_weight = n_neg / n_pos.")
def _():
    return 100 / 400


ex = exercise("classification.imbalance.2", chapter="classification/imbalance", title="The prior bias for 1% positives",
              rtol=1e-4)


@ex.solution
def _():
    return metrics.prior_bias(0.01)


@ex.mistake("Right size, wrong sign: a rare positive class needs a negative bias, so that sigmoid(b) = 0.01.")
def _():
    return -metrics.prior_bias(0.01)


@ex.mistake("That is log(pi), not the log-odds log(pi / (1 - pi)): sigmoid(log 0.01) is not 0.01.")
def _():
    return float(np.log(0.01))


ex = exercise("classification.imbalance.3", chapter="classification/imbalance", title="How much the focal term shrinks an easy example")


def _focal_over_ce(p_t, gamma, alpha):
    x = np.array([np.log(p_t / (1 - p_t))])   # the logit of a positive predicted with probability p_t
    t = np.ones(1)
    fl = lossbook.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma)
    ce = lossbook.binary_cross_entropy_with_logits(x, t, reduction="none")
    return float(fl[0] / ce[0])


@ex.solution
def _():
    return _focal_over_ce(0.9, gamma=2, alpha=-1)


@ex.mistake("That is (1 - p_t)^1: the modulating factor is raised to the power gamma = 2.")
def _():
    return _focal_over_ce(0.9, gamma=1, alpha=-1)


@ex.mistake("You kept alpha = 0.25 (torchvision's default); the question asks for the focusing term alone (alpha < 0 turns the weight off).")
def _():
    return _focal_over_ce(0.9, gamma=2, alpha=0.25)


ex = exercise("classification.imbalance.4", chapter="classification/imbalance", title="The accuracy of a classifier that never says yes")


@ex.solution
def _():
    n, n_pos = 1000, 20
    return (n - n_pos) / n


@ex.mistake("That is its error rate (the positive rate): a constant 'negative' is right on every negative.")
def _():
    return 20 / 1000


@ex.mistake("That is its recall on the positives (zero); the question asks for accuracy over all samples.")
def _():
    return 0.0


ex = exercise("classification.imbalance.5", chapter="classification/imbalance",
              title="The BCE threshold that matches pos_weight")


@ex.solution
def _():
    # pos_weight w multiplies the positives' terms, which moves the minimiser of the loss by log w in logit
    # space: the pos_weight model's logit is about the BCE model's plus log w, so z_w > 0 means z > -log w
    return float(-np.log(19.0))


@ex.mistake("Right size, wrong sign: pos_weight makes the model say 'positive' MORE often, so the matching "
            "threshold on the plain model's logit is below 0: -log(19).")
def _():
    return float(np.log(19.0))


@ex.mistake("That is a threshold on the probability scale with the logarithm forgotten; the shift is log(19) in "
            "logit space, so the threshold on the logit is -log(19) (a probability of 1/20).")
def _():
    return 1.0 / 19.0


@ex.mistake("You used a base-10 logarithm; the logit is a natural log-odds: -ln(19).")
def _():
    return float(-np.log10(19.0))
