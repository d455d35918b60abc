"""lossbook: loss functions for machine learning, from scratch in NumPy.

Every loss matches ``torch.nn.functional`` (same name, arguments, defaults, values and gradients),
stays finite where the naive formula overflows, and refuses bad input with an error that says what
it got, what it expected and how to fix it. The gradient of each loss is ``lossbook.<name>.grad``,
its metadata ``lossbook.<name>.info``; :func:`catalogue` lists them all.

``import lossbook`` needs only NumPy: PyTorch and matplotlib are imported lazily by the helpers that
use them (:func:`device`, :mod:`lossbook.plotting`).
"""
from __future__ import annotations

import importlib

from ._registry import FAMILIES, LossInfo, catalogue, get_loss
from ._validation import LossInputWarning
from .classification import *  # noqa: F401,F403
from .classification import __all__ as _classification_all
from .fused import *  # noqa: F401,F403
from .fused import __all__ as _fused_all
from .gpu import device, has_cuda
from .learning_to_rank import *  # noqa: F401,F403
from .learning_to_rank import __all__ as _learning_to_rank_all
from .ranking import *  # noqa: F401,F403
from .ranking import __all__ as _ranking_all
from .regression import *  # noqa: F401,F403
from .regression import __all__ as _regression_all

__version__ = "0.1.0"

_SUBMODULES = (
    "plotting", "data", "book", "regression", "classification", "ranking", "learning_to_rank", "ranking_tasks",
    "reference", "training", "exercises", "fused", "workshop", "metrics", "calibration", "retrieval", "scale",
)

__all__ = [
    *_regression_all,
    *_classification_all,
    *_fused_all,
    *_ranking_all,
    *_learning_to_rank_all,
    "catalogue",
    "get_loss",
    "LossInfo",
    "LossInputWarning",
    "FAMILIES",
    "device",
    "has_cuda",
]


def __getattr__(name):  # lazy submodules: lossbook.plotting imports matplotlib only when first used
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lossbook' has no attribute {name!r}")
