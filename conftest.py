"""Repository-wide pytest hooks.

GPU cells: a notebook cell tagged ``gpu`` is skipped by nbval when no CUDA device is available, and run
(and compared) when one is. See chapters/appendices/conventions.md.
"""
import pytest


def _cell_tags(item):
    cell = getattr(item, "cell", None)
    if cell is None:
        return ()
    return tuple(cell.get("metadata", {}).get("tags", ()))


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in _cell_tags(item)]
    if not gpu_items:
        return
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="cell tagged 'gpu' and no CUDA device is available")
    for item in gpu_items:
        item.add_marker(skip)
