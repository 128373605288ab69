"""retrain.yml's toolkit side: `retrain-data` (the tracked data plus the labelled production rows,
a new DVC version) on a real git + DVC project with a local remote and a real store (SQLite and
PostgreSQL), and `retrain-pr` (one open retrain pull request, a cool-down, the branch pushed to
a real bare origin, the pull request in the GitHub stand-in)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import cli, outputs
from mlops_toolkit.ci import retrain_request
from mlops_toolkit.contracts import GateBootstrap, GateFile, GateModel
from mlops_toolkit.monitoring.store import Label, Prediction, new_ids, open_store
from support.github_api import GitHubStandIn

pytest_plugins = ["support.stores"]  # store_url: SQLite and PostgreSQL

# A real git + DVC project per test (seconds each on a busy machine): out of the fast tier. The
# one-pull-request rule and the body are pure (the stand-in on loopback) and stay in it.
REAL_DVC = pytest.mark.slow
REPO = "acme/churn"
TOKEN = "retrain-token-0123"
SOURCE = "data/external/churn.csv"
# Real data's shape: an ID column the model never sees, a string column with a missing value,
# integers, floats, and a string target.
ROWS = (
    "customer_id,plan,tenure,charges,churned\n"
    "c1,basic,3,19.5,no\n"
    "c2,,14,70.25,yes\n"
    "c3,pro,1,99.0,no\n"
)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def dvc(cwd: Path, *args: str) -> str:
    done = subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def made_once(tmp_path_factory) -> Path:
    """A git + DVC project: churn.csv tracked and pushed to a local DVC remote, the commit on
    a bare `origin` (made once: DVC and git take seconds on a busy machine; each test copies)."""
    base = tmp_path_factory.mktemp("retrain")
    root = base / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    dvc(root, "init", "--quiet")
    dvc(root, "remote", "add", "--default", "local", str(base / "dvc-remote"))
    (root / SOURCE).parent.mkdir(parents=True)
    (root / SOURCE).write_text(ROWS)
    (root / "params.yaml").write_text(f"data:\n  source: {SOURCE}\n  target: churned\n")
    dvc(root, "add", "--quiet", SOURCE)
    dvc(root, "push", "--quiet")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "data")
    git(base, "init", "-q", "--bare", "origin.git")
    git(root, "remote", "add", "origin", str(base / "origin.git"))
    git(root, "push", "-q", "origin", "main")
    return base


@pytest.fixture
def project(made_once, tmp_path) -> Path:
    """A copy of the project, its DVC remote and origin, pointed at each other."""
    import shutil

    shutil.copytree(made_once, tmp_path, dirs_exist_ok=True, symlinks=True)
    root = tmp_path / "project"
    for config in (root / ".dvc" / "config", root / ".git" / "config"):
        config.write_text(config.read_text().replace(str(made_once), str(tmp_path)))
    shutil.rmtree(root / ".dvc" / "tmp", ignore_errors=True)
    return root


def log(url: str, model: str, rows: list[dict], *, env: str = "production", ts=None) -> list[str]:
    """Predictions of `model` (inputs as the server records them); their ids."""
    ids = new_ids(len(rows))
    at = time.time() if ts is None else ts
    with open_store(url) as store:
        store.write_predictions(
            [
                Prediction(pid, model, "3", env, at, inputs, "no")
                for pid, inputs in zip(ids, rows, strict=True)
            ]
        )
    return ids


def label(url: str, pairs: list[tuple[str, str]]) -> None:
    with open_store(url) as store:
        store.write_labels([Label(pid, value) for pid, value in pairs])


def inputs(i: int, plan: str | None = "basic") -> dict:
    return {"plan": plan, "tenure": 10 + i, "charges": 20.5 + i}


def retrain_data(project: Path, url: str, model: str, *extra: str):
    out = project / "github_output"
    out.write_text("")
    result = cli(
        "retrain-data",
        "--model-name",
        model,
        "--store",
        url,
        *extra,
        env={"GITHUB_OUTPUT": str(out), "GITHUB_ACTIONS": ""},
        cwd=project,
    )
    return result, outputs(out)


def snapshot(project: Path) -> dict[str, bytes]:
    """Every file a failed run must leave as it was."""
    paths = [SOURCE, f"{SOURCE}.dvc", "data/external/.gitignore"]
    found = {p: (project / p).read_bytes() for p in paths if (project / p).exists()}
    ids = project / "data/external/churn.prediction_ids.csv"
    found["ids"] = ids.read_bytes() if ids.exists() else b""
    return found


def new_model() -> str:
    return f"churn-{uuid.uuid4().hex[:8]}"


@REAL_DVC
def test_labelled_rows_become_a_new_dvc_version_once(project, store_url) -> None:
    import pandas as pd

    model = new_model()
    ids = log(store_url, model, [inputs(0), inputs(1, plan=None), inputs(2)])
    staging = log(store_url, model, [inputs(5)], env="staging")  # another environment
    other = log(store_url, new_model(), [inputs(6)])  # another model
    labels = [(ids[0], "yes"), (ids[1], "no"), (staging[0], "yes"), (other[0], "yes")]
    label(store_url, labels)  # ids[2] pending
    before = (project / SOURCE).read_bytes()
    old_md5 = (project / f"{SOURCE}.dvc").read_text()

    result, written = retrain_data(project, store_url, model)

    assert result.returncode == 0, result.stderr
    assert "2 labelled production row(s)" in result.stdout and "3 before" in result.stdout
    assert "left empty in the new rows (not model inputs): customer_id" in result.stdout
    after = (project / SOURCE).read_bytes()
    assert after.startswith(before)  # the existing rows, byte for byte
    frame = pd.read_csv(project / SOURCE)
    old = pd.read_csv(pd.io.common.StringIO(ROWS))
    assert list(frame.columns) == list(old.columns)
    assert frame.dtypes.drop("customer_id").equals(old.dtypes.drop("customer_id"))
    assert frame["churned"].tolist() == ["no", "yes", "no", "yes", "no"]
    assert frame["tenure"].tolist()[3:] == [10, 11] and frame["plan"].isna().tolist()[3:] == [
        False,
        True,
    ]
    # a new DVC version: the pointer changed, names the file's content, and DVC agrees
    assert (project / f"{SOURCE}.dvc").read_text() != old_md5
    assert (
        written["rows-added"] == "2"
        and written["data-version"] in (project / f"{SOURCE}.dvc").read_text()
    )
    assert "modified" not in dvc(project, "status", "--json").replace('"', "")
    assert (project / "data/external/churn.prediction_ids.csv").read_text().split() == [
        "prediction_id",
        ids[0],
        ids[1],
    ]
    summary = json.loads((project / "reports/retrain/data.json").read_text())
    assert summary["schema"] == "mlops.retrain-data/1" and summary["already"] == 0
    assert summary["commit_paths"] == [
        f"{SOURCE}.dvc",
        "data/external/churn.prediction_ids.csv.dvc",
        "data/external/.gitignore",
    ]

    # Again: nothing new, nothing written. Then a late label: only that row is added.
    unchanged = snapshot(project)
    again, _ = retrain_data(project, store_url, model)
    assert again.returncode == 1 and snapshot(project) == unchanged
    assert again.stderr.strip().endswith(
        "are in data/external/churn.csv already: nothing new to retrain on"
    )
    label(store_url, [(ids[2], "yes")])
    late, written = retrain_data(project, store_url, model)
    assert late.returncode == 0, late.stderr
    assert written["rows-added"] == "1" and len(pd.read_csv(project / SOURCE)) == 6


@REAL_DVC
def test_a_window_keeps_older_predictions_out(project, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model = new_model()
    old = log(url, model, [inputs(0)], ts=time.time() - 40 * 86400)
    recent = log(url, model, [inputs(1)])
    label(url, [(old[0], "yes"), (recent[0], "no")])
    result, written = retrain_data(project, url, model, "--since", "30d")
    assert result.returncode == 0, result.stderr
    assert written["rows-added"] == "1"
    assert (project / "data/external/churn.prediction_ids.csv").read_text().split()[1:] == recent


@REAL_DVC
def test_parquet_data_keeps_its_schema(project, tmp_path) -> None:
    import pandas as pd

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    path = project / "data/external/churn.parquet"
    pd.read_csv(project / SOURCE).to_parquet(path, index=False)
    dvc(project, "add", "--quiet", "data/external/churn.parquet")
    model = new_model()
    ids = log(url, model, [inputs(0)])
    label(url, [(ids[0], "yes")])
    schema = pd.read_parquet(path).dtypes
    result, _ = retrain_data(project, url, model, "--data", str(path.relative_to(project)))
    assert result.returncode == 0, result.stderr
    assert pd.read_parquet(path).dtypes.equals(schema) and len(pd.read_parquet(path)) == 4


def one_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stdout + result.stderr
    return lines[0]


@REAL_DVC
def test_bad_input_is_one_line_and_writes_nothing(project, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model = new_model()
    pending = log(url, model, [inputs(0)])
    before = snapshot(project)
    assert "holds no predictions of nobody" in one_line(retrain_data(project, url, "nobody")[0])
    assert "none labelled yet" in one_line(retrain_data(project, url, model)[0])
    assert "no staging predictions" in one_line(
        retrain_data(project, url, model, "--environment", "staging")[0]
    )
    # a column the data lacks; a string where the data has integers
    label(url, [(pending[0], "yes")])
    extra = new_model()
    label(url, [(log(url, extra, [{**inputs(1), "region": "eu"}])[0], "no")])
    assert "the store's inputs have region" in one_line(retrain_data(project, url, extra)[0])
    typed = new_model()
    label(url, [(log(url, typed, [{**inputs(2), "tenure": "ten"}])[0], "no")])
    assert "tenure is int64" in one_line(retrain_data(project, url, typed)[0])
    # the store down (PostgreSQL on a port nobody listens on)
    down = "postgresql://u:secret-pw@127.0.0.1:9/db"
    line = one_line(retrain_data(project, down, model)[0])
    assert "secret-pw" not in line
    # a sample source is not DVC-tracked data
    (project / "params.yaml").write_text("data:\n  source: sklearn:breast_cancer\n")
    assert "is a sample" in one_line(retrain_data(project, url, model)[0])
    assert snapshot(project) == before
    assert not list((project / "data/external").glob(".*.next"))


@REAL_DVC
def test_a_failed_dvc_add_puts_every_file_back(project, tmp_path, monkeypatch) -> None:
    from mlops_toolkit.data import nextversion
    from mlops_toolkit.errors import ToolkitError

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model = new_model()
    ids = log(url, model, [inputs(0)])
    label(url, [(ids[0], "yes")])
    with open_store(url) as store:
        rows = nextversion.labelled_rows(store, model, "production")
    before = snapshot(project)

    def broken(paths, root):
        (project / f"{SOURCE}.dvc").write_text("half-written")  # as a crash mid-way would
        raise ToolkitError("dvc add: disk full")

    monkeypatch.setattr(nextversion, "dvc_add", broken)
    with pytest.raises(ToolkitError, match="disk full"):
        nextversion.extend(project / SOURCE, rows, "churned", root=project)
    assert snapshot(project) == before
    assert sorted(p.name for p in (project / "data/external").iterdir()) == [
        ".gitignore",
        "churn.csv",
        "churn.csv.dvc",
    ]


# --- retrain-pr: one open pull request, a cool-down -------------------------------------------


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_one_open_retrain_pull_request_and_a_cool_down() -> None:
    from mlops_toolkit.ci.github import GitHub

    now = time.time()
    with GitHubStandIn(token=TOKEN) as api:
        client = GitHub(REPO, TOKEN, api.url)
        api.add_pull(REPO, "feature/x", created_at=iso(now - 60))  # not a retrain
        assert retrain_request.decide(client, 86400, now).due
        old = api.add_pull(REPO, "retrain/churn-0a1b2c3d", created_at=iso(now - 3600))
        decision = retrain_request.decide(client, 86400, now)
        assert not decision.due and f"#{old['number']} is open" in decision.reason
        old["state"] = "closed"  # closed an hour ago: cooling down
        decision = retrain_request.decide(client, 86400, now)
        assert not decision.due and "cooling down" in decision.reason
        assert retrain_request.decide(client, 1800, now).due  # a shorter cool-down has passed
        # a renamed branch with the label counts; so does an old open one past the cool-down
        api.add_pull(REPO, "fix-data", created_at=iso(now - 9 * 86400), labels=("retrain",))
        assert not retrain_request.decide(client, 1800, now).due
        # many pull requests (pages): the newest retrain one is still found
        for i in range(120):
            api.add_pull(REPO, f"feature/{i}", created_at=iso(now - 30 - i), state="closed")
        api.issues[(REPO, old["number"] + 1)]["state"] = "closed"
        decision = retrain_request.decide(client, 86400, now)
        assert not decision.due and f"#{old['number']}" in decision.reason


def test_branch_names_and_the_body_say_why() -> None:
    assert retrain_request.branch_name("Tumor Classifier", "0123456789abcdef") == (
        "retrain/Tumor-Classifier-01234567"
    )
    alert = {"alert": "ModelPerformanceDegradation", "model_version": "3", "summary": "f1 | low"}
    data = {"rows_added": 2, "data": SOURCE, "dvc_files": [f"{SOURCE}.dvc"], "label_from": 0}
    text = retrain_request.body(
        model_name="churn", alert=alert, data=data, gate_report="GATE REPORT", gate_passed=False
    )
    assert text.startswith(retrain_request.MARKER)
    assert "| alert | ModelPerformanceDegradation |" in text and "f1 \\| low" in text
    assert "GATE REPORT" in text and "did **not** pass the gate" in text
    assert "2 labelled row(s) added to `data/external/churn.csv`" in text
    by_hand = retrain_request.body(
        model_name="churn", alert={}, data=data, gate_report="x" * 70_000, gate_passed=True
    )
    assert "Started by hand" in by_hand and len(by_hand) < 65_536


def retrain_pr(project: Path, api: GitHubStandIn, *args: str, alert: dict | None = None):
    out = project / "github_output"
    out.write_text("")
    env = {
        "GITHUB_OUTPUT": str(out),
        "GITHUB_API_URL": api.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REF_NAME": "main",
        "GITHUB_ACTIONS": "",
    }
    result = cli(
        "retrain-pr",
        *args,
        "--model-name",
        "churn",
        "--alert",
        json.dumps(alert or {}),
        env=env,
        cwd=project,
    )
    return result, outputs(out)


ALERT = {
    "alert": "ModelPerformanceDegradation",
    "model_name": "churn",
    "model_version": "3",
    "environment": "production",
    "summary": "f1 upper bound 0.61 below 0.80",
    "fingerprint": "f00dfeedf00dfeed",
}


@REAL_DVC
def test_open_pushes_data_and_branch_and_opens_one_pull_request(project, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    ids = log(url, "churn", [inputs(0), inputs(1)])
    label(url, [(ids[0], "yes"), (ids[1], "no")])
    assert retrain_data(project, url, "churn")[0].returncode == 0
    gate = project / "reports/gate"
    gate.mkdir(parents=True)
    (gate / "gate.md").write_text("## Gate: PASSED\n\nf1 0.84 vs production 0.80\n")
    with GitHubStandIn(token=TOKEN) as api:
        check, written = retrain_pr(project, api, "check", alert=ALERT)
        assert check.returncode == 0 and written["due"] == "true", check.stderr
        result, written = retrain_pr(
            project, api, "open", "--gate-report", "reports/gate/gate.md", alert=ALERT
        )
        assert result.returncode == 0, result.stderr
        (pull,) = api.pull_requests_of(REPO)
        branch = written["branch"]
        assert branch.startswith("retrain/churn-") and pull["head"]["ref"] == branch
        assert pull["base"]["ref"] == "main" and not pull["draft"]
        assert "f1 0.84 vs production 0.80" in pull["body"]
        assert "ModelPerformanceDegradation" in pull["body"] and "f00dfeedf00dfeed" in pull["body"]
        assert {lb["name"] for lb in pull["labels"]} == {"retrain"}
        assert written["number"] == str(pull["number"])
        # the branch on origin holds the new pointers; the data is on the DVC remote
        origin = tmp_path / "origin.git"
        changed = git(origin, "diff", "--name-only", "main", branch).split()
        assert changed == [
            "data/external/.gitignore",
            "data/external/churn.csv.dvc",
            "data/external/churn.prediction_ids.csv.dvc",
        ]
        assert written["sha"] == git(origin, "rev-parse", branch).strip()
        assert dvc(project, "status", "--cloud", "--json").strip() in ("{}", "")
        # a second alert while it is open: no second pull request, the job says why
        again, written = retrain_pr(project, api, "open", alert=ALERT)
        assert again.returncode == 0 and written["opened"] == "false"
        assert "is open" in again.stderr and len(api.pull_requests_of(REPO, "all")) == 1
        check, written = retrain_pr(project, api, "check", alert=ALERT)
        assert written["due"] == "false"
        # an alert for another model is refused in one line
        wrong = retrain_pr(project, api, "check", alert={**ALERT, "model_name": "fraud"})[0]
        assert "the alert is for model fraud" in one_line(wrong)
        assert TOKEN not in result.stdout + result.stderr + again.stdout + again.stderr
        # closed, the cool-down past (1s), new labels: the next one opens, a draft when the
        # gate rejected its candidate
        api.issues[(REPO, pull["number"])]["state"] = "closed"
        git(project, "checkout", "-q", "main")
        late = log(url, "churn", [inputs(7)])
        label(url, [(late[0], "yes")])
        assert retrain_data(project, url, "churn")[0].returncode == 0
        GateFile(
            passed=False,
            mode="compare",
            decision_rule="f1 >= production - 0.01",
            candidate=GateModel("runs:/abc/model"),
            rows=40,
            primary_metric="f1",
            direction="maximize",
            bootstrap=GateBootstrap(1000, 0.95, 42),
            checks=[],
            metrics={},
        ).write(gate / "gate.json")
        time.sleep(1)
        result, written = retrain_pr(
            project, api, "open", "--cooldown", "1s", "--gate-verdict", "reports/gate/gate.json"
        )
        assert result.returncode == 0 and written["opened"] == "true", result.stderr
        (second,) = api.pull_requests_of(REPO)
        assert second["draft"] and "did **not** pass the gate" in second["body"]
        assert second["head"]["ref"] != branch
