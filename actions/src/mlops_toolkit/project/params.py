"""params.yaml: strict YAML into typed sections, one line per error with the key and the reason.

A project declares its `Params` as a frozen dataclass of sections: the platform's sections below
(data, split, validation, mlflow, drift) and its own (model, train, evaluate ...). `load` reads
the file, applies dotted overrides and builds the tree: unknown keys, missing keys and values of
the wrong type or range are refused by name, so a typo never silently falls back to a default.
A section's `check()` method, if it has one, runs once the section is built.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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
    try:
        return _build(schema, raw, "", generated or {})
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


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot override {dotted}: {key} is not a section")
    node[leaf] = value


def _build(cls: type, raw: Any, prefix: str, generated: Generated) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'top level'} must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    for name in unknown:
        if f"{prefix}{name}" in generated:
            answer, value = generated[f"{prefix}{name}"]
            raise ConfigError(
                f"{prefix}{name} is not a params.yaml key: it was chosen when the project was "
                f"generated (answer {answer}: {value}, in .cruft.json); remove it"
            )
    if unknown:
        raise ConfigError(f"unknown key {prefix}{unknown[0]} (known: {', '.join(fields)})")
    values = {}
    for name, spec in fields.items():
        key = f"{prefix}{name}"
        if name not in raw:
            if spec.default_factory is not dataclasses.MISSING:
                values[name] = spec.default_factory()
                continue
            if spec.default is not dataclasses.MISSING:
                values[name] = spec.default
                continue
            raise ConfigError(f"missing key {key}")
        values[name] = _coerce(hints[name], raw[name], key, generated)
    built = cls(**values)
    if hasattr(built, "check"):
        built.check()
    return built


def _coerce(kind: Any, value: Any, key: str, generated: Generated) -> Any:
    if dataclasses.is_dataclass(kind):
        return _build(kind, {} if value is None else value, f"{key}.", generated)
    origin = typing.get_origin(kind) or kind
    if origin is list:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key} must be a list of column names, got {value!r}")
        return list(value)
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}")
        return dict(value)
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is str and value is None:
        return ""
    # bool is an int in Python: refuse True where a number is meant and 1 where a flag is.
    if not isinstance(value, origin) or (origin is int and isinstance(value, bool)):
        raise ConfigError(f"{key} must be {origin.__name__}, got {value!r}")
    return value
