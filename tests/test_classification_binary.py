"""Binary, margin and focal losses: parity with PyTorch (values and gradients), errors, warnings, stability and
properties. (The Dice loss moved to lossbook.vision; its tests are in test_vision.py.)"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from parity import assert_close, check_parity, numerical_grad

import lossbook

pytestmark = pytest.mark.filterwarnings("error::lossbook.LossInputWarning")

RNG = np.random.default_rng(20240611)
DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(7,), (4, 5), (2, 3, 4), ()]


def _logits(shape, dtype=np.float64, scale=2.0):
    return np.asarray(scale * RNG.standard_normal(shape), dtype=dtype)


def _probs(shape, dtype=np.float64):
    return np.asarray(RNG.uniform(0.02, 0.98, shape), dtype=dtype)


def _labels(shape, dtype=np.float64):
    return np.asarray(RNG.integers(0, 2, shape), dtype=dtype)


def _torch_reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


# ---- references for what PyTorch itself does not have (or computes naively) ------------------------
def torch_focal(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss's published formula (Lin et al. 2017); torchvision is not installed."""
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _torch_reduce(loss, reduction)


def torch_soft_margin_stable(input, target, reduction="mean"):
    return _torch_reduce(F.softplus(-target * input), reduction)


# =====================================================================================================
# binary_cross_entropy
# =====================================================================================================
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_parity(reduction, shape, dtype):
    soft = np.asarray(RNG.uniform(0, 1, shape), dtype=dtype)
    check_parity("binary_cross_entropy", [_probs(shape, dtype), soft], {"reduction": reduction})
    check_parity("binary_cross_entropy", [_probs(shape, dtype), _labels(shape, dtype)], {"reduction": reduction})


@pytest.mark.parametrize("wshape", [(5,), (4, 1), (1,), (), (4, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_weight_broadcasting(wshape, reduction, dtype):
    w = RNG.uniform(0.1, 2, wshape).astype(dtype)
    check_parity(
        "binary_cross_entropy", [_probs((4, 5), dtype), _labels((4, 5), dtype)], {"weight": w, "reduction": reduction}
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_clamps_log_at_minus_100_and_matches_torch_grad_at_0_and_1(dtype):
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 1e-30, 0.5], dtype=dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 0.5, 0.0], dtype=dtype)
    value, (g,) = check_parity("binary_cross_entropy", [x, t], {"reduction": "none"})
    assert np.all(np.isfinite(value)) and value[2] == 100 and value[3] == 100
    assert g[0] == 0 and g[1] == 0 and abs(g[2]) == pytest.approx(1e12)


def test_bce_empty_mean_is_nan_like_torch():
    check_parity("binary_cross_entropy", [np.zeros(0), np.zeros(0)], {"reduction": "mean"})
    assert np.isnan(lossbook.binary_cross_entropy(np.zeros(0), np.zeros(0)))


def test_bce_refuses_logits_with_the_fix():
    with pytest.raises(ValueError, match=r"`input`.*\[0, 1\].*binary_cross_entropy_with_logits"):
        lossbook.binary_cross_entropy(np.array([-1.2, 0.3, 2.0]), np.array([0.0, 1.0, 1.0]))


@pytest.mark.parametrize("bad", [np.array([0.0, 2.0, 1.0]), np.array([-1.0, 1.0, 1.0])])
def test_bce_refuses_targets_outside_0_1(bad):
    with pytest.raises(ValueError, match=r"`target`.*\[0, 1\]"):
        lossbook.binary_cross_entropy(np.full(3, 0.5), bad)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_bce_shape_nan_reduction_and_weight_errors(name):
    fn = getattr(lossbook, name)
    x = np.full(4, 0.5) if name == "binary_cross_entropy" else np.array([-1.0, 2.0, 0.5, -3.0])
    with pytest.raises(ValueError, match=r"`target` has shape \(4, 1\).*reshape"):
        fn(x, np.zeros((4, 1)))
    with pytest.raises(ValueError, match="`target` contains NaN"):
        fn(x, np.array([0.0, np.nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        fn(x, np.zeros(4), reduction="batchmean")
    with pytest.raises(ValueError, match=r"`weight` has shape \(3,\).*broadcast"):
        fn(x, np.zeros(4), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"`weight` has shape \(2, 4\)"):
        fn(x, np.zeros(4), weight=np.ones((2, 4)))
    with pytest.raises(ValueError, match="`weight` must hold finite, non-negative"):
        fn(x, np.zeros(4), weight=np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="`input` is a torch.Tensor"):
        fn(torch.tensor(x), np.zeros(4))


def test_bce_lists_become_float64_and_float32_stays():
    assert lossbook.binary_cross_entropy([0.2, 0.7], [0.0, 1.0]).dtype == np.float64
    x = _probs((3,), np.float32)
    assert lossbook.binary_cross_entropy(x, _labels((3,), np.float32)).dtype == np.float32
    assert lossbook.binary_cross_entropy.grad(x, _labels((3,), np.float32)).dtype == np.float32


# =====================================================================================================
# binary_cross_entropy_with_logits
# =====================================================================================================
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_logits_parity(reduction, shape, dtype):
    soft = np.asarray(RNG.uniform(0, 1, shape), dtype=dtype)
    check_parity("binary_cross_entropy_with_logits", [_logits(shape, dtype), soft], {"reduction": reduction})


@pytest.mark.parametrize(
    "xshape, wshape, pshape",
    [
        ((6, 3), (3,), None),
        ((6, 3), None, (3,)),
        ((6, 3), (6, 1), (3,)),
        ((6, 3), (), ()),
        ((6, 3), (6, 3), (6, 3)),
        ((2, 3, 4, 4), None, (3, 1, 1)),
        ((2, 3, 4, 4), (3, 1, 1), (4,)),
        ((5,), None, (5,)),
    ],
)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_logits_weight_and_pos_weight(xshape, wshape, pshape, reduction, dtype):
    w = None if wshape is None else RNG.uniform(0.1, 2, wshape).astype(dtype)
    pw = None if pshape is None else RNG.uniform(0.1, 5, pshape).astype(dtype)
    t = RNG.uniform(0, 1, xshape).astype(dtype)
    kwargs = {"weight": w, "pos_weight": pw, "reduction": reduction}
    check_parity("binary_cross_entropy_with_logits", [_logits(xshape, dtype), t], kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_logits_stable_for_huge_logits(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4, 800.0, -800.0], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.25, 0.75], dtype=dtype)
    pw = np.array(3.0, dtype=dtype)
    value, (g,) = check_parity("binary_cross_entropy_with_logits", [x, t], {"reduction": "none", "pos_weight": pw})
    # exact values: softplus(-x) for the positive part, softplus(x) for the negative part
    expected = np.array([0.0, 0.0, 1e4, 3e4, 0.75 * 800, 3 * 0.75 * 800])
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-30)


def test_bce_logits_pos_weight_wrong_axis_refused():
    x = _logits((4, 3))
    with pytest.raises(ValueError, match=r"`pos_weight` has shape \(4,\)"):
        lossbook.binary_cross_entropy_with_logits(x, _labels((4, 3)), pos_weight=np.ones(4))


def test_bce_logits_refuses_targets_outside_0_1_with_pm1_hint():
    with pytest.raises(ValueError, match=r"`target`.*\(target \+ 1\) / 2"):
        lossbook.binary_cross_entropy_with_logits(np.zeros(3), np.array([-1.0, 1.0, 1.0]))


@pytest.mark.parametrize(
    "name", ["binary_cross_entropy_with_logits", "multilabel_soft_margin_loss", "sigmoid_focal_loss"]
)
def test_logits_losses_warn_on_probabilities(name):
    fn = getattr(lossbook, name)
    p = RNG.uniform(0, 1, (8, 4))
    with pytest.warns(
        lossbook.LossInputWarning,
        match="expects logits; sigmoid is applied inside. Passing sigmoid outputs squashes them twice",
    ):
        fn(p, _labels((8, 4)))
    # no warning: tiny inputs, constant inputs, ordinary logits (the module-level filter turns warnings into errors)
    fn(p[:1, :3], _labels((1, 3)))
    fn(np.full((8, 4), 0.5), _labels((8, 4)))
    fn(_logits((8, 4)) + 3.0 * np.sign(RNG.standard_normal((8, 4))), _labels((8, 4)))


# =====================================================================================================
# soft_margin_loss
# =====================================================================================================
def _pm1(shape, dtype=np.float64):
    return np.asarray(2 * RNG.integers(0, 2, shape) - 1, dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_margin_parity(reduction, shape, dtype):
    check_parity("soft_margin_loss", [_logits(shape, dtype), _pm1(shape, dtype)], {"reduction": reduction})


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_stable_where_torch_overflows(dtype, reduction):
    x = np.array([-1e4, 1e4, 800.0, -3.0, 100.0], dtype=dtype)
    y = np.array([1.0, -1.0, -1.0, 1.0, -1.0], dtype=dtype)
    naive = F.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(y), reduction="none").numpy()
    assert np.isinf(naive[0]) and np.isinf(naive[1])  # PyTorch's naive formula overflows
    value, (g,) = check_parity("soft_margin_loss", [x, y], {"reduction": reduction}, torch_fn=torch_soft_margin_stable)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g))
    if reduction == "none":
        np.testing.assert_allclose(value[:3], [1e4, 1e4, 800.0], rtol=1e-6)


def test_soft_margin_refuses_01_targets_with_fix():
    with pytest.raises(ValueError, match=r"`target`.*-1 or \+1.*2 \* target - 1"):
        lossbook.soft_margin_loss(np.zeros(3), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"`target` must hold labels -1 or \+1"):
        lossbook.soft_margin_loss(np.zeros(3), np.array([0.5, 1.0, -1.0]))
    with pytest.raises(ValueError, match=r"`target` has shape \(3, 1\)"):
        lossbook.soft_margin_loss(np.zeros(3), np.ones((3, 1)))


# =====================================================================================================
# multi_margin_loss
# =====================================================================================================
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.5, -0.3, 2.5])
@pytest.mark.parametrize("use_weight", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_multi_margin_parity(p, margin, use_weight, reduction, dtype):
    n, c = 6, 5
    x = _logits((n, c), dtype, scale=1.0)
    y = RNG.integers(0, c, n)
    w = RNG.uniform(0.1, 2, c).astype(dtype) if use_weight else None
    check_parity("multi_margin_loss", [x, y], {"p": p, "margin": margin, "weight": w, "reduction": reduction})


@pytest.mark.parametrize("target", [np.array(2), np.array([2])])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_unbatched(target, reduction, p):
    check_parity("multi_margin_loss", [_logits((4,), scale=0.7), target], {"reduction": reduction, "p": p})


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_kink_gradient_is_torch_choice(p):
    x = np.array([[1.0, 0.0, 0.5]])  # class 1: margin - x_y + x_1 = 0 exactly
    _, (g,) = check_parity("multi_margin_loss", [x, np.array([0])], {"reduction": "sum", "p": p})
    assert g[0, 1] == 0


def test_multi_margin_errors():
    x = _logits((3, 4))
    with pytest.raises(ValueError, match="`p` must be 1 or 2"):
        lossbook.multi_margin_loss(x, np.array([0, 1, 2]), p=3)
    with pytest.raises(IndexError, match=r"`target`.*\[0, 3\]"):
        lossbook.multi_margin_loss(x, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match=r"`target`.*argmax"):
        lossbook.multi_margin_loss(x, np.eye(4)[[0, 1, 2]])
    with pytest.raises(ValueError, match=r"`target` has shape \(3, 4\).*argmax"):
        lossbook.multi_margin_loss(x, np.eye(4, dtype=np.int64)[[0, 1, 2]])
    with pytest.raises(ValueError, match=r"`weight` must be one-dimensional.*\(4,\)"):
        lossbook.multi_margin_loss(x, np.array([0, 1, 2]), weight=np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"`input` must have shape \(N, C\) or \(C,\)"):
        lossbook.multi_margin_loss(x[None], np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="`margin` must be finite"):
        lossbook.multi_margin_loss(x, np.array([0, 1, 2]), margin=float("inf"))


def test_multi_margin_empty_batch_mean_is_nan():
    # PyTorch 2.13 returns an uninitialised number here; lossbook returns NaN like every other empty mean.
    assert np.isnan(lossbook.multi_margin_loss(np.zeros((0, 3)), np.zeros(0, dtype=np.int64)))


# =====================================================================================================
# multilabel_margin_loss
# =====================================================================================================
def _index_targets(n, c, rng=RNG):
    """Rows of distinct class indices followed by -1, then (ignored) arbitrary valid values."""
    rows = []
    for _ in range(n):
        k = rng.integers(0, c + 1)
        row = list(rng.permutation(c)[:k])
        if k < c:
            row.append(-1)
            row += list(rng.integers(-1, c, c - k - 1))
        rows.append(row)
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 5), (1, 3), (5,)])
def test_multilabel_margin_parity(reduction, dtype, shape):
    n, c = (1, shape[0]) if len(shape) == 1 else shape
    y = _index_targets(n, c).reshape(shape)
    check_parity("multilabel_margin_loss", [_logits(shape, dtype, scale=0.8), y], {"reduction": reduction})


def test_multilabel_margin_large_class_count_is_blocked_and_right():
    x = _logits((40, 300), scale=0.05)
    y = _index_targets(40, 300)
    check_parity("multilabel_margin_loss", [x, y], {"reduction": "mean"})


def test_multilabel_margin_reads_indices_then_padding():
    x = np.array([[0.1, 0.2, 0.4, 0.8]])
    # classes 3 and 0 are targets; the 1 after the -1 is ignored
    value, _ = check_parity("multilabel_margin_loss", [x, np.array([[3, 0, -1, 1]])], {"reduction": "none"})
    by_hand = sum(max(0, 1 - (x[0, j] - x[0, k])) for j in (3, 0) for k in (1, 2)) / 4
    assert value[0] == pytest.approx(by_hand, rel=1e-12)


def test_multilabel_margin_kink_gradient_is_torch_choice():
    x = np.array([[1.0, 0.0, 0.5]])  # x_0 - x_1 == 1 exactly
    _, (g,) = check_parity("multilabel_margin_loss", [x, np.array([[0, -1, 0]])], {"reduction": "sum"})
    assert g[0, 1] == 0


def test_multilabel_margin_refuses_multi_hot_and_bad_indices():
    x = _logits((2, 4))
    with pytest.raises(ValueError, match=r"`target` row 0.*multi-hot.*multilabel_soft_margin_loss"):
        lossbook.multilabel_margin_loss(x, np.array([[0, 1, 1, 0], [1, 0, 0, 1]]))
    with pytest.raises(TypeError, match=r"`target`.*integer class indices padded with -1.*multi-hot"):
        lossbook.multilabel_margin_loss(x, np.array([[0.0, 1.0, 1.0, 0.0]] * 2))
    with pytest.raises(IndexError, match=r"`target`.*\[0, 3\] or the padding value -1"):
        lossbook.multilabel_margin_loss(x, np.array([[4, -1, 0, 0], [0, -1, 0, 0]]))
    with pytest.raises(IndexError, match=r"`target`.*-2"):
        lossbook.multilabel_margin_loss(x, np.array([[3, -2, 0, 0], [0, -1, 0, 0]]))
    with pytest.raises(IndexError, match="`target`"):  # PyTorch checks entries after the first -1 too
        lossbook.multilabel_margin_loss(x, np.array([[3, -1, 7, 9], [0, -1, 0, 0]]))
    with pytest.raises(ValueError, match=r"`target` has shape \(2, 3\).*-1 padding"):
        lossbook.multilabel_margin_loss(x, np.array([[3, -1, 0], [0, -1, 0]]))
    with pytest.raises(ValueError, match="`target` row 1 .*more than once"):
        lossbook.multilabel_margin_loss(x, np.array([[3, -1, 0, 0], [2, 2, -1, 0]]))


# =====================================================================================================
# multilabel_soft_margin_loss
# =====================================================================================================
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (4,), (2, 3, 5)])
@pytest.mark.parametrize("wkind", [None, "class", "full", "scalar"])
def test_multilabel_soft_margin_parity(reduction, dtype, shape, wkind):
    w = {
        None: None,
        "class": RNG.uniform(0.1, 2, shape[-1]),
        "full": RNG.uniform(0.1, 2, shape),
        "scalar": np.array(1.7),
    }[wkind]
    w = None if w is None else w.astype(dtype)
    check_parity(
        "multilabel_soft_margin_loss",
        [_logits(shape, dtype), _labels(shape, dtype)],
        {"weight": w, "reduction": reduction},
    )


def test_multilabel_soft_margin_int_targets_and_large_logits():
    x = np.array([[1e4, -1e4, 3.0], [-1e4, 1e4, -2.0]])
    y = np.array([[0, 1, 1], [0, 1, 0]])
    value, (g,) = check_parity("multilabel_soft_margin_loss", [x, y.astype(np.float64)], {"reduction": "none"})
    np.testing.assert_allclose(lossbook.multilabel_soft_margin_loss(x, y, reduction="none"), value, rtol=0)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g))
    assert value[0] == pytest.approx((2e4 + np.log1p(np.exp(-3.0))) / 3, rel=1e-12)


def test_multilabel_soft_margin_errors():
    with pytest.raises(ValueError, match=r"`target`.*\[0, 1\]"):
        lossbook.multilabel_soft_margin_loss(_logits((2, 3)), np.array([[0, 2, 1], [1, 0, 0]]))
    with pytest.raises(ValueError, match=r"`target` has shape \(2,\)"):
        lossbook.multilabel_soft_margin_loss(_logits((2, 3)), np.array([0, 2]))
    with pytest.raises(ValueError, match=r"`weight` has shape \(2,\)"):
        lossbook.multilabel_soft_margin_loss(_logits((2, 3)), _labels((2, 3)), weight=np.ones(2))


# =====================================================================================================
# sigmoid_focal_loss
# =====================================================================================================
@pytest.mark.parametrize("alpha", [0.25, -1.0, 0.0, 1.0])
@pytest.mark.parametrize("gamma", [2, 0, 1, 0.5, 3.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_parity(alpha, gamma, reduction, dtype):
    shape = (5, 4)
    t = _labels(shape, dtype) if gamma != 0.5 else np.asarray(RNG.uniform(0, 1, shape), dtype=dtype)
    kwargs = {"alpha": alpha, "gamma": gamma, "reduction": reduction}
    check_parity("sigmoid_focal_loss", [_logits(shape, dtype), t], kwargs, torch_fn=torch_focal)


def test_focal_default_reduction_is_none():
    x, t = _logits((3, 2)), _labels((3, 2))
    assert lossbook.sigmoid_focal_loss(x, t).shape == (3, 2)
    check_parity("sigmoid_focal_loss", [x, t], {}, torch_fn=torch_focal)


@pytest.mark.parametrize("dtype", DTYPES)
def test_focal_stable_for_huge_logits(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4, 50.0, -50.0], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0], dtype=dtype)
    value = lossbook.sigmoid_focal_loss(x, t)
    g = lossbook.sigmoid_focal_loss.grad(x, t)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g))
    # wrong with full confidence: (1 - p_t) = 1, loss = weight * |x|; right with full confidence: 0
    expected = np.array([0.0, 0.0, 0.75 * 1e4, 0.25 * 1e4, 0.75 * 50, 0.25 * 50])
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    np.testing.assert_allclose(g, [0, 0, 0.75, -0.25, 0.75, -0.25], rtol=1e-6, atol=1e-30)


def test_focal_errors():
    x, t = _logits((3,)), _labels((3,))
    with pytest.raises(ValueError, match=r"`alpha` must lie in \[0, 1\]"):
        lossbook.sigmoid_focal_loss(x, t, alpha=1.5)
    with pytest.raises(ValueError, match="`gamma` must be non-negative"):
        lossbook.sigmoid_focal_loss(x, t, gamma=-1)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        lossbook.sigmoid_focal_loss(x, t, reduction="avg")
    with pytest.raises(ValueError, match=r"`targets`.*\[0, 1\]"):
        lossbook.sigmoid_focal_loss(x, np.array([-1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"`targets` has shape \(3, 1\)"):
        lossbook.sigmoid_focal_loss(x, np.ones((3, 1)))


# =====================================================================================================
# metadata, import hygiene
# =====================================================================================================
EXPECTED_PREDICTION = {
    "binary_cross_entropy": "probabilities",
    "binary_cross_entropy_with_logits": "logits",
    "multilabel_soft_margin_loss": "logits",
    "sigmoid_focal_loss": "logits",
    "soft_margin_loss": "scores",
    "multi_margin_loss": "scores",
    "multilabel_margin_loss": "scores",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PREDICTION))
def test_metadata_and_signature(name):
    import inspect

    fn = getattr(lossbook, name)
    info = fn.info
    assert info.family == "classification" and info.prediction == EXPECTED_PREDICTION[name]
    assert info.reference and info.target_values and callable(fn.grad)
    assert ".. math::" in fn.__doc__
    if info.torch_function and info.torch_function.startswith("torch.nn.functional."):
        tparams = [
            (p.name, p.default)
            for p in inspect.signature(getattr(F, name)).parameters.values()
            if p.name not in ("size_average", "reduce")
        ]
        assert [(p.name, p.default) for p in inspect.signature(fn).parameters.values()] == tparams
    assert list(inspect.signature(fn.grad).parameters) == list(inspect.signature(fn).parameters)


def test_focal_signature_matches_torchvision():
    import inspect

    params = inspect.signature(lossbook.sigmoid_focal_loss).parameters
    assert [(p.name, p.default) for p in params.values()] == [
        ("inputs", inspect.Parameter.empty),
        ("targets", inspect.Parameter.empty),
        ("alpha", 0.25),
        ("gamma", 2),
        ("reduction", "none"),
    ]


# =====================================================================================================
# properties
# =====================================================================================================
seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(1, 6)


@settings(max_examples=40, deadline=None)
@given(seeds, sizes, sizes)
def test_property_nonnegative_and_zero_at_perfect_prediction(seed, n, c):
    rng = np.random.default_rng(seed)
    x = 3 * rng.standard_normal((n, c))
    t = rng.integers(0, 2, (n, c)).astype(np.float64)
    p = rng.uniform(0, 1, (n, c))
    y = rng.integers(0, c, n)
    values = [
        lossbook.binary_cross_entropy(p, t),
        lossbook.binary_cross_entropy_with_logits(x, t, pos_weight=rng.uniform(0, 3, c)),
        lossbook.soft_margin_loss(x, 2 * t - 1),
        lossbook.multi_margin_loss(x, y, p=int(rng.integers(1, 3))),
        lossbook.multilabel_margin_loss(x, _index_targets(n, c, rng)),
        lossbook.multilabel_soft_margin_loss(x, t),
        lossbook.sigmoid_focal_loss(x, t, reduction="sum"),
    ]
    assert all(float(v) >= 0 for v in values)
    # perfect predictions
    assert lossbook.binary_cross_entropy(t, t) == 0
    confident = np.where(np.arange(c) == y[:, None], 5.0, 0.0)  # target class 5 above all others
    assert lossbook.multi_margin_loss(confident, y) == 0
    assert lossbook.multilabel_margin_loss(confident, np.where(np.arange(c) == 0, y[:, None], -1)) == 0


@settings(max_examples=40, deadline=None)
@given(seeds, sizes)
def test_property_family_identities(seed, n):
    rng = np.random.default_rng(seed)
    x = 4 * rng.standard_normal((n, 3))
    t = rng.integers(0, 2, (n, 3)).astype(np.float64)
    bce_logits = lossbook.binary_cross_entropy_with_logits(x, t, reduction="none")
    # BCE on sigmoid outputs equals BCE on logits for moderate logits
    p = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(lossbook.binary_cross_entropy(p, t, reduction="none"), bce_logits, rtol=1e-7, atol=1e-12)
    # focal loss with gamma = 0 and no alpha weighting is BCE with logits
    np.testing.assert_allclose(lossbook.sigmoid_focal_loss(x, t, alpha=-1, gamma=0), bce_logits, rtol=1e-12, atol=1e-15)
    # soft margin with ±1 labels is BCE with logits on (y + 1) / 2
    y = 2 * t - 1
    np.testing.assert_allclose(lossbook.soft_margin_loss(x, y, reduction="none"), bce_logits, rtol=1e-12, atol=1e-15)
    # multilabel soft margin is the per-class mean of BCE with logits
    np.testing.assert_allclose(
        lossbook.multilabel_soft_margin_loss(x, t, reduction="none"), bce_logits.mean(-1), rtol=1e-12
    )


def _fd_cases(rng, n, c):
    x = 2 * rng.standard_normal((n, c))
    t = rng.integers(0, 2, (n, c)).astype(np.float64)
    soft = rng.uniform(0, 1, (n, c))
    p = rng.uniform(0.05, 0.95, (n, c))
    y = rng.integers(0, c, n)
    return [
        ("binary_cross_entropy", p, (soft,), {"weight": rng.uniform(0.1, 2, c)}),
        ("binary_cross_entropy_with_logits", x, (soft,), {"pos_weight": rng.uniform(0.1, 3, c), "reduction": "sum"}),
        ("soft_margin_loss", x, (2 * t - 1,), {}),
        ("multi_margin_loss", x, (y,), {"p": int(rng.integers(1, 3)), "margin": 0.7, "weight": rng.uniform(0.1, 2, c)}),
        ("multilabel_margin_loss", x, (_index_targets(n, c, rng),), {"reduction": "sum"}),
        ("multilabel_soft_margin_loss", x, (t,), {"weight": rng.uniform(0.1, 2, c)}),
        ("sigmoid_focal_loss", x, (soft,), {"gamma": float(rng.uniform(0, 3)), "reduction": "mean"}),
    ]


@settings(max_examples=30, deadline=None)
@given(seeds, sizes, st.integers(2, 5))
def test_property_grads_match_finite_differences(seed, n, c):
    rng = np.random.default_rng(seed)
    for name, x, rest, kwargs in _fd_cases(rng, n, c):
        fn = getattr(lossbook, name)
        num = numerical_grad(lambda v, fn=fn, rest=rest, kwargs=kwargs: np.sum(fn(v, *rest, **kwargs)), x)
        assert_close(fn.grad(x, *rest, **kwargs), num, rtol=1e-5, atol=1e-6, what=f"{name} grad vs finite differences")


# ---- issue 12: differential-fuzzing findings against torch 2.13 -----------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_soft_margin_with_no_classes_as_torch(reduction):
    """A (2, 0) input: the gradient used to raise ZeroDivisionError; torch returns an empty gradient."""
    x, y = np.zeros((2, 0)), np.zeros((2, 0))
    value, (g,) = check_parity("multilabel_soft_margin_loss", [x, y], {"reduction": reduction})
    assert g.shape == (2, 0)


# =====================================================================================================
# Targets as PyTorch takes them: the dtypes torch refuses are refused, with the fix
# =====================================================================================================
def _torch_refuses(torch_call):
    try:
        torch_call()
    except (RuntimeError, TypeError, ValueError):
        return True
    return False


def _focal_torch(x, y):
    return torch_focal(x, y, reduction="mean")


# (lossbook name, torch function, what lossbook should say) for float-label losses with integer/bool targets
FLOAT_TARGET_LOSSES = [
    ("binary_cross_entropy", F.binary_cross_entropy, "int", True),
    ("binary_cross_entropy", F.binary_cross_entropy, "bool", True),
    ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, "int", True),
    ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, "bool", True),
    ("sigmoid_focal_loss", _focal_torch, "int", True),
    ("sigmoid_focal_loss", _focal_torch, "bool", True),
    ("multilabel_soft_margin_loss", F.multilabel_soft_margin_loss, "int", False),  # torch converts integers
    ("multilabel_soft_margin_loss", F.multilabel_soft_margin_loss, "bool", True),
]


@pytest.mark.parametrize("name, torch_fn, kind, refused", FLOAT_TARGET_LOSSES)
@pytest.mark.parametrize("int_dtype", [np.int64, np.int32, np.uint8])
def test_float_label_losses_take_the_target_dtypes_torch_takes(name, torch_fn, kind, refused, int_dtype):
    if kind == "bool" and int_dtype is not np.int64:
        pytest.skip("one boolean dtype")
    x = _probs((4, 3)) if name == "binary_cross_entropy" else _logits((4, 3))
    y = _labels((4, 3)).astype(bool if kind == "bool" else int_dtype)
    assert _torch_refuses(lambda: torch_fn(torch.from_numpy(x), torch.from_numpy(y))) is refused
    fn = getattr(lossbook, name)
    kwargs = {"reduction": "mean"} if name == "sigmoid_focal_loss" else {}
    if refused:
        what = "booleans" if kind == "bool" else "integers"
        pattern = rf"holds {what}.*torch\.nn\.functional\.binary_cross_entropy|holds {what}.*refuses"
        for call in (fn, fn.grad):
            with pytest.raises(TypeError, match=pattern) as info:
                call(x, y, **kwargs)
            assert ".astype(np.float32)" in str(info.value) and ".float()" in str(info.value)
    else:
        expected = torch_fn(torch.from_numpy(x), torch.from_numpy(y)).item()
        assert float(fn(x, y, **kwargs)) == pytest.approx(expected, rel=1e-12)
    # the fix the message names makes both libraries agree
    y_float = y.astype(np.float64)
    expected = torch_fn(torch.from_numpy(x), torch.from_numpy(y_float)).item()
    assert float(fn(x, y_float, **kwargs)) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8])
def test_soft_margin_loss_accepts_signed_integer_targets_like_torch(dtype):
    x = _logits((5,))
    y = np.array([1, -1, 1, 1, -1]).astype(dtype)
    expected = F.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert float(lossbook.soft_margin_loss(x, y)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint8])
def test_margin_losses_take_only_int64_indices_like_torch(name, dtype):
    x = _logits((3, 4))
    y = np.array([0, 3, 1]) if name == "multi_margin_loss" else np.array([[0, 2, -1, 0], [3, -1, 0, 0], [1, -1, 2, 0]])
    if dtype is np.uint8 and name == "multilabel_margin_loss":
        y = np.array([[0, 2, 1, 3]] * 3)  # no padding, so that uint8 can hold it
    with pytest.raises(RuntimeError, match="expected scalar type Long"):
        getattr(F, name)(torch.from_numpy(x), torch.from_numpy(y.astype(dtype)))
    with pytest.raises(TypeError, match=rf"dtype {np.dtype(dtype).name}.*takes only int64 \(Long\).*astype\(np\.int64\)"):
        getattr(lossbook, name)(x, y.astype(dtype))
    expected = getattr(F, name)(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert float(getattr(lossbook, name)(x, y)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "name, torch_does",
    [
        ("binary_cross_entropy", "raises"),
        ("binary_cross_entropy_with_logits", "raises"),
        ("soft_margin_loss", "raises"),
        ("multilabel_soft_margin_loss", "silently"),
    ],
)
def test_a_n1_target_message_says_what_torch_does(name, torch_does):
    import warnings

    x = _probs((4,)) if name == "binary_cross_entropy" else _logits((4,))
    y = np.array([[1.0], [0.0], [1.0], [1.0]])
    if name == "soft_margin_loss":
        y = 2 * y - 1
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    if name == "multilabel_soft_margin_loss":  # classes last: a (4, 1) input with a (4,) target broadcasts
        x, y, x_t, y_t = x[:, None], y[:, 0], x_t[:, None], y_t[:, 0]
    if torch_does == "raises":
        assert _torch_refuses(lambda: getattr(F, name)(x_t, y_t))
        expected = "PyTorch raises for them too"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            getattr(F, name)(x_t, y_t)
        expected = "without any warning"
    with pytest.raises(ValueError, match="same shape") as info:
        getattr(lossbook, name)(x, y)
    assert expected in str(info.value) and "UserWarning" not in str(info.value)
    assert "reshape" in str(info.value)


def test_mse_n1_message_still_says_torch_warns():
    with pytest.raises(ValueError, match="only a UserWarning"):
        lossbook.mse_loss(np.zeros(4), np.zeros((4, 1)))
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(torch.zeros(4), torch.zeros(4, 1))
