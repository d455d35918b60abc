"""Re-execute chapter notebooks in place and store their fresh outputs (``make notebooks``).

    python tools/execute_notebooks.py                 # every notebook under chapters/
    python tools/execute_notebooks.py chapters/regression/mse.ipynb

Each notebook runs top to bottom in a fresh kernel of this environment, from its own folder, with the
same settings nbval and the book build use. Execution timing metadata is not recorded, so a re-run
that produces the same outputs leaves the file unchanged.

The outputs are computed the way `make test` recomputes them on CI (2 cores, 2 pytest workers): the kernel
runs NumPy's BLAS and PyTorch on one thread (a thread count that splits a sum differently changes its last
digits), with the CPU's own kernel choices (the overrides `make portability` uses are removed), and with this
checkout first on the kernel's import path, so that the notebooks import this `lossbook`.
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
# the 2-core CI machine (conftest.py), so stored outputs are computed the way the tests recompute them. This is
# set, not defaulted: a stray OMP_NUM_THREADS=8 in the shell would store outputs CI cannot reproduce.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
# Stored outputs come from the CPU's own kernels, never from an emulated older CPU (tools/portability.py).
for _var in ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES"):
    if os.environ.pop(_var, None) is not None:
        print(f"note: {_var} is ignored: stored outputs use this CPU's own kernels", file=sys.stderr)
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])


def coalesce_streams(cell) -> None:
    """Merge consecutive outputs of one stream (stdout or stderr) into one, as nbval does before comparing:
    where a kernel flushes a print in two parts is timing, not content, and must not change the stored file."""
    merged = []
    for out in cell.get("outputs", []):
        if merged and out.get("output_type") == "stream" and merged[-1].get("output_type") == "stream" \
                and merged[-1].get("name") == out.get("name"):
            merged[-1]["text"] += out["text"]
        else:
            merged.append(out)
    if "outputs" in cell:
        cell["outputs"] = merged


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
    for cell in nb.cells:
        coalesce_streams(cell)
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
