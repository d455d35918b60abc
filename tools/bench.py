"""Time lossbook against PyTorch: value + gradient, CPU, float32, the same inputs.

    python tools/bench.py                       # every registered loss (this is `make bench`)
    python tools/bench.py --family regression   # one family
    python tools/bench.py --only mse_loss,cross_entropy --repeats 9
    python tools/bench.py --threads 2           # both sides on 2 threads (default 1: fair on a busy machine)
    python tools/bench.py --strict              # exit 1 when a loss is over its goal (`make bench STRICT=1`)

For each loss with a PyTorch counterpart (or, for the losses PyTorch lacks, a reference written in torch
below) it builds realistic inputs -- regression: 10^6 elements; classification: 4096 x 1000 logits;
ranking: 65,536 pairs or triplets of dimension 128 (InfoNCE: a batch of 4096, whose 4096 x 4096 similarity
matrix is the realistic cost); learning to rank: 256 queries x 100 items with graded relevance 0-4; preferences:
65,536 pairs of per-sequence log-probabilities, or 64 completions x 1024 tokens (PPO, the KL penalty); generative:
256 x 3 x 32 x 32 images (diffusion with v-prediction and Min-SNR, flow matching), a 4096 x 784 VAE with a latent of
32, 65,536 GAN logits; vision: 65,536 box pairs (GIoU), 32 x 1 x 128 x 128 masks, 16 x 5 x 64 x 64 for
Lovász-softmax, 4096 x 512 embeddings against 1000 class vectors (CosFace, ArcFace) -- against a straightforward
torch autograd implementation written below (from TRL, torchvision, the Lovász authors' code and
pytorch-metric-learning, each named there) -- and reports the median time of a few repeats after a warm-up (the two
sides alternate within each repeat):

* lossbook: ``loss.value_and_grad(*args)``, the value and the gradient of one training step (one validation,
  and the intermediates the two share computed once, as autograd's forward pass saves them for its backward
  pass; a loss without a fused body calls ``loss(*args)`` then ``loss.grad(*args)``);
* torch:    ``loss(*tensors).backward()``;
* the 'separate' column: ``loss(*args)`` then ``loss.grad(*args)``, two independent calls (for information;
  the goal applies to the training step).

Both sides run on one thread by default (NumPy's BLAS through ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``, set
before NumPy is imported, and ``torch.set_num_threads``), timed by the process's CPU clock (``--clock wall`` for
elapsed time): on a shared machine a multi-threaded side is slowed by the load far more than a single-threaded
one, and elapsed time includes the waits for a core, so the ratio would measure the load. Compare ratios from
one run.

The goal column is the project's speed target: within 1.5x of PyTorch for element-wise losses, 3x for the
softmax family, row-wise and pairwise losses. 'match' checks that both computed the same value (to 1e-3 relative,
float32), so a wrong input table cannot produce a meaningless timing. Losses not registered yet are listed as
"not yet implemented". This is a report, not a test: timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import math
import os
import pathlib
import statistics
import sys
import time


def _threads_from_argv(argv):
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# BLAS reads its thread count once, when NumPy is imported: set it first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import lossbook  # noqa: E402

DT = np.float32
N_REG = 10**6
N_CLS, C_CLS = 4096, 1000
N_RANK, D_RANK = 65536, 128
N_NCE = 4096
N_LCE, D_LCE, V_LCE = 4096, 256, 32768   # tokens, hidden width, vocabulary
Q_LTR, L_LTR = 256, 100                  # learning to rank: queries, items per query
N_PREF = 65536                           # preference pairs (or answers) per batch
B_TOK, T_TOK = 64, 1024                  # sampled completions x tokens (PPO/GRPO, the KL penalty)
IMG = (256, 3, 32, 32)                   # diffusion and flow matching: a batch of CIFAR-sized images
N_VAE, D_VAE, Z_VAE = 4096, 784, 32      # VAE: batch, pixels (28 x 28), latent
N_GAN = 65536                            # discriminator logits on real and on generated samples
N_FACE, D_FACE, C_FACE = 4096, 512, 1000  # CosFace / ArcFace: embeddings, width, classes
N_BOX = 65536                            # box pairs
SEG = (32, 1, 128, 128)                  # binary segmentation: probabilities (or logits) and masks
SEG_MC = (16, 5, 64, 64)                 # multi-class segmentation (Lovász-softmax)

ELEMENTWISE, ROWWISE, SOFTMAX, PAIRWISE = "element-wise", "row-wise", "softmax", "pairwise"
GOAL = {ELEMENTWISE: 1.5, ROWWISE: 3.0, SOFTMAX: 3.0, PAIRWISE: 3.0}


# ---- torch references for the losses PyTorch does not have (imported lazily, like torch itself) -----------


def _torch_refs():
    import torch
    import torch.nn.functional as F

    from lossbook.book.vision import torch_margin_logits  # the chapters' CosFace / ArcFace logits in torch

    def log_cosh_loss(input, target, reduction="mean"):
        return torch.log(torch.cosh(input - target)).mean()

    def quantile_loss(input, target, quantile=0.5, reduction="mean"):
        u = target - input
        return torch.maximum(quantile * u, (quantile - 1) * u).mean()

    def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="mean"):  # torchvision.ops
        p = torch.sigmoid(inputs)
        ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce * (1 - p_t) ** gamma
        if alpha >= 0:
            loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
        return loss.mean()

    def dice_loss(input, target, smooth=1.0, reduction="mean"):
        dims = tuple(range(1, input.ndim))
        num = 2 * (input * target).sum(dims) + smooth
        den = input.sum(dims) + target.sum(dims) + smooth
        return (1 - num / den).mean()

    def contrastive_loss(input1, input2, target, margin=1.0, reduction="mean"):
        d = torch.linalg.vector_norm(input1 - input2, dim=-1)
        return (0.5 * target * d**2 + 0.5 * (1 - target) * torch.clamp(margin - d, min=0) ** 2).mean()

    def info_nce_loss(anchors, positives, temperature=0.1, reduction="mean", symmetric=False):
        logits = F.normalize(anchors, dim=1) @ F.normalize(positives, dim=1).T / temperature
        return F.cross_entropy(logits, torch.arange(anchors.shape[0]))

    def token_cross_entropy(input, target, reduction="sum"):
        return F.cross_entropy(input.flatten(0, -2), target.flatten(), reduction=reduction)


    # Learning to rank (no padding in the bench's inputs): the textbook formulas, differentiated by autograd.
    def _pair_mask(relevance):
        return relevance[:, :, None] > relevance[:, None, :]              # i should rank above j

    def ranknet_loss(scores, relevance, sigma=1.0, reduction="mean"):
        pairs = _pair_mask(relevance)
        diff = scores[:, :, None] - scores[:, None, :]
        return F.softplus(-sigma * diff)[pairs].mean()

    def lambdarank_loss(scores, relevance, sigma=1.0, k=None, reduction="mean"):
        with torch.no_grad():                                              # |ΔNDCG| weights are constants
            L = scores.shape[-1]
            order = torch.argsort(scores, dim=-1, descending=True, stable=True)
            position = torch.empty_like(order).scatter_(-1, order, torch.arange(L).expand_as(order))
            discount = 1 / torch.log2(2 + position.to(scores.dtype))
            gain = torch.exp2(relevance) - 1
            ideal_discount = 1 / torch.log2(2 + torch.arange(L, dtype=scores.dtype))
            ideal = torch.sort(gain, dim=-1, descending=True).values @ ideal_discount
            weight = ((gain[:, :, None] - gain[:, None, :]).abs()
                      * (discount[:, :, None] - discount[:, None, :]).abs() / ideal[:, None, None])
        pairs = _pair_mask(relevance)
        diff = scores[:, :, None] - scores[:, None, :]
        return (weight * F.softplus(-sigma * diff))[pairs].mean()

    def listnet_loss(scores, relevance, reduction="mean"):
        return -(torch.softmax(relevance, -1) * torch.log_softmax(scores, -1)).sum(-1).mean()

    def listmle_loss(scores, relevance, reduction="mean"):
        order = torch.argsort(relevance, dim=-1, descending=True, stable=True)
        s = torch.gather(scores, -1, order)
        lse = torch.logcumsumexp(s.flip(-1), dim=-1).flip(-1)              # log sum_{u >= t} exp(s_u)
        return (lse - s).sum(-1).mean()

    # Preferences (Part V): TRL's formulas (trl/trainer/dpo_trainer.py, reward_trainer.py, kto_trainer.py,
    # grpo_trainer.py, experimental/cpo and orpo), differentiated by autograd.
    def bradley_terry_loss(chosen_rewards, rejected_rewards, margin=0.0, reduction="mean"):
        return -F.logsigmoid(chosen_rewards - rejected_rewards - margin).mean()

    def dpo_loss(pc, pr, rc, rr, beta=0.1, loss_type="sigmoid", label_smoothing=0.0, reduction="mean"):
        logits = (pc - pr) - (rc - rr)
        return (-F.logsigmoid(beta * logits) * (1 - label_smoothing)
                - F.logsigmoid(-beta * logits) * label_smoothing).mean()

    def simpo_loss(pc, pr, beta=2.0, gamma=1.0, label_smoothing=0.0, reduction="mean"):
        logits = (pc - pr) - gamma / beta
        return (-F.logsigmoid(beta * logits) * (1 - label_smoothing)
                - F.logsigmoid(-beta * logits) * label_smoothing).mean()

    def _log1mexp(x):                                                  # TRL's log1mexp (Mächler, 2012)
        return torch.where(x < -math.log(2), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))

    def orpo_loss(pc, pr, beta=0.1, include_nll=True, reduction="mean"):
        log_odds = (pc - pr) - (_log1mexp(pc) - _log1mexp(pr))
        return (-pc - beta * F.logsigmoid(log_odds)).mean()

    def kto_loss(policy_logps, reference_logps, desirable, kl=0.0, beta=0.1, desirable_weight=1.0,
                 undesirable_weight=1.0, reduction="mean"):
        z = policy_logps - reference_logps
        return torch.where(desirable, desirable_weight * (1 - torch.sigmoid(beta * (z - kl))),
                           undesirable_weight * (1 - torch.sigmoid(beta * (kl - z)))).mean()

    def ppo_clip_loss(logps, old_logps, advantages, mask, clip_range=0.2, clip_range_high=None,
                      normalization="sequence", max_length=None):          # TRL's loss_type="grpo"
        coef_1 = torch.exp(logps - old_logps)
        high = clip_range if clip_range_high is None else clip_range_high
        coef_2 = torch.clamp(coef_1, 1 - clip_range, 1 + high)
        a = advantages[:, None]
        per_token = -torch.min(coef_1 * a, coef_2 * a)
        m = mask.to(logps.dtype)
        return ((per_token * m).sum(-1) / m.sum(-1).clamp(min=1.0)).mean()

    def kl_penalty(logps, reference_logps, estimator="k3", reduction="mean"):
        log_r = reference_logps - logps
        return (torch.exp(log_r) - log_r - 1).mean()

    # Generative (Part VI): the formulas of the docstrings (Kingma & Welling; Goodfellow et al.; Hang et al.).
    def gaussian_kl(mean, log_var, mean2=None, log_var2=None, reduction="batchmean"):
        return (-0.5 * (1 + log_var - mean**2 - log_var.exp())).sum() / mean.shape[0]

    def vae_loss(recon, target, mean, log_var, likelihood="bernoulli", beta=1.0, scale=1.0, reduction="batchmean"):
        nll = F.binary_cross_entropy_with_logits(recon, target, reduction="sum")
        kl = (-0.5 * (1 + log_var - mean**2 - log_var.exp())).sum()
        return (nll + beta * kl) / recon.shape[0]

    def gan_discriminator_loss(real, fake, variant="non_saturating", reduction="mean"):
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))

    def gan_generator_loss(fake, variant="non_saturating", reduction="mean"):
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def diffusion_loss(prediction, sample, noise, alpha, sigma, target="noise", weighting="none", gamma=5.0,
                       reduction="mean"):
        shape = (-1,) + (1,) * (prediction.ndim - 1)
        a, s = alpha.reshape(shape), sigma.reshape(shape)
        y = {"noise": noise, "sample": sample, "velocity": a * noise - s * sample}[target]
        snr = alpha**2 / sigma**2
        w = {"none": torch.ones_like(snr), "snr": snr, "min_snr": torch.clamp(snr, max=gamma)}[weighting]
        w = w / {"noise": snr, "sample": torch.ones_like(snr), "velocity": snr + 1}[target]
        return (w.reshape(shape) * (prediction - y) ** 2).mean()

    def flow_matching_loss(prediction, sample, noise, t, reduction="mean"):
        return F.mse_loss(prediction, noise - sample)

    # Vision (Part VIII): torchvision's ops/giou_loss.py with ops/_utils.py's _loss_inter_union, the authors'
    # Lovász code (bermanmaxim/LovaszSoftmax, pytorch/lovasz_losses.py) and pytorch-metric-learning's
    # CosFaceLoss / ArcFaceLoss (losses/cosface_loss.py, arcface_loss.py; W as (C, D) rows).
    def box_iou_loss(boxes1, boxes2, kind="giou", reduction="mean", eps=1e-7):
        x1, y1, x2, y2 = boxes1.unbind(dim=-1)
        x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
        xkis1, ykis1 = torch.max(x1, x1g), torch.max(y1, y1g)
        xkis2, ykis2 = torch.min(x2, x2g), torch.min(y2, y2g)
        intsctk = torch.zeros_like(x1)
        mask = (ykis2 > ykis1) & (xkis2 > xkis1)
        intsctk[mask] = (xkis2[mask] - xkis1[mask]) * (ykis2[mask] - ykis1[mask])
        unionk = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intsctk
        iouk = intsctk / (unionk + eps)
        xc1, yc1 = torch.min(x1, x1g), torch.min(y1, y1g)
        xc2, yc2 = torch.max(x2, x2g), torch.max(y2, y2g)
        area_c = (xc2 - xc1) * (yc2 - yc1)
        miouk = iouk - ((area_c - unionk) / (area_c + eps))
        return (1 - miouk).mean()

    def _per_sample_sums(input, target):
        dims = tuple(range(1, input.ndim))
        return (input * target).sum(dims), (input * (1 - target)).sum(dims), ((1 - input) * target).sum(dims)

    def tversky_loss(input, target, alpha=0.5, beta=0.5, smooth=1.0, reduction="mean"):
        tp, fp, fn = _per_sample_sums(input, target)
        return (1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)).mean()

    def focal_tversky_loss(input, target, alpha=0.7, beta=0.3, gamma=0.75, smooth=1.0, reduction="mean"):
        tp, fp, fn = _per_sample_sums(input, target)
        return ((1 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)) ** gamma).mean()

    def jaccard_loss(input, target, smooth=1.0, reduction="mean"):
        dims = tuple(range(1, input.ndim))
        inter = (input * target).sum(dims)
        return (1 - (inter + smooth) / (input.sum(dims) + target.sum(dims) - inter + smooth)).mean()

    def _lovasz_grad(gt_sorted):
        gts = gt_sorted.sum()
        intersection = gts - gt_sorted.cumsum(0)
        union = gts + (1 - gt_sorted).cumsum(0)
        jaccard = 1.0 - intersection / union
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
        return jaccard

    def lovasz_hinge_loss(input, target, per_image=True, ignore_index=None):
        losses = []
        for logits, labels in zip(input, target, strict=True):
            logits, labels = logits.reshape(-1), labels.reshape(-1)
            signs = 2.0 * labels - 1.0
            errors_sorted, perm = torch.sort(1.0 - logits * signs, dim=0, descending=True)
            losses.append(torch.dot(F.relu(errors_sorted), _lovasz_grad(labels[perm])))
        return torch.stack(losses).mean()

    def lovasz_softmax_loss(input, target, classes="present", per_image=False, ignore_index=None):
        probas = input.movedim(1, -1).reshape(-1, input.shape[1])
        labels = target.reshape(-1)
        losses = []
        for c in range(input.shape[1]):
            fg = (labels == c).to(probas.dtype)
            if fg.sum() == 0:
                continue
            errors_sorted, perm = torch.sort((fg - probas[:, c]).abs(), 0, descending=True)
            losses.append(torch.dot(errors_sorted, _lovasz_grad(fg[perm])))
        return torch.stack(losses).mean()

    def cosface_loss(embeddings, weight, labels, scale=64.0, margin=0.35, reduction="mean"):
        return F.cross_entropy(torch_margin_logits(embeddings, weight, labels, "cosface", scale, margin), labels)

    def arcface_loss(embeddings, weight, labels, scale=64.0, margin=0.5, reduction="mean"):
        return F.cross_entropy(torch_margin_logits(embeddings, weight, labels, "arcface", scale, margin), labels)

    beyond = (log_cosh_loss, quantile_loss, sigmoid_focal_loss, dice_loss, contrastive_loss, info_nce_loss,
              ranknet_loss, lambdarank_loss, listnet_loss, listmle_loss, token_cross_entropy,
              bradley_terry_loss, dpo_loss, simpo_loss, orpo_loss, kto_loss, ppo_clip_loss, kl_penalty,
              gaussian_kl, vae_loss, gan_discriminator_loss, gan_generator_loss, diffusion_loss, flow_matching_loss,
              box_iou_loss, tversky_loss, focal_tversky_loss, jaccard_loss, lovasz_hinge_loss, lovasz_softmax_loss,
              cosface_loss, arcface_loss)
    return {f.__name__: f for f in beyond}


# ---- inputs, keyed by loss name: (kind, size label, builder) -----------------------------------------------
# A builder takes a Generator and returns (args, kwargs, grad_argnums); arrays are float32 (int64 for indices).


def _f(a):
    return np.asarray(a, DT)


def _reg_xy(rng):
    return _f(rng.standard_normal(N_REG)), _f(rng.standard_normal(N_REG))


def _logits(rng):
    return _f(rng.standard_normal((N_CLS, C_CLS)))


def _bits(rng, shape):
    return _f(rng.integers(0, 2, shape))


def _signs(rng, shape):
    return _f(rng.choice([-1.0, 1.0], shape))


def _emb(rng, n=None):
    return _f(rng.standard_normal((N_RANK if n is None else n, D_RANK)))


def _log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    return _f(x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True)))


def _multilabel_targets(rng):
    t = np.full((N_CLS, C_CLS), -1, np.int64)  # 3 labels per row, then -1 (the end marker)
    t[:, :3] = np.stack([rng.choice(C_CLS, 3, replace=False) for _ in range(N_CLS)])
    return t


def _ltr(rng):
    return _f(rng.standard_normal((Q_LTR, L_LTR))), _f(rng.integers(0, 5, (Q_LTR, L_LTR)))


def _seq_logps(rng, n):
    """Summed log-probabilities of n answers (tens to hundreds of tokens) under a reference, and under a policy that
    has moved a little from it (so that DPO's h spreads over a few units, as in training)."""
    ref = rng.uniform(-300.0, -20.0, n)
    return _f(np.minimum(ref + rng.normal(0.0, 2.0, n), -1e-3)), _f(ref)


def _avg_logps(rng, n):
    """Per-token average log-probabilities (SimPO, ORPO): strictly below 0."""
    return _f(rng.uniform(-3.0, -0.05, n))


def _pairs(rng):
    (pc, rc), (pr, rr) = _seq_logps(rng, N_PREF), _seq_logps(rng, N_PREF)
    return pc, pr, rc, rr


def _tokens(rng):
    """Per-token log-probabilities of B completions of T tokens under the policy and a nearby one."""
    lp = -rng.exponential(1.0, (B_TOK, T_TOK)) - 1e-4
    return _f(lp), _f(np.minimum(lp + rng.normal(0.0, 0.1, lp.shape), -1e-6))


def _ppo(rng):
    lp, old = _tokens(rng)
    mask = np.arange(T_TOK)[None, :] < rng.integers(T_TOK // 4, T_TOK + 1, B_TOK)[:, None]
    return lp, old, _f(rng.standard_normal(B_TOK)), mask


def _denoise(rng):
    return _f(rng.standard_normal(IMG)), _f(rng.uniform(-1, 1, IMG)), _f(rng.standard_normal(IMG))


def _diffusion(rng):
    phi = rng.uniform(0.05, np.pi / 2 - 0.05, IMG[0])             # alpha = cos, sigma = sin: variance-preserving
    return (*_denoise(rng), _f(np.cos(phi)), _f(np.sin(phi)))


def _vae(rng):
    return (_f(rng.standard_normal((N_VAE, D_VAE))), _f(rng.uniform(0, 1, (N_VAE, D_VAE))),
            _f(rng.standard_normal((N_VAE, Z_VAE))), _f(0.5 * rng.standard_normal((N_VAE, Z_VAE))))


def _faces(rng):
    return (_f(rng.standard_normal((N_FACE, D_FACE))), _f(rng.standard_normal((C_FACE, D_FACE))),
            rng.integers(0, C_FACE, N_FACE))


def _boxes(rng):
    """Predicted boxes and true boxes near them (most pairs overlap, some do not), in pixels of a 512 image."""
    xy, wh = rng.uniform(0, 512, (N_BOX, 2)), rng.uniform(8, 128, (N_BOX, 2))
    gt = np.concatenate([xy, xy + wh], axis=1)
    jitter = rng.normal(0, 0.3, (N_BOX, 4)) * np.concatenate([wh, wh], axis=1)
    pred = np.concatenate([np.minimum(gt[:, :2] + jitter[:, :2], gt[:, 2:] + jitter[:, 2:]),
                           np.maximum(gt[:, :2] + jitter[:, :2], gt[:, 2:] + jitter[:, 2:])], axis=1)
    return _f(pred), _f(gt)


def _masks(rng):
    return _f(rng.uniform(0, 1, SEG)), _bits(rng, SEG)


def _lovasz_softmax(rng):
    z = rng.standard_normal(SEG_MC)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return _f(p / p.sum(axis=1, keepdims=True)), rng.integers(0, SEG_MC[1], SEG_MC[:1] + SEG_MC[2:])


REG = f"{N_REG:.0e} elements".replace("e+0", "e")
LTR = f"{Q_LTR} queries x {L_LTR}"
CLS = f"{N_CLS}x{C_CLS}"
RANK = f"{N_RANK}x{D_RANK}"

SPECS = {
    # regression
    "mse_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {}, (0,))),
    "l1_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {}, (0,))),
    "huber_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {"delta": 1.0}, (0,))),
    "smooth_l1_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {"beta": 1.0}, (0,))),
    "log_cosh_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {}, (0,))),
    "quantile_loss": (ELEMENTWISE, REG, lambda r: (_reg_xy(r), {"quantile": 0.9}, (0,))),
    "gaussian_nll_loss": (
        ELEMENTWISE, REG,
        lambda r: ((*_reg_xy(r), _f(r.uniform(0.1, 2.0, N_REG))), {}, (0, 2)),
    ),
    "poisson_nll_loss": (
        ELEMENTWISE, REG,
        lambda r: ((_f(0.5 * r.standard_normal(N_REG)), _f(r.poisson(2.0, N_REG))), {}, (0,)),
    ),
    # classification
    "cross_entropy": (SOFTMAX, CLS, lambda r: ((_logits(r), r.integers(0, C_CLS, N_CLS)), {}, (0,))),
    "nll_loss": (ROWWISE, CLS, lambda r: ((_log_softmax(_logits(r)), r.integers(0, C_CLS, N_CLS)), {}, (0,))),
    "kl_div": (
        ELEMENTWISE, CLS,
        lambda r: ((_log_softmax(_logits(r)), np.exp(_log_softmax(_logits(r)))), {"reduction": "batchmean"}, (0,)),
    ),
    "binary_cross_entropy": (
        ELEMENTWISE, CLS,
        lambda r: ((_f(r.uniform(0.01, 0.99, (N_CLS, C_CLS))), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "binary_cross_entropy_with_logits": (
        ELEMENTWISE, CLS, lambda r: ((_logits(r), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "soft_margin_loss": (ELEMENTWISE, CLS, lambda r: ((_logits(r), _signs(r, (N_CLS, C_CLS))), {}, (0,))),
    "multilabel_soft_margin_loss": (
        ELEMENTWISE, CLS, lambda r: ((_logits(r), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "sigmoid_focal_loss": (
        ELEMENTWISE, CLS, lambda r: ((_logits(r), _bits(r, (N_CLS, C_CLS))), {"reduction": "mean"}, (0,)),
    ),
    "dice_loss": (
        ROWWISE, CLS,
        lambda r: ((_f(r.uniform(0, 1, (N_CLS, C_CLS))), _bits(r, (N_CLS, C_CLS))), {}, (0,)),
    ),
    "multi_margin_loss": (ROWWISE, CLS, lambda r: ((_logits(r), r.integers(0, C_CLS, N_CLS)), {}, (0,))),
    "multilabel_margin_loss": (ROWWISE, CLS, lambda r: ((_logits(r), _multilabel_targets(r)), {}, (0,))),
    # ranking
    "margin_ranking_loss": (
        ELEMENTWISE, f"{N_RANK} pairs",
        lambda r: (
            (_f(r.standard_normal(N_RANK)), _f(r.standard_normal(N_RANK)), _signs(r, N_RANK)), {"margin": 0.1}, (0, 1)
        ),
    ),
    "hinge_embedding_loss": (
        ELEMENTWISE, f"{N_RANK} pairs",
        lambda r: ((_f(r.uniform(0, 2, N_RANK)), _signs(r, N_RANK)), {}, (0,)),
    ),
    "cosine_embedding_loss": (
        ROWWISE, f"2 x {RANK}", lambda r: ((_emb(r), _emb(r), _signs(r, N_RANK)), {"margin": 0.2}, (0, 1)),
    ),
    "contrastive_loss": (
        ROWWISE, f"2 x {RANK}", lambda r: ((_emb(r), _emb(r), _bits(r, N_RANK)), {}, (0, 1)),
    ),
    "triplet_margin_loss": (ROWWISE, f"3 x {RANK}", lambda r: ((_emb(r), _emb(r), _emb(r)), {}, (0, 1, 2))),
    "triplet_margin_with_distance_loss": (
        ROWWISE, f"3 x {RANK}", lambda r: ((_emb(r), _emb(r), _emb(r)), {}, (0, 1, 2)),
    ),
    "linear_cross_entropy": (
        SOFTMAX, f"{N_LCE}x{D_LCE} -> {V_LCE}", lambda r: ((_f(r.standard_normal((N_LCE, D_LCE)) / 16),
                                                          _f(r.standard_normal((V_LCE, D_LCE)) / 16),
                                                          r.integers(0, V_LCE, N_LCE)), {}, (0, 1)),
    ),
    # sequences: T=200 steps, N=32 sequences, C=30 classes, targets of up to S=50 labels (blank 0 never used)
    "ctc_loss": (
        SOFTMAX, "T200 N32 C30 S50",
        lambda r: ((np.ascontiguousarray(_log_softmax(_f(r.standard_normal((200 * 32, 30)))).reshape(200, 32, 30)),
                    r.integers(1, 30, (32, 50)), np.full(32, 200), r.integers(25, 51, 32)), {}, (0,)),
    ),
    "token_cross_entropy": (
        SOFTMAX, f"8x512x{C_CLS}", lambda r: ((_f(r.standard_normal((8, 512, C_CLS))), r.integers(0, C_CLS, (8, 512))),
                                             {}, (0,)),
    ),
    "info_nce_loss": (
        SOFTMAX, f"2 x {N_NCE}x{D_RANK}", lambda r: ((_emb(r, N_NCE), _emb(r, N_NCE)), {}, (0, 1)),
    ),
    # learning to rank
    "ranknet_loss": (PAIRWISE, LTR, lambda r: (_ltr(r), {}, (0,))),
    "lambdarank_loss": (PAIRWISE, LTR, lambda r: (_ltr(r), {}, (0,))),
    "listnet_loss": (SOFTMAX, LTR, lambda r: (_ltr(r), {}, (0,))),
    "listmle_loss": (SOFTMAX, LTR, lambda r: (_ltr(r), {}, (0,))),
    # preferences: per-sequence log-probabilities of 65,536 pairs (answers), or 64 completions x 1024 tokens
    "bradley_terry_loss": (
        ELEMENTWISE, f"{N_PREF} pairs",
        lambda r: ((_f(r.standard_normal(N_PREF)), _f(r.standard_normal(N_PREF))), {}, (0, 1)),
    ),
    "dpo_loss": (ELEMENTWISE, f"{N_PREF} pairs", lambda r: (_pairs(r), {}, (0, 1))),
    "simpo_loss": (ELEMENTWISE, f"{N_PREF} pairs", lambda r: ((_avg_logps(r, N_PREF), _avg_logps(r, N_PREF)), {}, (0, 1))),
    "orpo_loss": (ELEMENTWISE, f"{N_PREF} pairs", lambda r: ((_avg_logps(r, N_PREF), _avg_logps(r, N_PREF)), {}, (0, 1))),
    "kto_loss": (
        ELEMENTWISE, f"{N_PREF} answers",
        lambda r: ((*_seq_logps(r, N_PREF), r.random(N_PREF) < 0.5), {"kl": 0.5}, (0,)),
    ),
    "ppo_clip_loss": (ELEMENTWISE, f"{B_TOK}x{T_TOK} tokens", lambda r: (_ppo(r), {}, (0,))),
    "kl_penalty": (ELEMENTWISE, f"{B_TOK}x{T_TOK} tokens", lambda r: (_tokens(r), {}, (0,))),
    # generative
    "diffusion_loss": (
        ELEMENTWISE, "x".join(map(str, IMG)),
        lambda r: (_diffusion(r), {"target": "velocity", "weighting": "min_snr"}, (0,)),
    ),
    "flow_matching_loss": (
        ELEMENTWISE, "x".join(map(str, IMG)), lambda r: ((*_denoise(r), _f(r.uniform(0, 1, IMG[0]))), {}, (0,)),
    ),
    "vae_loss": (ELEMENTWISE, f"{N_VAE}x{D_VAE}, z {Z_VAE}", lambda r: (_vae(r), {}, (0, 2, 3))),
    "gaussian_kl": (ELEMENTWISE, f"{N_VAE}x{Z_VAE}", lambda r: (_vae(r)[2:], {}, (0, 1))),
    "gan_discriminator_loss": (
        ELEMENTWISE, f"2 x {N_GAN} logits",
        lambda r: ((_f(r.standard_normal(N_GAN) + 1), _f(r.standard_normal(N_GAN) - 1)), {}, (0, 1)),
    ),
    "gan_generator_loss": (ELEMENTWISE, f"{N_GAN} logits", lambda r: ((_f(r.standard_normal(N_GAN) - 1),), {}, (0,))),
    # vision
    "box_iou_loss": (
        ELEMENTWISE, f"{N_BOX} box pairs", lambda r: (_boxes(r), {"kind": "giou", "reduction": "mean"}, (0, 1)),
    ),
    "tversky_loss": (ROWWISE, "x".join(map(str, SEG)), lambda r: (_masks(r), {"alpha": 0.3, "beta": 0.7}, (0,))),
    "focal_tversky_loss": (ROWWISE, "x".join(map(str, SEG)), lambda r: (_masks(r), {}, (0,))),
    "jaccard_loss": (ROWWISE, "x".join(map(str, SEG)), lambda r: (_masks(r), {}, (0,))),
    "lovasz_hinge_loss": (
        ROWWISE, "x".join(map(str, SEG)),
        lambda r: ((_f(r.standard_normal(SEG)), _bits(r, SEG)), {}, (0,)),
    ),
    "lovasz_softmax_loss": (ROWWISE, "x".join(map(str, SEG_MC)), lambda r: (_lovasz_softmax(r), {}, (0,))),
    "cosface_loss": (SOFTMAX, f"{N_FACE}x{D_FACE} -> {C_FACE}", lambda r: (_faces(r), {}, (0, 1))),
    "arcface_loss": (SOFTMAX, f"{N_FACE}x{D_FACE} -> {C_FACE}", lambda r: (_faces(r), {}, (0, 1))),
}


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = CLOCKS["cpu"]


def _median_ms(fns, repeats):
    """Median time (ms) of each function, after a warm-up. The functions alternate within each repeat, so a burst
    of load on a shared machine hits both sides alike. The clock is this process's CPU time by default (both sides
    run on one thread, so it is their running time without the time spent waiting for a core)."""
    for fn in fns:
        fn()  # warm-up
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            t0 = CLOCK()
            fn()
            ts.append(CLOCK() - t0)
    return [1e3 * statistics.median(ts) for ts in times]


def bench_one(name, repeats, refs):
    import torch
    import torch.nn.functional as F

    kind, size, build = SPECS[name]
    args, kwargs, grad_argnums = build(np.random.default_rng(0))
    fn = lossbook.get_loss(name)
    torch_fn = refs.get(name) or getattr(F, name)

    def run_lossbook():
        return fn.value_and_grad(*args, **kwargs)[0]

    def run_separate():
        value = fn(*args, **kwargs)
        fn.grad(*args, **kwargs)
        return value

    targs = [torch.from_numpy(np.array(a)) for a in args]
    leaves = [targs[i].requires_grad_(True) for i in grad_argnums]

    def run_torch():
        for t in leaves:
            t.grad = None
        out = torch_fn(*targs, **kwargs)
        out.backward()
        return out

    ours, theirs = float(run_lossbook()), float(run_torch().detach())
    match = "yes" if abs(ours - theirs) <= 1e-3 * max(abs(theirs), 1e-6) else f"NO ({ours:.6g} vs {theirs:.6g})"
    if float(run_separate()) != ours and not abs(float(run_separate()) - ours) <= 1e-5 * max(abs(ours), 1e-6):
        match = f"NO (value_and_grad {ours:.6g} vs the loss {float(run_separate()):.6g})"
    lb_ms, t_ms, sep_ms = _median_ms([run_lossbook, run_torch, run_separate], repeats)
    return kind, size, lb_ms, t_ms, sep_ms, match


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=lossbook.FAMILIES, help="only this family")
    parser.add_argument("--only", help="comma-separated loss names")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per loss (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and for torch (default 1: "
                        "on a loaded machine a multi-threaded side is slowed far more than a single-threaded one)")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu", help="cpu: the process's CPU time (default; "
                        "robust to a busy machine with one thread per side), wall: elapsed time")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a loss is over its goal")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory comparison")
    opts = parser.parse_args(argv)

    import torch

    torch.set_num_threads(opts.threads)
    global CLOCK
    CLOCK = CLOCKS[opts.clock]

    refs = _torch_refs()
    registered = {info.name: info for info in lossbook.catalogue()}
    names = list(SPECS) + [n for n in registered if n not in SPECS]
    if opts.only:
        wanted = [n.strip() for n in opts.only.split(",") if n.strip()]
        names = [n for n in names if n in wanted] + [n for n in wanted if n not in names]

    print(f"lossbook {lossbook.__version__}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads; BLAS {os.environ['OPENBLAS_NUM_THREADS']}), float32, CPU, "
          f"median {opts.clock} "
          f"time of {opts.repeats} after a warm-up")
    header = (f"{'loss':34} {'size':20} {'lossbook ms':>11} {'torch ms':>9} {'ratio':>6} {'goal':>6}  {'':4} "
              f"{'separate ms':>11} {'ratio':>6}  match")
    print(header)
    print("-" * len(header))
    slow = 0
    for name in names:
        info = registered.get(name)
        if opts.family and (info.family if info else _family_of(name)) != opts.family:
            continue
        if info is None:
            print(f"{name:34} not yet implemented")
            continue
        if name not in SPECS:
            print(f"{name:34} no benchmark input defined (add it to SPECS in tools/bench.py)")
            continue
        try:
            kind, size, lb_ms, t_ms, sep_ms, match = bench_one(name, opts.repeats, refs)
        except Exception as exc:  # one broken loss must not stop the report
            print(f"{name:34} failed: {type(exc).__name__}: {exc}")
            continue
        ratio = lb_ms / t_ms
        goal = GOAL[kind]
        verdict = "ok" if ratio <= goal else "SLOW"
        slow += verdict == "SLOW"
        print(f"{name:34} {size:20} {lb_ms:11.2f} {t_ms:9.2f} {ratio:6.2f} {goal:5.1f}x  {verdict:4} "
              f"{sep_ms:11.2f} {sep_ms / t_ms:6.2f}  {match}")
    if not opts.no_memory and (not opts.only or "linear_cross_entropy" in opts.only) and (
            not opts.family or opts.family == registered["linear_cross_entropy"].family):
        memory_report()
    print(f"\n{slow} loss(es) over the speed goal. Goals: {GOAL[ELEMENTWISE]}x element-wise, "
          f"{GOAL[SOFTMAX]}x softmax family, row-wise and pairwise losses. Timings vary with machine load.")
    return 1 if opts.strict and slow else 0


def memory_report():
    """Peak memory (tracemalloc) of linear_cross_entropy against materialising the logits, at the issue's shape."""
    from lossbook.fused import materialised_cross_entropy, peak_memory

    rng = np.random.default_rng(0)
    x = _f(rng.standard_normal((N_LCE, D_LCE)) / 16)
    W = _f(rng.standard_normal((V_LCE, D_LCE)) / 16)
    y = rng.integers(0, V_LCE, N_LCE)
    _, naive = peak_memory(materialised_cross_entropy, x, W, y)
    _, fused = peak_memory(lambda: (lossbook.linear_cross_entropy(x, W, y), lossbook.linear_cross_entropy.grad(x, W, y)))
    ratio = fused / naive
    print(f"\nPeak memory (tracemalloc), value + gradients, N={N_LCE} tokens, d={D_LCE}, V={V_LCE}, float32:")
    print(f"  logits materialised + cross_entropy: {naive / 2**20:8.1f} MiB")
    print(f"  linear_cross_entropy (chunk_size={lossbook.fused.DEFAULT_CHUNK_SIZE}): {fused / 2**20:8.1f} MiB")
    print(f"  ratio {ratio:.3f}  (goal <= 0.10: {'ok' if ratio <= 0.10 else 'OVER'})")


_FAMILY_BY_SECTION = {
    **dict.fromkeys(["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "log_cosh_loss", "quantile_loss",
                     "gaussian_nll_loss", "poisson_nll_loss"], "regression"),
    **dict.fromkeys(["ranknet_loss", "lambdarank_loss", "listnet_loss", "listmle_loss"], "ranking"),
    **dict.fromkeys(["margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss", "contrastive_loss",
                     "triplet_margin_loss", "triplet_margin_with_distance_loss", "info_nce_loss"], "ranking"),
    **dict.fromkeys(["ctc_loss", "token_cross_entropy"], "sequences"),
    **dict.fromkeys(["bradley_terry_loss", "dpo_loss", "simpo_loss", "orpo_loss", "kto_loss", "ppo_clip_loss",
                     "kl_penalty"], "preferences"),
    **dict.fromkeys(["diffusion_loss", "flow_matching_loss", "vae_loss", "gaussian_kl", "gan_discriminator_loss",
                     "gan_generator_loss"], "generative"),
    **dict.fromkeys(["box_iou_loss", "dice_loss", "tversky_loss", "focal_tversky_loss", "jaccard_loss",
                     "lovasz_hinge_loss", "lovasz_softmax_loss", "cosface_loss", "arcface_loss"], "vision"),
}


def _family_of(name):
    """Family of a loss in SPECS that is not registered yet (for --family filtering)."""
    return _FAMILY_BY_SECTION.get(name, "classification")


if __name__ == "__main__":
    sys.exit(main())
