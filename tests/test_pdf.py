"""The PDF edition (``make pdf``, tools/pdf.py): what a reader of ``_build/pdf/lossbook.pdf`` must find in it.

A full PDF build takes minutes of XeLaTeX, so it is not part of ``make test``: ``make pdf`` builds the PDF and
then runs this file. Here, the checks of the PDF itself run when ``_build/pdf/lossbook.pdf`` exists, is newer
than every chapter and ``_toc.yml``, and poppler's ``pdftotext`` is installed; otherwise they are skipped with
the reason (run ``make pdf``). The checks of the checkers (the LaTeX log scan, the raw-TeX scan, the list of
titles and Chinese terms) always run, so that none of them can pass vacuously.
"""
import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
from test_notebooks import toc_files

ROOT = pathlib.Path(__file__).resolve().parent.parent
PDF = ROOT / "_build" / "pdf" / "lossbook.pdf"
sys.path.insert(0, str(ROOT / "tools"))
import pdf as pdf_tool  # noqa: E402  (tools/pdf.py)

SOURCES = [ROOT / "_toc.yml", ROOT / "_config.yml"] + [
    p for f in toc_files() for p in (ROOT / f"{f}.ipynb", ROOT / f"{f}.md") if p.exists()
]
# Maths delimiters that survived into the text: typeset maths never shows them. (Code listings may contain TeX,
# such as a docstring's ``.. math::`` or a Matplotlib label, so commands like \frac are not looked for.)
RAW_TEX = re.compile(r"\\\(|\$\$")
CJK = re.compile(r"[\u3400-\u9fff]+")


def titles():
    """The title of every page of _toc.yml: the first level-1 heading of its notebook or Markdown file."""
    found = {}
    for f in toc_files():
        for path in (ROOT / f"{f}.ipynb", ROOT / f"{f}.md"):
            if not path.exists():
                continue
            if path.suffix == ".ipynb":
                cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
                text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
            else:
                text = path.read_text(encoding="utf-8")
            m = re.search(r"^# (.+)$", text, re.M)
            if m:
                found[f] = m.group(1).strip()
    return found


def glossary_chinese_terms():
    """The bold Chinese terms of the glossary (each definition starts with one or more, split by ' / ')."""
    text = (ROOT / "chapters" / "appendices" / "glossary.md").read_text(encoding="utf-8")
    terms = []
    for bold in re.findall(r"\*\*([^*]+)\*\*", text):
        terms += [t.strip() for t in bold.split("/") if CJK.search(t)]
    return terms


def plain(title):
    """A title as pdftotext gives it back: MyST markup removed, spaces squeezed."""
    title = re.sub(r"\{[\w:-]+\}`([^`<]*)(?:<[^>]*>)?`", r"\1", title)
    return squeeze(title.replace("`", "").replace("*", "")).strip()


def squeeze(text):
    """Spaces squeezed, soft hyphens dropped, and LaTeX's typographic quotes (’ for ') made straight."""
    text = text.replace("\u00ad", "").replace("-\n", "-").translate(QUOTES)
    return re.sub(r"\s+", " ", text)


QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


# ------------------------------------------------------------------ the checkers themselves (always run)
def test_log_scan_finds_what_fails_a_build():
    log = ("Missing character: There is no 损 (U+635F) in font DejaVuSerif!\n"
           "LaTeX Warning: Reference `chapters/x:fig' on page 3 undefined on input line 9.\n"
           "LaTeX Warning: Citation `bishop2006' on page 4 undefined on input line 12.\n"
           "! Undefined control sequence.\n"
           "Overfull \\hbox (2.1pt too wide) in paragraph at lines 1--2\n")
    kinds = [p.split(":")[0] for p in pdf_tool.log_problems(log)]
    assert kinds == ["missing glyph", "undefined reference", "undefined citation", "LaTeX error"]
    assert pdf_tool.log_problems("Output written on lossbook.pdf (300 pages).\n") == []


def test_titles_match_latex_typographic_quotes():
    assert plain("The variational autoencoder's loss") in squeeze("35 The variational autoencoder\u2019s\nloss")
    assert plain("The variational autoencoder's loss") not in squeeze("The variational autoencoders loss")


def test_raw_tex_scan():
    assert RAW_TEX.search(r"the loss \(x^2\) and $$L$$")
    assert not RAW_TEX.search("L = 1/N Σ (ŷ − y)²  and the code prints 2.5 $ per unit, print(f(x))")


def test_every_page_has_a_title_and_the_glossary_has_chinese_terms():
    t = titles()
    assert set(t) == set(toc_files()), sorted(set(toc_files()) - set(t))
    terms = glossary_chinese_terms()
    assert len(terms) >= 20 and "损失函数" in terms and all(CJK.search(x) for x in terms)


# ------------------------------------------------------------------------------------- the PDF itself
@pytest.fixture(scope="module")
def pdf():
    if shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils (pdftotext, pdfinfo) is not installed: run `make pdf`, which installs it "
                    "with TeX, or `apt-get install -y poppler-utils`")
    if not PDF.exists():
        pytest.skip(f"{PDF.relative_to(ROOT)} has not been built: run `make pdf` (it builds the PDF with "
                    "XeLaTeX, then runs this test)")
    newest = max(SOURCES, key=lambda p: p.stat().st_mtime)
    if newest.stat().st_mtime > PDF.stat().st_mtime:
        pytest.skip(f"{PDF.relative_to(ROOT)} is older than {newest.relative_to(ROOT)}: run `make pdf` to "
                    "rebuild and test it")
    return PDF


@pytest.fixture(scope="module")
def pages(pdf):
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    return text.split("\f")


def test_page_count_is_plausible(pdf, pages):
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    chapters = len(toc_files())
    # at least a few pages per chapter, and not a run-away (a table or listing that repeats page after page)
    assert 4 * chapters <= count <= 60 * chapters, f"{count} pages for {chapters} chapters"
    assert abs(len(pages) - count) <= 1


def test_every_chapter_title_appears(pages):
    text = squeeze("\n".join(pages))
    missing = [f"{f}: {plain(t)!r}" for f, t in titles().items() if plain(t) not in text]
    assert not missing, "chapter titles not found in the PDF's text:\n" + "\n".join(missing)


def test_chapters_are_in_toc_order(pages):
    text = squeeze("\n".join(pages))
    start = text.find(plain(titles()["chapters/foundations/preface"]), len(text) // 50)  # after the contents
    position, out_of_order = start, []
    for f, t in titles().items():
        if f == "intro":
            continue
        found = text.find(plain(t), position)
        if found < 0:
            out_of_order.append(f)
        else:
            position = found
    assert not out_of_order, f"chapters not found after the one before them: {out_of_order}"


def test_no_raw_tex_on_any_page(pages):
    bad = [(n + 1, m.group(0)) for n, page in enumerate(pages) for m in RAW_TEX.finditer(page)]
    assert not bad, f"raw TeX left in the PDF (page, text): {bad[:10]}"


def test_figures_are_embedded(pdf):
    out = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    images = [line for line in out.splitlines()[2:] if line.strip()]
    figures = sum(1 for f in toc_files() if (ROOT / f"{f}.ipynb").exists()
                  for c in json.loads((ROOT / f"{f}.ipynb").read_text(encoding="utf-8"))["cells"]
                  for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert figures > 10 and len(images) >= figures, f"{len(images)} images embedded, {figures} figures stored"


def test_glossary_chinese_terms_are_in_the_text(pages):
    text = "".join("".join(p.split()) for p in pages)  # pdftotext may space CJK glyphs apart
    missing = [t for t in glossary_chinese_terms() if "".join(t.split()) not in text]
    assert not missing, f"Chinese glossary terms not found in the PDF's text: {missing}"


def test_what_the_site_folds_is_printed(pages):
    """Print has no dropdowns: a solution's code follows its exercise, and the full implementation is printed."""
    text = squeeze("\n".join(pages))
    assert 'check("regression.mse.1", answer)' in text, "a solution's code is missing from the PDF"
    assert "regression.mse.1: correct." in text
    assert "def mse_loss(input, target" in text, "the folded production source is missing from the PDF"
