"""Where to run PyTorch code: the GPU when one exists, the CPU otherwise. Imports torch only when called."""
from __future__ import annotations

__all__ = ["device", "has_cuda"]


def has_cuda() -> bool:
    """True when PyTorch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def device():
    """``torch.device('cuda')`` when a CUDA GPU is available, else ``torch.device('cpu')``.

    Raises ``ImportError`` with an install hint when PyTorch is missing.
    """
    try:
        import torch
    except ImportError:
        raise ImportError("lossbook.book.gpu.device() needs PyTorch: pip install 'lossbook[torch]'") from None
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
