r"""Losses of generative models: the VAE's ELBO, adversarial (GAN) losses, diffusion and flow matching.

Generative models are trained with losses the book has already met, put together in particular ways:

* a **variational autoencoder** minimises the negative ELBO, a reconstruction negative log-likelihood plus the
  KL divergence of the encoder's Gaussian from the prior (:func:`gaussian_kl`, :func:`vae_loss`);
* a **GAN** trains a discriminator and a generator against each other; both losses are functions of the
  discriminator's logits (:func:`gan_discriminator_loss`, :func:`gan_generator_loss`) in five variants:
  minimax, non-saturating, least-squares, hinge and Wasserstein. The gradient penalty of WGAN-GP needs
  gradients *of the network* and is computed in PyTorch in the chapter;
* a **diffusion model** regresses the noise, the clean sample or the velocity of a noised sample
  (:func:`diffusion_loss`, with the constant, SNR and Min-SNR weightings), and **flow matching** regresses the
  velocity of a straight path from data to noise (:func:`flow_matching_loss`).

PyTorch has none of these as a function; each docstring states the formula and the reference it follows, and
``tests/test_generative.py`` checks every value and gradient against autograd on a PyTorch transcription of the
formula. Each loss is declared with ``lossbook._registry.register`` and has its analytic gradient right below it.
"""
from __future__ import annotations

import numpy as np

from ._blockwise import value_and_grad
from ._reduction import reduce, reduction_scale
from ._registry import register
from ._stable import sigmoid, softplus
from ._validation import (
    as_float_array,
    as_prediction,
    check_finite,
    check_positive,
    check_range,
    check_reduction,
    check_same_shape,
    describe,
    promote,
)

__all__ = [
    "gaussian_kl",
    "vae_loss",
    "gan_discriminator_loss",
    "gan_generator_loss",
    "diffusion_loss",
    "flow_matching_loss",
    "diffusion_weight",
    "GAN_VARIANTS",
    "DIFFUSION_TARGETS",
    "DIFFUSION_WEIGHTINGS",
]

GAN_VARIANTS = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")
DIFFUSION_TARGETS = ("noise", "sample", "velocity")
DIFFUSION_WEIGHTINGS = ("none", "snr", "min_snr")
_KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")
_VAE_REDUCTIONS = ("none", "batchmean", "sum")


# ----------------------------------------------------------------------------------------------------------
# Private helpers
# ----------------------------------------------------------------------------------------------------------


def _choice(value, name, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"`{name}` must be one of {', '.join(repr(a) for a in allowed)}, but it is {value!r}.")
    return value


def _same_shape_predictions(arrays, names):
    out = list(promote(*(as_prediction(a, n) for a, n in zip(arrays, names, strict=True))))
    for a, n in zip(out[1:], names[1:], strict=True):
        check_same_shape(out[0], a, names[0], n)
    return out


def _batch_axis(x, name):
    if x.ndim == 0:
        raise ValueError(f"`{name}` must have a batch axis first, shape (N, ...), but it is 0-d.")
    return x.shape[0]


def _reduce_kl(per_element, reduction):
    """'none': element-wise; 'batchmean': summed, divided by the batch size; 'sum'; 'mean': over elements."""
    if reduction == "batchmean":
        n = per_element.shape[0]
        return np.asarray(per_element.sum(dtype=per_element.dtype) / n) if n else np.asarray(np.nan, per_element.dtype)
    return reduce(per_element, reduction)


def _kl_scale(x, reduction):
    if reduction == "batchmean":
        return 1.0 / x.shape[0] if x.shape[0] else float("nan")
    return reduction_scale(reduction, x.size)


# ----------------------------------------------------------------------------------------------------------
# gaussian_kl
# ----------------------------------------------------------------------------------------------------------


def _prepare_kl(mean, log_var, mean2, log_var2, reduction):
    check_reduction(reduction, _KL_REDUCTIONS)
    if (mean2 is None) != (log_var2 is None):
        raise ValueError(
            "`mean2` and `log_var2` describe the second Gaussian together: pass both (KL between two diagonal "
            "Gaussians) or neither (KL to the standard normal N(0, I))."
        )
    if mean2 is None:
        mean, log_var = _same_shape_predictions([mean, log_var], ["mean", "log_var"])
    else:
        mean, log_var, mean2, log_var2 = _same_shape_predictions(
            [mean, log_var, mean2, log_var2], ["mean", "log_var", "mean2", "log_var2"])
    if reduction == "batchmean":
        _batch_axis(mean, "mean")
    return mean, log_var, mean2, log_var2


@register(
    family="generative",
    prediction="mean and variance",
    target_dtype="none (a second Gaussian is optional)",
    target_shape="mean2, log_var2 (optional): same shape as mean",
    target_values="log-variances, not variances or standard deviations; default prior N(0, I)",
    reference="Kingma & Welling, Auto-Encoding Variational Bayes, ICLR (2014), appendix B",
    wrt=("mean", "log_var", "mean2", "log_var2"),
)
def gaussian_kl(mean, log_var, mean2=None, log_var2=None, reduction="batchmean"):
    r"""KL divergence between diagonal Gaussians: the regulariser of a variational autoencoder.

    To the standard normal (``mean2``, ``log_var2`` omitted), element by element:

    .. math:: \mathrm{KL}\bigl(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, 1)\bigr)
              = \tfrac12\,\bigl(\mu^2 + \sigma^2 - 1 - \log \sigma^2\bigr)

    and between two Gaussians,

    .. math:: \mathrm{KL}\bigl(\mathcal N(\mu_1, \sigma_1^2) \,\|\, \mathcal N(\mu_2, \sigma_2^2)\bigr)
              = \tfrac12\Bigl(\log\frac{\sigma_2^2}{\sigma_1^2}
                + \frac{\sigma_1^2 + (\mu_1 - \mu_2)^2}{\sigma_2^2} - 1\Bigr).

    Args:
        mean: ``mu``, shape ``(N, D)`` (or any shape with the batch first), the encoder's mean.
        log_var: ``log sigma^2``, same shape: the *log-variance*, as VAE encoders output it (not ``sigma``).
        mean2, log_var2: the second Gaussian (both or neither), same shape; default ``N(0, I)``.
        reduction: ``'batchmean'`` (default: summed over everything, divided by ``N``, the KL per sample that
            the ELBO needs), ``'sum'``, ``'mean'`` (over all elements: divides by ``N * D``, which silently
            weights the KL by ``1/D``) or ``'none'`` (element-wise, shaped like ``mean``).

    ``gaussian_kl.grad`` returns ``(d/d mean, d/d log_var)``, or four arrays with a second Gaussian.
    It equals ``torch.distributions.kl_divergence(Normal(mu1, s1), Normal(mu2, s2))`` element-wise.

    Example::

        >>> float(gaussian_kl(np.array([[0.0, 1.0]]), np.array([[0.0, 0.0]])))
        0.5

    Reference: Kingma & Welling (2014), appendix B.
    """
    mean, log_var, mean2, log_var2 = _prepare_kl(mean, log_var, mean2, log_var2, reduction)
    if mean2 is None:
        kl = 0.5 * (mean * mean + np.expm1(log_var) - log_var)
    else:
        d = mean - mean2
        kl = 0.5 * (log_var2 - log_var + np.exp(log_var - log_var2) + d * d * np.exp(-log_var2) - 1)
    return _reduce_kl(kl, reduction)


@gaussian_kl.defgrad
def _gaussian_kl_grad(mean, log_var, mean2=None, log_var2=None, reduction="batchmean"):
    mean, log_var, mean2, log_var2 = _prepare_kl(mean, log_var, mean2, log_var2, reduction)
    s = _kl_scale(mean, reduction)
    if mean2 is None:
        return mean * s, 0.5 * np.expm1(log_var) * s
    d = mean - mean2
    r = np.exp(log_var - log_var2)
    q = d * d * np.exp(-log_var2)
    g_mean = d * np.exp(-log_var2) * s
    return g_mean, 0.5 * (r - 1) * s, -g_mean, 0.5 * (1 - r - q) * s


# ----------------------------------------------------------------------------------------------------------
# vae_loss
# ----------------------------------------------------------------------------------------------------------


def _prepare_vae(recon, target, mean, log_var, likelihood, beta, scale, reduction):
    check_reduction(reduction, _VAE_REDUCTIONS)
    _choice(likelihood, "likelihood", ("bernoulli", "gaussian"))
    beta = float(np.asarray(beta)) if np.ndim(beta) == 0 and not isinstance(beta, bool) else beta
    if isinstance(beta, bool) or not isinstance(beta, float) or not np.isfinite(beta) or beta < 0:
        raise ValueError(f"`beta` must be a finite number >= 0 (the weight of the KL term), but it is {beta!r}.")
    scale = check_positive(scale, "scale")
    recon = as_prediction(recon, "recon")
    target = as_float_array(target, "target", int_dtype=recon.dtype)
    recon, target, mean, log_var = promote(recon, target, *_same_shape_predictions([mean, log_var],
                                                                                   ["mean", "log_var"]))
    check_same_shape(recon, target, "recon", "target")
    n = _batch_axis(recon, "recon")
    if _batch_axis(mean, "mean") != n:
        raise ValueError(
            f"`mean` has {mean.shape[0]} rows but `recon` has {n}: this loss expects one latent code per sample "
            "(the batch axis first in both)."
        )
    # Data in [0, 1] is finite: for a Bernoulli likelihood one min and one max check both (the images are large).
    if not (likelihood == "bernoulli" and target.size and 0 <= target.min() and target.max() <= 1):
        check_finite(target, "target")
        if likelihood == "bernoulli":
            check_range(target, "target", 0.0, 1.0, "pixel intensities (Bernoulli means)",
                        "Scale the data to [0, 1] (e.g. `x / x.max()`), or use likelihood='gaussian'.")
    return recon, target, mean, log_var, beta, scale


_BLOCK_ROWS = 64


def _rows(a):
    """``a`` as (N, D), one sample per row, and row slices of at most ``_BLOCK_ROWS`` samples. The reconstruction
    term is computed block by block, so that the temporaries of each step (softplus and sigmoid take several)
    stay in the CPU's cache instead of going to memory and back: a 4096 x 784 batch costs about a fifth less."""
    n = a.shape[0]
    return a.reshape(n, a.size // n if n else 0), [slice(i, i + _BLOCK_ROWS) for i in range(0, n, _BLOCK_ROWS)]


def _reconstruction_nll(recon, target, likelihood, scale):
    """-log p(x | z) summed over the elements of each sample, shape (N,)."""
    (r, blocks), x = _rows(recon), _rows(target)[0]
    out = np.empty(recon.shape[0], recon.dtype)
    for rows in blocks:
        if likelihood == "bernoulli":
            nll = softplus(r[rows])
            nll -= x[rows] * r[rows]
        else:
            nll = x[rows] - r[rows]
            nll *= nll
            nll *= 0.5 / scale**2
            nll += np.log(scale) + 0.5 * np.log(2 * np.pi)
        out[rows] = nll.sum(axis=1)
    return out


def _reconstruction_grad(recon, target, likelihood, scale, s):
    """s times the derivative of :func:`_reconstruction_nll` in recon: s (sigmoid(r) - x), or s (r - x) / scale^2."""
    (r, blocks), x = _rows(recon), _rows(target)[0]
    grad = np.empty(recon.shape, recon.dtype)
    g = _rows(grad)[0]                                   # a view: C-contiguous
    for rows in blocks:
        np.subtract(sigmoid(r[rows]) if likelihood == "bernoulli" else r[rows], x[rows], out=g[rows])
        g[rows] *= s if likelihood == "bernoulli" else s / scale**2
    return grad


@register(
    family="generative",
    prediction="logits",
    target_dtype="float",
    target_shape="same shape as recon, (N, ...); mean and log_var (N, D)",
    target_values="the input itself: in [0, 1] for 'bernoulli' (recon are logits), real for 'gaussian' (recon are means)",
    reference="Kingma & Welling, Auto-Encoding Variational Bayes, ICLR (2014); Higgins et al., beta-VAE, ICLR (2017)",
    wrt=("recon", "mean", "log_var"),
)
def vae_loss(recon, target, mean, log_var, likelihood="bernoulli", beta=1.0, scale=1.0, reduction="batchmean"):
    r"""The negative ELBO of a variational autoencoder, per sample: reconstruction NLL plus ``beta`` times the KL.

    .. math:: \mathcal L_i = -\sum_j \log p(x_{ij} \mid z_i)
              + \beta\, \sum_k \mathrm{KL}\bigl(\mathcal N(\mu_{ik}, \sigma_{ik}^2) \,\|\, \mathcal N(0, 1)\bigr)

    with, for ``likelihood='bernoulli'`` (``recon`` are logits ``l``; the data ``x`` in [0, 1]),
    :math:`-\log p(x \mid z) = \operatorname{softplus}(l) - x\,l` (binary cross-entropy on logits), and for
    ``likelihood='gaussian'`` (``recon`` are means ``m``, fixed standard deviation ``scale`` = ``s``),
    :math:`-\log p(x \mid z) = (x - m)^2 / (2 s^2) + \log s + \tfrac12 \log 2\pi`.

    Both sums run over *all* dimensions of a sample, which is what makes ``beta = 1`` the true ELBO. A per-pixel
    mean (``F.mse_loss`` or ``F.binary_cross_entropy`` with their default ``'mean'``) next to a summed KL is
    the same loss with ``beta = D`` (the number of pixels) times too large a KL, the scaling trap of the chapter.

    Args:
        recon: the decoder's output, ``(N, ...)``: logits (Bernoulli) or means (Gaussian).
        target: the input ``x``, same shape (floats; in [0, 1] for Bernoulli).
        mean, log_var: the encoder's Gaussian, ``(N, D)``, log-variances.
        likelihood: ``'bernoulli'`` (default) or ``'gaussian'``.
        beta: weight of the KL term (``>= 0``; 1 is the ELBO, > 1 a beta-VAE, a schedule from 0 KL annealing).
        scale: the Gaussian likelihood's standard deviation (ignored for Bernoulli).
        reduction: ``'batchmean'`` (default, the mean over samples of the per-sample loss), ``'sum'`` or
            ``'none'`` (one value per sample, shape ``(N,)``).

    ``vae_loss.grad`` returns ``(d/d recon, d/d mean, d/d log_var)``.

    Example::

        >>> x = np.array([[1.0, 0.0]])
        >>> round(float(vae_loss(np.zeros((1, 2)), x, np.zeros((1, 3)), np.zeros((1, 3)))), 4)  # 2 log 2
        1.3863

    Reference: Kingma & Welling (2014); the beta weight from Higgins et al. (2017).
    """
    recon, target, mean, log_var, beta, scale = _prepare_vae(recon, target, mean, log_var, likelihood, beta,
                                                             scale, reduction)
    kl = 0.5 * (mean * mean + np.expm1(log_var) - log_var)
    n = recon.shape[0]
    per_sample = _reconstruction_nll(recon, target, likelihood, scale) + beta * _rows(kl)[0].sum(axis=1)
    if reduction == "batchmean":
        return np.asarray(per_sample.mean()) if n else np.asarray(np.nan, per_sample.dtype)
    return reduce(per_sample, reduction)


@vae_loss.defgrad
def _vae_loss_grad(recon, target, mean, log_var, likelihood="bernoulli", beta=1.0, scale=1.0, reduction="batchmean"):
    recon, target, mean, log_var, beta, scale = _prepare_vae(recon, target, mean, log_var, likelihood, beta,
                                                             scale, reduction)
    n = recon.shape[0]
    s = (1.0 / n if n else float("nan")) if reduction == "batchmean" else 1.0
    g_recon = _reconstruction_grad(recon, target, likelihood, scale, s)
    return g_recon, beta * mean * s, beta * 0.5 * np.expm1(log_var) * s


def _bernoulli_kernel(logits, x, s):
    """softplus(l) - x l and s (sigmoid(l) - x), sharing exp(-|l|) (the formulas of _stable)."""
    e = np.exp(-np.abs(logits))
    sig = np.exp(np.minimum(logits, 0)) / (1 + e)
    return np.log1p(e) + np.maximum(logits, 0) - x * logits, s * (sig - x)


def _gaussian_kernel(m, x, s, scale):
    """(x - m)^2 / (2 scale^2) + log scale + log(2 pi) / 2 and s (m - x) / scale^2."""
    r = m - x
    return 0.5 * r * r / scale**2 + (np.log(scale) + 0.5 * np.log(2 * np.pi)), (s / scale**2) * r


@vae_loss.defvalue_and_grad
def _vae_loss_value_and_grad(recon, target, mean, log_var, likelihood="bernoulli", beta=1.0, scale=1.0,
                             reduction="batchmean"):
    """The training step: one validation, and the reconstruction term's value and gradient from one kernel
    evaluated block by block (exp(-|l|) shared by softplus and sigmoid). 'none' calls the loss and .grad."""
    if reduction == "none":
        return vae_loss(recon, target, mean, log_var, likelihood, beta, scale, reduction), _vae_loss_grad(
            recon, target, mean, log_var, likelihood, beta, scale, reduction)
    recon, target, mean, log_var, beta, scale = _prepare_vae(recon, target, mean, log_var, likelihood, beta,
                                                             scale, reduction)
    n = recon.shape[0]
    s = (1.0 / n if n else float("nan")) if reduction == "batchmean" else 1.0
    if likelihood == "bernoulli":
        nll, g_recon = value_and_grad(_bernoulli_kernel, (recon, target), "sum", params=(s,))
    else:
        nll, g_recon = value_and_grad(_gaussian_kernel, (recon, target), "sum", params=(s, scale))
    kl = 0.5 * (mean * mean + np.expm1(log_var) - log_var)
    value = np.asarray((float(nll) + beta * float(kl.sum())) * s, dtype=recon.dtype)
    return value, (g_recon, beta * mean * s, beta * 0.5 * np.expm1(log_var) * s)


# ----------------------------------------------------------------------------------------------------------
# GAN losses
# ----------------------------------------------------------------------------------------------------------


def _logits(x, name):
    x = as_prediction(x, name)
    if x.ndim == 0:
        x = x.reshape(1)
    return x


def _prepare_disc(real, fake, variant, reduction):
    _choice(variant, "variant", GAN_VARIANTS)
    check_reduction(reduction, ("mean", "sum"))
    real, fake = promote(_logits(real, "real"), _logits(fake, "fake"))
    if real.size == 0 or fake.size == 0:
        raise ValueError(
            f"`real` and `fake` must both hold at least one logit, but they have {describe(real)} and "
            f"{describe(fake)}; the discriminator's loss compares the two."
        )
    return real, fake


@register(
    family="generative",
    prediction="logits",
    target_dtype="none (two inputs: real and fake logits)",
    target_shape="real (N, ...) and fake (M, ...), sizes may differ",
    target_values="raw discriminator outputs (critic scores for 'wasserstein'); never sigmoid probabilities",
    reference="Goodfellow et al., Generative Adversarial Nets, NeurIPS (2014); Mao et al., LSGAN, ICCV (2017); "
    "Lim & Ye, Geometric GAN (2017); Arjovsky et al., Wasserstein GAN, ICML (2017)",
    wrt=("real", "fake"),
)
def gan_discriminator_loss(real, fake, variant="non_saturating", reduction="mean"):
    r"""The discriminator's (or critic's) loss of a GAN, from its logits on real and on generated samples.

    With :math:`d_r` the logits on real data and :math:`d_f` those on generated samples,

    .. math:: \mathcal L_D = \frac1N \sum_{i=1}^N f(d_{r,i}) + \frac1M \sum_{j=1}^M g(d_{f,j}),

    where, per variant, :math:`f(d_r) + g(d_f)` is:

    * ``'minimax'`` and ``'non_saturating'``: :math:`\operatorname{softplus}(-d_r) + \operatorname{softplus}(d_f)`,
      the binary cross-entropy with real samples labelled 1 and generated ones 0;
    * ``'least_squares'``: :math:`\tfrac12 (d_r - 1)^2 + \tfrac12 d_f^2`;
    * ``'hinge'``: :math:`\max(0, 1 - d_r) + \max(0, 1 + d_f)`;
    * ``'wasserstein'``: :math:`d_f - d_r` (add a gradient penalty, computed on the network).

    The two non-saturating variants share the discriminator loss and differ only in the generator's
    (:func:`gan_generator_loss`). ``reduction='mean'`` (default) is the mean over ``real`` plus the mean over
    ``fake`` (the two sets may differ in size, as PyTorch code that calls the loss twice); ``'sum'`` sums both.

    ``gan_discriminator_loss.grad`` returns ``(d/d real, d/d fake)``.

    Example::

        >>> round(float(gan_discriminator_loss(np.array([0.0]), np.array([0.0]))), 4)  # 2 log 2
        1.3863

    References: Goodfellow et al. (2014); Mao et al. (2017); Lim & Ye (2017); Arjovsky et al. (2017).
    """
    real, fake = _prepare_disc(real, fake, variant, reduction)
    if variant in ("minimax", "non_saturating"):
        lr, lf = softplus(-real), softplus(fake)
    elif variant == "least_squares":
        lr, lf = 0.5 * (real - 1) ** 2, 0.5 * fake**2
    elif variant == "hinge":
        lr, lf = np.maximum(0, 1 - real), np.maximum(0, 1 + fake)
    else:
        lr, lf = -real, fake
    return np.asarray(reduce(lr, reduction) + reduce(lf, reduction))


@gan_discriminator_loss.defgrad
def _gan_discriminator_loss_grad(real, fake, variant="non_saturating", reduction="mean"):
    shapes = (np.shape(real), np.shape(fake))
    real, fake = _prepare_disc(real, fake, variant, reduction)
    sr, sf = reduction_scale(reduction, real.size), reduction_scale(reduction, fake.size)
    if variant in ("minimax", "non_saturating"):
        gr, gf = -sigmoid(-real), sigmoid(fake)
    elif variant == "least_squares":
        gr, gf = real - 1, fake
    elif variant == "hinge":  # PyTorch's clamp_min passes the gradient at the kink
        gr, gf = -(1 - real >= 0).astype(real.dtype), (1 + fake >= 0).astype(fake.dtype)
    else:
        gr, gf = -np.ones_like(real), np.ones_like(fake)
    return (gr * sr).reshape(shapes[0]), (gf * sf).reshape(shapes[1])


def _prepare_gen(fake, variant, reduction):
    _choice(variant, "variant", GAN_VARIANTS)
    check_reduction(reduction)
    return as_prediction(fake, "fake")


@register(
    family="generative",
    prediction="logits",
    target_dtype="none (the discriminator's logits on generated samples)",
    target_shape="fake (M, ...)",
    target_values="raw discriminator outputs on generated samples (critic scores for 'wasserstein')",
    reference="Goodfellow et al., Generative Adversarial Nets, NeurIPS (2014), section 3; Mao et al., LSGAN, "
    "ICCV (2017); Lim & Ye, Geometric GAN (2017); Arjovsky et al., Wasserstein GAN, ICML (2017)",
    wrt=("fake",),
)
def gan_generator_loss(fake, variant="non_saturating", reduction="mean"):
    r"""The generator's loss of a GAN, from the discriminator's logits :math:`d_f` on generated samples.

    .. math:: \mathcal L_G = \frac1M \sum_{j=1}^M h(d_{f,j}),

    where, per variant, :math:`h` and its derivative are:

    * ``'minimax'``: :math:`\log(1 - \sigma(d_f)) = -\operatorname{softplus}(d_f)`, gradient :math:`-\sigma(d_f)`;
    * ``'non_saturating'``: :math:`-\log \sigma(d_f) = \operatorname{softplus}(-d_f)`, gradient
      :math:`-(1 - \sigma(d_f))`;
    * ``'least_squares'``: :math:`\tfrac12 (d_f - 1)^2`, gradient :math:`d_f - 1`;
    * ``'hinge'`` and ``'wasserstein'``: :math:`-d_f`, gradient :math:`-1`.

    The minimax loss is the one of the original game; its gradient vanishes where the discriminator confidently
    rejects the samples (:math:`d_f \to -\infty`), which is early in training. The non-saturating loss has the same
    fixed points and a gradient near -1 there (Goodfellow et al., 2014, section 3).

    Args:
        fake: logits of the discriminator on generated samples, any shape.
        variant: one of ``GAN_VARIANTS`` (default ``'non_saturating'``).
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    Example::

        >>> round(float(gan_generator_loss(np.array([-5.0]), "minimax")), 4)  # -softplus(-5): flat
        -0.0067

    References: Goodfellow et al. (2014); Mao et al. (2017); Lim & Ye (2017); Arjovsky et al. (2017).
    """
    fake = _prepare_gen(fake, variant, reduction)
    if variant == "minimax":
        loss = -softplus(fake)
    elif variant == "non_saturating":
        loss = softplus(-fake)
    elif variant == "least_squares":
        loss = 0.5 * (fake - 1) ** 2
    else:
        loss = -fake
    return reduce(loss, reduction)


@gan_generator_loss.defgrad
def _gan_generator_loss_grad(fake, variant="non_saturating", reduction="mean"):
    fake = _prepare_gen(fake, variant, reduction)
    s = reduction_scale(reduction, fake.size)
    if variant == "minimax":
        g = -sigmoid(fake)
    elif variant == "non_saturating":
        g = -sigmoid(-fake)
    elif variant == "least_squares":
        g = fake - 1
    else:
        g = -np.ones_like(fake)
    return g * s


# ----------------------------------------------------------------------------------------------------------
# Diffusion and flow matching
# ----------------------------------------------------------------------------------------------------------


def _per_sample(x, name, n, dtype):
    a = as_float_array(x, name, int_dtype=dtype)
    if a.ndim == 0:
        a = np.full(n, a, dtype=a.dtype)
    if a.shape != (n,):
        raise ValueError(
            f"`{name}` has shape {a.shape}, but this loss expects one noise level per sample, shape ({n},) "
            f"(or a scalar). Flatten it with `{name}.reshape(-1)` if it is shaped (N, 1, ...)."
        )
    check_finite(a, name)
    return a


def diffusion_weight(alpha, sigma, target="noise", weighting="none", gamma=5.0):
    r"""The weight per sample that :func:`diffusion_loss` puts on the squared error of ``target``.

    With :math:`\mathrm{SNR} = \alpha^2 / \sigma^2`: ``'none'`` gives 1; ``'snr'`` gives the weight that makes
    the loss equal to SNR-weighted clean-sample error in every target (the weighting of the noise-prediction
    loss); ``'min_snr'`` clamps that: the clean-sample error is weighted by :math:`\min(\mathrm{SNR}, \gamma)`,
    so the weight on the target's error is :math:`\min(\mathrm{SNR}, \gamma)/\mathrm{SNR}` for ``'noise'``,
    :math:`\min(\mathrm{SNR}, \gamma)` for ``'sample'`` and :math:`\min(\mathrm{SNR}, \gamma)/(\mathrm{SNR} + 1)`
    for ``'velocity'`` (Hang et al., 2023). Returns an array shaped like ``alpha``.
    """
    _choice(target, "target", DIFFUSION_TARGETS)
    _choice(weighting, "weighting", DIFFUSION_WEIGHTINGS)
    gamma = check_positive(gamma, "gamma")
    alpha, sigma = np.asarray(alpha, dtype=float), np.asarray(sigma, dtype=float)
    snr = alpha**2 / sigma**2
    if weighting == "none":
        return np.ones_like(snr)
    w_sample = snr if weighting == "snr" else np.minimum(snr, gamma)   # the weight on ||x0 - x0_hat||^2
    per_target = {"noise": snr, "sample": np.ones_like(snr), "velocity": snr + 1}[target]
    return w_sample / per_target


def _prediction_sample_noise(prediction, sample, noise, finite=True):
    """Validate a denoiser's prediction with the clean sample and the noise: float arrays of one shape, promoted
    together, the last two finite (unless ``finite=False``: the caller checks); returns them and the batch size N."""
    prediction = as_prediction(prediction, "prediction")
    sample = as_float_array(sample, "sample", int_dtype=prediction.dtype)
    noise = as_float_array(noise, "noise", int_dtype=prediction.dtype)
    prediction, sample, noise = promote(prediction, sample, noise)
    check_same_shape(prediction, sample, "prediction", "sample")
    check_same_shape(prediction, noise, "prediction", "noise")
    if finite:
        check_finite(sample, "sample")
        check_finite(noise, "noise")
    return prediction, sample, noise, _batch_axis(prediction, "prediction")


def _prepare_diffusion(prediction, sample, noise, alpha, sigma, target, weighting, gamma, reduction):
    check_reduction(reduction)
    _choice(target, "target", DIFFUSION_TARGETS)
    _choice(weighting, "weighting", DIFFUSION_WEIGHTINGS)
    gamma = check_positive(gamma, "gamma")
    prediction, sample, noise, n = _prediction_sample_noise(prediction, sample, noise)
    alpha = _per_sample(alpha, "alpha", n, prediction.dtype)
    sigma = _per_sample(sigma, "sigma", n, prediction.dtype)
    if n and (alpha.min() <= 0 or sigma.min() <= 0):
        raise ValueError(
            f"`alpha` and `sigma` must be positive (x_t = alpha * sample + sigma * noise with both parts present), "
            f"but they have {describe(alpha)} and {describe(sigma)}. Drop the end points t = 0 and t = T of the "
            "schedule, where the signal-to-noise ratio is infinite or zero."
        )
    if target == "velocity" and n and np.max(np.abs(alpha**2 + sigma**2 - 1)) > 1e-6:
        raise ValueError(
            "target='velocity' needs a variance-preserving schedule, alpha**2 + sigma**2 == 1 (Salimans & Ho, "
            f"2022), but alpha**2 + sigma**2 lies in [{(alpha**2 + sigma**2).min():.4g}, "
            f"{(alpha**2 + sigma**2).max():.4g}]. Use alpha = cos(phi), sigma = sin(phi)."
        )
    a = alpha.reshape((n,) + (1,) * (prediction.ndim - 1)).astype(prediction.dtype)
    s = sigma.reshape(a.shape).astype(prediction.dtype)
    tgt = {"noise": noise, "sample": sample, "velocity": a * noise - s * sample}[target]
    w = diffusion_weight(alpha, sigma, target, weighting, gamma).reshape(a.shape).astype(prediction.dtype)
    return prediction, tgt, w


@register(
    family="generative",
    prediction="real values",
    target_dtype="float",
    target_shape="sample and noise: same shape as prediction, (N, ...); alpha, sigma: (N,) or scalars",
    target_values="the clean sample x0, the Gaussian noise eps, and the noise level: x_t = alpha x0 + sigma eps",
    reference="Ho et al., DDPM, NeurIPS (2020); Salimans & Ho, Progressive Distillation, ICLR (2022); "
    "Hang et al., Min-SNR Weighting, ICCV (2023)",
    wrt=("prediction",),
)
def diffusion_loss(prediction, sample, noise, alpha, sigma, target="noise", weighting="none", gamma=5.0,
                   reduction="mean"):
    r"""The denoising loss of a diffusion model: a weighted squared error on the noise, the sample or the velocity.

    The model sees :math:`x_t = \alpha_t x_0 + \sigma_t \varepsilon` and predicts one of

    .. math:: \varepsilon \;(\texttt{'noise'}),\qquad x_0 \;(\texttt{'sample'}),\qquad
              v = \alpha_t \varepsilon - \sigma_t x_0 \;(\texttt{'velocity'}),

    and the loss is :math:`\ell = w(t)\,(\hat y - y)^2` element-wise, with :math:`w` from :func:`diffusion_weight`:
    ``'none'`` (the "simple" loss of Ho et al., 2020, with whatever target), ``'snr'`` or ``'min_snr'`` (Hang et
    al., 2023; ``gamma`` = 5 as in the paper). The three targets are one loss seen three ways: with
    :math:`\mathrm{SNR} = \alpha^2/\sigma^2`, the squared error on the noise is SNR times that on the clean
    sample, and (when :math:`\alpha^2 + \sigma^2 = 1`) the error on the velocity is SNR + 1 times it.

    Args:
        prediction: the network's output, shape ``(N, ...)``.
        sample: the clean data ``x0``, same shape.
        noise: the Gaussian noise ``eps`` that was added, same shape.
        alpha, sigma: the noise level of each sample, shape ``(N,)`` or scalars, both positive
            (``'velocity'`` requires :math:`\alpha^2 + \sigma^2 = 1`).
        target: ``'noise'`` (default), ``'sample'`` or ``'velocity'``.
        weighting: ``'none'`` (default), ``'snr'`` or ``'min_snr'``; ``gamma`` the Min-SNR clamp.
        reduction: ``'mean'`` (default, as ``F.mse_loss``), ``'sum'`` or ``'none'`` (element-wise).

    With ``weighting='none'`` and ``target='noise'`` it is ``F.mse_loss(prediction, noise)``.
    ``diffusion_loss.grad`` returns the gradient with respect to ``prediction``.

    References: Ho et al. (2020); Salimans & Ho (2022); Hang et al. (2023).
    """
    prediction, tgt, w = _prepare_diffusion(prediction, sample, noise, alpha, sigma, target, weighting, gamma,
                                            reduction)
    r = prediction - tgt
    return reduce(w * r * r, reduction)


@diffusion_loss.defgrad
def _diffusion_loss_grad(prediction, sample, noise, alpha, sigma, target="noise", weighting="none", gamma=5.0,
                         reduction="mean"):
    prediction, tgt, w = _prepare_diffusion(prediction, sample, noise, alpha, sigma, target, weighting, gamma,
                                            reduction)
    return 2 * w * (prediction - tgt) * reduction_scale(reduction, prediction.size)


def _prepare_flow(prediction, sample, noise, t, reduction):
    check_reduction(reduction)
    prediction, sample, noise, n = _prediction_sample_noise(prediction, sample, noise, finite=False)
    t = _per_sample(t, "t", n, prediction.dtype)
    check_range(t, "t", 0.0, 1.0, "times along the path (0 is data, 1 is noise)")
    with np.errstate(over="ignore"):   # an overflow is reported below
        u = noise - sample
    # u is finite exactly when sample and noise are (an inf or a NaN in either reaches it), barring overflow:
    # one min and max instead of two; on failure, check each to name the culprit.
    if u.size and not (np.isfinite(u.min()) and np.isfinite(u.max())):
        check_finite(sample, "sample")
        check_finite(noise, "noise")
        raise ValueError(f"`noise - sample` overflows ({describe(u)}): scale the data and the noise to moderate "
                         "values (the noise is a standard Gaussian, the data typically in [-1, 1]).")
    return prediction, u


@register(
    family="generative",
    prediction="real values",
    target_dtype="float",
    target_shape="sample and noise: same shape as prediction, (N, ...); t: (N,) or a scalar",
    target_values="the clean sample x0, the noise eps and t in [0, 1]: x_t = (1 - t) x0 + t eps",
    reference="Lipman et al., Flow Matching for Generative Modeling, ICLR (2023); Liu et al., Flow Straight "
    "and Fast (rectified flow), ICLR (2023)",
    wrt=("prediction",),
)
def flow_matching_loss(prediction, sample, noise, t, reduction="mean"):
    r"""Conditional flow matching with straight paths (rectified flow): a squared error on the velocity.

    The model sees :math:`x_t = (1 - t)\,x_0 + t\,\varepsilon` and predicts the velocity of that straight path,

    .. math:: \ell = \bigl(\hat u(x_t, t) - (\varepsilon - x_0)\bigr)^2,

    element-wise; sampling integrates :math:`\mathrm d x / \mathrm d t = \hat u` from noise (``t = 1``) back to
    data (``t = 0``). ``t`` enters only through ``x_t`` (which the caller builds); it is checked to lie in [0, 1].

    Args:
        prediction: the predicted velocity, ``(N, ...)``.
        sample, noise: ``x0`` and ``eps``, same shape.
        t: the time of each sample, ``(N,)`` or a scalar, in [0, 1].
        reduction: ``'mean'`` (default), ``'sum'`` or ``'none'``.

    ``flow_matching_loss.grad`` returns the gradient with respect to ``prediction``.

    References: Lipman et al. (2023); Liu et al. (2023).
    """
    prediction, u = _prepare_flow(prediction, sample, noise, t, reduction)
    r = np.subtract(prediction, u, out=u)   # in place: u = noise - sample is a temporary of _prepare_flow
    return reduce(np.square(r, out=r), reduction)


@flow_matching_loss.defgrad
def _flow_matching_loss_grad(prediction, sample, noise, t, reduction="mean"):
    prediction, u = _prepare_flow(prediction, sample, noise, t, reduction)
    g = np.subtract(prediction, u, out=u)
    g *= 2 * reduction_scale(reduction, prediction.size)
    return g
