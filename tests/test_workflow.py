"""The Pages workflow runs the suite before it publishes (a red test deploys nothing); `make help`
lists what the README tells a reader to run."""

import re
import subprocess

import yaml

from conftest import ROOT

WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())


def step_index(steps: list[dict], predicate) -> int:
    matches = [i for i, step in enumerate(steps) if predicate(step)]
    assert matches, "no such step"
    return matches[0]


def test_the_suite_runs_before_the_site_is_uploaded_and_deployed():
    jobs = WORKFLOW["jobs"]
    steps = jobs["build"]["steps"]
    upload = step_index(
        steps, lambda s: str(s.get("uses", "")).startswith("actions/upload-pages-artifact")
    )
    for command in ("make test", "make portability"):
        index = step_index(
            steps, lambda s, command=command: str(s.get("run", "")).startswith(command)
        )
        step = steps[index]
        assert index < upload, f"`{command}` must run before the site is uploaded"
        assert not step.get("continue-on-error") and "if" not in step, (
            f"`{command}` must be able to stop the job"
        )
    assert jobs["deploy"]["needs"] == "build" and [s["uses"] for s in jobs["deploy"]["steps"]] == [
        "actions/deploy-pages@v4"
    ]
    # nothing between the tests and the upload may swallow a failure
    assert not any(s.get("continue-on-error") for s in steps[:upload])


def test_make_help_lists_every_target_the_readme_names():
    """A reader who meets `make X` in the README finds X in `make help`, and it is a real target."""
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`make ([a-z][a-z-]*)", readme))
    shown = subprocess.run(
        ["make", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    listed = set(re.findall(r"\bmake ([a-z][a-z-]*)", shown))
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    assert named, "the README names no make target"
    assert named <= listed, f"`make help` does not list {sorted(named - listed)}"
    assert listed <= targets, (
        f"`make help` lists {sorted(listed - targets)}, which the Makefile lacks"
    )
