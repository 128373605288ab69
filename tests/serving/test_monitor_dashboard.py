"""The model-quality Grafana dashboard, checked offline (Grafana cannot run here): its selectors,
the datasource as a variable, valid PromQL over series `monitor` really pushes, and the interval
drawn as a band between the bounds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from mlops_toolkit.monitoring import quality

from .conftest import run

SERIES = re.compile(r"\b(model_quality_[a-z_]+)")


def _dashboard(project: Path) -> dict[str, Any]:
    path = project / "monitoring/grafana/dashboards/model-quality.json"
    return json.loads(path.read_text())


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_selectors_and_the_datasource_variable(project: Path) -> None:
    dashboard = _dashboard(project)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert {"datasource", "environment", "model_name", "model_version", "window"} <= set(variables)
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("environment", "model_name", "model_version", "window"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}", name
        assert f", {name})" in variables[name]["definition"], name
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            expr = target["expr"]
            if "model_version" in expr:
                assert 'model_version=~"$model_version"' in expr, expr
            if "environment" in expr:
                assert 'environment="$environment"' in expr, expr
    # The provisioning loads every dashboard of the folder; ids and uids are unique.
    provider = yaml.safe_load(
        (project / "monitoring/grafana/provisioning/dashboards/model-serving.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "model-quality"


def test_queries_are_valid_promql_over_the_series_monitor_pushes(
    project: Path, promtool: str, tmp_path: Path
) -> None:
    exprs = [t["expr"] for p in _panels(_dashboard(project)) for t in p["targets"]]
    exprs += [
        v["definition"].removeprefix("label_values(").rsplit(",", 1)[0]
        for v in _dashboard(project)["templating"]["list"]
        if v["type"] == "query"
    ]
    pushed = {quality.PREFIX + kind for kind in quality.HELP}
    used = {name for e in exprs for name in SERIES.findall(e)}
    assert len(used) >= 10 and used <= pushed, used - pushed
    concrete = [re.sub(r"\$\{?\w+\}?", "x", e) for e in exprs]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(concrete)],
            }
        ]
    }
    (tmp_path / "queries.yml").write_text(yaml.safe_dump(rules))
    result = run(promtool, "check", "rules", "queries.yml", cwd=tmp_path)
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
