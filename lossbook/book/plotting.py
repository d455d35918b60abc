"""The book's one figure style, and the few plots that several chapters share.

Every figure in the book goes through :func:`use_style` (called by :func:`subplots`): a colour-blind-safe
palette (Okabe and Ito), fonts readable in print and on screen, light grids, constrained layout.
Imports matplotlib only when this module is imported.
"""
from __future__ import annotations

import numpy as np

__all__ = ["PALETTE", "use_style", "subplots", "plot_loss_and_gradient", "plot_curves"]

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "red": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}

_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's style to matplotlib's global settings."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update(_STYLE)
    mpl.rcParams["axes.prop_cycle"] = cycler(
        color=[PALETTE[k] for k in ("blue", "orange", "green", "red", "purple", "sky", "black")]
    )


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``plt.subplots`` in the book's style. Returns ``(fig, axes)``."""
    import matplotlib.pyplot as plt

    use_style()
    if "figsize" not in kwargs and (nrows, ncols) != (1, 1):
        kwargs["figsize"] = (min(4.2 * ncols, 12.0), 3.6 * nrows)
    return plt.subplots(nrows, ncols, **kwargs)


def plot_loss_and_gradient(
    curves: dict, residual, title: str | None = None, xlabel: str = "residual  $r = \\hat y - y$"
):
    """Two panels side by side: each loss against the residual, and its gradient.

    ``curves`` maps a label to ``(loss_values, gradient_values)``, both evaluated on ``residual``.
    Returns ``(fig, (ax_loss, ax_grad))``.
    """
    r = np.asarray(residual)
    fig, (ax_l, ax_g) = subplots(1, 2)
    for label, (loss, grad) in curves.items():
        ax_l.plot(r, np.asarray(loss), label=label)
        ax_g.plot(r, np.asarray(grad), label=label)
    ax_l.set(xlabel=xlabel, ylabel="loss of one sample", title="Loss")
    ax_g.set(xlabel=xlabel, ylabel="d loss / d prediction", title="Gradient")
    ax_l.legend()
    if title:
        fig.suptitle(title)
    return fig, (ax_l, ax_g)


def plot_curves(
    curves: dict, xlabel: str = "step", ylabel: str = "loss", title: str | None = None, logy: bool = False, ax=None
):
    """Line plot of several sequences (loss per step, train versus validation, ...). Returns ``(fig, ax)``."""
    if ax is None:
        fig, ax = subplots()
    else:
        fig = ax.figure
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), np.asarray(values), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    return fig, ax
