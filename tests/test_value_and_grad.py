"""``loss.value_and_grad``: the value and the gradient of one call, fused where a loss defines a kernel.

The parity harness (tests/parity.py) holds every ``value_and_grad`` to torch on the small inputs of the loss
tests; here the fused kernels are checked on inputs of several blocks (``_blockwise.BLOCK`` elements each, the
last one partial), in every reduction and with every weighting argument, against the loss and its ``.grad``
called separately, and on bad input they must refuse exactly as the loss does.
"""
from __future__ import annotations

import numpy as np
import pytest

import lossbook
from lossbook import _blockwise

SHAPE = (3, _blockwise.BLOCK - 5)  # three rows of a block minus five: 3 blocks, the last one partial


def _cases(dtype):
    rng = np.random.default_rng(3)
    x = (3 * rng.standard_normal(SHAPE)).astype(dtype)
    y = (3 * rng.standard_normal(SHAPE)).astype(dtype)
    labels = rng.integers(0, 2, SHAPE).astype(dtype)
    soft = rng.uniform(0, 1, SHAPE).astype(dtype)
    signs = (2 * labels - 1).astype(dtype)
    w = rng.uniform(0.5, 2, SHAPE).astype(dtype)
    w_col = rng.uniform(0.5, 2, SHAPE[1]).astype(dtype)
    x[0, :4] = [0, 40, -40, 1e4]  # the kink, saturated sigmoids, a residual far in the linear zone
    return {
        "mse_loss": ((x, y), {}),
        "mse_loss/weight": ((x, y), {"weight": w}),
        "huber_loss": ((x, y), {"delta": 0.7}),
        "huber_loss/weight": ((x, y), {"delta": 2.0, "weight": w}),
        "smooth_l1_loss": ((x, y), {"beta": 0.5}),
        "smooth_l1_loss/beta0": ((x, y), {"beta": 0.0}),
        "log_cosh_loss": ((x, y), {}),
        "binary_cross_entropy_with_logits": ((x, labels), {}),
        "binary_cross_entropy_with_logits/weights": ((x, soft), {"weight": w_col, "pos_weight": w_col[::-1].copy()}),
        "soft_margin_loss": ((x, signs), {}),
        "sigmoid_focal_loss": ((x, labels), {}),
        "sigmoid_focal_loss/soft": ((x, soft), {"alpha": -1, "gamma": 0.5}),
        "sigmoid_focal_loss/gamma0": ((x, labels), {"alpha": 0.75, "gamma": 0}),
    }


FUSED = sorted(_cases(np.float64))


def test_the_fused_losses_define_their_own_value_and_grad():
    for case in FUSED:
        fn = lossbook.get_loss(case.split("/")[0])
        assert fn.value_and_grad.__qualname__ == f"{fn.__name__}.value_and_grad", fn.__name__


def test_every_loss_has_value_and_grad_equal_to_its_two_calls_by_default():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(7), rng.standard_normal(7)
    for name in ("l1_loss", "quantile_loss"):  # no kernel: the default calls the loss, then .grad
        fn = lossbook.get_loss(name)
        value, grad = fn.value_and_grad(x, y, reduction="sum")
        assert value == fn(x, y, reduction="sum")
        np.testing.assert_array_equal(grad, fn.grad(x, y, reduction="sum"))
    assert all(callable(lossbook.get_loss(info.name).value_and_grad) for info in lossbook.catalogue())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", FUSED)
def test_fused_value_and_grad_equal_the_loss_and_its_grad_over_several_blocks(case, dtype, reduction):
    args, kwargs = _cases(dtype)[case]
    fn = lossbook.get_loss(case.split("/")[0])
    kwargs = {**kwargs, "reduction": reduction}
    value, grad = fn.value_and_grad(*args, **kwargs)
    expected_value, expected_grad = fn(*args, **kwargs), fn.grad(*args, **kwargs)
    rtol = 1e-12 if dtype is np.float64 else 2e-5
    assert value.dtype == expected_value.dtype and grad.dtype == expected_grad.dtype == dtype
    assert value.shape == expected_value.shape and grad.shape == expected_grad.shape == SHAPE
    np.testing.assert_allclose(value, expected_value, rtol=rtol, atol=0 if reduction != "none" else rtol)
    np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=rtol * np.abs(expected_grad).max())


@pytest.mark.parametrize("case", ["mse_loss", "huber_loss", "binary_cross_entropy_with_logits", "soft_margin_loss"])
def test_fused_value_and_grad_of_empty_input_as_the_loss(case):
    fn = lossbook.get_loss(case)
    x = np.zeros((0, 3))
    y = np.ones((0, 3)) if case == "soft_margin_loss" else np.zeros((0, 3))
    for reduction in ("mean", "sum", "none"):
        value, grad = fn.value_and_grad(x, y, reduction=reduction)
        np.testing.assert_array_equal(value, fn(x, y, reduction=reduction))  # NaN for 'mean', as torch
        assert grad.shape == (0, 3)


def _error(call):
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value)


@pytest.mark.parametrize("case", FUSED)
def test_fused_value_and_grad_refuse_bad_input_exactly_as_the_loss(case):
    args, kwargs = _cases(np.float64)[case]
    fn = lossbook.get_loss(case.split("/")[0])
    x, y = args
    bad_target = y.copy()
    bad_target[0, 0] = np.nan
    for bad_args, bad_kwargs in [
        ((x, bad_target), kwargs),                      # a NaN target
        ((x, y[:, :-1]), kwargs),                       # a target of another shape
        ((x.astype(np.int64), y), kwargs),              # integer predictions
        ((x, y), {**kwargs, "reduction": "average"}),   # an unknown reduction
    ]:
        expected = _error(lambda a=bad_args, k=bad_kwargs: fn(*a, **k))
        assert _error(lambda a=bad_args, k=bad_kwargs: fn.value_and_grad(*a, **k)) == expected


def _softmax_cases():
    rng = np.random.default_rng(5)
    x = 4 * rng.standard_normal((64, 7))
    y = rng.integers(0, 7, 64)
    y_ignored = y.copy()
    y_ignored[::5] = -100
    probs = rng.dirichlet(np.ones(7), 64)
    x3 = rng.standard_normal((4, 7, 3, 2))
    tokens = 3 * rng.standard_normal((2, 9, 11))
    ids = rng.integers(0, 11, (2, 9))
    ids[1, 6:] = -100  # padding
    w = rng.uniform(0.5, 2, 7)
    return {
        "cross_entropy": ((x, y), {}),
        "cross_entropy/ignored+weight+smoothing": ((x, y_ignored), {"weight": w, "label_smoothing": 0.1}),
        "cross_entropy/probabilities": ((x, probs), {"weight": w, "label_smoothing": 0.2}),
        "cross_entropy/spatial": ((x3, rng.integers(0, 7, (4, 3, 2))), {}),
        "token_cross_entropy": ((tokens, ids), {}),
        "token_cross_entropy/num_tokens": ((tokens, ids), {"num_tokens": 40, "label_smoothing": 0.1}),
    }


@pytest.mark.parametrize("case", sorted(_softmax_cases()))
def test_softmax_value_and_grad_equal_the_loss_and_its_grad(case):
    args, kwargs = _softmax_cases()[case]
    fn = lossbook.get_loss(case.split("/")[0])
    assert fn.value_and_grad.__qualname__ == f"{fn.__name__}.value_and_grad"
    reductions = ["sum"] if "num_tokens" in kwargs else ["mean", "sum", "none"]
    for reduction in reductions:
        for dtype in (np.float64, np.float32):
            cast = [a.astype(dtype) if a.dtype.kind == "f" else a for a in args]
            kw = {k: (v.astype(dtype) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
            kw["reduction"] = reduction
            value, grad = fn.value_and_grad(*cast, **kw)
            rtol = 1e-12 if dtype is np.float64 else 1e-5
            np.testing.assert_allclose(value, fn(*cast, **kw), rtol=rtol, atol=rtol)
            expected = fn.grad(*cast, **kw)
            assert grad.dtype == expected.dtype == dtype and grad.shape == cast[0].shape
            np.testing.assert_allclose(grad, expected, rtol=rtol, atol=rtol)


def test_listnet_value_and_grad_with_padding_equal_the_loss_and_its_grad():
    rng = np.random.default_rng(2)
    s, r = 5 * rng.standard_normal((6, 9)), rng.integers(0, 4, (6, 9)).astype(float)
    r[1, 5:] = -1  # a shorter list
    r[4] = -1      # a fully padded query
    fn = lossbook.listnet_loss
    assert fn.value_and_grad.__qualname__ == "listnet_loss.value_and_grad"
    for reduction in ("mean", "sum", "none"):
        value, grad = fn.value_and_grad(s, r, reduction=reduction)
        np.testing.assert_array_equal(value, fn(s, r, reduction=reduction))
        np.testing.assert_array_equal(grad, fn.grad(s, r, reduction=reduction))


def test_a_likely_mistake_is_reported_at_the_callers_line_through_every_path():
    import warnings

    probabilities = np.random.default_rng(0).uniform(0, 1, (8, 4))  # sigmoid outputs passed as logits
    target = np.ones((8, 4))
    fn = lossbook.binary_cross_entropy_with_logits
    for call in (fn, fn.grad, fn.value_and_grad):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call(probabilities, target)
        assert [w.category for w in caught] == [lossbook.LossInputWarning]
        assert caught[0].filename == __file__, (call, caught[0].filename)


def test_the_api_page_names_every_loss_with_a_fused_value_and_grad():
    import pathlib
    import re

    api = (pathlib.Path(__file__).resolve().parents[1] / "chapters" / "appendices" / "api.md").read_text()
    paragraph = api.split("value_and_grad(...)`", 1)[1].split("\n- ", 1)[0]
    names = {info.name for info in lossbook.catalogue()}
    named = set(re.findall(r"`(\w+)`", paragraph)) & names
    fused = {name for name in names if lossbook.get_loss(name).value_and_grad.__module__ != "lossbook._registry"}
    assert named == fused
