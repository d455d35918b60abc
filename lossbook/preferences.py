r"""Losses that learn from preferences and rewards: reward models, DPO and its family, PPO and GRPO.

Every function here takes *per-sequence* log-probabilities (the sum, or the mean, of a sequence's token
log-probabilities, computed by any model) or *per-token* log-probabilities with a mask, so the module is NumPy
only and independent of any model. What each loss expects:

- :func:`bradley_terry_loss`: the scores of a reward model for the chosen and the rejected answer of each pair.
- :func:`dpo_loss`: four per-sequence log-probabilities per pair (policy and frozen reference, chosen and
  rejected), with ``loss_type`` ``"sigmoid"`` (DPO), ``"hinge"`` (SLiC) or ``"ipo"`` (IPO) and ``label_smoothing``
  (conservative DPO).
- :func:`simpo_loss`, :func:`orpo_loss`: two per-sequence *length-averaged* log-probabilities per pair, no reference.
- :func:`kto_loss`: unpaired answers, each with its log-probability under the policy and the reference and a
  desirable / undesirable label.
- :func:`ppo_clip_loss`: per-token log-probabilities of sampled completions under the current and the sampling
  policy, advantages and a mask, with the token normalisations of GRPO, DAPO and Dr. GRPO.
- :func:`kl_penalty`: the k1, k2, k3 estimators of KL(policy || reference) from sampled tokens.
- :func:`group_advantages`: GRPO's group-normalised advantages (not a loss: no gradient).

The reference log-probabilities, the sampling policy's log-probabilities, the advantages and the labels are data
(every implementation computes them without gradient), so ``<loss>.grad`` returns the gradient with respect to the
*policy's* log-probabilities (or the reward model's scores) only. The conventions follow Hugging Face TRL; each
docstring names the file and line it follows (TRL at commit ``f2cd577``, July 2026).
"""
from __future__ import annotations

import numbers

import numpy as np

from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import log_sigmoid, sigmoid, softplus
from ._validation import (
    as_float_array,
    as_prediction,
    check_finite,
    check_nonnegative,
    check_positive,
    check_reduction,
    check_scalar,
    describe,
    promote,
    warn_likely_mistake,
)

__all__ = [
    "bradley_terry_loss",
    "dpo_loss",
    "simpo_loss",
    "orpo_loss",
    "kto_loss",
    "ppo_clip_loss",
    "kl_penalty",
    "group_advantages",
]

DPO_LOSS_TYPES = ("sigmoid", "hinge", "ipo")
NORMALIZATIONS = ("sequence", "token", "constant", "none")
KL_ESTIMATORS = ("k1", "k2", "k3")
ADVANTAGE_SCALES = ("group", "batch", "none")

_PAIR_TARGET = dict(
    target_dtype="float (reference log-probabilities)",
    target_shape="(N,): one value per pair, like the policy's",
)


# ----------------------------------------------------------------------------------------------------------
# Private helpers
# ----------------------------------------------------------------------------------------------------------


def _same_shape(arrays, names):
    out = list(promote(*arrays))
    for a, n in zip(out[1:], names[1:], strict=True):
        if a.shape != out[0].shape:
            hint = ""
            if a.size == out[0].size:
                hint = f" They hold as many values: `{n}.reshape({names[0]}.shape)` if they line up."
            raise ValueError(
                f"`{n}` has shape {a.shape} but `{names[0]}` has shape {out[0].shape}; this loss expects "
                f"{', '.join(f'`{m}`' for m in names)} to have the same shape, one value per "
                f"{'pair' if 'chosen' in names[0] else 'sequence'} (lossbook does not broadcast them).{hint}"
            )
    return out


def _logps(x, name, policy=True, strict_negative=False):
    """A float array of log-probabilities: finite, <= 0 (< 0 where the loss takes log(1 - p))."""
    a = as_prediction(x, name) if policy else as_float_array(x, name)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if a.size and not (np.isfinite(a.min()) and np.isfinite(a.max())):
        raise ValueError(
            f"`{name}` contains NaN or inf ({describe(a)}). Log-probabilities of sampled sequences are finite; an "
            "-inf means a token of probability 0 was scored (a masked-out logit, or a token the model cannot emit)."
        )
    if a.size and a.max() > 0:
        hint = (
            " All values are >= 0: these look like negative log-likelihoods (losses); pass their negatives."
            if a.min() >= 0 else " Pass log-probabilities (log_softmax of the logits, gathered and summed), not logits."
        )
        raise ValueError(f"`{name}` must hold log-probabilities (<= 0), but it has {describe(a)}.{hint}")
    if strict_negative and a.size and a.max() >= 0:
        raise ValueError(
            f"`{name}` must hold log-probabilities below 0 (this loss takes log(1 - p)), but it has {describe(a)}. "
            "A log-probability of exactly 0 is a sequence of probability 1, whose odds are infinite: check the mask."
        )
    return a


def _warn_all_zero(a, name):
    if a.size > 1 and not np.any(a):
        warn_likely_mistake(
            f"Every value of `{name}` is exactly 0. A log-probability of 0 is a sequence of probability 1: most likely "
            "the mask removed every token (wrong label padding, a prompt mask covering the completion), and the loss "
            "then sits at its starting value whatever the model does (ln 2 for DPO)."
        )


def _check_beta(beta):
    return check_positive(beta, "beta")


def _check_label_smoothing(label_smoothing):
    eps = check_scalar(label_smoothing, "label_smoothing")
    if not 0 <= eps < 0.5:
        raise ValueError(
            f"`label_smoothing` must lie in [0, 0.5), but it is {label_smoothing!r}: it is the probability that a "
            "preference label is flipped, and at 0.5 the labels carry no information."
        )
    return eps


def _smoothed_logistic(z, eps):
    """(1 - eps) softplus(-z) + eps softplus(z): the logistic loss of z, its label flipped with probability eps."""
    loss = softplus(-z)
    if eps:   # the second term only where it counts: the value and the gradient each cost half as much
        loss = (1 - eps) * loss + eps * softplus(z)
    return loss


def _smoothed_logistic_dz(z, eps):
    """The derivative in z of :func:`_smoothed_logistic`: -(1 - eps) sigmoid(-z) + eps sigmoid(z)."""
    dz = -sigmoid(-z)
    if eps:
        dz = (1 - eps) * dz + eps * sigmoid(z)
    return dz


def _log1mexp(x):
    """log(1 - exp(x)) for x < 0, branching at -ln 2 (Mächler, 2012), as TRL's ``log1mexp``: log1p(-exp(x)) below,
    log(-expm1(x)) above. Each branch sees its argument clamped to its side (so both are finite), and the mask
    picks one by multiplying (the other term is exactly 0): several times faster than ``np.where`` on a mixed mask."""
    t = -0.6931471805599453
    below = x < t
    return below * np.log1p(-np.exp(np.minimum(x, t))) + ~below * np.log(-np.expm1(np.maximum(x, t)))


# ----------------------------------------------------------------------------------------------------------
# Reward model: Bradley–Terry
# ----------------------------------------------------------------------------------------------------------


def _prepare_bt(chosen_rewards, rejected_rewards, margin, reduction):
    check_reduction(reduction)
    c = as_prediction(chosen_rewards, "chosen_rewards")
    r = as_prediction(rejected_rewards, "rejected_rewards")
    c, r = _same_shape([c, r], ["chosen_rewards", "rejected_rewards"])
    if isinstance(margin, numbers.Real) and not isinstance(margin, bool):
        m = np.asarray(check_scalar(margin, "margin"), c.dtype)
    else:
        m = as_float_array(margin, "margin", int_dtype=c.dtype)
        check_finite(m, "margin")
        if m.shape not in ((), c.shape):
            raise ValueError(
                f"`margin` has shape {m.shape}; it must be a number or hold one margin per pair, shape {c.shape}."
            )
        m = m.astype(c.dtype, copy=False)
    return c, r, m


@register(
    family="preferences",
    prediction="scores",
    target_dtype="float (rewards of the rejected answers)",
    target_shape="(N,): the same shape as chosen_rewards",
    target_values="any real scores; the chosen answer of pair i is the preferred one",
    reference="Bradley & Terry, Biometrika (1952); Ouyang et al., Training language models to follow instructions "
    "with human feedback, NeurIPS (2022); TRL trl/trainer/reward_trainer.py",
    wrt=("chosen_rewards", "rejected_rewards"),
)
def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=0.0, reduction="mean"):
    r"""Bradley–Terry (reward-model) loss: the chosen answer of each pair should score higher than the rejected one.

    .. math:: \ell_i = -\log \sigma\bigl(r^{+}_i - r^{-}_i - m_i\bigr) = \log\bigl(1 + e^{-(r^{+}_i - r^{-}_i - m_i)}\bigr)

    Args:
        chosen_rewards: ``r⁺``, shape ``(N,)`` (any shape): the reward model's scores of the preferred answers.
        rejected_rewards: ``r⁻``, the same shape: the scores of the rejected answers of the same pairs.
        margin: ``m``, a number or one per pair (default 0): how much higher the chosen score must be before the
            loss stops pushing, e.g. larger for pairs the annotators judged "much better" (Llama 2).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    The probability the model gives to "chosen is preferred" is ``σ(r⁺ - r⁻)``; the loss is its negative log, the
    RankNet loss of a pair, or logistic regression on the score difference. It depends only on differences, so
    adding a constant to every reward changes nothing (centre the rewards, e.g. TRL's
    ``center_rewards_coefficient``, if their absolute level matters). Finite for every finite input.

    Example::

        >>> float(bradley_terry_loss(np.array([1.0]), np.array([1.0])))   # ln 2 for a tie
        0.6931471805599453

    Gradient: ``∂ℓ/∂r⁺ = -σ(-(r⁺ - r⁻ - m)) = -∂ℓ/∂r⁻``.
    Reference: Bradley & Terry (1952); Ouyang et al. (2022); TRL ``trl/trainer/reward_trainer.py`` line 751,
    ``-logsigmoid(rewards_chosen - rewards_rejected - margin).mean()``.
    """
    c, r, m = _prepare_bt(chosen_rewards, rejected_rewards, margin, reduction)
    return reduce(softplus(-(c - r - m)), reduction)


@bradley_terry_loss.defgrad
def _bradley_terry_loss_grad(chosen_rewards, rejected_rewards, margin=0.0, reduction="mean"):
    c, r, m = _prepare_bt(chosen_rewards, rejected_rewards, margin, reduction)
    g = -sigmoid(-(c - r - m)) * c.dtype.type(reduction_scale(reduction, c.size))
    return g, -g


# ----------------------------------------------------------------------------------------------------------
# DPO, IPO, SLiC (hinge), conservative DPO
# ----------------------------------------------------------------------------------------------------------


def _prepare_dpo(pc, pr, rc, rr, beta, loss_type, label_smoothing, reduction):
    check_reduction(reduction)
    beta = _check_beta(beta)
    if loss_type not in DPO_LOSS_TYPES:
        raise ValueError(
            f"`loss_type` must be one of {', '.join(repr(t) for t in DPO_LOSS_TYPES)}, but it is {loss_type!r}. "
            "For SimPO, ORPO or KTO use simpo_loss, orpo_loss or kto_loss."
        )
    eps = _check_label_smoothing(label_smoothing)
    if eps and loss_type != "sigmoid":
        raise ValueError(
            f"`label_smoothing` is only defined for loss_type='sigmoid' (conservative DPO), but it is {eps!r} with "
            f"loss_type={loss_type!r}. Set label_smoothing=0."
        )
    names = ["policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps", "reference_rejected_logps"]
    arrays = [_logps(pc, names[0]), _logps(pr, names[1]), _logps(rc, names[2], policy=False),
              _logps(rr, names[3], policy=False)]
    pc, pr, rc, rr = _same_shape(arrays, names)
    _warn_all_zero(pc, names[0])
    h = (pc - rc) - (pr - rr)
    return h, beta, eps


def _dpo_terms(h, beta, loss_type, eps):
    """Per-pair loss, a function of h = (log-ratio of chosen) - (log-ratio of rejected)."""
    if loss_type == "sigmoid":
        return _smoothed_logistic(beta * h, eps)
    if loss_type == "hinge":
        return np.maximum(1 - beta * h, 0)
    d = h - 1 / (2 * beta)
    return d * d


def _dpo_dh(h, beta, loss_type, eps):
    """The derivative in h of :func:`_dpo_terms`."""
    if loss_type == "sigmoid":
        return beta * _smoothed_logistic_dz(beta * h, eps)
    if loss_type == "hinge":
        return -beta * (1 - beta * h > 0).astype(h.dtype)
    return 2 * (h - 1 / (2 * beta))


@register(
    family="preferences",
    prediction="log-probabilities",
    **_PAIR_TARGET,
    target_values="log-probabilities (<= 0) of the chosen and rejected answers under the frozen reference policy",
    reference="Rafailov et al., Direct Preference Optimization, NeurIPS (2023); Azar et al. (IPO), AISTATS (2024); "
    "Zhao et al. (SLiC-HF, 2023); Mitchell (cDPO, 2023); TRL trl/trainer/dpo_trainer.py",
    wrt=("policy_chosen_logps", "policy_rejected_logps"),
)
def dpo_loss(
    policy_chosen_logps,
    policy_rejected_logps,
    reference_chosen_logps,
    reference_rejected_logps,
    beta=0.1,
    loss_type="sigmoid",
    label_smoothing=0.0,
    reduction="mean",
):
    r"""Direct preference optimisation: a logistic loss on the difference of the policy's log-ratios to a reference.

    With :math:`h_i = \bigl(\log\pi(y^+_i) - \log\pi_{\mathrm{ref}}(y^+_i)\bigr) -
    \bigl(\log\pi(y^-_i) - \log\pi_{\mathrm{ref}}(y^-_i)\bigr)`,

    .. math::
        \ell^{\mathrm{sigmoid}}_i &= -(1-\varepsilon)\log\sigma(\beta h_i) - \varepsilon\log\sigma(-\beta h_i)
        \quad\text{(DPO; conservative DPO for } \varepsilon > 0\text{)} \\
        \ell^{\mathrm{hinge}}_i &= \max(0,\ 1 - \beta h_i) \quad\text{(SLiC)} \\
        \ell^{\mathrm{ipo}}_i &= \bigl(h_i - \tfrac{1}{2\beta}\bigr)^2 \quad\text{(IPO)}

    Args:
        policy_chosen_logps, policy_rejected_logps: ``(N,)`` log-probabilities (<= 0) of the chosen and the rejected
            answer of each pair under the policy being trained: the **sum** of the answer's token log-probabilities
            (prompt and padding masked out), as TRL computes them. For ``"ipo"`` TRL divides each by the number of
            answer tokens (a per-token average); pass averaged values, here and for the reference, to match it.
        reference_chosen_logps, reference_rejected_logps: the same under the frozen reference policy (data: no
            gradient flows into them).
        beta: ``β > 0`` (default 0.1), the strength of the KL regularisation: small β lets the policy move far from
            the reference. For IPO it is τ, and ``1/(2β)`` is the target value of ``h``.
        loss_type: ``"sigmoid"`` (default), ``"hinge"`` or ``"ipo"``.
        label_smoothing: ``ε`` in [0, 0.5) (default 0): the assumed probability that a label is flipped
            (conservative DPO); only with ``"sigmoid"``.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    ``β h`` is the difference of the *implicit rewards* ``β log(π/π_ref)`` of the two answers. At the start of
    training the policy is the reference, ``h = 0`` and the sigmoid loss is exactly ``ln 2 ≈ 0.693``; a loss stuck
    there means ``h`` stays 0 (a policy that does not move, or log-probabilities masked to 0: lossbook warns when
    every policy log-probability is exactly 0). The loss only sees ``h``, so both log-probabilities may fall while
    it improves.

    Example::

        >>> z = np.array([-12.0, -9.5])
        >>> float(dpo_loss(z, z - 1, z, z - 1))   # policy = reference
        0.6931471805599453

    Gradient (``wrt`` the policy's two arguments): ``∂ℓ/∂ log π(y⁺) = dℓ/dh = -∂ℓ/∂ log π(y⁻)``; for the sigmoid loss
    ``dℓ/dh = -β[(1-ε)σ(-βh) - εσ(βh)]``, for the hinge ``-β [1 - βh > 0]`` (0 at the kink, as torch's relu), for IPO
    ``2(h - 1/(2β))``.
    Reference: Rafailov et al. (2023), Eq. 7; Azar et al. (2024), Eq. 17; Zhao et al. (2023); Mitchell (2023).
    TRL ``trl/trainer/dpo_trainer.py`` lines 1434-1451 (``sigmoid``, ``hinge``, ``ipo``, IPO's per-token average at
    1441-1450); the label-smoothed sigmoid is TRL's cDPO formula, kept in ``trl/experimental/cpo/cpo_trainer.py``
    lines 722-726.
    """
    h, beta, eps = _prepare_dpo(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                                reference_rejected_logps, beta, loss_type, label_smoothing, reduction)
    return reduce(_dpo_terms(h, beta, loss_type, eps), reduction)


@dpo_loss.defgrad
def _dpo_loss_grad(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps, reference_rejected_logps,
                   beta=0.1, loss_type="sigmoid", label_smoothing=0.0, reduction="mean"):
    """(d/d policy_chosen_logps, d/d policy_rejected_logps)."""
    h, beta, eps = _prepare_dpo(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
                                reference_rejected_logps, beta, loss_type, label_smoothing, reduction)
    dh = _dpo_dh(h, beta, loss_type, eps) * h.dtype.type(reduction_scale(reduction, h.size))
    return dh, -dh


# ----------------------------------------------------------------------------------------------------------
# SimPO and ORPO: reference-free, length-averaged
# ----------------------------------------------------------------------------------------------------------


def _prepare_pair(pc, pr, reduction, strict_negative=False):
    check_reduction(reduction)
    names = ["policy_chosen_logps", "policy_rejected_logps"]
    pc, pr = _same_shape([_logps(pc, names[0], strict_negative=strict_negative),
                          _logps(pr, names[1], strict_negative=strict_negative)], names)
    _warn_all_zero(pc, names[0])
    return pc, pr


@register(
    family="preferences",
    prediction="log-probabilities",
    target_dtype="float (log-probabilities of the rejected answers)",
    target_shape="(N,): one value per pair, like policy_chosen_logps",
    target_values="per-token average log-probabilities (<= 0) of the rejected answers; no reference model",
    reference="Meng, Xia & Chen, SimPO: Simple Preference Optimization with a Reference-Free Reward, NeurIPS (2024); "
    "TRL trl/experimental/cpo/cpo_trainer.py",
    wrt=("policy_chosen_logps", "policy_rejected_logps"),
)
def simpo_loss(policy_chosen_logps, policy_rejected_logps, beta=2.0, gamma=1.0, label_smoothing=0.0,
               reduction="mean"):
    r"""SimPO: a logistic loss on the difference of length-normalised log-probabilities, with a target margin.

    .. math:: \ell_i = -(1-\varepsilon)\log\sigma\bigl(\beta(\bar z^+_i - \bar z^-_i) - \gamma\bigr)
        - \varepsilon\log\sigma\bigl(-\beta(\bar z^+_i - \bar z^-_i) + \gamma\bigr),
        \qquad \bar z = \frac{1}{|y|}\sum_t \log\pi(y_t \mid x, y_{<t})

    Args:
        policy_chosen_logps, policy_rejected_logps: ``(N,)`` **per-token average** log-probabilities (<= 0) of the
            chosen and rejected answers under the policy (TRL's ``average_log_prob=True``). Passing sums gives the
            length-biased reward SimPO was designed to remove.
        beta: ``β > 0`` (default 2.0, the paper's usual value; TRL's CPO default is 0.1).
        gamma: ``γ`` (default 1.0, i.e. the paper's ``γ/β = 0.5``): the target reward margin. TRL's ``simpo_gamma``
            is this ``γ`` (TRL subtracts ``γ/β`` from the log-ratio before multiplying by ``β``).
        label_smoothing: ``ε`` in [0, 0.5) (default 0), as in conservative DPO.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    No reference model: the implicit reward is ``β z̄``, the policy's own average log-probability. Without the
    margin the loss starts wherever the policy happens to rank the pair; a tie costs ``ln(1 + e^γ)``.

    Example::

        >>> round(float(simpo_loss(np.array([-1.0]), np.array([-1.0]), gamma=0.0)), 4)
        0.6931

    Gradient: with ``z = β(z̄⁺ - z̄⁻) - γ``, ``∂ℓ/∂z̄⁺ = β[-(1-ε)σ(-z) + εσ(z)] = -∂ℓ/∂z̄⁻``.
    Reference: Meng et al. (2024), Eq. 6; TRL ``trl/experimental/cpo/cpo_trainer.py`` lines 714-720 (``loss_type
    == "simpo"``) and 849 (average log-probabilities).
    """
    pc, pr = _prepare_pair(policy_chosen_logps, policy_rejected_logps, reduction)
    beta = _check_beta(beta)
    gamma = check_scalar(gamma, "gamma")
    eps = _check_label_smoothing(label_smoothing)
    return reduce(_smoothed_logistic(beta * (pc - pr) - gamma, eps), reduction)


@simpo_loss.defgrad
def _simpo_loss_grad(policy_chosen_logps, policy_rejected_logps, beta=2.0, gamma=1.0, label_smoothing=0.0,
                     reduction="mean"):
    pc, pr = _prepare_pair(policy_chosen_logps, policy_rejected_logps, reduction)
    beta = _check_beta(beta)
    gamma = check_scalar(gamma, "gamma")
    eps = _check_label_smoothing(label_smoothing)
    dz = _smoothed_logistic_dz(beta * (pc - pr) - gamma, eps)
    g = dz * pc.dtype.type(beta * reduction_scale(reduction, pc.size))
    return g, -g


@register(
    family="preferences",
    prediction="log-probabilities",
    target_dtype="float (log-probabilities of the rejected answers)",
    target_shape="(N,): one value per pair, like policy_chosen_logps",
    target_values="per-token average log-probabilities (< 0) of the rejected answers; no reference model",
    reference="Hong, Lee & Thorne, ORPO: Monolithic Preference Optimization without Reference Model, EMNLP (2024); "
    "TRL trl/experimental/orpo/orpo_trainer.py",
    wrt=("policy_chosen_logps", "policy_rejected_logps"),
)
def orpo_loss(policy_chosen_logps, policy_rejected_logps, beta=0.1, include_nll=True, reduction="mean"):
    r"""ORPO: supervised fine-tuning on the chosen answer plus a log-odds-ratio preference term.

    .. math::
        \ell_i = \underbrace{-\bar z^+_i}_{\text{NLL of } y^+}
        - \beta \log\sigma\Bigl(\log\frac{\mathrm{odds}(y^+_i)}{\mathrm{odds}(y^-_i)}\Bigr),
        \qquad \log\mathrm{odds}(y) = \bar z - \log\bigl(1 - e^{\bar z}\bigr)

    Args:
        policy_chosen_logps, policy_rejected_logps: ``(N,)`` **per-token average** log-probabilities, strictly
            below 0 (TRL's ``average_log_prob=True``): ``e^{z̄}`` is the geometric-mean token probability, and
            its odds must be finite.
        beta: ``β > 0`` (default 0.1, TRL's default; λ in the paper), the weight of the odds-ratio term.
        include_nll: add the supervised term ``-z̄⁺`` (default True). With False the loss is the odds-ratio term
            alone, TRL's ``odds_ratio_loss`` negated.
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    TRL's supervised term is the token-level cross-entropy averaged over *all* chosen tokens of the batch; here it is
    each pair's average, the same when the chosen answers have equal lengths. ``log(1 - e^z)`` is computed as
    TRL's ``log1mexp``, finite for every z < 0.

    Example::

        >>> round(float(orpo_loss(np.array([-0.5]), np.array([-0.5]), include_nll=False)), 4)   # 0.1 ln 2
        0.0693

    Gradient: with ``L`` the log odds ratio, ``∂L/∂z̄⁺ = 1/(1 - e^{z̄⁺})`` and ``∂L/∂z̄⁻ = -1/(1 - e^{z̄⁻})``, so
    ``∂ℓ/∂z̄⁺ = -1·[include_nll] - βσ(-L)/(1 - e^{z̄⁺})`` and ``∂ℓ/∂z̄⁻ = βσ(-L)/(1 - e^{z̄⁻})``.
    Reference: Hong et al. (2024), Eqs. 4-7; TRL ``trl/experimental/orpo/orpo_trainer.py`` lines 696-700
    (``odds_ratio_loss``) and 851 (``loss = policy_nll_loss - losses.mean()``).
    """
    pc, pr = _prepare_pair(policy_chosen_logps, policy_rejected_logps, reduction, strict_negative=True)
    beta = _check_beta(beta)
    log_odds = (pc - pr) - (_log1mexp(pc) - _log1mexp(pr))
    loss = -beta * log_sigmoid(log_odds)
    if include_nll:
        loss = loss - pc
    return reduce(loss, reduction)


@orpo_loss.defgrad
def _orpo_loss_grad(policy_chosen_logps, policy_rejected_logps, beta=0.1, include_nll=True, reduction="mean"):
    pc, pr = _prepare_pair(policy_chosen_logps, policy_rejected_logps, reduction, strict_negative=True)
    beta = _check_beta(beta)
    log_odds = (pc - pr) - (_log1mexp(pc) - _log1mexp(pr))
    w = beta * sigmoid(-log_odds)
    scale = pc.dtype.type(reduction_scale(reduction, pc.size))
    gc = -w / -np.expm1(pc)
    gr = w / -np.expm1(pr)
    if include_nll:
        gc = gc - 1
    return gc * scale, gr * scale


# ----------------------------------------------------------------------------------------------------------
# KTO: unpaired desirable / undesirable answers
# ----------------------------------------------------------------------------------------------------------


def _prepare_kto(policy_logps, reference_logps, desirable, kl, beta, desirable_weight, undesirable_weight, reduction):
    check_reduction(reduction)
    beta = _check_beta(beta)
    kl = check_scalar(kl, "kl")
    if kl < 0:
        raise ValueError(
            f"`kl` must be >= 0, but it is {kl!r}: it estimates KL(policy || reference), and TRL clamps its batch "
            "estimate at 0 (`.clamp(min=0)`). Pass `max(kl_estimate, 0)`."
        )
    wd = check_nonnegative(desirable_weight, "desirable_weight")
    wu = check_nonnegative(undesirable_weight, "undesirable_weight")
    names = ["policy_logps", "reference_logps"]
    p, r = _same_shape([_logps(policy_logps, names[0]), _logps(reference_logps, names[1], policy=False)], names)
    d = np.asarray(desirable)
    if hasattr(desirable, "detach"):
        as_float_array(desirable, "desirable")  # raises the torch hint
    if d.shape != p.shape:
        raise ValueError(
            f"`desirable` has shape {d.shape} but `policy_logps` has shape {p.shape}; KTO needs one label per answer."
        )
    if d.dtype.kind == "b":
        d = d.copy()
    elif d.dtype.kind in "iuf" and np.all((d == 0) | (d == 1)):
        d = d.astype(bool)
    else:
        raise ValueError(
            f"`desirable` must hold booleans or 0/1 labels (1 = a desirable answer), but it has {describe(d)}. "
            "KTO takes a binary label per answer, not a score; threshold a score first (e.g. `score > 0`)."
        )
    return p - r, d, kl, beta, wd, wu


@register(
    family="preferences",
    prediction="log-probabilities",
    target_dtype="bool or 0/1 int (desirable), plus float reference log-probabilities",
    target_shape="(N,): one label and one reference log-probability per answer",
    target_values="desirable = True/1 for a good answer, False/0 for a bad one; answers need not come in pairs",
    reference="Ethayarajh et al., KTO: Model Alignment as Prospect Theoretic Optimization, ICML (2024); "
    "TRL trl/trainer/kto_trainer.py",
    wrt=("policy_logps",),
)
def kto_loss(policy_logps, reference_logps, desirable, kl=0.0, beta=0.1, desirable_weight=1.0,
             undesirable_weight=1.0, reduction="mean"):
    r"""KTO: each answer, desirable or not, is pushed away from a reference point on its own: no pairs needed.

    With the log-ratio :math:`z_i = \log\pi(y_i) - \log\pi_{\mathrm{ref}}(y_i)` and the reference point
    :math:`z_0` (an estimate of KL(π || π_ref), held constant),

    .. math:: \ell_i = \begin{cases} \lambda_D\,\bigl(1 - \sigma(\beta(z_i - z_0))\bigr) & y_i \text{ desirable} \\
        \lambda_U\,\bigl(1 - \sigma(\beta(z_0 - z_i))\bigr) & y_i \text{ undesirable} \end{cases}

    Args:
        policy_logps, reference_logps: ``(N,)`` summed log-probabilities (<= 0) of each answer under the policy and
            the frozen reference.
        desirable: ``(N,)`` booleans or 0/1: which answers are desirable.
        kl: ``z₀ >= 0`` (default 0): TRL estimates it per batch as ``max(0, mean(log π(y') - log π_ref(y')))`` over
            *mismatched* (prompt, answer) pairs, without gradient. 0 gives TRL's ``apo_zero_unpaired``-like anchor.
        beta: ``β > 0`` (default 0.1).
        desirable_weight, undesirable_weight: ``λ_D``, ``λ_U`` (default 1), to balance unequal numbers of the two
            kinds (the KTO paper suggests ``λ_D n_D / (λ_U n_U)`` in [1, 4/3]).
        reduction: ``'mean'`` (default, over all N answers, as TRL's mean of the concatenated losses), ``'sum'`` or
            ``'none'``.

    The loss is bounded (in [0, λ]), so a very wrong answer does not dominate the batch, unlike DPO's logistic loss.

    Example::

        >>> z = np.array([-10.0, -12.0])
        >>> float(kto_loss(z, z, np.array([True, False])))   # policy = reference, z0 = 0: each term is 1/2
        0.5

    Gradient (``wrt`` policy_logps): ``-λ_D β s(1 - s)`` with ``s = σ(β(z - z₀))`` for desirable answers,
    ``+λ_U β s(1 - s)`` with ``s = σ(β(z₀ - z))`` for undesirable ones.
    Reference: Ethayarajh et al. (2024), Eq. 8; TRL ``trl/trainer/kto_trainer.py`` lines 1552-1592 (``kl`` at 1553-1554,
    the two losses at 1563 and 1579, the weights at 1589-1592).
    """
    z, d, kl, beta, wd, wu = _prepare_kto(policy_logps, reference_logps, desirable, kl, beta, desirable_weight,
                                          undesirable_weight, reduction)
    loss = np.where(d, wd * (1 - sigmoid(beta * (z - kl))), wu * (1 - sigmoid(beta * (kl - z))))
    return reduce(loss, reduction)


@kto_loss.defgrad
def _kto_loss_grad(policy_logps, reference_logps, desirable, kl=0.0, beta=0.1, desirable_weight=1.0,
                   undesirable_weight=1.0, reduction="mean"):
    """d/d policy_logps."""
    z, d, kl, beta, wd, wu = _prepare_kto(policy_logps, reference_logps, desirable, kl, beta, desirable_weight,
                                          undesirable_weight, reduction)
    sd = sigmoid(beta * (z - kl))
    su = sigmoid(beta * (kl - z))
    g = np.where(d, -wd * beta * sd * (1 - sd), wu * beta * su * (1 - su))
    return g * z.dtype.type(reduction_scale(reduction, z.size))


# ----------------------------------------------------------------------------------------------------------
# Policy gradients: PPO's clipped surrogate with GRPO's token normalisations
# ----------------------------------------------------------------------------------------------------------


def _mask(mask, shape):
    m = np.asarray(mask)
    if hasattr(mask, "detach"):
        as_float_array(mask, "mask")
    if m.shape != shape:
        raise ValueError(
            f"`mask` has shape {m.shape} but `logps` has shape {shape}; the mask marks the completion tokens of each "
            "sequence (1 = a generated token, 0 = prompt or padding) and must match it."
        )
    if m.dtype.kind == "b":
        return m
    if m.dtype.kind in "iuf" and np.all((m == 0) | (m == 1)):
        return m.astype(bool)
    raise ValueError(
        f"`mask` must hold booleans or 0/1 (1 = a completion token), but it has {describe(m)}. An attention mask of "
        "0/1 works; token ids or label ids (-100 for padding) do not: use `labels != -100`."
    )


def _prepare_ppo(logps, old_logps, advantages, mask, clip_range, clip_range_high, normalization, max_length):
    lp = as_prediction(logps, "logps")
    if lp.ndim != 2:
        raise ValueError(
            f"`logps` must have shape (B, T), one row of per-token log-probabilities per sampled completion, but it "
            f"has shape {lp.shape}." + (" For one sequence use `logps[None, :]`." if lp.ndim == 1 else "")
        )
    lp = _logps(lp, "logps")
    old = _logps(old_logps, "old_logps", policy=False)
    lp, old = _same_shape([lp, old], ["logps", "old_logps"])
    a = as_float_array(advantages, "advantages", int_dtype=lp.dtype)
    check_finite(a, "advantages")
    if a.shape == lp.shape[:1]:
        a = a[:, None]
    elif a.shape != lp.shape:
        raise ValueError(
            f"`advantages` has shape {a.shape}; it must hold one advantage per sequence, shape {lp.shape[:1]} (GRPO), "
            f"or one per token, shape {lp.shape} (PPO with GAE)."
            + (" Squeeze the trailing axis." if a.shape == lp.shape[:1] + (1,) else "")
        )
    a = a.astype(lp.dtype, copy=False)
    m = _mask(mask, lp.shape)
    low = check_positive(clip_range, "clip_range")
    if low >= 1:
        raise ValueError(f"`clip_range` must lie in (0, 1), but it is {clip_range!r}: the ratio is clipped to "
                         "[1 - clip_range, 1 + clip_range_high], and a lower bound <= 0 clips nothing.")
    high = low if clip_range_high is None else check_positive(clip_range_high, "clip_range_high")
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"`normalization` must be one of {', '.join(repr(n) for n in NORMALIZATIONS)}, but it is "
            f"{normalization!r}. TRL's loss_type 'grpo' is 'sequence', 'bnpo' and 'dapo' are 'token', 'dr_grpo' is "
            "'constant'."
        )
    if max_length is None:
        max_length = lp.shape[1]
    elif isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral) or max_length < 1:
        raise TypeError(f"`max_length` must be a positive integer or None (the width T of `logps`), but it is "
                        f"{max_length!r}.")
    elif normalization == "constant" and max_length < lp.shape[1]:
        raise ValueError(f"`max_length` ({max_length}) is smaller than the width of `logps` ({lp.shape[1]}): it is the "
                         "longest completion the sampler may produce, at least T.")
    return lp, old, a, m, low, high, int(max_length)


def _token_weights(m, normalization, max_length, dtype):
    """d(reduced loss) / d(per-token loss): zero outside the mask."""
    mf = m.astype(dtype)
    B = m.shape[0]
    if normalization == "sequence":
        return mf / (np.maximum(mf.sum(axis=1, keepdims=True), 1) * max(B, 1))
    if normalization == "token":
        return mf / max(mf.sum(), 1)
    if normalization == "constant":
        return mf / (max(B, 1) * max_length)
    return mf


@register(
    family="preferences",
    prediction="log-probabilities",
    target_dtype="float (old_logps, advantages) and bool or 0/1 (mask)",
    target_shape="old_logps and mask (B, T) like logps; advantages (B,) per sequence or (B, T) per token",
    target_values="old_logps: per-token log-probabilities under the sampling policy; mask: 1 on completion tokens",
    reference="Schulman et al., Proximal Policy Optimization Algorithms (2017); Shao et al., DeepSeekMath (GRPO, 2024);"
    " Yu et al., DAPO (2025); Liu et al., Understanding R1-Zero-Like Training (Dr. GRPO, 2025); "
    "TRL trl/trainer/grpo_trainer.py",
    wrt=("logps",),
)
def ppo_clip_loss(logps, old_logps, advantages, mask, clip_range=0.2, clip_range_high=None,
                  normalization="sequence", max_length=None):
    r"""PPO's clipped surrogate, token by token, reduced with one of the token normalisations of GRPO's variants.

    With the ratio :math:`\rho_{bt} = \exp(\log\pi(o_{bt}) - \log\pi_{\mathrm{old}}(o_{bt}))`,

    .. math:: \ell_{bt} = -\min\bigl(\rho_{bt} A_{bt},\
        \mathrm{clip}(\rho_{bt}, 1-\epsilon_{\mathrm{low}}, 1+\epsilon_{\mathrm{high}})\, A_{bt}\bigr)

    and, with :math:`M` the mask and :math:`|o_b| = \sum_t M_{bt}`:

    - ``"sequence"`` (GRPO, TRL ``loss_type="grpo"``): :math:`\frac1B \sum_b \frac{1}{|o_b|}\sum_t M_{bt}\ell_{bt}`;
    - ``"token"`` (DAPO, TRL ``"bnpo"`` and ``"dapo"``): :math:`\sum_{bt} M_{bt}\ell_{bt} / \sum_{bt} M_{bt}`;
    - ``"constant"`` (Dr. GRPO, TRL ``"dr_grpo"``): :math:`\sum_{bt} M_{bt}\ell_{bt} / (B\, T_{\max})`;
    - ``"none"``: the ``(B, T)`` array :math:`M_{bt}\ell_{bt}`.

    Args:
        logps: ``(B, T)`` per-token log-probabilities (<= 0) of the sampled completions under the current policy.
        old_logps: ``(B, T)`` the same under the policy that sampled them (data; equal to ``logps`` on the first
            step after sampling, where the ratio is 1).
        advantages: ``(B,)`` one per completion (GRPO, see :func:`group_advantages`) or ``(B, T)`` per token.
        mask: ``(B, T)`` booleans or 0/1: the completion tokens (prompt and padding are 0).
        clip_range: ``ε_low`` in (0, 1) (default 0.2).
        clip_range_high: ``ε_high`` (default: ``clip_range``); DAPO's "clip-higher" uses e.g. 0.28.
        normalization: ``"sequence"`` (default), ``"token"``, ``"constant"`` or ``"none"``.
        max_length: ``T_max`` for ``"constant"``: the longest completion the sampler may produce (TRL's
            ``max_completion_length``); default ``T``.

    The normalisations differ in how much one token counts: under ``"sequence"`` a token of a completion of length
    ``|o|`` has weight ``1/(B|o|)``, so the tokens of long completions count less, and a long wrong answer is
    penalised less per token than a short one; ``"token"`` and ``"constant"`` give every token of the batch the
    same weight. Padding (mask 0) never contributes, whatever its log-probabilities.

    Example::

        >>> lp = np.log(np.full((1, 2), 0.5))
        >>> float(ppo_clip_loss(lp, lp, np.array([1.0]), np.ones((1, 2))))   # ratio 1: -A
        -1.0

    Gradient (``wrt`` logps): ``∂ℓ/∂ log π = -A ρ`` where the unclipped term is the minimum, 0 where the clipped one
    is (the ratio left the clip range in the direction the advantage rewards); ties split as ``torch.min``; times the
    normalisation's weight.
    Reference: Schulman et al. (2017), Eq. 7; TRL ``trl/trainer/grpo_trainer.py`` lines 3083-3090 (the clipped
    surrogate) and 3123-3142 (``grpo``, ``bnpo``, ``dr_grpo``, ``dapo``).
    """
    lp, old, a, m, low, high, max_length = _prepare_ppo(logps, old_logps, advantages, mask, clip_range,
                                                        clip_range_high, normalization, max_length)
    ratio = np.exp(lp - old)
    per_token = -np.minimum(ratio * a, np.clip(ratio, 1 - low, 1 + high) * a)
    per_token = np.where(m, per_token, np.zeros((), lp.dtype))
    if normalization == "none":
        return per_token
    return np.asarray((per_token * _token_weights(m, normalization, max_length, lp.dtype)).sum(dtype=lp.dtype))


@ppo_clip_loss.defgrad
def _ppo_clip_loss_grad(logps, old_logps, advantages, mask, clip_range=0.2, clip_range_high=None,
                        normalization="sequence", max_length=None):
    """d/d logps."""
    lp, old, a, m, low, high, max_length = _prepare_ppo(logps, old_logps, advantages, mask, clip_range,
                                                        clip_range_high, normalization, max_length)
    ratio = np.exp(lp - old)
    l1, l2 = ratio * a, np.clip(ratio, 1 - low, 1 + high) * a
    half = np.asarray(0.5, lp.dtype)
    g1 = np.where(l1 < l2, 1, np.where(l1 == l2, half, 0)).astype(lp.dtype)
    inside = ((ratio >= 1 - low) & (ratio <= 1 + high)).astype(lp.dtype)
    g = -(g1 + (1 - g1) * inside) * a * ratio
    return g * _token_weights(m, normalization, max_length, lp.dtype)


# ----------------------------------------------------------------------------------------------------------
# The KL penalty: Schulman's k1, k2, k3
# ----------------------------------------------------------------------------------------------------------


def _prepare_kl(logps, reference_logps, estimator, reduction):
    check_reduction(reduction)
    if estimator not in KL_ESTIMATORS:
        raise ValueError(
            f"`estimator` must be one of {', '.join(repr(e) for e in KL_ESTIMATORS)}, but it is {estimator!r}."
        )
    names = ["logps", "reference_logps"]
    lp, ref = _same_shape([_logps(logps, names[0]), _logps(reference_logps, names[1], policy=False)], names)
    return lp, ref


@register(
    family="preferences",
    prediction="log-probabilities",
    target_dtype="float (reference log-probabilities)",
    target_shape="same shape as logps: one value per sampled token (or sequence)",
    target_values="log-probabilities (<= 0) of the same sampled tokens under the frozen reference policy",
    reference="Schulman, Approximating KL Divergence (blog post, 2020); Shao et al., DeepSeekMath (2024); "
    "TRL trl/trainer/grpo_trainer.py",
    wrt=("logps",),
)
def kl_penalty(logps, reference_logps, estimator="k3", reduction="mean"):
    r"""A one-sample estimate of KL(π || π_ref) from tokens sampled from π: Schulman's k1, k2 or k3.

    With :math:`\log r = \log\pi_{\mathrm{ref}}(x) - \log\pi(x)` for a sample :math:`x \sim \pi`,

    .. math:: k_1 = -\log r, \qquad k_2 = \tfrac12 (\log r)^2, \qquad k_3 = (r - 1) - \log r

    Args:
        logps: log-probabilities (<= 0) of the sampled tokens under the policy, any shape (``(B, T)`` per token).
        reference_logps: the same tokens under the reference, the same shape.
        estimator: ``"k1"``, ``"k2"`` or ``"k3"`` (default, GRPO's and TRL's choice).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'`` (per element; multiply by a mask yourself).

    k1 is unbiased but takes negative values and has a large variance; k2 is always >= 0, with low variance but
    biased (it estimates a different divergence, exact only to second order); k3 is unbiased, always >= 0, and has a
    low variance when π is close to π_ref. All three are 0 where π = π_ref.

    Example::

        >>> float(kl_penalty(np.log([0.5]), np.log([0.25]), "k3"))   # r = 1/2: 1/2 - 1 + ln 2
        0.1931471805599453

    Gradient (``wrt`` logps): 1 for k1, ``-log r`` for k2, ``1 - r`` for k3 (of the sample's value; note that none of
    these is the gradient of the true KL, since the sampling distribution depends on π too).
    Reference: Schulman (2020); TRL ``trl/trainer/grpo_trainer.py`` lines 3071-3073 (k3 per token).
    """
    lp, ref = _prepare_kl(logps, reference_logps, estimator, reduction)
    log_r = ref - lp
    if estimator == "k1":
        k = -log_r
    elif estimator == "k2":
        k = 0.5 * log_r * log_r
    else:
        k = np.expm1(log_r) - log_r
    return reduce(k, reduction)


@kl_penalty.defgrad
def _kl_penalty_grad(logps, reference_logps, estimator="k3", reduction="mean"):
    lp, ref = _prepare_kl(logps, reference_logps, estimator, reduction)
    log_r = ref - lp
    if estimator == "k1":
        g = np.ones_like(lp)
    elif estimator == "k2":
        g = -log_r
    else:
        g = -np.expm1(log_r)
    return g * lp.dtype.type(reduction_scale(reduction, lp.size))


# ----------------------------------------------------------------------------------------------------------
# GRPO's group-normalised advantages
# ----------------------------------------------------------------------------------------------------------


def group_advantages(rewards, group_size, scale="group", eps=1e-4):
    r"""GRPO's advantages: each completion's reward minus the mean of its group, divided by a standard deviation.

    .. math:: A_{gi} = \frac{R_{gi} - \operatorname{mean}_j R_{gj}}{s + \epsilon}

    where ``s`` is the standard deviation of the group (``scale="group"``, GRPO), of the whole batch
    (``"batch"``), or no division at all (``"none"``, Dr. GRPO, for which the ``+ε`` is not added either).

    Args:
        rewards: ``(B,)`` one reward per completion, the ``group_size`` completions of each prompt contiguous
            (TRL's ``rewards.view(-1, num_generations)``).
        group_size: ``G >= 2`` completions per prompt; ``B`` must be a multiple of it.
        scale: ``"group"`` (default), ``"batch"`` or ``"none"``.
        eps: ``ε >= 0`` (default 1e-4, as TRL), added to the standard deviation.

    The standard deviation is Bessel-corrected (divides by ``G - 1``), as torch's ``std`` and TRL's ``nanstd``. A group
    whose completions all have the same reward gets advantage 0 for every completion: it carries no signal. Not a
    loss: it has no gradient (rewards are data).

    Example::

        >>> np.round(group_advantages(np.array([1.0, 0.0, 0.0, 0.0]), 4), 3)
        array([ 1.5, -0.5, -0.5, -0.5])

    Reference: Shao et al. (2024), Section 4.1.2; Liu et al. (2025); TRL ``trl/trainer/grpo_trainer.py`` lines
    2685-2707.
    """
    r = as_float_array(rewards, "rewards")
    check_finite(r, "rewards")
    if r.ndim != 1:
        raise ValueError(
            f"`rewards` must have shape (B,), one reward per completion with each prompt's group contiguous, but it "
            f"has shape {r.shape}." + (" Flatten it with `rewards.reshape(-1)`." if r.ndim == 2 else "")
        )
    if isinstance(group_size, bool) or not isinstance(group_size, numbers.Integral):
        raise TypeError(f"`group_size` must be an integer, but it is {group_size!r} ({type(group_size).__name__}).")
    if group_size < 2:
        raise ValueError(f"`group_size` must be at least 2 (a group of one has no standard deviation and no "
                         f"baseline), but it is {group_size!r}.")
    if r.size % group_size:
        raise ValueError(f"`rewards` has {r.size} values, not a multiple of group_size={group_size}: each prompt must "
                         f"contribute exactly group_size completions.")
    if scale not in ADVANTAGE_SCALES:
        raise ValueError(f"`scale` must be one of {', '.join(repr(s) for s in ADVANTAGE_SCALES)}, but it is {scale!r}.")
    eps = check_nonnegative(eps, "eps")
    g = r.reshape(-1, group_size)
    a = g - g.mean(axis=1, keepdims=True)
    if scale == "group":
        a = a / (g.std(axis=1, ddof=1, keepdims=True) + eps)
    elif scale == "batch":
        a = a / ((r.std(ddof=1) if r.size > 1 else 0.0) + eps)
    return a.reshape(-1)
