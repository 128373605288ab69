"""The sweep's pure parts (fast tier): params.yaml's sweep section, the study's storage URL, and
the best values written into model.params with every other byte of the file kept."""

from __future__ import annotations

import pytest
import yaml
from mlops_toolkit.errors import InputError
from mlops_toolkit.project import sweep_space as space
from mlops_toolkit.project.params import ConfigError
from mlops_toolkit.project.sweep_space import SweepParams
from mlops_toolkit.tuning import paramsfile, study


def test_a_space_reads_as_typed_dimensions_in_file_order():
    found = space.dimensions(
        {
            "n_estimators": {"low": 50, "high": 400, "step": 50},
            "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
            "subsample": {"low": 0.5, "high": 1},
            "solver": {"choices": ["lbfgs", "liblinear"]},
        }
    )
    assert [(d.name, d.kind) for d in found] == [
        ("n_estimators", "int"),
        ("learning_rate", "float"),
        ("subsample", "float"),
        ("solver", "categorical"),
    ]
    assert found[0].step == 50 and found[1].log and found[3].choices == ("lbfgs", "liblinear")
    assert [d.example() for d in found] == [50, 0.01, 0.5, "lbfgs"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ([0.1, 1], "sweep.space.C must be a mapping"),
        ({"low": 1}, "sweep.space.C: missing key high"),
        ({"low": 1, "high": 1}, "low (1) must be below high (1)"),
        ({"low": 0, "high": 1, "log": True}, "a log range needs low > 0"),
        ({"low": "a", "high": 1}, "sweep.space.C.low must be a number"),
        ({"low": True, "high": 2}, "sweep.space.C.low must be a number"),
        ({"low": 1, "high": 2, "colour": 3}, "unknown key colour"),
        ({"low": 1, "high": 2, "step": -1}, "step must be a positive number"),
        ({"low": 1, "high": 9, "step": 1, "log": True}, "step and log cannot be combined"),
        ({"choices": []}, "choices must be a non-empty list"),
        ({"choices": [1, 1]}, "lists a value twice"),
        ({"choices": [1], "low": 0}, "choices stands alone"),
    ],
)
def test_a_malformed_entry_is_one_line_naming_the_key(entry, message):
    with pytest.raises(ConfigError) as error:
        space.dimensions({"C": entry})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_section_checks_folds_and_metric():
    SweepParams(folds=3, metric="f1", space={"C": {"low": 0.1, "high": 1}}).check()
    with pytest.raises(ConfigError, match=r"sweep\.folds must be between 2 and 20, got 1"):
        SweepParams(folds=1).check()
    with pytest.raises(ConfigError, match=r"sweep\.metric must be one of"):
        SweepParams(metric="f2").check()


def test_the_study_lives_beside_the_embedded_store_or_where_it_is_told():
    assert study.STORE_FILE == "sweeps.journal"
    assert study.storage_url("sqlite:////p/mlflow.db", "") == "/p/sweeps.journal"
    assert (
        study.storage_url("http://mlflow:5000", "postgresql://u:pw@db:5432/sweeps")
        == "postgresql+psycopg://u:pw@db:5432/sweeps"
    )
    assert study.storage_url("http://mlflow:5000", "sqlite:////p/s.db") == "sqlite:////p/s.db"
    assert study.storage_url("http://mlflow:5000", "/runner/s.journal") == "/runner/s.journal"
    with pytest.raises(InputError, match="the tracking store is a server: name the study's"):
        study.storage_url("http://mlflow:5000", "")
    with pytest.raises(InputError) as error:
        study.storage_url("http://mlflow:5000", "redis://u:secret@db")
    assert "secret" not in str(error.value)


def test_the_default_storage_is_a_journal_a_second_sweep_continues(tmp_path):
    """The embedded default: Optuna's journal file (one appended line per stored trial, no
    database), which a later sweep opens with the trials stored so far; an RDB URL still opens
    a database."""
    import optuna

    url = study.storage_url(f"sqlite:///{tmp_path / 'mlflow.db'}", "")
    storage = study.open_storage(url)
    assert isinstance(storage, optuna.storages.JournalStorage)
    first = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    first.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=0.5))
    assert not (tmp_path / "sweeps.db").exists()
    again = optuna.load_study(study_name="s", storage=study.open_storage(url))
    assert [t.value for t in again.trials] == [0.5]
    rdb = study.open_storage(f"sqlite:///{tmp_path / 'other.db'}")
    assert isinstance(rdb, optuna.storages.RDBStorage)


def test_a_journal_in_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(InputError, match="no such folder") as error:
        study.open_storage(str(tmp_path / "gone" / "s.journal"))
    assert "\n" not in str(error.value)


PARAMS = """\
# Every tunable of the pipeline.
data:
  target: target  # the label

model:
  # auto: CUDA when a GPU is visible (xgboost), else CPU.
  device: auto
  class_weight: null
  params:
    n_estimators: 200   # trees
    max_depth: 4
    # shrinkage
    learning_rate: 0.05

train:
  seed: 42

sweep:
  space:
    learning_rate: {low: 0.00001, high: 0.3, log: true}
"""


def test_the_best_values_replace_only_their_own_lines():
    best = {"learning_rate": 1.5e-05, "n_estimators": 350, "subsample": 0.75}
    new = paramsfile.updated_text(PARAMS, best)
    assert yaml.safe_load(new)["model"]["params"] == {"max_depth": 4, **best}
    import difflib

    diff = [
        line
        for line in difflib.ndiff(PARAMS.splitlines(), new.splitlines())
        if line[:2] in ("- ", "+ ")
    ]
    assert diff == [
        "-     n_estimators: 200   # trees",
        "+     n_estimators: 350   # trees",
        "-     learning_rate: 0.05",
        "+     learning_rate: 1.5e-05",
        "+     subsample: 0.75",  # added at the end of the block, before the blank line
    ]
    assert "1.5e-05" in new and yaml.safe_load(new)["model"]["params"]["learning_rate"] == 1.5e-05


def test_a_params_file_it_cannot_edit_in_place_is_left_alone():
    flow = PARAMS.replace(
        "  params:\n    n_estimators: 200   # trees\n    max_depth: 4\n    # shrinkage\n"
        "    learning_rate: 0.05\n",
        "  params: {n_estimators: 200}\n",
    )
    with pytest.raises(InputError, match=r"model\.params is not a block mapping"):
        paramsfile.updated_text(flow, {"n_estimators": 10})
