"""Part VII's helpers: noise schedules, tiny models trained for several seeds at once, data and sample quality.

* **Schedules** of a variance-preserving diffusion, :math:`x_t = \\alpha_t x_0 + \\sigma_t \\varepsilon` with
  :math:`\\alpha_t^2 + \\sigma_t^2 = 1`: :func:`cosine_schedule` (Nichol & Dhariwal, 2021) and
  :func:`linear_schedule` (the linear betas of Ho et al., 2020), with :func:`snr` and :func:`log_snr`.
* **Models for many seeds at once**: :class:`StackedMLP` holds ``S`` independent MLPs in stacked weight tensors, so
  one forward pass of a ``(S, B, d)`` batch trains all of them (a loss summed over the models gives each model its
  own gradient; Adam is element-wise, so every model trains exactly as it would alone). This is how the chapters
  report every result over five seeds within their CPU budget.
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
    "frechet_distance", "DigitJudge", "active_units", "mean_and_std",
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


def time_features(t, n: int = 8):
    """Sinusoidal features of times ``t`` in [0, 1] (torch tensor of any shape): ``(..., 2n)``."""
    import torch

    freqs = torch.exp(torch.linspace(0.0, math.log(200.0), n, dtype=t.dtype))
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
    """``n`` points of scikit-learn's two moons, standardised to mean 0 and unit variance per axis."""
    from sklearn.datasets import make_moons

    X, _ = make_moons(n_samples=n, noise=noise, random_state=seed)
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
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((Ca Cb)^(1/2)) = sum of the square roots of the eigenvalues of Ca^(1/2) Cb Ca^(1/2) (symmetric, PSD)
    w, v = np.linalg.eigh(ca)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    mid = np.linalg.eigvalsh(root @ cb @ root)
    return float(((ma - mb) ** 2).sum() + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(mid, 0, None)).sum())


class DigitJudge:
    """A small MLP classifier of 8x8 digits (pixels in [0, 1]) that judges generated digits.

    ``DigitJudge(X, y)`` trains it (full-batch Adam, seeded); :meth:`accuracy` is the share of images classified
    as the digit they were generated for, :meth:`features` the 32 hidden units that :func:`frechet_distance`
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
