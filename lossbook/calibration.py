"""Calibration of a classifier's probabilities: reliability curve, expected calibration error, temperature scaling.

A classifier is *calibrated* when, among the samples it gives confidence p, a fraction p is classified correctly.
This module measures that on held-out data and repairs the most common failure (over-confidence) with one
scalar, the temperature of Guo et al. (2017), fitted on validation logits. NumPy only.

The probabilities are an (N, C) array of rows that sum to 1 (a 1-d array is read as the probability of class 1
of a binary problem); the labels are (N,) integer class indices.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._stable import log_softmax
from ._validation import as_float_array, as_index_array, check_finite, check_range, describe

__all__ = [
    "ReliabilityCurve",
    "softmax",
    "reliability_curve",
    "expected_calibration_error",
    "negative_log_likelihood",
    "brier_score",
    "fit_temperature",
    "plot_reliability_diagram",
]


def _n_bins(n_bins) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise ValueError(f"`n_bins` must be a positive integer, but it is {n_bins!r}.")
    return int(n_bins)


def _probabilities(probs, labels):
    """Validated (N, C) probabilities and (N,) labels; a 1-d ``probs`` is P(class 1) of a binary problem."""
    p = as_float_array(probs, "probs")
    if p.ndim == 1:
        check_range(p, "probs", 0.0, 1.0, "probabilities of class 1")
        p = np.stack([1 - p, p], axis=1)
    if p.ndim != 2:
        raise ValueError(
            f"`probs` must have shape (N, C) (or (N,) for P(class 1) of a binary problem), but it has shape {p.shape}."
        )
    check_range(p, "probs", 0.0, 1.0, "probabilities",
                hint="If these are logits, convert them with lossbook.calibration.softmax(logits).")
    sums = p.sum(axis=1)
    if p.size and not np.allclose(sums, 1.0, rtol=0, atol=1e-4):
        raise ValueError(
            f"each row of `probs` must sum to 1, but the row sums lie in [{sums.min():.4g}, {sums.max():.4g}]. "
            "Pass softmax probabilities of all C classes, not one column or unnormalised scores."
        )
    y = as_index_array(labels, "labels", num_classes=p.shape[1])
    if y.shape != (p.shape[0],):
        raise ValueError(f"`labels` must have shape ({p.shape[0]},), one class index per row of `probs`, "
                         f"but it has shape {y.shape}.")
    return p, y


def _logits(logits, labels):
    z = as_float_array(logits, "logits")
    if z.ndim != 2:
        raise ValueError(f"`logits` must have shape (N, C), but it has shape {z.shape}.")
    check_finite(z, "logits")
    y = as_index_array(labels, "labels", num_classes=z.shape[1])
    if y.shape != (z.shape[0],):
        raise ValueError(f"`labels` must have shape ({z.shape[0]},), one class index per row of `logits`, "
                         f"but it has shape {y.shape}.")
    return z, y


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Softmax of ``logits / temperature`` along the last axis (temperature > 0; 1 leaves the logits alone)."""
    if not (isinstance(temperature, numbers.Real) and not isinstance(temperature, bool)) or not temperature > 0:
        raise ValueError(f"`temperature` must be a positive number, but it is {temperature!r}.")
    z = as_float_array(logits, "logits")
    return np.exp(log_softmax(z / temperature, axis=-1))


@dataclass(frozen=True)
class ReliabilityCurve:
    """Confidence against accuracy in equal-width bins of confidence.

    ``edges`` has ``n_bins + 1`` entries from 0 to 1; bin m holds the samples whose confidence lies in
    ``(edges[m], edges[m + 1]]`` (the first bin also holds confidence 0). ``counts`` (int) sums to N;
    ``confidence`` and ``accuracy`` are the mean confidence and the fraction correct of each bin (NaN where
    a bin is empty).
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """The gap per bin, mean confidence minus accuracy (positive where the model is over-confident)."""
        return self.confidence - self.accuracy

    @property
    def ece(self) -> float:
        """The expected calibration error, the sum over bins of ``(count / N) * abs(accuracy - confidence)``."""
        n = self.counts.sum()
        if n == 0:
            return float("nan")
        full = self.counts > 0
        return float(np.sum(self.counts[full] / n * np.abs(self.gap[full])))


def reliability_curve(probs, labels, n_bins: int = 15) -> ReliabilityCurve:
    """Bin the top-class confidence ``max_c probs[i, c]`` into ``n_bins`` equal-width bins of [0, 1] and return,
    per bin, the number of samples, their mean confidence and the fraction whose top class is the label.

    This is the reliability diagram of DeGroot & Fienberg (1983) and Niculescu-Mizil & Caruana (2005) for
    the predicted class, as Guo et al. (2017) use it (15 bins by default, as they do).

    Bins are closed on the right: bin ``m`` (counting from 0) holds the confidences in ``(m/M, (m+1)/M]``, so a
    confidence exactly on an edge goes to the bin *below* it (0.5 with ``n_bins=2`` is in the first bin, 0.75
    with ``n_bins=4`` in the third, ``(0.5, 0.75]``), and a confidence of 0 goes to the first bin. The index is
    ``ceil(c * M) - 1`` computed in float64, so an edge that float64 cannot represent (0.1, 0.7 ...) is
    decided by the rounded product ``c * M``.
    """
    p, y = _probabilities(probs, labels)
    m = _n_bins(n_bins)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # bin m holds (m/M, (m+1)/M]; confidence 0 goes to the first bin
    idx = np.clip(np.ceil(conf * m).astype(np.int64) - 1, 0, m - 1)
    counts = np.bincount(idx, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=m) / counts
        acc = np.bincount(idx, weights=correct, minlength=m) / counts
    return ReliabilityCurve(edges=np.linspace(0.0, 1.0, m + 1), counts=counts, confidence=mean_conf, accuracy=acc)


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    r"""Expected calibration error (Naeini et al., 2015; Guo et al., 2017) of the top-class confidence.

    .. math:: \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{N}\,\bigl|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\bigr|

    with M equal-width bins :math:`B_m` of confidence, closed on the right (a confidence on an edge, such as
    0.8 with ``n_bins=10``, goes to the bin below it, ``(0.7, 0.8]``; 0 goes to the first bin; see
    :func:`reliability_curve`). It lies in [0, 1]; 0 means
    that in every bin the accuracy equals the mean confidence. It depends on the binning and, on few samples,
    is biased upwards (even a perfectly calibrated model shows some gap by chance).
    """
    return reliability_curve(probs, labels, n_bins).ece


def negative_log_likelihood(logits, labels, temperature: float = 1.0) -> float:
    """Mean negative log-probability of the labels under softmax(logits / temperature): the cross-entropy."""
    z, y = _logits(logits, labels)
    if not temperature > 0:
        raise ValueError(f"`temperature` must be a positive number, but it is {temperature!r}.")
    logp = log_softmax(z / temperature, axis=1)
    return float(-np.mean(logp[np.arange(len(y)), y]))


def brier_score(probs, labels) -> float:
    """Multi-class Brier score (Brier, 1950): mean over samples of sum_c (probs[i, c] - onehot[i, c])^2, in [0, 2]."""
    p, y = _probabilities(probs, labels)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def fit_temperature(logits, labels, bounds: tuple = (0.05, 20.0), tol: float = 1e-7) -> float:
    """The temperature T > 0 that minimises the validation NLL of softmax(logits / T) (Guo et al., 2017).

    Fit it on *validation* logits (never the training set, where the model is over-confident by construction,
    nor the test set you report on), then divide the test logits by it. Dividing all logits by one T > 0 keeps
    every argmax, so accuracy does not change; only the confidence does.

    The NLL is convex in 1/T (a log-sum-exp of functions linear in 1/T minus a linear term), so it has a single
    minimum; it is found by golden-section search on log T within ``bounds``. A T at a bound means the optimum
    lies outside them (for example, a validation set classified perfectly wants T -> 0).
    """
    z, y = _logits(logits, labels)
    lo, hi = bounds
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"`bounds` must be (low, high) with 0 < low < high < inf, but it is {bounds!r}.")
    if len(y) == 0:
        raise ValueError(f"`logits` is empty ({describe(z)}); a temperature needs at least one sample.")
    rows = np.arange(len(y))

    def nll(log_t):
        logp = log_softmax(z / math.exp(log_t), axis=1)
        return -np.mean(logp[rows, y])

    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(c), nll(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(d)
    return float(math.exp((a + b) / 2))


def plot_reliability_diagram(curve: ReliabilityCurve, ax=None, title: str | None = None, color: str | None = None):
    """Draw a reliability diagram: the accuracy of each non-empty bin as a bar over its confidence interval, the
    gap to the diagonal shaded, and the diagonal of perfect calibration. Returns ``(fig, ax)``. Imports matplotlib.
    """
    from .book.plotting import PALETTE, subplots

    if ax is None:
        fig, ax = subplots()
    else:
        fig = ax.figure
    full = curve.counts > 0
    left, width = curve.edges[:-1][full], np.diff(curve.edges)[full]
    ax.bar(left, curve.accuracy[full], width=width, align="edge", color=color or PALETTE["blue"],
           edgecolor="white", label="accuracy in bin")
    ax.bar(left, curve.gap[full], bottom=curve.accuracy[full], width=width, align="edge",
           color=PALETTE["red"], alpha=0.3, edgecolor=PALETTE["red"], label="gap to mean confidence")
    ax.plot([0, 1], [0, 1], color=PALETTE["black"], linestyle="--", linewidth=1.2, label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence (top-class probability)", ylabel="accuracy")
    ax.set_title(title if title is not None else f"ECE = {curve.ece:.3f}")
    return fig, ax
