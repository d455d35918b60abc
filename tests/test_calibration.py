"""lossbook.calibration: reliability curve, ECE, Brier score, NLL and temperature scaling.

Expected values are derived independently (a loop over bins written out here, torch's cross-entropy, or a
synthetic model whose true temperature is known), never copied from lossbook's own output."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook.calibration as cal

RNG = np.random.default_rng(7)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _calibrated_sample(n, c=4, scale=2.0, seed=0):
    """Probabilities and labels drawn FROM those probabilities: calibrated by construction."""
    rng = np.random.default_rng(seed)
    p = _softmax(scale * rng.standard_normal((n, c)))
    y = np.array([rng.choice(c, p=row) for row in p])
    return p, y


def test_bins_count_every_sample_once_and_edges_span_0_1():
    p, y = _calibrated_sample(500)
    curve = cal.reliability_curve(p, y, n_bins=10)
    assert curve.counts.sum() == 500
    assert curve.counts.dtype.kind == "i"
    assert np.allclose(curve.edges, np.linspace(0, 1, 11))
    full = curve.counts > 0
    # each bin's mean confidence lies inside the bin
    assert np.all(curve.confidence[full] > curve.edges[:-1][full])
    assert np.all(curve.confidence[full] <= curve.edges[1:][full])
    assert np.all(np.isnan(curve.accuracy[~full]))


def test_ece_matches_a_written_out_loop():
    p, y = _calibrated_sample(300, seed=3)
    conf, pred = p.max(1), p.argmax(1)
    m = 15
    total = 0.0
    for k in range(m):
        lo, hi = k / m, (k + 1) / m
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs((pred[inside] == y[inside]).mean() - conf[inside].mean())
    assert cal.expected_calibration_error(p, y) == pytest.approx(total, rel=1e-12, abs=1e-15)


def test_ece_of_calibrated_data_is_small_and_of_overconfident_data_is_large():
    p, y = _calibrated_sample(20000, seed=1)
    assert cal.expected_calibration_error(p, y) < 0.02
    # sharpen the same probabilities: same labels, higher confidence -> over-confident
    sharp = _softmax(3.0 * np.log(p))
    assert cal.expected_calibration_error(sharp, y) > 0.08
    assert np.nanmean(cal.reliability_curve(sharp, y).gap) > 0


def test_perfect_classifier_with_confidence_one_has_zero_ece():
    y = RNG.integers(0, 3, 50)
    p = np.eye(3)[y]
    assert cal.expected_calibration_error(p, y) == 0.0
    assert cal.brier_score(p, y) == 0.0


def test_binary_1d_input_equals_two_column_input():
    q = RNG.random(40)
    y = (RNG.random(40) < q).astype(np.int64)
    two = np.stack([1 - q, q], axis=1)
    assert cal.expected_calibration_error(q, y) == cal.expected_calibration_error(two, y)
    assert cal.brier_score(q, y) == pytest.approx(2 * np.mean((q - y) ** 2))


def test_brier_score_against_formula():
    p, y = _calibrated_sample(100, c=5, seed=4)
    expected = np.mean([sum((p[i, c] - (c == y[i])) ** 2 for c in range(5)) for i in range(100)])
    assert cal.brier_score(p, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("t", [0.5, 1.0, 3.0])
def test_nll_matches_torch_cross_entropy(t):
    z = RNG.standard_normal((30, 6)) * 3
    y = RNG.integers(0, 6, 30)
    expected = F.cross_entropy(torch.tensor(z) / t, torch.tensor(y)).item()
    assert cal.negative_log_likelihood(z, y, temperature=t) == pytest.approx(expected, rel=1e-12)


def test_softmax_with_temperature_keeps_argmax_and_matches_torch():
    z = RNG.standard_normal((20, 4)) * 4
    for t in [0.3, 1.0, 7.0]:
        p = cal.softmax(z, temperature=t)
        assert np.allclose(p, torch.softmax(torch.tensor(z) / t, dim=1).numpy(), rtol=1e-12)
        assert np.array_equal(p.argmax(1), z.argmax(1))


@pytest.mark.parametrize("true_t", [0.5, 2.0, 4.0])
def test_fit_temperature_recovers_a_known_temperature(true_t):
    # labels drawn from softmax(z); the model reports z * true_t, i.e. logits that need dividing by true_t
    rng = np.random.default_rng(11)
    z = 1.5 * rng.standard_normal((20000, 5))
    y = np.array([rng.choice(5, p=row) for row in _softmax(z)])
    t_hat = cal.fit_temperature(z * true_t, y)
    assert t_hat == pytest.approx(true_t, rel=0.05)


def test_fit_temperature_is_the_minimum_of_the_nll():
    z = RNG.standard_normal((200, 3)) * 5
    y = np.array([RNG.choice(3, p=row) for row in _softmax(z / 2)])  # optimum near T = 2, inside the bounds
    t = cal.fit_temperature(z, y)
    assert 1.0 < t < 5.0
    def f(s):
        return cal.negative_log_likelihood(z, y, temperature=s)

    assert f(t) <= f(t * 1.01) and f(t) <= f(t / 1.01)
    # and agrees with torch's LBFGS on log T
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)
    zt, yt = torch.tensor(z), torch.tensor(y)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(zt / log_t.exp(), yt)
        loss.backward()
        return loss

    opt.step(closure)
    assert t == pytest.approx(math.exp(log_t.item()), rel=1e-4)


def test_temperature_scaling_reduces_ece_of_overconfident_model():
    rng = np.random.default_rng(5)
    z = 1.0 * rng.standard_normal((6000, 4))
    y = np.array([rng.choice(4, p=row) for row in _softmax(z)])
    over = 3.0 * z
    t = cal.fit_temperature(over[:3000], y[:3000])
    before = cal.expected_calibration_error(cal.softmax(over[3000:]), y[3000:])
    after = cal.expected_calibration_error(cal.softmax(over[3000:], temperature=t), y[3000:])
    assert after < before / 3


@pytest.mark.parametrize(
    "probs, labels, kwargs, exc, words",
    [
        (np.array([[0.2, 0.2], [0.5, 0.5]]), [0, 1], {}, ValueError, "sum to 1"),
        (np.array([[2.0, -1.0], [0.5, 0.5]]), [0, 1], {}, ValueError, "logits"),
        (np.full((2, 2), 0.5), [0, 2], {}, IndexError, "[0, 1]"),
        (np.full((2, 2), 0.5), [0.0, 1.0], {}, TypeError, "integer class indices"),
        (np.full((2, 2), 0.5), [0, 1, 1], {}, ValueError, "shape (2,)"),
        (np.full((2, 2), 0.5), [0, 1], {"n_bins": 0}, ValueError, "n_bins"),
        (np.full((2, 2, 2), 0.5), [0, 1], {}, ValueError, "(N, C)"),
    ],
)
def test_bad_input_is_refused_with_a_helpful_message(probs, labels, kwargs, exc, words):
    with pytest.raises(exc) as info:
        cal.expected_calibration_error(probs, labels, **kwargs)
    assert words in str(info.value)


def test_fit_temperature_refuses_bad_bounds_and_temperature():
    z, y = np.zeros((3, 2)), np.array([0, 1, 0])
    with pytest.raises(ValueError, match="bounds"):
        cal.fit_temperature(z, y, bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="temperature"):
        cal.softmax(z, temperature=0.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        cal.fit_temperature(np.array([[np.nan, 0.0]]), [0])


def test_reliability_diagram_draws_one_bar_per_nonempty_bin():
    import matplotlib

    matplotlib.use("Agg")
    p, y = _calibrated_sample(200, seed=9)
    curve = cal.reliability_curve(p, y, n_bins=10)
    fig, ax = cal.plot_reliability_diagram(curve)
    n_full = int((curve.counts > 0).sum())
    assert len(ax.patches) == 2 * n_full
    assert ax.get_title() == f"ECE = {curve.ece:.3f}"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_confidence_on_a_bin_edge_goes_to_the_bin_below_as_documented():
    from lossbook import calibration as cal

    for conf, n_bins, expected_bin in [(0.5, 2, 0), (0.75, 4, 2), (0.8, 10, 7), (1.0, 15, 14), (0.25, 4, 0)]:
        probs = np.array([[conf, 1 - conf]]) if conf >= 0.5 else np.full((1, 4), 0.25)
        top = probs.max(axis=1)[0]
        curve = cal.reliability_curve(probs, np.array([0]), n_bins=n_bins)
        assert int(np.flatnonzero(curve.counts)[0]) == expected_bin, (conf, n_bins)
        lo, hi = curve.edges[expected_bin], curve.edges[expected_bin + 1]
        assert lo < top <= hi
