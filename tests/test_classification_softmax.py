"""Softmax-family classification losses (cross_entropy, nll_loss, kl_div): parity with torch.nn.functional in
value and gradient for every option, bad input, warnings, stability and properties."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from parity import check_parity, numerical_grad

import lossbook
from lossbook import LossInputWarning

RNG = np.random.default_rng(20240611)
C = 5
# (input shape, class axis); C = 5 classes everywhere
SHAPES = {
    "unbatched": ((C,), 0),
    "NC": ((6, C), 1),
    "NCd": ((4, C, 3), 1),
    "NCdd": ((3, C, 2, 3), 1),
}
REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float64, np.float32]


def _logits(shape, dtype=np.float64, scale=2.0):
    return (scale * RNG.standard_normal(shape)).astype(dtype)


def _index_shape(shape, axis):
    return shape[:axis] + shape[axis + 1 :]


def _indices(shape, axis, ignore):
    """Random class indices; `ignore` is None (nothing ignored), -100 (some set to -100) or 1 (class 1 ignored)."""
    t = RNG.integers(0, C, _index_shape(shape, axis))
    if ignore == -100 and t.ndim:
        t[RNG.random(t.shape) < 0.3] = -100
    return np.asarray(t, dtype=np.int64)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _probs(shape, axis, dtype=np.float64):
    return _softmax(RNG.standard_normal(shape), axis).astype(dtype)


def _parity_all_reductions(name, args, kwargs, reductions=REDUCTIONS):
    """check_parity for every reduction, naming the failing combination (keeps the test count, and time, low)."""
    for reduction in reductions:
        kw = dict(kwargs, reduction=reduction)
        try:
            check_parity(name, args, kw)
        except AssertionError as exc:
            raise AssertionError(f"{name} with {kw}, input {args[0].dtype} {args[0].shape}: {exc}") from None


# ------------------------------------------------------------------------------------------------------------
# Parity: cross_entropy, every option combination
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15, 1.0])
@pytest.mark.parametrize("ignore", [None, -100, 1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_index_targets_parity(weighted, ignore, label_smoothing, shape_name, dtype):
    shape, axis = SHAPES[shape_name]
    x = _logits(shape, dtype)
    t = _indices(shape, axis, ignore)
    kwargs = {"label_smoothing": label_smoothing}
    if ignore is not None:
        kwargs["ignore_index"] = ignore
    if weighted:
        kwargs["weight"] = RNG.uniform(0.2, 3.0, C).astype(dtype)
    _parity_all_reductions("cross_entropy", [x, t], kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets_parity(weighted, label_smoothing, shape_name, dtype):
    shape, axis = SHAPES[shape_name]
    x = _logits(shape, dtype)
    y = _probs(shape, axis, dtype)
    kwargs = {"label_smoothing": label_smoothing}
    if weighted:
        kwargs["weight"] = RNG.uniform(0.2, 3.0, C).astype(dtype)
    _parity_all_reductions("cross_entropy", [x, y], kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_all_targets_ignored(weighted, label_smoothing, reduction):
    x = _logits((4, C))
    t = np.full(4, -100)
    kwargs = {"reduction": reduction, "label_smoothing": label_smoothing}
    if weighted:
        kwargs["weight"] = RNG.uniform(0.2, 3.0, C)
    value, (grad,) = check_parity("cross_entropy", [x, t], kwargs)
    if reduction == "mean":
        assert np.isnan(value)  # 0 / 0, as PyTorch
    else:
        assert np.all(value == 0)
    assert np.all(grad == 0)  # PyTorch's gradient is 0, not NaN


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_unbatched_ignored_target_is_nan_for_mean(name):
    x = np.log(_probs((C,), 0))
    check_parity(name, [x, np.asarray(-100)], {})
    assert np.isnan(getattr(lossbook, name)(x, np.asarray(-100)))
    assert getattr(lossbook, name)(x, np.asarray(-100), reduction="none") == 0


@pytest.mark.parametrize("name,label_smoothing", [("cross_entropy", 0.0), ("cross_entropy", 0.2), ("nll_loss", 0.0)])
def test_zero_total_weight_gives_nan_like_torch(name, label_smoothing):
    """Every kept target has class weight 0: 'mean' is 0/0 = NaN; the gradient's NaN pattern follows PyTorch."""
    x = np.log(_probs((4, C), 1))
    w = np.array([0.0, 1.0, 2.0, 1.0, 1.0])
    kwargs = {"weight": w} | ({"label_smoothing": label_smoothing} if name == "cross_entropy" else {})
    value, _ = check_parity(name, [x, np.zeros(4, dtype=np.int64)], kwargs)
    assert np.isnan(value)


@pytest.mark.parametrize("target_kind", ["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_empty_batch(target_kind, reduction):
    x = np.zeros((0, C))
    t = np.zeros(0, dtype=np.int64) if target_kind == "index" else np.zeros((0, C))
    value, _ = check_parity("cross_entropy", [x, t], {"reduction": reduction})
    if reduction == "mean":
        assert np.isnan(value)


def test_cross_entropy_weight_normalises_mean_not_count():
    """The weighted mean divides by the sum of the target weights (independent check, not torch)."""
    x = _logits((3, C))
    t = np.array([0, 2, 2])
    w = np.array([1.0, 5.0, 3.0, 1.0, 1.0])
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    expected = -(w[t] * logp[np.arange(3), t]).sum() / w[t].sum()
    assert lossbook.cross_entropy(x, t, weight=w) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_smoothing_weight_interaction_differs_by_target_kind():
    """Index targets with weight+smoothing normalise by sum(w[t]); probability targets by N. Both follow torch."""
    x = _logits((6, C))
    t = RNG.integers(0, C, 6)
    onehot = np.eye(C)[t]
    w = RNG.uniform(0.5, 3.0, C)
    kw = {"weight": w, "label_smoothing": 0.2}
    by_index = check_parity("cross_entropy", [x, t], kw)[0]
    by_prob = check_parity("cross_entropy", [x, onehot], kw)[0]
    # identical per-sample losses, different normalisers
    np.testing.assert_allclose(by_index * w[t].sum(), by_prob * 6, rtol=1e-12)
    assert not np.isclose(by_index, by_prob)


# ------------------------------------------------------------------------------------------------------------
# Parity: nll_loss and kl_div
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize("ignore", [None, -100, 1])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_parity(weighted, ignore, shape_name, dtype):
    shape, axis = SHAPES[shape_name]
    x = np.log(_probs(shape, axis)).astype(dtype)
    t = _indices(shape, axis, ignore)
    kwargs = {}
    if ignore is not None:
        kwargs["ignore_index"] = ignore
    if weighted:
        kwargs["weight"] = RNG.uniform(0.2, 3.0, C).astype(dtype)
    _parity_all_reductions("nll_loss", [x, t], kwargs)


KL_SHAPES = [(), (7,), (4, C), (3, C, 2)]


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch and lossbook both warn about 'mean'
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", KL_SHAPES)
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_parity(log_target, shape, dtype):
    axis = 1 if len(shape) > 1 else 0
    if shape == ():
        x = np.asarray(-0.7, dtype=dtype)
        y = np.asarray(0.4)
    else:
        x = np.log(_probs(shape, axis))
        y = _probs(shape, axis)
        y.reshape(-1)[:: 3] = 0.0  # zero target entries: 0 log 0 = 0, zero gradient
    if log_target:
        with np.errstate(divide="ignore"):
            y = np.log(np.maximum(y, 1e-300))
    x, y = np.asarray(x, dtype=dtype), np.asarray(y, dtype=dtype)  # 0-d arrays, not NumPy scalars
    _parity_all_reductions("kl_div", [x, y], {"log_target": log_target}, ["mean", "batchmean", "sum", "none"])


def test_kl_div_zero_target_contributes_zero_and_zero_gradient():
    x = np.log(np.array([[0.5, 0.5], [0.9, 0.1]]))
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    _, (g,) = check_parity("kl_div", [x, y], {"reduction": "none"})
    assert g[0, 1] == 0 and g[1, 0] == 0
    expected = [[np.log(2), 0.0], [0.0, -np.log(0.1)]]
    np.testing.assert_allclose(lossbook.kl_div(x, y, reduction="none"), expected, rtol=1e-14)


def test_kl_div_batchmean_is_sum_over_first_axis_size():
    x = np.log(_probs((4, C), 1))
    y = _probs((4, C), 1)
    np.testing.assert_allclose(
        lossbook.kl_div(x, y, reduction="batchmean"), lossbook.kl_div(x, y, reduction="sum") / 4, rtol=1e-14
    )
    with pytest.warns(LossInputWarning):
        mean = lossbook.kl_div(x, y, reduction="mean")
    np.testing.assert_allclose(mean, lossbook.kl_div(x, y, reduction="sum") / (4 * C), rtol=1e-14)


# ------------------------------------------------------------------------------------------------------------
# Conversions and dtypes
# ------------------------------------------------------------------------------------------------------------


def test_lists_become_float64_and_float32_stays_float32():
    value = lossbook.cross_entropy([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]], [2, 0])
    assert value.dtype == np.float64 and value.shape == ()
    x32 = _logits((4, C), np.float32)
    t = RNG.integers(0, C, 4)
    for fn, args in [
        (lossbook.cross_entropy, (x32, t)),
        (lossbook.cross_entropy, (x32, _probs((4, C), 1, np.float32))),
        (lossbook.nll_loss, (x32 - 10, t)),
        (lossbook.kl_div, (x32 - 10, _probs((4, C), 1, np.float32))),
    ]:
        kw = {"reduction": "batchmean"} if fn is lossbook.kl_div else {}
        assert fn(*args, **kw).dtype == np.float32
        assert fn.grad(*args, **kw).dtype == np.float32


def test_uint8_and_list_index_targets_are_accepted_as_torch_accepts_them():
    x = _logits((3, C))
    ref = lossbook.cross_entropy(x, np.array([1, 4, 0], dtype=np.int64))
    assert lossbook.cross_entropy(x, np.array([1, 4, 0], dtype=np.uint8)) == ref
    assert lossbook.cross_entropy(x, [1, 4, 0]) == ref
    assert lossbook.nll_loss(x, np.array([1, 4, 0], dtype=np.uint8)) == lossbook.nll_loss(x, [1, 4, 0])
    for fn in (F.cross_entropy, F.nll_loss):  # torch accepts Byte too ("expected ... Long or Byte")
        fn(torch.from_numpy(x), torch.tensor([1, 4, 0], dtype=torch.uint8))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.int8, np.uint16])
def test_other_integer_index_dtypes_are_refused_as_torch_refuses_them(name, dtype):
    x = _logits((3, C))
    y = np.array([1, 4, 0], dtype=dtype)
    torch_dtype = {np.int32: torch.int32, np.int16: torch.int16, np.int8: torch.int8, np.uint16: torch.uint16}
    with pytest.raises(RuntimeError, match="Long or Byte"):
        getattr(F, name)(torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)).to(torch_dtype[dtype]))
    pattern = rf"dtype {np.dtype(dtype).name}.*int64 \(Long\) or uint8 \(Byte\).*target\.astype\(np\.int64\)"
    with pytest.raises(TypeError, match=pattern):
        getattr(lossbook, name)(x, y)
    with pytest.raises(TypeError, match=pattern):
        getattr(lossbook, name).grad(x, y)


@pytest.mark.parametrize("kind", ["int", "bool"])
def test_kl_div_refuses_integer_and_boolean_targets_as_torch(kind):
    logp = np.log(np.array([[0.25, 0.75], [0.5, 0.5]]))
    y = np.array([[0, 1], [1, 0]]).astype(np.int64 if kind == "int" else bool)
    with pytest.raises(RuntimeError, match="Integral inputs not supported"):
        F.kl_div(torch.from_numpy(logp), torch.from_numpy(y), reduction="batchmean")
    what = "integers" if kind == "int" else "booleans"
    with pytest.raises(TypeError, match=rf"`target` holds {what}.*kl_div.*astype\(np\.float32\)"):
        lossbook.kl_div(logp, y, reduction="batchmean")
    with pytest.raises(TypeError, match=what):
        lossbook.kl_div.grad(logp, y, reduction="batchmean")
    assert np.isfinite(lossbook.kl_div(logp, y.astype(float), reduction="batchmean"))


def test_kl_div_shape_message_says_torch_broadcasts_silently():
    import warnings

    logp = np.log(np.full(4, 0.25))
    y = np.full((4, 1), 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch broadcasts this pair without a warning
        assert F.kl_div(torch.from_numpy(logp), torch.from_numpy(y), reduction="sum").shape == ()
    with pytest.raises(ValueError, match="without any warning"):
        lossbook.kl_div(logp, y, reduction="sum")


# ------------------------------------------------------------------------------------------------------------
# Bad input is refused
# ------------------------------------------------------------------------------------------------------------


def test_float_onehot_with_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"`target`.*shape \(4, 2\).*\(4, 5\)"):
        lossbook.cross_entropy(_logits((4, C)), np.eye(2)[[0, 1, 1, 0]])


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_integer_onehot_target_is_refused_with_argmax_hint(name):
    t = np.eye(C, dtype=np.int64)[[0, 3, 2, 1]]
    with pytest.raises(ValueError, match=r"`target`.*one-hot.*argmax\(axis=1\)"):
        getattr(lossbook, name)(_logits((4, C)), t)


def test_nll_float_onehot_is_refused():
    with pytest.raises(TypeError, match=r"`target`.*one-hot.*argmax"):
        lossbook.nll_loss(_logits((4, C)), np.eye(C)[[0, 3, 2, 1]])


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_whole_float_indices_are_refused_with_astype_hint(name):
    with pytest.raises(TypeError, match=r"`target`.*must be integers.*astype\(np.int64\)"):
        getattr(lossbook, name)(_logits((4, C)), np.array([0.0, 3.0, 2.0, 1.0]))


def test_fractional_float_index_shaped_target_is_refused():
    with pytest.raises(TypeError, match=r"`target`.*integers"):
        lossbook.cross_entropy(_logits((4, C)), np.array([0.5, 0.2, 0.1, 0.9]))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_out_of_range_index_raises_index_error(name):
    with pytest.raises(IndexError, match=r"`target`.*\[0, 4\].*ignore_index=-100"):
        getattr(lossbook, name)(_logits((3, C)), np.array([0, 5, 1]))
    with pytest.raises(IndexError, match=r"`target`"):
        getattr(lossbook, name)(_logits((3, C)), np.array([0, -1, 1]))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_column_target_is_refused_with_squeeze_hint(name):
    with pytest.raises(ValueError, match=r"`target` has shape \(4, 1\).*squeeze"):
        getattr(lossbook, name)(_logits((4, C)), np.zeros((4, 1), dtype=np.int64))


def test_flat_input_with_per_sample_targets_explains_unbatched():
    with pytest.raises(ValueError, match=r"`target`.*unbatched.*binary_cross_entropy_with_logits"):
        lossbook.cross_entropy(_logits((6,)), np.array([0, 1, 1, 0, 1, 0]))
    with pytest.raises(ValueError, match=r"`target`.*one-hot.*argmax\(axis=0\)"):
        lossbook.cross_entropy(_logits((6,)), np.array([0, 0, 1, 0, 0, 0]))


def test_channels_last_input_gets_moveaxis_hint():
    with pytest.raises(ValueError, match=r"`target`.*moveaxis"):
        lossbook.cross_entropy(_logits((2, 4, 4, C)), RNG.integers(0, C, (2, 4, 4)))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_bad_weight_is_refused(name):
    fn = getattr(lossbook, name)
    x, t = _logits((3, C)), np.array([0, 1, 2])
    with pytest.raises(ValueError, match=r"`weight` has shape \(3,\).*\(5,\)"):
        fn(x, t, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"`weight`.*non-negative"):
        fn(x, t, weight=-np.ones(C))
    with pytest.raises(ValueError, match=r"`weight` contains NaN"):
        fn(x, t, weight=np.array([1.0, np.nan, 1, 1, 1]))


def test_probability_target_outside_unit_interval_or_nan_is_refused():
    x = _logits((3, C))
    y = _probs((3, C), 1)
    y[0, 0] = -0.1
    with pytest.raises(ValueError, match=r"`target` must hold class probabilities in \[0, 1\]"):
        lossbook.cross_entropy(x, y)
    y[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"`target` contains NaN"):
        lossbook.cross_entropy(x, y)


def test_probability_target_rows_not_summing_to_one_warn():
    x = _logits((3, C))
    with pytest.warns(LossInputWarning, match=r"`target` does not sum to 1"):
        lossbook.cross_entropy(x, np.full((3, C), 0.5))


def test_ignore_index_with_probability_targets_is_refused():
    with pytest.raises(ValueError, match=r"`ignore_index`"):
        lossbook.cross_entropy(_logits((3, C)), _probs((3, C), 1), ignore_index=0)


@pytest.mark.parametrize("ls", [-0.1, 1.5, float("nan")])
def test_label_smoothing_outside_unit_interval_is_refused(ls):
    with pytest.raises(ValueError, match="`label_smoothing`"):
        lossbook.cross_entropy(_logits((3, C)), np.array([0, 1, 2]), label_smoothing=ls)


def test_bad_reduction_ignore_index_and_input_are_refused():
    x, t = _logits((3, C)), np.array([0, 1, 2])
    for fn in (lossbook.cross_entropy, lossbook.nll_loss):
        with pytest.raises(ValueError, match="`reduction` must be one of"):
            fn(x, t, reduction="batchmean")
        with pytest.raises(TypeError, match="`ignore_index`"):
            fn(x, t, ignore_index=1.5)
        with pytest.raises(ValueError, match="`input` is a scalar"):
            fn(np.float64(1.0), np.asarray(0))
        with pytest.raises(TypeError, match="`input` is a torch.Tensor"):
            fn(torch.zeros(3, C), t)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        lossbook.kl_div(x, _probs((3, C), 1), reduction="average")


def test_kl_div_bad_targets_are_refused():
    x = np.log(_probs((3, C), 1))
    y = _probs((3, C), 1)
    with pytest.raises(ValueError, match=r"`target` must hold probabilities.*log_target=True"):
        lossbook.kl_div(x, np.log(y), reduction="batchmean")
    with pytest.raises(ValueError, match=r"log_target=True, `target`.*log_target=False"):
        lossbook.kl_div(x, y, reduction="batchmean", log_target=True)
    with pytest.raises(ValueError, match=r"`target` has shape \(3, 1\)"):
        lossbook.kl_div(x, y[:, :1], reduction="batchmean")
    with pytest.raises(ValueError, match=r"`target` contains NaN"):
        lossbook.kl_div(x, np.full((3, C), np.nan), reduction="batchmean")
    with pytest.raises(TypeError, match="`log_target`"):
        lossbook.kl_div(x, y, reduction="batchmean", log_target="yes")


# ------------------------------------------------------------------------------------------------------------
# Warnings for likely mistakes
# ------------------------------------------------------------------------------------------------------------


def test_cross_entropy_warns_on_softmax_output_but_not_on_logits_or_log_probabilities():
    x = _logits((6, C))
    t = RNG.integers(0, C, 6)
    with pytest.warns(LossInputWarning, match="expects raw logits.*applies softmax twice"):
        lossbook.cross_entropy(_softmax(x, 1), t)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LossInputWarning)
        lossbook.cross_entropy(x, t)
        logp = np.log(_softmax(x, 1))
        # log-probabilities are valid: log_softmax is idempotent, so the loss is unchanged
        np.testing.assert_allclose(lossbook.cross_entropy(logp, t), lossbook.cross_entropy(x, t), rtol=1e-12)
        lossbook.cross_entropy(np.array([0.5, 0.5]), np.asarray(0))  # tiny input: no warning


def test_nll_loss_warns_on_probabilities():
    p = _probs((4, C), 1)
    t = np.array([0, 1, 2, 3])
    with pytest.warns(LossInputWarning, match=r"nll_loss expects log-probabilities.*np\.log.*cross_entropy"):
        lossbook.nll_loss(p, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LossInputWarning)
        lossbook.nll_loss(np.log(p), t)


def test_kl_div_warns_on_mean_and_on_probability_input():
    p, q = _probs((4, C), 1), _probs((4, C), 1)
    with pytest.warns(LossInputWarning, match="batchmean"):
        lossbook.kl_div(np.log(p), q)
    with pytest.warns(LossInputWarning, match="log-probabilities"):
        lossbook.kl_div(p, q, reduction="batchmean")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LossInputWarning)
        lossbook.kl_div(np.log(p), q, reduction="batchmean")


# ------------------------------------------------------------------------------------------------------------
# Stability
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_large_logits_finite_and_right(label_smoothing, reduction):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [5e3, 5e3, -1e4]])
    t = np.array([1, 2, 0])
    value, (grad,) = check_parity("cross_entropy", [x, t], {"reduction": reduction, "label_smoothing": label_smoothing})
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    if label_smoothing == 0 and reduction == "none":
        # exact: -log p = logsumexp - x_t = 1e4 - (-1e4), 0, log 2
        # (the last is exact only to the spacing of doubles near 5e3, ~1e-12, in any implementation)
        np.testing.assert_allclose(value, [2e4, 0.0, np.log(2)], rtol=1e-15, atol=2e-12)
    y = np.eye(3)[t] * 0.8 + 0.2 / 3
    value, (grad,) = check_parity("cross_entropy", [x, y], {"reduction": reduction})
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))


def test_kl_div_log_target_large_values_finite():
    x = np.array([[-1e4, 0.0], [0.0, -1e4]])
    y = np.array([[0.0, -1e4], [-1e4, 0.0]])
    value, (grad,) = check_parity("kl_div", [x, y], {"reduction": "batchmean", "log_target": True})
    # row 1: exp(0) * (0 - (-1e4)) + exp(-1e4) * (...) = 1e4 exactly; the same for row 2; batchmean halves the sum
    assert value == 1e4 and np.all(np.isfinite(grad))


# ------------------------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------------------------

logit = st.floats(-30, 30, allow_nan=False)


@st.composite
def logits_and_indices(draw, max_n=5, max_c=5):
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    x = draw(arrays(np.float64, (n, c), elements=logit))
    t = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    return x, t


def _log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@settings(max_examples=40, deadline=None)
@given(logits_and_indices(), st.sampled_from(REDUCTIONS), st.booleans())
def test_cross_entropy_equals_nll_of_log_softmax(xt, reduction, weighted):
    x, t = xt
    w = np.linspace(0.5, 2.0, x.shape[1]) if weighted else None
    logp = _log_softmax(x)
    ce = lossbook.cross_entropy(x, t, weight=w, reduction=reduction)
    nll = lossbook.nll_loss(logp, t, weight=w, reduction=reduction)
    np.testing.assert_allclose(ce, nll, rtol=1e-12, atol=1e-12)
    # chain rule through log_softmax: dCE/dx = g - softmax(x) * sum_c g, g = dNLL/dlogp
    g = lossbook.nll_loss.grad(logp, t, weight=w, reduction=reduction)
    chained = g - np.exp(logp) * g.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        lossbook.cross_entropy.grad(x, t, weight=w, reduction=reduction), chained, rtol=1e-10, atol=1e-14
    )


@settings(max_examples=40, deadline=None)
@given(logits_and_indices(), st.sampled_from(["sum", "none", "mean"]), st.booleans(), st.sampled_from([0.0, 0.1, 0.5]))
def test_onehot_probability_targets_equal_index_targets(xt, reduction, weighted, ls):
    """Holds for 'sum'/'none' always, and for 'mean' without weights (with weights, the normalisers differ)."""
    x, t = xt
    c = x.shape[1]
    w = np.linspace(0.5, 2.0, c) if weighted else None
    if weighted and reduction == "mean":
        w = None
    onehot = np.eye(c)[t]
    kw = dict(weight=w, reduction=reduction, label_smoothing=ls)
    np.testing.assert_allclose(
        lossbook.cross_entropy(x, onehot, **kw), lossbook.cross_entropy(x, t, **kw), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        lossbook.cross_entropy.grad(x, onehot, **kw), lossbook.cross_entropy.grad(x, t, **kw), rtol=1e-12, atol=1e-14
    )


@settings(max_examples=40, deadline=None)
@given(logits_and_indices(), st.sampled_from([0.0, 0.2]))
def test_cross_entropy_nonnegative_and_zero_at_perfect_prediction(xt, ls):
    x, t = xt
    assert lossbook.cross_entropy(x, t, label_smoothing=ls) >= 0
    assert lossbook.nll_loss(_log_softmax(x), t) >= 0
    perfect = np.where(np.eye(x.shape[1])[t] == 1, 1e4, 0.0)  # the target class wins by a huge margin
    assert lossbook.cross_entropy(perfect, t) == 0
    assert lossbook.nll_loss(np.where(np.eye(x.shape[1])[t] == 1, 0.0, -np.inf), t) == 0


@settings(max_examples=40, deadline=None)
@given(logits_and_indices(), logits_and_indices())
def test_kl_divergence_nonnegative_and_zero_only_for_equal(a, b):
    x, _ = a
    y, _ = b
    if x.shape != y.shape:
        y = np.resize(y, x.shape)
    p, q = _log_softmax(x), _softmax(y, 1)
    kl = lossbook.kl_div(p, q, reduction="batchmean")
    assert kl >= -1e-12
    assert lossbook.kl_div(np.log(q), q, reduction="batchmean") == pytest.approx(0, abs=1e-12)
    if np.max(np.abs(np.exp(p) - q)) > 1e-3:
        assert kl > 0
    # log_target gives the same divergence
    np.testing.assert_allclose(
        lossbook.kl_div(p, np.log(q), reduction="batchmean", log_target=True), kl, rtol=1e-9, atol=1e-12
    )


@settings(max_examples=30, deadline=None)
@given(
    logits_and_indices(max_n=3, max_c=4),
    st.sampled_from(REDUCTIONS),
    st.sampled_from([0.0, 0.3]),
    st.booleans(),
    st.booleans(),
)
def test_grads_match_finite_differences(xt, reduction, ls, weighted, prob_target):
    x, t = xt
    x = x / 10  # keep curvature moderate for central differences
    c = x.shape[1]
    w = np.linspace(0.5, 2.0, c) if weighted else None
    target = (np.eye(c)[t] * 0.7 + 0.3 / c) if prob_target else t
    kw = dict(weight=w, reduction=reduction, label_smoothing=ls)
    f = lambda v: lossbook.cross_entropy(v, target, **kw).sum()  # noqa: E731 ('none': the sum)
    np.testing.assert_allclose(lossbook.cross_entropy.grad(x, target, **kw), numerical_grad(f, x), rtol=1e-5, atol=1e-7)
    logp = _log_softmax(x)
    g = lambda v: lossbook.nll_loss(v, t, weight=w, reduction=reduction).sum()  # noqa: E731
    np.testing.assert_allclose(
        lossbook.nll_loss.grad(logp, t, weight=w, reduction=reduction), numerical_grad(g, logp), rtol=1e-5, atol=1e-7
    )
    q = _softmax(x[::-1].copy(), 1)
    for red in ("batchmean", "sum", "none"):
        h = lambda v, red=red: lossbook.kl_div(v, q, reduction=red).sum()  # noqa: E731
        np.testing.assert_allclose(
            lossbook.kl_div.grad(logp, q, reduction=red), numerical_grad(h, logp), rtol=1e-5, atol=1e-7
        )


def test_metadata_is_registered():
    for name, prediction in [
        ("cross_entropy", "logits"),
        ("nll_loss", "log-probabilities"),
        ("kl_div", "log-probabilities"),
    ]:
        info = lossbook.get_loss(name).info
        assert info.family == "classification" and info.prediction == prediction
        assert info.torch_function == f"torch.nn.functional.{name}"
        assert name in lossbook.__all__
    assert "probabilities" in lossbook.cross_entropy.info.target_dtype


# ---- issue 12: differential-fuzzing findings against torch 2.13 -----------------------------------------------
@pytest.mark.parametrize("bad", [-np.inf, np.nan])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_ignored_row_holding_inf_or_nan_is_masked_out_as_torch(bad, reduction, name):
    """An ignored position must be left out, not multiplied by 0 (0 * inf = NaN)."""
    x = np.array([[bad, 1.0, 2.0], [1.0, 2.0, 3.0]])
    t = np.array([-100, 1])
    value, (g,) = check_parity(name, [x, t], {"reduction": reduction})
    assert np.all(np.isfinite(value))
    assert np.all(np.isfinite(g[1]))  # the kept row; torch's gradient of an ignored NaN row is NaN, as ours
    if bad == -np.inf:
        assert np.all(g[0] == 0)


def test_ignored_row_with_minus_inf_repro_value():
    inf = np.inf
    assert float(lossbook.cross_entropy(np.array([[-inf, 1, 2], [1, 2, 3]]), np.array([-100, 1]))) == pytest.approx(
        1.4076059644443804, rel=1e-12
    )


def test_log_softmax_subtracts_the_maximum_first_for_large_float32_logits():
    """Issue 12: x - (log(sum) + max) rounds to 0.00048828125 here; torch's (x - max) - log(sum) gives 0.00033539868."""
    x = np.float32([[5981.0, 0.0, 5973.0]])
    t = np.array([0])
    value, (g,) = check_parity("cross_entropy", [x, t], {}, rtol=1e-6, grad_rtol=1e-5)
    assert float(value) == pytest.approx(0.00033539868, rel=1e-6)
    check_parity("cross_entropy", [x, np.float32([[1.0, 0.0, 0.0]])], {}, rtol=1e-6, grad_rtol=1e-5)
    logp = lossbook._stable.log_softmax(x)
    assert logp[0, 0] == np.float32(-0.00033539868)


def test_kl_div_log_target_accepts_minus_inf_as_log_zero():
    """log 0 = -inf is a valid log-probability; its term is 0, as is its gradient (torch's gradient is 0 too)."""
    x = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]]))
    p = np.array([[0.0, 0.4, 0.6], [0.5, 0.5, 0.0]])
    with np.errstate(divide="ignore"):
        logt = np.log(p)
    for reduction in ("none", "sum", "batchmean"):
        value = lossbook.kl_div(x, logt, reduction=reduction, log_target=True)
        np.testing.assert_allclose(value, lossbook.kl_div(x, p, reduction=reduction), rtol=1e-12)
        assert np.all(np.isfinite(value))
        tx = torch.from_numpy(x).requires_grad_(True)
        torch.nn.functional.kl_div(tx, torch.from_numpy(logt), reduction=reduction, log_target=True).sum().backward()
        g = lossbook.kl_div.grad(x, logt, reduction=reduction, log_target=True)
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12)
        assert np.all(g[p == 0] == 0)
    with pytest.raises(ValueError, match=r"`target` contains NaN or \+inf"):
        lossbook.kl_div(x, np.where(p > 0, logt, np.inf), log_target=True, reduction="sum")
    with pytest.raises(ValueError, match="`target` contains NaN or inf"):
        lossbook.kl_div(x, np.where(p > 0, p, -np.inf), reduction="sum")


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_ignored_positions_are_plus_zero_with_reduction_none_as_in_torch(name):
    x = _logits((4, C))
    y = np.array([1, -100, 3, -100])
    per = getattr(lossbook, name)(x, y, reduction="none")
    expected = getattr(F, name)(torch.from_numpy(x), torch.from_numpy(y), reduction="none").numpy()
    assert np.all(per[[1, 3]] == 0) and not np.any(np.signbit(per[[1, 3]]))
    assert not np.any(np.signbit(expected[[1, 3]]))
