"""The website: it builds with zero warnings, and works offline in a real browser.

One module on purpose (pytest-xdist's ``--dist loadfile`` keeps it on one worker): the ``site`` fixture builds
the book once, then headless Chromium (driven by playwright, with every ``http(s)://`` request aborted and
recorded) opens every page of ``_toc.yml`` from ``file://`` and the tests check, page by page, that

- no remote script, style, font or image is requested, and no JavaScript error occurs;
- the maths is typeset by MathJax (served from ``_static/mathjax``) and no raw TeX is left;
- every figure loads; no table is wider than the text column unless it scrolls inside its own box;
- every internal link resolves (file and anchor); each chapter notebook is offered for download;
- search finds "cross entropy".

``LOSSBOOK_SITE_BUILT=1`` reuses an existing ``_build/html`` instead of building (for quick local runs).
Chromium: Debian's ``chromium`` package (``apt-get install -y chromium``), or set ``LOSSBOOK_CHROMIUM``.
"""
import functools
import os
import pathlib
import re
import shutil
import subprocess
import sys
import urllib.parse

import pytest
from test_notebooks import toc_files

ROOT = pathlib.Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
PAGES = toc_files()
NOTEBOOK_PAGES = [p for p in PAGES if (ROOT / f"{p}.ipynb").exists()]
PDF_NAME = "lossbook.pdf"  # the PDF edition, at the site's root

INSTALL_HINT = (
    "headless Chromium is needed for the site's browser tests and was not found. Install it with "
    "`sudo apt-get update && sudo apt-get install -y chromium` (Debian/Ubuntu; `make test` does this itself "
    "when it runs as root), or point LOSSBOOK_CHROMIUM at a Chromium/Chrome executable. The Python driver is "
    "the pinned `playwright` package of requirements.txt (its own browser download is not used)."
)

# TeX that MathJax would have replaced: display/inline delimiters and environments left as text.
_RAW_TEX = re.compile(r"\\\[|\\\(|\$\$|\\begin\{[a-z]+\*?\}|\\(?:frac|sum|log|exp|mathbb|mathrm|operatorname)\b")


def raw_tex(text):
    """The fragments of raw TeX in a page's visible text (its prose and maths, not its code blocks)."""
    return sorted({m.group(0) for m in _RAW_TEX.finditer(text)})


# ----------------------------------------------------------------------------------------------- the build
@pytest.fixture(scope="module")
def site():
    if os.environ.get("LOSSBOOK_SITE_BUILT") == "1" and (HTML / "index.html").exists():
        return HTML
    jb = pathlib.Path(sys.executable).parent / "jupyter-book"
    out = subprocess.run(
        # --all re-reads every page, so warnings of unchanged pages are reported too.
        [str(jb), "build", str(ROOT), "--all", "-W", "-n", "--keep-going"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    # Sphinx's own warnings look like "path:line: WARNING: ..." (other log lines do not).
    warnings = re.findall(r"^.*: (?:WARNING|ERROR): .*$", log, re.M)
    assert not warnings, "\n".join(warnings)
    return HTML


def test_site_builds_a_page_for_every_toc_entry(site):
    for f in PAGES:
        assert (site / f"{f}.html").exists(), f"no page built for {f}"
    assert (site / "genindex.html").exists()
    assert (site / "search.html").exists()


_TAG = re.compile(r"<(script|link|img)\b([^>]*)>", re.I)
_ATTR = re.compile(r"""\b(src|href|rel)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.I)


def remote_resources(html):
    """The remote scripts, stylesheets (or preloads) and images a page's HTML asks for.

    A regular-expression scan of the tags (the pages are Sphinx's own well-formed output): it reads the 33 pages
    in well under a second, where a full HTML parse took over ten.
    """
    found = []
    for tag, attrs in _TAG.findall(html):
        a = {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(attrs)}
        url = a.get("src") if tag.lower() in ("script", "img") else a.get("href")
        if not url or not re.match(r"(https?:)?//", url):
            continue
        if tag.lower() == "link" and not ("stylesheet" in a.get("rel", "") or "preload" in a.get("rel", "")):
            continue
        found.append(f"{tag.lower()} {url}")
    return found


def test_remote_resource_scan_finds_remote_tags():
    html = ('<script src="https://cdn.example/x.js"></script><link rel="stylesheet" href="//fonts.example/a.css">'
            '<img src=\'http://example/p.png\'><link rel="canonical" href="https://example/page">'
            '<script src="_static/local.js"></script>')
    assert remote_resources(html) == ["script https://cdn.example/x.js", "link //fonts.example/a.css",
                                      "img http://example/p.png"]


def test_no_remote_script_style_or_font_in_the_html(site):
    """Static check of every built page: scripts, styles and fonts are all local."""
    offenders = []
    for page in sorted(site.rglob("*.html")):
        if "_static" in page.parts:
            continue
        offenders += [f"{page.relative_to(site)}: {r}" for r in remote_resources(page.read_text(encoding="utf-8"))]
    assert not offenders, "\n".join(offenders)


def test_mathjax_is_vendored_with_its_licence(site):
    mj = site / "_static" / "mathjax"
    assert (mj / "tex-mml-chtml.js").exists()
    assert "Apache License" in (mj / "LICENSE").read_text()
    assert list((mj / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    page = (site / "chapters" / "regression" / "huber.html").read_text(encoding="utf-8")
    # Only MathJax's entry point is on the page (it loads what else it needs), and no thebe.
    assert page.count("_static/mathjax/") == 1, re.findall(r'src="[^"]*mathjax[^"]*"', page)
    assert "thebe" not in page.lower()


# ----------------------------------------------------------------------------------------------- the browser
# Where macOS keeps the browsers (GitHub's macOS runners ship Google Chrome).
MAC_BROWSERS = ("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
                "/Applications/Chromium.app/Contents/MacOS/Chromium")


def _chromium_path():
    if os.environ.get("LOSSBOOK_CHROMIUM"):  # an explicit choice is used as it is, or reported missing
        return os.environ["LOSSBOOK_CHROMIUM"] if pathlib.Path(os.environ["LOSSBOOK_CHROMIUM"]).exists() else None
    for candidate in (shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome"),
                      *(MAC_BROWSERS if sys.platform == "darwin" else ())):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    return None


def _no_browser():
    """Mandatory on Linux (fail with how to install it); on macOS, skip with a clear message."""
    if sys.platform == "darwin":
        pytest.skip("no Google Chrome or Chromium in /Applications (nor LOSSBOOK_CHROMIUM): the site's browser tests "
                    "are skipped on macOS; they are mandatory on Linux. Install Chrome to run them here.")
    pytest.fail(INSTALL_HINT, pytrace=False)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the pinned environment has it
        pytest.fail("the `playwright` package is missing: `.venv/bin/pip install -r requirements.txt`. "
                    + INSTALL_HINT, pytrace=False)
    exe = _chromium_path()
    if exe is None:
        _no_browser()
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage"])
    except Exception as err:  # noqa: BLE001 - show how to fix it, whatever went wrong
        pw.stop()
        pytest.fail(f"Chromium at {exe} did not start ({err}). " + INSTALL_HINT, pytrace=False)
    yield b
    b.close()
    pw.stop()


class Visit:
    """One page opened offline: what it requested, what went wrong, and what it shows."""

    def __init__(self):
        self.remote = []      # http(s) requests attempted (all aborted)
        self.failed = []      # local resources that failed to load
        self.errors = []      # uncaught JavaScript exceptions and console errors
        self.info = {}        # facts measured in the page


_PAGE_FACTS = """
async () => {
  const out = {};
  const mathNodes = [...document.querySelectorAll('.math')];
  out.mathCount = mathNodes.length;
  if (mathNodes.length && window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, new Promise(r => setTimeout(r, 20000))]);
  }
  out.mathjaxLoaded = !!(window.MathJax && MathJax.version);
  out.untypeset = mathNodes.filter(n => !n.querySelector('mjx-container')).map(n => n.textContent.slice(0, 80));
  out.mathErrors = [...document.querySelectorAll('mjx-merror')].map(n => n.getAttribute('data-mjx-error') || n.textContent);
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  // Visible prose and maths, without code blocks and cell outputs (which may legitimately show backslashes).
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, .cell_output, script, mjx-assistive-mml').forEach(n => n.remove());
  out.text = clone.innerText;
  const col = article.getBoundingClientRect();
  out.columnWidth = col.width;
  out.wideTables = [];
  for (const t of article.querySelectorAll('table')) {
    const r = t.getBoundingClientRect();
    if (r.right <= col.right + 1 && r.left >= col.left - 1) continue;
    // Allowed only when an ancestor inside the column scrolls it.
    let scroller = null;
    for (let a = t.parentElement; a && a !== article; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if ((ox === 'auto' || ox === 'scroll') && a.getBoundingClientRect().right <= col.right + 1) { scroller = a; break; }
    }
    if (!scroller) out.wideTables.push({width: Math.round(r.width), column: Math.round(col.width),
                                        head: t.innerText.slice(0, 60)});
  }
  out.tableWidths = [...article.querySelectorAll('table')].map(t => Math.round(t.getBoundingClientRect().width));
  out.images = [...document.querySelectorAll('article img')].map(i => ({src: i.getAttribute('src'),
      ok: i.complete && i.naturalWidth > 0}));
  out.links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  return out;
}
"""


class Tab:
    """One browser tab that opens page after page, every remote request aborted and recorded.

    Navigating one tab is about a third faster than opening a new tab per page (no new renderer process, the
    theme's scripts and MathJax already compiled). Whatever the tab reports is filed under the current visit.
    """

    def __init__(self, context):
        self.page = context.new_page()
        self.visit = Visit()
        self.page.route(re.compile(r"^(https?|wss?)://"), self._block)
        self.page.on("pageerror", lambda exc: self.visit.errors.append(f"uncaught: {exc}"))
        self.page.on("console", lambda msg: self.visit.errors.append(f"console.{msg.type}: {msg.text}")
                     if msg.type == "error" else None)
        self.page.on("requestfailed", lambda req: self.visit.failed.append(f"{req.url} ({req.failure})")
                     if req.url.startswith("file:") else None)

    def _block(self, route):
        self.visit.remote.append(route.request.url)
        route.abort()

    def open(self, url, *, facts=True):
        # Leave the previous page first, so nothing it was still loading is reported against this one.
        self.page.goto("about:blank")
        self.visit = Visit()
        self.page.goto(url, wait_until="load")
        if facts:
            self.visit.info = self.page.evaluate(_PAGE_FACTS)
        return self.visit

    def close(self):
        self.page.close()


def _visit(context, url, *, facts=True):
    """Open ``url`` in a new tab of ``context``; return (visit, page) for further checks (close the page after)."""
    tab = Tab(context)
    return tab.open(url, facts=facts), tab.page


@pytest.fixture(scope="module")
def desktop(browser):
    """One laptop-sized browser context shared by the desktop checks."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    yield context
    context.close()


@pytest.fixture(scope="module")
def visits(site, desktop):
    """Open each page of the book once (lazily, all in one tab) and keep what was seen."""
    cache = {}
    tab = Tab(desktop)

    def get(name):
        if name not in cache:
            cache[name] = tab.open((site / f"{name}.html").as_uri())
        return cache[name]

    yield get
    tab.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_is_offline_and_error_free(visits, name):
    v = visits(name)
    assert not v.remote, f"{name} requested remote resources (blocked): {v.remote}"
    assert not v.failed, f"{name}: local resources failed to load: {v.failed}"
    assert not v.errors, f"{name}: JavaScript errors: {v.errors}"


@pytest.mark.parametrize("name", PAGES)
def test_maths_is_typeset(visits, name):
    info = visits(name).info
    if info["mathCount"]:
        assert info["mathjaxLoaded"], f"{name} has {info['mathCount']} formulas but MathJax did not load"
    assert not info["untypeset"], f"{name}: formulas left untypeset: {info['untypeset'][:5]}"
    assert not info["mathErrors"], f"{name}: MathJax errors: {info['mathErrors'][:5]}"
    assert not raw_tex(info["text"]), f"{name}: raw TeX left in the page: {raw_tex(info['text'])}"


@pytest.mark.parametrize("name", PAGES)
def test_figures_load(visits, name):
    broken = [i["src"] for i in visits(name).info["images"] if not i["ok"]]
    assert not broken, f"{name}: images that did not load: {broken}"


@pytest.mark.parametrize("name", PAGES)
def test_tables_fit_the_column_or_scroll(visits, name):
    wide = visits(name).info["wideTables"]
    assert not wide, f"{name}: tables wider than the text column, not scrolling in their own box: {wide}"


_ID = re.compile(r"""<[a-zA-Z][^>]*?\sid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_A_NAME = re.compile(r"""<a\s[^>]*?\bname\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


def ids_in(html):
    """The anchors a page defines: its ``id`` attributes and old-style ``<a name>``, read by regular
    expressions over Sphinx's well-formed output (a full HTML parse of every linked page took about 10 s)."""
    return frozenset(a or b for a, b in _ID.findall(html) + _A_NAME.findall(html))


def test_anchor_scan_agrees_with_an_html_parser(site):
    from bs4 import BeautifulSoup

    html = (site / "chapters" / "regression" / "huber.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    parsed = {t["id"] for t in soup.find_all(id=True)} | {t["name"] for t in soup.find_all("a", attrs={"name": True})}
    assert len(parsed) > 20 and ids_in(html) == parsed
    assert ids_in('<p class="x" id="a-1">t</p><a name=\'old\'></a><meta name="viewport">') == {"a-1", "old"}


@functools.cache
def _ids(path):
    return ids_in(path.read_text(encoding="utf-8"))


def broken_internal_links(page_path, hrefs):
    bad = []
    for href in hrefs:
        parts = urllib.parse.urlsplit(href)
        if parts.scheme or href.startswith("//") or href.startswith("mailto:"):
            continue
        target = page_path if not parts.path else (page_path.parent / urllib.parse.unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            if target == (HTML / PDF_NAME).resolve():
                continue  # the PDF edition: `make pdf` builds it, the Pages workflow publishes it beside the site
            bad.append(f"{href} (no file {target})")
            continue
        frag = urllib.parse.unquote(parts.fragment)
        if frag and target.suffix == ".html" and frag not in _ids(target):
            bad.append(f"{href} (no anchor #{frag})")
    return bad


@pytest.mark.parametrize("name", PAGES)
def test_internal_links_resolve(site, visits, name):
    bad = broken_internal_links(site / f"{name}.html", visits(name).info["links"])
    assert not bad, f"{name}: broken internal links: {bad}"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_chapter_offers_its_notebook_for_download(site, visits, name):
    stem = pathlib.Path(name).name
    downloads = [h for h in visits(name).info["links"] if h.split("?")[0].endswith(f"_sources/{name}.ipynb")]
    assert downloads, f"{name}: no download link to {stem}.ipynb"
    assert (site / "_sources" / f"{name}.ipynb").exists()


@pytest.mark.parametrize("query", ["cross entropy", "交叉熵"])
def test_search_finds_cross_entropy(site, desktop, query):
    """Offline search works, in English and for the glossary's Chinese terms."""
    url = (site / "search.html").as_uri() + "?q=" + urllib.parse.quote_plus(query)
    visit, page = _visit(desktop, url, facts=False)
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=30000)
        hits = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
    finally:
        page.close()
    assert hits, f"search for {query!r} found nothing"
    if query == "交叉熵":
        assert any("glossary" in h for h in hits), hits
    assert not visit.remote, visit.remote
    assert not [e for e in visit.errors if "uncaught" in e], visit.errors


def test_catalogue_is_a_compact_cheat_sheet(site, desktop):
    """One card per loss, inside the column at laptop width, no generating code shown, a jump link per loss."""
    import lossbook

    names = [info.name for info in lossbook.catalogue()]
    visit, page = _visit(desktop, (site / "chapters/appendices/catalogue.html").as_uri())
    try:
        cards = page.evaluate("""() => {
            const col = document.querySelector('article.bd-article').getBoundingClientRect();
            return [...document.querySelectorAll('article .cell_output dl')].map(d => {
                const r = d.getBoundingClientRect();
                return {name: d.querySelector('dt').innerText.trim(), inside: r.right <= col.right + 1 && r.left >= col.left - 1};
            });
        }""")
        shown_code = page.evaluate(
            "() => [...document.querySelectorAll('article .cell_input')].filter(e => e.offsetParent !== null)"
            ".map(e => e.innerText).filter(t => t.includes('catalogue_'))")
    finally:
        page.close()
    assert sorted(c["name"] for c in cards) == sorted(names), "the catalogue should have one card per loss"
    assert all(c["inside"] for c in cards), [c["name"] for c in cards if not c["inside"]]
    assert not visit.info["wideTables"]
    assert not shown_code, f"the code that generates the cards is shown: {shown_code}"
    jumps = [h for h in visit.info["links"] if h.startswith("#catalogue-")]
    assert {h[len("#catalogue-"):].replace("-", "_") for h in jumps} >= set(names), "a loss has no jump link"


PHONE_PAGES = ["intro", "chapters/regression/huber", "chapters/appendices/catalogue", "chapters/appendices/glossary"]

_PHONE_FACTS = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  theme: document.documentElement.dataset.theme,
  backgrounds: [...document.querySelectorAll('article img')].map(i => getComputedStyle(i).backgroundColor),
})"""


@pytest.fixture(scope="module")
def phone(site, browser):
    """Each phone page opened once at 390 x 844 px: its facts in light mode, then, after the system switches to
    dark (the theme follows ``prefers-color-scheme`` live), in dark mode."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="light")
    tab = Tab(context)
    cache = {}

    def get(name):
        if name not in cache:
            tab.page.emulate_media(color_scheme="light")
            tab.open((site / f"{name}.html").as_uri(), facts=False)
            facts = {"light": tab.page.evaluate(_PHONE_FACTS)}
            tab.page.emulate_media(color_scheme="dark")
            tab.page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'", timeout=10000)
            facts["dark"] = tab.page.evaluate(_PHONE_FACTS)
            cache[name] = facts
        return cache[name]

    yield get
    context.close()


@pytest.mark.parametrize("name", PHONE_PAGES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_page_fits_a_phone_screen(phone, name, scheme):
    """At 390 px (a phone) the page does not scroll sideways; in dark mode figures get a light background."""
    facts = phone(name)[scheme]
    assert facts["overflow"] <= 1, f"{name} at 390 px scrolls sideways by {facts['overflow']} px"
    assert facts["theme"] == scheme
    if scheme == "dark":
        assert all(b not in ("rgba(0, 0, 0, 0)", "transparent") for b in facts["backgrounds"]), facts["backgrounds"]


# ------------------------------------------------- the checks must be able to fail (proved on broken input)
def test_raw_tex_detection():
    assert raw_tex(r"the loss \[\begin{split}L = \frac{1}{N}\sum_i\end{split}\]")
    assert raw_tex(r"inline \(x^2\) maths")
    assert not raw_tex("typeset maths shows as L = 1/N Σ (y − ŷ)², and code lives in <pre> blocks")


def test_untypeset_maths_is_detected_when_mathjax_is_missing(site, desktop):
    """A copy of a page whose MathJax path is broken must fail the maths checks."""
    src = site / "chapters" / "regression" / "huber.html"
    broken = src.with_name("_broken_mathjax_probe.html")
    broken.write_text(src.read_text(encoding="utf-8").replace("mathjax/tex-mml-chtml.js", "mathjax/missing.js"),
                      encoding="utf-8")
    try:
        visit, page = _visit(desktop, broken.as_uri())
        page.close()
    finally:
        broken.unlink()
    info = visit.info
    assert info["mathCount"] > 0
    assert not info["mathjaxLoaded"]
    assert info["untypeset"], "untypeset maths went unnoticed"
    assert raw_tex(info["text"]), "raw TeX went unnoticed"
    assert visit.failed, "the missing script went unnoticed"


def test_remote_requests_are_blocked_and_recorded(desktop, tmp_path):
    probe = tmp_path / "remote.html"
    probe.write_text('<html><head><script src="https://cdn.example.org/x.js"></script></head>'
                     '<body><table style="width:3000px"><tr><td>wide</td></tr></table></body></html>')
    visit, page = _visit(desktop, probe.as_uri())
    page.close()
    assert visit.remote == ["https://cdn.example.org/x.js"]
    assert visit.info["wideTables"], "a table wider than the page went unnoticed"


# ------------------------------------------------- Chinese text renders on any machine (issue 23)
# The glossary's Chinese terms, its title and its sidebar entry must be drawn with the book's own web font
# (_static/fonts/lossbook-cjk-sc.woff, a subset of Noto Sans CJK SC made by tools/subset_cjk_font.py), never by
# whatever CJK font the reader's system happens to have, or by none (empty boxes). Chromium tells exactly which
# font drew the glyphs of a node (DevTools' CSS.getPlatformFontsForNode): a web font is "isCustomFont". Width
# comparisons with tofu boxes cannot tell a system CJK font from the web font, this can.
CJK_TEXT = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
CJK_FONT = ROOT / "_static" / "fonts" / "lossbook-cjk-sc.woff"


def test_cjk_font_is_vendored_with_its_licence_and_covers_the_book():
    sys.path.insert(0, str(ROOT / "tools"))
    from fontTools.ttLib import TTFont
    from subset_cjk_font import cjk_characters

    assert "SIL OPEN FONT LICENSE Version 1.1" in (CJK_FONT.parent / "OFL.txt").read_text(encoding="utf-8")
    assert CJK_FONT.stat().st_size < 400_000, "the CJK subset should stay a few hundred KB at most"
    cmap = TTFont(str(CJK_FONT)).getBestCmap()
    used = cjk_characters()
    assert len(used) > 50 and "损" in used
    missing = sorted(c for c in used if ord(c) not in cmap)
    assert not missing, (f"the book uses CJK characters the web font lacks: {''.join(missing)}; run "
                         "`.venv/bin/python tools/subset_cjk_font.py` (needs fonts-noto-cjk) and commit the font")
    assert cjk_characters("a 损失 b。") == {"损", "失", "。"}


_CJK_NODES = """() => {
  const cjk = /[\\u3000-\\u303f\\u3400-\\u4dbf\\u4e00-\\u9fff\\uff00-\\uffef]/;
  const picked = [...document.querySelectorAll('dl.glossary dd strong, article h1, .bd-sidebar a')]
    .filter(e => cjk.test(e.textContent));
  picked.forEach((e, i) => e.setAttribute('data-cjk-probe', i));
  return picked.map(e => e.textContent.trim());
}"""


def fonts_for(page, selector):
    """{selector match index: [(family, custom, glyphs)]}: the fonts Chromium used for each matching node."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    out = []
    for node in cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})["nodeIds"]:
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        out.append([(f["familyName"], f["isCustomFont"], f["glyphCount"]) for f in fonts])
    cdp.detach()
    return out


def cjk_fallbacks(texts, fonts):
    """The nodes whose CJK characters were not all drawn by a web font."""
    bad = []
    for text, used in zip(texts, fonts, strict=True):
        n_cjk = len(CJK_TEXT.findall(text))
        custom = sum(g for _, is_custom, g in used if is_custom)
        if custom < n_cjk:
            bad.append(f"{text!r}: {n_cjk} CJK characters, drawn by {used}")
    return bad


def test_chinese_terms_render_with_the_books_web_font(site, desktop):
    visit, page = _visit(desktop, (site / "chapters/appendices/glossary.html").as_uri(), facts=False)
    try:
        page.evaluate("() => document.fonts.ready")
        texts = page.evaluate(_CJK_NODES)
        face = page.evaluate("""() => { const f = [...document.fonts].filter(f => f.family.includes('lossbook CJK'));
                                        return f.map(x => x.status); }""")
        checked = page.evaluate("() => document.fonts.check('16px \"lossbook CJK\"', '损失函数')")
        fonts = fonts_for(page, "[data-cjk-probe]")
        # a character the subset lacks must be caught by the same check (so that it cannot pass vacuously)
        page.evaluate("""() => { const s = document.createElement('strong'); s.textContent = '龘';
                                 s.setAttribute('data-cjk-absent', '');
                                 document.querySelector('dl.glossary dd').appendChild(s); }""")
        absent = fonts_for(page, "[data-cjk-absent]")
    finally:
        page.close()
    assert face and all(s == "loaded" for s in face), f"the CJK web font did not load: {face}"
    assert checked
    assert sum(1 for t in texts if t.startswith("术") or "损失函数" in t) >= 1 and len(texts) > 30, texts[:5]
    assert any("术语表" in t for t in texts), "the glossary's title or sidebar entry has no Chinese text"
    bad = cjk_fallbacks(texts, fonts)
    assert not bad, "Chinese text drawn by a system font or as empty boxes:\n" + "\n".join(bad[:10])
    assert cjk_fallbacks(["龘"], absent), f"a glyph missing from the web font went unnoticed: {absent}"
    assert not visit.remote, visit.remote


@pytest.mark.parametrize("name", ["intro", "chapters/regression/huber", "chapters/appendices/glossary"])
def test_page_links_to_the_pdf_edition(site, visits, name):
    """Every page's footer offers "Download the book as PDF", resolved to the PDF at the site's root."""
    links = [h for h in visits(name).info["links"] if h.endswith(PDF_NAME)]
    assert links, f"{name}: no link to the PDF edition"
    assert all((site / f"{name}.html").parent.joinpath(h).resolve() == (site / PDF_NAME).resolve() for h in links)
    assert "Download the book as PDF" in (site / f"{name}.html").read_text(encoding="utf-8")
