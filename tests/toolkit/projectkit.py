"""A small project on mlops_toolkit.project, for the toolkit's tests of the project API.

Its params.yaml, gate.yaml, dvc.yaml and suite are a real generated project's (the template's
defaults, generated once per session); its Params take the platform's sections as the toolkit
defines them and the team's sections as plain mappings; its one own command, `fit`, opens a
tracked run the way a project's train does.
"""

from __future__ import annotations

import argparse
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mlops_toolkit.project import frame, runs
from mlops_toolkit.project import params as base

TASK = "classification"
GENERATED = {"model.task": ("task", TASK), "model.family": ("model_family", "sklearn")}
LEVEL_ENV = "DEMO_LOG_LEVEL"
# A subprocess that imports this module and this checkout's toolkit (`demo` in its own process).
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), str(Path(__file__).parents[2] / "actions" / "src")]
    ),
}


@dataclass(frozen=True)
class Model:
    """A team's section: what the project's model factory reads."""

    device: str
    class_weight: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Params:
    data: base.DataParams
    split: base.SplitParams
    validation: base.ValidationParams
    model: Model
    train: dict[str, Any]
    evaluate: base.EvaluateParams
    mlflow: base.MlflowParams
    drift: base.DriftParams
    sweep: dict[str, Any] = field(default_factory=dict)  # the team's search space (sweep)

    def check(self) -> None:
        self.evaluate.check_task(TASK)


def load_params(path: Path = Path("params.yaml"), overrides: dict | None = None) -> Params:
    return base.load(path, Params, overrides, generated=GENERATED)


def cmd_fit(args: argparse.Namespace, log_file: Path) -> int:
    """A tracked run, as a project's train opens one; --fail raises inside it."""
    import mlflow

    config = frame.params(args)
    if args.fail == "leak":  # a library's error that quotes a credential
        import os

        raise RuntimeError(f"login refused: {os.environ.get('MLFLOW_TRACKING_PASSWORD')}")
    uri = runs.connect(config.mlflow.tracking_uri)
    mlflow.set_experiment(config.mlflow.experiment)
    with runs.open_run(uri, run_name="fit") as run:
        mlflow.log_metric("f1", 0.5)
        if args.fail == "crash":
            raise ZeroDivisionError("division by zero")
        if args.fail == "interrupt":
            raise KeyboardInterrupt
        if args.fail == "die":  # a process killed mid-run: its run stays RUNNING on the server
            import os

            os._exit(9)
    runs.write_run_info(
        run_id=run.info.run_id,
        model_uri=f"runs:/{run.info.run_id}/model",
        registered_model_name=config.mlflow.registered_model_name,
        model_version=None,
    )
    return 0


def add_commands(add: frame.Adder) -> None:
    sub = add("fit", cmd_fit, "Open a tracked run.")
    sub.add_argument("--fail", choices=["crash", "interrupt", "die", "leak"])


PROJECT = frame.Project(
    prog="demo", version="0.1.0", task=TASK, load_params=load_params, level_env=LEVEL_ENV
)


def main(argv: list[str] | None = None) -> int:
    return frame.main(PROJECT, add_commands, argv)


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """The template's default project, generated once: its params.yaml, gate.yaml, dvc.yaml."""
    from support.project import bake

    return bake(tmp_path_factory.mktemp("generated"))


@pytest.fixture
def workdir(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder of the generated configuration, tracking into a private SQLite store."""
    for name in ("params.yaml", "gate.yaml", "dvc.yaml"):
        shutil.copy(generated / name, tmp_path / name)
    shutil.copytree(generated / "expectations", tmp_path / "expectations")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "false")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def cancer():
    """scikit-learn's breast-cancer data with snake_case columns and a `target` label."""
    import re

    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"[^0-9a-zA-Z]+", "_", c).strip("_").lower() for c in frame.columns]
    return frame


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "ERROR" in line]
