"""Repository-wide pytest hooks.

- Threads: each pytest-xdist worker, and every notebook kernel it starts, runs NumPy's BLAS and PyTorch's
  OpenMP on ``cores // workers`` threads.
- GPU cells: a notebook cell tagged ``gpu`` is skipped by nbval when no CUDA device is available, and run
  (and compared) when one is. See chapters/appendices/conventions.md.
- Time budget: the run fails when a chapter notebook takes longer than ``NOTEBOOK_BUDGET_S`` seconds (60, the
  book's rule; ``LOSSBOOK_NOTEBOOK_BUDGET_S`` overrides it), and names the notebook.
- Output comparison: nbval's cell comparison is extended so that each number may differ by one unit in its last
  shown digit (other CPUs round differently), integers and all other text must match exactly, and a cell may
  declare a looser tolerance with its reason (tests/test_comparator.py; the conventions appendix).
"""
import collections
import math
import os

import pytest


# Share the cores between pytest-xdist's workers: each worker (and every notebook kernel it starts, which inherits
# the environment) runs NumPy's BLAS and PyTorch's OpenMP on cores // workers threads. With more threads than
# cores the BLAS threads spin against each other: on 2 cores with 2 workers, one notebook took 30 s instead of 18.
# This must happen before NumPy or PyTorch is imported; an explicit setting in the environment is kept.
# (pytest's main process passes its own choice to the workers in the environment; the workers replace it.)
def usable_cores():
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (containers)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


_threads = str(max(1, usable_cores() // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
_ours = os.environ.get("_LOSSBOOK_TEST_THREADS")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    if os.environ.get(_var) in (None, _ours):
        os.environ[_var] = _threads
os.environ["_LOSSBOOK_TEST_THREADS"] = _threads


NOTEBOOK_BUDGET_S = float(os.environ.get("LOSSBOOK_NOTEBOOK_BUDGET_S", "60"))
_notebook_seconds = collections.defaultdict(float)


def notebooks_over_budget(seconds_by_notebook, budget):
    """The notebooks whose total time (kernel start, every cell, shutdown) exceeds ``budget`` seconds."""
    return {nb: s for nb, s in sorted(seconds_by_notebook.items()) if s > budget}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration        # setup, call and teardown phases


def _over_budget(config):
    if hasattr(config, "workerinput"):                    # an xdist worker: its main process judges
        return {}
    return notebooks_over_budget(_notebook_seconds, NOTEBOOK_BUDGET_S)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for nb, s in _over_budget(config).items():
        terminalreporter.write_line(f"FAILED time budget: {nb} took {s:.1f} s, over the {NOTEBOOK_BUDGET_S:g} s "
                                    "a chapter notebook may take (make it lighter or split it)", red=True)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and _over_budget(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _cell_tags(item):
    cell = getattr(item, "cell", None)
    if cell is None:
        return ()
    return tuple(cell.get("metadata", {}).get("tags", ()))


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in _cell_tags(item)]
    if not gpu_items:
        return
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="cell tagged 'gpu' and no CUDA device is available")
    for item in gpu_items:
        item.add_marker(skip)


# ------------------------------------------------------------------------------ comparing stored and fresh outputs
# nbval compares a cell's stored outputs with fresh ones character for character. The same code prints different
# last digits on another CPU (NumPy's SIMD loops, OpenBLAS's kernels and PyTorch's vectorised kernels are chosen
# per processor, and the order of a sum changes with them), so the book stores numbers at the precision its prose
# claims, and this comparison allows what that precision cannot promise and nothing more: each number may differ
# by at most one unit in its last shown digit (a value that sits on a rounding boundary), an integer must be
# equal, and every other character must match exactly. A cell whose quantity is genuinely noisy may declare a
# looser tolerance in its metadata, with its reason:
#     "lossbook": {"tolerance": {"digits": 3, "reason": "..."}}      (3 units in the last shown digit)
# See "Numbers come from code" in chapters/appendices/conventions.md.
import decimal  # noqa: E402
import re  # noqa: E402

# A number: optional sign, digits with an optional fraction (or a bare fraction), optional exponent. Not part of a
# word or of a dotted run such as a version (`float64`, `x1`, `2.4.0` stay text); a sign only where it cannot be a
# binary minus (after a letter, digit or closing bracket it is text). Atomic groups: no backtracking into a prefix.
NUMBER = re.compile(r"(?:(?<![\w.)\]])[-+\u2212])?(?<![\w.])(?>\d+(?:\.\d+)?|\.\d+)(?>[eE][-+]?\d+)?(?![\w.]*\d)")
# The outputs whose text is compared number by number (streams, text MIME types, and the same types as glued
# values: myst-nb's glue stores "application/papermill.record/text/plain"); anything else must be equal.
TEXT_TYPES = ("text/plain", "text/html", "text/markdown", "text/latex")


def is_text_output(key):
    return key in ("stdout", "stderr") or key.endswith(TEXT_TYPES)


def _is_integer(token):
    return not any(c in token for c in ".eE")


def _value(token):
    return decimal.Decimal(token.replace("\u2212", "-"))


def numbers_agree(stored, fresh, digits=1, integer_digits=0):
    """Whether two number tokens agree: integers within ``integer_digits`` (0, equal, unless a cell declares a
    tolerance), decimals within ``digits`` units of the finer of their two last shown digits."""
    if stored == fresh:
        return True
    a, b = _value(stored), _value(fresh)
    if _is_integer(stored) and _is_integer(fresh):
        return abs(a - b) <= integer_digits
    unit = decimal.Decimal(1).scaleb(min(a.as_tuple().exponent, b.as_tuple().exponent))
    return abs(a - b) <= digits * unit


def text_difference(stored, fresh, digits=1, integer_digits=0):
    """None when ``fresh`` shows what ``stored`` shows (see ``numbers_agree``), else a one-line reason."""
    if stored == fresh:
        return None
    s_lines, f_lines = stored.splitlines(), fresh.splitlines()
    if len(s_lines) != len(f_lines):
        common = min(len(s_lines), len(f_lines))
        first = next((n for n in range(common) if s_lines[n] != f_lines[n]), common)
        shown = [repr(lines[first]) if first < len(lines) else "(no line)" for lines in (s_lines, f_lines)]
        return f"{len(s_lines)} lines stored, {len(f_lines)} now; line {first + 1}: {shown[0]} stored, {shown[1]} now"
    for n, (s, f) in enumerate(zip(s_lines, f_lines, strict=True), 1):
        if s == f:
            continue
        s_text, f_text = NUMBER.split(s), NUMBER.split(f)
        s_nums, f_nums = NUMBER.findall(s), NUMBER.findall(f)
        if s_text != f_text or len(s_nums) != len(f_nums):
            return f"line {n}: text differs: {s!r} stored, {f!r} now"
        for a, b in zip(s_nums, f_nums, strict=True):
            if not numbers_agree(a, b, digits, integer_digits):
                rule = "an integer must be equal" if not integer_digits and _is_integer(a) and _is_integer(b) else \
                    f"more than {digits} unit(s) apart in the last shown digit"
                return f"line {n}: {a} stored, {b} now ({rule}): {s!r} stored, {f!r} now"
    if stored.endswith("\n") != fresh.endswith("\n"):
        return "trailing newline differs"
    return None


def cell_tolerance(cell):
    """(units in the last shown digit, units for integers) a cell allows: (1, 0) unless its metadata declares
    ``lossbook.tolerance`` with ``digits`` K, which gives (K, K)."""
    declared = cell.get("metadata", {}).get("lossbook", {}).get("tolerance")
    if declared is None:
        return 1, 0
    if not isinstance(declared.get("digits"), int) or declared["digits"] < 1 or not declared.get("reason"):
        raise ValueError('a cell\'s "lossbook": {"tolerance": ...} needs "digits" (an integer >= 1) and '
                         f'"reason" (why this quantity is noisy); got {declared!r}')
    return declared["digits"], declared["digits"]


def _flatten(item, outputs, skip):
    """The outputs as nbval compares them: {key or MIME type: [sanitised value per output]}."""
    from nbval.plugin import transform_streams_for_comparison

    flat = collections.defaultdict(list)
    for out in transform_streams_for_comparison(outputs):
        for key, value in out.items():
            if key in skip:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in skip:
                        flat[mime].append(item.sanitize(data))
            else:
                flat[key].append(item.sanitize(value))
    return flat


def outputs_difference(item, test, ref, skip):
    """None when the fresh outputs ``test`` show what the stored ``ref`` show, else why not."""
    digits, integer_digits = cell_tolerance(item.cell)
    fresh, stored = _flatten(item, test, skip), _flatten(item, ref, skip)
    if set(fresh) != set(stored):
        return f"output fields differ: {sorted(stored)} stored, {sorted(fresh)} now"
    for key, s_values in stored.items():
        f_values = fresh[key]
        if len(s_values) != len(f_values):
            return f"{len(s_values)} {key!r} outputs stored, {len(f_values)} now"
        for s, f in zip(s_values, f_values, strict=True):
            if s == f:
                continue
            if not is_text_output(key) or not isinstance(s, str) or not isinstance(f, str):
                return f"{key!r} differs"
            why = text_difference(s, f, digits, integer_digits)
            if why:
                return f"{key!r} {why}"
    return None


def _install_comparator():
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # pragma: no cover - nbval is pinned in requirements.txt
        return
    exact = IPyNbCell.compare_outputs
    if getattr(exact, "lossbook", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        if exact(self, test, ref, skip_compare):           # identical: the common, cheap case
            return True
        why = outputs_difference(self, test, ref, skip_compare or self.parent.skip_compare)
        if why is None:
            self.comparison_traceback = []
            return True
        self.comparison_traceback.insert(0, f"lossbook comparator: {why}")
        return False

    compare_outputs.lossbook = True
    IPyNbCell.compare_outputs = compare_outputs


_install_comparator()
