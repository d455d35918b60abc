"""The registry and the comparison behind :func:`lossbook.exercises.check`."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Exercise", "Mistake", "exercise", "check", "exercises", "get"]

_EXERCISES: dict[str, Exercise] = {}
SIGNIFICANT_DIGITS = 3  # the book prints results to 3 significant digits; an answer rounded so is right


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer (computed by ``answer()``) and the hint a learner gets when they give it."""

    answer: Callable[[], Any]
    hint: str


@dataclass
class Exercise:
    """One exercise: where it is, how to compute its answer, and the mistakes worth a specific hint.

    ``id`` is ``"<part>.<chapter>.<number>"`` (for example ``"regression.mse.1"``); ``chapter`` is the notebook's
    path under ``chapters/`` without suffix (``"regression/mse"``). Numeric answers are compared with
    ``np.allclose(answer, reference, rtol, atol)`` after checking the shape, or accepted when rounded to
    ``digits`` significant digits (3 by default, as the book prints: ``0.413`` for 0.41327); strings are compared case- and
    space-insensitively; booleans exactly.
    """

    id: str
    chapter: str
    title: str
    rtol: float = 1e-6
    atol: float = 1e-9
    digits: int = SIGNIFICANT_DIGITS
    reference: Callable[[], Any] | None = None
    mistakes: list[Mistake] = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def solution(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Decorator: the function that computes the right answer."""
        self.reference = fn
        return fn

    def mistake(self, hint: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
        """Decorator: a function computing a typical wrong answer, and the hint for it."""

        def add(fn: Callable[[], Any]) -> Callable[[], Any]:
            self.mistakes.append(Mistake(fn, hint))
            return fn

        return add

    def answer(self) -> Any:
        """The reference answer (computed once, then reused: some references train a small model)."""
        if self.reference is None:
            raise RuntimeError(f"exercise {self.id!r} has no reference solution (decorate one with @ex.solution)")
        return _cached(self._cache, "reference", self.reference)

    def mistake_answers(self) -> list[tuple[Any, str]]:
        """Each typical mistake's answer (computed once) with its hint."""
        return [(_cached(self._cache, i, m.answer), m.hint) for i, m in enumerate(self.mistakes)]


def _cached(cache: dict, key, fn: Callable[[], Any]) -> Any:
    if key not in cache:
        cache[key] = fn()
    value = cache[key]
    return value.copy() if isinstance(value, np.ndarray) else value  # a caller may modify what it gets


def exercise(
    id: str, *, chapter: str, title: str, rtol: float = 1e-6, atol: float = 1e-9, digits: int | None = None
) -> Exercise:
    """Register an exercise and return it; attach its reference and mistakes with decorators.

    Example (as in ``lossbook/exercises/regression_mse.py``)::

        ex = exercise("regression.mse.1", chapter="regression/mse", title="MSE by hand")

        @ex.solution
        def _():
            return float(lossbook.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0])))

        @ex.mistake("You summed the squared errors; reduction='mean' divides by the number of elements.")
        def _():
            return float(lossbook.mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]), reduction="sum"))
    """
    parts = id.split(".")
    if len(parts) != 3 or not parts[2].isdigit():
        raise ValueError(f"exercise id must look like '<part>.<chapter>.<number>', got {id!r}")
    if id in _EXERCISES:
        raise ValueError(f"exercise {id!r} is registered twice")
    ex = Exercise(id=id, chapter=chapter, title=title, rtol=rtol, atol=atol,
                  digits=SIGNIFICANT_DIGITS if digits is None else digits)
    _EXERCISES[id] = ex
    return ex


def get(exercise_id: str) -> Exercise:
    """The registered :class:`Exercise` with this id (a KeyError lists the ids that exist)."""
    try:
        return _EXERCISES[exercise_id]
    except KeyError:
        known = ", ".join(sorted(_EXERCISES)) or "none"
        raise KeyError(f"no exercise {exercise_id!r}; known exercises: {known}") from None


def exercises(chapter: str | None = None) -> list[tuple[str, str, str]]:
    """Every exercise as ``(id, chapter, title)``, in book order within each chapter; optionally one chapter's."""
    rows = [(e.id, e.chapter, e.title) for e in _EXERCISES.values() if chapter in (None, e.chapter)]
    return sorted(rows, key=lambda r: (r[1], int(r[0].rsplit(".", 1)[1])))


# ---- comparison -------------------------------------------------------------------------------------

def _as_array(x: Any) -> np.ndarray | None:
    """A float array for numeric answers (numbers, lists, NumPy arrays, torch tensors); None otherwise."""
    if isinstance(x, (str, bytes)) or x is None:
        return None
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr


def _normalise_text(s: str) -> str:
    return " ".join(str(s).strip().lower().split())


def _matches(answer: Any, expected: Any, rtol: float, atol: float, digits: int | None = None) -> bool:
    """Exact comparison (``np.allclose``); with ``digits``, an answer rounded to that many significant digits
    also matches."""
    if isinstance(expected, (bool, np.bool_)):
        return isinstance(answer, (bool, np.bool_)) and bool(answer) == bool(expected)
    if isinstance(expected, str):
        return isinstance(answer, str) and _normalise_text(answer) == _normalise_text(expected)
    a, e = _as_array(answer), _as_array(expected)
    if a is None or e is None or a.shape != e.shape:
        return False
    if np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return True
    return digits is not None and _rounded_match(a, e, atol, digits)


def _rounded_match(a: np.ndarray, e: np.ndarray, atol: float, digits: int = SIGNIFICANT_DIGITS) -> bool:
    """True when each element of ``a`` agrees with ``e`` to ``digits`` significant digits.

    The tolerance is half a unit in the last of those digits of the expected value (0.0005 for 0.41327), so
    ``0.413`` or ``0.4133`` is accepted for 0.41327 and ``0.414`` is not; a value exactly on a rounding
    boundary is accepted rounded either way. Non-finite values must match exactly.
    """
    finite = np.isfinite(e)
    if not np.array_equal(np.isfinite(a), finite):
        return False
    if not np.all(finite) and not np.array_equal(a[~finite], e[~finite], equal_nan=True):
        return False
    a, e = a[finite], e[finite]
    magnitude = np.floor(np.log10(np.where(e == 0, 1.0, np.abs(e))))
    half_unit = np.where(e == 0, 0.0, 0.5 * 10.0 ** (magnitude - (digits - 1)))
    return bool(np.all(np.abs(a - e) <= half_unit * (1 + 1e-9) + atol))


def _generic_hint(answer: Any, expected: Any, ex: Exercise) -> str | None:
    """Hints that apply to any numeric exercise: shape, transpose, sign, and common scale factors."""
    a, e = _as_array(answer), _as_array(expected)
    if e is None:
        return None
    if a is None:
        return f"expected a number or an array of shape {e.shape}, got {type(answer).__name__}."
    if a.shape != e.shape:
        if a.ndim == 2 and a.T.shape == e.shape and np.allclose(a.T, e, rtol=ex.rtol, atol=ex.atol):
            return (
                "your answer is the transpose of the expected one: check the order of the axes (or of the arguments)."
            )
        if a.size == e.size and np.allclose(a.reshape(e.shape), e, rtol=ex.rtol, atol=ex.atol):
            return f"right values, wrong shape: expected shape {e.shape}, got {a.shape}."
        if e.ndim == 0 and a.ndim >= 1:
            return f"expected a single number, got an array of shape {a.shape}: did you forget the reduction?"
        return f"expected shape {e.shape}, got {a.shape}."
    if not np.all(np.isfinite(a)) and np.all(np.isfinite(e)):
        return "your answer contains inf or nan: a log of 0 or an exp that overflowed? Use the stable form."
    if np.allclose(a, -e, rtol=ex.rtol, atol=ex.atol) and np.any(e != 0):
        return (
            "right size, wrong sign: a loss is a *negative* log-likelihood "
            "(and gradient descent steps against the gradient)."
        )
    nz = np.abs(e) > 1e-12
    if np.any(nz):
        ratio = a[nz] / e[nz]
        r = float(ratio.flat[0])
        if np.allclose(ratio, r, rtol=1e-6) and math.isfinite(r) and r != 0:
            for factor, text in [
                (2.0, "twice the expected value: a missing ½ (or 'sum' over two terms where 'mean' was asked)?"),
                (0.5, "half the expected value: an extra ½ that this loss does not have?"),
            ]:
                if abs(r - factor) < 1e-6:
                    return text
            if abs(r - round(r)) < 1e-6 and round(r) > 2:
                return f"{round(r)} times the expected value: 'sum' where 'mean' was asked (a wrong reduction)?"
            if abs(1 / r - round(1 / r)) < 1e-6 and round(1 / r) > 2:
                return f"1/{round(1 / r)} of the expected value: 'mean' where 'sum' was asked (a wrong reduction)?"
    return None


def check(exercise_id: str, answer: Any = None) -> bool:
    """Compare ``answer`` with the reference solution of ``exercise_id``; print a verdict and return True or False.

    ``None`` (the starter cell's placeholder) is not an error: it prints that no answer was given yet and
    returns False. A wrong answer gets the hint of the matching typical mistake, or a generic hint (shape,
    transpose, sign, a factor of 2 or of N), or simply "not yet".
    """
    ex = get(exercise_id)
    if answer is None or answer is Ellipsis:
        print(f"{ex.id}: no answer yet. Replace `answer = None` with your answer and run the cell again.")
        return False
    expected = ex.answer()
    # exact matches first (the answer, then each typical mistake), then answers rounded to ``ex.digits``
    # significant digits: a mistake computed at full precision keeps its hint even when it rounds like the answer
    for digits in (None, ex.digits):
        if _matches(answer, expected, ex.rtol, ex.atol, digits):
            print(f"{ex.id}: correct.")
            return True
        for wrong, hint in ex.mistake_answers():
            if _matches(answer, wrong, ex.rtol, ex.atol, digits):
                print(f"{ex.id}: not yet. {hint}")
                return False
    hint = _generic_hint(answer, expected, ex)
    if hint:
        print(f"{ex.id}: not yet: {hint}")
    else:
        print(f"{ex.id}: not yet. Compare your steps with the chapter's, one intermediate value at a time.")
    return False
