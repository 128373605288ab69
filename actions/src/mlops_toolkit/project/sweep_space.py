"""params.yaml's `sweep` section: the search space of a model family, read and checked at load.

    sweep:
      folds: 5            # cross-validation folds of the training split (2-20): the trial's steps
      metric: null        # null: evaluate.primary_metric (a name of the metrics registry)
      space:              # one entry per hyper-parameter of model.params to search
        C: {low: 0.001, high: 100.0, log: true}   # a float range (log-uniform)
        max_iter: {low: 200, high: 2000, step: 200}  # integers when both bounds are integers
        solver: {choices: [lbfgs, liblinear]}     # one of a list

A project declares `sweep: SweepParams = field(default_factory=SweepParams)` among its params
sections; a malformed entry is refused with one line naming the key, as any params.yaml key is.
Nothing heavy is imported here: the project's config imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import metrics
from .params import ConfigError

RANGE_KEYS = ("low", "high", "log", "step")
MIN_FOLDS, MAX_FOLDS = 2, 20
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Dimension:
    """One hyper-parameter's range (int or float, optionally log or stepped) or choices."""

    name: str
    kind: str  # int | float | categorical
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Scalar, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The trial's value for this parameter (Optuna's suggest_* calls)."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            step = int(self.step or 1)
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=step, log=self.log
            )
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def example(self) -> Any:
        """A value inside the space: the model is built with it once before any trial runs."""
        if self.kind == "categorical":
            return self.choices[0]
        return int(self.low) if self.kind == "int" else self.low

    def distribution(self) -> Any:
        """Optuna's distribution (for enqueuing or checking a resumed study's space)."""
        import optuna

        if self.kind == "categorical":
            return optuna.distributions.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            step = int(self.step or 1)
            return optuna.distributions.IntDistribution(
                int(self.low), int(self.high), log=self.log, step=step
            )
        return optuna.distributions.FloatDistribution(
            self.low, self.high, log=self.log, step=self.step
        )


@dataclass(frozen=True)
class SweepParams:
    folds: int = 5
    # Empty: the project's evaluate.primary_metric; the direction is the registry's.
    metric: str = ""
    space: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if not MIN_FOLDS <= self.folds <= MAX_FOLDS:
            raise ConfigError(
                f"sweep.folds must be between {MIN_FOLDS} and {MAX_FOLDS}, got {self.folds}"
            )
        if self.metric and self.metric not in metrics.names():
            raise ConfigError(
                f"sweep.metric must be one of {', '.join(metrics.names())}, got {self.metric!r}"
            )
        dimensions(self.space)

    def dimensions(self) -> list[Dimension]:
        return dimensions(self.space)


def dimensions(space: dict[str, Any]) -> list[Dimension]:
    """The space's entries in file order; a malformed one is one ConfigError line."""
    return [dimension(str(name), spec) for name, spec in space.items()]


def dimension(name: str, spec: Any) -> Dimension:
    key = f"sweep.space.{name}"
    if not name.isidentifier():
        raise ConfigError(f"{key}: not a parameter name")
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{key} must be a mapping such as {{low: 0.01, high: 10, log: true}} or "
            f"{{choices: [a, b]}}, got {spec!r}"
        )
    if "choices" in spec:
        return _choices(name, key, spec)
    unknown = sorted(set(spec) - set(RANGE_KEYS))
    if unknown:
        raise ConfigError(
            f"{key}: unknown key {unknown[0]} (known: choices, {', '.join(RANGE_KEYS)})"
        )
    for bound in ("low", "high"):
        if bound not in spec:
            raise ConfigError(f"{key}: missing key {bound}")
        if not _number(spec[bound]):
            raise ConfigError(f"{key}.{bound} must be a number, got {spec[bound]!r}")
    low, high = spec["low"], spec["high"]
    if not low < high:
        raise ConfigError(f"{key}: low ({low}) must be below high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{key}.log must be true or false, got {log!r}")
    if log and low <= 0:
        raise ConfigError(f"{key}: a log range needs low > 0, got {low}")
    step = spec.get("step")
    if step is not None and (not _number(step) or step <= 0):
        raise ConfigError(f"{key}.step must be a positive number, got {step!r}")
    if step is not None and log:
        raise ConfigError(f"{key}: step and log cannot be combined")
    whole = all(isinstance(v, int) for v in (low, high)) and isinstance(step or 1, int)
    kind = "int" if whole else "float"
    return Dimension(
        name, kind, float(low), float(high), log, step if step is None else float(step)
    )


def _choices(name: str, key: str, spec: dict[str, Any]) -> Dimension:
    if set(spec) != {"choices"}:
        raise ConfigError(
            f"{key}: choices stands alone (no {', '.join(sorted(set(spec) - {'choices'}))})"
        )
    choices = spec["choices"]
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{key}.choices must be a non-empty list, got {choices!r}")
    for value in choices:
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise ConfigError(f"{key}.choices: {value!r} is not a plain value")
    if len(set(map(repr, choices))) != len(choices):
        raise ConfigError(f"{key}.choices lists a value twice")
    return Dimension(name, "categorical", choices=tuple(choices))


def _number(value: Any) -> bool:
    """An int or a finite float; YAML's true/false are not numbers."""
    import math

    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
