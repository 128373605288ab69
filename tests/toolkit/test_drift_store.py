"""Drift on real traffic: the drift command reads the prediction store's window (a real SQLite
file and the real PostgreSQL of support/stores.py), judges staging and production apart, and
tells data drift (inputs moved away from the training data) from concept drift (the labelled
answers got worse than production's holdout figure minus the gate's margin); the drift issue
says which kind. Each environment's drift goes to Debian's real Pushgateway (test_monitor's
fixture), through a loopback proxy that asks for basic auth; a push that fails loses no report."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import projectkit
import pytest
from mlops_toolkit import names
from mlops_toolkit.monitoring import drift_live
from mlops_toolkit.monitoring import pushgateway as gateway
from mlops_toolkit.monitoring.drift import Thresholds
from mlops_toolkit.monitoring.store import Label, ScoredBatch, new_batch, open_store
from projectkit import error_lines, main
from support.pushgateway import AuthProxy, pushed, series
from support.pushgateway import pushgateway as pushgateway  # the fixture
from support.servers import free_port
from support.stores import pg_url as pg_url  # fixtures: a SQLite file, the real PostgreSQL
from support.stores import store_url as store_url

generated, workdir = projectkit.generated, projectkit.workdir  # fixtures
NOW = time.time()
DAY = 86400.0
CLASSES = ["churn", "stay", "upgrade"]
GATE = """\
primary:
  metric: f1
  max_regression: 0.01
guards:
  - metric: accuracy
    max_regression: 0.02
bootstrap: {resamples: 200, confidence: 0.95, seed: 7}
target: outcome
"""
HOLDOUT = {"f1": 0.95, "accuracy": 0.95}


def customers(n: int, seed: int, moved: bool = False) -> pd.DataFrame:
    """Mixed-type rows (missing values, strings, three string classes under a target name of
    their own); `moved`: tenure tripled and the plans' mix turned around."""
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0, n) * (3.0 if moved else 1.0)
    tenure[rng.uniform(size=n) < 0.05] = np.nan
    plans = rng.choice(["basic", "plus", "pro"], n, p=[0.2, 0.3, 0.5] if moved else [0.5, 0.3, 0.2])
    plan = np.where(rng.uniform(size=n) < 0.05, None, plans).astype(object)
    outcome = np.where(tenure < 12, "churn", np.where(plan == "pro", "upgrade", "stay"))
    return pd.DataFrame(
        {"tenure": tenure, "charges": rng.normal(70, 20, n), "plan": plan, "outcome": outcome}
    )


def serve(url: str, model: str, env: str, rows: pd.DataFrame, age: float, wrong: float) -> None:
    """Rows scored by a model that answers `outcome` (labels come back for all of them; a share
    `wrong` of the labels says another class: the model's answers are now wrong there)."""
    features = ["tenure", "charges", "plan"]
    ts = NOW - age
    batch = ScoredBatch(
        new_batch(ts),
        model,
        "3",
        env,
        ts,
        features,
        {c: rows[c].to_numpy() for c in features},
        rows["outcome"].tolist(),
    )
    rng = np.random.default_rng(len(rows))
    truth = [
        CLASSES[(CLASSES.index(o) + 1) % 3] if rng.uniform() < wrong else o for o in rows["outcome"]
    ]
    with open_store(url) as store:
        store.write_batches([batch])
        store.write_labels(
            [Label(pid, label, ts + 3600) for pid, label in zip(batch.ids, truth, strict=True)]
        )


@pytest.fixture
def reference(tmp_path: Path) -> tuple[pd.DataFrame, pd.Series, Path]:
    frame = customers(3000, seed=1)
    (tmp_path / "gate.yaml").write_text(GATE)
    labels = frame.pop("outcome")
    return frame, labels, tmp_path / "gate.yaml"


def judge(url: str, model: str, reference, out: Path, holdout=HOLDOUT, target=None) -> dict:
    frame, labels, gate = reference
    window = drift_live.Window("7d", 7 * DAY, until=NOW + 1)
    settings = drift_live.concept_settings(gate, window, min_labels=50, holdout=holdout)
    with open_store(url) as store:
        return drift_live.run(
            store, model, frame, Thresholds(), settings, window, out,
            reference_preds=labels, categorical_prediction=True, pushgateway=target,
        )  # fmt: skip


def test_data_drift_and_concept_drift_are_told_apart_per_environment(
    store_url: str, reference, tmp_path: Path
) -> None:
    model = f"churn-{tmp_path.name}"  # one database for the PostgreSQL runs: names apart
    # staging: the inputs moved, the answers are still right -> data drift only
    serve(store_url, model, names.STAGING, customers(400, seed=2, moved=True), DAY, wrong=0.0)
    # production: the inputs look like training, half the answers are now wrong -> concept only
    serve(store_url, model, names.PRODUCTION, customers(400, seed=3), DAY, wrong=0.5)
    # ... and old moved rows outside the 7-day window, which must not count
    serve(store_url, model, names.PRODUCTION, customers(400, 4, moved=True), 30 * DAY, 0.0)

    report = judge(store_url, model, reference, tmp_path / "out")

    staging, production = (report["environments"][e] for e in names.STAGES)
    assert staging["kinds"] == ["data"], staging["data"]["drifted_features"]
    assert {"tenure", "plan"} <= set(staging["data"]["drifted_features"])
    assert "charges" not in staging["data"]["drifted_features"]
    assert production["kinds"] == ["concept"], production["data"]["drifted_features"]
    assert production["rows"] == 400  # the 30-day-old rows stayed outside the window
    [version] = production["concept"]["versions"]
    assert version["labelled"] == 400 and "f1" in version["degraded"]
    assert version["measured"]["f1"]["upper"] < HOLDOUT["f1"] - 0.01
    assert staging["concept"]["versions"][0]["degraded"] == []
    assert report["kinds"] == ["data", "concept"] and report["drift_detected"]

    out = tmp_path / "out"
    md = (out / "drift.md").read_text()
    assert "**Data and concept drift detected**" in md
    assert "| staging | 400 | **yes**: " in md
    assert "| production | 400 | no | **yes**: version 3" in md
    assert "mlflow:mlflow@" not in md + (out / "drift.json").read_text()  # the store's password
    assert json.loads((out / "drift.json").read_text())["kinds"] == ["data", "concept"]
    # Each environment's data-drift report in the server's format (DRIFT_REPORT_PATH).
    assert json.loads((out / "staging/drift.json").read_text())["drift_detected"] is True
    assert "model_drift_detected 0.0" in (out / "production/drift.prom").read_text()


def test_quiet_traffic_and_no_holdout_figure(store_url: str, reference, tmp_path: Path) -> None:
    model = f"quiet-{tmp_path.name}"
    serve(store_url, model, names.PRODUCTION, customers(300, seed=5), DAY, wrong=0.0)
    report = judge(store_url, model, reference, tmp_path / "a")
    assert report["kinds"] == [] and not report["drift_detected"]
    assert report["environments"]["staging"] == {
        "rows": 0, "data": None, "concept": None, "kinds": []
    }  # fmt: skip
    assert "No drift" in (tmp_path / "a/drift.md").read_text()
    # Wrong answers, but nothing to compare them with: said, not guessed.
    serve(store_url, model, names.STAGING, customers(300, seed=6), DAY, wrong=0.6)
    report = judge(store_url, model, reference, tmp_path / "b", holdout={})
    assert report["kinds"] == [] and not report["environments"]["staging"]["concept"]["judged"]
    assert "not judged: no production holdout figure" in (tmp_path / "b/drift.md").read_text()


def test_the_drift_command_reads_the_store_and_the_issue_names_the_kind(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """`<project> drift` with no --current: $MLOPS_PREDICTION_STORE's window, exit 3, and
    `mlops-toolkit drift-issue` titles the issue with the kind (loopback GitHub stand-in)."""
    from mlops_toolkit.cli import main as toolkit
    from support.github_api import GitHubStandIn

    (workdir / "gate.yaml").write_text(GATE)
    train = customers(2000, seed=1)
    # An ID column the model never receives (excluded at training): not compared, and said so.
    train.insert(0, "customer_id", [f"C{i:05d}" for i in range(len(train))])
    train.to_csv(workdir / "train.csv", index=False)
    params = (workdir / "params.yaml").read_text()
    (workdir / "params.yaml").write_text(params.replace("target: target", "target: outcome"))
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model = projectkit.load_params().mlflow.registered_model_name
    serve(url, model, names.PRODUCTION, customers(300, seed=3), DAY, wrong=0.5)
    monkeypatch.setenv(names.ENV_PREDICTION_STORE, url)
    argv = ["drift", "--reference", "train.csv", "--holdout", "f1=0.95", "--report-dir", "out"]
    assert main(argv) == 3
    assert "concept drift detected" in capsys.readouterr().err
    assert json.loads((workdir / "out/drift.json").read_text())["kinds"] == ["concept"]
    # No --holdout: the registry's production version (none in this fresh MLflow): not judged.
    assert main(["drift", "--reference", "train.csv", "--report-dir", "reg"]) == 0
    assert "not judged: no production holdout" in (workdir / "reg/drift.md").read_text()
    assert main([*argv, "--window", "1h"]) == 0  # the traffic is a day old: nothing in 1h
    assert main([*argv, "--window", "soon"]) == 1
    assert main([*argv, "--holdout", "f2=1"]) == 1
    assert main(argv) == 3
    with GitHubStandIn(token="secret") as gh:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "org/proj")
        monkeypatch.setenv("GITHUB_TOKEN", "secret")
        assert toolkit(["drift-issue", "--report", "out/drift.md"]) == 0
        [issue] = gh.issues_of("org/proj")
        assert issue["title"] == "Concept drift detected"
        assert "| production | 300 | no | **yes**: version 3 (f1" in issue["body"]
        assert "Not compared (the model never receives them): customer_id." in issue["body"]
    assert "postgres" not in url and url not in capsys.readouterr().err


def test_each_environment_is_pushed_as_its_own_group_with_basic_auth(
    reference, tmp_path: Path, pushgateway: str
) -> None:
    """job="model-drift", model_name, environment: the server's model_drift_* families, the
    values of each environment's report; a later PUT replaces the group whole."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model = "churn-pushed"
    serve(url, model, names.STAGING, customers(400, seed=2, moved=True), DAY, wrong=0.0)
    serve(url, model, names.PRODUCTION, customers(400, seed=3), DAY, wrong=0.0)
    basic = "Basic cHVzaGVyOnB3LTdjM2U="  # pusher:pw-7c3e
    env = {gateway.ENV_USERNAME: "pusher", gateway.ENV_PASSWORD: "pw-7c3e"}
    with AuthProxy(pushgateway, basic) as proxy:
        target = gateway.Target.resolve(proxy.url, env)
        report = judge(url, model, reference, tmp_path / "out", target=target)
        assert [auth for _, auth in proxy.requests] == [basic, basic]
        found = pushed(pushgateway)
        assert report["pushgateway"] == {
            "url": proxy.url, "job": "model-drift", "pushed": list(names.STAGES), "error": None
        }  # fmt: skip
        assert json.loads((tmp_path / "out/drift.json").read_text())["pushgateway"]["error"] is None
        for env_name, drifted in ((names.STAGING, 1.0), (names.PRODUCTION, 0.0)):
            group = {"job": "model-drift", "model_name": model, "environment": env_name}
            data = report["environments"][env_name]["data"]
            assert list(series(found, "model_drift_detected", **group).values()) == [drifted]
            for feature in ("tenure", "charges", "plan"):
                [score] = series(found, "model_drift_score", **group, feature=feature).values()
                assert score == pytest.approx(data["features"][feature]["psi"]), feature
            [psi] = series(found, "model_drift_threshold", **group, metric="psi").values()
            assert psi == Thresholds().psi
            assert series(found, "model_drift_p_value", **group, feature="tenure")
            [stamp] = series(found, "model_drift_report_timestamp_seconds", **group).values()
            assert stamp == pytest.approx(data["timestamp"])
        staging = {"job": "model-drift", "model_name": model, "environment": names.STAGING}
        assert series(found, "model_drift_score", **staging, feature="tenure")

        # Staging's traffic is gone from a later window: its group keeps no old score.
        quiet = f"sqlite:///{tmp_path / 'quiet.sqlite3'}"
        serve(quiet, model, names.PRODUCTION, customers(400, seed=3), DAY, wrong=0.0)
        judge(quiet, model, reference, tmp_path / "later", target=target)
        found = pushed(pushgateway)
    assert series(found, "model_drift_score", **staging) == {}
    assert list(series(found, "model_drift_detected", **staging).values()) == [0.0]
    assert list(series(found, "model_drift_threshold", **staging, metric="psi").values()) == [
        Thresholds().psi
    ]
    production = {**staging, "environment": names.PRODUCTION}
    assert series(found, "model_drift_score", **production, feature="tenure")


def test_the_drift_command_pushes_and_a_failed_push_loses_no_report(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, pushgateway: str
) -> None:
    """$MLOPS_PUSHGATEWAY_URL: pushed. Nothing listening there: drift still exits 3 (the issue
    is opened from the report), no drift exits 1; either way one error line, no credential."""
    (workdir / "gate.yaml").write_text(GATE)
    customers(2000, seed=1).to_csv(workdir / "train.csv", index=False)
    params = (workdir / "params.yaml").read_text()
    (workdir / "params.yaml").write_text(params.replace("target: target", "target: outcome"))
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model = projectkit.load_params().mlflow.registered_model_name
    serve(url, model, names.PRODUCTION, customers(300, seed=3, moved=True), DAY, wrong=0.0)
    monkeypatch.setenv(names.ENV_PREDICTION_STORE, url)
    argv = ["drift", "--reference", "train.csv", "--holdout", "f1=0.5", "--report-dir", "out"]

    monkeypatch.setenv(names.ENV_PUSHGATEWAY_URL, pushgateway)
    assert main(argv) == 3
    said = capsys.readouterr().err
    assert f"pushed staging, production to {pushgateway} (job model-drift)" in said
    group = {"job": "model-drift", "model_name": model, "environment": names.PRODUCTION}
    assert series(pushed(pushgateway), "model_drift_detected", **group) == {
        frozenset({**group, "instance": ""}.items()): 1.0
    }

    password = "pw-51f0c2"
    monkeypatch.setenv(names.ENV_PUSHGATEWAY_URL, f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv(gateway.ENV_USERNAME, "pusher")
    monkeypatch.setenv(gateway.ENV_PASSWORD, password)
    (workdir / "out/drift.json").unlink()
    assert main(argv) == 3  # drift first: the workflow opens the issue from out/drift.md
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert "push failed (Prometheus misses this run's drift)" in line and "unreachable" in line
    assert "data drift detected" in err
    report = json.loads((workdir / "out/drift.json").read_text())
    assert report["drift_detected"] and "unreachable" in report["pushgateway"]["error"]
    assert report["pushgateway"]["pushed"] == []

    assert main([*argv, "--window", "1h"]) == 1  # no traffic in the last hour: no drift
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert "push failed (the reports are written): the Pushgateway at http://127.0.0.1:" in line
    assert json.loads((workdir / "out/drift.json").read_text())["window"] == "1h"
    logs = "".join(p.read_text() for p in (workdir / "logs").glob("*.log"))
    assert password not in err + logs + (workdir / "out/drift.json").read_text()
