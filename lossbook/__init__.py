"""lossbook: loss functions for machine learning, from scratch in NumPy.

Every loss matches ``torch.nn.functional`` (same name, arguments, defaults, values and gradients),
stays finite where the naive formula overflows, and refuses bad input with an error that says what
it got, what it expected and how to fix it. The gradient of each loss is ``lossbook.<name>.grad``,
its metadata ``lossbook.<name>.info``; :func:`catalogue` lists them all.

``import lossbook`` needs only NumPy. The chapters' own helpers live apart, in :mod:`lossbook.book`
(plotting, data, training loops, GPU helpers; they import matplotlib, scikit-learn or PyTorch lazily) and
:mod:`lossbook.exercises` (the exercise checkers).
"""
from __future__ import annotations

import importlib

from ._registry import FAMILIES, LossInfo, catalogue, get_loss
from ._validation import LossInputWarning
from .binary import *  # noqa: F401,F403
from .binary import __all__ as _binary_all
from .fused import *  # noqa: F401,F403
from .fused import __all__ as _fused_all
from .generative import *  # noqa: F401,F403
from .generative import __all__ as _generative_all
from .learning_to_rank import *  # noqa: F401,F403
from .learning_to_rank import __all__ as _learning_to_rank_all
from .margins import *  # noqa: F401,F403
from .margins import __all__ as _margins_all
from .preferences import *  # noqa: F401,F403
from .preferences import __all__ as _preferences_all
from .ranking import *  # noqa: F401,F403
from .ranking import __all__ as _ranking_all
from .regression import *  # noqa: F401,F403
from .regression import __all__ as _regression_all
from .sequences import *  # noqa: F401,F403
from .sequences import __all__ as _sequences_all
from .softmax import *  # noqa: F401,F403
from .softmax import __all__ as _softmax_all
from .vision import *  # noqa: F401,F403
from .vision import __all__ as _vision_all

__version__ = "0.1.0"

# The library: one module per family of losses (the chapters that teach it), the evaluation metrics, and the
# private internals (_validation, _reduction, _stable, _registry). What only the chapters use lives in
# lossbook.book (set-up and glue, plotting, data, training loops, chapter tasks, GPU helpers, the workshop kit)
# and lossbook.exercises (the exercise checkers, one module per chapter).
_SUBMODULES = (
    "regression", "softmax", "binary", "margins", "ranking", "learning_to_rank", "fused", "sequences",
    "preferences", "generative", "vision",
    "metrics", "calibration", "retrieval", "book", "exercises",
)

__all__ = [
    *_regression_all,
    *_softmax_all,
    *_binary_all,
    *_margins_all,
    *_fused_all,
    *_ranking_all,
    *_learning_to_rank_all,
    *_sequences_all,
    *_preferences_all,
    *_generative_all,
    *_vision_all,
    "catalogue",
    "get_loss",
    "LossInfo",
    "LossInputWarning",
    "FAMILIES",
]


def __getattr__(name):  # lazy submodules: lossbook.book.plotting imports matplotlib only when first used
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'lossbook' has no attribute {name!r}")
