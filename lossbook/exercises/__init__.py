"""Checkers for the book's exercises: ``check(exercise_id, answer)`` and ``exercises()``.

Every exercise of every chapter is registered here with a *reference* (a function that computes the right
answer with lossbook, so the answer can never drift from the code) and the *typical mistakes* a learner makes,
each with a hint. :func:`check` compares a learner's answer with the reference and prints a short verdict:

>>> from lossbook.exercises import check
>>> check("regression.mse.1", None)            # doctest: +SKIP
regression.mse.1: no answer yet. Replace `answer = None` with your answer and run the cell again.
False

The chapters' exercise definitions live in one module per chapter (``lossbook/exercises/<part>_<chapter>.py``);
they are discovered automatically. Everything here needs only NumPy, so the checkers also run in Colab,
plain Jupyter or a browser kernel.
"""
from __future__ import annotations

import importlib
import pkgutil

from ._core import Exercise, Mistake, check, exercise, exercises, get

__all__ = ["check", "exercises", "exercise", "get", "Exercise", "Mistake"]

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    importlib.import_module(f".{_mod}", __name__)
