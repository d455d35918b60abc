"""Fit a notebook's code cells into the book's 88 characters per line (tests/test_code_width.py).

    .venv/bin/python tools/fit_code_lines.py chapters/<part>/<chapter>.ipynb [...]

Three passes over every code cell, none of which changes what the code does: a trailing comment that makes a
complete statement too long moves onto its own line above it; ruff's formatter (line length 88) breaks long
calls and literals; a string literal still too long is split into adjacent literals at a space (outside any
f-string braces) and a one-line docstring is wrapped. Read the result, then re-execute the notebook
(`make notebooks NB=...`) so that its stored outputs and execution counts stay consistent. Lines it cannot
fit are listed at the end: shorten those by hand.
"""

from __future__ import annotations

import io
import json
import pathlib
import re
import subprocess
import sys
import textwrap
import tokenize

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX = 88


def move_comments(src):
    lines = src.split("\n")
    masked = "\n".join(("#" + line) if line.lstrip().startswith(("%", "!")) else line for line in lines)
    comments = {}  # line no -> (col, text)
    depth = 0
    start_depth = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(masked).readline):
            ln = tok.start[0] - 1
            start_depth.setdefault(ln, depth)
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            if tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
            if tok.type == tokenize.COMMENT and start_depth.get(ln, 0) == 0 and depth == 0:
                comments[ln] = (tok.start[1], tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return src
    out = []
    for i, line in enumerate(lines):
        if len(line) <= MAX or i not in comments or line.lstrip().startswith(("%", "!")):
            out.append(line)
            continue
        col, text = comments[i]
        code = line[:col].rstrip()
        indent = re.match(r"\s*", line).group(0)
        body = text.lstrip("#").strip()
        wrapped = textwrap.wrap(body, width=MAX - len(indent) - 2) or [""]
        cl = [f"{indent}# {w}" for w in wrapped]
        if code.strip():
            out.extend(cl)
            out.append(code)
        else:
            out.extend(cl)
    return "\n".join(out)


LINE = re.compile(r'^(\s*)([fFrRbB]{0,2})("|\')(.*)\3(\s*[,)]*\s*)$')


def split_points(body, is_f):
    depth = 0
    pts = []
    for k, ch in enumerate(body):
        if is_f and ch == "{":
            depth += 1
        elif is_f and ch == "}":
            depth -= 1
        elif ch == " " and depth == 0 and k > 0 and body[k - 1] != "\\":
            pts.append(k + 1)  # split after the space
    return pts


def split_line(line):
    m = LINE.match(line)
    if not m or '"""' in line or "'''" in line:
        return None
    ind, pre, q, body, tail = m.groups()
    if q in body.replace("\\" + q, ""):
        return None  # more than one literal on the line
    is_f = "f" in pre.lower()
    out = []
    rest = body
    while len(ind) + len(pre) + len(rest) + 2 + len(tail) > MAX:
        budget = MAX - len(ind) - len(pre) - 2
        pts = [p for p in split_points(rest, is_f) if p <= budget]
        if not pts:
            return None
        p = pts[-1]
        out.append(rest[:p])
        rest = rest[p:]
    out.append(rest)
    if len(out) == 1:
        return None
    res = []
    for k, part in enumerate(out):
        pf = pre if (not is_f or "{" in part) else pre.replace("f", "").replace("F", "")
        res.append(f"{ind}{pf}{q}{part}{q}" + (tail if k == len(out) - 1 else ""))
    return res


def split_doc(line):
    m = re.match(r'^(\s*)("""|\'\'\')(.*)\2\s*$', line)
    if not m:
        m2 = re.match(r'^(\s*)("""|\'\'\')(.*)$', line)
        if not m2:
            return None
        ind, q, body = m2.groups()
        w = textwrap.wrap(body, width=MAX - len(ind) - 3)
        return [f"{ind}{q}{w[0]}"] + [f"{ind}{x}" for x in w[1:]]
    ind, q, body = m.groups()
    w = textwrap.wrap(body, width=MAX - len(ind) - 3)
    if len(w) < 2:
        return None
    return [f"{ind}{q}{w[0]}"] + [f"{ind}{x}" for x in w[1:-1]] + [f"{ind}{w[-1]}{q}"]


def _cells(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return nb, [c for c in nb["cells"] if c["cell_type"] == "code"]


def _set(cell, source):
    lines = source.split("\n")
    cell["source"] = [x + "\n" for x in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _write(path, nb):
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def fit(path: pathlib.Path) -> list[str]:
    nb, cells = _cells(path)
    for c in cells:
        _set(c, move_comments("".join(c["source"])))
    _write(path, nb)
    ruff = pathlib.Path(sys.executable).parent / "ruff"
    subprocess.run([str(ruff), "format", "-q", "--isolated", "--line-length", str(MAX), str(path)], check=True)
    nb, cells = _cells(path)
    left = []
    for i, c in enumerate(cells):
        new = []
        for line in move_comments("".join(c["source"])).split("\n"):
            if len(line) > MAX:
                parts = split_doc(line) or split_line(line)
                if parts:
                    new.extend(parts)
                    continue
                left.append(f"{path}: code cell {i}: {line.strip()[:70]}")
            new.append(line)
        _set(c, "\n".join(new))
    _write(path, nb)
    return left


if __name__ == "__main__":
    remaining = [line for arg in sys.argv[1:] for line in fit(pathlib.Path(arg))]
    print("\n".join(remaining) or "every code line fits")
