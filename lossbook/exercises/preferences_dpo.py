"""Exercises of chapters/preferences/dpo.ipynb: one DPO pair, IPO's target, a loss stuck at ln 2."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

_ONE = [np.array([-10.0]), np.array([-12.0]), np.array([-11.0]), np.array([-11.0])]
ex = exercise("preferences.dpo.1", chapter="preferences/dpo", title="One DPO pair")


@ex.solution
def _():
    return float(lossbook.dpo_loss(*_ONE, beta=0.1))


@ex.mistake("You forgot β: the loss is -log σ(β h) with h = 2 and β = 0.1, not -log σ(h).")
def _():
    return float(np.log1p(np.exp(-2.0)))


@ex.mistake("You used only the policy's log-probabilities (h = 2 happens to be the same here only if the reference "
            "cancels); check the sign: the loss of a pair the policy already prefers is below ln 2.")
def _():
    return float(np.log1p(np.exp(0.2)))


ex = exercise("preferences.dpo.2", chapter="preferences/dpo", title="IPO's target")


@ex.solution
def _():
    return 1 / (2 * 0.1)


@ex.mistake("IPO's target is 1/(2β), not 1/β.")
def _():
    return 1 / 0.1


@ex.mistake("That is β/2; the target is 1/(2β).")
def _():
    return 0.05


ex = exercise("preferences.dpo.3", chapter="preferences/dpo", title="A stuck loss")


@ex.solution
def _():
    return round(float(np.log(2)), 4)


@ex.mistake("With every log-probability 0 the margin h is 0, and -log σ(0) = ln 2, not 0.")
def _():
    return 0.0
