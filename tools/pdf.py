"""Build the PDF edition of the book (``make pdf``): ``_build/pdf/lossbook.pdf``.

1. Jupyter Book's LaTeX builder (Sphinx's, with sphinx-jupyterbook-latex: one part per caption of _toc.yml)
   writes ``_build/latex/lossbook.tex`` from the stored notebook outputs, with warnings as errors (``-W -n``),
   exactly as ``make html`` builds the site.
2. latexmk runs XeLaTeX on it (the engine is set in ``_config.yml``: xeCJK and Noto CJK SC for the glossary's
   Chinese terms, DejaVu fonts for the Greek letters and symbols of the outputs).
3. The LaTeX log is read like the site build's: a missing glyph ("Missing character"), an undefined reference
   or citation, or a LaTeX error fails the build and is listed.
4. The PDF is copied to ``_build/pdf/lossbook.pdf``, the file that the Pages workflow publishes beside the site.

``make pdf`` then runs ``tests/test_pdf.py`` on it. Print has no dropdowns: collapsed solutions and the folded
production source are printed in full, right after their exercise or listing.
"""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
LATEX = ROOT / "_build" / "latex"
PDF = ROOT / "_build" / "pdf" / "lossbook.pdf"

# What in XeLaTeX's log is an error for this book (the site build's "warnings are errors", for print).
LOG_PROBLEMS = {
    "missing glyph": re.compile(r"^Missing character: .*$", re.M),
    "undefined reference": re.compile(r"^LaTeX Warning: (?:Hyper )?[Rr]eference .* undefined.*$", re.M),
    "undefined citation": re.compile(r"^LaTeX Warning: Citation .* undefined.*$", re.M),
    "LaTeX error": re.compile(r"^! .*$", re.M),
}


def log_problems(log: str) -> list[str]:
    """The lines of a LaTeX log that make the build fail, each prefixed by what kind of problem it is."""
    found = []
    for kind, pattern in LOG_PROBLEMS.items():
        found += [f"{kind}: {m.group(0).strip()}" for m in pattern.finditer(log)]
    return found


def main() -> int:
    missing = [tool for tool in ("xelatex", "latexmk") if shutil.which(tool) is None]
    if missing:
        print(f"make pdf: {', '.join(missing)} not found. Install TeX: sudo apt-get install -y texlive-xetex "
              "latexmk texlive-lang-chinese fonts-noto-cjk fonts-dejavu-core poppler-utils "
              "(`make pdf` does this itself when it runs as root)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    jb = pathlib.Path(sys.executable).parent / "jupyter-book"
    subprocess.run([str(jb), "build", str(ROOT), "--builder", "latex", "-W", "-n", "--keep-going"],
                   cwd=ROOT, check=True)
    tex = subprocess.run(["latexmk", "-xelatex", "-interaction=nonstopmode", "-halt-on-error", "lossbook.tex"],
                         cwd=LATEX, capture_output=True, text=True)
    log = (LATEX / "lossbook.log").read_text(encoding="utf-8", errors="replace")
    problems = log_problems(log)
    if tex.returncode != 0 or problems:
        print(tex.stdout[-4000:], file=sys.stderr)
        print("make pdf: the LaTeX run failed or reported problems (warnings are errors):", file=sys.stderr)
        print("\n".join(problems[:50]) or "(see _build/latex/lossbook.log)", file=sys.stderr)
        return 1
    PDF.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(LATEX / "lossbook.pdf", PDF)
    print(f"make pdf: {PDF.relative_to(ROOT)} ({PDF.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
