"""The sticky pull-request comment against a loopback stand-in of GitHub's REST API (HTTP:
pages, credentials, the CLI's subprocesses) and the in-memory GitHub (its logic)."""

from __future__ import annotations

import json
import time

import pytest
from conftest import cli, run_gate
from mlops_toolkit.ci import github
from mlops_toolkit.ci import markdown as report
from mlops_toolkit.errors import ToolkitError
from support.fakes.github import FakeGitHub
from support.github_api import GitHubStandIn

REPO = "acme/churn"


@pytest.fixture
def gh():
    with GitHubStandIn() as server:
        yield server


def test_upsert_creates_once_then_updates_across_pages(gh):
    for i in range(230):  # our comment will land on page 3 of 100
        gh.add(REPO, 7, f"chatter {i}")
    comments = github.GitHub(REPO, "test-token", gh.url)
    first = github.upsert_comment(comments, 7, "report v1", "gate:m")
    assert first["action"] == "created"
    second = github.upsert_comment(comments, 7, "report v2", "gate:m")
    assert second["action"] == "updated" and second["id"] == first["id"]
    ours = [c for c in gh.on(REPO, 7) if github.marker("gate:m") in c["body"]]
    assert len(ours) == 1 and ours[0]["body"].endswith("report v2")
    assert len(gh.on(REPO, 7)) == 231
    pages = [p for m, p in gh.requests if m == "GET"]
    assert any("page=3" in p for p in pages)


def test_markers_keep_models_apart():
    fake = FakeGitHub(REPO)
    github.upsert_comment(fake, 3, "a", "gate:model-a")
    github.upsert_comment(fake, 3, "b", "gate:model-b")
    github.upsert_comment(fake, 3, "a2", "gate:model-a")
    bodies = sorted(c["body"].split("\n", 1)[1] for c in fake.on(3))
    assert bodies == ["a2", "b"]


def test_the_sticky_comment_goes_to_the_events_pull_request(tmp_path, monkeypatch):
    """`sticky_comment` (gate, report): on the event's pull request, through `client()`; off a
    pull request nothing is called."""
    fake = FakeGitHub(REPO)
    monkeypatch.setattr(github, "client", lambda: fake)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    fake.add_comment(9, "LGTM")
    for version in ("1", "2"):
        posted = github.sticky_comment(f"report v{version}", "gate:m")
    assert posted is not None and posted["action"] == "updated"
    assert [c["body"] for c in fake.on(9)] == ["LGTM", f"{github.marker('gate:m')}\nreport v2"]
    assert github.sticky_comment("x", "gate:m", pr=12)["action"] == "created"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    calls = len(fake.calls)
    assert github.sticky_comment("x", "gate:m") is None and len(fake.calls) == calls


def test_a_commits_pull_requests_through_the_environments_client(monkeypatch):
    fake = FakeGitHub(REPO)
    monkeypatch.setattr(github, "client", lambda: fake)
    fake.associate("d" * 40, 21)
    fake.associate("d" * 40, 30, merged=False)
    fake.associate("d" * 40, 22)
    assert github.pulls_for_commit("d" * 40) == [22, 21, 30]
    assert github.pulls_for_commit("e" * 40) == []


def test_bad_token_is_one_line_error(gh):
    comments = github.GitHub(REPO, "wrong", gh.url)
    with pytest.raises(ToolkitError, match="401: Bad credentials"):
        github.upsert_comment(comments, 1, "x", "k")


def test_pull_request_number_from_event(tmp_path, monkeypatch):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 42}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert github.pull_request_number() == 42
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    assert github.pull_request_number() is None
    assert github.pull_request_number("5") == 5


def _gate(env, model_name, logged, holdout_csv, config, out):
    return run_gate(model_name, logged["good"][1], holdout_csv, config, out, **env)


def test_gate_posts_one_sticky_comment_on_a_pull_request(
    gh, mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9}}))
    gh.add(REPO, 9, "LGTM")
    env = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": gh.url,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    config = gate_yaml()
    for _ in range(2):
        result = _gate(env, model_name, logged, holdout_csv, config, tmp_path / "gate")
        assert result.returncode == 0, result.stderr
    ours = [c for c in gh.on(REPO, 9) if "mlops-toolkit:gate:" in c["body"]]
    assert len(ours) == 1
    assert "Model gate" in ours[0]["body"] and "Decision rule" in ours[0]["body"]
    assert [m for m, _ in gh.requests].count("POST") == 1
    assert [m for m, _ in gh.requests].count("PATCH") == 1
    assert "Model gate" in (tmp_path / "summary.md").read_text()


def test_gate_off_a_pull_request_writes_only_the_summary(
    gh, mlflow_server, logged, holdout_csv, gate_yaml, model_name, tmp_path
):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    env = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": gh.url,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    result = _gate(env, model_name, logged, holdout_csv, gate_yaml(), tmp_path / "gate")
    assert result.returncode == 0, result.stderr
    assert gh.requests == []
    assert "Model gate" in (tmp_path / "summary.md").read_text()


def test_report_comment_combines_validation_gate_and_version(gh, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    validation = tmp_path / "validation.json"
    validation.write_text(
        json.dumps(
            {
                "success": False,
                "suite": "dataset",
                "data": "data/raw/dataset.csv",
                "rows": 10,
                "evaluated": 3,
                "successful": 2,
                "failed": 1,
                "failures": [
                    {
                        "expectation": "expect_column_values_to_be_between",
                        "column": "age",
                        "kwargs": {},
                        "unexpected_count": 2,
                        "unexpected_percent": 20.0,
                        "examples": [-3, 240],
                    }
                ],
                "html": "reports/validation.html",
            }
        )
    )
    env = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": gh.url,
    }
    for version in ("", "4"):
        r = cli(
            "report",
            "--model-name",
            "m",
            "--validation",
            str(validation),
            "--artifact-url",
            "https://example.com/a/1",
            "--version",
            version,
            env=env,
        )
        assert r.returncode == 0, r.stderr
    ours = gh.on(REPO, 12)
    assert len(ours) == 1
    body = ours[0]["body"]
    assert "version **4**" in body and "`240`" in body and "Model gate: not run" in body
    assert "https://example.com/a/1" in body


def test_find_candidate_from_merged_pull_request(gh, mlflow_server, logged, model_name):
    from conftest import register_version
    from mlflow import MlflowClient

    client = MlflowClient()
    older = register_version(model_name, logged["good"][1])
    newer = register_version(model_name, logged["good2"][1])
    other = register_version(model_name, logged["good"][1])
    for version, pr in ((older, "21"), (newer, "21"), (other, "22")):
        client.set_model_version_tag(model_name, version, "mlops.pull_request", pr)
    sha = "d" * 40
    gh.associate(REPO, sha, 21)
    env = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": gh.url,
        "GITHUB_SHA": sha,
    }
    r = cli("find-candidate", "--model-name", model_name, env=env)
    assert r.returncode == 0, r.stderr
    assert f"output version={newer}" in r.stdout and "output pr-number=21" in r.stdout
    r = cli("find-candidate", "--model-name", model_name, "--commit", "e" * 40, env=env)
    assert r.returncode == 1 and "no registered candidate" in r.stderr


def test_set_alias_never_moves_production(mlflow_server, logged, model_name):
    from conftest import register_version

    version = register_version(model_name, logged["good"][1])
    ok = cli("set-alias", "--model-name", model_name, "--version", version, "--alias", "staging")
    assert ok.returncode == 0, ok.stderr
    refused = cli(
        "set-alias", "--model-name", model_name, "--version", version, "--alias", "production"
    )
    assert refused.returncode == 1 and "only through promote" in refused.stderr


def test_validation_report_carries_the_projects_readable_lines():
    from mlops_toolkit.ci.markdown import validation_markdown

    line = (
        "expect_column_values_to_be_in_type_list on age: 2 unexpected (20.00 %), "
        'values \'oops\' at row(s) 3, 6; expected {"type_list": ["float64"]}'
    )
    text = validation_markdown(
        {
            "success": False,
            "failed": 2,
            "failures": [
                {
                    "expectation": "expect_column_values_to_be_in_type_list",
                    "column": "age",
                    "unexpected_count": 2,
                    "unexpected_percent": 20.0,
                    "examples": ["oops"],
                    "message": line,
                },
                {
                    "expectation": "expect_table_columns_to_match_set",
                    "column": None,
                    "unexpected_count": 0,
                    "examples": [],
                    "message": "expect_table_columns_to_match_set: missing column(s) age; "
                    "unexpected column(s) agee",
                },
            ],
        }
    )
    assert "values 'oops' at row(s) 3, 6" in text
    assert "missing column(s) age; unexpected column(s) agee" in text


def test_a_failed_step_is_named_in_the_comment_and_as_an_error(gh, tmp_path):
    """The first failed command's line (here: the gate on a missing config) is quoted beside
    the failed step's id, in the sticky comment and as a ::error annotation."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 14}}))
    failures = tmp_path / "failures.log"
    env = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": gh.url,
        "MLOPS_FAILURE_LOG": str(failures),
    }
    missing = tmp_path / "gate.yaml"
    for _ in range(2):  # the root cause first, then a knock-on failure
        gated = cli("gate", "--model-name", "m", "--candidate", "runs:/x/model",
                    "--holdout", "h.csv", "--config", str(missing), env=env)  # fmt: skip
        assert gated.returncode == 1
    lines = failures.read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("mlops-toolkit gate: gate config ")
    steps = {
        "prepare-data": {"outcome": "success", "conclusion": "success", "outputs": {}},
        "gate-config": {"outcome": "failure", "conclusion": "failure", "outputs": {}},
        "train": {"outcome": "skipped", "conclusion": "skipped", "outputs": {}},
    }
    args = ("report", "--model-name", "m", "--steps", json.dumps(steps))
    r = cli(*args, env={**env, "GITHUB_ACTIONS": "true"})
    assert r.returncode == 0, r.stderr
    annotation = "::error title=step gate-config failed::" + lines[0]
    assert annotation in r.stdout.splitlines()
    body = gh.on(REPO, 14)[0]["body"]
    assert "## Failed at step `gate-config`" in body and lines[0] in body
    # Green again: the same sticky comment, no failure named.
    ok = {name: {"outcome": "success"} for name in steps}
    r = cli("report", "--model-name", "m", "--steps", json.dumps(ok), env=env)
    assert r.returncode == 0, r.stderr
    (comment,) = gh.on(REPO, 14)
    assert "Failed at step" not in comment["body"]


def test_steps_that_are_not_json_are_one_line(tmp_path):
    r = cli("report", "--model-name", "m", "--steps", "{oops", "--no-comment")
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        "mlops-toolkit report: error: --steps is not valid JSON (pass toJSON(steps))"
    ]


# Each step that can fail: (its id in the workflow, the line its command writes, the fix's words).
FAILURES = {
    "pull-data": ("pull-data", "mlops-toolkit pull-data: dvc pull: access denied", "DVC_REMOTE"),
    "check-gate": (
        "gate-config",
        "churn check-gate: params.yaml: unknown key split.holdout_fracton"
        " (known: holdout_fraction, seed, stratify)",
        "correct the key",
    ),
    "prepare": (
        "prepare-data",
        "churn prepare-data: EmptyDataError: No columns to parse from file",
        "the data file is empty",
    ),
    "validate": (
        "validate",
        "churn validate-data: data/raw/dataset.csv: 2 expectation(s) failed",
        "expectations/dataset.json",
    ),
    "train": (
        "train",
        "churn train: the MLflow tracking server stopped answering: Max retries exceeded",
        "MLFLOW_TRACKING_URI",
    ),
    "evaluate": ("evaluate", "churn evaluate: reports/run.json: no such file", "make pipeline"),
    "gate": ("gate", "mlops-toolkit gate: gate config gate.yaml: no metric f2", "gate.yaml"),
    "register": ("register", "mlops-toolkit register: 403: Permission denied", "permission"),
    "build": ("build", "mlops-toolkit build-image: docker build failed at RUN pip", "docker build"),
    "deploy": ("deploy", "mlops-toolkit deploy: staging not healthy in 60 s", "roll back"),
}
LOG = "https://github.com/acme/churn/actions/runs/77"


@pytest.mark.parametrize("name", FAILURES)
def test_the_comment_says_why_each_step_failed(name):
    """The failed step, its cause line, the fix and the log, above the results."""
    step, line, fix = FAILURES[name]
    body = report.pull_request_markdown("m", None, None, failure=(step, line), log_url=LOG)
    assert f"## Failed at step `{step}`\n\n```\n{line}\n```\n" in body
    (hint,) = [row for row in body.splitlines() if row.startswith("**Fix:** ")]
    assert fix in hint
    assert f"Log: [the run's log]({LOG})" in body
    assert body.index("Failed at step") < body.index("Data validation")


@pytest.mark.parametrize(
    "line",
    [
        "mlops-toolkit register: unexpected MlflowException: API request to http://127.0.0.1:5"
        "/api/2.0/mlflow/runs/get failed with exception HTTPConnectionPool(host='127.0.0.1',"
        " port=5): Max retries exceeded with url: /api/2.0/mlflow/runs/get",
        "churn evaluate: MLflow tracking server http://127.0.0.1:5 is unreachable: "
        "[Errno 111] Connection refused",
    ],
)
def test_a_lost_tracking_server_is_named_whatever_step_met_it(line):
    """Not the step's usual fix (register: the token's permission): the server's."""
    assert report.fix_hint("register", line) == report.TRACKING_HINT


def test_data_never_pushed_gets_the_push_fix_not_the_remote_settings():
    line = (
        "mlops-toolkit pull-data: dvc pull from ci (s3://b/dvc): failed to pull data from the"
        " cloud - Checkout failed for following targets: data/external/x.csv"
    )
    assert "`dvc push` it" in report.fix_hint("pull-data", line)


def test_a_release_reports_apart_from_the_pull_requests_model_report(gh, tmp_path):
    """On the push of a merge, the report names the failed step and its cause in the job
    summary and in a comment of its own on the merged pull request (the model report stays)."""
    gh.add(REPO, 31, f"{github.marker('report:m')}\n# Model report — m\nModel gate: passed")
    failures = tmp_path / "failures.log"
    failures.write_text("mlops-toolkit build-image: image build: COPY failed: extras.txt\n")
    summary = tmp_path / "summary.md"
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "after": "abc"}))
    env = {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": gh.url,
        "GITHUB_RUN_ID": "77",
        "GITHUB_STEP_SUMMARY": str(summary),
        "MLOPS_FAILURE_LOG": str(failures),
    }
    steps = json.dumps({"build": {"outcome": "failure"}})
    args = ("report", "--model-name", "m", "--steps", steps, "--version", "4")
    r = cli(*args, "--pr-number", "31", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    release, model_report = sorted(
        (c["body"] for c in gh.on(REPO, 31)), key=lambda b: "Release" not in b
    )
    assert "# Release — m" in release and "## Failed at step `build`" in release
    assert "COPY failed: extras.txt" in release and f"({LOG})" in release
    assert "Data validation" not in release and "Model gate" not in release
    assert "Model gate: passed" in model_report
    assert "## Failed at step `build`" in summary.read_text()
    # No pull request found for the commit: the summary alone.
    r = cli(*args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(gh.on(REPO, 31)) == 2


def test_no_fix_is_guessed_for_an_unknown_failure():
    body = report.failure_markdown("lint", "ruff: 3 errors", "")
    assert "ruff: 3 errors" in body and "Fix:" not in body and "Log:" not in body


def test_the_cause_reaches_the_comment_as_the_action_passes_it(gh, tmp_path):
    """The action passes --failure-log '' when act evaluates env.* as empty (nektos/act#1231):
    the cause comes from $MLOPS_FAILURE_LOG, with the run's log link and no credential."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 21}}))
    failures = tmp_path / "failures.log"
    step, line, _ = FAILURES["check-gate"]
    leak = "mlops-toolkit doctor: https://u:s3cr3tpw@mlflow.example/api refused"
    failures.write_text(f"{line}\n{leak}\n")
    env = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "test-token",
        "GITHUB_API_URL": gh.url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "77",
        "MLOPS_FAILURE_LOG": str(failures),
    }
    steps = json.dumps({step: {"outcome": "failure"}})
    r = cli("report", "--model-name", "m", "--steps", steps, "--failure-log", "", env=env)
    assert r.returncode == 0, r.stderr
    (comment,) = gh.on(REPO, 21)
    assert line in comment["body"] and f"({LOG})" in comment["body"]
    assert "**Fix:** correct the key" in comment["body"]
    # A credential in the first line is masked before it reaches the comment.
    failures.write_text(f"{leak}\n")
    r = cli("report", "--model-name", "m", "--steps", steps, "--failure-log", "", env=env)
    assert r.returncode == 0, r.stderr
    (comment,) = gh.on(REPO, 21)
    assert "s3cr3tpw" not in comment["body"] and "https://u:***@mlflow.example" in comment["body"]


def test_the_report_ends_the_run_its_job_left_running(mlflow_server, tmp_path):
    """A step cut off mid-run leaves logs/open-run.json; the report (the job's last step, in the
    same checkout) marks that run FAILED if it is still RUNNING, and says so."""
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment(f"orphans-{tmp_path.name}")
    record = tmp_path / "logs" / "open-run.json"
    record.parent.mkdir()

    def report_with_open(run_id: str, uri: str = mlflow_server.uri, *wait: str):
        record.write_text(json.dumps({"run_id": run_id, "tracking_uri": uri}))
        r = cli("report", "--model-name", "m", "--no-comment", *wait, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r

    orphan = client.create_run(experiment).info.run_id
    r = report_with_open(orphan)
    assert client.get_run(orphan).info.status == "FAILED"
    assert f"run {orphan} was left RUNNING by a step cut off: marked FAILED" in r.stderr
    assert not record.exists()
    # A run that ended is left as it ended; a server that is gone costs one line, not the report.
    done = client.create_run(experiment).info.run_id
    client.set_terminated(done, "FINISHED")
    r = report_with_open(done)
    assert client.get_run(done).info.status == "FINISHED" and "warning" not in r.stderr
    # Gone for longer than the report waits for it (the act scenario brings one back in time).
    started = time.monotonic()
    r = report_with_open(orphan, "http://127.0.0.1:9", "--orphan-wait-s", "4")
    assert f"warning: run {orphan} may be left RUNNING (tracking server: " in r.stderr
    assert 4 <= time.monotonic() - started < 60 and record.exists()
