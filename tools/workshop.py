"""Build the workshop kit into _build/workshop (``make workshop``); see lossbook/book/workshop.py.

    python tools/workshop.py                 # build, then run every student notebook top to bottom
    python tools/workshop.py --no-execute    # build only

Nothing outside _build/ is written: the lossbook wheel is built in a temporary folder.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lossbook.book import workshop  # noqa: E402


def execute_student_notebook(path: pathlib.Path, timeout: int = 300) -> tuple[str, float, str]:
    """Run a student notebook top to bottom in a fresh kernel (outputs are not stored); return (path, s, error)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        error = ""
    except CellExecutionError as e:
        error = str(e).splitlines()[-1] if str(e) else repr(e)
    return str(path), time.perf_counter() - start, error


def build_wheel(dest: pathlib.Path) -> pathlib.Path:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(dest), str(ROOT)], check=True, cwd=tmp)
    return next(dest.glob("lossbook-*.whl"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "_build" / "workshop"))
    ap.add_argument("--no-execute", action="store_true", help="do not run the student notebooks")
    ap.add_argument("--no-wheel", action="store_true", help="do not include a lossbook wheel")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = None if args.no_wheel else build_wheel(pathlib.Path(tmp))
        summary = workshop.build(ROOT, args.out, wheel=wheel)
    out = pathlib.Path(args.out)
    print(json.dumps(summary, indent=1))
    failures = []
    if not args.no_execute:
        paths = [out / p for p in summary["student_notebooks"]]
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for path, seconds, error in pool.map(execute_student_notebook, paths):
                print(f"{seconds:6.1f} s  {pathlib.Path(path).relative_to(out)}  {'ok' if not error else 'FAILED: ' + error}")
                if error:
                    failures.append(path)
    print(f"workshop kit written to {out} in {time.perf_counter() - start:.0f} s")
    if failures:
        print(f"{len(failures)} student notebook(s) failed to run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
