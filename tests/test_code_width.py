"""Code fits the page: every line of code a chapter shows is at most 88 characters (issue 23).

The site would otherwise cut a long line into a horizontal scroll box, and print wraps it mid-token. The
package itself keeps ruff's 120 columns (pyproject.toml); this is about what readers see. The one exception
is a line whose excess is an unbreakable URL (the Colab cell's `%pip install ... @ git+https://...`, generated
by tools/set_repository.py from the repository URL).
"""
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
MAX = 88
URL = re.compile(r"https?://\S+?(?=[\"'\s)]|$)")


def long_lines(cells, limit=MAX):
    """(cell, line, length) of every code line over ``limit`` characters; a URL counts as one character."""
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for j, line in enumerate("".join(cell["source"]).splitlines(), start=1):
            if len(URL.sub("u", line)) > limit:
                found.append((i, j, len(line)))
    return found


def test_long_line_detection():
    cells = [{"cell_type": "code", "source": ["x = 1\n", "y = " + "2" * 85 + "\n"]},
             {"cell_type": "markdown", "source": ["a" * 200]},
             {"cell_type": "code", "source": ['    %pip install -q "pkg @ git+https://example.org/' + "a" * 80 + '"']}]
    assert long_lines(cells) == [(0, 2, 89)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_code_lines_fit_in_88_characters(path):
    bad = long_lines(json.loads(path.read_text(encoding="utf-8"))["cells"])
    assert not bad, f"{len(bad)} code lines longer than {MAX} characters (cell, line, length): {bad[:20]}"
