"""Metrics and helpers for imbalanced binary classification: precision-recall curves, average precision,
the prior-probability bias, and random oversampling.

Accuracy hides what matters when one class is rare (a classifier that never predicts the rare class is
right as often as the rare class is absent), so the chapters on margins and imbalance compare losses by the
precision-recall trade-off of the scores they produce. Everything here needs only NumPy; the definitions
follow scikit-learn's ``precision_recall_curve`` and ``average_precision_score``, which the tests compare with.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_finite, describe

__all__ = [
    "binary_labels",
    "precision_recall_curve",
    "average_precision",
    "precision_recall_at",
    "prior_bias",
    "oversample",
    "one_vs_rest",
]


def binary_labels(y_true, name: str = "y_true") -> np.ndarray:
    """``y_true`` as a boolean array (True = positive), accepting 0/1 or -1/+1 labels (or booleans)."""
    y = np.asarray(y_true)
    if y.dtype == bool:
        return y
    y = as_float_array(y, name)
    check_finite(y, name)
    values = set(np.unique(y).tolist())
    if values <= {0.0, 1.0}:
        return y == 1
    if values <= {-1.0, 1.0}:
        return y == 1
    raise ValueError(
        f"`{name}` must hold binary labels, 0/1 or -1/+1, but it has {describe(y)}. For class indices of a "
        f"multi-class problem, pick the positive class first: `{name} == k`."
    )


def _scores_and_labels(y_true, scores):
    y = binary_labels(y_true)
    s = as_float_array(scores, "scores")
    check_finite(s, "scores")
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(
            f"`y_true` and `scores` must be 1-d arrays of the same length (one score per sample), but they have "
            f"shapes {y.shape} and {s.shape}. For a model with one output column, pass `scores[:, 0]`."
        )
    if not y.any():
        raise ValueError("`y_true` has no positive sample, so recall (and average precision) is undefined.")
    return y, s


def precision_recall_curve(y_true, scores):
    """Precision and recall of the rule "positive if score >= t" for every distinct score ``t``.

    Returns ``(precision, recall, thresholds)`` like ``sklearn.metrics.precision_recall_curve``: thresholds
    increase, recall decreases, and a final point ``(precision 1, recall 0)`` with no threshold is appended.
    Scores can be logits, probabilities or any ranking score: only their order matters.
    """
    y, s = _scores_and_labels(y_true, scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    # the last position of each distinct score: predicting positive down to it includes all of its ties
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last].astype(np.float64)
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    thresholds = s_sorted[last]
    # computed from the highest threshold down; returned in increasing order of threshold
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def average_precision(y_true, scores) -> float:
    r"""Average precision: :math:`\mathrm{AP} = \sum_k (R_k - R_{k-1})\,P_k`, the area under the step-wise
    precision-recall curve (scikit-learn's ``average_precision_score``, no interpolation).

    A random ranking scores about the positive rate; a perfect one scores 1.
    """
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def precision_recall_at(y_true, scores, threshold: float = 0.0):
    """``(precision, recall)`` of the rule "positive if score > threshold" (logits: threshold 0 is p > 0.5).

    Precision is 0 when nothing is predicted positive (scikit-learn's ``zero_division=0``).
    """
    y, s = _scores_and_labels(y_true, scores)
    pred = s > threshold
    tp = float(np.sum(pred & y))
    precision = tp / pred.sum() if pred.any() else 0.0
    return precision, tp / y.sum()


def prior_bias(pi: float) -> float:
    r"""The output bias that makes an untrained sigmoid model predict the positive rate ``pi`` everywhere:
    :math:`b = -\log\frac{1 - \pi}{\pi}` (Lin et al., 2017, sec. 4.1: ``pi = 0.01`` gives ``b = -4.595``)."""
    pi = float(pi)
    if not 0 < pi < 1:
        raise ValueError(f"`pi` is a probability strictly between 0 and 1 (the positive rate), but it is {pi!r}.")
    return float(-np.log((1 - pi) / pi))


def oversample(X, y, seed: int = 0):
    """Random oversampling: repeat randomly chosen minority-class rows until both classes are equally frequent.

    ``y`` holds binary labels (0/1 or -1/+1). Returns new ``(X, y)`` arrays (the original rows first, then the
    copies); the copies are drawn with replacement by a generator seeded with ``seed``. Use it on the *training*
    split only: oversampling validation or test data would change the positive rate that the metrics measure.
    """
    X = np.asarray(X)
    y_arr = np.asarray(y)
    pos = binary_labels(y_arr, "y")
    if len(X) != len(y_arr):
        raise ValueError(f"X has {len(X)} rows but y has {len(y_arr)}; they must match.")
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"`y` must contain both classes to rebalance them, but it has {n_pos} positives and {n_neg} negatives.")
    minority = np.flatnonzero(pos if n_pos < n_neg else ~pos)
    extra = np.random.default_rng(seed).choice(minority, size=abs(n_neg - n_pos), replace=True)
    idx = np.r_[np.arange(len(X)), extra]
    return X[idx], y_arr[idx]


def one_vs_rest(X, y, positive: int, rate: float | None = None, seed: int = 0):
    """A binary problem from a multi-class one: class ``positive`` against all the others.

    Returns ``(X, t)`` with float32 labels ``t`` (1 for the class ``positive``, 0 otherwise). With ``rate``, every
    negative row is kept and a random subset of the positive rows (drawn without replacement by a generator
    seeded with ``seed``) so that positives make up ``rate`` of the rows (at least 2 positives); rows keep
    their original order. This turns a balanced data set into a controlled imbalanced one.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}; they must match.")
    pos, neg = np.flatnonzero(y == positive), np.flatnonzero(y != positive)
    if len(pos) == 0:
        raise ValueError(f"`positive` is {positive!r}, but no row of `y` has that class ({describe(y)}).")
    keep = np.arange(len(y))
    if rate is not None:
        rate = float(rate)
        if not 0 < rate < 1:
            raise ValueError(f"`rate` is the fraction of positives wanted, strictly between 0 and 1, but it is {rate!r}.")
        k = max(2, int(round(rate / (1 - rate) * len(neg))))
        if k > len(pos):
            raise ValueError(
                f"`rate` {rate} needs {k} positives but class {positive!r} has only {len(pos)}: lower `rate`."
            )
        chosen = np.random.default_rng(seed).choice(pos, size=k, replace=False)
        keep = np.sort(np.r_[neg, chosen])
    return X[keep], (y[keep] == positive).astype(np.float32)
