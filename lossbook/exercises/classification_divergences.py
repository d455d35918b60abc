"""Exercises of chapters/classification/divergences.ipynb (KL divergence, kl_div's conventions, distillation)."""
import warnings

import numpy as np

import lossbook
from lossbook.calibration import softmax
from lossbook.exercises import exercise

_P = np.array([0.7, 0.2, 0.1])
_Q = np.array([0.5, 0.3, 0.2])

ex = exercise("classification.divergences.1", chapter="classification/divergences", title="KL divergence of three classes")


@ex.solution
def _():
    return float(lossbook.kl_div(np.log(_Q), _P, reduction="sum"))


@ex.mistake("That is KL(q || p): the arguments are swapped. kl_div takes the model's log-probabilities (log q) first "
            "and the target p second.")
def _():
    return float(lossbook.kl_div(np.log(_P), _Q, reduction="sum"))


@ex.mistake("You passed the probabilities q as the input: kl_div expects log-probabilities there, so the result is "
            "meaningless (negative here). Pass np.log(q).")
def _():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", lossbook.LossInputWarning)
        return float(lossbook.kl_div(_Q, _P, reduction="sum"))


@ex.mistake("You used kl_div's default reduction='mean', which divides the sum by the number of elements (3); "
            "the divergence of one distribution is the sum.")
def _():
    return float(np.sum(_P * np.log(_P / _Q)) / 3)


@ex.mistake("That is in bits (log base 2); the loss uses natural logarithms (nats).")
def _():
    return float(np.sum(_P * np.log2(_P / _Q)))


ex = exercise("classification.divergences.2", chapter="classification/divergences", title="KLDivLoss 'mean' in a log")


@ex.solution
def _():
    return 0.012 * 100


@ex.mistake("You multiplied by the batch size as well: that gives the sum over the batch, not the mean per sample.")
def _():
    return 0.012 * 32 * 100


@ex.mistake("'mean' is not the KL per sample: it divides by batch size times number of classes, so one factor of "
            "C = 100 is missing.")
def _():
    return 0.012


@ex.mistake("You multiplied by the batch size; 'mean' already averages over the batch. The missing factor is the "
            "number of classes.")
def _():
    return 0.012 * 32


_V = np.array([4.0, 1.0, 0.0])
_Z = np.array([1.0, 2.0, 0.0])


def _grad(T):
    return (softmax(_Z, temperature=T) - softmax(_V, temperature=T)) / T


ex = exercise("classification.divergences.3", chapter="classification/divergences", title="Gradient of the soft loss and T")


@ex.solution
def _():
    return float(np.linalg.norm(_grad(1.0)) / np.linalg.norm(_grad(4.0)))


@ex.mistake("16 = T^2 is the large-T approximation of Hinton et al.; at T = 4 and for these logits the exact ratio "
            "differs. Compute both gradients, (q_student - q_teacher) / T, and divide their norms.")
def _():
    return 16.0


@ex.mistake("You kept only the 1/T factor of the chain rule; the softened distributions also get closer as T grows, "
            "so the ratio is larger than T.")
def _():
    return 4.0


@ex.mistake("You forgot the 1/T of the chain rule (d(z/T)/dz = 1/T): the ratio of the probability differences alone "
            "is too small by a factor of 4.")
def _():
    d1 = softmax(_Z) - softmax(_V)
    d4 = softmax(_Z, temperature=4.0) - softmax(_V, temperature=4.0)
    return float(np.linalg.norm(d1) / np.linalg.norm(d4))
