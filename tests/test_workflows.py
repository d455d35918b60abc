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
