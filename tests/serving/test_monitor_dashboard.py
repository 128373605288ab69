"""The Grafana dashboards (model quality, model serving), checked offline (Grafana cannot run
here): their selectors, the datasource as a variable, valid PromQL over the series the server
exposes and `monitor` pushes, evaluated by promtool over those series (every variable lists
values, every panel shows data, and every query follows every selector whose label its series
carry), and the quality interval drawn as a band between the bounds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlops_toolkit.contracts import MeasuredMetric
from mlops_toolkit.monitoring import quality
from mlops_toolkit.serving.settings import Settings
from mlops_toolkit.serving.telemetry import ServingMetrics
from prometheus_client.parser import text_string_to_metric_families

from .conftest import run, write_drift_report

SERIES = re.compile(r"\b(model_quality_[a-z_]+)")
SELECTOR = re.compile(r"\b([a-zA-Z_:][\w:]*)\{([^}]*)\}")
VARIABLE = re.compile(r"\$\{?(\w+)\}?")
# The selectors of each dashboard, and whether each takes several values (a regex matcher).
SELECTORS = {
    "model-quality": {
        "environment": False,
        "model_name": False,
        "model_version": True,
        "window": False,
        "metric": True,
    },
    "model-serving": {"environment": True, "model_name": True, "model_version": True},
}
# What each dashboard is evaluated over: the series of two states, each with its selection.
# Quality: production's version 1 has labels; staging's version 2 has none yet (the estimate only).
PRODUCTION = {"environment": "production", "model_name": "m", "model_version": "1"}
STAGING = {"environment": "staging", "model_name": "m", "model_version": "2"}
SELECTIONS = {
    "model-quality": [
        {**PRODUCTION, "window": "7d", "metric": "roc_auc"},
        {**STAGING, "window": "7d", "metric": "roc_auc"},
    ],
    "model-serving": [PRODUCTION, STAGING],
}


def _dashboard(project: Path, uid: str = "model-quality") -> dict[str, Any]:
    path = project / f"monitoring/grafana/dashboards/{uid}.json"
    return json.loads(path.read_text())


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def _datasources(node: Any) -> list[Any]:
    """Every `datasource` value anywhere in the dashboard."""
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [d for value in node.values() for d in _datasources(value)]
    if isinstance(node, list):
        return [d for value in node for d in _datasources(value)]
    return []


def _quality_series() -> list[tuple[str, dict[str, str]]]:
    """What `monitor` pushes: production's version 1 with labels, staging's version 2 without."""
    settings = quality.Settings(
        windows=(("7d", 7 * 86400.0),),
        task="classification",
        margins={"roc_auc": 0.02},
        holdout={"roc_auc": 0.9},
    )
    labelled = quality.figures(
        settings, "m", "1", "production", "7d", 100, 60,
        delays=(3600.0, 7200.0),
        measured={"roc_auc": MeasuredMetric(0.91, 0.88, 0.94)},
        estimated={"roc_auc": 0.9},
        estimate_error={"roc_auc": -0.01},
    )  # fmt: skip
    pending = quality.figures(
        settings, "m", "2", "staging", "7d", 40, 0, estimated={"roc_auc": 0.89}
    )
    report = quality.Report(1e9, settings, [labelled, pending], {("m", "production"): 1e9 - 60}, {})
    text = "".join(quality.exposition(report, "m", env) for env in ("production", "staging"))
    scrape = {"job": quality.PUSH_JOB, "instance": ""}  # honor_labels keeps what was pushed
    return [
        (s.name, {**s.labels, **scrape})
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def _serving_series(tmp_path: Path) -> list[tuple[str, dict[str, str]]]:
    """What Prometheus scrapes from each stage's server (its own registry, drift report included),
    with the labels its scrape config adds (environment, job, instance), and `up`."""
    report = tmp_path / "drift.json"
    write_drift_report(report, {"a": (0.1, 0.5)}, prediction=("numeric", 0.05, 0.6))
    series = []
    for i, stage in enumerate((PRODUCTION, STAGING)):
        settings = Settings(
            model_dir=str(tmp_path),
            model_name=stage["model_name"],
            model_version=stage["model_version"],
            drift_report=str(report),
        )
        scrape = {
            "job": "model-serving",
            "instance": f"host{i}:8080",
            "environment": stage["environment"],
        }
        series.append(("up", scrape))
        for family in ServingMetrics(settings).registry.collect():
            series += [(s.name, {**s.labels, **scrape}) for s in family.samples]
    return series


def _series(uid: str, tmp_path: Path) -> list[tuple[str, dict[str, str]]]:
    return _quality_series() if uid == "model-quality" else _serving_series(tmp_path)


def _queries(dashboard: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(the panels' queries, the selectors of the query variables' label_values)."""
    targets = [t["expr"] for p in _panels(dashboard) for t in p["targets"]]
    variables = [
        v["definition"].removeprefix("label_values(").rsplit(",", 1)[0]
        for v in dashboard["templating"]["list"]
        if v["type"] == "query"
    ]
    return targets, variables


def _concrete(expr: str, selection: dict[str, str]) -> str:
    values = {**selection, "__rate_interval": "5m"}
    return VARIABLE.sub(lambda m: values[m.group(1)], expr)


@pytest.mark.parametrize("uid", SELECTORS)
def test_selectors_and_the_datasource_variable(project: Path, uid: str, tmp_path: Path) -> None:
    dashboard = _dashboard(project, uid)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    selectors = SELECTORS[uid]
    assert {"datasource", *selectors} <= set(variables)
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    # No hard-coded datasource uid anywhere: every panel, target and variable uses the variable.
    assert all(
        isinstance(d, dict) and d["uid"] == "${datasource}"
        for d in _datasources({k: v for k, v in dashboard.items() if k != "templating"})
    )
    for name, multi in selectors.items():
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}", name
        assert f", {name})" in variables[name]["definition"], name
        assert bool(variables[name].get("multi")) == multi, name
        assert variables[name]["query"]["query"] == variables[name]["definition"], name
    # Every selector of every query matches each variable whose label its series carry.
    carried: dict[str, set[str]] = {}
    for name, labels in _series(uid, tmp_path):
        carried.setdefault(name, set()).update(labels)
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            expr = target["expr"]
            assert SELECTOR.search(expr), expr
            for series, matchers in SELECTOR.findall(expr):
                for name, multi in selectors.items():
                    if name in carried[series]:
                        op = "=~" if multi else "="
                        assert f'{name}{op}"${name}"' in matchers, (expr, name)
    # The provisioning loads every dashboard of the folder; ids and uids are unique.
    provider = yaml.safe_load(
        (project / "monitoring/grafana/provisioning/dashboards/model-serving.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == uid


def test_the_metric_selector_lists_the_estimate_before_labels(project: Path) -> None:
    """While labels are pending only the estimate exists: $metric must list it all the same."""
    [metric] = [v for v in _dashboard(project)["templating"]["list"] if v["name"] == "metric"]
    used = set(SERIES.findall(metric["definition"]))
    assert {"model_quality_value", "model_quality_estimated"} <= used, metric["definition"]


@pytest.mark.parametrize("uid", SELECTORS)
def test_queries_are_valid_promql_over_the_series_the_stack_holds(
    project: Path, uid: str, promtool: str, tmp_path: Path
) -> None:
    dashboard = _dashboard(project, uid)
    targets, variables = _queries(dashboard)
    series = _series(uid, tmp_path)
    exposed = {name for name, _ in series}
    used = {name for e in targets + variables for name, _ in SELECTOR.findall(e)}
    assert len(used) >= (10 if uid == "model-quality" else 8) and used <= exposed, used - exposed
    if uid == "model-quality":
        pushed = {quality.PREFIX + kind for kind in quality.HELP}
        assert {n for e in targets + variables for n in SERIES.findall(e)} <= pushed
    carried: dict[str, set[str]] = {}
    for name, labels in series:
        carried.setdefault(name, set()).update(labels)

    def case(expr: str, data: bool) -> dict[str, Any]:
        found = [{"labels": "{}", "value": 1}] if data else []  # [] expects no series at all
        return {"expr": f"count({expr}) > bool 0", "eval_time": "10m", "exp_samples": found}

    cases = []
    for selection in SELECTIONS[uid]:
        # Every variable lists values in every state (staging's pending labels included).
        cases += [case(_concrete(e, selection), True) for e in variables]
        for expr in targets:
            # A value nothing holds: empty wherever the query's series carry its label.
            for name in SELECTORS[uid]:
                if any(name in carried[s] for s, _ in SELECTOR.findall(expr)):
                    cases.append(case(_concrete(expr, {**selection, name: "nowhere"}), False))
    # Every panel query shows data in some state (the measured ones once labels came back).
    for expr in targets:
        shown = " or ".join(f"({_concrete(expr, s)})" for s in SELECTIONS[uid])
        cases.append(case(shown, True))
    values = {True: "0+1x20", False: "1x20"}  # counters rise (rates > 0), gauges stay
    inputs = [
        {
            "series": name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}",
            "values": values[name.endswith(("_total", "_bucket", "_count", "_sum"))],
        }
        for name, labels in series
    ]
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": cases}],
    }
    (tmp_path / "queries_test.yml").write_text(yaml.safe_dump(tests))
    result = run(promtool, "test", "rules", "queries_test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_interval_is_a_band_and_the_estimate_is_named_so(project: Path) -> None:
    dashboard = _dashboard(project)
    [live] = [p for p in _panels(dashboard) if p.get("repeat") == "metric"]
    legends = {t["legendFormat"]: t["expr"] for t in live["targets"]}
    assert legends["upper"].startswith("model_quality_upper{")
    assert legends["lower"].startswith("model_quality_lower{")
    assert legends["measured"].startswith("model_quality_value{")
    estimate = next(k for k in legends if legends[k].startswith("model_quality_estimated{"))
    assert "estimate" in estimate.lower()
    overrides = {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in live["fieldConfig"]["overrides"]
    }
    assert overrides["upper"]["custom.fillBelowTo"] == "lower"  # the band between the bounds
    assert overrides[estimate]["custom.lineStyle"]["fill"] == "dash"
    assert set(overrides) <= set(legends)
    rows = [p for p in dashboard["panels"] if p["type"] == "row"]
    assert any(r.get("repeat") == "model_version" for r in rows)
    assert "ESTIMATE" in live["description"]


def test_every_serving_alert_has_its_series_on_the_dashboard(project: Path) -> None:
    """What alerts.yml warns about can be looked at: each serving metric a rule reads is drawn."""
    import re

    import yaml

    rules = yaml.safe_load((project / "monitoring" / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"] if g["name"] != "model-quality"]
    wanted = {m for e in exprs for m in re.findall(r"model_serving_[a-z_]+", e)}
    drawn = " ".join(_queries(_dashboard(project, "model-serving"))[0])
    assert wanted and {m for m in wanted if m.removesuffix("_bucket") not in drawn} == set()
