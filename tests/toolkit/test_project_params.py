"""mlops_toolkit.project.params: strict params.yaml, one line naming the key and the reason.

On a real generated project's params.yaml (projectkit.generated).
"""

from __future__ import annotations

from pathlib import Path

import projectkit
import pytest
import yaml
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.project.params import ConfigError, check_gate
from projectkit import load_params

generated = projectkit.generated  # a fixture


def write_params(generated: Path, tmp_path: Path, change) -> Path:
    raw = yaml.safe_load((generated / "params.yaml").read_text())
    change(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_generated_params_load(generated):
    params = load_params(generated / "params.yaml")
    assert params.data.target == "target" and params.split.stratify is True
    assert params.mlflow.tracking_uri == ""  # an empty value: the embedded store
    assert params.data.roles.as_dict()["numeric"] == []


def test_a_config_error_is_the_toolkit_s_and_a_value_error():
    assert issubclass(ConfigError, ToolkitError) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["split"].update(holdout_fractoin=0.3), r"unknown key split\.holdout_fr"),
        (lambda raw: raw["data"].pop("target"), r"missing key data\.target"),
        (lambda raw: raw["split"].update(holdout_fraction=1.5), "between 0 and 1"),
        (lambda raw: raw["split"].update(seed="forty-two"), "split.seed must be int"),
        (lambda raw: raw["split"].update(seed=True), "split.seed must be int"),
        (lambda raw: raw["split"].update(stratify="yes"), "split.stratify must be bool"),
        (lambda raw: raw["drift"].update(bins=1), "drift.bins must be at least 2"),
        (lambda raw: raw["drift"].update(p_value=2), "drift.p_value must be between 0 and 1"),
        (lambda raw: raw["data"]["roles"].update(numeric="age"), "list of column names"),
        (lambda raw: raw.update(split=[1]), "split must be a mapping"),
        (
            lambda raw: raw["data"]["roles"].update(numeric=["a"], categorical=["a"]),
            "column 'a' is both numeric and categorical",
        ),
        (
            lambda raw: raw["data"]["roles"].update(numeric=["target"]),
            "the target 'target' cannot be a feature",
        ),
    ],
    ids=[
        "unknown",
        "missing",
        "range",
        "int",
        "bool-for-int",
        "bool",
        "bins",
        "p-value",
        "list",
        "section",
        "two-roles",
        "target-role",
    ],
)
def test_bad_params_are_one_line_naming_the_file_and_key(generated, tmp_path, change, message):
    path = write_params(generated, tmp_path, change)
    with pytest.raises(ConfigError, match=message) as error:
        load_params(path)
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_overrides_apply_and_are_checked(generated):
    params = load_params(generated / "params.yaml", {"split.seed": 7, "model.params.extra": 1})
    assert params.split.seed == 7 and params.model.params["extra"] == 1
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_params(generated / "params.yaml", {"split.holdout_fraction": 0})
    with pytest.raises(ConfigError, match=r"cannot override split\.seed\.x: seed is not a section"):
        load_params(generated / "params.yaml", {"split.seed.x": 1})


def test_a_missing_file_and_broken_yaml_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such file"):
        load_params(tmp_path / "nope.yaml")
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  source: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_params(path)
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_params(path)


def test_a_generation_answer_is_not_a_params_key(generated, tmp_path):
    path = write_params(generated, tmp_path, lambda raw: raw["model"].update(task="regression"))
    with pytest.raises(ConfigError, match=r"model\.task is not a params.yaml key") as error:
        load_params(path)
    assert "answer task: classification, in .cruft.json" in str(error.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("split:\n", "split:\n  seed: 7\n", 1), "duplicate key 'seed'"),
        (lambda text: text + "drift:\n  bins: 3\n", "duplicate key 'drift'"),
    ],
    ids=["nested", "section"],
)
def test_duplicate_keys_are_refused_with_both_lines(generated, tmp_path, edit, message):
    text = edit((generated / "params.yaml").read_text())
    path = tmp_path / "params.yaml"
    path.write_text(text)
    key = message.split("'")[1]
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith(f"{key}:")]
    with pytest.raises(ConfigError) as error:  # (a third seed: is train's, in another mapping)
        load_params(path)
    assert str(error.value) == (
        f"{path}: {message}, first given at line {lines[0]}, again at line {lines[1]}"
    )


def test_the_generated_gate_fits_and_a_broken_one_is_named(generated, tmp_path):
    check_gate(generated / "gate.yaml", "classification", "target")
    with pytest.raises(ConfigError, match="this project does regression"):
        check_gate(generated / "gate.yaml", "regression", "target")
    with pytest.raises(ConfigError, match=r"target 'target' is not data\.target 'label'"):
        check_gate(generated / "gate.yaml", "classification", "label")
    broken = tmp_path / "gate.yaml"
    broken.write_text((generated / "gate.yaml").read_text().replace("guards:", "guards: [", 1))
    with pytest.raises(ConfigError, match=rf"{broken}.*not valid YAML"):
        check_gate(broken, "classification", "target")
