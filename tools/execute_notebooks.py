"""Re-execute chapter notebooks in place and store their fresh outputs (``make notebooks``).

    python tools/execute_notebooks.py                 # every notebook under chapters/
    python tools/execute_notebooks.py chapters/regression/mse.ipynb

Each notebook runs top to bottom in a fresh kernel of this environment, from its own folder, with the
same settings nbval and the book build use. Execution timing metadata is not recorded, so a re-run
that produces the same outputs leaves the file unchanged.
"""
from __future__ import annotations

import os
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The kernels run NumPy's BLAS and PyTorch's OpenMP on one thread, as each of `make test`'s two workers does on
# the 2-core CI machine (tests/conftest.py), so stored outputs are computed the way the tests recompute them.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def execute(path: pathlib.Path, timeout: int = 300) -> float:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        allow_errors=False,
    )
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.setdefault(
        "kernelspec", {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    )
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str]) -> int:
    paths = [pathlib.Path(p).resolve() for p in argv] or sorted((ROOT / "chapters").rglob("*.ipynb"))
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    for p in paths:
        seconds = execute(p)
        print(f"{seconds:6.1f} s  {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
