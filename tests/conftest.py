import os
import pathlib
import sys

# Share the cores between pytest-xdist's workers: each worker (and every notebook kernel it starts, which inherits
# the environment) runs NumPy's BLAS and PyTorch's OpenMP on cores // workers threads. With more threads than
# cores the BLAS threads spin against each other: on 2 cores with 2 workers, one notebook took 30 s instead of 18.
# This must happen before NumPy or PyTorch is imported; an explicit setting in the environment is kept.
# (pytest's main process passes its own choice to the workers in the environment; the workers replace it.)
_threads = str(max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
_ours = os.environ.get("_LOSSBOOK_TEST_THREADS")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    if os.environ.get(_var) in (None, _ours):
        os.environ[_var] = _threads
os.environ["_LOSSBOOK_TEST_THREADS"] = _threads
BLAS_IMPORTED_EARLY = "numpy" in sys.modules

from hypothesis import settings  # noqa: E402

# Make tests/parity.py importable as `parity` from every test module.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

# CI runs the same hypothesis examples every time (a red CI is then reproducible); local runs explore.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
