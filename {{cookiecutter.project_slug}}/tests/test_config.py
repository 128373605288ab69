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


def test_unknown_key_is_refused(tmp_path):
    path = write_params(tmp_path, lambda raw: raw["split"].update(holdout_fractoin=0.3))
    with pytest.raises(ConfigError, match=r"unknown key split\.holdout_fractoin"):
        load_params(path)


def test_missing_key_is_refused(tmp_path):
    path = write_params(tmp_path, lambda raw: raw["data"].pop("target"))
    with pytest.raises(ConfigError, match=r"missing key data\.target"):
        load_params(path)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("split", "holdout_fraction", 1.5, "between 0 and 1"),
        ("split", "seed", "forty-two", "split.seed must be int"),
        ("split", "seed", True, "split.seed must be int"),
        ("split", "stratify", "yes", "split.stratify must be bool"),
        ("model", "device", "tpu", "model.device must be auto, cpu or cuda"),
        ("evaluate", "primary_metric", "bleu", "evaluate.primary_metric must be one of"),
    ],
)
def test_bad_values_are_refused(tmp_path, section, key, value, message):
    path = write_params(tmp_path, lambda raw: raw[section].update({key: value}))
    with pytest.raises(ConfigError, match=message):
        load_params(path)


def test_metric_must_fit_task(tmp_path):
    other = "{{ 'rmse' if cookiecutter.task == 'classification' else 'f1' }}"
    path = write_params(tmp_path, lambda raw: raw["evaluate"].update(primary_metric=other))
    with pytest.raises(ConfigError, match="does not fit"):
        load_params(path)


def test_overrides_apply_and_are_checked():
    params = load_params(ROOT / "params.yaml", {"split.seed": 7, "model.params.extra": 1})
    assert params.split.seed == 7
    assert params.model.params["extra"] == 1
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_params(ROOT / "params.yaml", {"split.holdout_fraction": 0})


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  source: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_params(path)


@pytest.mark.parametrize(
    ("key", "value", "answer"),
    [
        ("family", "xgboost", "model_family: {{ cookiecutter.model_family }}"),
        ("task", "regression", "task: {{ cookiecutter.task }}"),
    ],
)
def test_generation_choices_are_not_params(tmp_path, key, value, answer):
    # The code is generated for one task and family: a params.yaml value would be ignored.
    path = write_params(tmp_path, lambda raw: raw["model"].update({key: value}))
    with pytest.raises(ConfigError, match=rf"model\.{key} is not a params.yaml key") as error:
        load_params(path)
    assert f"answer {answer}, in .cruft.json" in str(error.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("split:\n", "split:\n  seed: 7\n", 1), "duplicate key 'seed'"),
        (lambda text: text + "drift:\n  bins: 3\n", "duplicate key 'drift'"),
    ],
    ids=["nested", "section"],
)
def test_duplicate_keys_are_refused_with_both_lines(tmp_path, edit, message):
    text = edit((ROOT / "params.yaml").read_text())
    path = tmp_path / "params.yaml"
    path.write_text(text)
    key = message.split("'")[1]
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(f"{key}:")]
    with pytest.raises(ConfigError) as error:  # (a third seed: is train's, in another mapping)
        load_params(path)
    assert str(error.value) == (
        f"{path}: {message}, first given at line {lines[0]}, again at line {lines[1]}"
    )
