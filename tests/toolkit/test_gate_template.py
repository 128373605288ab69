"""The gate.yaml shipped in generated projects parses for every task and primary metric."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import REPO
from mlops_toolkit import metrics as registry
from mlops_toolkit.gate import config as gate_config

CASES = [("classification", m) for m in ("f1", "roc_auc", "accuracy")] + [
    ("regression", m) for m in ("rmse", "mae", "r2")
]


@pytest.mark.parametrize(("task", "metric"), CASES)
def test_generated_gate_config_is_valid(task, metric, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(REPO),
            "--no-input",
            "-o",
            str(tmp_path),
            f"task={task}",
            f"primary_metric={metric}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    cfg = gate_config.load(next(tmp_path.glob("*/gate.yaml")))
    assert cfg.primary.metric == metric
    assert cfg.task == task
    # Unit-independent: no absolute threshold in the sample's units, the naive model instead.
    assert cfg.primary.max_regression is not None and cfg.primary.threshold is None
    assert cfg.baseline is not None and 0 < cfg.baseline.min_improvement < 1
    # The margins are the registry's defaults (metrics.py, the one place they are set).
    assert cfg.baseline.min_improvement == registry.BASELINE_MIN_IMPROVEMENT
    if not registry.get(metric).relative_margin:
        assert cfg.primary.max_regression == registry.PRIMARY_MAX_REGRESSION
    for guard in cfg.guards:
        if not registry.get(guard.metric).relative_margin:
            assert guard.max_regression == registry.GUARD_MAX_REGRESSION
    # The commented responsible-AI example parses once uncommented (it cannot rot unseen).
    assert cfg.slices is None and cfg.robustness is None
    text = next(tmp_path.glob("*/gate.yaml")).read_text()
    head, example = text.split("\n#slices:", 1)
    keys = [line[1:] for line in example.splitlines() if line.startswith(("#  ", "#robustness"))]
    on = gate_config.parse(yaml.safe_load("\n".join([head, "slices:", *keys])))
    assert on.slices.metric == metric and on.slices.threshold is not None and on.robustness
    assert metric not in [g.metric for g in cfg.guards]
    assert (cfg.resamples, cfg.confidence, cfg.seed) == (1000, 0.95, 42)
