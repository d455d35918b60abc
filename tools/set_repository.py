"""Propagate the repository URL set in _config.yml to every place that repeats it.

The one place to change the book's repository (after forking, or when it is published) is
``repository.url`` in ``_config.yml``: the launch buttons and the repository and issues buttons read it
there. The Colab install cell of every chapter notebook and ``pyproject.toml``'s project URL repeat it;
this tool rewrites them:

    .venv/bin/python tools/set_repository.py          # rewrite every copy to _config.yml's URL
    .venv/bin/python tools/set_repository.py --check  # exit 1 and list the files that differ

Notebooks are edited as text (only the URL changes, no re-serialisation), so their stored outputs and
formatting are untouched. ``tests/test_repository_url.py`` fails when any copy differs.
"""
from __future__ import annotations

import argparse
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The Colab cell installs the package from git: `... @ git+https://github.com/OWNER/REPO"`.
COLAB_URL = re.compile(r"git\+(https://[^\s\"'\\@]+?)(?:\.git)?(?=[\"'\\@\s])")
PYPROJECT_URL = re.compile(r'^(Homepage\s*=\s*")([^"]+)(")', re.M)


def configured_url(root: pathlib.Path = ROOT) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return str(config["repository"]["url"]).rstrip("/")


def notebooks(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    return sorted(p for p in (root / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def copies(root: pathlib.Path = ROOT) -> dict[pathlib.Path, list[str]]:
    """Every file that repeats the repository URL, with the URLs it holds now."""
    found = {}
    for nb in notebooks(root):
        urls = COLAB_URL.findall(nb.read_text(encoding="utf-8"))
        if urls:
            found[nb] = urls
    pyproject = root / "pyproject.toml"
    if pyproject.exists():
        urls = [m.group(2) for m in PYPROJECT_URL.finditer(pyproject.read_text(encoding="utf-8"))]
        if urls:
            found[pyproject] = urls
    return found


def stale(root: pathlib.Path = ROOT) -> dict[pathlib.Path, list[str]]:
    url = configured_url(root)
    return {path: [u for u in urls if u.rstrip("/") != url]
            for path, urls in copies(root).items() if any(u.rstrip("/") != url for u in urls)}


def rewrite(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Rewrite every stale copy to _config.yml's URL; return the files changed."""
    url = configured_url(root)
    changed = []
    for path in stale(root):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            new = COLAB_URL.sub(lambda m: m.group(0).replace(m.group(1), url), text)
        else:
            new = PYPROJECT_URL.sub(lambda m: m.group(1) + url + m.group(3), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the files that differ")
    parser.add_argument("--root", type=pathlib.Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    url = configured_url(args.root)
    if args.check:
        differ = stale(args.root)
        for path, urls in differ.items():
            print(f"{path.relative_to(args.root)}: {', '.join(urls)} (expected {url})")
        return 1 if differ else 0
    for path in rewrite(args.root):
        print(f"rewrote {path.relative_to(args.root)}")
    print(f"every copy of the repository URL is now {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
