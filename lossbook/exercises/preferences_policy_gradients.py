"""Exercises of chapters/preferences/policy_gradients.ipynb: a clipped token, a group's advantage, token weights."""
import numpy as np

import lossbook
from lossbook.exercises import exercise

ex = exercise("preferences.policy_gradients.1", chapter="preferences/policy_gradients", title="One clipped token")


@ex.solution
def _():
    return float(lossbook.ppo_clip_loss(np.array([[np.log(1.5) - 1.0]]), np.array([[-1.0]]), np.array([2.0]),
                                        np.ones((1, 1))))


@ex.mistake("That is the unclipped term -ρA; PPO takes the minimum of ρA and clip(ρ)A, here 1.2 × 2.")
def _():
    return -3.0


@ex.mistake("Mind the sign: the loss is minus the surrogate, -min(ρA, clip(ρ)A).")
def _():
    return 2.4


ex = exercise("preferences.policy_gradients.2", chapter="preferences/policy_gradients", title="A group's advantage")


@ex.solution
def _():
    return float(lossbook.group_advantages(np.array([1.0, 0.0, 0.0, 1.0]), group_size=4)[0])


@ex.mistake("You divided by the standard deviation without Bessel's correction (G instead of G - 1), as np.std "
            "does by default; TRL and torch.std use G - 1.")
def _():
    return 0.5 / (0.5 + 1e-4)


@ex.mistake("That is the reward minus the group mean, without dividing by the group's standard deviation "
            "(Dr. GRPO's choice, not GRPO's).")
def _():
    return 0.5


ex = exercise("preferences.policy_gradients.3", chapter="preferences/policy_gradients", title="Weights of two lengths")


@ex.solution
def _():
    return 4.0


@ex.mistake("Under the per-token mean every token weighs the same (ratio 1); GRPO's per-sequence mean divides each "
            "answer's tokens by its own length.")
def _():
    return 1.0


@ex.mistake("You inverted the ratio: the short answer's tokens weigh more, 1/(2·2) against 1/(2·8).")
def _():
    return 0.25
