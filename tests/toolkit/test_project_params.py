"""mlops_toolkit.project.params: strict params.yaml, one line naming the key and the reason.

On a real generated project's params.yaml (projectkit.generated), and on a section declared
here (a new section is one dataclass: pydantic's model is derived from it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import projectkit
import pytest
import yaml
from conftest import ACTIONS_SRC
from mlops_toolkit.errors import ToolkitError
from mlops_toolkit.project import params as base
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


def test_the_api_s_params_is_the_module_and_frame_s_the_loader():
    import mlops_toolkit.project as api
    from mlops_toolkit.project import frame

    assert api.params.__name__ == "mlops_toolkit.project.params" and callable(api.params.load)
    assert callable(frame.params) and frame.params is not api.params


def test_a_config_error_is_the_toolkit_s_and_a_value_error():
    assert issubclass(ConfigError, ToolkitError) and issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda raw: raw["split"].update(holdout_fractoin=0.3), r"unknown key split\.holdout_fr"),
        (lambda raw: raw["data"].pop("target"), r"data\.target is required$"),
        (lambda raw: raw["split"].update(holdout_fraction=1.5), "between 0 and 1"),
        (lambda raw: raw["split"].update(seed="42"), r"split\.seed: must be an integer, got '42'"),
        (lambda raw: raw["split"].update(seed=True), r"split\.seed: must be an integer, got True"),
        (lambda raw: raw["split"].update(stratify=1), r"split\.stratify: must be true or false"),
        (lambda raw: raw["drift"].update(bins=1), "drift.bins must be at least 2"),
        (lambda raw: raw["drift"].update(p_value=2), "drift.p_value must be between 0 and 1"),
        (
            lambda raw: raw["evaluate"].update(primary_metric="bleu"),
            "evaluate.primary_metric must be one of",
        ),
        (lambda raw: raw["evaluate"].update(average="mean"), "evaluate.average must be one of"),
        (
            lambda raw: raw["evaluate"].update(importance_repeats=0),
            "evaluate.importance_repeats must be at least 1",
        ),
        (
            lambda raw: raw["evaluate"].update(primary_metric="rmse"),
            "evaluate.primary_metric 'rmse' does not fit the project's task 'classification'",
        ),
        (lambda raw: raw["data"]["roles"].update(numeric="age"), "numeric: must be a list"),
        (lambda raw: raw["data"]["roles"].update(numeric=["a", 3]), r"numeric\[1\]: must be text"),
        (lambda raw: raw.update(split=[1]), "split: must be a mapping, got a list$"),
        (lambda raw: raw.update(split=None), r"split\.holdout_fraction is required"),
        (lambda raw: raw["model"].update(params={1: "x"}), "model.params: keys must be text"),
        (lambda raw: raw.update(colour=1), r"unknown key colour \(known: data, split, "),
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
        "metric",
        "average",
        "repeats",
        "metric-task",
        "list",
        "list-item",
        "section",
        "empty-section",
        "mapping-key",
        "unknown-section",
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


@pytest.mark.parametrize(
    ("key", "value", "answer"),
    [
        ("task", "regression", "task: classification"),
        ("family", "xgboost", "model_family: sklearn"),
    ],
)
def test_a_generation_answer_is_not_a_params_key(generated, tmp_path, key, value, answer):
    path = write_params(generated, tmp_path, lambda raw: raw["model"].update({key: value}))
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


def test_the_typo_line_is_the_one_pull_requests_quote(generated, tmp_path):
    """The e2e comment quotes this line (test_lifecycle): its words and its known keys."""
    path = write_params(
        generated,
        tmp_path,
        lambda raw: raw["split"].update(holdout_fracton=raw["split"].pop("holdout_fraction")),
    )
    with pytest.raises(ConfigError) as error:
        load_params(path)
    assert str(error.value) == (
        f"{path}: unknown key split.holdout_fracton (known: holdout_fraction, seed, stratify)"
    )


def test_an_empty_value_is_empty_and_an_int_is_a_float(generated, tmp_path):
    def change(raw):
        raw["data"]["roles"] = None
        raw["mlflow"]["tracking_uri"] = None
        raw["drift"]["psi_threshold"] = 1

    params = load_params(write_params(generated, tmp_path, change))
    assert params.data.roles == base.RoleParams() and params.mlflow.tracking_uri == ""
    assert params.drift.psi_threshold == 1.0 and isinstance(params.drift.psi_threshold, float)


# A section as a platform helper or a team adds one: a dataclass, nothing registered elsewhere.
@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False

    def check(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"search.space: low ({self.low}) must be below high ({self.high})")


@dataclass(frozen=True)
class Search:
    folds: int = 5
    metric: str = ""
    mode: Literal["grid", "random"] = "random"
    space: dict[str, Range] = field(default_factory=dict)

    def check(self) -> None:
        if not 2 <= self.folds <= 20:
            raise ConfigError(f"search.folds must be between 2 and 20, got {self.folds}")


@dataclass(frozen=True)
class WithSearch:
    split: base.SplitParams
    search: Search = field(default_factory=Search)


SPLIT = "split: {holdout_fraction: 0.2, seed: 1, stratify: false}\n"


def load_search(tmp_path: Path, search: str) -> WithSearch:
    path = tmp_path / "params.yaml"
    path.write_text(SPLIT + search)
    return base.load(path, WithSearch)


def test_a_new_section_is_one_dataclass(tmp_path):
    assert load_search(tmp_path, "").search == Search()  # files from before the section
    search = load_search(
        tmp_path,
        "search:\n  metric:\n  mode: grid\n  space:\n    C: {low: 1, high: 9, log: true}\n",
    ).search
    assert search == Search(5, "", "grid", {"C": Range(1.0, 9.0, True)})


@pytest.mark.parametrize(
    ("search", "message"),
    [
        (
            "search: {space: {C: {low: 1, hi: 2}}}",
            r"unknown key search\.space\.C\.hi \(known: low, high, log\)$",
        ),
        ("search: {space: {C: {low: 1}}}", r"search\.space\.C\.high is required$"),
        (
            "search: {space: {C: {low: 3, high: 2}}}",
            r"search\.space: low \(3\.0\) must be below high",
        ),
        ("search: {mode: grid-ish}", r"search\.mode: must be 'grid' or 'random', got 'grid-ish'$"),
        ("search: {folds: 1}", r"search\.folds must be between 2 and 20, got 1$"),
        ("search: {folds: 2.5}", r"search\.folds: must be an integer, got 2\.5$"),
        ("search: [C]", r"search: must be a mapping, got a list$"),
    ],
    ids=["unknown", "missing", "check", "literal", "range", "type", "section"],
)
def test_a_new_section_s_errors_are_one_line(tmp_path, search, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_search(tmp_path, search + "\n")
    assert str(error.value).startswith(f"{tmp_path / 'params.yaml'}: ")
    assert "\n" not in str(error.value) and "pydantic" not in str(error.value)


def test_pydantic_loads_when_params_are_read_not_when_imported(tmp_path):
    """A project's config imports the params module at `--help`: that must stay instant."""
    (tmp_path / "params.yaml").write_text(SPLIT)
    code = textwrap.dedent("""
        import dataclasses, sys
        from mlops_toolkit import project
        from mlops_toolkit.project import params
        def loaded():
            return any(m.startswith("pydantic") for m in sys.modules)
        print(loaded())
        params.load(sys.argv[1], dataclasses.make_dataclass("P", [("split", params.SplitParams)]))
        print(loaded())
    """)
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "params.yaml")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ACTIONS_SRC)},
    )
    assert run.stdout.split() == ["False", "True"], run.stderr


@pytest.mark.parametrize("first", ["mlops_toolkit.project.params", "mlops_toolkit.tuning.space"])
def test_the_sweep_section_is_in_the_project_api_since_1_4(first):
    """A project's config takes SweepParams from the API, whichever module loads first."""
    code = (
        f"import {first}; from mlops_toolkit.project import API_VERSION;"
        " from mlops_toolkit.project.params import SweepParams;"
        " from mlops_toolkit.tuning import space;"
        " print(SweepParams is space.SweepParams,"
        " tuple(map(int, API_VERSION.split('.'))) >= (1, 4))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ACTIONS_SRC)},
    )
    assert run.stdout.split() == ["True", "True"], run.stderr
