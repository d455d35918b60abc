"""Do the stored notebook outputs hold on other CPUs? (``make portability``)

    python tools/portability.py                       # every chapter notebook, every configuration below
    python tools/portability.py --config avx2 chapters/regression/huber.ipynb
    python tools/portability.py --probe               # what each configuration changes in a few raw results
    python tools/portability.py --list

The same code prints different last digits on different processors: NumPy's SIMD loops, OpenBLAS's kernels
and PyTorch's vectorised CPU kernels are chosen per processor at run time, and the order of a sum changes with
them. This machine can pretend to be an older one, because each library lets the environment override its
choice. Each configuration below re-executes the notebooks with strict nbval (``pytest --nbval``, the root
conftest.py's comparator: each number may differ by one unit in its last shown digit, all other text must
match) and the report lists, per notebook, the cells whose outputs moved further than that, with the reason.

A configuration that does not change anything would make this check vacuous: ``--probe`` (and
tests/test_portability.py) shows that each one changes some raw result on this machine. A configuration whose
CPU features the machine lacks is reported and skipped (you cannot emulate a newer CPU).

Exit status: 0 when every notebook passes under every configuration run, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parent.parent

# name: (what it emulates, environment). ATEN_CPU_CAPABILITY picks PyTorch's kernels (default = no SIMD, avx2,
# avx512); OPENBLAS_CORETYPE picks OpenBLAS's kernels (Haswell = AVX2, Prescott = SSE3); NPY_DISABLE_CPU_FEATURES
# turns off NumPy's dispatch targets (NumPy 2.4 names them X86_V3 = AVX2, X86_V4 = AVX-512, AVX512_ICL, ...).
CONFIGS = {
    "torch-default": (
        "PyTorch without vectorised kernels (a CPU PyTorch has no kernels for, e.g. ARM builds differ too)",
        {"ATEN_CPU_CAPABILITY": "default"},
    ),
    "avx2": (
        "an AVX2 machine without AVX-512 (most laptops, many cloud runners)",
        {"ATEN_CPU_CAPABILITY": "avx2", "OPENBLAS_CORETYPE": "Haswell",
         "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
    ),
    "sse4": (
        "an x86-64-v2 machine without AVX (NumPy's baseline, OpenBLAS's SSE3 kernels, PyTorch's scalar ones)",
        {"ATEN_CPU_CAPABILITY": "default", "OPENBLAS_CORETYPE": "Prescott",
         "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"},
    ),
}
CONFIG_VARS = ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")
# Colour codes in nbval's messages (pytest's XML writes ESC as "#x1B").
ANSI = re.compile(r"(?:\x1b|#x1B)\[[0-9;]*m")


def environment(config):
    """The process environment of a configuration (``native``: none of the override variables)."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    if config != "native":
        env.update(CONFIGS[config][1])
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


# ------------------------------------------------------------------------------------------------ the probe
def probe():
    """A few raw results whose last digits depend on the kernels chosen, as JSON-able reprs."""
    import numpy as np
    import torch
    from numpy._core._multiarray_umath import __cpu_features__

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4099).astype(np.float32)
    a = rng.standard_normal((64, 64))
    b = rng.standard_normal((96, 96)).astype(np.float32)
    t = torch.from_numpy(x)
    return {
        "torch CPU capability": torch.backends.cpu.get_cpu_capability(),
        "numpy X86_V3 (AVX2) loops": bool(__cpu_features__.get("X86_V3", False)),
        "numpy X86_V4 (AVX-512) loops": bool(__cpu_features__.get("X86_V4", False)),
        "torch log_softmax(x).sum()": repr(float(torch.log_softmax(t, 0).double().sum())),
        "torch exp(x).sum()": repr(float(torch.exp(t).double().sum())),
        "numpy exp(x).sum() (float32 exp)": repr(float(np.exp(x).astype(np.float64).sum())),
        "numpy tanh(x).sum() (float32 tanh)": repr(float(np.tanh(x).astype(np.float64).sum())),
        "OpenBLAS (A @ A)[3, 5] (float64)": repr(float((a @ a)[3, 5])),
        "OpenBLAS (B @ B).sum() (float32)": repr(float((b @ b).astype(np.float64).sum())),
    }


def run_probe(config):
    """``probe()`` in a fresh process under ``config`` (the variables are read when the libraries load)."""
    out = subprocess.run([sys.executable, __file__, "--probe-json"], env=environment(config), cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def supported(config):
    """Whether this machine can run a configuration: the x86 ones need an x86-64 CPU, and ``avx2`` one with AVX2
    (a configuration can only take features away)."""
    env = CONFIGS[config][1]
    if "OPENBLAS_CORETYPE" in env and platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if env.get("ATEN_CPU_CAPABILITY") in ("avx2", "avx512"):
        cpuinfo = pathlib.Path("/proc/cpuinfo")
        return cpuinfo.exists() and env["ATEN_CPU_CAPABILITY"] in cpuinfo.read_text().split()
    return True


# ------------------------------------------------------------------------------------------ notebooks per config
def run_config(config, notebooks, jobs):
    """Strict nbval of ``notebooks`` under ``config``: {notebook: [(cell, reason), ...]} and the seconds taken."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = pathlib.Path(tmp) / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}",
               "-o", "junit_logging=no", *(["-n", str(jobs), "--dist", "loadfile"] if jobs > 1 else ["-n", "0"]),
               *notebooks]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=environment(config), cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if not xml.exists():
            raise RuntimeError(f"pytest did not run under {config}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return parse_report(xml), seconds


def parse_report(xml):
    """{notebook: [(cell name, reason or None for a pass)]} from pytest's JUnit XML."""
    results = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        classname = case.get("classname", "")
        if not classname.endswith(".ipynb"):
            continue
        notebook = classname.removesuffix(".ipynb").replace(".", "/") + ".ipynb"
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        reason = None
        if problem is not None:
            text = ANSI.sub("", (problem.text or "") + "\n" + (problem.get("message") or ""))
            lines = [ln.strip() for ln in text.splitlines() if "lossbook comparator:" in ln]
            reason = lines[0].split("lossbook comparator:", 1)[1].strip() if lines else _first_error(text)
        results.setdefault(notebook, []).append((case.get("name", "?"), reason))
    return results


def _first_error(text):
    """The exception a cell raised (its last 'SomethingError: ...' line), or the first line that names one."""
    lines = text.splitlines()
    errors = [ln.strip() for ln in lines if re.match(r"\s*\w*(Error|Exception)\b", ln)]
    named = [ln.strip() for ln in lines if "Error" in ln]
    reason = errors[-1] if errors else named[0] if named else "failed (see pytest's output)"
    where = [ln.split("--->", 1)[1].strip() for ln in lines if "--->" in ln]
    if where and reason.rstrip(":") in ("AssertionError", "AssertionError: "):  # a bare assert: show which one
        reason = f"AssertionError at: {where[-1]}"
    return reason[:300]


def report(config, results, seconds):
    failed = {nb: [(c, r) for c, r in cells if r is not None] for nb, cells in results.items()}
    failed = {nb: cells for nb, cells in failed.items() if cells}
    label, env = CONFIGS[config] if config in CONFIGS else ("this machine as it is", {})
    print(f"\n== {config}: {label}")
    print("   " + (" ".join(f"{k}={v!r}" for k, v in env.items()) or "(no overrides)"))
    for nb in sorted(results):
        cells = failed.get(nb, [])
        print(f"   {'FAIL' if cells else 'ok  '} {nb}  ({len(results[nb]) - len(cells)}/{len(results[nb])} cells)")
        for cell, reason in cells:
            print(f"        {cell}: {reason}")
    n_cells = sum(len(c) for c in failed.values())
    print(f"   {len(failed)} notebook(s), {n_cells} cell(s) outside the comparator's tolerance; {seconds:.0f} s")
    return not failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks (default: every notebook under chapters/)")
    parser.add_argument("--config", action="append", choices=[*CONFIGS, "native"],
                        help="a configuration to run (repeatable; default: all but native)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("JOBS", "2")), help="pytest-xdist workers")
    parser.add_argument("--probe", action="store_true", help="show what each configuration changes, and stop")
    parser.add_argument("--probe-json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--list", action="store_true", help="list the configurations and stop")
    opts = parser.parse_args(argv)

    if opts.probe_json:
        print(json.dumps(probe()))
        return 0
    configs = opts.config or list(CONFIGS)
    if opts.list:
        for name, (label, env) in CONFIGS.items():
            print(f"{name:14} {label}\n{'':14} {' '.join(f'{k}={v}' for k, v in env.items())}")
        return 0
    if opts.probe:
        native = run_probe("native")
        print("native:", json.dumps(native, indent=1))
        for config in configs:
            changed = {k: v for k, v in run_probe(config).items() if v != native[k]}
            print(f"{config}: changes {json.dumps(changed, indent=1)}")
        return 0

    notebooks = opts.notebooks or sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    ok = True
    for config in configs:
        if config != "native" and not supported(config):
            print(f"\n== {config}: skipped, this CPU ({platform.machine()}) lacks the features it asks for")
            continue
        results, seconds = run_config(config, notebooks, opts.jobs)
        ok &= report(config, results, seconds)
    print("\nportability: " + ("every notebook holds under every configuration" if ok else "FAILED (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
