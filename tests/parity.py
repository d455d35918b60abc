"""Shared test harness: compare a lossbook loss with a PyTorch reference, in value and gradient.

    check_parity("mse_loss", [x, y], {"reduction": "sum"}, grad_argnums=(0,))

runs ``lossbook.mse_loss(x, y, reduction="sum")`` and ``torch.nn.functional.mse_loss`` on the same
inputs, checks the values agree (1e-10 relative in float64, 1e-5 in float32), then checks
``lossbook.mse_loss.grad`` against autograd (1e-8 relative in float64). For 'none' the gradient is that
of the sum of the element-wise losses. ``lossbook.mse_loss.value_and_grad`` (the fused path of a training
step, where a loss defines one) is held to the same tolerances, and must return the same dtypes.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import lossbook

RTOL = {np.float64: 1e-10, np.float32: 1e-5}
GRAD_RTOL = {np.float64: 1e-8, np.float32: 1e-4}


def to_torch(a, requires_grad=False):
    """NumPy array (or None / scalar / callable) to a torch tensor of the same dtype."""
    if a is None or callable(a) or isinstance(a, (bool, int, float, str)):
        return a
    t = torch.from_numpy(np.array(a, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def assert_close(actual, expected, rtol, atol=0.0, what="value"):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch's {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def torch_value_and_grads(torch_fn, args, kwargs, grad_argnums):
    targs = [to_torch(a, requires_grad=(i in grad_argnums)) for i, a in enumerate(args)]
    tkwargs = {k: to_torch(v) for k, v in kwargs.items()}
    out = torch_fn(*targs, **tkwargs)
    grads = None
    if grad_argnums:
        out.backward(torch.ones_like(out))
        grads = [targs[i].grad.numpy() if targs[i].grad is not None else np.zeros_like(args[i]) for i in grad_argnums]
    return out.detach().numpy(), grads


def check_parity(
    name, args, kwargs=None, grad_argnums=(0,), torch_fn=None, rtol=None, grad_rtol=None, atol=None, grad_atol=None
):
    """Assert lossbook.<name> equals ``torch_fn`` (default ``torch.nn.functional.<name>``) in value and gradient.

    Returns ``(value, grads)`` from lossbook for further checks.
    """
    kwargs = dict(kwargs or {})
    fn = getattr(lossbook, name)
    torch_fn = torch_fn or getattr(F, name)
    dtype = np.asarray(args[0]).dtype.type
    rtol = RTOL[dtype] if rtol is None else rtol
    grad_rtol = GRAD_RTOL[dtype] if grad_rtol is None else grad_rtol
    atol = (1e-12 if dtype is np.float64 else 1e-6) if atol is None else atol
    grad_atol = (1e-12 if dtype is np.float64 else 1e-6) if grad_atol is None else grad_atol

    value = fn(*args, **kwargs)
    assert isinstance(value, np.ndarray), f"{name} returned {type(value)}, expected a NumPy array"
    assert value.dtype == dtype, f"{name} returned dtype {value.dtype} for {np.dtype(dtype)} input"
    t_value, t_grads = torch_value_and_grads(torch_fn, args, kwargs, grad_argnums)
    assert_close(value, t_value, rtol, atol, what=f"{name} value")

    grads = None
    if grad_argnums:
        grads = fn.grad(*args, **kwargs)
        if not isinstance(grads, tuple):
            grads = (grads,)
        assert len(grads) >= len(grad_argnums), f"{name}.grad returned {len(grads)} arrays"
        for k, (g, tg) in enumerate(zip(grads, t_grads, strict=False)):
            assert_close(g, tg, grad_rtol, grad_atol, what=f"{name} grad[{k}]")
        check_value_and_grad(fn, args, kwargs, value, grads, t_value, t_grads, (rtol, atol, grad_rtol, grad_atol))
    return value, grads


def check_value_and_grad(fn, args, kwargs, value, grads, t_value, t_grads, tolerances):
    """``fn.value_and_grad`` agrees with torch as ``fn`` and ``fn.grad`` do, in the same dtypes and shapes."""
    rtol, atol, grad_rtol, grad_atol = tolerances
    name = fn.__name__
    if not hasattr(fn, "info"):  # a building block (pairwise_distance, ...), not a registered loss
        return
    fused_value, fused_grads = fn.value_and_grad(*args, **kwargs)
    if not isinstance(fused_grads, tuple):
        fused_grads = (fused_grads,)
    assert isinstance(fused_value, np.ndarray) and fused_value.dtype == value.dtype, f"{name}.value_and_grad value"
    assert_close(fused_value, t_value, rtol, atol, what=f"{name}.value_and_grad value")
    assert len(fused_grads) == len(grads), f"{name}.value_and_grad returned {len(fused_grads)} gradients"
    for k, (fg, g) in enumerate(zip(fused_grads, grads, strict=True)):
        assert np.asarray(fg).dtype == np.asarray(g).dtype, f"{name}.value_and_grad grad[{k}] dtype"
    for k, (fg, tg) in enumerate(zip(fused_grads, t_grads, strict=False)):
        assert_close(fg, tg, grad_rtol, grad_atol, what=f"{name}.value_and_grad grad[{k}]")


def numerical_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar function ``f`` at float64 array ``x`` (for property tests)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = float(f(x))
        flat[i] = old - eps
        down = float(f(x))
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g


def check_promoted_parity(name, args, kwargs=None, grad_argnums=(0,), torch_fn=None, rtol=1e-10, grad_rtol=2e-6):
    """Mixed float dtypes (float32 with float64): lossbook follows type promotion.

    The value must be computed in the promoted dtype, so it is compared with the torch function applied to
    every float array cast to that dtype; each gradient must come back in the dtype of its own argument (as
    autograd returns it), equal to the promoted-precision gradient rounded to that dtype.
    """
    kwargs = dict(kwargs or {})
    fn = getattr(lossbook, name)
    torch_fn = torch_fn or getattr(F, name)
    floats = [a.dtype for a in [*args, *kwargs.values()] if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    promoted = np.result_type(*floats)

    def cast(a):
        return a.astype(promoted) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a

    value = fn(*args, **kwargs)
    assert value.dtype == promoted, f"{name} computed in {value.dtype}, expected the promoted {promoted}"
    t_args, t_kwargs = [cast(a) for a in args], {k: cast(v) for k, v in kwargs.items()}
    t_value, t_grads = torch_value_and_grads(torch_fn, t_args, t_kwargs, grad_argnums)
    assert_close(value, t_value, rtol, 1e-12, what=f"{name} value")
    grads = fn.grad(*args, **kwargs)
    if not isinstance(grads, tuple):
        grads = (grads,)
    for g, i, tg in zip(grads, grad_argnums, t_grads, strict=False):
        own = np.asarray(args[i]).dtype
        assert g.dtype == own, f"{name} grad[{i}] has dtype {g.dtype}, expected its argument's {own}"
        assert_close(g, tg.astype(own), grad_rtol, 1e-7 if own == np.float32 else 1e-12, what=f"{name} grad[{i}]")
    t_grads = [tg.astype(np.asarray(args[i]).dtype) for i, tg in zip(grad_argnums, t_grads, strict=False)]
    check_value_and_grad(fn, args, kwargs, value, grads, t_value, t_grads,
                         (rtol, 1e-12, grad_rtol, 1e-7 if np.asarray(args[0]).dtype == np.float32 else 1e-12))
    return value, grads
