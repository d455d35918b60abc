"""Metadata for every loss: its family, what it predicts, its target format, its PyTorch counterparts.

Each loss is declared with :func:`register`, which attaches ``fn.info`` (a :class:`LossInfo`) and lets the
analytic gradient be attached next to it with ``@fn.defgrad``. ``fn.value_and_grad(*args)`` returns both at
once, ``(fn(*args), fn.grad(*args))``, as a training step needs them; a loss whose value and gradient share
costly intermediates (a softmax, a sigmoid, the residual) gives it a fused body with ``@fn.defvalue_and_grad``,
which validates once and computes each intermediate once, as autograd's forward pass saves them for the
backward pass. :func:`catalogue` returns the table for all losses; the book's target-format cheat sheet is
generated from it, never typed by hand.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["LossInfo", "register", "catalogue", "get_loss", "FAMILIES", "PREDICTIONS"]

FAMILIES = ("regression", "classification", "ranking", "sequences", "preferences", "generative", "vision")
PREDICTIONS = (
    "real values",
    "logits",
    "probabilities",
    "log-probabilities",
    "log-rates or rates",
    "mean and variance",
    "scores",
    "embeddings",
    "features and a linear layer",
    "boxes (x1, y1, x2, y2)",
    "embeddings and class weights",
)

_REGISTRY: dict[str, Callable] = {}


@dataclass(frozen=True)
class LossInfo:
    """What one loss expects. Every field is plain text, ready for a table."""

    name: str
    family: str
    prediction: str
    target_dtype: str
    target_shape: str
    target_values: str
    torch_function: str | None
    torch_module: str | None
    reference: str
    summary: str

    def as_dict(self) -> dict:
        return asdict(self)


def register(
    *,
    family: str,
    prediction: str,
    target_dtype: str,
    target_shape: str,
    target_values: str,
    torch_function: str | None = None,
    torch_module: str | None = None,
    reference: str = "",
    wrt: tuple[str, ...] | None = None,
):
    """Declare a loss function and its metadata.

    ``wrt`` names the prediction arguments the gradient is taken with respect to, in the order ``.grad``
    returns them (default: the first parameters, as many as the gradient has arrays). Each gradient is
    returned in the dtype of its argument, as autograd does: a float32 ``input`` with a float64 ``target``
    is computed in float64, but its gradient is float32.

    Usage::

        @register(family="regression", prediction="real values", ...)
        def mse_loss(input, target, reduction="mean"): ...

        @mse_loss.defgrad
        def _mse_loss_grad(input, target, reduction="mean"): ...

        @mse_loss.defvalue_and_grad          # optional: one pass for both
        def _mse_loss_value_and_grad(input, target, reduction="mean"): ...   # -> (value, grad)
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")

    def decorate(fn: Callable) -> Callable:
        doc = (fn.__doc__ or "").strip()
        summary = doc.splitlines()[0].strip() if doc else ""
        fn.info = LossInfo(
            name=fn.__name__,
            family=family,
            prediction=prediction,
            target_dtype=target_dtype,
            target_shape=target_shape,
            target_values=target_values,
            torch_function=torch_function,
            torch_module=torch_module,
            reference=reference,
            summary=summary,
        )
        fn.grad = None
        signature = inspect.signature(fn)
        names = tuple(signature.parameters)
        position = {name: i for i, name in enumerate(names)}

        def defgrad(grad_fn: Callable) -> Callable:
            grad_fn.__qualname__ = f"{fn.__name__}.grad"
            if not grad_fn.__doc__:
                grad_fn.__doc__ = (
                    f"Gradient of :func:`{fn.__name__}` (the reduced loss; for reduction='none', of the sum of "
                    "the element-wise losses) with respect to each prediction argument. Same arguments as the loss."
                )

            @functools.wraps(grad_fn)
            def grad(*args, **kwargs):
                return _cast_grads(grad_fn(*args, **kwargs), args, kwargs)

            fn.grad = grad
            return grad_fn

        def _cast_grads(outs, args, kwargs):
            # The argument each gradient belongs to, found by position or keyword (the loss has already
            # checked the call; inspect's bind would cost more than a small loss itself).
            single = not isinstance(outs, tuple)
            outs = (outs,) if single else outs
            cast = tuple(_in_dtype_of(g, args[position[name]] if position[name] < len(args) else kwargs.get(name))
                         for g, name in zip(outs, wrt or names, strict=False))
            return cast[0] if single else cast + outs[len(cast):]

        def value_and_grad(*args, **kwargs):
            """``(loss(*args, **kwargs), loss.grad(*args, **kwargs))``: the value and the gradient of one call."""
            if fn.grad is None:
                raise NotImplementedError(f"{fn.__name__} has no gradient")
            return fn(*args, **kwargs), fn.grad(*args, **kwargs)

        def defvalue_and_grad(vg_fn: Callable) -> Callable:
            vg_fn.__qualname__ = f"{fn.__name__}.value_and_grad"

            @functools.wraps(vg_fn)
            def fused(*args, **kwargs):
                value, grads = vg_fn(*args, **kwargs)
                return value, _cast_grads(grads, args, kwargs)

            fn.value_and_grad = fused
            return vg_fn

        fn.value_and_grad = value_and_grad
        fn.defgrad = defgrad
        fn.defvalue_and_grad = defvalue_and_grad
        if fn.__name__ in _REGISTRY:
            raise RuntimeError(f"loss {fn.__name__!r} registered twice")
        _REGISTRY[fn.__name__] = fn
        return fn

    return decorate


def _in_dtype_of(grad, argument):
    """``grad`` cast to the floating dtype of the argument it belongs to (unchanged for other arguments)."""
    if not isinstance(grad, np.ndarray):
        return grad
    dtype = getattr(argument, "dtype", None)
    if dtype is None or dtype.kind != "f" or grad.dtype == dtype:
        return grad
    return grad.astype(dtype)


def get_loss(name: str) -> Callable:
    """The loss function registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no loss named {name!r}; known losses: {', '.join(sorted(_REGISTRY))}") from None


def catalogue(family: str | None = None) -> list[LossInfo]:
    """Metadata of every registered loss (optionally of one family), ordered by family then name."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"`family` must be one of {FAMILIES} or None, but it is {family!r}.")
    infos = [fn.info for fn in _REGISTRY.values() if family is None or fn.info.family == family]
    return sorted(infos, key=lambda i: (FAMILIES.index(i.family), i.name))
