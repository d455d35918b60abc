"""A small, explicit PyTorch training loop for the chapters (mini-batch SGD or Adam, seeded, CPU-friendly).

The chapters compare losses by training the same small model with each of them; this module keeps that loop
in one place so that every comparison trains in exactly the same way. Imports torch when first called.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["History", "train", "predict"]


@dataclass
class History:
    """Mean training loss per epoch (and validation loss, when validation data was given)."""

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)


def _tensor(a, dtype=None):
    import torch

    return a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a), dtype=dtype)


def train(
    model,
    loss_fn: Callable,
    X,
    y,
    *,
    epochs: int = 50,
    lr: float = 0.1,
    batch_size: int | None = 64,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    seed: int = 0,
    X_val=None,
    y_val=None,
) -> History:
    """Train ``model`` in place by minimising ``loss_fn(model(X_batch), y_batch)``; return the :class:`History`.

    ``X`` and ``y`` are arrays or tensors (``X`` becomes float32 unless it is already a tensor; ``y`` keeps its
    dtype, so class indices stay int64 and float targets stay float). Each epoch shuffles the training set with
    a generator seeded by ``seed`` and visits it in mini-batches of ``batch_size`` (``None``: the whole set,
    i.e. full-batch gradient descent). ``optimizer`` is ``"sgd"`` (with optional ``momentum``) or ``"adam"``.
    The recorded training loss is the mean of the batch losses of the epoch, weighted by batch size.
    """
    import torch

    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"`optimizer` must be 'sgd' or 'adam', but it is {optimizer!r}.")
    X_t = _tensor(X, torch.float32)
    y_t = _tensor(y)
    if len(X_t) != len(y_t):
        raise ValueError(f"X has {len(X_t)} rows but y has {len(y_t)}; they must match.")
    has_val = X_val is not None and y_val is not None
    if has_val:
        Xv, yv = _tensor(X_val, torch.float32), _tensor(y_val)
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = len(X_t)
    bs = n if batch_size is None else int(batch_size)
    hist = History()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            opt.zero_grad()
            loss = loss_fn(model(X_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        hist.train_loss.append(total / n)
        if has_val:
            model.eval()
            with torch.no_grad():
                hist.val_loss.append(float(loss_fn(model(Xv), yv)))
    model.eval()
    return hist


def predict(model, X) -> np.ndarray:
    """The model's raw outputs (logits or scores) on ``X`` as a float64 NumPy array, without gradients."""
    import torch

    model.eval()
    with torch.no_grad():
        return model(_tensor(X, torch.float32)).double().numpy()
