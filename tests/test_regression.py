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


def test_lists_and_integer_targets_become_float64():
    value = lossbook.mse_loss([1.0, 2.0, 3.0], [1, 2, 5])
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


# ---------------------------------------------------------------------------------------------------------
# huber_loss, smooth_l1_loss, log_cosh_loss, quantile_loss, gaussian_nll_loss, poisson_nll_loss
# ---------------------------------------------------------------------------------------------------------
import inspect  # noqa: E402
import math  # noqa: E402
import warnings  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float64, np.float32]
NEW = ["huber_loss", "smooth_l1_loss", "log_cosh_loss", "quantile_loss", "gaussian_nll_loss", "poisson_nll_loss"]


def _torch_reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def torch_log_cosh(input, target, reduction="mean"):
    """Reference for log_cosh_loss: log(cosh r) = log1p(2 sinh(r/2)^2), exact identity, accurate for |r| < ~700."""
    r = (input - target).double()  # float64 inside, so float32 residuals up to ~700 do not overflow
    return _torch_reduce(torch.log1p(2 * torch.sinh(r / 2) ** 2).to(input.dtype), reduction)


def torch_quantile(input, target, quantile=0.5, reduction="mean"):
    u = target - input
    return _torch_reduce(torch.maximum(quantile * u, (quantile - 1) * u), reduction)


def _wide_xy(shape, dtype, scale=2.0):
    """Residuals spread over both the quadratic and the linear zones."""
    return np.asarray(scale * RNG.standard_normal(shape), dtype), RNG.standard_normal(shape).astype(dtype)


# --- parity: huber / smooth_l1 -----------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES + [(3, 4, 2, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber_parity(reduction, shape, dtype, delta):
    x, y = _wide_xy(shape, dtype)
    check_parity("huber_loss", [x, y], {"reduction": reduction, "delta": delta})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_huber_weight_parity_plain_mean(reduction, dtype):
    x, y = _wide_xy((6, 5), dtype)
    w = RNG.uniform(0.1, 3.0, (6, 5)).astype(dtype)
    value, _ = check_parity("huber_loss", [x, y], {"reduction": reduction, "delta": 0.7, "weight": w})
    if reduction == "mean":  # torch's weighted mean for huber divides by n, not by sum(w)
        plain = lossbook.huber_loss(x, y, "none", 0.7) * w
        assert float(value) == pytest.approx(float(plain.mean()), rel=1e-5)
        assert float(value) != pytest.approx(float(plain.sum() / w.sum()), rel=1e-3)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES + [(3, 4, 2, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [1.0, 0.25, 3.0, 0.0])
def test_smooth_l1_parity(reduction, shape, dtype, beta):
    x, y = _wide_xy(shape, dtype)
    check_parity("smooth_l1_loss", [x, y], {"reduction": reduction, "beta": beta})


def test_smooth_l1_beta_zero_is_l1():
    x, y = _wide_xy((10,), np.float64)
    np.testing.assert_array_equal(lossbook.smooth_l1_loss(x, y, beta=0.0), lossbook.l1_loss(x, y))
    np.testing.assert_array_equal(lossbook.smooth_l1_loss.grad(x, y, beta=0), lossbook.l1_loss.grad(x, y))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1.0, 0.5, 2.0])
def test_huber_and_smooth_l1_kinks_match_torch(dtype, k):
    # residuals exactly at 0 and at +-delta / +-beta, and just either side
    y = np.zeros(7, dtype)
    x = np.array([-k - 0.25, -k, -k / 2, 0.0, k / 2, k, k + 0.25], dtype)
    for name, kw in (("huber_loss", {"delta": k}), ("smooth_l1_loss", {"beta": k}), ("smooth_l1_loss", {"beta": 0.0})):
        _, (g,) = check_parity(name, [x, y], {"reduction": "sum", **kw})
        assert g[3] == 0


@pytest.mark.parametrize("name", ["huber_loss", "smooth_l1_loss", "poisson_nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_input_matches_torch(name, reduction):
    x = np.zeros((0, 3))
    value, _ = check_parity(name, [x, x.copy()], {"reduction": reduction})
    if reduction == "mean":
        assert np.isnan(value)


# --- parity: log_cosh / quantile (torch references written here) -----------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e-4, 1.0, 30.0])
def test_log_cosh_parity(reduction, shape, dtype, scale):
    x, y = _wide_xy(shape, dtype, scale)
    y = np.asarray(y * scale, dtype)
    check_parity("log_cosh_loss", [x, y], {"reduction": reduction}, torch_fn=torch_log_cosh)


def test_log_cosh_agrees_with_naive_torch_formula_for_moderate_residuals():
    x, y = _wide_xy((200,), np.float64, 3.0)
    naive = torch.log(torch.cosh(torch.from_numpy(x - y))).numpy()
    np.testing.assert_allclose(lossbook.log_cosh_loss(x, y, "none"), naive, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lossbook.log_cosh_loss.grad(x, y, "none"), np.tanh(x - y), rtol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("q", [0.5, 0.1, 0.9, 0.37])
def test_quantile_parity(reduction, shape, dtype, q):
    x, y = _wide_xy(shape, dtype)
    check_parity("quantile_loss", [x, y], {"quantile": q, "reduction": reduction}, torch_fn=torch_quantile)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("q", [0.5, 0.1, 0.8])
def test_quantile_grad_at_kink_is_torch_maximum_convention(dtype, q):
    x = np.array([-1.0, 0.0, 2.0, 3.0], dtype)
    y = np.array([-1.0, 1.0, 2.0, 0.0], dtype)  # ties at 0 and 2
    _, (g,) = check_parity("quantile_loss", [x, y], {"quantile": q, "reduction": "sum"}, torch_fn=torch_quantile)
    np.testing.assert_allclose(g, np.array([0.5 - q, -q, 0.5 - q, 1 - q], dtype), rtol=1e-6)


# --- parity: gaussian_nll ---------------------------------------------------------------------------------


def _var(shape, dtype, low=0.05, high=3.0):
    return RNG.uniform(low, high, shape).astype(dtype)


GAUSS_VAR_SHAPES = [  # (input shape, var shape): heteroscedastic, one fewer trailing dim, a size-1 axis
    ((5, 3), (5, 3)),
    ((5, 3), (5,)),
    ((5, 3), (5, 1)),
    ((5, 3), (1, 3)),
    ((4, 3, 2), (4, 3)),
    ((4, 3, 2), (4, 1, 2)),
    ((7,), (7,)),
    ((7,), ()),  # 0-d var against 1-d input: torch unsqueezes it
    ((), ()),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", GAUSS_VAR_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_parity(reduction, shapes, dtype, full):
    in_shape, var_shape = shapes
    x, y = _xy(in_shape, dtype)
    v = _var(var_shape, dtype)
    _, grads = check_parity(
        "gaussian_nll_loss", [x, y, v], {"full": full, "reduction": reduction}, grad_argnums=(0, 2)
    )
    assert grads[1].shape == v.shape


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_float_var(reduction, dtype, full):
    x, y = _xy((6, 2), dtype)
    _, grads = check_parity("gaussian_nll_loss", [x, y, 0.8], {"full": full, "reduction": reduction})
    assert len(grads) == 2 and grads[1] is None


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("eps", [1e-6, 0.5])
def test_gaussian_nll_clamp_and_its_var_gradient_match_autograd(reduction, eps):
    x, y = _xy((6,))
    v = np.array([0.0, 1e-9, eps, 0.3, 2.0, 1e-7])  # clamp active on several entries
    _, (gx, gv) = check_parity(
        "gaussian_nll_loss", [x, y, v], {"eps": eps, "reduction": reduction}, grad_argnums=(0, 2)
    )
    # torch clamps outside autograd: the var-gradient where clamped is the formula at eps, not 0
    clamped = v < eps
    r = x - y
    scale = 1 / 6 if reduction == "mean" else 1
    np.testing.assert_allclose(gv[clamped], scale * 0.5 * (1 / eps - r[clamped] ** 2 / eps**2), rtol=1e-10)


def test_gaussian_nll_0d_var_with_2d_input_is_a_shared_variance():
    x, y = _xy((4, 3))
    v = np.array(0.6)
    np.testing.assert_allclose(lossbook.gaussian_nll_loss(x, y, v), lossbook.gaussian_nll_loss(x, y, 0.6), rtol=1e-15)
    gx, gv = lossbook.gaussian_nll_loss.grad(x, y, v, reduction="sum")
    _, gfull = lossbook.gaussian_nll_loss.grad(x, y, np.full((4, 3), 0.6), reduction="sum")
    assert gv.shape == () and float(gv) == pytest.approx(float(gfull.sum()), rel=1e-12)


# --- parity: poisson_nll ----------------------------------------------------------------------------------


def _counts(shape, dtype, lam=3.0):
    t = np.asarray(RNG.poisson(lam, shape), dtype)
    if t.size >= 3:  # also non-integer targets, and the 0/1 boundary of the Stirling term
        flat = t.reshape(-1)
        flat[0], flat[1], flat[2] = 0.0, 1.0, 2.5
    return t


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES + [(2, 3, 4, 2)])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_parity(reduction, shape, dtype, log_input, full):
    t = _counts(shape, dtype)
    x = np.asarray(RNG.standard_normal(shape), dtype)
    if not log_input:
        x = np.asarray(np.abs(x) * 3, dtype)
    check_parity("poisson_nll_loss", [x, t], {"log_input": log_input, "full": full, "reduction": reduction})


@pytest.mark.parametrize("eps", [1e-8, 0.1, 0.0])
def test_poisson_nll_eps_and_zero_rate(eps):
    x = np.array([0.0, 0.5, 2.0, 1e-12, 3.0])
    t = np.array([0.0, 1.0, 2.0, 0.0, 4.0])
    if eps == 0:  # torch: 0 * log(0) = NaN for a zero rate and a zero count; lossbook takes the limit 0
        x, t = x[1:], t[1:]
    check_parity("poisson_nll_loss", [x, t], {"log_input": False, "eps": eps, "reduction": "none"})


def test_poisson_nll_zero_rate_zero_count_eps0_is_the_exact_limit():
    x, t = np.array([0.0, 0.0, 1.0]), np.array([0.0, 2.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from log(0)
        value = lossbook.poisson_nll_loss(x, t, log_input=False, eps=0.0, reduction="none")
        g = lossbook.poisson_nll_loss.grad(x, t, log_input=False, eps=0.0, reduction="none")
    np.testing.assert_array_equal(value, [0.0, np.inf, 1.0])
    np.testing.assert_array_equal(g, [1.0, -np.inf, 0.0])
    naive = F.poisson_nll_loss(torch.tensor(x), torch.tensor(t), log_input=False, eps=0.0, reduction="none")
    assert torch.isnan(naive[0])  # PyTorch's naive 0 * log(0)


# --- stability --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_huber_smooth_l1_log_cosh_stable_for_residuals_1e4(dtype):
    x = np.array([1e4, -1e4, 5e3, -3e3], dtype)
    y = np.array([0.0, 0.0, -5e3, 0.0], dtype)
    a = np.abs(x.astype(np.float64) - y)
    rt = 1e-12 if dtype is np.float64 else 1e-6
    for delta in (1.0, 0.5):
        np.testing.assert_allclose(lossbook.huber_loss(x, y, "none", delta), delta * (a - delta / 2), rtol=rt)
        np.testing.assert_allclose(lossbook.smooth_l1_loss(x, y, "none", delta), a - delta / 2, rtol=rt)
        check_parity("huber_loss", [x, y], {"reduction": "sum", "delta": delta})
        check_parity("smooth_l1_loss", [x, y], {"reduction": "sum", "beta": delta})
    lc = lossbook.log_cosh_loss(x, y, "none")
    assert lc.dtype == dtype and np.all(np.isfinite(lc))
    np.testing.assert_allclose(lc, a - math.log(2), rtol=rt)
    np.testing.assert_array_equal(lossbook.log_cosh_loss.grad(x, y, "none"), np.sign(x - y))


@pytest.mark.parametrize("r", [1e6, -1e6, 1e100, 720.0, -800.0])
def test_log_cosh_stable_for_huge_residuals_where_torch_overflows(r):
    x, y = np.array([r]), np.array([0.0])
    naive = torch.log(torch.cosh(torch.tensor(x))).item()
    assert math.isinf(naive)  # torch's naive formula overflows here ...
    value = lossbook.log_cosh_loss(x, y)  # ... lossbook does not
    assert np.isfinite(value) and float(value) == pytest.approx(abs(r) - math.log(2), rel=1e-15)
    assert lossbook.log_cosh_loss.grad(x, y)[0] == np.sign(r)


def test_log_cosh_float32_stable_beyond_89():
    x = np.array([100.0, -200.0, 0.5], np.float32)
    y = np.zeros(3, np.float32)
    value = lossbook.log_cosh_loss(x, y, "none")
    assert value.dtype == np.float32 and np.all(np.isfinite(value))
    np.testing.assert_allclose(value[:2], np.abs(x[:2]) - math.log(2), rtol=1e-6)


def test_log_cosh_accurate_for_tiny_residuals():
    r = np.array([1e-12, 1e-8, 1e-5, -1e-3])
    value = lossbook.log_cosh_loss(r, np.zeros(4), "none")
    # Taylor series: log cosh r = r^2/2 - r^4/12 + ..., to full precision for these r
    np.testing.assert_allclose(value, r**2 / 2 - r**4 / 12, rtol=1e-13)


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_nll_log_input_up_to_700(full, reduction):
    x = np.array([700.0, -700.0, 650.0, -5.0, 0.0, 300.0, -300.0, 1.0])
    t = np.array([3.0, 0.0, 1.0, 7.0, 2.0, 1e5, 0.5, 1.0])
    value, (g,) = check_parity("poisson_nll_loss", [x, t], {"full": full, "reduction": reduction})
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(g))


# --- bad input --------------------------------------------------------------------------------------------


def _call(name, x, y, **kw):
    fn = getattr(lossbook, name)
    if name == "gaussian_nll_loss":
        return fn(x, y, kw.pop("var", np.ones(np.shape(x))), **kw)
    return fn(x, y, **kw)


@pytest.mark.parametrize("name", NEW)
def test_new_losses_refuse_column_target_bad_reduction_and_nan_target(name):
    x = np.ones(4)
    with pytest.raises(ValueError, match=r"`target` has shape \(4, 1\).*reshape"):
        _call(name, x, np.ones((4, 1)))
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        _call(name, x, x, reduction="batchmean")
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="`target` contains NaN or inf"):
            _call(name, x, np.array([1.0, bad, 1.0, 1.0]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        _call(name, torch.ones(4), x)


@pytest.mark.parametrize("delta", [0.0, -1.0, float("nan"), "1"])
def test_huber_refuses_non_positive_delta(delta):
    with pytest.raises((ValueError, TypeError), match="`delta`"):
        lossbook.huber_loss(np.zeros(3), np.zeros(3), delta=delta)
    with pytest.raises((ValueError, TypeError), match="`delta`"):
        lossbook.huber_loss.grad(np.zeros(3), np.zeros(3), delta=delta)


@pytest.mark.parametrize("beta", [-0.5, float("inf")])
def test_smooth_l1_refuses_negative_beta(beta):
    with pytest.raises(ValueError, match="`beta`"):
        lossbook.smooth_l1_loss(np.zeros(3), np.zeros(3), beta=beta)


def test_huber_refuses_weight_of_wrong_shape():
    with pytest.raises(ValueError, match="`weight` has shape"):
        lossbook.huber_loss(np.zeros(3), np.zeros(3), weight=np.ones(2))


@pytest.mark.parametrize("q", [0.0, 1.0, 1.5, -0.1, 90, float("nan")])
def test_quantile_refuses_values_outside_open_unit_interval(q):
    with pytest.raises(ValueError, match="`quantile`"):
        lossbook.quantile_loss(np.zeros(3), np.zeros(3), quantile=q)
    with pytest.raises(ValueError, match="`quantile`"):
        lossbook.quantile_loss.grad(np.zeros(3), np.zeros(3), quantile=q)


@pytest.mark.parametrize("q", [[0.1, 0.9], np.array([0.5, 0.5]), "0.5", None, True])
def test_quantile_refuses_non_scalars(q):
    with pytest.raises(TypeError, match="`quantile`"):
        lossbook.quantile_loss(np.zeros(2), np.zeros(2), quantile=q)


def test_gaussian_nll_refuses_negative_or_nonfinite_var():
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"`var` must hold non-negative.*log-variances"):
        lossbook.gaussian_nll_loss(x, x, np.array([1.0, -0.1, 1.0]))
    with pytest.raises(ValueError, match="`var` must be non-negative"):
        lossbook.gaussian_nll_loss(x, x, -1.0)
    with pytest.raises(ValueError, match="`var` contains NaN"):
        lossbook.gaussian_nll_loss(x, x, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="`var` contains zeros and `eps` is 0"):
        lossbook.gaussian_nll_loss(x, x, np.array([1.0, 0.0, 1.0]), eps=0.0)
    with pytest.raises(ValueError, match="`eps`"):
        lossbook.gaussian_nll_loss(x, x, 1.0, eps=-1e-6)
    with pytest.raises(TypeError, match="`full`"):
        lossbook.gaussian_nll_loss(x, x, 1.0, full="yes")


@pytest.mark.parametrize("var_shape", [(5, 2), (3, 5), (1, 1), (4,), (3,), (2, 4, 1)])
def test_gaussian_nll_refuses_var_of_wrong_shape(var_shape):
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match=rf"`var` has shape \({var_shape[0]},.*\(5, 3\)"):
        lossbook.gaussian_nll_loss(x, x, np.ones(var_shape))
    # torch refuses these too (or would broadcast to a different shape than input)
    try:
        out = F.gaussian_nll_loss(torch.zeros(5, 3), torch.zeros(5, 3), torch.ones(var_shape), reduction="none")
    except (ValueError, RuntimeError):
        return
    assert out.shape != (5, 3)


def test_poisson_nll_refuses_negative_targets_and_negative_rates():
    with pytest.raises(ValueError, match="`target` must hold non-negative counts"):
        lossbook.poisson_nll_loss(np.zeros(3), np.array([1.0, -1.0, 2.0]))
    with pytest.raises(ValueError, match="`input` holds negative.*log_input=True"):
        lossbook.poisson_nll_loss(np.array([1.0, -0.5, 2.0]), np.ones(3), log_input=False)
    with pytest.raises(TypeError, match="`log_input`"):
        lossbook.poisson_nll_loss(np.zeros(3), np.ones(3), log_input=1)
    with pytest.raises(ValueError, match="`eps`"):
        lossbook.poisson_nll_loss(np.ones(3), np.ones(3), log_input=False, eps=-1.0)


# --- warnings ---------------------------------------------------------------------------------------------


def test_poisson_nll_warns_when_rates_are_passed_as_log_rates():
    t = RNG.poisson(6.0, 50).astype(float)
    rates = np.full(50, 6.0)
    with pytest.warns(lossbook.LossInputWarning, match="log_input=False"):
        lossbook.poisson_nll_loss(rates, t)
    with warnings.catch_warnings():  # the same values read correctly, or as real log-rates: no warning
        warnings.simplefilter("error")
        lossbook.poisson_nll_loss(rates, t, log_input=False)
        lossbook.poisson_nll_loss(np.log(rates), t)
        lossbook.poisson_nll_loss(RNG.uniform(0, 2, 50), RNG.poisson(3.0, 50).astype(float))  # log-rates >= 0
        lossbook.poisson_nll_loss(rates[:5], t[:5])  # too small to judge
        lossbook.poisson_nll_loss.grad(rates, t)  # the gradient does not repeat the warning


# --- metadata and signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NEW)
def test_metadata_and_gradient_are_attached(name):
    fn = getattr(lossbook, name)
    info = fn.info
    assert info.family == "regression" and callable(fn.grad)
    expected_prediction = {"gaussian_nll_loss": "mean and variance", "poisson_nll_loss": "log-rates or rates"}
    assert info.prediction == expected_prediction.get(name, "real values")
    assert info.reference and info.summary and info.target_values
    assert name in {i.name for i in lossbook.catalogue("regression")}
    assert (info.torch_function is None) == (name in ("log_cosh_loss", "quantile_loss"))


@pytest.mark.parametrize("name", ["huber_loss", "smooth_l1_loss", "gaussian_nll_loss", "poisson_nll_loss"])
def test_signature_is_torchs_without_deprecated_arguments(name):
    ours = inspect.signature(getattr(lossbook, name)).parameters
    theirs = {
        k: p for k, p in inspect.signature(getattr(F, name)).parameters.items() if k not in ("size_average", "reduce")
    }
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]
    assert list(inspect.signature(getattr(lossbook, name).grad).parameters) == list(ours)


@pytest.mark.parametrize("name", NEW)
def test_new_losses_lists_become_float64_and_float32_stays(name):
    fn = getattr(lossbook, name)
    extra = (1.0,) if name == "gaussian_nll_loss" else ()
    value = fn([1.0, 2.0, 3.0], [1, 2, 5], *extra)
    assert value.dtype == np.float64 and value.shape == ()
    x = np.array([0.5, 1.0, 2.0], np.float32)
    assert fn(x, x * 2, *extra).dtype == np.float32
    g = fn.grad(x, x * 2, *extra)
    g = g[0] if isinstance(g, tuple) else g
    assert g.dtype == np.float32 and g.shape == x.shape


# --- properties -------------------------------------------------------------------------------------------

moderate = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=moderate), st.data())
def test_new_properties_nonnegative_and_zero_at_perfect_prediction(x, data):
    y = data.draw(arrays(np.float64, x.shape, elements=moderate))
    q = data.draw(st.floats(0.01, 0.99))
    for name, kw in (("huber_loss", {"delta": 0.7}), ("smooth_l1_loss", {"beta": 2.0}), ("log_cosh_loss", {}),
                     ("quantile_loss", {"quantile": q})):
        fn = getattr(lossbook, name)
        assert np.all(fn(x, y, reduction="none", **kw) >= 0)
        assert fn(x, x, **kw) == 0
        expected = (0.5 - q) if name == "quantile_loss" else 0
        np.testing.assert_array_equal(fn.grad(x, x, reduction="none", **kw), expected)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-5, 5)), st.data())
def test_new_grads_match_finite_differences(x, data):
    y = data.draw(arrays(np.float64, x.shape, elements=st.floats(-5, 5)))
    # keep clear of the kinks, where a finite difference straddles two branches
    r = x - y
    assume_ok = np.all(np.abs(r) > 1e-3) and np.all(np.abs(np.abs(r) - 0.8) > 1e-3)
    if assume_ok:
        for name, kw in (
            ("huber_loss", {"delta": 0.8}),
            ("smooth_l1_loss", {"beta": 0.8}),
            ("quantile_loss", {"quantile": 0.3}),
        ):
            fn = getattr(lossbook, name)
            num = numerical_grad(lambda v, fn=fn, kw=kw: fn(v, y, **kw), x)
            np.testing.assert_allclose(fn.grad(x, y, **kw), num, rtol=1e-5, atol=1e-6)
    num = numerical_grad(lambda v: lossbook.log_cosh_loss(v, y), x)
    np.testing.assert_allclose(lossbook.log_cosh_loss.grad(x, y), num, rtol=1e-5, atol=1e-7)
    var = data.draw(arrays(np.float64, x.shape, elements=st.floats(0.1, 4)))
    gx, gv = lossbook.gaussian_nll_loss.grad(x, y, var, full=True, reduction="sum")
    num_x = numerical_grad(lambda v: lossbook.gaussian_nll_loss(x * 0 + v, y, var, reduction="sum"), x)
    np.testing.assert_allclose(gx, num_x, rtol=1e-5, atol=1e-6)
    num_var = numerical_grad(lambda v: lossbook.gaussian_nll_loss(x, y, v, reduction="sum"), var)
    np.testing.assert_allclose(gv, num_var, rtol=1e-5, atol=1e-6)
    t = np.abs(np.round(y * 2))
    for log_input, xx in ((True, x), (False, np.abs(x) + 0.1)):
        g = lossbook.poisson_nll_loss.grad(xx, t, log_input, True)
        num = numerical_grad(lambda v, log_input=log_input: lossbook.poisson_nll_loss(v, t, log_input, True), xx)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 10), elements=st.floats(-1e3, 1e3)), st.data())
def test_huber_is_delta_times_smooth_l1(x, data):
    y = data.draw(arrays(np.float64, x.shape, elements=st.floats(-1e3, 1e3)))
    for d in (0.1, 1.0, 2.5, 40.0):
        np.testing.assert_allclose(
            lossbook.huber_loss(x, y, "none", d), d * lossbook.smooth_l1_loss(x, y, "none", d), rtol=1e-12, atol=1e-300
        )
        np.testing.assert_allclose(
            lossbook.huber_loss.grad(x, y, "none", d),
            d * lossbook.smooth_l1_loss.grad(x, y, "none", d),
            rtol=1e-12,
            atol=1e-300,
        )


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.integers(1, 10), elements=st.floats(-1e3, 1e3)), st.data())
def test_quantile_half_is_half_l1(x, data):
    y = data.draw(arrays(np.float64, x.shape, elements=st.floats(-1e3, 1e3)))
    for red in REDUCTIONS:
        np.testing.assert_allclose(
            lossbook.quantile_loss(x, y, 0.5, red), 0.5 * lossbook.l1_loss(x, y, red), rtol=1e-13
        )
        np.testing.assert_allclose(
            lossbook.quantile_loss.grad(x, y, 0.5, red), 0.5 * lossbook.l1_loss.grad(x, y, red), rtol=1e-13
        )


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 30), elements=st.floats(-100, 100)), st.floats(0.02, 0.98))
def test_quantile_loss_is_minimised_at_the_sample_quantile(y, q):
    c = float(np.quantile(y, q, method="inverted_cdf"))

    def mean_loss(const):
        return float(lossbook.quantile_loss(np.full(y.shape, const), y, quantile=q))

    best = mean_loss(c)
    for h in (1e-3, 0.1, 1.0, 10.0):
        for other in (c - h, c + h):
            assert best <= mean_loss(other) + 1e-9 * (1 + abs(best))


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6)))
def test_log_cosh_bounds(r):
    value = lossbook.log_cosh_loss(r, np.zeros_like(r), "none")
    assert np.all(np.isfinite(value)) and np.all(value >= 0)
    assert np.all(value <= np.abs(r))
    assert np.all(value <= r * r / 2 + np.finfo(float).tiny)  # (rounding of subnormal results)
    assert np.all(value >= np.abs(r) - math.log(2) - 1e-12 * np.abs(r))


# --- issue 12: differential-fuzzing findings against torch 2.13 ------------------------------------------------
@pytest.mark.parametrize("log_input", [False, True])
@pytest.mark.parametrize("eps", [0.0, 1e-8])
def test_poisson_zero_dimensional_input_as_torch(log_input, eps):
    """0-d input used to raise `'numpy.float64' object does not support item assignment` (loss and gradient)."""
    value, (g,) = check_parity("poisson_nll_loss", [np.array(0.5), np.array(1.0)], {"log_input": log_input, "eps": eps})
    assert value.shape == () and g.shape == ()


def test_poisson_zero_rate_zero_count_still_exact_in_0d():
    assert float(lossbook.poisson_nll_loss(np.array(0.0), np.array(0.0), log_input=False, eps=0.0)) == 0.0
    assert float(lossbook.poisson_nll_loss.grad(np.array(0.0), np.array(0.0), log_input=False, eps=0.0)) == 1.0
