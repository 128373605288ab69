"""The project's side of a sweep: its params, model factory and training split, in this process.

A generated project's package has `config.load_params` and `config.TASK`, and
`models.build_model(spec, seed, roles)` / `models.fit(model, features, target, spec)` (the
template's model factory, one module per family). The sweep calls them as `train` does, with
each trial's values merged over `model.params`, so a trial trains exactly the model that
`train --param k=v` would; no process is started per trial.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import metrics
from ..errors import InputError
from ..project import roles as roles_
from ..project import tables
from ..project.params import ConfigError
from ..project.sweep_space import Dimension, SweepParams

# `<slug> = "<package>.cli:main"` in the project's [project.scripts].
SCRIPT = re.compile(r"""^\s*["']?[\w.-]+["']?\s*=\s*["']([A-Za-z_][\w]*)\.cli:main["']""", re.M)


@dataclass(frozen=True)
class Project:
    """What a trial needs: the data, how to build and fit a model, what to score it by."""

    package: str
    task: str
    family: str
    params: Any  # the project's typed params.yaml
    sweep: SweepParams
    dimensions: list[Dimension]
    metric: str
    average: str
    seed: int
    features: Any  # the training split's feature columns (pandas)
    target: Any
    build: Callable[[dict[str, Any]], tuple[Any, Any]]  # trial values -> (model, model spec)
    fit: Callable[[Any, Any, Any, Any], Any]  # (model, features, target, spec) -> fitted

    @property
    def direction(self) -> str:
        return metrics.get(self.metric).direction

    @property
    def base_params(self) -> dict[str, Any]:
        return dict(self.params.model.params)


def find_package(root: Path = Path(".")) -> str:
    """The project's package, from the `<package>.cli:main` script of its pyproject.toml."""
    path = root / "pyproject.toml"
    if not path.is_file():
        raise InputError(f"{path}: no such file (run from the project root or pass --package)")
    found = SCRIPT.findall(path.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise InputError(
            f"{path}: no single '<package>.cli:main' script in [project.scripts] (pass --package)"
        )
    return found[0]


def load(package: str, params_path: Path, metric: str = "") -> Project:
    """Import the project, read params.yaml and the training split; check the search space."""
    config, models = _import(package, "config"), _import(package, "models")
    params = config.load_params(params_path)
    sweep = getattr(params, "sweep", None)
    if not isinstance(sweep, SweepParams):
        raise ConfigError(
            f"{params_path}: the project declares no sweep section (its config.py needs "
            "`sweep: SweepParams`; docs/upgrading.md)"
        )
    dimensions = sweep.dimensions()
    if not dimensions:
        raise ConfigError(f"{params_path}: sweep.space is empty: nothing to search")
    chosen = _metric(metric or sweep.metric or params.evaluate.primary_metric, config.TASK)
    frame = tables.read_csv(params.data.train)
    target_name = params.data.target
    tables.require_columns(frame, [target_name], params.data.train)
    roles = roles_.resolve(params.data.roles, frame, target_name)
    features = frame[roles_.features(roles)]
    seed = int(getattr(getattr(params, "train", None), "seed", params.split.seed))

    def build(values: dict[str, Any]) -> tuple[Any, Any]:
        spec = dataclasses.replace(params.model, params={**params.model.params, **values})
        return models.build_model(spec, seed, roles), spec

    project = Project(
        package=package,
        task=config.TASK,
        family=str(getattr(config, "MODEL_FAMILY", "")),
        params=params,
        sweep=sweep,
        dimensions=dimensions,
        metric=chosen,
        average=getattr(params.evaluate, "average", "auto"),
        seed=seed,
        features=features,
        target=frame[target_name],
        build=build,
        fit=models.fit,
    )
    _check_parameters(project, params_path)
    return project


def _import(package: str, module: str) -> Any:
    if not package.isidentifier():
        raise InputError(f"--package {package!r} is not a Python package name")
    try:
        return importlib.import_module(f"{package}.{module}")
    except ModuleNotFoundError as error:
        if error.name and (error.name == package or error.name.startswith(f"{package}.")):
            raise InputError(
                f"cannot import {package}.{module}: is the project installed here (make install)?"
            ) from None
        raise


def _metric(name: str, task: str) -> str:
    if name not in metrics.names():
        raise ConfigError(f"unknown metric {name!r} (known: {', '.join(metrics.names(task))})")
    if metrics.task_of(name) != task:
        raise ConfigError(
            f"metric {name!r} is for {metrics.task_of(name)}; this project does {task}"
        )
    return name


def _check_parameters(project: Project, params_path: Path) -> None:
    """Build the model once with a value of every dimension: the family's own check refuses a
    parameter it does not have (sklearn's set_params, the xgboost family's list) in one line,
    before any trial or run exists."""
    values = {d.name: d.example() for d in project.dimensions}
    try:
        project.build(values)
    except ConfigError as error:
        raise ConfigError(f"{params_path}: sweep.space: {error}") from None
