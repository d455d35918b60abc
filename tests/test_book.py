"""The website builds with Jupyter Book, warnings as errors, and has a page for every entry of _toc.yml."""
import pathlib
import re
import subprocess
import sys

from test_notebooks import toc_files

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_site_builds_with_zero_warnings():
    jb = pathlib.Path(sys.executable).parent / "jupyter-book"
    out = subprocess.run(
        # --all re-reads every page, so warnings of unchanged pages are reported too (notebook
        # executions stay cached in _build/.jupyter_cache).
        [str(jb), "build", str(ROOT), "--all", "-W", "-n", "--keep-going"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    # Sphinx's own warnings look like "path:line: WARNING: ..." (the kernel's start-up log lines do not).
    warnings = re.findall(r"^.*: (?:WARNING|ERROR): .*$", log, re.M)
    assert not warnings, "\n".join(warnings)
    html = ROOT / "_build" / "html"
    for f in toc_files():
        assert (html / f"{f}.html").exists(), f"no page built for {f}"
    assert (html / "genindex.html").exists()
