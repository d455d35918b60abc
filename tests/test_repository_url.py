"""The repository URL is set in one place (_config.yml) and every copy of it agrees (tools/set_repository.py)."""
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import set_repository  # noqa: E402


def test_every_notebook_installs_from_the_configured_repository():
    url = set_repository.configured_url()
    found = set_repository.copies()
    with_colab_cell = [nb for nb in set_repository.notebooks() if "google.colab" in nb.read_text(encoding="utf-8")]
    assert with_colab_cell, "no notebook has a Colab cell"
    missing = [str(nb.relative_to(ROOT)) for nb in with_colab_cell if nb not in found]
    assert not missing, f"Colab cells without a git+ URL: {missing}"
    differ = set_repository.stale()
    assert not differ, (f"these files name another repository than _config.yml's {url}: "
                        f"{ {str(p.relative_to(ROOT)): u for p, u in differ.items()} }; "
                        "run `.venv/bin/python tools/set_repository.py`")


def test_set_repository_rewrites_a_fork(tmp_path):
    (tmp_path / "chapters" / "part").mkdir(parents=True)
    nb = ROOT / "chapters" / "regression" / "huber.ipynb"
    shutil.copy(nb, tmp_path / "chapters" / "part" / "huber.ipynb")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    config = (ROOT / "_config.yml").read_text(encoding="utf-8")
    old = set_repository.configured_url()
    (tmp_path / "_config.yml").write_text(config.replace(old, "https://github.com/someone/fork"), encoding="utf-8")

    assert set_repository.main(["--check", "--root", str(tmp_path)]) == 1
    assert set_repository.main(["--root", str(tmp_path)]) == 0
    assert set_repository.main(["--check", "--root", str(tmp_path)]) == 0
    text = (tmp_path / "chapters" / "part" / "huber.ipynb").read_text(encoding="utf-8")
    assert "git+https://github.com/someone/fork\\\"" in text and old not in text
    assert 'Homepage = "https://github.com/someone/fork"' in (tmp_path / "pyproject.toml").read_text()
    # Only the URL changed: same length difference as the URL's, outputs untouched.
    original = nb.read_text(encoding="utf-8")
    assert len(text) - len(original) == len("https://github.com/someone/fork") - len(old)
