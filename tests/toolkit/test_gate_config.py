"""gate.yaml is read strictly: a key given twice is an error naming the key and both lines, and
every other refusal (gate_schema's pydantic models) is one line with the path and the reason."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ACTIONS_SRC
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.gate import config as gate_config

GATE = """\
primary:
  metric: f1
  min_value: 0.80
  max_regression: 0.01
guards: []
bootstrap:
  resamples: 1000
  seed: 42
target: target
"""


def test_the_plain_config_loads(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text(GATE)
    assert gate_config.load(path).primary.threshold == 0.80


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # YAML itself keeps the last value: a looser threshold would silently win.
        (
            GATE.replace("  min_value: 0.80\n", "  min_value: 0.80\n  min_value: 0.10\n"),
            "duplicate key 'min_value', first given at line 3, again at line 4",
        ),
        (
            GATE + "primary:\n  metric: accuracy\n",
            "duplicate key 'primary', first given at line 1, again at line 10",
        ),
    ],
    ids=["threshold", "section"],
)
def test_duplicate_key_is_an_error(tmp_path, text, message):
    path = tmp_path / "gate.yaml"
    path.write_text(text)
    with pytest.raises(ToolkitError) as error:
        gate_config.load(path)
    assert str(error.value) == f"gate config {path}: {message}"


def test_merge_keys_may_still_be_overridden():
    from mlops_toolkit.core import strictyaml

    text = "base: &base {metric: accuracy, min_value: 0.5}\nprimary:\n  <<: *base\n  metric: f1\n"
    loaded = strictyaml.load(text)
    assert loaded["primary"] == {"metric": "f1", "min_value": 0.5}


F1 = {"metric": "f1"}


@pytest.mark.parametrize(
    ("config", "line"),
    [
        (
            {"primary": {**F1, "max_regression": -1}},
            "primary.max_regression: must be a finite number >= 0, got -1",
        ),
        (
            {"primary": {**F1, "min_value": True}},
            "primary.min_value: must be a finite number, got True",
        ),
        (
            {
                "primary": F1,
                "guards": [{"metric": "accuracy"}, {"metric": "accuracy", "colour": 1}],
            },
            "unknown key guards[1].colour (known: metric, direction, min_value, max_value, "
            "max_regression)",
        ),
        # The typo, not the key it also leaves missing, is what the team must see.
        (
            {"primary": F1, "baseline": {"min_improvment": 0.1}},
            "unknown key baseline.min_improvment (known: min_improvement)",
        ),
        ({"guards": []}, "primary is required"),
        (
            {"primary": F1, "bootstrap": {"seed": 1.5}},
            "bootstrap.seed: must be an integer, got 1.5",
        ),
        (
            {"primary": F1, "guards": {"metric": "accuracy"}},
            "guards: must be a list, got a mapping",
        ),
        ({"primary": F1, "target": 7}, "target: must be text, got 7"),
        ({"primary": F1, 1: "x"}, "the file: keys must be text, got 1"),
        (None, "the file: must be a mapping, got None"),
    ],
    ids=["bound", "bool", "guard-key", "typo", "missing", "seed", "list", "target", "key", "empty"],
)
def test_an_error_is_one_line_with_the_path_and_the_reason(config, line):
    """The line talks about the team's file: its path, a reason, the value; no pydantic."""
    with pytest.raises(ToolkitError) as error:
        gate_config.parse(config)
    assert str(error.value) == f"gate config: {line}"


def test_a_whole_config_reads_as_the_gate_uses_it():
    cfg = gate_config.parse(
        {
            "primary": {
                "metric": "rmse",
                "direction": "minimize",
                "max_value": 3,
                "max_regression": 0,
            },
            "guards": [{"metric": "mae", "max_value": 2.5}],
            "bootstrap": {
                "resamples": 100.7,
                "confidence": 0.9,
                "seed": 0,
                "blocks": 0,
                "auc_bins": 1,
            },
            "baseline": {"min_improvement": 0.1},
            "task": "regression",
            "target": "price",
        }
    )
    assert cfg.primary == gate_config.MetricRule("rmse", "minimize", 3.0, 0.0)
    assert cfg.guards == (gate_config.MetricRule("mae", "minimize", 2.5, None),)
    assert (cfg.resamples, cfg.confidence, cfg.seed) == (100, 0.9, 0)
    assert (cfg.blocks, cfg.auc_bins) == (1, 2)  # no block count of 0, at least two score bins
    assert cfg.baseline == gate_config.BaselineRule(0.1) and cfg.target == "price"
    assert cfg.task == "regression" and cfg.metrics == ["rmse", "mae"]
    empty = gate_config.parse({"primary": F1, "guards": None, "bootstrap": None})
    assert (empty.guards, empty.resamples, empty.seed, empty.baseline) == ((), 1000, 42, None)


def test_help_and_the_import_load_no_pydantic():
    """pydantic is imported where a gate.yaml is parsed, so `--help` stays instant."""
    code = (
        "import sys\nfrom mlops_toolkit import cli\n"
        "from mlops_toolkit.gate import config as gate_config\n"
        "try:\n    cli.main(['gate', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('pydantic')))"
    )
    env = {**os.environ, "PYTHONPATH": str(ACTIONS_SRC)}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip().splitlines()[-1] == "[]"
