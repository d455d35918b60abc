"""The chapters' torch loop for training embeddings (Part IV): PK batches, batch losses, augmentations, a figure.

* :func:`pk_batches`, :func:`train_embedding`, :func:`embed`: a seeded torch loop for losses that take a batch of
  embeddings and their labels (pairs, triplets and in-batch negatives are all formed inside the batch).
* :func:`seed_mlp`, :func:`train_seeds`, :func:`embed_seeds`: the same loop for several seeds at once, one small
  network per seed stacked in batched matrix products, so that multi-seed results cost little more than one run.
* :func:`class_split`, :func:`retrieval_scores`, :func:`mean_sd`: the held-out-class protocol (train on some
  classes, test retrieval on seen and unseen ones) and how the chapters report it.
* :func:`pair_batch_loss`, :func:`triplet_batch_loss`, :func:`nt_xent_loss`, :func:`augment_images`: the batch
  losses the chapters train with, written in torch so that autograd trains the model.

The metrics and the triplet mining they use are in :mod:`lossbook.retrieval`; torch is imported by the functions
that need it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import check_positive
from ..retrieval import distance_matrix, map_at_r, mine_triplets, recall_at_k

__all__ = [
    "pk_batches",
    "EmbeddingHistory",
    "train_embedding",
    "embed",
    "seed_mlp",
    "train_seeds",
    "embed_seeds",
    "class_split",
    "retrieval_scores",
    "mean_sd",
    "pair_batch_loss",
    "triplet_batch_loss",
    "nt_xent_loss",
    "augment_images",
    "plot_embedding",
]


# ----------------------------------------------------------------------------------------------------------
# Training embeddings with torch
# ----------------------------------------------------------------------------------------------------------


def pk_batches(labels, p, k, rng):
    """Index batches of P classes with K items each (the "PK" sampling of Hermans et al. 2017) covering one epoch.

    Each class's items are shuffled and cut into groups of K (a last short group is dropped); batches take P groups
    of different classes. Every batch therefore contains positives for every item and negatives of P - 1 classes.
    """
    lab = np.asarray(labels)
    classes = np.unique(lab)
    if p > len(classes) or p < 2 or k < 2:
        raise ValueError(f"need 2 <= p <= {len(classes)} (the number of classes) and k >= 2, but p={p!r}, k={k!r}.")
    groups = []
    for c in classes:
        idx = rng.permutation(np.flatnonzero(lab == c))
        groups += [(c, idx[i:i + k]) for i in range(0, len(idx) - k + 1, k)]
    order = rng.permutation(len(groups))
    pending = [groups[i] for i in order]
    batches = []
    while True:
        batch, used = [], set()
        for g in list(pending):
            if g[0] not in used:
                batch.append(g)
                used.add(g[0])
                pending.remove(g)
                if len(batch) == p:
                    break
        if len(batch) < p:
            return batches
        batches.append(np.concatenate([g[1] for g in batch]))


@dataclass
class EmbeddingHistory:
    """Per-epoch training loss and, if an ``evaluate`` function was given, what it returned after each epoch."""

    train_loss: list = field(default_factory=list)
    evaluation: list = field(default_factory=list)


def embed(model, X):
    """The model's embeddings of ``X`` as a float64 NumPy array (eval mode, no gradients)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(X), dtype=torch.float32)).double().numpy()


def train_embedding(model, X, y, loss_fn, epochs=20, p=10, k=8, lr=1e-3, seed=0, evaluate=None, weight_decay=0.0,
                    batch_size=None):
    """Train ``model`` so that ``loss_fn(model(X[batch]), y[batch])`` falls, with Adam on PK batches.

    With ``batch_size`` the batches are plain shuffled slices of that size instead (labels play no part in them,
    as in self-supervised training).

    ``loss_fn(embeddings, labels)`` gets a float32 tensor (B, D) and an int64 tensor (B,) and returns a scalar tensor;
    it forms its own pairs, triplets or in-batch negatives. ``evaluate(model)``, if given, runs after each epoch
    (and once before training, as epoch 0) and its results are collected in ``history.evaluation``.
    Returns an :class:`EmbeddingHistory`.
    """
    import torch

    X_t = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    y_np = np.asarray(y)
    y_t = torch.as_tensor(y_np, dtype=torch.int64)
    if len(X_t) != len(y_t):
        raise ValueError(f"X has {len(X_t)} rows but y has {len(y_t)}; they must match.")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    hist = EmbeddingHistory()
    if evaluate is not None:
        hist.evaluation.append(evaluate(model))
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        if batch_size is None:
            batches = pk_batches(y_np, p, k, rng)
        else:
            perm = rng.permutation(len(y_np))
            batches = [perm[i:i + batch_size] for i in range(0, len(perm) - batch_size + 1, batch_size)]
        for idx in batches:
            idx_t = torch.as_tensor(idx)
            opt.zero_grad()
            loss = loss_fn(model(X_t[idx_t]), y_t[idx_t])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        hist.train_loss.append(total / max(count, 1))
        if evaluate is not None:
            hist.evaluation.append(evaluate(model))
    model.eval()
    return hist


def seed_mlp(n_seeds, sizes=(64, 64, 8), seed=0):
    """``n_seeds`` independent MLPs (Linear, ReLU, Linear, ...) evaluated together with batched matrix products.

    Member ``s`` starts with exactly the weights of ``nn.Sequential(nn.Linear(...), nn.ReLU(), ...)`` built after
    ``torch.manual_seed(seed + s)``. The module maps ``(B, in)`` (shared input) or ``(S, B, in)`` to ``(S, B, out)``.
    """
    import torch
    from torch import nn

    class SeedMLP(nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            for s in range(n_seeds):
                torch.manual_seed(seed + s)
                layers.append([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
            self.weights = nn.ParameterList(
                nn.Parameter(torch.stack([m[i].weight.detach().T for m in layers])) for i in range(len(sizes) - 1))
            self.biases = nn.ParameterList(
                nn.Parameter(torch.stack([m[i].bias.detach()[None] for m in layers])) for i in range(len(sizes) - 1))
            self.n_seeds = n_seeds

        def forward(self, x):
            if x.dim() == 2:
                x = x.expand(self.n_seeds, *x.shape)
            for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
                x = torch.baddbmm(b, x, w)
                if i < len(self.weights) - 1:
                    x = torch.relu(x)
            return x

    return SeedMLP()


def train_seeds(model, X, y, loss_fn, epochs=10, p=5, k=8, lr=3e-3, seed=0, evaluate=None, batch_size=None,
                transform=None):
    """Train the members of a :func:`seed_mlp` as independent runs: member ``s`` draws its own PK batches from
    ``np.random.default_rng(seed + s)``, as :func:`train_embedding` with ``seed + s`` does.

    The loss is the sum of ``loss_fn(embeddings_s, labels_s)`` over the members; since no parameter is shared and
    Adam acts on each coordinate separately, this is exactly one Adam run per member. ``evaluate(model)``, if given,
    runs before training and after each epoch. With ``batch_size`` the batches are plain shuffled slices (labels play
    no part in them), as in :func:`train_embedding`. ``transform(x)``, if given, maps each batch of inputs
    ``(S, B, ...)`` to what the model gets (for example two augmented views, ``(S, 2B, ...)``). Returns an :class:`EmbeddingHistory` whose ``train_loss`` is an array
    (epochs, S) and whose ``evaluation`` holds what ``evaluate`` returned (epochs + 1 entries).
    """
    import torch

    X_t = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    y_np = np.asarray(y)
    y_t = torch.as_tensor(y_np, dtype=torch.int64)
    rngs = [np.random.default_rng(seed + s) for s in range(model.n_seeds)]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    hist = EmbeddingHistory()
    if evaluate is not None:
        hist.evaluation.append(evaluate(model))
    for _ in range(epochs):
        model.train()
        if batch_size is None:
            per_seed = [pk_batches(y_np, p, k, r) for r in rngs]
        else:
            perms = [r.permutation(len(y_np)) for r in rngs]
            per_seed = [[pm[i:i + batch_size] for i in range(0, len(pm) - batch_size + 1, batch_size)]
                        for pm in perms]
        n = min(len(b) for b in per_seed)
        total = np.zeros(model.n_seeds)
        for t in range(n):
            idx = torch.as_tensor(np.stack([b[t] for b in per_seed]))
            xb = X_t[idx]
            emb = model(xb if transform is None else transform(xb))
            losses = [loss_fn(emb[s], y_t[idx[s]]) for s in range(model.n_seeds)]
            opt.zero_grad()
            torch.stack(losses).sum().backward()
            opt.step()
            total += [float(v.detach()) for v in losses]
        history.append(total / max(n, 1))
        if evaluate is not None:
            hist.evaluation.append(evaluate(model))
    model.eval()
    hist.train_loss = np.array(history)
    return hist


def embed_seeds(model, X):
    """The embeddings of ``X`` by every member of a :func:`seed_mlp`: float64 array (S, N, D)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(X), dtype=torch.float32)).double().numpy()


def class_split(X_train, y_train, X_test, y_test, seen):
    """The held-out-class protocol of metric learning (Musgrave et al. 2020): train only on the classes ``seen``,
    test retrieval separately among test images of the seen classes and of the classes never seen in training.

    Returns ``(X_fit, y_fit, seen_mask, unseen_mask)``: the training images of the seen classes and two boolean
    masks over the test set.
    """
    seen = np.asarray(list(seen))
    fit = np.isin(y_train, seen)
    seen_mask = np.isin(y_test, seen)
    if not fit.any() or seen_mask.all():
        raise ValueError(f"`seen` must hold some but not all classes, but it is {seen.tolist()!r}.")
    return X_train[fit], y_train[fit], seen_mask, ~seen_mask


def retrieval_scores(E, labels, metric="euclidean"):
    """Recall@1 and MAP@R (leave-one-out) of one embedding, as a dict."""
    return {"recall@1": recall_at_k(E, labels, k=1, metric=metric), "MAP@R": map_at_r(E, labels, metric=metric)}


def mean_sd(values, digits=2):
    """``"mean ± sd"`` of per-seed values (sample standard deviation), both rounded to ``digits`` decimals."""
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def pair_batch_loss(loss="contrastive", margin=1.0):
    """A batch loss over every pair (i < j) of a batch: ``"contrastive"`` (Hadsell et al. 2006, lossbook's
    convention: ½ d² for same-label pairs, ½ max(0, margin - d)² otherwise) or ``"cosine"``
    (``torch.nn.functional.cosine_embedding_loss`` with targets ±1). Returns ``fn(embeddings, labels)``."""
    import torch
    import torch.nn.functional as F

    if loss not in ("contrastive", "cosine"):
        raise ValueError(f"`loss` must be 'contrastive' or 'cosine', but it is {loss!r}.")

    def fn(emb, labels):
        i, j = torch.triu_indices(len(emb), len(emb), offset=1)
        same = labels[i] == labels[j]
        if loss == "cosine":
            return F.cosine_embedding_loss(emb[i], emb[j], same.float() * 2 - 1, margin=margin)
        d = (emb[i] - emb[j]).pow(2).sum(1).clamp_min(1e-12).sqrt()
        return torch.where(same, 0.5 * d**2, 0.5 * F.relu(margin - d) ** 2).mean()

    return fn


def triplet_batch_loss(strategy="semi_hard", margin=0.2, normalize=True, seed=0):
    """A batch loss: mine triplets with :func:`~lossbook.retrieval.mine_triplets` on the detached distances, then apply
    ``torch.nn.functional.triplet_margin_loss``. With ``normalize`` the embeddings are first put on the unit
    sphere (as FaceNet). Returns ``fn(embeddings, labels)``; a batch without triplets costs 0."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)

    def fn(emb, labels):
        if normalize:
            emb = F.normalize(emb, dim=1)
        d = distance_matrix(emb.detach().double().numpy())
        a, p, n = (torch.as_tensor(t) for t in mine_triplets(d, labels.numpy(), strategy, margin=margin, rng=rng))
        if len(a) == 0:
            return emb.sum() * 0.0
        return F.triplet_margin_loss(emb[a], emb[p], emb[n], margin=margin)

    return fn


def nt_xent_loss(z1, z2, temperature=0.5):
    """NT-Xent (SimCLR, Chen et al. 2020) in torch: two views (N, D) of N items; each of the 2N embeddings must
    pick out its other view among the 2N - 1 others (cosine similarities divided by the temperature).

    It is ``F.cross_entropy`` over the (2N, 2N) similarity matrix with the diagonal excluded and target
    ``i + N`` for row ``i`` (and ``i`` for row ``i + N``), averaged over the 2N rows.
    """
    import torch
    import torch.nn.functional as F

    check_positive(temperature, "temperature")
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"`z1` and `z2` must both have shape (N, D), but they have {tuple(z1.shape)} and {tuple(z2.shape)}.")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    s = z @ z.T / temperature
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(s, target)


def augment_images(x, generator, shape=(8, 8), max_shift=1, noise=0.3, drop=0.1):
    """A random view of a batch of flattened images (torch, (B, H*W)): shift each image by up to ``max_shift``
    pixels in each direction (filling with 0), zero a fraction ``drop`` of the pixels, add Gaussian noise of
    standard deviation ``noise``. ``generator`` is a ``torch.Generator`` (reproducible views)."""
    import torch

    b = x.shape[0]
    img = x.reshape(b, *shape)
    pad = torch.nn.functional.pad(img, (max_shift,) * 4)
    sh = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=generator)
    rows = (torch.arange(shape[0])[None, :] + sh[:, :1])           # (B, H)
    cols = (torch.arange(shape[1])[None, :] + sh[:, 1:])           # (B, W)
    out = pad[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]].reshape(b, -1)
    keep = (torch.rand(out.shape, generator=generator) >= drop).to(out.dtype)
    return out * keep + noise * torch.randn(out.shape, generator=generator)


def plot_embedding(ax, points, labels, title=None):
    """Scatter 2-D points (N, 2) coloured by class, with each class's label written at its centroid."""
    from .plotting import PALETTE

    pts = np.asarray(points, dtype=float)
    lab = np.asarray(labels)
    colours = list(PALETTE.values()) + ["#777777", "#BBBBBB"]
    for i, c in enumerate(np.unique(lab)):
        m = lab == c
        ax.scatter(pts[m, 0], pts[m, 1], s=9, alpha=0.6, color=colours[i % len(colours)], label=str(c))
        cx, cy = np.median(pts[m], axis=0)
        ax.text(cx, cy, str(c), fontsize=13, fontweight="bold", ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.8, "lw": 0})
    ax.set(xlabel="embedding dimension 1", ylabel="embedding dimension 2")
    if title:
        ax.set_title(title)
    return ax
