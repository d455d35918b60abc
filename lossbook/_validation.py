"""Input validation shared by every loss.

Every check raises an error whose message names the argument, says what it received
(shape, dtype, range) and what the loss expects, and, where one is likely, the fix.

Dtypes, the same for every loss:

* predictions (``input``, ``input1``, ``anchor``, ...) must be floating point (:func:`as_prediction`): integer
  or boolean predictions are refused, as PyTorch refuses them, because they are almost always labels passed
  where scores are expected;
* targets that are real numbers (regression targets, ±1 labels) may be integers: they are converted to the
  prediction's float dtype and take no part in the promotion. Where PyTorch refuses integer or boolean
  targets (0/1 labels and probabilities for ``binary_cross_entropy``, ``binary_cross_entropy_with_logits``,
  ``kl_div``, the focal loss; booleans for ``multilabel_soft_margin_loss``), lossbook refuses them too, with
  the fix (:func:`refuse_target_dtype`), so that code which passes lossbook's checks runs unchanged in PyTorch;
* class indices are int64 or uint8, as PyTorch's ``cross_entropy`` and ``nll_loss`` take them (int64 only
  for the margin losses): other integer dtypes are refused with the fix ``target.astype(np.int64)``;
* float arrays of different precisions are promoted (:func:`promote`, NumPy's and PyTorch's type promotion): a
  float32 prediction with a float64 target is computed, and returned, in float64. Gradients come back in the
  dtype of the argument they belong to, as autograd returns them.
"""
from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np

__all__ = [
    "LossInputWarning",
    "describe",
    "as_float_array",
    "as_prediction",
    "promote",
    "as_index_array",
    "refuse_target_dtype",
    "as_optional_float_array",
    "as_input_and_target",
    "check_finite",
    "check_same_shape",
    "check_range",
    "check_reduction",
    "check_positive",
    "check_nonnegative",
    "check_scalar",
    "warn_likely_mistake",
]


class LossInputWarning(UserWarning):
    """Input that is valid but probably not what was meant (probabilities passed as logits, ...)."""


def describe(x) -> str:
    """A short description of an array for error messages: shape, dtype and value range."""
    a = np.asarray(x)
    text = f"shape {a.shape} and dtype {a.dtype}"
    if a.size and a.dtype.kind in "biuf":
        finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
        if finite.size:
            lo, hi = finite.min(), finite.max()
            text += f", values in [{lo:.4g}, {hi:.4g}]"
        if a.dtype.kind == "f":
            n_nan = int(np.isnan(a).sum())
            n_inf = int(np.isinf(a).sum())
            if n_nan:
                text += f", {n_nan} NaN"
            if n_inf:
                text += f", {n_inf} inf"
    return text


def as_float_array(x, name: str, int_dtype=np.float64) -> np.ndarray:
    """Convert a float target (or weight) to a floating NumPy array.

    Floating arrays keep their dtype (float32 stays float32); Python numbers and lists of floats become
    float64; bool and integer arrays become ``int_dtype`` (float64 unless told otherwise). Complex, string and
    object input is refused. Predictions go through :func:`as_prediction`, which refuses integers.
    """
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor
        raise TypeError(
            f"`{name}` is a torch.Tensor; lossbook works on NumPy arrays. "
            f"Pass `{name}.detach().cpu().numpy()` instead, or use torch.nn.functional directly."
        )
    try:
        a = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"`{name}` could not be converted to a NumPy array: {exc}") from None
    if a.dtype.kind == "f":
        return a
    if a.dtype.kind in "biu":
        return a.astype(int_dtype)
    raise TypeError(
        f"`{name}` must hold real numbers, but it has dtype {a.dtype}. "
        "Expected a float array (or a list of numbers)."
    )


def as_prediction(x, name: str = "input") -> np.ndarray:
    """Convert a prediction (logits, scores, probabilities, embeddings...) to a floating NumPy array.

    Like :func:`as_float_array`, but integer and boolean predictions are refused, as PyTorch refuses them: a
    prediction of integers is almost always a set of labels passed where scores are expected.
    """
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        kind = np.asarray(x).dtype.kind if not (hasattr(x, "detach") and hasattr(x, "numpy")) else "f"
        if kind in "biu":
            a = np.asarray(x)
            what = "booleans" if kind == "b" else "integers"
            raise TypeError(
                f"`{name}` is a prediction and must hold floating-point numbers, but it holds {what} "
                f"({describe(a)}). Integer or boolean predictions are almost always labels passed where scores "
                f"(logits, probabilities, real values) are expected: check the order of the arguments. If these "
                f"really are predictions, convert them with `np.asarray({name}, dtype=float)`."
            )
    return as_float_array(x, name)


def promote(*arrays):
    """Cast the given arrays to their common floating dtype (NumPy's and PyTorch's type promotion).

    ``None`` passes through, and integer arrays (integer targets) take part in nothing: a float32 prediction
    with a float64 target is computed in float64, a float32 prediction with an int64 target in float32.
    Returns the arrays in the same order.
    """
    floats = [a for a in arrays if a is not None and a.dtype.kind == "f"]
    if not floats:
        return arrays
    dtype = np.result_type(*floats)
    return tuple(None if a is None else a.astype(dtype, copy=False) for a in arrays)


def as_optional_float_array(x, name: str, dtype=None, int_dtype=np.float64):
    """Like :func:`as_float_array`, but ``None`` passes through and ``dtype`` (if given) is applied."""
    if x is None:
        return None
    a = as_float_array(x, name, int_dtype=int_dtype)
    return a.astype(dtype, copy=False) if dtype is not None else a


def as_index_array(
    x, name: str, num_classes: int | None = None, ignore_index: int | None = None,
    dtypes: tuple[str, ...] | None = None, fn: str | None = None,
) -> np.ndarray:
    """Convert class-index targets to an int64 array and check their range.

    Float arrays are refused with a hint: floats as a class target are usually one-hot rows or
    probabilities passed where indices are expected. Out-of-range indices raise ``IndexError``. With
    ``dtypes`` (for example ``("int64", "uint8")``, what PyTorch's ``cross_entropy`` takes), an integer dtype
    outside it (int32, say) is refused as PyTorch refuses it, with the fix ``astype(np.int64)``; ``fn`` names
    the PyTorch function in that message.
    """
    a = np.asarray(x)
    if dtypes is not None and a.dtype.kind in "biu" and a.dtype.name not in dtypes:
        torch_names = {"int64": "Long", "uint8": "Byte"}
        wanted = " or ".join(f"{d} ({torch_names.get(d, d)})" for d in dtypes)
        where = f"torch.nn.functional.{fn}" if fn else "PyTorch"
        raise TypeError(
            f"`{name}` holds class indices of dtype {a.dtype}, but {where} takes only {wanted} class indices "
            f"and raises a RuntimeError for {a.dtype} ({_TORCH_DTYPE.get(a.dtype.name, a.dtype)}). "
            f"Convert them with `{name}.astype(np.int64)` (in PyTorch: `{name}.long()`)."
        )
    if a.dtype.kind == "f":
        hint = ""
        if a.ndim >= 2:
            hint = (
                " If these are one-hot rows (or class probabilities), convert them with "
                f"`{name}.argmax(axis=1)`, or pass them as probability targets where the loss allows it "
                "(cross_entropy does)."
            )
        raise TypeError(
            f"`{name}` must hold integer class indices, but it has {describe(a)}.{hint} "
            f"If the floats are whole numbers, use `{name}.astype(np.int64)`."
        )
    if a.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must hold integer class indices, but it has dtype {a.dtype}.")
    a = a.astype(np.int64, copy=False)
    if num_classes is not None and a.size:
        valid = a if ignore_index is None else a[a != ignore_index]
        if valid.size and (valid.min() < 0 or valid.max() >= num_classes):
            extra = f" (or ignore_index={ignore_index})" if ignore_index is not None else ""
            raise IndexError(
                f"`{name}` holds class indices in [{valid.min()}, {valid.max()}], but the prediction has "
                f"{num_classes} classes, so indices must lie in [0, {num_classes - 1}]{extra}."
            )
    return a


_TORCH_DTYPE = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "float64": "Double", "float32": "Float", "float16": "Half"}


def refuse_target_dtype(target, name: str, fn: str, kinds: str = "biu", torch_error: str = "") -> None:
    """Refuse a target whose dtype kind (``'b'`` bool, ``'i'``/``'u'`` integers) is in ``kinds``, as the PyTorch
    function ``fn`` refuses it; the message names the fix (``target.astype(float)``, ``target.float()``).

    Used before the target is converted, so that lossbook accepts exactly the target dtypes PyTorch accepts.
    """
    if hasattr(target, "detach") and hasattr(target, "numpy"):
        return  # a torch tensor: as_float_array explains that lossbook takes NumPy arrays
    kind = np.asarray(target).dtype.kind
    if kind not in kinds:
        return
    a = np.asarray(target)
    what = "booleans" if kind == "b" else "integers"
    said = f" (\"{torch_error}\")" if torch_error else ""
    raise TypeError(
        f"`{name}` holds {what} ({describe(a)}), but torch.nn.functional.{fn} refuses {what} as targets and "
        f"raises{said}. Pass floats: `{name}.astype(np.float32)` or the prediction's dtype "
        f"(in PyTorch: `{name}.float()`); 0/1 labels become 0.0/1.0."
    )


def check_finite(x: np.ndarray, name: str) -> None:
    """Refuse NaN or infinite values (used for targets, where they are always a bug)."""
    # A finite sum proves every element finite, in one pass and without a boolean array as large as x; a
    # sum that overflowed is checked again with min and max, which propagate NaN and expose +-inf.
    if x.dtype.kind != "f" or not x.size:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(x.sum()):
            return
    if not (np.isfinite(x.min()) and np.isfinite(x.max())):
        raise ValueError(f"`{name}` contains NaN or inf ({describe(x)}). Targets must be finite numbers.")


def check_same_shape(
    input: np.ndarray, target: np.ndarray, input_name: str = "input", target_name: str = "target",
    torch_broadcasts: str = "warning",
) -> None:
    """Require identical shapes (lossbook does not broadcast a target against a prediction).

    What PyTorch does with such a pair depends on the loss, and ``torch_broadcasts`` says which, for the
    message: ``"warning"`` (``mse_loss``, ``l1_loss``, ``huber_loss``: broadcast with only a UserWarning, which
    turns a (N, 1) target against a (N,) prediction into an (N, N) loss), ``"silently"`` (``kl_div``,
    ``hinge_embedding_loss``: broadcast without a word) or ``"raises"`` (``binary_cross_entropy``,
    ``binary_cross_entropy_with_logits``, ``soft_margin_loss``: a ValueError or RuntimeError). lossbook
    refuses in every case and says how to fix it.
    """
    if torch_broadcasts not in ("warning", "silently", "raises"):
        raise ValueError(f"torch_broadcasts must be 'warning', 'silently' or 'raises', got {torch_broadcasts!r}")
    if input.shape == target.shape:
        return
    hint = ""
    i_shape, t_shape = input.shape, target.shape
    if t_shape == i_shape + (1,) or i_shape == t_shape + (1,):
        try:
            broadcast = str(np.broadcast_shapes(i_shape, t_shape))
        except ValueError:
            broadcast = "larger"
        did = {
            "warning": f"would broadcast them to a {broadcast} result with only a UserWarning, easy to miss "
            "in a training loop",
            "silently": f"would broadcast them to a {broadcast} result without any warning",
            "raises": "raises for them too",
        }[torch_broadcasts]
        hint = (
            f" PyTorch {did}. Use `{target_name}.reshape({input_name}.shape)` "
            f"or squeeze the extra axis."
        )
    elif len(i_shape) == len(t_shape) and 1 in t_shape and 1 not in i_shape:
        hint = f" Reshape `{target_name}` to {i_shape} if its values line up with `{input_name}`."
    elif target.ndim == input.ndim - 1:
        hint = (
            f" `{target_name}` has one axis fewer than `{input_name}`: if it holds class indices, "
            "this loss expects one-hot / same-shaped targets instead."
        )
    raise ValueError(
        f"`{target_name}` has shape {t_shape} but `{input_name}` has shape {i_shape}; this loss expects them "
        f"to have the same shape.{hint}"
    )


def check_range(x: np.ndarray, name: str, low: float, high: float, what: str, hint: str = "") -> None:
    """Require low <= x <= high (NaN fails too)."""
    if x.size == 0:
        return
    lo, hi = x.min(), x.max()  # NaN propagates into both, and then fails the test below
    if not (lo >= low and hi <= high):
        raise ValueError(
            f"`{name}` must hold {what} in [{low:g}, {high:g}], but it has {describe(x)}."
            + (f" {hint}" if hint else "")
        )


_REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction, allowed=_REDUCTIONS) -> str:
    """Return ``reduction`` if it is one of ``allowed``, else raise ``ValueError``."""
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(
            f"`reduction` must be one of {', '.join(repr(r) for r in allowed)}, but it is {reduction!r}."
        )
    return reduction


def check_scalar(value, name: str) -> float:
    """A real Python/NumPy scalar (not bool, not an array)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            return float(value)
        raise TypeError(f"`{name}` must be a real number, but it is {value!r} ({type(value).__name__}).")
    if not np.isfinite(value):
        raise ValueError(f"`{name}` must be finite, but it is {value!r}.")
    return float(value)


def check_positive(value, name: str) -> float:
    """A scalar > 0."""
    v = check_scalar(value, name)
    if v <= 0:
        raise ValueError(f"`{name}` must be positive, but it is {value!r}.")
    return v


def check_nonnegative(value, name: str) -> float:
    """A scalar >= 0."""
    v = check_scalar(value, name)
    if v < 0:
        raise ValueError(f"`{name}` must be non-negative, but it is {value!r}.")
    return v


_LIBRARY = os.path.dirname(os.path.abspath(__file__))
_BOOK = (os.path.join(_LIBRARY, "book"), os.path.join(_LIBRARY, "exercises"))


def warn_likely_mistake(message: str) -> None:
    """Warn (``LossInputWarning``) about input that is valid but probably not what was meant.

    The warning points at the caller's line: the first frame outside the library's own modules (the loss,
    its ``.grad`` or ``.value_and_grad``, their validation helpers), however deep the call.
    """
    frame, level = sys._getframe(1), 2  # stacklevel 1 is this function, 2 its caller
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_LIBRARY + os.sep) or path.startswith(_BOOK):
            break
        frame, level = frame.f_back, level + 1
    warnings.warn(message, LossInputWarning, stacklevel=level)


def as_input_and_target(
    input, target, reduction, input_name="input", target_name="target", allowed=("none", "mean", "sum"),
    *, torch_fn: str | None = None, refuse_kinds: str = "", torch_error: str = "",
    torch_broadcasts: str = "warning",
):
    """The common preparation of an element-wise loss: a valid ``reduction``, a float prediction, and a
    finite target of the same shape, both in their promoted float dtype.

    Integer (or boolean) targets are accepted and converted to the prediction's dtype, unless their dtype kind
    is in ``refuse_kinds`` (``"biu"``: refused, as the PyTorch function ``torch_fn`` refuses them, see
    :func:`refuse_target_dtype`); a float target of another precision promotes both (float32 with float64
    computes in float64, as PyTorch's type promotion). ``torch_broadcasts`` goes to :func:`check_same_shape`.
    """
    check_reduction(reduction, allowed)
    input = as_prediction(input, input_name)
    if refuse_kinds:
        refuse_target_dtype(target, target_name, torch_fn or "?", refuse_kinds, torch_error)
    target = as_float_array(target, target_name, int_dtype=input.dtype)
    input, target = promote(input, target)
    check_same_shape(input, target, input_name, target_name, torch_broadcasts)
    check_finite(target, target_name)
    return input, target
