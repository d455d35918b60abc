"""`make portability` (tools/portability.py): its configurations really change raw results on this machine (so
the check is not vacuous), and its report reads pytest's results correctly.

The probe test starts one Python per configuration (a torch import each, ~1.5 s of CPU), so it runs under
`make portability` (``LOSSBOOK_PORTABILITY=1``) rather than in every `make test`.
"""
import importlib.util
import os
import pathlib
import platform
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("lossbook_portability", ROOT / "tools" / "portability.py")
portability = importlib.util.module_from_spec(spec)
spec.loader.exec_module(portability)

RAW = ("torch log_softmax", "torch exp", "numpy exp", "numpy tanh", "OpenBLAS")


def test_every_configuration_sets_only_known_variables():
    assert len(portability.CONFIGS) >= 2
    for name, (label, env) in portability.CONFIGS.items():
        assert label and env and set(env) <= set(portability.CONFIG_VARS), name
        full = portability.environment(name)
        assert all(full[k] == v for k, v in env.items())
    native = portability.environment("native")
    assert not set(portability.CONFIG_VARS) & set(native)
    assert native["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)


@pytest.mark.skipif(not os.environ.get("LOSSBOOK_PORTABILITY"), reason="runs under `make portability` "
                    "(LOSSBOOK_PORTABILITY=1): one Python process per configuration")
def test_each_configuration_changes_some_raw_result():
    native = portability.run_probe("native")
    runnable = [c for c in portability.CONFIGS if portability.supported(c)]
    if platform.machine().lower() in ("x86_64", "amd64"):
        assert len(runnable) >= 2, "at least two configurations must run on an x86-64 machine"
    for config in runnable:
        fresh = portability.run_probe(config)
        changed = [k for k in fresh if fresh[k] != native[k] and k.startswith(RAW)]
        assert changed, f"{config} changes no raw result: the portability check would be vacuous ({fresh})"


def test_report_reads_pytest_results(tmp_path):
    xml = tmp_path / "r.xml"
    xml.write_text(textwrap.dedent("""\
        <testsuites><testsuite>
          <testcase classname="chapters.regression.huber.ipynb" name="Cell 0"/>
          <testcase classname="chapters.regression.huber.ipynb" name="Cell 9">
            <failure message="Notebook cell execution failed">Cell 9: Cell outputs differ
        lossbook comparator: 'stdout' line 2: 0.050 stored, 0.058 now (more than 1 unit(s) apart)</failure>
          </testcase>
          <testcase classname="chapters.ranking.pairs.ipynb" name="Cell 1"><error message="boom">#x1B[31mValueError#x1B[39m   Traceback
        ValueError: x must be positive</error>
          </testcase>
          <testcase classname="chapters.ranking.pairs.ipynb" name="Cell 2"><failure message="failed">Traceback
        ---> 23 assert hinge_run["first_zero"] &lt;= 5
        AssertionError: </failure></testcase>
          <testcase classname="tests.test_x" name="test_y"/>
        </testsuite></testsuites>"""))
    results = portability.parse_report(xml)
    assert set(results) == {"chapters/regression/huber.ipynb", "chapters/ranking/pairs.ipynb"}
    huber = dict(results["chapters/regression/huber.ipynb"])
    assert huber["Cell 0"] is None and huber["Cell 9"].startswith("'stdout' line 2: 0.050 stored, 0.058 now")
    assert dict(results["chapters/ranking/pairs.ipynb"])["Cell 1"] == "ValueError: x must be positive"
    assert dict(results["chapters/ranking/pairs.ipynb"])["Cell 2"] == (
        'AssertionError at: 23 assert hinge_run["first_zero"] <= 5')
    assert not portability.report("avx2", results, 1.0)
    assert portability.report("avx2", {"a.ipynb": [("Cell 0", None)]}, 1.0)
