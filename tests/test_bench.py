"""tools/bench.py (`make bench`): every registered loss has a benchmark input, and the report's verdicts and
exit status follow the goals. Nothing here is timed: the goals are set so that the verdict is known."""
from __future__ import annotations

import importlib.util
import pathlib

import pytest

import lossbook

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_loss_has_a_benchmark_input_and_a_goal(bench):
    registered = {info.name for info in lossbook.catalogue()}
    assert registered - set(bench.SPECS) == set(), "add these losses to SPECS in tools/bench.py"
    assert set(bench.SPECS) - registered == set()
    for name, (kind, size, build) in bench.SPECS.items():
        assert kind in bench.GOAL, name
        assert size and callable(build), name


@pytest.mark.parametrize("strict", [False, True])
def test_strict_fails_only_when_a_loss_is_over_its_goal(bench, monkeypatch, capsys, strict):
    argv = ["--only", "mse_loss,l1_loss", "--repeats", "1", "--no-memory"] + (["--strict"] if strict else [])
    monkeypatch.setattr(bench, "GOAL", dict.fromkeys(bench.GOAL, 1e9))  # nothing can be over this goal
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "0 loss(es) over the speed goal" in out
    rows = [line for line in out.splitlines() if line.startswith(("mse_loss", "l1_loss"))]
    assert len(rows) == 2 and all(" ok " in row and row.rstrip().endswith("yes") for row in rows)
    monkeypatch.setattr(bench, "GOAL", dict.fromkeys(bench.GOAL, 0.0))  # every loss is over this one
    assert bench.main(argv) == (1 if strict else 0)
    assert "2 loss(es) over the speed goal" in capsys.readouterr().out
