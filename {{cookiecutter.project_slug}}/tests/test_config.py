"""The team's sections of params.yaml (the strict loader, its wording, the platform's sections
and the refusal of the generation answers as keys are tested in the toolkit)."""

from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.config import (
    ConfigError,
    load_params,
)

ROOT = Path(__file__).resolve().parents[1]


def write_params(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    change(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_shipped_params_load():
    params = load_params(ROOT / "params.yaml")
    assert params.model.device == "auto"
    assert params.evaluate.primary_metric == "{{ cookiecutter.primary_metric }}"
    assert 0 < params.split.holdout_fraction < 1


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("model", "device", "tpu", "model.device must be auto, cpu or cuda"),
        ("model", "class_weight", "heavy", "model.class_weight must be balanced or null"),
        # This project's task, which Params.check gives the platform's section to check.
        ("evaluate", "primary_metric", "{{ 'rmse' if cookiecutter.task == 'classification' else 'f1' }}", "does not fit"),
    ],
)
def test_bad_values_are_refused(tmp_path, section, key, value, message):
    path = write_params(tmp_path, lambda raw: raw[section].update({key: value}))
    with pytest.raises(ConfigError, match=message):
        load_params(path)
