"""Generative losses (Part VII): values and gradients against PyTorch transcriptions of each formula (float64,
autograd), the identities the chapters teach, edge cases and error messages."""
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import lossbook
from lossbook.generative import DIFFUSION_TARGETS, DIFFUSION_WEIGHTINGS, GAN_VARIANTS

RNG = np.random.default_rng(7)
RTOL, GRAD_RTOL = 1e-12, 1e-10


def _t(a):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def _autograd(fn, *arrays):
    ts = [_t(a) for a in arrays]
    out = fn(*ts)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _reduce(x, reduction, batch=None):
    if reduction == "none":
        return x
    if reduction == "sum":
        return x.sum()
    if reduction == "batchmean":
        return x.sum() / batch
    return x.mean()


# ----------------------------------------------------------------------------------------------------------
# gaussian_kl
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "mean", "none"])
def test_gaussian_kl_to_standard_normal_matches_torch_distributions(reduction):
    mu, lv = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4)) * 2

    def ref(m, v):
        q = torch.distributions.Normal(m, torch.exp(0.5 * v))
        p = torch.distributions.Normal(torch.zeros_like(m), torch.ones_like(m))
        return _reduce(torch.distributions.kl_divergence(q, p), reduction, 6)

    value, grads = _autograd(ref, mu, lv)
    np.testing.assert_allclose(lossbook.gaussian_kl(mu, lv, reduction=reduction), value, rtol=RTOL, atol=1e-14)
    for g, e in zip(lossbook.gaussian_kl.grad(mu, lv, reduction=reduction), grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=GRAD_RTOL, atol=1e-14)


@pytest.mark.parametrize("reduction", ["batchmean", "none"])
def test_gaussian_kl_between_two_gaussians_matches_torch(reduction):
    a = [RNG.standard_normal((5, 3)) for _ in range(4)]

    def ref(m1, v1, m2, v2):
        q = torch.distributions.Normal(m1, torch.exp(0.5 * v1))
        p = torch.distributions.Normal(m2, torch.exp(0.5 * v2))
        return _reduce(torch.distributions.kl_divergence(q, p), reduction, 5)

    value, grads = _autograd(ref, *a)
    np.testing.assert_allclose(lossbook.gaussian_kl(*a, reduction=reduction), value, rtol=1e-11)
    ours = lossbook.gaussian_kl.grad(*a, reduction=reduction)
    assert len(ours) == 4
    for g, e in zip(ours, grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-13)


def test_gaussian_kl_is_zero_at_the_prior_and_accurate_for_tiny_variances():
    z = np.zeros((3, 2))
    assert lossbook.gaussian_kl(z, z) == 0.0
    assert lossbook.gaussian_kl(z, z, z, z) == 0.0
    # log_var = 1e-10: KL = (exp(lv) - 1 - lv) / 2 = lv^2 / 4 to first order, lost by exp(lv) - 1 - lv in floats
    lv = np.full((1, 1), 1e-10)
    assert np.isclose(float(lossbook.gaussian_kl(np.zeros((1, 1)), lv)), 0.25e-20, rtol=1e-6)
    # float32 in, float32 out
    assert lossbook.gaussian_kl(z.astype(np.float32), z.astype(np.float32)).dtype == np.float32


def test_gaussian_kl_errors():
    m = np.zeros((2, 3))
    with pytest.raises(ValueError, match="`mean2` and `log_var2` describe the second Gaussian together"):
        lossbook.gaussian_kl(m, m, mean2=m)
    with pytest.raises(ValueError, match=r"`log_var` has shape \(2, 4\) but `mean` has shape \(2, 3\)"):
        lossbook.gaussian_kl(m, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="`reduction` must be one of 'none', 'batchmean', 'sum', 'mean'"):
        lossbook.gaussian_kl(m, m, reduction="batch")
    with pytest.raises(TypeError, match="`mean` is a prediction and must hold floating-point"):
        lossbook.gaussian_kl(np.zeros((2, 3), dtype=int), m)
    with pytest.raises(ValueError, match="batch axis first"):
        lossbook.gaussian_kl(np.float64(0.0), np.float64(0.0))


# ----------------------------------------------------------------------------------------------------------
# vae_loss
# ----------------------------------------------------------------------------------------------------------


def _torch_vae(recon, x, mu, lv, likelihood, beta, scale, reduction):
    n = recon.shape[0]
    if likelihood == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(recon, x, reduction="none")
    else:
        nll = F.gaussian_nll_loss(recon, x, torch.full_like(recon, scale**2), full=True, reduction="none")
    kl = -0.5 * (1 + lv - mu**2 - lv.exp())
    per = nll.reshape(n, -1).sum(1) + beta * kl.reshape(n, -1).sum(1)
    return {"batchmean": per.mean(), "sum": per.sum(), "none": per}[reduction]


@pytest.mark.parametrize("likelihood,scale", [("bernoulli", 1.0), ("gaussian", 1.0), ("gaussian", 0.3)])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
@pytest.mark.parametrize("beta", [1.0, 0.0, 4.0])
def test_vae_loss_matches_torch(likelihood, scale, reduction, beta):
    recon = RNG.standard_normal((5, 2, 4)) * 3
    x = RNG.uniform(size=(5, 2, 4))
    mu, lv = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    kwargs = dict(likelihood=likelihood, beta=beta, scale=scale, reduction=reduction)
    value, grads = _autograd(lambda r, m, v: _torch_vae(r, torch.tensor(x), m, v, likelihood, beta, scale, reduction),
                             recon, mu, lv)
    np.testing.assert_allclose(lossbook.vae_loss(recon, x, mu, lv, **kwargs), value, rtol=RTOL)
    for g, e in zip(lossbook.vae_loss.grad(recon, x, mu, lv, **kwargs), grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=GRAD_RTOL, atol=1e-14)


@pytest.mark.parametrize("likelihood,scale", [("bernoulli", 1.0), ("gaussian", 0.3)])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vae_loss_value_and_grad_equals_the_loss_and_its_grad_over_several_blocks(likelihood, scale, reduction,
                                                                                  dtype):
    from lossbook._blockwise import BLOCK
    recon = (3 * RNG.standard_normal((40, 2 * BLOCK // 40 + 7))).astype(dtype)   # 3 blocks, the last partial
    recon[0, :3] = [0.0, 40.0, -40.0]                                          # saturated sigmoids
    x = RNG.uniform(size=recon.shape).astype(dtype)
    mu, lv = (RNG.standard_normal((40, 8)).astype(dtype) for _ in range(2))
    kwargs = dict(likelihood=likelihood, beta=2.0, scale=scale, reduction=reduction)
    fn = lossbook.vae_loss
    assert fn.value_and_grad.__qualname__ == "vae_loss.value_and_grad"
    value, grads = fn.value_and_grad(recon, x, mu, lv, **kwargs)
    expected, expected_grads = fn(recon, x, mu, lv, **kwargs), fn.grad(recon, x, mu, lv, **kwargs)
    rtol = 1e-12 if dtype is np.float64 else 2e-5
    assert value.dtype == expected.dtype == dtype and value.shape == expected.shape
    np.testing.assert_allclose(value, expected, rtol=rtol)
    assert len(grads) == 3
    for g, e in zip(grads, expected_grads, strict=True):
        assert g.dtype == e.dtype == dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * np.abs(e).max())


def test_vae_loss_value_and_grad_refuses_bad_input_as_the_loss():
    r, x, m = np.zeros((2, 4)), np.full((2, 4), 0.5), np.zeros((2, 3))
    nan = x.copy()
    nan[0, 1] = np.nan
    for args, kwargs in [((r, x * 16, m, m), {}), ((r, nan, m, m), {}), ((r, nan, m, m), {"likelihood": "gaussian"}),
                         ((r, x, m, m), {"reduction": "mean"}), ((r, x, np.zeros((3, 3)), m), {})]:
        with pytest.raises(ValueError) as expected:
            lossbook.vae_loss(*args, **kwargs)
        with pytest.raises(ValueError, match=re.escape(str(expected.value))):
            lossbook.vae_loss.value_and_grad(*args, **kwargs)


def test_vae_loss_per_pixel_mean_is_the_elbo_with_beta_times_d():
    # The scaling trap: mean-reduced reconstruction + summed KL (per sample) is the ELBO with beta = D, over D.
    recon, x = RNG.standard_normal((4, 64)), RNG.uniform(size=(4, 64))
    mu, lv = RNG.standard_normal((4, 2)), RNG.standard_normal((4, 2))
    trap = lossbook.binary_cross_entropy_with_logits(recon, x) + lossbook.gaussian_kl(mu, lv)
    assert np.isclose(trap, lossbook.vae_loss(recon, x, mu, lv, beta=64.0) / 64, rtol=1e-13)


def test_vae_loss_bernoulli_stays_finite_for_large_logits():
    recon = np.array([[800.0, -800.0]])
    val = lossbook.vae_loss(recon, np.array([[1.0, 0.0]]), np.zeros((1, 1)), np.zeros((1, 1)))
    assert val == 0.0


def test_vae_loss_errors():
    r, x, m = np.zeros((2, 4)), np.full((2, 4), 0.5), np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"`target` must hold pixel intensities.*Scale the data to \[0, 1\]"):
        lossbook.vae_loss(r, x * 16, m, m)
    lossbook.vae_loss(r, x * 16, m, m, likelihood="gaussian")  # any real target for a Gaussian
    with pytest.raises(ValueError, match="`likelihood` must be one of 'bernoulli', 'gaussian'"):
        lossbook.vae_loss(r, x, m, m, likelihood="normal")
    with pytest.raises(ValueError, match="`beta` must be a finite number >= 0"):
        lossbook.vae_loss(r, x, m, m, beta=-1.0)
    with pytest.raises(ValueError, match="`mean` has 3 rows but `recon` has 2"):
        lossbook.vae_loss(r, x, np.zeros((3, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="`reduction` must be one of 'none', 'batchmean', 'sum'"):
        lossbook.vae_loss(r, x, m, m, reduction="mean")
    with pytest.raises(ValueError, match=r"`target` has shape \(2, 5\) but `recon` has shape \(2, 4\)"):
        lossbook.vae_loss(r, np.zeros((2, 5)), m, m)
    with pytest.raises(ValueError, match="`scale` must be positive"):
        lossbook.vae_loss(r, x, m, m, likelihood="gaussian", scale=0.0)


# ----------------------------------------------------------------------------------------------------------
# GAN losses
# ----------------------------------------------------------------------------------------------------------


def _torch_disc(dr, df, variant, reduction):
    red = torch.mean if reduction == "mean" else torch.sum
    if variant in ("minimax", "non_saturating"):
        return (red(F.binary_cross_entropy_with_logits(dr, torch.ones_like(dr), reduction="none"))
                + red(F.binary_cross_entropy_with_logits(df, torch.zeros_like(df), reduction="none")))
    if variant == "least_squares":
        return red(0.5 * (dr - 1) ** 2) + red(0.5 * df**2)
    if variant == "hinge":
        return red(torch.relu(1 - dr)) + red(torch.relu(1 + df))
    return red(df) - red(dr)


def _torch_gen(df, variant, reduction):
    if variant == "minimax":
        per = torch.log(1 - torch.sigmoid(df))
    elif variant == "non_saturating":
        per = -torch.log(torch.sigmoid(df))
    elif variant == "least_squares":
        per = 0.5 * (df - 1) ** 2
    else:
        per = -df
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


@pytest.mark.parametrize("variant", GAN_VARIANTS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gan_discriminator_loss_matches_torch(variant, reduction):
    dr, df = RNG.standard_normal(7) * 2, RNG.standard_normal((3, 2)) * 2  # sizes differ
    value, grads = _autograd(lambda a, b: _torch_disc(a, b, variant, reduction), dr, df)
    np.testing.assert_allclose(lossbook.gan_discriminator_loss(dr, df, variant, reduction), value, rtol=RTOL)
    ours = lossbook.gan_discriminator_loss.grad(dr, df, variant, reduction)
    for g, e in zip(ours, grads, strict=True):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=GRAD_RTOL)


@pytest.mark.parametrize("variant", GAN_VARIANTS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gan_generator_loss_matches_torch(variant, reduction):
    df = RNG.standard_normal((4, 3)) * 3
    value, (grad,) = _autograd(lambda a: _torch_gen(a, variant, reduction), df)
    np.testing.assert_allclose(lossbook.gan_generator_loss(df, variant, reduction), value, rtol=RTOL)
    np.testing.assert_allclose(lossbook.gan_generator_loss.grad(df, variant, reduction), grad, rtol=GRAD_RTOL)


def test_minimax_generator_saturates_where_non_saturating_does_not():
    confident = np.array([-10.0])  # the discriminator rejects the sample with probability 1 - 4.5e-5
    g_mm = lossbook.gan_generator_loss.grad(confident, "minimax")
    g_ns = lossbook.gan_generator_loss.grad(confident, "non_saturating")
    assert abs(g_mm[0]) < 1e-4 and abs(g_ns[0] + 1) < 1e-4
    # stable far out, where log(1 - sigmoid(d)) in floats gives -inf
    assert np.isfinite(lossbook.gan_generator_loss(np.array([60.0, -800.0]), "minimax"))
    assert np.isfinite(lossbook.gan_discriminator_loss(np.array([-800.0]), np.array([800.0])))


def test_gan_optimal_discriminator_gives_minus_two_log_two_plus_two_jsd():
    # At D* = p / (p + q), the minimax value is -log 4 + 2 JSD(p, q) (Goodfellow et al. 2014, Theorem 1),
    # and our discriminator loss is its negative (a minimised cross-entropy). Check on a discrete p, q.
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.2, 0.7])
    logit = np.log(p) - np.log(q)  # logit of D* = p / (p + q)
    loss = np.sum(p * lossbook.gan_generator_loss(logit, "non_saturating", "none")) + np.sum(
        q * -lossbook.gan_generator_loss(logit, "minimax", "none"))
    m = (p + q) / 2
    jsd = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
    assert np.isclose(loss, np.log(4) - 2 * jsd, rtol=1e-13)


def test_gan_errors():
    with pytest.raises(ValueError, match="`variant` must be one of 'minimax', 'non_saturating'"):
        lossbook.gan_generator_loss(np.zeros(3), "saturating")
    with pytest.raises(ValueError, match="`real` and `fake` must both hold at least one logit"):
        lossbook.gan_discriminator_loss(np.zeros(0), np.zeros(3))
    with pytest.raises(ValueError, match="`reduction` must be one of 'mean', 'sum'"):
        lossbook.gan_discriminator_loss(np.zeros(2), np.zeros(3), reduction="none")
    with pytest.raises(TypeError, match="`fake` is a prediction"):
        lossbook.gan_generator_loss(np.array([0, 1]))
    # a scalar logit is accepted and its gradient keeps the scalar shape
    assert lossbook.gan_discriminator_loss.grad(np.float64(0.5), np.array([0.1, 0.2]))[0].shape == ()


# ----------------------------------------------------------------------------------------------------------
# diffusion_loss and flow_matching_loss
# ----------------------------------------------------------------------------------------------------------


def _torch_diffusion(pred, x0, eps, a, s, target, weighting, gamma, reduction):
    shape = (-1,) + (1,) * (pred.ndim - 1)
    a4, s4 = a.reshape(shape), s.reshape(shape)
    y = {"noise": eps, "sample": x0, "velocity": a4 * eps - s4 * x0}[target]
    snr = a**2 / s**2
    if weighting == "none":
        w = torch.ones_like(snr)
    else:
        w0 = snr if weighting == "snr" else torch.clamp(snr, max=gamma)
        w = w0 / {"noise": snr, "sample": torch.ones_like(snr), "velocity": snr + 1}[target]
    per = w.reshape(shape) * (pred - y) ** 2
    return {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]


@pytest.mark.parametrize("target", DIFFUSION_TARGETS)
@pytest.mark.parametrize("weighting", DIFFUSION_WEIGHTINGS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_diffusion_loss_matches_torch(target, weighting, reduction):
    n = 6
    pred, x0, eps = (RNG.standard_normal((n, 2, 3)) for _ in range(3))
    phi = RNG.uniform(0.05, 1.5, size=n)
    a, s = np.cos(phi), np.sin(phi)
    args = (x0, eps, a, s, target, weighting, 5.0, reduction)
    targs = [torch.tensor(v) for v in (x0, eps, a, s)]
    value, (grad,) = _autograd(lambda p: _torch_diffusion(p, *targs, target, weighting, 5.0, reduction), pred)
    np.testing.assert_allclose(lossbook.diffusion_loss(pred, *args), value, rtol=RTOL)
    np.testing.assert_allclose(lossbook.diffusion_loss.grad(pred, *args), grad, rtol=GRAD_RTOL)


def test_diffusion_simple_noise_loss_is_mse_and_targets_are_one_loss():
    n = 8
    x0, eps = RNG.standard_normal((n, 2)), RNG.standard_normal((n, 2))
    phi = RNG.uniform(0.1, 1.4, size=n)
    a, s = np.cos(phi), np.sin(phi)
    xt = a[:, None] * x0 + s[:, None] * eps
    x0_hat = x0 + 0.1 * RNG.standard_normal((n, 2))                   # some model's estimate of x0
    eps_hat = (xt - a[:, None] * x0_hat) / s[:, None]                   # the same estimate as noise
    v_hat = a[:, None] * eps_hat - s[:, None] * x0_hat                  # ... and as velocity
    assert np.isclose(lossbook.diffusion_loss(eps_hat, x0, eps, a, s), F.mse_loss(
        torch.tensor(eps_hat), torch.tensor(eps)).item(), rtol=1e-13)
    snr = a**2 / s**2
    per_sample = {t: lossbook.diffusion_loss(p, x0, eps, a, s, target=t, reduction="none").sum(1)
                  for t, p in [("noise", eps_hat), ("sample", x0_hat), ("velocity", v_hat)]}
    np.testing.assert_allclose(per_sample["noise"], snr * per_sample["sample"], rtol=1e-10)
    np.testing.assert_allclose(per_sample["velocity"], (snr + 1) * per_sample["sample"], rtol=1e-10)
    # Min-SNR weighting gives one loss whatever the target
    mins = [lossbook.diffusion_loss(p, x0, eps, a, s, target=t, weighting="min_snr")
            for t, p in [("noise", eps_hat), ("sample", x0_hat), ("velocity", v_hat)]]
    np.testing.assert_allclose(mins, mins[0], rtol=1e-10)


def test_diffusion_errors():
    p = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"`alpha` has shape \(3, 1\).*one noise level per sample, shape \(3,\)"):
        lossbook.diffusion_loss(p, p, p, np.ones((3, 1)) * 0.6, 0.8)
    with pytest.raises(ValueError, match="`alpha` and `sigma` must be positive.*Drop the end points"):
        lossbook.diffusion_loss(p, p, p, 1.0, 0.0)
    with pytest.raises(ValueError, match="target='velocity' needs a variance-preserving schedule"):
        lossbook.diffusion_loss(p, p, p, 1.0, 1.0, target="velocity")
    with pytest.raises(ValueError, match="`target` must be one of 'noise', 'sample', 'velocity'"):
        lossbook.diffusion_loss(p, p, p, 0.6, 0.8, target="eps")
    with pytest.raises(ValueError, match="`weighting` must be one of 'none', 'snr', 'min_snr'"):
        lossbook.diffusion_loss(p, p, p, 0.6, 0.8, weighting="minsnr")
    with pytest.raises(ValueError, match=r"`noise` has shape \(3, 3\) but `prediction` has shape \(3, 2\)"):
        lossbook.diffusion_loss(p, p, np.zeros((3, 3)), 0.6, 0.8)
    with pytest.raises(ValueError, match="`gamma` must be positive"):
        lossbook.diffusion_loss(p, p, p, 0.6, 0.8, weighting="min_snr", gamma=0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_flow_matching_loss_matches_torch(reduction):
    pred, x0, eps = (RNG.standard_normal((5, 3)) for _ in range(3))
    t = RNG.uniform(size=5)
    x0t, epst = torch.tensor(x0), torch.tensor(eps)
    ref = {"mean": F.mse_loss, "sum": lambda a, b: F.mse_loss(a, b, reduction="sum"),
           "none": lambda a, b: F.mse_loss(a, b, reduction="none")}[reduction]
    value, (grad,) = _autograd(lambda p: ref(p, epst - x0t), pred)
    np.testing.assert_allclose(lossbook.flow_matching_loss(pred, x0, eps, t, reduction), value, rtol=RTOL)
    np.testing.assert_allclose(lossbook.flow_matching_loss.grad(pred, x0, eps, t, reduction), grad, rtol=GRAD_RTOL)


def test_flow_matching_errors():
    p = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"`t` must hold times along the path.*in \[0, 1\]"):
        lossbook.flow_matching_loss(p, p, p, np.array([0.5, 1.5, 0.2]))
    with pytest.raises(ValueError, match=r"`t` has shape \(2,\)"):
        lossbook.flow_matching_loss(p, p, p, np.array([0.5, 0.2]))
    assert lossbook.flow_matching_loss(p, p, p, 0.5) == 0.0
    bad = p.copy()
    bad[1, 0] = np.nan
    for name, args in (("sample", (p, bad, p)), ("noise", (p, p, bad))):   # finiteness is checked on noise - sample
        for fn in (lossbook.flow_matching_loss, lossbook.flow_matching_loss.grad):
            with pytest.raises(ValueError, match=f"`{name}` contains NaN or inf"):
                fn(*args, 0.5)
    big = np.full((3, 2), 3e38, np.float32)
    with pytest.raises(ValueError, match="`noise - sample` overflows"):
        lossbook.flow_matching_loss(p.astype(np.float32), -big, big, 0.5)


def test_every_generative_loss_is_registered_in_its_family():
    names = {i.name for i in lossbook.catalogue("generative")}
    assert names == {"gaussian_kl", "vae_loss", "gan_discriminator_loss", "gan_generator_loss", "diffusion_loss",
                     "flow_matching_loss"}


def test_mixed_float32_float64_is_computed_in_float64_with_gradients_in_each_dtype():
    f32 = RNG.standard_normal((4, 3)).astype(np.float32)
    f64 = RNG.standard_normal((4, 3))
    x01 = RNG.uniform(size=(4, 3))
    a, s = np.full(4, 0.6), np.full(4, 0.8)
    cases = [
        (lossbook.gaussian_kl, (f32, f64), {}),
        (lossbook.vae_loss, (f32, x01, f32, f64), {}),
        (lossbook.gan_discriminator_loss, (f32, f64), {}),
        (lossbook.diffusion_loss, (f32, f64, f64, a, s), {"target": "velocity"}),
        (lossbook.flow_matching_loss, (f32, f64, f64, 0.5), {}),
    ]
    for fn, args, kwargs in cases:
        value = fn(*args, **kwargs)
        assert value.dtype == np.float64, fn.__name__
        wide = [np.asarray(v, dtype=np.float64) if isinstance(v, np.ndarray) else v for v in args]
        np.testing.assert_allclose(value, fn(*wide, **kwargs), rtol=1e-12)
        grads = fn.grad(*args, **kwargs)
        grads = grads if isinstance(grads, tuple) else (grads,)
        assert grads[0].dtype == np.float32, fn.__name__     # the dtype of the argument it belongs to
    assert lossbook.gan_generator_loss(f32).dtype == np.float32


# ----------------------------------------------------------------------------------------------------------
# The chapters' helpers (lossbook.book.generative)
# ----------------------------------------------------------------------------------------------------------


def test_schedules_are_variance_preserving_and_start_clean():
    from lossbook.book import generative as gb

    t = np.linspace(0, 1, 11)
    for sched in (gb.cosine_schedule, gb.linear_schedule):
        a, s = sched(t)
        np.testing.assert_allclose(a**2 + s**2, 1.0, atol=1e-12)
        assert a[0] == 1.0 and np.all(np.diff(a) < 0)
    # DDPM's linear betas: alpha_bar after 1000 steps is prod(1 - beta)
    a, _ = gb.linear_schedule(1.0)
    assert np.isclose(a**2, np.prod(1 - np.linspace(1e-4, 0.02, 1000)), rtol=1e-10)


def test_sample_distances_separate_equal_and_shifted_distributions():
    from lossbook.book import generative as gb

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((400, 2)), rng.standard_normal((400, 2))
    assert abs(gb.energy_distance(x, y)) < 0.02 < gb.energy_distance(x, y + 1.0)
    assert abs(gb.mmd_rbf(x, y)) < 0.01 < gb.mmd_rbf(x, y + 1.0)
    # Frechet distance of 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    z = rng.standard_normal((500, 1))
    z = (z - z.mean()) / z.std(ddof=1)
    assert np.isclose(gb.frechet_distance(z, 3 + 2 * z), 9 + 1, rtol=1e-9)
    assert abs(gb.frechet_distance(x, x)) < 1e-9


def test_modes_covered_and_active_units():
    from lossbook.book import generative as gb

    pts, centres = gb.ring_of_gaussians(800, std=0.05, seed=0)
    assert gb.modes_covered(pts, centres, 0.05)[0] == 8
    modes, good = gb.modes_covered(np.repeat(centres[:2], 50, axis=0), centres, 0.05)
    assert (modes, good) == (2, 1.0)
    means = np.c_[np.random.default_rng(0).standard_normal(100), np.full(100, 0.3)]
    assert gb.active_units(means) == 1


def test_stacked_models_train_independently():
    from lossbook.book import generative as gb

    net = gb.StackedMLP((3, 5, 2), 3, seeds=[0, 1, 0])
    x = torch.randn(3, 4, 3)
    out = net(x)
    torch.testing.assert_close(net(x[:1].expand(3, 4, 3))[0], out[0])
    assert torch.equal(net.weights[0][0], net.weights[0][2])          # same seed, same start
    out[1].sum().backward()                                           # a loss of model 1 only
    assert net.weights[0].grad[0].abs().sum() == 0 and net.weights[0].grad[1].abs().sum() > 0


@pytest.mark.parametrize("target", DIFFUSION_TARGETS)
@pytest.mark.parametrize("weighting", DIFFUSION_WEIGHTINGS)
def test_the_chapters_torch_loss_is_lossbooks(target, weighting):
    from lossbook.book import generative as gb

    pred, x0, eps = (RNG.standard_normal((2, 6, 3)) for _ in range(3))
    phi = RNG.uniform(0.1, 1.4, size=(2, 6, 1))
    a, s = np.cos(phi), np.sin(phi)
    ours = gb.torch_denoising_loss(*(torch.tensor(v) for v in (pred, x0, eps, a, s)), target, weighting)
    for m in range(2):
        ref = lossbook.diffusion_loss(pred[m], x0[m], eps[m], a[m, :, 0], s[m, :, 0], target, weighting)
        assert np.isclose(ours[m].item(), ref, rtol=1e-12)
    flow = gb.torch_denoising_loss(*(torch.tensor(v) for v in (pred, x0, eps, a, s)), "flow")
    assert np.isclose(flow[0].item(), lossbook.flow_matching_loss(pred[0], x0[0], eps[0], 0.5), rtol=1e-12)
