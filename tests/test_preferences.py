"""Preference and reward losses: values and gradients against PyTorch autograd references written here from the
papers' formulas and TRL's code (float64, tight tolerances), reductions, edge cases and error messages."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook

RNG = np.random.default_rng(20)
REDUCTIONS = ["mean", "sum", "none"]
RTOL = 1e-12


def _t(a, grad=False):
    t = torch.tensor(np.asarray(a, dtype=np.float64))
    return t.requires_grad_(True) if grad else t


def _reduce(loss, reduction):
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _autograd(fn, grad_args, *rest):
    ts = [_t(a, True) for a in grad_args]
    out = fn(*ts, *rest)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _check(name, args, kwargs, torch_fn, n_grad, rtol=RTOL, atol=1e-14):
    fn = getattr(lossbook, name)
    value = fn(*args, **kwargs)
    grads = fn.grad(*args, **kwargs)
    grads = grads if isinstance(grads, tuple) else (grads,)
    ref_value, ref_grads = _autograd(lambda *ts: torch_fn(*ts, *[_t(a) for a in args[n_grad:]]), args[:n_grad])
    np.testing.assert_allclose(value, ref_value, rtol=rtol, atol=atol)
    assert len(grads) == n_grad
    for g, rg in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, rg, rtol=rtol, atol=atol)
    return value


def _logps(*shape, low=-20.0, high=-0.5):
    return RNG.uniform(low, high, shape)


# ----------------------------------------------------------------------------------------------------------
# Bradley–Terry
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.7, "array"])
def test_bradley_terry_matches_trl_formula(reduction, margin):
    c, r = RNG.normal(size=9) * 3, RNG.normal(size=9) * 3
    m = RNG.uniform(0, 2, 9) if margin == "array" else margin

    def ref(tc, tr):
        return _reduce(-F.logsigmoid(tc - tr - torch.as_tensor(m, dtype=torch.float64)), reduction)

    _check("bradley_terry_loss", [c, r], {"margin": m, "reduction": reduction}, ref, 2)


def test_bradley_terry_tie_is_ln2_and_shift_invariant_and_stable():
    assert lossbook.bradley_terry_loss(np.zeros(3), np.zeros(3)) == pytest.approx(math.log(2), rel=1e-15)
    c, r = RNG.normal(size=5), RNG.normal(size=5)
    assert np.allclose(lossbook.bradley_terry_loss(c + 100, r + 100), lossbook.bradley_terry_loss(c, r), rtol=1e-12)
    big = lossbook.bradley_terry_loss(np.array([-800.0]), np.array([800.0]))
    assert np.isfinite(big) and big == pytest.approx(1600.0)
    g = lossbook.bradley_terry_loss.grad(np.array([800.0]), np.array([-800.0]))
    assert np.all(np.isfinite(g[0])) and g[0][0] == pytest.approx(0.0, abs=1e-300)


def test_bradley_terry_float32_stays_float32():
    c = RNG.normal(size=4).astype(np.float32)
    assert lossbook.bradley_terry_loss(c, c[::-1].copy()).dtype == np.float32
    assert lossbook.bradley_terry_loss.grad(c, c[::-1].copy())[0].dtype == np.float32


def test_bradley_terry_errors():
    with pytest.raises(ValueError, match="`rejected_rewards` has shape \\(4, 1\\).*reshape"):
        lossbook.bradley_terry_loss(np.zeros(4), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="`margin` has shape \\(3,\\)"):
        lossbook.bradley_terry_loss(np.zeros(4), np.zeros(4), margin=np.zeros(3))
    with pytest.raises(TypeError, match="integers"):
        lossbook.bradley_terry_loss(np.array([1, 0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        lossbook.bradley_terry_loss(np.zeros(2), np.zeros(2), reduction="batchmean")


# ----------------------------------------------------------------------------------------------------------
# DPO family
# ----------------------------------------------------------------------------------------------------------


def _torch_dpo(pc, pr, rc, rr, beta, loss_type, eps, reduction):
    # TRL trl/trainer/dpo_trainer.py (sigmoid, hinge, ipo) and the cDPO formula of cpo_trainer.py
    logits = (pc - pr) - (rc - rr)
    if loss_type == "sigmoid":
        loss = -F.logsigmoid(beta * logits) * (1 - eps) - F.logsigmoid(-beta * logits) * eps
    elif loss_type == "hinge":
        loss = torch.relu(1 - beta * logits)
    else:
        loss = (logits - 1 / (2 * beta)) ** 2
    return _reduce(loss, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss_type,eps,beta", [("sigmoid", 0.0, 0.1), ("sigmoid", 0.2, 0.5), ("hinge", 0.0, 0.3),
                                                ("ipo", 0.0, 0.1), ("ipo", 0.0, 2.0)])
def test_dpo_matches_trl(loss_type, eps, beta, reduction):
    pc, pr, rc, rr = (_logps(11) for _ in range(4))
    kwargs = {"beta": beta, "loss_type": loss_type, "label_smoothing": eps, "reduction": reduction}
    _check("dpo_loss", [pc, pr, rc, rr], kwargs,
           lambda a, b, c, d: _torch_dpo(a, b, c, d, beta, loss_type, eps, reduction), 2)


def test_dpo_starts_at_ln2_when_policy_is_reference():
    pc, pr = _logps(6), _logps(6)
    assert lossbook.dpo_loss(pc, pr, pc, pr) == pytest.approx(math.log(2), rel=1e-14)
    g = lossbook.dpo_loss.grad(pc, pr, pc, pr, beta=0.1)
    np.testing.assert_allclose(g[0], -0.1 * 0.5 / 6, rtol=1e-14)  # -β σ(0) / N


def test_dpo_hinge_kink_gives_zero_gradient_like_relu():
    # βh = 1 exactly: relu's gradient at 0 is 0
    pc, pr, rc, rr = np.array([-1.0]), np.array([-3.0]), np.array([-2.0]), np.array([-2.0])  # h = 2
    assert lossbook.dpo_loss(pc, pr, rc, rr, beta=0.5, loss_type="hinge") == 0
    assert lossbook.dpo_loss.grad(pc, pr, rc, rr, beta=0.5, loss_type="hinge")[0][0] == 0


def test_dpo_stays_finite_far_from_the_reference():
    pc, pr = np.array([-1.0]), np.array([-5000.0])
    ref = np.array([-3000.0])
    v = lossbook.dpo_loss(pc, pr, ref, ref, beta=1.0)
    assert v == pytest.approx(0.0, abs=1e-300)
    v = lossbook.dpo_loss(pr, pc, ref, ref, beta=1.0)
    assert v == pytest.approx(4999.0)


def test_dpo_errors_and_warnings():
    z = _logps(3)
    with pytest.raises(ValueError, match="`loss_type` must be one of 'sigmoid', 'hinge', 'ipo'.*simpo_loss"):
        lossbook.dpo_loss(z, z, z, z, loss_type="simpo")
    with pytest.raises(ValueError, match="only defined for loss_type='sigmoid'"):
        lossbook.dpo_loss(z, z, z, z, loss_type="ipo", label_smoothing=0.1)
    with pytest.raises(ValueError, match="`label_smoothing` must lie in \\[0, 0.5\\)"):
        lossbook.dpo_loss(z, z, z, z, label_smoothing=0.5)
    with pytest.raises(ValueError, match="`beta` must be positive"):
        lossbook.dpo_loss(z, z, z, z, beta=0)
    with pytest.raises(ValueError, match="look like negative log-likelihoods.*negatives"):
        lossbook.dpo_loss(-z, z, z, z)
    with pytest.raises(ValueError, match="not logits"):
        lossbook.dpo_loss(np.array([-1.0, 2.0, 0.5]), z, z, z)
    with pytest.raises(ValueError, match="`reference_rejected_logps` has shape \\(2,\\)"):
        lossbook.dpo_loss(z, z, z, z[:2])
    with pytest.raises(ValueError, match="NaN or inf.*probability 0"):
        lossbook.dpo_loss(np.array([-np.inf, -1, -1]), z, z, z)
    with pytest.warns(lossbook.LossInputWarning, match="mask removed every token.*ln 2"):
        lossbook.dpo_loss(np.zeros(3), np.zeros(3), z, z)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta,gamma,eps", [(2.0, 1.0, 0.0), (0.5, 0.0, 0.1), (2.5, 1.4, 0.0)])
def test_simpo_matches_trl(beta, gamma, eps, reduction):
    pc, pr = _logps(8, low=-4), _logps(8, low=-4)

    def ref(a, b):  # TRL cpo_trainer.py, loss_type="simpo": logits - simpo_gamma / beta, then beta * logits
        logits = (a - b) - gamma / beta
        loss = -F.logsigmoid(beta * logits) * (1 - eps) - F.logsigmoid(-beta * logits) * eps
        return _reduce(loss, reduction)

    _check("simpo_loss", [pc, pr], {"beta": beta, "gamma": gamma, "label_smoothing": eps, "reduction": reduction},
           ref, 2)


def test_simpo_tie_costs_log1p_exp_gamma():
    z = np.array([-1.3, -0.2])
    np.testing.assert_allclose(lossbook.simpo_loss(z, z, gamma=0.8), math.log1p(math.exp(0.8)), rtol=1e-14)


def _torch_log1mexp(x):
    t = -0.6931471805599453
    return torch.where(x < t, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("include_nll", [True, False])
def test_orpo_matches_trl(include_nll, reduction):
    pc = np.r_[_logps(6, low=-3, high=-1e-3), -0.6931471805599453, -1e-9]   # both log1mexp branches and near 0
    pr = np.r_[_logps(6, low=-3, high=-1e-3), -0.7, -30.0]

    def ref(a, b):  # TRL orpo_trainer.py odds_ratio_loss and loss = policy_nll_loss - losses.mean()
        log_odds = (a - b) - (_torch_log1mexp(a) - _torch_log1mexp(b))
        loss = -0.25 * F.logsigmoid(log_odds)
        return _reduce(loss - a if include_nll else loss, reduction)

    _check("orpo_loss", [pc, pr], {"beta": 0.25, "include_nll": include_nll, "reduction": reduction}, ref, 2,
           rtol=1e-10)


def test_orpo_refuses_zero_logps():
    with pytest.raises(ValueError, match="below 0.*odds are infinite"):
        lossbook.orpo_loss(np.array([0.0, -1.0]), np.array([-1.0, -1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kl,wd,wu", [(0.0, 1.0, 1.0), (0.8, 1.0, 1.33), (2.5, 0.7, 1.0)])
def test_kto_matches_trl(kl, wd, wu, reduction):
    p, r = _logps(10), _logps(10)
    d = RNG.random(10) < 0.5
    d[:2] = [True, False]

    def ref(tp):  # TRL kto_trainer.py: chosen 1 - σ(β(z - kl)), rejected 1 - σ(β(kl - z)), then the weights
        z = tp - _t(r)
        dd = torch.as_tensor(d)
        loss = torch.where(dd, wd * (1 - torch.sigmoid(0.3 * (z - kl))), wu * (1 - torch.sigmoid(0.3 * (kl - z))))
        return _reduce(loss, reduction)

    kwargs = dict(kl=kl, beta=0.3, desirable_weight=wd, undesirable_weight=wu, reduction=reduction)
    fn = lossbook.kto_loss
    value, grads = _autograd(ref, [p])
    np.testing.assert_allclose(fn(p, r, d, **kwargs), value, rtol=RTOL)
    np.testing.assert_allclose(fn.grad(p, r, d, **kwargs), grads[0], rtol=RTOL, atol=1e-16)
    # 0/1 integer labels are the same as booleans
    np.testing.assert_allclose(fn(p, r, d.astype(int), **kwargs), value, rtol=RTOL)


def test_kto_at_the_reference_is_half_and_errors():
    z = _logps(4)
    assert lossbook.kto_loss(z, z, np.array([1, 0, 1, 0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="`kl` must be >= 0.*clamp"):
        lossbook.kto_loss(z, z, np.ones(4, bool), kl=-0.1)
    with pytest.raises(ValueError, match="booleans or 0/1.*threshold a score"):
        lossbook.kto_loss(z, z, np.array([0.2, 0.9, 1.0, 0.0]))
    with pytest.raises(ValueError, match="one label per answer"):
        lossbook.kto_loss(z, z, np.ones(3, bool))


# ----------------------------------------------------------------------------------------------------------
# PPO / GRPO
# ----------------------------------------------------------------------------------------------------------


def _torch_ppo(lp, old, adv, mask, low, high, normalization, max_length):
    # TRL grpo_trainer.py: coef_1, coef_2 = clamp(...), -min(coef_1 A, coef_2 A), then the loss_type's reduction
    coef_1 = torch.exp(lp - old)
    coef_2 = torch.clamp(coef_1, 1 - low, 1 + high)
    a = adv[:, None] if adv.dim() == 1 else adv
    per_token = -torch.min(coef_1 * a, coef_2 * a)
    m = mask.to(lp.dtype)
    if normalization == "sequence":
        return ((per_token * m).sum(-1) / m.sum(-1).clamp(min=1.0)).mean()
    if normalization == "token":
        return (per_token * m).sum() / m.sum().clamp(min=1.0)
    if normalization == "constant":
        return (per_token * m).sum() / (per_token.size(0) * max_length)
    return per_token * m


def _ppo_batch(B=6, T=7):
    lp = _logps(B, T, low=-3, high=-0.05)
    old = np.minimum(lp + RNG.normal(0, 0.3, (B, T)), -1e-3)
    old[0, :3] = lp[0, :3]                                       # ratio exactly 1 (inside the range, ties)
    old[1, 0] = lp[1, 0] - math.log(1.2)                         # ratio exactly 1.2: the upper boundary
    lengths = RNG.integers(1, T + 1, B)
    lengths[2] = 0                                               # an empty completion
    mask = np.arange(T)[None, :] < lengths[:, None]
    adv = RNG.normal(size=B)
    adv[3] = 0.0
    return lp, old, adv, mask


@pytest.mark.parametrize("normalization", ["sequence", "token", "constant", "none"])
@pytest.mark.parametrize("high", [None, 0.28])
@pytest.mark.parametrize("per_token_adv", [False, True])
def test_ppo_clip_matches_trl(normalization, high, per_token_adv):
    lp, old, adv, mask = _ppo_batch()
    if per_token_adv:
        adv = RNG.normal(size=lp.shape)
    max_length = 10 if normalization == "constant" else None
    kwargs = dict(clip_range=0.2, clip_range_high=high, normalization=normalization, max_length=max_length)
    h = 0.2 if high is None else high
    T = lp.shape[1]

    def ref(t_lp):
        return _torch_ppo(t_lp, _t(old), _t(adv), torch.as_tensor(mask), 0.2, h, normalization, max_length or T)

    value, grads = _autograd(ref, [lp])
    np.testing.assert_allclose(lossbook.ppo_clip_loss(lp, old, adv, mask, **kwargs), value, rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(lossbook.ppo_clip_loss.grad(lp, old, adv, mask, **kwargs), grads[0], rtol=RTOL,
                               atol=1e-15)


def test_ppo_padding_never_counts_and_ratio_one_gives_minus_advantage():
    lp, old, adv, mask = _ppo_batch()
    noisy = lp.copy()
    noisy[~mask] = -50.0                                         # garbage log-probs on padding
    for norm in ("sequence", "token", "constant"):
        assert lossbook.ppo_clip_loss(noisy, old, adv, mask, normalization=norm) == pytest.approx(
            lossbook.ppo_clip_loss(lp, old, adv, mask, normalization=norm), rel=1e-13)
    full = np.ones_like(mask)
    np.testing.assert_allclose(lossbook.ppo_clip_loss(lp, lp, adv, full), -adv.mean(), rtol=1e-13)


def test_ppo_normalisations_weigh_long_sequences_differently():
    # two completions with the same advantage, lengths 1 and 4: per-token weight under each normalisation
    lp = np.full((2, 4), -1.0)
    mask = np.array([[1, 0, 0, 0], [1, 1, 1, 1]])
    g = {n: lossbook.ppo_clip_loss.grad(lp, lp, np.array([1.0, 1.0]), mask, normalization=n)
         for n in ("sequence", "token", "constant")}
    assert g["sequence"][0, 0] == pytest.approx(4 * g["sequence"][1, 0])     # short sequence's token counts 4x
    assert g["token"][0, 0] == pytest.approx(g["token"][1, 0])
    assert g["constant"][0, 0] == pytest.approx(g["constant"][1, 0])


def test_ppo_errors():
    lp, old, adv, mask = _ppo_batch()
    with pytest.raises(ValueError, match="shape \\(B, T\\).*logps\\[None, :\\]"):
        lossbook.ppo_clip_loss(lp[0], old[0], adv[:1], mask[0])
    with pytest.raises(ValueError, match="`advantages` has shape \\(6, 1\\).*Squeeze"):
        lossbook.ppo_clip_loss(lp, old, adv[:, None], mask)
    with pytest.raises(ValueError, match="`mask` must hold booleans or 0/1.*labels != -100"):
        lossbook.ppo_clip_loss(lp, old, adv, np.where(mask, 5, -100))
    with pytest.raises(ValueError, match="`mask` has shape"):
        lossbook.ppo_clip_loss(lp, old, adv, mask[:, :3])
    with pytest.raises(ValueError, match="'grpo' is 'sequence'"):
        lossbook.ppo_clip_loss(lp, old, adv, mask, normalization="grpo")
    with pytest.raises(ValueError, match="`clip_range` must lie in \\(0, 1\\)"):
        lossbook.ppo_clip_loss(lp, old, adv, mask, clip_range=1.5)
    with pytest.raises(ValueError, match="`max_length` \\(3\\) is smaller"):
        lossbook.ppo_clip_loss(lp, old, adv, mask, normalization="constant", max_length=3)


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_kl_penalty_matches_definitions(estimator, reduction):
    lp, ref = _logps(4, 5, low=-6, high=-0.01), _logps(4, 5, low=-6, high=-0.01)

    def torch_ref(t_lp, _ref):  # Schulman (2020); TRL's per_token_kl is k3: exp(ref - lp) - (ref - lp) - 1
        log_r = _t(ref) - t_lp
        k = {"k1": -log_r, "k2": 0.5 * log_r**2, "k3": torch.exp(log_r) - log_r - 1}[estimator]
        return _reduce(k, reduction)

    _check("kl_penalty", [lp, ref], {"estimator": estimator, "reduction": reduction}, torch_ref, 1, rtol=1e-11)


def test_kl_estimators_unbiasedness_by_exact_expectation():
    # E_{x~q}[k] computed exactly over a small vocabulary: k1 and k3 give KL(q||p), k2 does not
    q = np.array([0.5, 0.3, 0.15, 0.05])
    p = np.array([0.25, 0.25, 0.25, 0.25])
    kl = float(np.sum(q * np.log(q / p)))
    e = {k: float(np.sum(q * lossbook.kl_penalty(np.log(q), np.log(p), k, reduction="none"))) for k in ("k1", "k2", "k3")}
    assert e["k1"] == pytest.approx(kl, rel=1e-12) and e["k3"] == pytest.approx(kl, rel=1e-12)
    assert abs(e["k2"] - kl) > 1e-3
    assert np.all(lossbook.kl_penalty(np.log(q), np.log(p), "k3", reduction="none") >= 0)
    assert np.any(lossbook.kl_penalty(np.log(q), np.log(p), "k1", reduction="none") < 0)
    with pytest.raises(ValueError, match="`estimator` must be one of 'k1', 'k2', 'k3'"):
        lossbook.kl_penalty(np.log(q), np.log(p), "k4")


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_advantages_match_trl(scale):
    rewards = RNG.normal(size=12)
    rewards[4:8] = 1.0                                          # a group with one reward: advantages 0
    t = torch.tensor(rewards)
    mean = t.view(-1, 4).mean(dim=1).repeat_interleave(4)
    if scale == "group":
        std = t.view(-1, 4).std(dim=1).repeat_interleave(4)
    elif scale == "batch":
        std = t.std().expand_as(t)
    a = t - mean
    if scale != "none":
        a = a / (std + 1e-4)
    np.testing.assert_allclose(lossbook.group_advantages(rewards, 4, scale=scale), a.numpy(), rtol=1e-13, atol=1e-15)
    assert np.all(lossbook.group_advantages(rewards, 4, scale=scale)[4:8] == 0)


def test_group_advantages_errors():
    with pytest.raises(ValueError, match="not a multiple of group_size=4"):
        lossbook.group_advantages(np.zeros(6), 4)
    with pytest.raises(ValueError, match="at least 2"):
        lossbook.group_advantages(np.zeros(6), 1)
    with pytest.raises(ValueError, match="Flatten it"):
        lossbook.group_advantages(np.zeros((2, 4)), 4)
    with pytest.raises(ValueError, match="`scale` must be one of"):
        lossbook.group_advantages(np.zeros(4), 2, scale="std")


def test_metadata_of_the_family():
    names = {i.name for i in lossbook.catalogue("preferences")}
    assert names == {"bradley_terry_loss", "dpo_loss", "simpo_loss", "orpo_loss", "kto_loss", "ppo_clip_loss",
                     "kl_penalty"}
    for name in names:
        fn = getattr(lossbook, name)
        assert "TRL" in fn.__doc__ and "line" in fn.__doc__ and "math::" in fn.__doc__ and callable(fn.grad)


# ----------------------------------------------------------------------------------------------------------
# The chapters' policy (lossbook.book.policies)
# ----------------------------------------------------------------------------------------------------------


def test_bigram_policy_gradient_matches_autograd():
    from lossbook.book import policies as P

    pol = P.reference_policy(seed=3)
    s = pol.sample(40, np.random.default_rng(0))
    w = RNG.normal(size=s.tokens.shape)
    logits = torch.tensor(pol.logits, requires_grad=True)
    logp = torch.log_softmax(logits, dim=1)
    states = torch.as_tensor(P.BigramPolicy.states(s))
    tok = torch.as_tensor(np.where(s.mask, s.tokens, 0))
    per_token = logp[states, tok] * torch.as_tensor(s.mask, dtype=torch.float64)
    (per_token * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(pol.grad_logits(s, w), logits.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pol.token_logps(s), per_token.detach().numpy(), rtol=1e-13)
    assert np.all(pol.logps(s) < 0) and np.all(s.lengths >= 1) and np.all(s.lengths <= pol.max_len)


def test_bigram_policy_exact_kl_and_length_agree_with_sampling():
    from lossbook.book import policies as P

    ref = P.reference_policy(seed=0)
    pol = ref.copy()
    pol.logits += np.random.default_rng(1).normal(0, 0.5, pol.logits.shape)
    s = pol.sample(40_000, np.random.default_rng(2))
    mc_kl = np.mean(pol.logps(s) - ref.logps(s))
    assert abs(mc_kl - pol.kl_to(ref)) < 0.05 * pol.kl_to(ref) + 0.01
    assert abs(s.lengths.mean() - pol.expected_length()) < 0.05
    assert ref.kl_to(ref) == 0
    assert P.noise_ceiling(np.zeros(3), np.zeros(3)) == 0.5
    assert np.all(P.vowel_share(s) >= 0) and np.all(P.vowel_share(s) <= 1)
