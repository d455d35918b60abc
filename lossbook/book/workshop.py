"""The workshop kit, generated from the chapters so that it never drifts from them (``make workshop``).

Each teaching chapter carries, in its own cells (see the conventions appendix):

- an ``overview`` Markdown cell: questions, objectives, and minutes of teaching and of exercises;
- exercises whose solution is a code cell tagged ``solution`` ending in ``check("<id>", answer)``, explained by a
  Markdown cell tagged ``solution``;
- cells tagged ``slide`` (the part's slide deck) and an ``instructor`` cell (notes for whoever teaches it).

From these, :func:`build` writes a folder with student notebooks (solutions and outputs removed, a starter cell
and a checker call per exercise), the full notebooks and notes for instructors, a schedule for each track of
``workshop/tracks.yml``, one reveal.js deck per part (served from local copies, so they open offline) and a zip of
it all. This module reads notebooks as JSON and needs PyYAML and markdown-it-py (both in the book's environment),
imported when used.
"""
from __future__ import annotations

import copy
import html
import json
import pathlib
import re
import shutil
import zipfile
from dataclasses import dataclass, field

__all__ = [
    "Overview",
    "Chapter",
    "parse_overview",
    "book_chapters",
    "student_notebook",
    "schedule",
    "schedule_markdown",
    "instructor_notes",
    "slides_html",
    "build",
]

CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.-]+)["']""")
DEFAULT_STARTER = "answer = None   # your answer here"
_TIME = re.compile(r"\*\*Time:\*\*\s*(\d+)\s*minutes? of teaching,\s*(\d+)\s*minutes? of exercises", re.I)


@dataclass
class Overview:
    """What a chapter's ``overview`` block states."""

    questions: list[str]
    objectives: list[str]
    teaching: int
    exercises: int

    @property
    def minutes(self) -> int:
        return self.teaching + self.exercises


@dataclass
class Chapter:
    """A teaching chapter of the book, as the workshop generator sees it."""

    path: pathlib.Path  # the notebook
    doc: str  # e.g. "regression/mse" (relative to chapters/, no suffix)
    part: str  # the part's caption in _toc.yml
    title: str
    overview: Overview | None
    exercise_ids: list[str] = field(default_factory=list)
    instructor_notes: list[str] = field(default_factory=list)
    nb: dict = field(default_factory=dict, repr=False)


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _bullets(text: str, heading: str) -> list[str]:
    m = re.search(rf"\*\*{heading}\*\*\s*\n((?:\s*[-*] .*\n?)+)", text)
    if not m:
        return []
    return [re.sub(r"^\s*[-*]\s+", "", line).strip() for line in m.group(1).strip().splitlines() if line.strip()]


def parse_overview(text: str) -> Overview:
    """Parse an ``overview`` block; a ValueError says which part is missing."""
    questions = _bullets(text, "Questions")
    objectives = _bullets(text, "Objectives")
    m = _TIME.search(text)
    missing = [name for name, ok in [("**Questions** list", questions), ("**Objectives** list", objectives),
                                     ("**Time:** N minutes of teaching, M minutes of exercises.", m)] if not ok]
    if missing:
        raise ValueError(f"the overview block lacks: {', '.join(missing)}")
    return Overview(questions, objectives, int(m.group(1)), int(m.group(2)))


def _toc(root: pathlib.Path):
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            yield part.get("caption", ""), entry["file"]


def _read_chapter(root: pathlib.Path, part: str, file: str) -> Chapter | None:
    path = root / f"{file}.ipynb"
    if not path.exists():
        return None
    nb = json.loads(path.read_text())
    title = next((m.group(1).strip() for c in nb["cells"] if c["cell_type"] == "markdown"
                  for m in [re.search(r"^# (.+)$", _source(c), re.M)] if m), path.stem)
    overview_cells = [c for c in nb["cells"] if "overview" in _tags(c)]
    if len(overview_cells) > 1:
        raise ValueError(f"{path}: {len(overview_cells)} cells are tagged 'overview'; a chapter has one")
    try:
        overview = parse_overview(_source(overview_cells[0])) if overview_cells else None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    ids = [i for c in nb["cells"] if c["cell_type"] == "code" and "solution" in _tags(c) for i in CHECK_CALL.findall(_source(c))]
    has_exercises = ids or any(c["cell_type"] == "markdown" and re.search(r"^## Exercises", _source(c), re.M)
                               for c in nb["cells"])
    if overview is None and has_exercises:
        # Without an overview the kit cannot schedule the chapter and used to drop it silently, exercises and all
        # (the preface had no student notebook for this reason).
        raise ValueError(f"{path}: the chapter has exercises but no cell tagged 'overview', so the workshop kit "
                         "would leave it out (no student notebook); add an overview block (conventions appendix)")
    notes = [_source(c) for c in nb["cells"] if "instructor" in _tags(c)]
    doc = str(pathlib.PurePosixPath(file).relative_to("chapters"))
    return Chapter(path, doc, part, title, overview, ids, notes, nb)


def book_chapters(root: str | pathlib.Path = ".") -> list[Chapter]:
    """Every chapter notebook of ``_toc.yml`` that has an ``overview`` block, in book order."""
    root = pathlib.Path(root)
    chapters = []
    for part, file in _toc(root):
        ch = _read_chapter(root, part, file)
        if ch is not None and ch.overview is not None:
            chapters.append(ch)
    return chapters


# ---- student notebooks ------------------------------------------------------------------------------

def _code_cell(source: str, tags=()) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)} if tags else {},
            "outputs": [], "source": source}


def student_notebook(chapter: Chapter) -> dict:
    """The chapter without its solutions, instructor notes and outputs, with a starter cell per exercise.

    Each ``solution`` code cell becomes ``<starter>`` + ``check("<id>", answer)``, where the starter is the cell's
    ``metadata.lossbook.starter`` or ``answer = None``; ``solution`` Markdown cells and ``instructor`` cells are
    dropped. Raises ValueError if a solution code cell has no checker call, or if anything that looks like a
    solution survives.
    """
    nb = copy.deepcopy(chapter.nb)
    cells = []
    imports_check = any("from lossbook.exercises import check" in _source(c) for c in nb["cells"]
                        if c["cell_type"] == "code" and "solution" not in _tags(c))
    for cell in nb["cells"]:
        tags = _tags(cell)
        if "instructor" in tags or ("solution" in tags and cell["cell_type"] == "markdown"):
            continue
        if "solution" in tags and cell["cell_type"] == "code":
            ids = CHECK_CALL.findall(_source(cell))
            if not ids:
                raise ValueError(f"{chapter.path}: a code cell tagged 'solution' has no check(\"<id>\", answer) call")
            starter = cell.get("metadata", {}).get("lossbook", {}).get("starter", DEFAULT_STARTER).rstrip()
            lines = [] if imports_check else ["from lossbook.exercises import check"]
            lines += [f"# Exercise {ids[0]}: write your answer, then run this cell to check it.", starter]
            lines += [f'check("{i}", answer)' for i in ids]
            cells.append(_code_cell("\n".join(lines), tags=["exercise"]))
            continue
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
        cells.append(cell)
    intro = {"cell_type": "markdown", "metadata": {}, "source": (
        f"**Workshop notebook: {chapter.title}.** The exercises at the end have starter cells: replace "
        "`answer = None` with your answer and run the cell; `check` tells you whether it is right and, if not, "
        "gives a hint. The worked solutions are in the book.")}
    nb["cells"] = [cells[0], intro, *cells[1:]] if cells else [intro]
    for cell in nb["cells"]:
        cell.pop("id", None)
    nb["nbformat"], nb["nbformat_minor"] = 4, 4
    text = json.dumps(nb)
    if ":class: dropdown" in text and "Solution" in text:
        raise ValueError(f"{chapter.path}: a collapsed solution survived outside a 'solution'-tagged cell")
    return nb


# ---- schedule ---------------------------------------------------------------------------------------

def _load_tracks(root: pathlib.Path) -> list[dict]:
    import yaml

    return yaml.safe_load((root / "workshop" / "tracks.yml").read_text())["tracks"]


def schedule(root: str | pathlib.Path = ".", chapters: list[Chapter] | None = None) -> list[dict]:
    """Each track of ``workshop/tracks.yml`` with its days, items (start time, minutes) and totals.

    A day's items are chapters (``"regression/mse"``) or breaks (``"break 15"``, ``"lunch 60"``). Minutes of a
    chapter come from its overview block.
    """
    root = pathlib.Path(root)
    chapters = chapters if chapters is not None else book_chapters(root)
    by_doc = {c.doc: c for c in chapters}
    tracks = []
    for track in _load_tracks(root):
        days = []
        for d, day in enumerate(track["days"], start=1):
            clock = _minutes(day.get("start", "09:00"))
            items = []
            for entry in day["items"]:
                m = re.fullmatch(r"(break|lunch)\s+(\d+)", str(entry).strip())
                if m:
                    item = {"kind": m.group(1), "title": m.group(1).capitalize(), "teaching": 0,
                            "exercises": 0, "minutes": int(m.group(2))}
                else:
                    if entry not in by_doc:
                        raise ValueError(f"track {track['name']!r} lists {entry!r}, which is not a chapter with an "
                                         f"overview block (known: {sorted(by_doc)})")
                    ch = by_doc[entry]
                    item = {"kind": "chapter", "doc": entry, "title": ch.title, "part": ch.part,
                            "teaching": ch.overview.teaching, "exercises": ch.overview.exercises,
                            "minutes": ch.overview.minutes}
                item["start"] = _clock(clock)
                clock += item["minutes"]
                items.append(item)
            days.append({"day": d, "items": items, "end": _clock(clock),
                         "teaching": sum(i["teaching"] for i in items),
                         "exercises": sum(i["exercises"] for i in items),
                         "minutes": sum(i["minutes"] for i in items)})
        tracks.append({"name": track["name"], "slug": track["slug"], "description": track.get("description", ""),
                       "days": days, "minutes": sum(d["minutes"] for d in days),
                       "teaching": sum(d["teaching"] for d in days), "exercises": sum(d["exercises"] for d in days)})
    return tracks


def _minutes(hhmm: str) -> int:
    h, m = str(hhmm).split(":")
    return int(h) * 60 + int(m)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _hours(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d} min"


def schedule_markdown(tracks: list[dict]) -> str:
    """The schedule as Markdown: one table per day of each track, with totals."""
    out = ["# Workshop schedule", "",
           "Generated by `make workshop` from the chapters' overview blocks and `workshop/tracks.yml`: the minutes "
           "are the chapters' own estimates of live teaching and of exercise time.", ""]
    for t in tracks:
        out += [f"## {t['name']}", "", t["description"], "",
                f"In total {_hours(t['minutes'])}: {t['teaching']} minutes of teaching, {t['exercises']} minutes of "
                f"exercises, and breaks.", ""]
        for day in t["days"]:
            if len(t["days"]) > 1:
                out += [f"### Day {day['day']}", ""]
            out += ["| start | session | teaching | exercises |", "|---|---|---:|---:|"]
            for i in day["items"]:
                if i["kind"] == "chapter":
                    out.append(f"| {i['start']} | {i['title']} (`{i['doc']}`) | {i['teaching']} | {i['exercises']} |")
                else:
                    out.append(f"| {i['start']} | *{i['title']}* | | ({i['minutes']} min) |")
            out += [f"| {day['end']} | *end* | **{day['teaching']}** | **{day['exercises']}** |", ""]
    return "\n".join(out)


# ---- instructor notes -------------------------------------------------------------------------------

def instructor_notes(chapters: list[Chapter]) -> str:
    """Per chapter: timing, objectives, the chapter's instructor cell and the common mistakes of its exercises."""
    from ..exercises import get

    out = ["# Instructor notes", "",
           "Generated from the chapters by `make workshop`. Each chapter lists its timing and objectives, the notes "
           "its authors wrote for instructors (what to demo live, where learners get stuck), and the mistakes its "
           "exercise checkers recognise: the common errors to watch for in the room.", ""]
    part = None
    for ch in chapters:
        if ch.part != part:
            part = ch.part
            out += [f"## {part}", ""]
        ov = ch.overview
        out += [f"### {ch.title}", "",
                f"*Notebook* `{ch.doc}.ipynb`. *Time:* {ov.teaching} min teaching, {ov.exercises} min exercises.", "",
                "**Objectives**", "", *[f"- {o}" for o in ov.objectives], ""]
        for note in ch.instructor_notes:
            body = re.sub(r"^:::\{[^}]*\}.*$|^:::\s*$|^:class:.*$", "", note, flags=re.M).strip()
            out += [body, ""]
        if ch.exercise_ids:
            out += ["**Exercises and the mistakes their checkers recognise**", ""]
            for ex_id in ch.exercise_ids:
                ex = get(ex_id)
                out.append(f"- `{ex_id}`, {ex.title}:")
                out += [f"  - {m.hint}" for m in ex.mistakes]
            out.append("")
    return "\n".join(out)


# ---- slides -----------------------------------------------------------------------------------------

_ROLE = re.compile(r"\{([\w:-]+)\}`([^`]*)`")
_FENCE = re.compile(r"^(:{3,}|`{3,})\{([\w-]+)\}[ \t]*(.*?)\n(.*?)^\1[ \t]*$", re.M | re.S)


def _glued(nb: dict) -> dict[str, str]:
    values = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                values[name] = "".join(out.get("data", {}).get("text/plain", ""))
    return values


def _myst_to_markdown(text: str, glued: dict[str, str]) -> str:
    """Reduce the MyST the chapters use to CommonMark + TeX that a slide can show."""

    def role(m):
        name, body = m.group(1), m.group(2)
        if name.startswith("glue"):
            key, _, spec = body.partition(":")
            raw = glued.get(key.strip(), key)
            try:
                return format(float(raw.strip("'\"")), spec) if spec else raw.strip("'\"")
            except ValueError:
                return raw.strip("'\"")
        if name.startswith("cite"):
            return ""
        if name == "math":
            return f"${body}$"
        label = re.sub(r"\s*<[^>]*>$", "", body)
        return f"*{label}*" if name in ("doc", "ref", "numref", "term") else label

    def fence(m):
        name, arg, body = m.group(2), m.group(3).strip(), m.group(4)
        body = re.sub(r"^:[\w-]+:.*\n", "", body, flags=re.M)
        if name == "math":
            return f"$$\n{body.strip()}\n$$\n"
        title = arg or name.capitalize()
        return f"<div class=\"box\"><p class=\"box-title\">{html.escape(title)}</p>\n\n{body}\n</div>\n"

    text = re.sub(r"^\(([\w-]+)\)=\s*$", "", text, flags=re.M)  # labels
    text = _FENCE.sub(fence, text)
    text = re.sub(r" \{cite:[pt]\}`[^`]*`", "", text)
    return _ROLE.sub(role, text)


def _render_markdown(text: str) -> str:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.use(dollarmath_plugin, double_inline=True)
    md.add_render_rule("math_inline", lambda self, tokens, idx, options, env:
                       "\\(" + html.escape(tokens[idx].content) + "\\)")
    md.add_render_rule("math_block", lambda self, tokens, idx, options, env:
                       "<div class=\"math\">\\[" + html.escape(tokens[idx].content) + "\\]</div>\n")
    md.add_render_rule("amsmath", lambda self, tokens, idx, options, env:
                       "<div class=\"math\">\\[" + html.escape(tokens[idx].content) + "\\]</div>\n")
    return md.render(text)


def _render_code_cell(cell: dict) -> str:
    parts = [f"<pre class=\"code\"><code>{html.escape(_source(cell))}</code></pre>"]
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if out.get("metadata", {}).get("scrapbook"):
            continue
        if "image/png" in data:
            alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "figure")
            png = "".join(data["image/png"]).replace("\n", "")
            parts.append(f"<img class=\"figure\" alt=\"{html.escape(alt)}\" src=\"data:image/png;base64,{png}\">")
        elif out.get("output_type") == "stream":
            parts.append(f"<pre class=\"output\">{html.escape(''.join(out.get('text', '')))}</pre>")
        elif "text/plain" in data:
            parts.append(f"<pre class=\"output\">{html.escape(''.join(data['text/plain']))}</pre>")
    return "\n".join(parts)


_SLIDE_CSS = """
.reveal { font-family: system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 24px; }
.reveal .slides > section > section { max-height: 780px; overflow-y: auto; }
.reveal h1, .reveal h2, .reveal h3 { font-family: inherit; text-transform: none; }
.reveal section { text-align: left; }
.reveal pre.code, .reveal pre.output { width: 100%; font-size: 0.5em; max-height: 420px; overflow: auto;
  box-shadow: none; border: 1px solid #ddd; background: #f7f7f7; padding: 0.4em; white-space: pre; }
.reveal pre.output { background: #fff; }
.reveal img.figure { max-height: 460px; border: 0; }
.reveal .box { border-left: 6px solid #0072B2; padding: 0.2em 0.8em; background: #f3f8fc; font-size: 0.8em; }
.reveal .box-title { font-weight: bold; margin: 0.2em 0; }
.reveal table { font-size: 0.6em; }
.reveal .part-title { color: #0072B2; }
"""


def slides_html(part: str, chapters: list[Chapter], vendor: str = "vendor") -> str:
    """One reveal.js deck: a title slide for the part, then per chapter a title slide and its ``slide`` cells."""
    sections = [f"<section><h1 class=\"part-title\">{html.escape(part)}</h1>"
                f"<p>lossbook workshop: {len(chapters)} chapters</p></section>"]
    for ch in chapters:
        glued = _glued(ch.nb)
        inner = [f"<section><h2>{html.escape(ch.title)}</h2><ul>"
                 + "".join(f"<li>{html.escape(q)}</li>" for q in ch.overview.questions) + "</ul></section>"]
        for cell in ch.nb["cells"]:
            if "slide" not in _tags(cell):
                continue
            if cell["cell_type"] == "markdown":
                body = _render_markdown(_myst_to_markdown(_source(cell), glued))
            else:
                body = _render_code_cell(cell)
            inner.append(f"<section>{body}</section>")
        sections.append("<section>" + "\n".join(inner) + "</section>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(part)}: lossbook workshop slides</title>
<link rel="stylesheet" href="{vendor}/reveal.js/reset.css">
<link rel="stylesheet" href="{vendor}/reveal.js/reveal.css">
<link rel="stylesheet" href="{vendor}/reveal.js/theme/white.css">
<style>{_SLIDE_CSS}</style>
<script>window.MathJax = {{ tex: {{ inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]] }},
  startup: {{ typeset: true }} }};</script>
<script defer src="{vendor}/mathjax/tex-mml-chtml.js"></script>
</head><body><div class="reveal"><div class="slides">
{chr(10).join(sections)}
</div></div>
<script src="{vendor}/reveal.js/reveal.js"></script>
<script>Reveal.initialize({{ hash: true, slideNumber: true, width: 1280, height: 800 }});</script>
</body></html>
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---- the whole kit ----------------------------------------------------------------------------------

def build(root: str | pathlib.Path = ".", out: str | pathlib.Path = "_build/workshop", wheel: pathlib.Path | None = None,
          pdf: pathlib.Path | None = None) -> dict:
    """Write the kit into ``out`` (emptied first) and return a summary (counts and totals).

    ``wheel``: a built lossbook wheel to include for offline installs (optional).
    ``pdf``: the PDF edition to include as ``lossbook.pdf``, for printing the chapters a track uses; by default
    ``_build/pdf/lossbook.pdf`` when ``make pdf`` has built it. The kit carries the **whole book** rather than a
    PDF per track: one XeLaTeX build serves every track, the chapters keep their numbers and cross-references,
    and the schedule names the chapters to print.
    """
    root, out = pathlib.Path(root).resolve(), pathlib.Path(out).resolve()
    if out == root or root not in out.parents:
        raise ValueError(f"`out` must be a folder inside the repository, got {out}")
    chapters = book_chapters(root)
    if out.exists():
        shutil.rmtree(out)
    (out / "student").mkdir(parents=True)
    (out / "instructor").mkdir()
    (out / "slides").mkdir()
    students = []
    for ch in chapters:
        dest = pathlib.PurePosixPath(ch.doc)
        full = out / "instructor" / "notebooks" / f"{dest}.ipynb"
        full.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ch.path, full)
        if ch.exercise_ids:
            s = out / "student" / f"{dest}.ipynb"
            s.parent.mkdir(parents=True, exist_ok=True)
            s.write_text(json.dumps(student_notebook(ch), indent=1, ensure_ascii=False) + "\n")
            students.append(s)
    tracks = schedule(root, chapters)
    (out / "instructor" / "schedule.md").write_text(schedule_markdown(tracks))
    (out / "instructor" / "notes.md").write_text(instructor_notes(chapters))
    # slides, with local copies of reveal.js and MathJax
    vendor = out / "slides" / "vendor"
    shutil.copytree(root / "workshop" / "vendor" / "reveal.js", vendor / "reveal.js")
    mathjax = root / "_static" / "mathjax"
    if not mathjax.exists():
        raise FileNotFoundError(f"{mathjax} is missing: the slides use the book's vendored MathJax")
    shutil.copytree(mathjax, vendor / "mathjax")
    decks = []
    parts = list(dict.fromkeys(c.part for c in chapters))
    for n, part in enumerate(parts, start=1):
        deck = out / "slides" / f"{n}-{_slug(part)}.html"
        deck.write_text(slides_html(part, [c for c in chapters if c.part == part]))
        decks.append(deck)
    readme = (root / "workshop" / "README.md").read_text().replace("{repository_url}", _repository_url(root))
    (out / "README.md").write_text(readme)
    if wheel is not None:
        (out / "wheels").mkdir()
        shutil.copyfile(wheel, out / "wheels" / wheel.name)
    pdf = pathlib.Path(pdf) if pdf is not None else root / "_build" / "pdf" / "lossbook.pdf"
    if pdf.exists():
        shutil.copyfile(pdf, out / "lossbook.pdf")
    archive = out / "lossbook-workshop.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(out.rglob("*")):
            if f.is_file() and f != archive:
                z.write(f, pathlib.Path("lossbook-workshop") / f.relative_to(out))
    return {
        "chapters": len(chapters),
        "student_notebooks": [str(s.relative_to(out)) for s in students],
        "exercises": sum(len(c.exercise_ids) for c in chapters),
        "decks": [str(d.relative_to(out)) for d in decks],
        "tracks": {t["name"]: t["minutes"] for t in tracks},
        "zip": str(archive.relative_to(out)),
        "pdf": "lossbook.pdf" if (out / "lossbook.pdf").exists() else None,
    }


def _repository_url(root: pathlib.Path) -> str:
    """The book's repository, as set (in one place) in ``_config.yml``."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text())
    return str(config.get("repository", {}).get("url", "")).rstrip("/")
