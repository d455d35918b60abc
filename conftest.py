"""Repository-wide pytest hooks.

- Threads: each pytest-xdist worker, and every notebook kernel it starts, runs NumPy's BLAS and PyTorch's
  OpenMP on ``cores // workers`` threads.
- GPU cells: a notebook cell tagged ``gpu`` is skipped by nbval when no CUDA device is available, and run
  (and compared) when one is. See chapters/appendices/conventions.md.
- Time budget: the run fails when a chapter notebook takes longer than ``NOTEBOOK_BUDGET_S`` seconds (60, the
  book's rule; ``LOSSBOOK_NOTEBOOK_BUDGET_S`` overrides it), and names the notebook.
"""
import collections
import math
import os

import pytest


# Share the cores between pytest-xdist's workers: each worker (and every notebook kernel it starts, which inherits
# the environment) runs NumPy's BLAS and PyTorch's OpenMP on cores // workers threads. With more threads than
# cores the BLAS threads spin against each other: on 2 cores with 2 workers, one notebook took 30 s instead of 18.
# This must happen before NumPy or PyTorch is imported; an explicit setting in the environment is kept.
# (pytest's main process passes its own choice to the workers in the environment; the workers replace it.)
def usable_cores():
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (containers)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


_threads = str(max(1, usable_cores() // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
_ours = os.environ.get("_LOSSBOOK_TEST_THREADS")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    if os.environ.get(_var) in (None, _ours):
        os.environ[_var] = _threads
os.environ["_LOSSBOOK_TEST_THREADS"] = _threads


NOTEBOOK_BUDGET_S = float(os.environ.get("LOSSBOOK_NOTEBOOK_BUDGET_S", "60"))
_notebook_seconds = collections.defaultdict(float)


def notebooks_over_budget(seconds_by_notebook, budget):
    """The notebooks whose total time (kernel start, every cell, shutdown) exceeds ``budget`` seconds."""
    return {nb: s for nb, s in sorted(seconds_by_notebook.items()) if s > budget}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration        # setup, call and teardown phases


def _over_budget(config):
    if hasattr(config, "workerinput"):                    # an xdist worker: its main process judges
        return {}
    return notebooks_over_budget(_notebook_seconds, NOTEBOOK_BUDGET_S)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for nb, s in _over_budget(config).items():
        terminalreporter.write_line(f"FAILED time budget: {nb} took {s:.1f} s, over the {NOTEBOOK_BUDGET_S:g} s "
                                    "a chapter notebook may take (make it lighter or split it)", red=True)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _over_budget(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
