"""Regenerate the book's CJK web font: a subset of Noto Sans CJK SC with exactly the glyphs the book uses.

    .venv/bin/python tools/subset_cjk_font.py [path/to/NotoSansCJK-Regular.ttc]

The site must not rely on the reader's system fonts for the glossary's Chinese terms (a Linux machine without
CJK fonts shows empty boxes), so ``_static/fonts/lossbook-cjk-sc.woff`` is vendored with its licence
(``OFL.txt``, SIL Open Font License 1.1) and ``_static/lossbook.css`` uses it for CJK characters only
(``unicode-range``). It holds every CJK character of the chapters, the intro and the table of contents, and
nothing else, so it stays small; ``tests/test_site.py`` fails when a new Chinese character is not in it. Then
run this script (it needs Debian's ``fonts-noto-cjk`` and fontTools, which the book's environment has; WOFF
with zlib, since WOFF2 would need the brotli module).
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "_static" / "fonts" / "lossbook-cjk-sc.woff"
SOURCE = pathlib.Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FAMILY = "Noto Sans CJK SC"
# CJK ideographs, CJK punctuation, full-width forms: what the book's Chinese text uses.
CJK = re.compile(r"[\u2e80-\u2fff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")


def book_text() -> str:
    """All text of the book a reader can see: chapters (Markdown, code and outputs), the intro and the toc."""
    parts = [(ROOT / "_toc.yml").read_text(encoding="utf-8"), (ROOT / "_config.yml").read_text(encoding="utf-8")]
    for path in sorted((ROOT / "chapters").rglob("*")) + [ROOT / "intro.md"]:
        if path.suffix == ".md":
            parts.append(path.read_text(encoding="utf-8"))
        elif path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts:
            parts.append(path.read_text(encoding="utf-8"))
            parts.append(json.dumps(json.loads(parts[-1]), ensure_ascii=False))  # \uXXXX escapes decoded
    return "\n".join(parts)


def cjk_characters(text: str | None = None) -> set[str]:
    return set(CJK.findall(book_text() if text is None else text))


def main(argv: list[str]) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    source = pathlib.Path(argv[0]) if argv else SOURCE
    if not source.exists():
        print(f"{source} not found: apt-get install -y fonts-noto-cjk", file=sys.stderr)
        return 2
    fonts = TTCollection(str(source)).fonts
    font = next(f for f in fonts if f["name"].getDebugName(1) == FAMILY)
    chars = cjk_characters()
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    font.flavor = "woff"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(OUT))
    print(f"{OUT.relative_to(ROOT)}: {len(chars)} characters, {OUT.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
