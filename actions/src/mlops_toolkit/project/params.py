"""params.yaml: strict YAML into typed sections, one line per error with the key and the reason.

A project declares its `Params` as a frozen dataclass of sections: the platform's sections below
(data, split, validation, mlflow, drift, `SweepParams`, sweep_space.py's sweep section, read
from here since API 1.4, and since 1.6 `EvaluateParams`, the evaluate section) and its own
(model, train ...). `load` reads the file,
applies dotted overrides and builds the tree through pydantic v2 models derived from these
dataclasses (params_schema, imported only by `load`, so importing this module stays light):
unknown keys, missing keys and values of the wrong type are refused by name with the one-line
formatter the gate shares (core.schema_errors), so a typo never silently falls back to a
default. A section's `check()`, if it has one, runs once the section is built (ranges and rules
across keys; it raises ConfigError naming its key).

Adding a section (the platform's or a team's) is one model, nothing else to register:

    @dataclass(frozen=True)
    class SweepParams:                 # the section's keys, their types and defaults
        folds: int = 5                 # int, float, bool, str, list[...], dict[str, ...],
        metric: str = ""               # another dataclass (a nested section), X | None
        space: dict[str, Any] = field(default_factory=dict)

        def check(self) -> None:       # optional: what a type cannot say
            if not 2 <= self.folds <= 20:
                raise ConfigError(f"sweep.folds must be between 2 and 20, got {self.folds}")

and one field in the project's Params: `sweep: SweepParams = field(default_factory=SweepParams)`
(a default keeps params.yaml files written before the section valid; no default makes the
section required). Keys are strict: `true` is not 1, `"42"` is not 42, an int is a float, and an
empty value (`key:`) is the empty text, list, mapping or section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import metrics
from ..core import strictyaml
from ..errors import InputError

T = TypeVar("T")
# How a feature enters the model (a project's features build one preprocessing step per role).
ROLES = ("numeric", "categorical", "boolean", "date", "excluded")
# A generation answer (cookiecutter) is not a params.yaml key: dotted key -> (answer, value).
Generated = dict[str, tuple[str, str]]


class ConfigError(InputError, ValueError):
    """params.yaml (or an override) is unusable; the message says which key and why."""


@dataclass(frozen=True)
class RoleParams:
    """Columns by role; a column listed nowhere gets the role `roles.infer` finds at train time."""

    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    boolean: list[str] = field(default_factory=list)
    date: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    def check(self) -> None:
        seen: dict[str, str] = {}
        for role in ROLES:
            for column in getattr(self, role):
                if column in seen:
                    raise ConfigError(
                        f"data.roles: column {column!r} is both {seen[column]} and {role}"
                    )
                seen[column] = role

    def as_dict(self) -> dict[str, list[str]]:
        return {role: list(getattr(self, role)) for role in ROLES}


@dataclass(frozen=True)
class DataParams:
    source: str
    raw: str
    train: str
    holdout: str
    target: str
    roles: RoleParams = field(default_factory=RoleParams)

    def check(self) -> None:
        if any(self.target in columns for columns in self.roles.as_dict().values()):
            raise ConfigError(f"data.roles: the target {self.target!r} cannot be a feature")


@dataclass(frozen=True)
class SplitParams:
    holdout_fraction: float
    seed: int
    stratify: bool

    def check(self) -> None:
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ConfigError(
                f"split.holdout_fraction must be between 0 and 1, got {self.holdout_fraction}"
            )


@dataclass(frozen=True)
class ValidationParams:
    suite: str
    report_dir: str


@dataclass(frozen=True)
class MlflowParams:
    tracking_uri: str
    experiment: str
    registered_model_name: str
    register: bool


@dataclass(frozen=True)
class DriftParams:
    psi_threshold: float
    p_value: float
    bins: int

    def check(self) -> None:
        if self.psi_threshold <= 0:
            raise ConfigError("drift.psi_threshold must be positive")
        if not 0.0 < self.p_value < 1.0:
            raise ConfigError("drift.p_value must be between 0 and 1")
        if self.bins < 2:
            raise ConfigError("drift.bins must be at least 2")


@dataclass(frozen=True)
class EvaluateParams:
    """evaluate: the holdout's primary metric (a metric of the registry the gate judges), its
    averaging over classes, and the repeats of permutation importance (API 1.6)."""

    primary_metric: str
    importance_repeats: int
    # Averaging of f1/precision/recall; auto: binary for two classes, macro past two.
    average: str = "auto"

    def check(self) -> None:
        if self.average not in metrics.AVERAGES:
            raise ConfigError(
                f"evaluate.average must be one of {', '.join(metrics.AVERAGES)}, "
                f"got {self.average!r}"
            )
        known = metrics.names(gate=True)
        if self.primary_metric not in known:
            raise ConfigError(
                f"evaluate.primary_metric must be one of {', '.join(known)}, "
                f"got {self.primary_metric!r}"
            )
        if self.importance_repeats < 1:
            raise ConfigError("evaluate.importance_repeats must be at least 1")

    def check_task(self, task: str) -> None:
        """The primary metric is one of `task`'s (a project's Params.check calls this)."""
        if self.primary_metric not in metrics.names(task, gate=True):
            raise ConfigError(
                f"evaluate.primary_metric {self.primary_metric!r} does not fit "
                f"the project's task {task!r}"
            )


def load(
    path: str | Path,
    schema: type[T],
    overrides: dict[str, Any] | None = None,
    generated: Generated | None = None,
) -> T:
    """Read ``path``, apply dotted overrides (``model.params.C``), build and check ``schema``."""
    import yaml

    path = Path(path)
    try:
        raw = strictyaml.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file (run from the project root or pass --params)"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        what = error.problem if isinstance(error, yaml.constructor.ConstructorError) else None
        raise ConfigError(f"{path}: {what or 'not valid YAML'}{where}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted, value)
    from . import params_schema  # pydantic: loaded when params are read, never for --help

    try:
        return params_schema.validate(schema, raw, generated or {})
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def check_gate(path: Path, task: str, target: str) -> None:
    """Refuse a gate.yaml the platform's gate would refuse, before any training is spent.

    The gate's own strict parser, then what only the project knows: its task and target.
    """
    from ..errors import ToolkitError
    from ..gate import config as gate_config

    try:
        gate = gate_config.load(path)
    except ToolkitError as error:
        message = str(error)
        raise ConfigError(message if str(path) in message else f"{path}: {message}") from None
    if gate.task != task:
        raise ConfigError(
            f"{path}: primary metric {gate.primary.metric} is for {gate.task}; "
            f"this project does {task}"
        )
    if gate.target is not None and gate.target != target:
        raise ConfigError(
            f"{path}: target {gate.target!r} is not data.target {target!r} of params.yaml"
        )


def __getattr__(name: str) -> Any:
    """`SweepParams` (API 1.4): the sweep section (sweep_space.py), which imports ConfigError
    from here, so it is imported when first asked for rather than at the top."""
    if name == "SweepParams":
        from .sweep_space import SweepParams

        return SweepParams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot override {dotted}: {key} is not a section")
    node[leaf] = value
