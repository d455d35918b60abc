"""Structural checks on the chapter notebooks, which nbval alone cannot see.

nbval compares the stored outputs of executed cells, so a cell stored without execution compares
nothing; these tests close that gap and enforce the book's conventions (chapters/appendices/conventions.md).
"""
import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]
# Teaching chapters (not the preface or generated appendices) end with takeaways and exercises.
TEACHING = [
    p
    for p in NOTEBOOKS
    if p.parent.name != "appendices"           # every part's chapters; the appendices are generated pages
    and p.stem not in {"preface", "index"}
]


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections", []))

    for part in toc.get("parts", []):
        walk(part["chapters"])
    return files


def load(path):
    return json.loads(path.read_text())


def md_text(nb):
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_listed_in_toc(path):
    stem = str(path.relative_to(ROOT).with_suffix(""))
    assert stem in toc_files(), f"{stem} is not in _toc.yml, so it is not part of the book"


def test_every_toc_entry_exists():
    for f in toc_files():
        matches = [ROOT / f"{f}{ext}" for ext in (".ipynb", ".md")]
        assert any(m.exists() for m in matches), f"_toc.yml lists {f}, which does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_was_executed_without_error(path):
    nb = load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        assert cell.get("execution_count") is not None, (
            f"code cell {i} was never executed; run `make notebooks NB={path.relative_to(ROOT)}`"
        )
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"code cell {i} stored an error: {out.get('ename')}"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_have_caption_and_alt_text(path):
    nb = load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if not images:
            continue
        assert len(images) == 1, f"cell {i} stores {len(images)} images; one figure per cell"
        meta = cell["metadata"].get("mystnb", {})
        assert meta.get("image", {}).get("alt"), f"figure in cell {i} has no alt text (metadata mystnb.image.alt)"
        assert meta.get("figure", {}).get("caption"), (
            f"figure in cell {i} has no caption (metadata mystnb.figure.caption)"
        )


GLUE_REF = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_glued_names_in_prose_are_glued_in_code(path):
    nb = load(path)
    glued = set()
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                glued.add(name)
    missing = sorted(set(GLUE_REF.findall(md_text(nb))) - glued)
    assert not missing, f"prose refers to values no code cell glues: {missing}"


@pytest.mark.parametrize("path", TEACHING, ids=[str(p.relative_to(ROOT)) for p in TEACHING])
def test_chapter_ends_with_takeaways_and_exercises_with_solutions(path):
    text = md_text(load(path))
    assert re.search(r"^## Key takeaways", text, re.M), "no '## Key takeaways' section"
    assert re.search(r"^## Exercises", text, re.M), "no '## Exercises' section"
    assert ":class: dropdown" in text, "exercises have no collapsed solution"


@pytest.mark.parametrize("path", TEACHING, ids=[str(p.relative_to(ROOT)) for p in TEACHING])
def test_each_exercise_has_one_executed_solution_with_a_checker(path):
    """The conventions' exercise form: a collapsed explanation (Markdown tagged 'solution') and ONE code cell tagged
    'solution' and 'hide-input' that ends in check("<id>", answer), so the solution's code exists once."""
    cells = load(path)["cells"]
    code = [c for c in cells if c["cell_type"] == "code" and "solution" in c["metadata"].get("tags", [])]
    prose = [c for c in cells if c["cell_type"] == "markdown" and "solution" in c["metadata"].get("tags", [])]
    assert len(code) >= 3, f"{len(code)} solution cells; a chapter has at least 3 exercises"
    for c in code:
        src = "".join(c["source"])
        assert "hide-input" in c["metadata"]["tags"], "a solution cell is not collapsed (tag 'hide-input')"
        assert re.search(r"""check\(\s*["'][\w.]+["']\s*,\s*answer\s*\)""", src), "a solution cell has no check(id, answer)"
    for c in prose:
        src = "".join(c["source"])
        assert ":class: dropdown" in src, "a 'solution' Markdown cell is not a collapsed dropdown"
        assert "```python" not in src, "solution code written in the prose: it belongs in the executed cell only"


def _root_conftest():
    import importlib.util

    spec = importlib.util.spec_from_file_location("lossbook_root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_notebook_over_its_time_budget_fails_the_run():
    """The root conftest adds up each notebook's time (all its cells) and fails the run past the budget."""
    from types import SimpleNamespace

    hooks = _root_conftest()
    for cell, seconds in [(0, 25.0), (1, 40.0)]:
        hooks.pytest_runtest_logreport(SimpleNamespace(nodeid=f"chapters/x/slow.ipynb::Cell {cell}", duration=seconds))
    hooks.pytest_runtest_logreport(SimpleNamespace(nodeid="chapters/x/fast.ipynb::Cell 0", duration=5.0))
    hooks.pytest_runtest_logreport(SimpleNamespace(nodeid="tests/test_slow.py::test_x", duration=99.0))
    main = SimpleNamespace()                                       # pytest's main process (no `workerinput`)
    assert hooks._over_budget(main) == {"chapters/x/slow.ipynb": 65.0}
    assert hooks._over_budget(SimpleNamespace(workerinput={})) == {}  # workers leave the verdict to it
    session = SimpleNamespace(config=main, exitstatus=0)
    hooks.pytest_sessionfinish(session, 0)
    assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
    assert hooks.notebooks_over_budget({"a.ipynb": 59.9}, 60) == {}


def test_threads_are_shared_between_the_workers():
    import os

    import numpy  # noqa: F401  (loads OpenBLAS, so that threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    cores = _root_conftest().usable_cores()
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    assert 1 <= cores <= (os.cpu_count() or 1)
    expected = max(1, cores // workers)
    assert os.environ["_LOSSBOOK_TEST_THREADS"] == str(expected)
    if os.environ["OPENBLAS_NUM_THREADS"] == str(expected):      # not overridden by hand
        blas = [p["num_threads"] for p in threadpool_info() if p["internal_api"] == "openblas"]
        assert blas and all(n == expected for n in blas), threadpool_info()
