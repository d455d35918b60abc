"""Parity of lossbook's regression losses with torch.nn.functional, their gradients, errors and properties."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from parity import check_parity, numerical_grad

import lossbook

RNG = np.random.default_rng(1234)
SHAPES = [(7,), (4, 5), (2, 3, 4), ()]


def _xy(shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype), RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_basic(name, reduction, shape, dtype):
    x, y = _xy(shape, dtype)
    check_parity(name, [x, y], {"reduction": reduction})


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_parity_weight(name, reduction):
    x, y = _xy((6, 3))
    w = RNG.uniform(0.1, 2.0, (6, 3))
    check_parity(name, [x, y], {"reduction": reduction, "weight": w})


def test_l1_grad_at_kink_is_zero_like_torch():
    x = np.array([1.0, 2.0, 3.0])
    _, (g,) = check_parity("l1_loss", [x, x.copy()], {"reduction": "sum"})
    assert np.all(g == 0)


def test_lists_and_ints_become_float64():
    value = lossbook.mse_loss([1, 2, 3], [1, 2, 5])
    assert value.dtype == np.float64 and value.shape == ()
    assert float(value) == pytest.approx(4 / 3)


def test_float32_stays_float32():
    x, y = _xy((5,), np.float32)
    assert lossbook.mse_loss(x, y).dtype == np.float32
    assert lossbook.mse_loss.grad(x, y).dtype == np.float32


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_column_target_against_flat_input_is_refused(name):
    x = np.zeros(4)
    with pytest.raises(ValueError, match=r"`target` has shape \(4, 1\).*reshape"):
        getattr(lossbook, name)(x, np.zeros((4, 1)))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_bad_reduction_and_nan_target_are_refused(name):
    fn = getattr(lossbook, name)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        fn(np.zeros(3), np.zeros(3), reduction="average")
    with pytest.raises(ValueError, match="`target` contains NaN"):
        fn(np.zeros(3), np.array([0.0, np.nan, 1.0]))


finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=finite), st.data())
def test_properties_nonnegative_zero_at_perfect_prediction(x, data):
    y = data.draw(arrays(np.float64, x.shape, elements=finite))
    for fn in (lossbook.mse_loss, lossbook.l1_loss):
        assert fn(x, y) >= 0
        assert fn(x, x) == 0


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-10, 10)), st.data())
def test_mse_grad_matches_finite_differences(x, data):
    y = data.draw(arrays(np.float64, x.shape, elements=st.floats(-10, 10)))
    num = numerical_grad(lambda v: lossbook.mse_loss(v, y), x)
    np.testing.assert_allclose(lossbook.mse_loss.grad(x, y), num, rtol=1e-5, atol=1e-6)
