"""Part VII's helpers: noise schedules, tiny models trained for several seeds at once, data and sample quality.

* **Schedules** of a variance-preserving diffusion, :math:`x_t = \\alpha_t x_0 + \\sigma_t \\varepsilon` with
  :math:`\\alpha_t^2 + \\sigma_t^2 = 1`: :func:`cosine_schedule` (Nichol & Dhariwal, 2021) and
  :func:`linear_schedule` (the linear betas of Ho et al., 2020), with :func:`snr` and :func:`log_snr`.
* **Models for many seeds at once**: :func:`StackedMLP` holds ``S`` independent MLPs in stacked weight tensors, so
  one forward pass of a ``(S, B, d)`` batch trains all of them (a loss summed over the models gives each model its
  own gradient; Adam is element-wise, so every model trains exactly as it would alone). This is how the chapters
  report every result over five seeds within their CPU budget.
* **Denoisers**: :func:`torch_denoising_loss` (the loss of :func:`lossbook.generative.diffusion_loss` and
  :func:`lossbook.generative.flow_matching_loss`, in PyTorch) and :class:`Denoisers`, which trains one stacked
  network per target and weighting, several seeds each, and samples from them (deterministic DDIM, or Euler for flow matching).
* **Data**: :func:`digits01` (scikit-learn's 8x8 digits scaled to [0, 1]), :func:`ring_of_gaussians`,
  :func:`moons`.
* **Sample quality**: :func:`energy_distance` and :func:`mmd_rbf` between two 2-D samples,
  :func:`modes_covered` for a ring of Gaussians, :class:`DigitJudge` (a classifier of 8x8 digits whose accuracy
  and feature (Frechet) distance judge generated digits), and :func:`active_units` for a VAE's latent code.

Imports torch when a function needs it.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "cosine_schedule", "linear_schedule", "snr", "log_snr", "StackedMLP", "time_features",
    "digits01", "ring_of_gaussians", "moons", "energy_distance", "mmd_rbf", "modes_covered",
    "frechet_distance", "DigitJudge", "active_units", "mean_and_std", "torch_denoising_loss", "Denoisers",
]


# ----------------------------------------------------------------------------------------------------------
# Noise schedules
# ----------------------------------------------------------------------------------------------------------


def cosine_schedule(t, s: float = 0.008):
    """``(alpha, sigma)`` of the cosine schedule at times ``t`` in [0, 1]: ``alpha = cos((t + s)/(1 + s) * pi/2)``
    (renormalised so that ``alpha(0) = 1``), ``sigma = sqrt(1 - alpha**2)``. Nichol & Dhariwal (2021), eq. 17."""
    t = np.asarray(t, dtype=float)
    f = np.cos((t + s) / (1 + s) * np.pi / 2) / np.cos(s / (1 + s) * np.pi / 2)
    alpha = np.clip(f, 0.0, 1.0)
    return alpha, np.sqrt(np.clip(1 - alpha**2, 0.0, 1.0))


def linear_schedule(t, beta_start: float = 1e-4, beta_end: float = 0.02, steps: int = 1000):
    """``(alpha, sigma)`` of DDPM's linear betas (Ho et al., 2020) at times ``t`` in [0, 1] (``t = k / steps``):
    ``alpha_k**2 = prod_{j <= k} (1 - beta_j)``, interpolated between the ``steps`` discrete levels."""
    t = np.asarray(t, dtype=float)
    betas = np.linspace(beta_start, beta_end, steps)
    log_abar = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
    la = np.interp(t * steps, np.arange(steps + 1), log_abar)
    alpha = np.exp(0.5 * la)
    return alpha, np.sqrt(-np.expm1(la))


def snr(alpha, sigma):
    """The signal-to-noise ratio ``alpha**2 / sigma**2``."""
    return np.asarray(alpha, dtype=float) ** 2 / np.asarray(sigma, dtype=float) ** 2


def log_snr(alpha, sigma):
    """``log(alpha**2 / sigma**2)``."""
    return 2 * (np.log(np.asarray(alpha, dtype=float)) - np.log(np.asarray(sigma, dtype=float)))


# ----------------------------------------------------------------------------------------------------------
# Models trained for several seeds at once
# ----------------------------------------------------------------------------------------------------------


def _stacked_mlp_class():
    import torch

    class _StackedMLP(torch.nn.Module):
        def __init__(self, sizes, n_models, seeds=None, activation="silu"):
            super().__init__()
            seeds = list(range(n_models)) if seeds is None else list(seeds)
            if len(seeds) != n_models:
                raise ValueError(f"`seeds` has {len(seeds)} entries, but `n_models` is {n_models}.")
            self.sizes, self.n_models = tuple(sizes), n_models
            self.act = {"silu": torch.nn.functional.silu, "relu": torch.relu,
                        "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.2)}[activation]
            weights, biases = [], []
            for d_in, d_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
                w = torch.empty(n_models, d_in, d_out)
                b = torch.empty(n_models, 1, d_out)
                bound = 1 / math.sqrt(d_in)  # nn.Linear's default initialisation, one generator per model
                for m, seed in enumerate(seeds):
                    g = torch.Generator().manual_seed(int(seed) * 7919 + len(weights))
                    w[m].uniform_(-bound, bound, generator=g)
                    b[m].uniform_(-bound, bound, generator=g)
                weights.append(torch.nn.Parameter(w))
                biases.append(torch.nn.Parameter(b))
            self.weights, self.biases = torch.nn.ParameterList(weights), torch.nn.ParameterList(biases)

        def forward(self, x):
            """``x`` of shape ``(S, B, d_in)`` (or ``(B, d_in)``, the same batch for every model)."""
            if x.ndim == 2:
                x = x.expand(self.n_models, *x.shape)
            last = len(self.weights) - 1
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                x = torch.baddbmm(b, x, w)
                if i < last:
                    x = self.act(x)
            return x

    return _StackedMLP


def StackedMLP(sizes, n_models, seeds=None, activation="silu"):  # noqa: N802 - a class factory
    """``n_models`` independent MLPs with layer sizes ``sizes`` (e.g. ``(2, 64, 64, 1)``), as one torch module.

    Model ``m`` is initialised from its own seed (``seeds[m]``, default ``m``), like ``nn.Linear``. The forward pass
    maps ``(S, B, sizes[0])`` to ``(S, B, sizes[-1])``. ``activation`` is ``'silu'``, ``'relu'`` or
    ``'leaky_relu'`` (slope 0.2).
    """
    return _stacked_mlp_class()(sizes, n_models, seeds, activation)


def time_features(t, n: int = 8, max_freq: float = 20.0):
    """Sinusoidal features of times ``t`` in [0, 1] (torch tensor of any shape): ``(..., 2n)``, with frequencies
    from 1 to ``max_freq`` spaced geometrically."""
    import torch

    freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), n, dtype=t.dtype))
    angles = t[..., None] * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------


def digits01(test_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's 8x8 digits with pixels in [0, 1] (divided by 16): ``(X_train, y_train, X_test, y_test)``,
    a stratified split with ``test_fraction`` of each class held out."""
    from .data import _bundled_classification

    X, y, _ = _bundled_classification("digits")
    X = X / 16.0
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(test_fraction * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    tr, te = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    return X[tr], y[tr], X[te], y[te]


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0):
    """``n`` points from ``modes`` equal Gaussians (standard deviation ``std``) on a circle: ``(points, centres)``."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    k = rng.integers(modes, size=n)
    return centres[k] + std * rng.standard_normal((n, 2)), centres


def moons(n: int, noise: float = 0.05, seed: int = 0):
    """``n`` independent points of scikit-learn's two moons, scaled to about mean 0 and unit variance per axis.

    ``make_moons`` places its points at evenly spaced positions along the two arcs, so two of its samples are not
    independent draws of one distribution (their energy distance is biased below 0); here ``n`` points are drawn at
    random from 100,000 of them."""
    from sklearn.datasets import make_moons

    X, _ = make_moons(n_samples=100_000, noise=noise, random_state=seed)
    X = X[np.random.default_rng(seed).choice(len(X), size=n, replace=False)]
    return (X - np.array([0.5, 0.25])) / np.array([0.87, 0.5])


# ----------------------------------------------------------------------------------------------------------
# Sample quality
# ----------------------------------------------------------------------------------------------------------


def _pairwise(a, b):
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def energy_distance(x, y):
    """The energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between two samples (rows are points), with the
    unbiased within-sample means; 0 when the distributions are equal (Szekely & Rizzo, 2013)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n, m = len(x), len(y)
    dxx, dyy = _pairwise(x, x).sum() / (n * (n - 1)), _pairwise(y, y).sum() / (m * (m - 1))
    return float(2 * _pairwise(x, y).mean() - dxx - dyy)


def mmd_rbf(x, y, bandwidth: float = 0.5):
    """The unbiased squared maximum mean discrepancy with a Gaussian kernel of the given bandwidth
    (Gretton et al., 2012)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    k = lambda a, b: np.exp(-_pairwise(a, b) ** 2 / (2 * bandwidth**2))  # noqa: E731
    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return float((kxx.sum() - n) / (n * (n - 1)) + (kyy.sum() - m) / (m * (m - 1)) - 2 * k(x, y).mean())


def modes_covered(samples, centres, std: float, radius_in_std: float = 3.0, min_share: float = 0.01):
    """``(modes covered, share of good samples)`` for samples of a ring of Gaussians.

    A sample is *good* when it lies within ``radius_in_std * std`` of a centre; a mode is *covered* when at least
    ``min_share`` of all samples are good samples of that mode (Srivastava et al., VEEGAN, 2017, use 3 std).
    """
    d = _pairwise(np.asarray(samples, dtype=float), np.asarray(centres, dtype=float))
    nearest, good = d.argmin(1), d.min(1) < radius_in_std * std
    counts = np.bincount(nearest[good], minlength=len(centres))
    return int((counts >= min_share * len(samples)).sum()), float(good.mean())


def frechet_distance(a, b):
    """The Frechet distance between Gaussians fitted to two sets of feature rows (the formula of FID,
    Heusel et al., 2017): ``|m_a - m_b|^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2))``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # tr((Ca Cb)^(1/2)) = sum of the square roots of the eigenvalues of Ca^(1/2) Cb Ca^(1/2) (symmetric, PSD)
    w, v = np.linalg.eigh(ca)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    mid = np.linalg.eigvalsh(root @ cb @ root)
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(mid, 0, None)).sum())


class DigitJudge:
    """A small MLP classifier of 8x8 digits (pixels in [0, 1]) that judges generated digits.

    ``DigitJudge(X, y)`` trains it (full-batch Adam, seeded); ``accuracy`` is the share of images classified
    as the digit they were generated for, ``features`` the 32 hidden units that :func:`frechet_distance`
    compares (a digit-sized stand-in for the Inception features of FID).
    """

    def __init__(self, X, y, steps: int = 300, seed: int = 0):
        import torch

        g = torch.Generator().manual_seed(seed)
        self.body = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh())
        self.head = torch.nn.Linear(32, 10)
        for p in [*self.body.parameters(), *self.head.parameters()]:
            with torch.no_grad():
                p.uniform_(-0.15, 0.15, generator=g)
        X_t, y_t = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
        opt = torch.optim.Adam([*self.body.parameters(), *self.head.parameters()], lr=0.02)
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(self.head(self.body(X_t)), y_t).backward()
            opt.step()

    def features(self, X):
        import torch

        with torch.no_grad():
            return self.body(torch.as_tensor(np.asarray(X), dtype=torch.float32)).double().numpy()

    def predict(self, X):
        import torch

        with torch.no_grad():
            return self.head(self.body(torch.as_tensor(np.asarray(X), dtype=torch.float32))).argmax(-1).numpy()

    def accuracy(self, X, y):
        return float((self.predict(X) == np.asarray(y)).mean())


def active_units(means, threshold: float = 0.01):
    """The number of *active* latent dimensions: those whose encoder mean varies across the data,
    ``Var_x(E[z_k | x]) > threshold`` (Burda, Grosse & Salakhutdinov, 2016). ``means`` is ``(N, D)``."""
    return int((np.var(np.asarray(means, dtype=float), axis=0) > threshold).sum())


def mean_and_std(values, axis=None):
    """``(mean, sample standard deviation)`` of results over seeds (``ddof=1``)."""
    v = np.asarray(values, dtype=float)
    return v.mean(axis=axis), v.std(axis=axis, ddof=1)


# ----------------------------------------------------------------------------------------------------------
# Denoisers: diffusion and flow matching, several targets and seeds at once
# ----------------------------------------------------------------------------------------------------------


def torch_cosine_schedule(t, s: float = 0.008):
    """:func:`cosine_schedule` on a torch tensor, with ``alpha`` and ``sigma`` kept at least 1e-4."""
    import torch

    a = torch.cos((t + s) / (1 + s) * torch.pi / 2) / math.cos(s / (1 + s) * math.pi / 2)
    a = a.clamp(1e-4, 1.0)
    return a, torch.sqrt(1 - a * a).clamp_min(1e-4)


def torch_denoising_loss(pred, x0, eps, alpha, sigma, target, weighting="none", gamma=5.0):
    """The denoising loss in PyTorch, one value per model: ``pred`` ``(S, B, d)``, ``alpha`` and ``sigma``
    ``(S, B, 1)``. ``target`` is ``'noise'``, ``'sample'``, ``'velocity'`` (the model saw
    ``alpha * x0 + sigma * eps``) or ``'flow'`` (the model saw ``(1 - t) x0 + t eps`` and predicts ``eps - x0``;
    ``alpha`` and ``sigma`` are then ignored). The same formula as :func:`lossbook.generative.diffusion_loss`,
    ``reduction='mean'``, per model."""
    import torch

    if target == "flow":
        return ((pred - (eps - x0)) ** 2).mean((1, 2))
    y = {"noise": eps, "sample": x0, "velocity": alpha * eps - sigma * x0}[target]
    snr = alpha**2 / sigma**2
    if weighting == "none":
        w = torch.ones_like(snr)
    else:
        w0 = snr if weighting == "snr" else torch.clamp(snr, max=gamma)
        w = w0 / {"noise": snr, "sample": torch.ones_like(snr), "velocity": snr + 1}[target]
    return (w * (pred - y) ** 2).mean((1, 2))


class Denoisers:
    """Train one small denoising MLP per configuration and seed, all as one stacked network, and sample from them.

    ``configs`` lists ``(target, weighting)`` pairs (targets as in :func:`torch_denoising_loss`); each gets
    ``seeds`` models (seeds 0, 1, ...). The network sees ``x_t``, ``t`` and 16 sinusoidal features of ``t`` and, with
    ``n_classes``, a one-hot class label; it has two hidden layers of ``hidden`` SiLU units. Training draws
    ``t ~ U(0.001, 0.999)`` and uses the cosine schedule for diffusion, straight paths for flow matching.
    """

    def __init__(self, data, configs, seeds=5, hidden=64, n_classes=0, labels=None, gamma=5.0):
        import torch

        self.data = torch.as_tensor(np.asarray(data), dtype=torch.float32)
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels))
        self.configs, self.seeds, self.gamma, self.n_classes = list(configs), seeds, gamma, n_classes
        self.S, self.dim = seeds * len(self.configs), self.data.shape[1]
        model_seeds = [s for _ in self.configs for s in range(seeds)]
        self.net = StackedMLP((self.dim + 17 + n_classes, hidden, hidden, self.dim), self.S, seeds=model_seeds)
        self.is_flow = torch.tensor([c[0] == "flow" for c in self.configs for _ in range(seeds)])[:, None, None]

    def group(self, i):
        """The slice of models that belong to configuration ``i``."""
        return slice(i * self.seeds, (i + 1) * self.seeds)

    def _predict(self, x, t, onehot):
        import torch

        parts = [x, t, time_features(t[..., 0])] + ([onehot] if self.n_classes else [])
        return self.net(torch.cat(parts, -1))

    def train(self, steps=1000, batch=128, lr=2e-3, seed=0, decay_lr=True):
        """Adam on the sum over models of each model's loss, the learning rate decaying linearly to 0 (unless
        ``decay_lr=False``); returns ``self``."""
        import torch

        g = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / steps) if decay_lr else None
        for _ in range(steps):
            idx = torch.randint(len(self.data), (self.S, batch), generator=g)
            x0 = self.data[idx]
            onehot = (torch.nn.functional.one_hot(self.labels[idx], self.n_classes).float()
                      if self.n_classes else None)
            eps = torch.randn(x0.shape, generator=g)
            t = torch.rand(self.S, batch, 1, generator=g) * 0.998 + 0.001
            a, s = torch_cosine_schedule(t)
            xt = torch.where(self.is_flow, (1 - t) * x0 + t * eps, a * x0 + s * eps)
            pred = self._predict(xt, t, onehot)
            loss = sum(torch_denoising_loss(pred[self.group(i)], x0[self.group(i)], eps[self.group(i)],
                                            a[self.group(i)], s[self.group(i)], target, weighting,
                                            self.gamma).sum()
                       for i, (target, weighting) in enumerate(self.configs))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if decay is not None:
                decay.step()
        return self

    def sample(self, n, steps=40, labels=None, clip=4.0, seed=1, trajectory=False):
        """``(S, n, d)`` samples of every model: deterministic DDIM (Song et al., 2021) from ``t = 0.999`` to 0 for
        diffusion, with the predicted clean sample clipped to ``[-clip, clip]``; Euler steps of the velocity for
        flow matching. With ``trajectory=True`` also returns the states after every step."""
        import torch

        g = torch.Generator().manual_seed(seed)
        onehot = None
        if self.n_classes:
            onehot = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(labels)), self.n_classes).float()
            onehot = onehot.expand(self.S, n, self.n_classes)
        kinds = [c[0] for c in self.configs for _ in range(self.seeds)]
        k = {name: torch.tensor([kk == name for kk in kinds], dtype=torch.float32)[:, None, None]
             for name in ("noise", "sample", "velocity")}
        x = torch.randn(self.S, n, self.dim, generator=g)
        ts = torch.linspace(0.999, 0.0, steps + 1)
        states = [x.numpy().copy()]
        with torch.no_grad():
            for i in range(steps):
                t, tn = float(ts[i]), float(ts[i + 1])
                tt = torch.full((self.S, n, 1), t)
                out = self._predict(x, tt, onehot)
                a, s = torch_cosine_schedule(tt)
                an, sn = torch_cosine_schedule(torch.full_like(tt, tn))
                if tn == 0.0:
                    an, sn = torch.ones_like(an), torch.zeros_like(sn)
                x0 = k["noise"] * (x - s * out) / a + k["sample"] * out + k["velocity"] * (a * x - s * out)
                x0 = x0.clamp(-clip, clip)
                eps = (x - a * x0) / s
                x = torch.where(self.is_flow, x - (t - tn) * out, an * x0 + sn * eps)
                if trajectory:
                    states.append(x.numpy().copy())
        return (x.numpy(), np.stack(states)) if trajectory else x.numpy()
