"""The GitHub Actions workflows parse, have what GitHub needs, and run the README's own commands."""
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def load(name):
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(workflow):
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def commands(workflow):
    return [line.strip() for step in steps(workflow) for line in step.get("run", "").splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["tests.yml", "pages.yml", "linkcheck.yml"])
def test_workflow_is_well_formed(name):
    wf = load(name)
    assert wf.get("name") and wf["on"] and wf.get("jobs"), f"{name}: needs name, on and jobs"
    for job_name, job in wf["jobs"].items():
        assert "runs-on" in job, f"{name}:{job_name} has no runs-on"
        assert job.get("steps"), f"{name}:{job_name} has no steps"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), f"{name}:{job_name}: a step needs exactly one of uses/run"
    for cmd in commands(wf):
        if cmd.startswith("make "):
            assert f"`{cmd}`" in README or f"{cmd} " in README, f"{name} runs `{cmd}`, which the README does not give"


def test_tests_workflow_runs_make_test_on_push_and_pull_request():
    wf = load("tests.yml")
    assert "push" in wf["on"] and "pull_request" in wf["on"]
    assert "make test" in commands(wf)


def test_pages_workflow_builds_and_deploys():
    wf = load("pages.yml")
    assert "make html" in commands(wf)
    uses = [s["uses"].split("@")[0] for s in steps(wf) if "uses" in s]
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses
    upload = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    assert wf["jobs"]["deploy"]["environment"]["name"] == "github-pages"


def test_linkcheck_is_scheduled():
    wf = load("linkcheck.yml")
    assert wf["on"]["schedule"] and re.fullmatch(r"[\d*/,\- ]+", wf["on"]["schedule"][0]["cron"])
    assert "make linkcheck" in commands(wf)


def test_tests_workflow_runs_on_x86_linux_arm_linux_and_macos():
    job = load("tests.yml")["jobs"]["test"]
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-24.04", "ubuntu-24.04-arm", "macos-14"}
    assert job["runs-on"] == "${{ matrix.os }}"
    assert job["strategy"]["fail-fast"] is False, "one machine's failure must not cancel the others"
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] >= "3.11"


def test_arm_linux_gets_a_browser_for_the_site_tests():
    """GitHub's ARM64 Ubuntu image has no Chrome: the workflow installs playwright's and points the tests at it."""
    job = load("tests.yml")["jobs"]["test"]
    arm = [s for s in job["steps"] if "ARM64" in str(s.get("if", ""))]
    assert arm and "playwright install" in arm[0]["run"] and "LOSSBOOK_CHROMIUM=" in arm[0]["run"]
    assert "GITHUB_ENV" in arm[0]["run"]
    names = [s.get("name") for s in job["steps"]]
    assert names.index(arm[0]["name"]) < names.index("make test")


def test_browser_step_knows_macos():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nbrowser:", 1)[1].split("\n\n", 1)[0]
    assert "Darwin" in recipe and "LOSSBOOK_CHROMIUM" in recipe and "skipped on macOS" in recipe
    assert "apt-get install -y -q chromium" in recipe          # Linux: still installed when root


def test_site_tests_skip_on_macos_without_chrome_and_fail_on_linux(monkeypatch):
    import test_site

    monkeypatch.delenv("LOSSBOOK_CHROMIUM", raising=False)
    monkeypatch.setattr(test_site.sys, "platform", "darwin")
    with pytest.raises(pytest.skip.Exception, match="mandatory on Linux"):
        test_site._no_browser()
    monkeypatch.setattr(test_site.sys, "platform", "linux")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        test_site._no_browser()
    monkeypatch.setattr(test_site.shutil, "which", lambda name: None)
    monkeypatch.setattr(test_site.sys, "platform", "darwin")
    chrome = test_site.MAC_BROWSERS[0]
    monkeypatch.setattr(test_site.pathlib.Path, "exists", lambda self: str(self) == chrome)
    assert test_site._chromium_path() == chrome


def test_portability_runs_in_ci():
    job = load("tests.yml")["jobs"]["portability"]
    assert job["runs-on"].startswith("ubuntu-"), "the configurations emulate x86-64 CPUs"
    assert "make portability" in [line.strip() for s in job["steps"] for line in s.get("run", "").splitlines()]
