"""Exercises of the chapter on margins (hinge losses)."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

_Y1 = np.array([1.0, -1.0, -1.0, 1.0])
_S1 = np.array([0.3, 0.5, -2.0, 1.5])

ex = exercise("classification.margins.1", chapter="classification/margins", title="A binary hinge loss by hand")


@ex.solution
def _():
    return float(lossbook.margin_ranking_loss(_S1, np.zeros(4), _Y1, margin=1.0))


@ex.mistake("You used 0/1 labels: with y = 0 the term max(0, 1 - y s) is 1 whatever the score. The hinge needs ±1 labels.")
def _():
    return float(np.maximum(0, 1 - (_Y1 > 0) * _S1).mean())


@ex.mistake("A sample with y s >= 1 costs 0, not a negative amount: you forgot the max(0, ·).")
def _():
    return float((1 - _Y1 * _S1).mean())


_S2 = np.array([[1.0, 1.5, 0.8]])
_T2 = np.array([0])

ex = exercise("classification.margins.2", chapter="classification/margins", title="PyTorch's multi-class hinge")


@ex.solution
def _():
    return float(lossbook.multi_margin_loss(_S2, _T2))


@ex.mistake("That is the sum over the wrong classes (CS231n's convention); PyTorch's multi_margin_loss also divides by C.")
def _():
    return float(lossbook.multi_margin_loss(_S2, _T2, reduction="sum") * _S2.shape[1])


@ex.mistake("That is the Crammer-Singer loss (the largest violation only); multi_margin_loss sums the violations (Weston-Watkins) and divides by C.")
def _():
    z = 1 - _S2[0, 0] + _S2[0, 1:]
    return float(max(0.0, z.max()))


ex = exercise("classification.margins.3", chapter="classification/margins", title="Crammer-Singer on the same scores")


@ex.solution
def _():
    z = 1 - _S2[0, 0] + np.delete(_S2[0], 0)
    return float(np.maximum(0.0, z).max())


@ex.mistake("You summed the violations (Weston-Watkins, without PyTorch's 1/C); Crammer-Singer keeps only the largest.")
def _():
    return float(lossbook.multi_margin_loss(_S2, _T2, reduction="sum") * _S2.shape[1])


@ex.mistake("That is PyTorch's multi_margin_loss (Weston-Watkins divided by C), not Crammer-Singer's maximum.")
def _():
    return float(lossbook.multi_margin_loss(_S2, _T2))


_MULTI_HOT = np.array([0, 1, 1, 0, 1])

ex = exercise("classification.margins.4", chapter="classification/margins", title="A multi-hot row as a multilabel_margin_loss target")


@ex.solution
def _():
    idx = np.flatnonzero(_MULTI_HOT)
    return np.r_[idx, -np.ones(len(_MULTI_HOT) - len(idx), dtype=int)]


@ex.mistake("That is the multi-hot row itself: multilabel_margin_loss would read it as the class indices 0, 1, 1, 0, 1.")
def _():
    return _MULTI_HOT.copy()


@ex.mistake("Pad with -1 *after* the indices, not before: everything after the first -1 is ignored.")
def _():
    idx = np.flatnonzero(_MULTI_HOT)
    return np.r_[-np.ones(len(_MULTI_HOT) - len(idx), dtype=int), idx]


ex = exercise("classification.margins.5", chapter="classification/margins",
              title="What multilabel_margin_loss reads from a multi-hot row")


@ex.solution
def _():
    # without a -1 every entry is read as a target index: 0, 1, 1, 0, 1, that is classes 0 and 1
    row = np.array([0, 1, 1, 0, 1])
    return np.unique(row[: (np.flatnonzero(row == -1)[0] if np.any(row == -1) else len(row))])


@ex.mistake("Those are the classes the multi-hot row MEANS (its 1s are at 1, 2 and 4); multilabel_margin_loss "
            "does not read multi-hot rows: it reads the VALUES as class indices, up to the first -1.")
def _():
    return np.array([1, 2, 4])
