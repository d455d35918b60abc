"""The README's Python example runs, and its claims about lossbook hold."""
import pathlib
import re

import numpy as np
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_python_example_runs_and_matches_torch():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "README has no Python example"
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    logits, target, lossbook = namespace["logits"], namespace["target"], namespace["lossbook"]
    t = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(t, torch.tensor(target))
    expected.backward()
    np.testing.assert_allclose(lossbook.cross_entropy(logits, target), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(lossbook.cross_entropy.grad(logits, target), t.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(namespace["value"], expected.item(), rtol=1e-12)
    np.testing.assert_allclose(namespace["grad"], t.grad.numpy(), rtol=1e-10)


def test_readme_names_the_two_commands_and_ci_calls_the_test_one():
    text = (ROOT / "README.md").read_text()
    assert "make html" in text and "make test" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
