"""Screenshots of the built site, offline, for checking reading comfort (desktop, phone, dark mode).

Usage: .venv/bin/python tools/screenshots.py [OUT_DIR] [PAGE ...]
(defaults: /tmp/site-shots; intro, huber, catalogue, glossary). Needs `chromium` (apt-get install chromium).
The screenshots are for looking at, not for the repository.
"""
import pathlib
import re
import shutil
import sys

from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
PAGES = ["intro", "chapters/regression/huber", "chapters/appendices/catalogue", "chapters/appendices/glossary"]
VIEWS = {"desktop": (1280, 900, "light"), "phone": (390, 844, "light"), "dark": (1280, 900, "dark"),
         "phone-dark": (390, 844, "dark")}


def main(out="/tmp/site-shots", *pages):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        sys.exit("chromium not found: sudo apt-get install -y chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        for name in pages or PAGES:
            for view, (w, h, scheme) in VIEWS.items():
                ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
                ctx.route(re.compile(r"^https?://"), lambda route: route.abort())
                page = ctx.new_page()
                page.goto((HTML / f"{name}.html").as_uri(), wait_until="load")
                page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
                target = out / f"{pathlib.Path(name).name}-{view}.png"
                page.screenshot(path=str(target), full_page=False)
                for anchor in ("fig-huber-delta", "catalogue-cross-entropy", "two-definitions"):
                    if page.locator(f"#{anchor}").count():
                        page.locator(f"#{anchor}").scroll_into_view_if_needed()
                        page.screenshot(path=str(out / f"{pathlib.Path(name).name}-{view}-{anchor}.png"))
                ctx.close()
                print(target)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
