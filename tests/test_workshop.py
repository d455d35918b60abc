"""The workshop kit (lossbook/book/workshop.py, `make workshop`): student notebooks without solutions, schedule,
instructor notes and slides, generated from the chapters; and the book's chapters carry what it needs."""
import json
import pathlib
import subprocess

import pytest
from test_site import browser  # noqa: F401 - the headless Chromium fixture, shared with the site tests

from lossbook.book import workshop
from lossbook.exercises import exercises

ROOT = pathlib.Path(__file__).resolve().parent.parent

OVERVIEW = """:::{admonition} Overview
:class: tip

**Questions**
- What is a loss?

**Objectives**
- Compute one.

**Time:** 20 minutes of teaching, 10 minutes of exercises.
:::
"""


def md(text, tags=()):
    return {"cell_type": "markdown", "metadata": {"tags": list(tags)}, "source": text}


def code(text, tags=(), outputs=None, meta=None):
    m = {"tags": list(tags)}
    m.update(meta or {})
    return {"cell_type": "code", "execution_count": 1, "metadata": m, "source": text,
            "outputs": outputs if outputs is not None else [{"output_type": "stream", "name": "stdout", "text": "x\n"}]}


def fake_chapter(cells):
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    return workshop.Chapter(pathlib.Path("chapters/demo/x.ipynb"), "demo/x", "Demo", "X",
                            workshop.parse_overview(OVERVIEW), ["demo.x.1"], [], nb)


def test_parse_overview_reads_questions_objectives_and_minutes():
    ov = workshop.parse_overview(OVERVIEW)
    assert ov.questions == ["What is a loss?"] and ov.objectives == ["Compute one."]
    assert (ov.teaching, ov.exercises, ov.minutes) == (20, 10, 30)
    with pytest.raises(ValueError, match="Time"):
        workshop.parse_overview(OVERVIEW.replace("**Time:**", "Time:"))
    with pytest.raises(ValueError, match="Objectives"):
        workshop.parse_overview(OVERVIEW.replace("**Objectives**", "Objectives"))


def test_student_notebook_drops_solutions_and_outputs_and_keeps_a_checker():
    secret = "answer = 0.8125  # the worked solution"
    ch = fake_chapter([
        md("# X"), md(OVERVIEW, ["overview"]), code("import numpy as np\nfrom lossbook.exercises import check"),
        md("**1. An exercise.** Compute it."),
        md(":::{admonition} Solution\n:class: dropdown\nBecause.\n:::", ["solution"]),
        code(secret + '\ncheck("demo.x.1", answer)', ["solution", "hide-input"],
             meta={"lossbook": {"starter": "answer = None  # the mean of the four errors"}}),
        md("notes for the instructor", ["instructor", "remove-cell"]),
    ])
    nb = workshop.student_notebook(ch)
    text = json.dumps(nb)
    assert "0.8125" not in text and "Because." not in text and "notes for the instructor" not in text
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")
    starters = [c for c in nb["cells"] if "exercise" in c["metadata"].get("tags", [])]
    assert len(starters) == 1
    assert 'check("demo.x.1", answer)' in starters[0]["source"]
    assert "the mean of the four errors" in starters[0]["source"]


def test_a_solution_cell_without_a_checker_is_refused():
    ch = fake_chapter([md("# X"), code("answer = 1", ["solution"])])
    with pytest.raises(ValueError, match="check"):
        workshop.student_notebook(ch)


def test_a_collapsed_solution_outside_a_solution_cell_is_refused():
    ch = fake_chapter([md("# X"), md(":::{admonition} Solution\n:class: dropdown\nleaked\n:::")])
    with pytest.raises(ValueError, match="survived"):
        workshop.student_notebook(ch)


def test_slides_render_markdown_maths_glue_and_figures():
    glue_out = {"output_type": "display_data", "metadata": {"scrapbook": {"name": "val"}},
                "data": {"text/plain": "0.123456"}}
    fig = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}
    ch = fake_chapter([md("# X"), code("glue('val', 0.123456)", outputs=[glue_out]),
                       md("The loss is $\\frac12 r^2$, here {glue:text}`val:.2f` ({doc}`mse`).", ["slide"]),
                       code("plt.show()", ["slide"], outputs=[fig], meta={"mystnb": {"image": {"alt": "a curve"}}})])
    html = workshop.slides_html("Demo", [ch])
    assert "\\(\\frac12 r^2\\)" in html and "0.12" in html and "{glue" not in html and "{doc}" not in html
    assert 'alt="a curve"' in html and "data:image/png;base64,iVBORw0KGgo=" in html
    assert "http://" not in html and "https://" not in html


# ---- the book's own chapters ------------------------------------------------------------------------

CHAPTERS = workshop.book_chapters(ROOT)
TEACHING = sorted(
    p for p in (ROOT / "chapters").rglob("*.ipynb")
    if p.parent.name in {"foundations", "regression", "classification", "ranking"} and p.stem not in {"preface"}
)


@pytest.mark.parametrize("path", TEACHING, ids=[str(p.relative_to(ROOT)) for p in TEACHING])
def test_every_teaching_chapter_has_an_overview_block(path):
    doc = str(path.relative_to(ROOT / "chapters").with_suffix(""))
    assert doc in {c.doc for c in CHAPTERS}, f"{doc} has no cell tagged 'overview' (see the conventions appendix)"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.doc for c in CHAPTERS])
def test_student_notebook_of_each_chapter_has_no_solution(chapter):
    if not chapter.exercise_ids:
        pytest.skip("no exercises")
    nb = workshop.student_notebook(chapter)
    text = json.dumps(nb)
    shown = "\n".join("".join(c["source"]) for c in chapter.nb["cells"]
                      if "solution" not in c["metadata"].get("tags", []))
    for cell in chapter.nb["cells"]:
        if "solution" in cell["metadata"].get("tags", []):
            body = "".join(cell["source"])
            # every substantial line of a solution is gone, unless the chapter's own text has it too (short lines
            # such as `print(answer)` may recur)
            for line in body.splitlines():
                if len(line.strip()) > 30 and not line.strip().startswith(("check(", "#")) and line not in shown:
                    assert json.dumps(line)[1:-1] not in text, f"solution line survived: {line!r}"
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    starters = "\n".join(c["source"] for c in nb["cells"] if "exercise" in c["metadata"].get("tags", []))
    for ex_id in chapter.exercise_ids:
        assert f'check("{ex_id}", answer)' in starters


def test_every_registered_exercise_belongs_to_a_chapter_with_an_overview():
    docs = {c.doc for c in CHAPTERS}
    orphans = sorted(ex_id for ex_id, chapter, _ in exercises() if chapter not in docs)
    assert not orphans, f"exercises of chapters without an overview block: {orphans}"


def test_tracks_fit_their_days_and_name_real_chapters():
    import yaml

    limits = {t["slug"]: t["max_minutes_per_day"] for t in yaml.safe_load((ROOT / "workshop" / "tracks.yml").read_text())["tracks"]}
    tracks = workshop.schedule(ROOT, CHAPTERS)
    assert {t["slug"] for t in tracks} == set(limits) and {"half-day", "two-day"} <= set(limits)
    for t in tracks:
        for day in t["days"]:
            assert day["minutes"] <= limits[t["slug"]], f"{t['name']} day {day['day']}: {day['minutes']} min"
            assert day["teaching"] > 0 and day["exercises"] > 0
    md_text = workshop.schedule_markdown(tracks)
    assert "Half-day track" in md_text and "Two-day track" in md_text


@pytest.fixture(scope="module")
def kit():
    """The kit built once into _build/workshop-test, with `git status` before and after."""
    status = ["git", "status", "--porcelain"]
    before = subprocess.run(status, cwd=ROOT, capture_output=True, text=True).stdout
    out = ROOT / "_build" / "workshop-test"
    summary = workshop.build(ROOT, out)
    after = subprocess.run(status, cwd=ROOT, capture_output=True, text=True).stdout
    return out, summary, before, after


def test_make_workshop_writes_only_under_build(kit, tmp_path):
    out, summary, before, after = kit
    assert before == after
    assert (out / "instructor" / "schedule.md").exists() and (out / "instructor" / "notes.md").exists()
    assert (out / "README.md").exists() and (out / "lossbook-workshop.zip").stat().st_size > 0
    assert "{repository_url}" not in (out / "README.md").read_text()
    assert len(summary["student_notebooks"]) == sum(1 for c in CHAPTERS if c.exercise_ids)
    for deck in summary["decks"]:
        html = (out / deck).read_text()
        assert "https://" not in html.split("<body>")[0], f"{deck} loads something remote"
    with pytest.raises(ValueError, match="inside the repository"):
        workshop.build(ROOT, tmp_path / "elsewhere")


_DECK_FACTS = r"""
async () => {
  const out = {};
  out.ready = !!(window.Reveal && Reveal.isReady());
  out.slides = window.Reveal ? Reveal.getTotalSlides() : 0;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, new Promise(r => setTimeout(r, 20000))]);
  }
  out.typeset = document.querySelectorAll('mjx-container').length;
  out.mathErrors = document.querySelectorAll('mjx-merror').length;
  const clone = document.querySelector('.reveal .slides').cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script').forEach(n => n.remove());
  const text = clone.textContent;
  out.rawTex = ['\\(', '\\[', '$$'].filter(s => text.includes(s));
  out.images = [...document.querySelectorAll('.reveal img')].map(i => i.complete && i.naturalWidth > 0);
  return out;
}
"""


def test_every_slide_deck_opens_offline(kit, browser):  # noqa: F811 - the imported fixture
    from test_site import Tab

    out, summary, _, _ = kit
    assert summary["decks"], "no slide deck was built"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = Tab(context)                      # one tab opens every deck in turn
    for deck in summary["decks"]:
        visit = tab.open((out / deck).as_uri(), facts=False)
        tab.page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30000)
        facts = tab.page.evaluate(_DECK_FACTS)
        assert not visit.remote, f"{deck} requested remote resources: {visit.remote}"
        assert not visit.failed and not visit.errors, f"{deck}: {visit.failed} {visit.errors}"
        assert facts["ready"] and facts["slides"] >= 5, f"{deck}: reveal.js did not start ({facts})"
        assert facts["typeset"] > 0 and not facts["mathErrors"] and not facts["rawTex"], f"{deck}: maths {facts}"
        assert facts["images"] and all(facts["images"]), f"{deck}: figures missing or broken"
    context.close()
