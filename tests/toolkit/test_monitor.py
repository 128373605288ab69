"""`monitor`: predictions joined with labels per version and window, measured with the gate's
bootstrap, estimated (CBPE) while labels are pending, recorded in the store's history, reported
as a textfile and pushed to Debian's real Pushgateway (through a loopback proxy that asks for
credentials, as one reached from a hosted runner does). A real SQLite store (the same code as
PostgreSQL's: support/stores.py tests both); the Pushgateway, Prometheus and Alertmanager path
is tests/serving/test_monitor_alerting.py. The Pushgateway fixture and proxy are
support/pushgateway.py's.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ACTIONS_SRC, GATE_YAML
from mlops_toolkit import metrics as registry
from mlops_toolkit import names
from mlops_toolkit.errors import InputError
from mlops_toolkit.monitoring import pushgateway as gateway
from mlops_toolkit.monitoring import quality
from mlops_toolkit.monitoring.store import Label, Prediction, new_ids, open_store
from support.pushgateway import AuthProxy, pushed, series
from support.pushgateway import pushgateway as pushgateway  # the fixture
from support.servers import free_port
from support.stores import pg_url, store_url  # noqa: F401  (fixtures)
from support.toolkit_cli import cli

NOW = time.time()
HOUR = 3600.0
# The metrics by role, from the registry (the one place their names are spelled).
_JUDGED = registry.names(registry.CLASSIFICATION, gate=True)
F1 = registry.default(registry.CLASSIFICATION)
AUC = next(m for m in _JUDGED if registry.get(m).source == registry.SCORES)
ACCURACY = next(m for m in _JUDGED if registry.get(m).source == registry.LABELS and m != F1)
RMSE = registry.default(registry.REGRESSION)
CLASSIFIER = quality.Settings(
    windows=(("1h", HOUR), ("1d", 24 * HOUR)),
    task=registry.CLASSIFICATION,
    resamples=300,
    min_labels=50,
)


def binary_rows(n: int, version: str, age: float, seed: int, flip: float = 0.0):
    """Calibrated binary predictions `age` seconds old, and their true classes (a share `flip`
    of them turned into the model's mistakes)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    truth = (rng.uniform(0, 1, n) < p).astype(int)
    predicted = (p > 0.5).astype(int)
    wrong = rng.uniform(0, 1, n) < flip
    truth = np.where(wrong, 1 - predicted, truth)
    ids = new_ids(n, NOW - age)
    rows = [
        Prediction(
            ids[i],
            "churn",
            version,
            "production",
            NOW - age,  # one batch: one time
            {"tenure": float(i), "plan": "basic" if i % 2 else None},
            int(predicted[i]),
            {"0": float(1 - p[i]), "1": float(p[i])},
        )
        for i in range(n)
    ]
    return rows, truth


@pytest.fixture
def store(tmp_path: Path):
    with open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}") as opened:
        yield opened


def label(store, rows, truth, count: int, delay: float) -> None:
    store.write_labels(
        [
            Label(r.prediction_id, int(t), r.ts + delay)
            for r, t in zip(rows[:count], truth, strict=False)
        ]
    )


def test_measured_metrics_are_the_labelled_rows_metrics_with_the_gates_interval(store) -> None:
    rows, truth = binary_rows(600, "3", age=2 * HOUR, seed=1)
    store.write_predictions(rows)
    label(store, rows, truth, 400, delay=1800)
    report = quality.evaluate(store, "churn", CLASSIFIER, now=NOW)
    [day] = [f for f in report.figures if f.window == "1d"]  # nothing is an hour old
    assert (day.predictions, day.labelled, day.coverage) == (600, 400, 400 / 600)
    assert day.delay_p50 == pytest.approx(1800)
    expected = registry.compute(
        registry.CLASSIFICATION,
        truth[:400],
        [r.prediction for r in rows[:400]],
        np.array([[r.scores["0"], r.scores["1"]] for r in rows[:400]]),
    )
    for metric in (F1, ACCURACY, AUC):
        measured = day.measured[metric]
        assert measured.value == pytest.approx(expected[metric], abs=1e-9), metric
        assert measured.lower < measured.value < measured.upper
        assert measured.upper - measured.lower < 0.2  # 400 rows: a real interval, not [0, 1]


def test_estimate_is_labelled_and_close_on_calibrated_probabilities(store) -> None:
    rows, truth = binary_rows(3000, "3", age=600, seed=2)
    store.write_predictions(rows)
    report = quality.evaluate(store, "churn", CLASSIFIER, now=NOW)
    pending = report.figures[0]
    assert pending.labelled == 0 and pending.measured == {}  # nothing measured yet
    true_accuracy = float(np.mean(truth == [r.prediction for r in rows]))
    assert pending.estimated[ACCURACY] == pytest.approx(true_accuracy, abs=0.03)
    # Labels arrive: the estimate is shown beside the measurement with how far it was off.
    label(store, rows, truth, 3000, delay=60)
    later = quality.evaluate(store, "churn", CLASSIFIER, now=NOW + 120).figures[0]
    for metric in (F1, ACCURACY, AUC):
        off = later.estimate_error[metric]
        assert off == pytest.approx(later.estimated[metric] - later.measured[metric].value)
        assert abs(off) < 0.03, (metric, off)
    text = quality.to_markdown(quality.evaluate(store, "churn", CLASSIFIER, now=NOW + 120))
    assert "estimate (CBPE)" in text and "not measurements" in text
    history = store.read_evaluations("churn", "3", metric=ACCURACY)
    assert history == []  # evaluate() itself writes nothing: the command records


def test_estimate_says_wrong_when_the_model_is_overconfident(store) -> None:
    """Labels the model gets wrong: measured accuracy drops, the estimate does not, and the
    difference says the probabilities can no longer be trusted."""
    rows, truth = binary_rows(800, "4", age=600, seed=3, flip=0.6)
    store.write_predictions(rows)
    label(store, rows, truth, 800, delay=60)
    [figures] = quality.evaluate(store, "churn", CLASSIFIER, now=NOW + 120).figures[:1]
    assert figures.measured[ACCURACY].value < 0.5 < figures.estimated[ACCURACY]
    assert figures.estimate_error[ACCURACY] > 0.3


def test_windows_versions_and_environments_are_apart(store) -> None:
    old, old_truth = binary_rows(100, "3", age=5 * HOUR, seed=4)
    new, new_truth = binary_rows(100, "4", age=60, seed=5)
    fresh = new_ids(10, NOW)
    staging = [
        Prediction(**{**r.__dict__, "prediction_id": fresh[i], "environment": "staging"})
        for i, r in enumerate(new[:10])
    ]
    store.write_predictions(old + new + staging)
    label(store, old, old_truth, 100, delay=60)
    label(store, new, new_truth, 100, delay=30)
    report = quality.evaluate(store, "churn", CLASSIFIER, now=NOW)
    seen = {(f.model_version, f.environment, f.window): f.predictions for f in report.figures}
    assert seen == {
        ("3", "production", "1d"): 100,
        ("4", "production", "1h"): 100,
        ("4", "production", "1d"): 100,
        ("4", "staging", "1h"): 10,
        ("4", "staging", "1d"): 10,
    }
    only = quality.evaluate(store, "churn", CLASSIFIER, environment="staging", now=NOW)
    assert {f.environment for f in only.figures} == {"staging"}
    assert report.last_label[("churn", "production")] == pytest.approx(new[0].ts + 30)
    assert ("churn", "staging") not in report.last_label
    assert report.first_prediction[("churn", "staging")] == pytest.approx(new[9].ts)


def test_label_freshness_counts_the_whole_store_not_the_window(store) -> None:
    """Labels that come back weeks late, and staleness of a model never labelled: both are read
    over every prediction, not the window, so LabelsStale can pass a limit as long as it."""
    month, recent = 30 * 24 * HOUR, HOUR / 2
    old, old_truth = binary_rows(50, "3", age=month, seed=6)
    new, _ = binary_rows(50, "3", age=recent, seed=7)
    store.write_predictions(old + new)
    report = quality.evaluate(store, "churn", CLASSIFIER, now=NOW)
    assert report.first_prediction[("churn", "production")] == pytest.approx(old[0].ts)
    assert ("churn", "production") not in report.last_label
    label(store, old, old_truth, 50, delay=month - 60)  # a month late, a minute ago
    report = quality.evaluate(store, "churn", CLASSIFIER, now=NOW)
    assert report.last_label[("churn", "production")] == pytest.approx(NOW - 60)


def test_several_classes_with_string_labels_and_regression(store, tmp_path) -> None:
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    rng = np.random.default_rng(6)
    ids = new_ids(300, NOW - 60)
    rows, truth = [], []
    for i in range(300):
        p = rng.dirichlet([1, 1, 1])
        rows.append(
            Prediction(ids[i], "penguins", "1", "production", NOW - 60, {"bill": 1.0},
                       classes[int(p.argmax())], dict(zip(classes, map(float, p), strict=True)))
        )  # fmt: skip
        truth.append(classes[rng.choice(3, p=p)])
    store.write_predictions(rows)
    store.write_labels([Label(r.prediction_id, t, NOW) for r, t in zip(rows, truth, strict=True)])
    [f] = quality.evaluate(store, "penguins", CLASSIFIER, now=NOW).figures[1:]
    assert set(f.measured) == {F1, ACCURACY}  # ROC AUC needs two classes
    expected = registry.compute(registry.CLASSIFICATION, truth, [r.prediction for r in rows])
    assert f.measured[F1].value == pytest.approx(expected[F1])
    assert set(f.estimated) == {F1, ACCURACY}

    ids = new_ids(200, NOW - 60)
    values = rng.normal(100, 10, 200)
    store.write_predictions(
        [Prediction(ids[i], "price", "2", "production", NOW - 60, {"x": 1.0}, float(values[i]))
         for i in range(200)]
    )  # fmt: skip
    actual = values + rng.normal(0, 5, 200)
    store.write_labels([Label(ids[i], float(actual[i]), NOW) for i in range(200)])
    settings = quality.Settings(windows=(("1d", 86400.0),), task=registry.REGRESSION)
    [f] = quality.evaluate(store, "price", settings, now=NOW).figures
    expected = registry.compute(registry.REGRESSION, actual, values)
    assert set(f.measured) == set(registry.names(registry.REGRESSION, gate=True))
    for metric, m in f.measured.items():
        assert m.value == pytest.approx(expected[metric]), metric
    assert f.estimated == {}  # no estimate for regression: never a made-up figure


def test_degraded_needs_the_whole_interval_below_and_enough_labels(store) -> None:
    rows, truth = binary_rows(400, "3", age=600, seed=7, flip=0.5)
    store.write_predictions(rows)
    label(store, rows, truth, 400, delay=60)
    settings = quality.Settings(
        windows=(("1d", 86400.0),),
        task=registry.CLASSIFICATION,
        resamples=300,
        margins={F1: 0.01},
        holdout={F1: 0.95},
        min_labels=50,
    )
    [f] = quality.evaluate(store, "churn", settings, now=NOW).figures
    assert f.degraded == quality.degraded(f.measured, f.labelled, settings) == [F1]
    fewer = quality.Settings(**{**settings.__dict__, "min_labels": 401})
    assert quality.degraded(f.measured, f.labelled, fewer) == []
    near = quality.Settings(**{**settings.__dict__, "holdout": {F1: f.measured[F1].upper}})
    # the point is below, the upper bound is not
    assert quality.degraded(f.measured, f.labelled, near) == []
    text = quality.exposition(
        quality.evaluate(store, "churn", settings, now=NOW), "churn", "production"
    )
    assert 'model_quality_threshold{model_name="churn",environment="production",' in text
    assert f'metric="{F1}",direction="maximize"}} 0.94' in text
    assert "# HELP model_quality_estimated ESTIMATE, not a measurement" in text


def run_monitor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return cli("monitor", "--model-name", "churn", *args, cwd=tmp_path, env=env, timeout=120)


def gate_yaml(tmp_path: Path) -> None:
    text = GATE_YAML.format(metric=F1, min_value=0.5, max_regression=0.01)
    (tmp_path / names.GATE_CONFIG).write_text(text)


def test_the_command_records_history_and_writes_reports(tmp_path) -> None:
    gate_yaml(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with open_store(url) as store:
        rows, truth = binary_rows(200, "3", age=600, seed=8)
        store.write_predictions(rows)
        label(store, rows, truth, 120, delay=60)
    output = tmp_path / "github_output"
    result = run_monitor(
        tmp_path, "--window", "1d", "--holdout", f"{F1}=0.99", "--no-registry",
        GITHUB_OUTPUT=str(output), MLOPS_PREDICTION_STORE=url,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"churn 3 (production) 1d: 120/200 labelled; measured {F1}" in result.stdout
    # The default 7-day label delay outlives the 1-day window: said, in one line, not refused.
    assert "warning: --label-delay 7d is longer than the longest --window 1d" in result.stdout
    assert f"BELOW THE GATE: {F1}" in result.stdout
    assert "degraded<<" in output.read_text() and "\ntrue\n" in output.read_text()
    report = json.loads((tmp_path / "reports/monitor/quality.json").read_text())
    assert report["figures"][0]["degraded"] == [F1]
    prom = (tmp_path / "reports/monitor/quality.prom").read_text()
    assert prom.count("# HELP model_quality_value ") == 1
    with open_store(url) as store:
        history = store.read_evaluations("churn", "3")
    measured = {(e.metric, e.estimated) for e in history}
    assert {(F1, False), (F1, True), (ACCURACY, False), (ACCURACY, True)} <= measured
    f1 = next(e for e in history if e.metric == F1 and not e.estimated)
    assert f1.n == 120 and f1.window == "1d" and f1.lower < f1.value < f1.upper
    # Coverage, delay and the estimate's error are history too, as the report gives them.
    figures = report["figures"][0]
    kept = {e.metric: e for e in history}
    assert kept[quality.COVERAGE].value == pytest.approx(120 / 200)
    assert kept[quality.DELAY_P50].value == pytest.approx(60, abs=1)
    error = kept[F1 + quality.ESTIMATE_ERROR]
    assert error.value == pytest.approx(figures["estimate_error"][F1]) and error.n == 120


@pytest.mark.parametrize(
    "args,message",
    [
        (["--window", "soon"], "--window 'soon' is not a duration"),
        (["--holdout", F1], f"--holdout '{F1}' is not METRIC=NUMBER"),
        (["--holdout", f"{RMSE}=3"], f"--holdout '{RMSE}=3' is not METRIC=NUMBER"),
        (["--min-labels", "0"], "--min-labels 0 must be at least 1"),
        (["--gate-config", "missing.yaml"], "gate config missing.yaml not found"),
        (["--store", "mysql://x"], "unsupported prediction store URL"),
    ],
)
def test_bad_input_ends_in_one_line(tmp_path, args, message) -> None:
    gate_yaml(tmp_path)
    result = run_monitor(tmp_path, "--no-registry", *args)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_holdout_figures_come_from_the_production_version(mlflow_server, model_name) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.uri)
    client.create_registered_model(model_name)
    # a version needs no model files to carry tags and an alias (no model is trained here)
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    source = f"{run.info.artifact_uri}/model"
    version = client.create_model_version(model_name, source, run_id=run.info.run_id).version
    client.set_model_version_tag(
        model_name, version, f"{names.TAG_METRIC_PREFIX}holdout_{F1}", "0.93"
    )
    assert quality.holdout_figures(model_name, [F1, ACCURACY]) == ("", {})  # no alias yet
    client.set_registered_model_alias(model_name, names.PRODUCTION, version)
    assert quality.holdout_figures(model_name, [F1, ACCURACY]) == (version, {F1: 0.93})


def test_the_action_runs_the_command_with_its_inputs(tmp_path) -> None:
    from test_actions import REPO, run_composite

    gate_yaml(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with open_store(url) as store:
        rows, truth = binary_rows(100, "5", age=600, seed=9)
        store.write_predictions(rows)
        label(store, rows, truth, 60, delay=60)
    result, output = run_composite(
        REPO / "actions" / "monitor",
        {
            "model-name": "churn",
            "store": url,
            "windows": "1h, 1d",
            "registry": "false",
            "install": "false",
            "python": sys.executable,
        },
        tmp_path,
        {"PYTHONPATH": str(ACTIONS_SRC), names.ENV_PREDICTION_STORE: "sqlite:///elsewhere.db"},
    )
    assert result.returncode == 0, result.stderr
    assert "churn 5 (production) 1h: 60/100 labelled" in result.stdout
    assert "churn 5 (production) 1d: 60/100 labelled" in result.stdout
    text = output.read_text()
    assert "evaluated<<" in text and "\n2\n" in text and "\nfalse\n" in text
    assert (tmp_path / "reports/monitor/quality.md").is_file()


def test_the_same_figures_and_history_on_both_stores(store_url) -> None:  # noqa: F811
    """SQLite and PostgreSQL (support/stores.py): the join and the history are the store's."""
    with open_store(store_url) as store:
        rows, truth = binary_rows(150, "7", age=600, seed=10)
        model = f"churn-{rows[0].prediction_id[:12]}"  # the PostgreSQL database is shared
        rows = [Prediction(**{**r.__dict__, "model_name": model}) for r in rows]
        store.write_predictions(rows)
        label(store, rows, truth, 100, delay=60)
        report = quality.evaluate(store, model, CLASSIFIER, now=NOW)
        store.record_evaluations(quality.history_rows(report))
        history = store.read_evaluations(model, "7", metric=F1)
    [day] = [f for f in report.figures if f.window == "1d"]
    assert (day.predictions, day.labelled) == (150, 100)
    expected = registry.compute(
        registry.CLASSIFICATION, truth[:100], [r.prediction for r in rows[:100]]
    )
    assert day.measured[F1].value == pytest.approx(expected[F1])
    assert sorted((e.window, e.estimated) for e in history) == [
        ("1d", False), ("1d", True), ("1h", False), ("1h", True)
    ]  # fmt: skip


def served_rows(url: str) -> None:
    """Version 3 in production (labelled) and in staging (a few rows, no labels)."""
    with open_store(url) as store:
        rows, truth = binary_rows(200, "3", age=600, seed=11)
        fresh = new_ids(20, NOW - 600)
        staging = [
            Prediction(**{**r.__dict__, "prediction_id": fresh[i], "environment": "staging"})
            for i, r in enumerate(rows[:20])
        ]
        store.write_predictions(rows + staging)
        label(store, rows, truth, 150, delay=60)


def test_monitor_pushes_each_group_through_a_proxy_with_a_bearer_token(
    tmp_path, pushgateway
) -> None:
    gate_yaml(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    served_rows(url)
    token = "tok-4f1d2c9e"
    with AuthProxy(pushgateway, f"Bearer {token}") as proxy:
        env = {names.ENV_PUSHGATEWAY_URL: proxy.url, gateway.ENV_TOKEN: token}
        result = run_monitor(
            tmp_path, "--window", "1d", "--no-registry", MLOPS_PREDICTION_STORE=url, **env
        )
        assert result.returncode == 0, result.stderr
        assert f"pushed 2 group(s) to {proxy.url}" in result.stdout
        group_path = "/metrics/job/model-quality/model_name/churn/environment"
        assert sorted(proxy.requests) == [
            (f"{group_path}/production", f"Bearer {token}"),
            (f"{group_path}/staging", f"Bearer {token}"),
        ]
        found = pushed(pushgateway)
        report = json.loads((tmp_path / "reports/monitor/quality.json").read_text())
        [figures] = [f for f in report["figures"] if f["environment"] == "production"]
        group = {"job": "model-quality", "model_name": "churn", "model_version": "3"}
        [value] = series(found, "model_quality_value", **group, environment="production",
                         window="1d", metric=F1).values()  # fmt: skip
        assert value == pytest.approx(figures["measured"][F1]["value"])
        staging = series(found, "model_quality_predictions", **group, environment="staging")
        assert list(staging.values()) == [20]
        assert token not in result.stdout + result.stderr

        # No token: the proxy refuses; the figures are still recorded and reported, then one line.
        (tmp_path / "reports/monitor/quality.json").unlink()
        output = tmp_path / "github_output"
        refused = run_monitor(
            tmp_path, "--window", "1d", "--no-registry", MLOPS_PREDICTION_STORE=url,
            GITHUB_OUTPUT=str(output), **{names.ENV_PUSHGATEWAY_URL: proxy.url},
        )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert f"the Pushgateway at {proxy.url} answered 401" in refused.stderr
    assert "sent no credentials" in refused.stderr and "sign in" in refused.stderr
    assert (tmp_path / "reports/monitor/quality.json").is_file()
    assert "evaluated<<" in output.read_text()


def test_an_unreachable_pushgateway_is_one_line_without_the_credentials(tmp_path) -> None:
    gate_yaml(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    served_rows(url)
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = run_monitor(
        tmp_path, "--window", "1d", "--no-registry", "--pushgateway",
        f"http://pusher:pw-9b7e1a@{dead}", MLOPS_PREDICTION_STORE=url,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"the Pushgateway at http://{dead} is unreachable" in result.stderr
    assert "reports/monitor" in result.stderr  # where the figures are
    assert "pw-9b7e1a" not in result.stdout + result.stderr
    assert (tmp_path / "reports/monitor/quality.json").is_file()
    with open_store(url) as store:
        assert store.read_evaluations("churn", "3")  # the history is recorded before the push


@pytest.mark.parametrize(
    "url,env,message",
    [
        ("ftp://host", {}, "is not http(s)://host[:port]"),
        ("http://h", {gateway.ENV_USERNAME: "u"}, "basic auth needs both"),
        ("http://h", {gateway.ENV_TOKEN: "t", gateway.ENV_PASSWORD: "p"}, "are both set"),
        ("http://u:p@h", {gateway.ENV_TOKEN: "t"}, "both in the URL and in"),
    ],
)
def test_credentials_given_two_ways_or_half_are_refused(url, env, message) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        gateway.Target.resolve(url, env)


def test_the_target_signs_in_as_told_and_never_shows_a_credential() -> None:
    target = gateway.Target.resolve("https://bot:p%40ss@gw.example.com:8443/push/", {})
    assert target.url == "https://gw.example.com:8443/push"  # the credentials left the URL
    assert target.headers()["Authorization"] == "Basic Ym90OnBAc3M="  # bot:p@ss
    assert "p@ss" not in repr(target)
    bearer = gateway.Target.resolve("http://gw:9091", {gateway.ENV_TOKEN: "t0k"})
    assert bearer.headers()["Authorization"] == "Bearer t0k" and "t0k" not in repr(bearer)
    assert "Authorization" not in gateway.Target.resolve("http://gw:9091", {}).headers()
    assert gateway.Target.resolve(" ", {}) is None
    assert bearer.scrub("proxy says: bad token t0k") == "(withheld: it quoted a credential)"
