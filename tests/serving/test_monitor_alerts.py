"""The live-quality alerts and Alertmanager's configuration, checked offline by Debian's tools.

promtool runs monitoring/tests/alerts_test.yml against alerts.yml; each rule broken once here
must make it fail. amtool checks alertmanager.yml and resolves the routes of real label sets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from mlops_toolkit import names

from .conftest import run


@pytest.fixture(scope="module")
def amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.fail("amtool not found: apt-get install prometheus-alertmanager (.ci/serving-up)")
    return path


@pytest.mark.parametrize(
    "old,new",
    [
        # the point estimate instead of the interval's upper bound: a straddling CI fires
        ("      model_quality_upper\n", "      model_quality_value\n"),
        # the minimum label count ignored: 10 labels fire the alert
        ("            model_quality_min_labels\n", "            model_quality_min_labels * 0\n"),
        # smaller-is-better metrics judged like f1: the rmse model no longer fires
        ('model_quality_threshold{direction="minimize"}', 'model_quality_threshold{direction="x"}'),
        # stale labels without traffic: the idle model fires
        ("(model_quality_predictions) > 0)", "(model_quality_predictions) >= 0)"),
        # never-labelled models forgotten
        ("or model_quality_first_prediction_timestamp_seconds", "or vector(1e12)"),
        # the serving alerts summed over both stages: each loses `environment` (the inhibitions'
        # label) or judges staging and production as one
        ("sum by (le, model_name, model_version, environment) (", "sum by (le, model_name) ("),
        (
            "sum by (model_name, model_version, environment) (rate(",
            "sum by (model_name, model_version) (rate(",
        ),
        ("sum by (model_name, environment) (increase(", "sum by (model_name) (increase("),
        # versions counted across stages: staging ahead of production fires for ever
        (
            "count by (model_name, model_version, environment) (",
            "count by (model_name, model_version) (",
        ),
        # drift matched as before the Pushgateway groups: two groups' thresholds collide
        ("on (job, instance, model_name, environment)", "on (instance, job)"),
        ("on (job, instance, model_name, environment)", "on (job, instance, environment)"),
        # a lost row forgotten, a stale monitor tolerated for a day
        ("store_dropped_total[10m]))\n          > 0", "store_dropped_total[10m]))\n          >= 0"),
        ("last_run_timestamp_seconds > 3 * 3600", "last_run_timestamp_seconds > 24 * 3600"),
    ],
)
def test_alert_tests_catch_a_broken_rule(
    project: Path, promtool: str, tmp_path: Path, old: str, new: str
) -> None:
    rules = (project / "monitoring/alerts.yml").read_text()
    assert old in rules
    (tmp_path / "tests").mkdir()
    (tmp_path / "alerts.yml").write_text(rules.replace(old, new))
    shutil.copy(project / "monitoring/tests/alerts_test.yml", tmp_path / "tests")
    checked = run(promtool, "check", "rules", "alerts.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # valid, but wrong
    result = run(promtool, "test", "rules", "tests/alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "FAILED" in result.stdout + result.stderr


def test_alert_names_are_the_toolkits(project: Path) -> None:
    """The relay and retrain.yml key on these names: alerts.yml spells them the same."""
    groups = yaml.safe_load((project / "monitoring/alerts.yml").read_text())["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"]}
    assert {
        names.ALERT_PERFORMANCE,
        names.ALERT_DRIFT,
        names.ALERT_LABELS_STALE,
        names.ALERT_MONITOR_STALE,
        names.ALERT_STORE_DROPPING,
    } <= alerts


def test_alertmanager_config_is_valid_and_holds_no_secret(project: Path, amtool: str) -> None:
    path = project / "monitoring/alertmanager.yml"
    result = run(amtool, "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 receivers" in result.stdout and "3 inhibit rules" in result.stdout
    config = yaml.safe_load(path.read_text())
    glob = config["global"]
    assert glob["slack_api_url_file"].startswith("/etc/alertmanager/secrets/")
    assert glob["smtp_auth_password_file"].startswith("/etc/alertmanager/secrets/")
    assert "smtp_auth_password" not in glob and "slack_api_url" not in glob
    webhook = next(r for r in config["receivers"] if r["name"] == "retrain")
    auth = webhook["webhook_configs"][0]["http_config"]["authorization"]
    assert set(auth) == {"type", "credentials_file"}
    # the secrets folder is mounted from the project, and only its README is committed
    compose = yaml.safe_load((project / "monitoring/compose.yaml").read_text())
    volumes = compose["services"]["alertmanager"]["volumes"]
    assert "./secrets:/etc/alertmanager/secrets:ro" in volumes
    assert (project / "monitoring/secrets/README.md").is_file()
    assert "monitoring/secrets/*" in (project / ".gitignore").read_text()


def test_inhibitions_stay_within_a_stage(project: Path) -> None:
    """Staging's alerts never silence production's: every inhibition matches on `environment`,
    which every alert carries (alerts_test.yml)."""
    config = yaml.safe_load((project / "monitoring/alertmanager.yml").read_text())
    for rule in config["inhibit_rules"]:
        assert "environment" in rule["equal"], rule


PRODUCTION = {"environment": "production"}


@pytest.mark.parametrize(
    "labels,receivers",
    [
        (
            {"alertname": names.ALERT_PERFORMANCE, "severity": "critical", **PRODUCTION},
            "retrain,team-critical",
        ),
        ({"alertname": names.ALERT_DRIFT, "severity": "warning", **PRODUCTION}, "retrain,team"),
        # only production's rows retrain production's model; people hear the others
        (
            {
                "alertname": names.ALERT_PERFORMANCE,
                "severity": "critical",
                "environment": "staging",
            },
            "team-critical",
        ),
        ({"alertname": names.ALERT_DRIFT, "severity": "warning", "environment": "batch"}, "team"),
        ({"alertname": names.ALERT_DRIFT, "severity": "warning"}, "team"),
        ({"alertname": "ModelServingDown", "severity": "critical", **PRODUCTION}, "team-critical"),
        ({"alertname": names.ALERT_LABELS_STALE, "severity": "warning"}, "team"),
        ({"alertname": names.ALERT_MONITOR_STALE, "severity": "warning", **PRODUCTION}, "team"),
        ({"alertname": names.ALERT_STORE_DROPPING, "severity": "warning", **PRODUCTION}, "team"),
    ],
)
def test_alertmanager_routes(
    project: Path, amtool: str, labels: dict[str, str], receivers: str
) -> None:
    result = run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={project / 'monitoring/alertmanager.yml'}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers
