"""Exercises of chapters/classification/calibration.ipynb (ECE, temperature scaling)."""
import numpy as np

from lossbook.calibration import expected_calibration_error, softmax
from lossbook.exercises import exercise

_CONF = np.array([0.95, 0.9, 0.92, 0.85, 0.6, 0.65, 0.55, 0.8, 0.98, 0.62])
_CORRECT = np.ones(10, dtype=bool)
_CORRECT[[1, 3, 5]] = False


def _bins():
    high = _CONF > 0.75
    return [(b.mean(), _CONF[b].mean(), _CORRECT[b].mean()) for b in (high, ~high)]


ex = exercise("classification.calibration.1", chapter="classification/calibration", title="ECE with two bins")


@ex.solution
def _():
    probs = np.stack([_CONF, 1 - _CONF], axis=1)
    return expected_calibration_error(probs, np.where(_CORRECT, 0, 1), n_bins=4)


@ex.mistake("You used signed gaps (or one bin for all ten predictions, which amounts to the same): the ECE takes "
            "the absolute gap in each bin, so over-confidence in one bin cannot cancel under-confidence in another.")
def _():
    return float(abs(sum(w * (c - a) for w, c, a in _bins())))


@ex.mistake("You averaged the two bins' gaps without weights; the ECE weights each bin by the fraction of the "
            "samples it holds (6 of 10 and 4 of 10).")
def _():
    return float(np.mean([abs(c - a) for _w, c, a in _bins()]))


ex = exercise("classification.calibration.2", chapter="classification/calibration", title="Confidence after temperature scaling")


@ex.solution
def _():
    return float(softmax(np.array([2.0, 1.0, 0.0]), temperature=2.0).max())


@ex.mistake("You multiplied the logits by T; temperature scaling divides them by T (T > 1 lowers the confidence).")
def _():
    return float(softmax(np.array([4.0, 2.0, 0.0])).max())


@ex.mistake("That is the confidence at T = 1, before scaling: divide the logits by T = 2 first.")
def _():
    return float(softmax(np.array([2.0, 1.0, 0.0])).max())


@ex.mistake("You divided the probabilities by T instead of the logits; the temperature acts inside the softmax.")
def _():
    return float(softmax(np.array([2.0, 1.0, 0.0])).max() / 2)


ex = exercise("classification.calibration.3", chapter="classification/calibration", title="Where to fit the temperature")


@ex.solution
def _():
    return "validation"


@ex.mistake("On the training data the model is over-confident by construction; a temperature fitted there sharpens "
            "it further (T < 1). Use data the model did not train on.")
def _():
    return "train"


@ex.mistake("The test split must stay untouched to report an honest result; fit T on the validation split.")
def _():
    return "test"


ex = exercise("classification.calibration.4", chapter="classification/calibration",
              title="Is a difference of two ECEs real?", digits=2)


def _calibrated_eces(g, n=359, n_classes=10):
    probs = softmax(3.0 * g.standard_normal((n, n_classes)))
    labels = (probs.cumsum(axis=1) > g.random((n, 1))).argmax(axis=1)
    return expected_calibration_error(probs, labels)


@ex.solution
def _():
    g = np.random.default_rng(0)
    gaps = []
    for _ in range(300):
        a, b = _calibrated_eces(g), _calibrated_eces(g)
        gaps.append(abs(a - b))
    return float(np.percentile(gaps, 95))


@ex.mistake("That is the mean ECE of ONE calibrated model (how far from perfect a calibrated model looks on 359 "
            "images); the question is how much two calibrated models differ: draw two, take |ECE1 - ECE2|.")
def _():
    g = np.random.default_rng(0)
    return float(np.mean([_calibrated_eces(g) for _ in range(300)]))
