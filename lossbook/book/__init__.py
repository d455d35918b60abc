"""What only the book's chapters use: one set-up call, ``glue`` that also works outside the book, and submodules.

The submodules (imported on first use, like ``lossbook.book.plotting``): ``plotting`` (the figure style),
``data`` (bundled and seeded data sets), ``training`` (small training loops), ``ranking_tasks`` and
``embeddings`` (Part IV), ``text`` and ``sequence_tasks`` (Part V), ``policies`` (Part VI's small policy and
preference data), ``vision`` (Part VIII's synthetic images, boxes and masks, tiny models and torch losses),
``reference`` (the catalogue and cheat-sheet tables), ``scale`` (cross-entropy at scale), ``gpu`` (device choice)
and ``workshop`` (the workshop kit generator). None of them is part of the
library that ``import lossbook`` loads.

In the built book, :func:`glue` stores a value with myst-nb so the prose can show it
(``{glue:text}`name```); in Colab or plain Jupyter, where myst-nb may be missing, it just displays the value.
"""
from __future__ import annotations

import importlib
import sys

import numpy as np

__all__ = ["setup", "glue"]

_SUBMODULES = ("plotting", "data", "training", "ranking_tasks", "embeddings", "reference", "scale", "gpu", "workshop",
               "text", "sequence_tasks", "policies", "generative", "vision")


def __getattr__(name):  # lazy submodules: lossbook.book.plotting imports matplotlib only when first used
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lossbook.book' has no attribute {name!r}")


def setup(seed: int = 0) -> np.random.Generator:
    """Seed everything a chapter uses, apply the figure style, set print options; return a NumPy Generator.

    Seeds PyTorch too when it has already been imported (import torch before calling this), runs it on one
    thread, and asks for deterministic algorithms where a GPU is present.
    """
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    try:
        from .plotting import use_style

        use_style()
    except ImportError:  # matplotlib is optional
        pass
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            # Only CUDA kernels (scatter-adds, some backward passes) can vary from run to run; the flag costs about
            # 2 s, because it imports the compiler's configuration, so CPU-only runs skip it.
            torch.use_deterministic_algorithms(True, warn_only=True)
        # The book's models are tiny: one thread is faster than several (no synchronisation), is not slowed down
        # by a busy machine, and gives results that do not depend on the number of cores.
        torch.set_num_threads(1)
    return np.random.default_rng(seed)


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's prose (myst-nb), falling back to a plain display.

    Returns ``None``, like ``myst_nb.glue``, so a cell that ends with a glue call shows nothing extra.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:
        if display:
            from IPython.display import display as _display

            _display(value)
        return None
    _glue(name, value, display=display)
    return None
