"""The typed params.yaml of this project: the platform's sections and the team's own.

The data, split, validation, evaluate, mlflow and drift sections are the platform's
(mlops_toolkit.project.params); model and train are this project's. The loader refuses
unknown keys, missing keys and values of the wrong type or range with one line naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_toolkit.project import params as base
from mlops_toolkit.project.params import ROLES, ConfigError, RoleParams, SweepParams

__all__ = ["ROLES", "ConfigError", "Params", "RoleParams", "load_params"]

DEFAULT_PARAMS = Path("params.yaml")
# The gate's thresholds, read by the platform's gate after training; checked before it too.
GATE_FILE = Path("gate.yaml")
# Chosen when the project was generated (the answers `task` and `model_family`, kept in
# .cruft.json): the code is generated for them, so params.yaml cannot change them.
TASK = "{{ cookiecutter.task }}"
MODEL_FAMILY = "{{ cookiecutter.model_family }}"
GENERATED = {"model.task": ("task", TASK), "model.family": ("model_family", MODEL_FAMILY)}


@dataclass(frozen=True)
class ModelParams:
    device: str
    # balanced: weigh each class inversely to its frequency (imbalanced classification).
    class_weight: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.class_weight not in ("", "balanced"):
            raise ConfigError(
                f"model.class_weight must be balanced or null, got {self.class_weight!r}"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"model.device must be auto, cpu or cuda, got {self.device!r}")


@dataclass(frozen=True)
class TrainParams:
    seed: int


@dataclass(frozen=True)
class Params:
    data: base.DataParams
    split: base.SplitParams
    validation: base.ValidationParams
    model: ModelParams
    train: TrainParams
    evaluate: base.EvaluateParams
    mlflow: base.MlflowParams
    drift: base.DriftParams
    # The platform's search space for `make sweep` (mlops_toolkit.project.params.SweepParams).
    sweep: SweepParams = field(default_factory=SweepParams)

    def check(self) -> None:
        self.evaluate.check_task(TASK)


def load_params(
    path: str | Path = DEFAULT_PARAMS, overrides: dict[str, Any] | None = None
) -> Params:
    """Read, override (dotted keys such as ``model.params.C``) and check params.yaml."""
    return base.load(path, Params, overrides, generated=GENERATED)


def check_gate(params: Params, path: Path = GATE_FILE) -> None:
    """Refuse a gate.yaml the platform's gate would refuse (before any training is spent)."""
    base.check_gate(path, TASK, params.data.target)
