"""The files that pass between a project's commands, the toolkit and the workflows: one typed
definition each, written and read only through here (docs/architecture.md, "Contracts").

Every file written here carries ``"schema": "<name>/<major>"``. A reader takes its own major
version and files from before versioning (no ``schema`` key: as projects generated before this
module write them, brought to version 1 by the contract's ``upgrade``); a newer major is refused
in one line, so an old toolkit never misreads a newer project's file. A missing file, a file
that is not JSON, one that lacks a required field or holds a value of the wrong type is one
:class:`ContractError` line naming the path and the field.

Readers ignore fields they do not know (a later minor version may add some); writers go through
``build``, which refuses them, so a field added in code without the contract is caught in tests.

Imports nothing heavy: the project's commands and the actions read these files.
"""

from __future__ import annotations

import copy
import json
import os
import types
import typing
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from . import names
from .errors import InputError

T = TypeVar("T", bound="_Contract")
R = TypeVar("R")


class ContractError(InputError):
    """A contract file is missing, unreadable or not the shape its reader needs."""


@dataclass(frozen=True)
class _Contract:
    SCHEMA: ClassVar[str]  # "<name>/<major>"
    PATH: ClassVar[Path]
    MISSING: ClassVar[str]  # what a missing file means, and what to run
    ALLOW_NAN: ClassVar[bool] = True  # False: NaN or infinity is refused (strict JSON)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, **_plain(self)}

    def write(self, path: Path | str | None = None) -> Path:
        """The file, replaced whole (a reader never sees half of it)."""
        target = Path(path or self.PATH)
        try:
            text = json.dumps(self.to_dict(), indent=2, allow_nan=self.ALLOW_NAN)
        except ValueError as exc:  # NaN or infinity where the file is strict JSON
            raise ContractError(f"{target}: {exc}") from None
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}")
        temporary.write_text(text + "\n", encoding="utf-8")
        temporary.replace(target)
        return target

    @classmethod
    def read(cls: type[T], path: Path | str | None = None) -> T:
        source = Path(path or cls.PATH)
        return cls.from_dict(load(source, cls.MISSING), source)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any], source: Path | str = "") -> T:
        """The contract from a file's content: its own major, or an unversioned older file."""
        if data.get("schema") is None:
            data = cls.upgrade(data)
        check_schema(cls.SCHEMA, data.get("schema"), source)
        return _build(cls, data, str(source) or cls.PATH.as_posix(), strict=False)

    @classmethod
    def build(cls: type[T], data: dict[str, Any]) -> T:
        """The contract from a writer's dict: every field known, every type right."""
        return _build(cls, data, cls.PATH.as_posix(), strict=True)

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """An unversioned file (written before this module) in version 1's shape."""
        return data


def load(source: Path, missing: str) -> dict[str, Any]:
    """A contract file's JSON object; ContractError (`missing` when there is no file)."""
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(f"{source}: {missing}") from None
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (OSError, ValueError) as exc:
        raise ContractError(f"{source} cannot be read ({exc})") from None
    if not isinstance(data, dict):
        raise ContractError(f"{source} must hold a JSON object")
    return data


# A field's metadata: the field is left out of the file while it holds its default, as its
# writer always did (a gate metric's production figures in bootstrap mode, a column's note).
WHEN_SET: dict[str, Any] = {"mlops.written": "when set"}


def _plain(value: Any) -> Any:
    """`asdict`, less the fields written only when set (WHEN_SET) that are not."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            spec.name: _plain(getattr(value, spec.name))
            for spec in fields(value)
            if not (spec.metadata == WHEN_SET and getattr(value, spec.name) == spec.default)
        }
    if isinstance(value, list | tuple):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return copy.deepcopy(value)


def check_schema(expected: str, schema: Any, source: Path | str = "") -> None:
    """ContractError unless `schema` is `expected` ("<name>/<major>") or None (unversioned)."""
    if schema is None:
        return
    name, major = expected.split("/")
    if str(schema).split("/")[0] != name or str(schema).split("/")[-1] != major:
        raise ContractError(
            f"{source}: schema {schema} is not {expected} (written by another toolkit "
            "version: install the one the project's workflows use)"
        )


def _build(cls: type[R], data: dict[str, Any], where: str, *, strict: bool, sep: str = ": ") -> R:
    """`cls` from `data`, each field checked against its annotation; a field is named
    `where: field` (a nested record's `where.field`) in the error line."""
    hints = typing.get_type_hints(cls)
    known = {spec.name: spec for spec in fields(cls)}
    unknown = sorted(set(data) - set(known) - {"schema"})
    if strict and unknown:
        raise ContractError(f"{where}: unknown field(s) {', '.join(unknown)}")
    missing = [name for name, spec in known.items() if _required(spec) and _absent(data, name)]
    if missing:
        raise ContractError(f"{where} lacks {', '.join(missing)}")
    values = {
        name: _typed(data[name], hints[name], f"{where}{sep}{name}", strict)
        for name in known
        if name in data
    }
    return cls(**values)


def _absent(data: dict[str, Any], name: str) -> bool:
    return data.get(name) is None or data.get(name) == ""


def _required(spec: Field[Any]) -> bool:
    return spec.default is MISSING and spec.default_factory is MISSING


_WORDS = {
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    dict: "an object",
    list: "a list",
    type(None): "null",
}


def _typed(value: Any, hint: Any, where: str, strict: bool = False) -> Any:
    """`value` as `hint` asks (a nested contract built from its object), else ContractError."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in args:
            if _fits(value, option):
                return _typed(value, option, where, strict)
        return _wrong(value, args, where)
    if is_dataclass(hint):
        if not isinstance(value, dict):
            return _wrong(value, (dict,), where)
        return _build(hint, value, where, strict=strict, sep=".")
    if origin is list:
        if not isinstance(value, list):
            return _wrong(value, (list,), where)
        item = args[0] if args else Any
        return [_typed(entry, item, f"{where}[{i}]", strict) for i, entry in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            return _wrong(value, (dict,), where)
        item = args[1] if args else Any
        return {key: _typed(entry, item, f"{where}.{key}", strict) for key, entry in value.items()}
    if not _fits(value, hint):
        return _wrong(value, (hint,), where)
    return float(value) if hint is float else value


def _fits(value: Any, hint: Any) -> bool:
    """Whether `value` is of `hint`'s kind (bool is no number; an integer is a float)."""
    origin = typing.get_origin(hint) or hint
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if is_dataclass(hint):
        return isinstance(value, dict)
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin)


def _wrong(value: Any, expected: tuple[Any, ...], where: str) -> Any:
    wanted = " or ".join(
        "an object" if is_dataclass(h) else _WORDS.get(typing.get_origin(h) or h, str(h))
        for h in expected
    )
    got = _WORDS.get(type(value), type(value).__name__)
    raise ContractError(f"{where} must be {wanted}, not {got}")


def _version_as_text(data: dict[str, Any]) -> dict[str, Any]:
    """Projects generated before versioning wrote the model version as a number."""
    if isinstance(data.get("model_version"), int):
        return {**data, "model_version": str(data["model_version"])}
    return data


@dataclass(frozen=True)
class PrepareFile(_Contract):
    """reports/prepare.json: the rows `prepare-data` kept and those it dropped for a missing
    target, read by `train` (which logs the count to MLflow); a DVC output."""

    SCHEMA: ClassVar[str] = "mlops.prepare/1"
    PATH: ClassVar[Path] = Path("reports") / "prepare.json"
    MISSING: ClassVar[str] = "no prepare-data report (run the prepare-data step)"

    rows: int
    dropped_missing_target: int = 0


@dataclass(frozen=True)
class RunFile(_Contract):
    """reports/run.json: the last training run, written by `train` only (a DVC output)."""

    SCHEMA: ClassVar[str] = "mlops.run/1"
    PATH: ClassVar[Path] = Path("reports") / "run.json"
    MISSING: ClassVar[str] = "no training run yet (run the train step)"

    run_id: str
    model_uri: str  # MLflow 3's models:/m-... of the logged model
    registered_model_name: str = ""
    model_version: str | None = None  # training never registers: None

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        return _version_as_text(data)


@dataclass(frozen=True)
class RegisteredFile(_Contract):
    """reports/registered.json: what `evaluate` registered (model_version None: nothing)."""

    SCHEMA: ClassVar[str] = "mlops.registered/1"
    PATH: ClassVar[Path] = Path("reports") / "registered.json"
    MISSING: ClassVar[str] = "nothing evaluated yet (run the evaluate step)"

    run_id: str
    registered_model_name: str = ""
    model_version: str | None = None

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        return _version_as_text(data)


@dataclass(frozen=True)
class ValidationReport(_Contract):
    """reports/validation.json: the project's data validation, written by its `validate-data`
    command (mlops_toolkit.project.expectations), read by the toolkit's validate-data, report
    and the model passport."""

    SCHEMA: ClassVar[str] = "mlops.validation/1"
    PATH: ClassVar[Path] = Path(names.VALIDATION_JSON)
    MISSING: ClassVar[str] = "no validation report yet (run the validate-data step)"

    success: bool
    evaluated: int  # expectations checked
    failed: int
    # One object per failed expectation: expectation, column, kwargs, unexpected_count,
    # unexpected_percent, examples, rows, observed, error, message (each may be absent).
    failures: list[dict[str, Any]]
    suite: str = ""
    data: str = ""  # the file validated
    rows: int | None = None
    successful: int | None = None
    html: str = ""  # the human report, relative to the project or absolute
    data_docs: str = ""  # Great Expectations' Data Docs index
    # One object per met expectation: expectation, column, kwargs, observed (one line of what
    # was seen: the value an aggregate found, or the rows checked and the missing ones).
    passed: list[dict[str, Any]] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)  # the suite's, absent from the data


@dataclass(frozen=True)
class GateModel:
    """A model the gate judged: the candidate, or the production version it was compared with."""

    uri: str
    run_id: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class GateCheck:
    """One responsible-AI rule the gate judged (gate.yaml's slices or robustness)."""

    name: str  # the rule, one line: "slices by student: largest f1 gap ≤ 0.1"
    kind: str  # "slices" or "robustness"
    passed: bool
    value: float | None = None  # what was observed (None: could not be measured)
    threshold: float | None = None
    detail: str = ""  # one line: what was seen (the slices and their values, the rows)


@dataclass(frozen=True)
class SliceRow:
    """The candidate's metric on one slice of the holdout (one value of one column)."""

    column: str
    slice: str  # the value (or the numeric bin) as text
    rows: int
    metric: str
    value: float | None = None  # None: the metric cannot be computed there (one class)
    ci: list[float] | None = None  # [low, high] at the gate's confidence
    judged: bool = True  # False: fewer rows than slices.min_rows, shown but not judged


@dataclass(frozen=True)
class ResponsibleChecks:
    """gate.json's `responsible` section: the rules judged, the slice table, and notes (what
    was perturbed, which slices were too small). Its checks count in the verdict's `passed`."""

    checks: list[GateCheck]
    slices: list[SliceRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GateBootstrap:
    """gate.json's `bootstrap`: how the intervals were drawn (gate.yaml's)."""

    resamples: int
    confidence: float
    seed: int


@dataclass(frozen=True)
class VerdictCheck:
    """One row of gate.json's `checks`: a rule of the verdict (thresholds, the improvement over
    production, the naive model, the responsible-AI rules by name)."""

    name: str
    passed: bool
    value: float | None = None  # what was observed (None: could not be measured)


@dataclass(frozen=True)
class GateMetric:
    """One metric of gate.json's `metrics`: the candidate's figure and interval; in compare
    mode production's and the paired improvement's too (absent from the file in bootstrap mode)."""

    candidate: float
    candidate_ci: list[float]  # [low, high]
    production: float | None = field(default=None, metadata=WHEN_SET)
    production_ci: list[float] | None = field(default=None, metadata=WHEN_SET)
    # candidate over production, positive: better
    improvement: float | None = field(default=None, metadata=WHEN_SET)
    improvement_ci: list[float] | None = field(default=None, metadata=WHEN_SET)


@dataclass(frozen=True)
class GateBaseline:
    """gate.json's `baseline`: the candidate against the naive model (majority class or mean),
    paired on the same resamples, when gate.yaml asks."""

    model: str  # what the naive model predicts: "majority class 'yes'", "mean 3.2"
    value: float  # the naive model's figure of the primary metric
    improvement: float
    improvement_ci: list[float]
    required: float  # the lower bound the improvement's interval must reach


@dataclass(frozen=True)
class GateFile(_Contract):
    """reports/gate/gate.json: the gate's verdict, written by `gate`, read by `report`."""

    SCHEMA: ClassVar[str] = "mlops.gate/1"
    PATH: ClassVar[Path] = Path("reports") / "gate" / "gate.json"
    MISSING: ClassVar[str] = "no gate verdict (run the gate step)"

    passed: bool
    mode: str  # "compare" (against production) or "bootstrap" (no production yet)
    decision_rule: str
    candidate: GateModel
    rows: int  # holdout rows scored
    primary_metric: str
    direction: str  # the primary metric's: "maximize" or "minimize"
    bootstrap: GateBootstrap
    checks: list[VerdictCheck]
    metrics: dict[str, GateMetric]
    reason: str | None = None  # why the gate could not judge (failed closed)
    production: GateModel | None = None
    baseline: GateBaseline | None = None  # against the naive model, when gate.yaml asks
    # slices and robustness, when gate.yaml asks (a later addition: older files lack it)
    responsible: ResponsibleChecks | None = None
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenRun:
    """One run a command opened and has not ended; its writer's identity (liveness.py) as text,
    empty for an older project's record (an unknown writer)."""

    run_id: str
    tracking_uri: str
    pid: str = ""
    host: str = ""
    machine: str = ""  # host name, boot id and pid namespace
    process_start: str = ""  # the kernel's start time of pid (a reused pid is not the writer)


@dataclass(frozen=True)
class OpenRunsFile(_Contract):
    """logs/open-run.json: the MLflow runs the project's commands have open (tracking/open_runs)."""

    SCHEMA: ClassVar[str] = "mlops.open-runs/1"
    PATH: ClassVar[Path] = Path("logs") / "open-run.json"
    MISSING: ClassVar[str] = "no run open"

    runs: list[OpenRun]

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        if "runs" not in data and "run_id" in data:  # an older project's single record
            return {"runs": [data]}
        return data


@dataclass(frozen=True)
class RetrainDataFile(_Contract):
    """reports/retrain/data.json: the data version `retrain-data` built (the tracked file plus
    the labelled production rows), read by `retrain-pr` for the branch, commit and body."""

    SCHEMA: ClassVar[str] = "mlops.retrain-data/1"
    PATH: ClassVar[Path] = Path("reports") / "retrain" / "data.json"
    MISSING: ClassVar[str] = "no new data version (run the retrain-data step)"

    model_name: str
    environment: str
    data: str  # the DVC-tracked file extended
    ids: str  # the prediction ids it holds (beside it, DVC-tracked too)
    data_md5: str  # the new version, as its .dvc file names it
    rows_before: int
    rows_added: int
    labelled: int  # labelled rows the store gave
    already: int  # of those, rows the data held before
    dvc_files: list[str]
    commit_paths: list[str]  # the .dvc pointers and their .gitignore
    left_empty: list[str] = field(default_factory=list)
    since: float | None = None  # the window's start (epoch seconds); None: all
    label_from: float | None = None
    label_to: float | None = None
    scored_from: float | None = None
    scored_to: float | None = None


# -- drift and live quality: what `drift` and `monitor` write -----------------------------------
@dataclass(frozen=True, kw_only=True)
class ColumnDrift:
    """One column of a data-drift report (a feature, or the model's predictions): its PSI and
    test, and whether both rules say it moved (monitoring/drift.py `compare`)."""

    # Categorical columns: the current rows whose category training never saw, and a few of
    # those categories (written only for categorical columns with values on both sides).
    unseen_rows: int | None = field(default=None, metadata=WHEN_SET)
    unseen_categories: list[str] | None = field(default=None, metadata=WHEN_SET)
    kind: str  # "numeric" or "categorical"
    psi: float | None = None  # None: no values to compare on one side (`note`)
    test: str | None = None  # "ks" or "chi2"
    statistic: float | None = None
    p_value: float | None = None
    drifted: bool
    note: str = field(default="", metadata=WHEN_SET)  # why nothing was compared
    reference_mean: float | None = None  # numeric columns
    current_mean: float | None = None


@dataclass(frozen=True)
class DriftRows:
    reference: int
    current: int


@dataclass(frozen=True)
class DriftThresholds:
    """params.yaml's `drift`: a column drifts when its PSI is above `psi` and its test's
    p-value below `p_value`."""

    psi: float
    p_value: float


@dataclass(frozen=True, kw_only=True)
class DataDriftReport(_Contract):
    """drift.json of one batch against the training reference (monitoring/drift.py): written
    by `drift --current` in the report directory and, on the prediction store, per environment
    in `reports/drift/<environment>/`; the scoring server serves it on /metrics
    (DRIFT_REPORT_PATH, monitoring/driftmetrics.py), the Pushgateway gets the same figures."""

    SCHEMA: ClassVar[str] = "mlops.data-drift/1"
    PATH: ClassVar[Path] = Path("reports") / "drift" / "drift.json"
    MISSING: ClassVar[str] = "no drift report (run the drift step)"
    ALLOW_NAN: ClassVar[bool] = False

    generated_at: str  # ISO UTC time
    timestamp: float  # the same, epoch seconds
    rows: DriftRows
    thresholds: DriftThresholds
    bins: int  # PSI's quantile bins of numeric columns
    features: dict[str, ColumnDrift]
    prediction: ColumnDrift | None = None  # None: no model predictions to compare
    drifted_features: list[str]
    drift_detected: bool  # a feature or the prediction drifted
    # On the prediction store: training columns the model never receives (not compared).
    not_served: list[str] | None = field(default=None, metadata=WHEN_SET)


@dataclass(frozen=True)
class MeasuredMetric:
    """A metric measured on labelled predictions, with the gate's bootstrap interval."""

    value: float
    lower: float
    upper: float


@dataclass(frozen=True)
class VersionQuality:
    """Concept drift of one model version in one environment's window (drift_live.concept)."""

    model_version: str
    predictions: int
    labelled: int
    measured: dict[str, MeasuredMetric]
    limits: dict[str, float | None]  # per metric: production's holdout figure minus the margin
    degraded: list[str]  # metrics whose whole interval is past their limit


@dataclass(frozen=True, kw_only=True)
class ConceptDrift:
    judged: bool  # False: no production holdout figure to compare with (`why_not`)
    why_not: str = ""
    min_labels: int
    versions: list[VersionQuality]
    drifted: bool


@dataclass(frozen=True, kw_only=True)
class EnvironmentDrift:
    """One environment of live-drift's report: both kinds of its window (no rows: none judged)."""

    rows: int  # predictions in the window
    data: DataDriftReport | None = None
    concept: ConceptDrift | None = None
    kinds: list[str]  # the kinds found: "data", "concept"
    paths: dict[str, str] | None = field(default=None, metadata=WHEN_SET)  # its data-drift reports


@dataclass(frozen=True)
class DriftPush:
    """What live-drift pushed to the Pushgateway, and the failure's one line (None: none)."""

    url: str
    job: str
    pushed: list[str]  # the environments pushed, in order (a failure stops the rest)
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class LiveDriftReport(_Contract):
    """drift.json of `drift` on the prediction store (monitoring/drift_live.py): each
    environment's window, data drift and concept drift apart, and the kinds found, which
    `drift-issue` puts in the issue's title."""

    SCHEMA: ClassVar[str] = "mlops.live-drift/1"
    PATH: ClassVar[Path] = Path("reports") / "drift" / "drift.json"
    MISSING: ClassVar[str] = "no drift report (run the drift step)"
    ALLOW_NAN: ClassVar[bool] = False

    source: str  # "prediction store"
    model_name: str
    window: str  # as given: "7d"
    since: float  # epoch seconds
    until: float
    generated_at: str
    timestamp: float
    environments: dict[str, EnvironmentDrift]
    kinds: list[str]  # over every environment, in the order "data", "concept"
    drift_detected: bool
    rows: dict[str, int]  # per environment
    pushgateway: DriftPush | None = field(
        default=None, metadata=WHEN_SET
    )  # only with a Pushgateway


def read_drift(path: Path | str | None = None) -> DataDriftReport | LiveDriftReport:
    """A drift.json, whichever `drift` wrote: on the prediction store (LiveDriftReport) or
    from a file of prediction logs (DataDriftReport); an unversioned file by its shape."""
    source = Path(path or LiveDriftReport.PATH)
    data = load(source, LiveDriftReport.MISSING)
    schema = str(data.get("schema") or "")
    live = schema.startswith("mlops.live-drift/") or (not schema and "environments" in data)
    return (LiveDriftReport if live else DataDriftReport).from_dict(data, source)


@dataclass(frozen=True)
class QualitySettings:
    """How `monitor` judged: its windows and the gate's bootstrap, margins and thresholds."""

    windows: list[str]  # as given, shortest first
    task: str
    resamples: int
    confidence: float
    seed: int
    min_labels: int  # labels a window needs before its interval may raise an alert
    label_delay: float  # seconds without a label before LabelsStale
    margins: dict[str, float]  # per metric: gate.yaml's max_regression
    holdout: dict[str, float]  # per metric: the production version's holdout figure
    thresholds: dict[str, float | None]  # per metric: the holdout figure minus the margin


@dataclass(frozen=True)
class QualityFigures:
    """One model version, environment and window of `monitor` (monitoring/quality.figures)."""

    model_name: str
    model_version: str
    environment: str
    window: str
    predictions: int
    labelled: int
    coverage: float  # labelled / predictions
    delay_p50: float | None = None  # label delay, seconds (None: no label yet)
    delay_p90: float | None = None
    measured: dict[str, MeasuredMetric] = field(default_factory=dict)
    estimated: dict[str, float] = field(default_factory=dict)  # CBPE, every row
    estimate_error: dict[str, float] = field(default_factory=dict)  # CBPE - measured
    degraded: list[str] = field(default_factory=list)  # metrics past their threshold


@dataclass(frozen=True)
class QualityReport(_Contract):
    """reports/monitor/quality.json: live quality per model version, environment and window,
    written by `monitor` (monitoring/quality.py) beside quality.md and quality.prom."""

    SCHEMA: ClassVar[str] = "mlops.quality/1"
    PATH: ClassVar[Path] = Path("reports") / "monitor" / "quality.json"
    MISSING: ClassVar[str] = "no live-quality report (run the monitor step)"

    ts: float  # when `monitor` evaluated, epoch seconds
    settings: QualitySettings
    figures: list[QualityFigures]
    last_label: dict[str, float]  # "<model>/<environment>": the newest label's time


# -- the prediction log: what the scoring server and `score` write, the store and monitor read --
PREDICTION_LOG = "mlops.prediction-log/1"


@dataclass(frozen=True)
class PredictionRecord:
    """One scored row of the prediction log (`mlops.prediction-log/1`): a line of the server's
    JSON-lines log, a row the prediction store gives back (monitoring/store: `Prediction`).

    Not a file of its own but a record of a stream: `to_dict` is one line's object, `from_dict`
    reads one (its own major, or a line written before versioning: `ts` as ISO text, no
    `environment`), a newer major is one ContractError line.
    """

    SCHEMA: ClassVar[str] = PREDICTION_LOG

    prediction_id: str  # 32 hex digits: the batch id (26) then the row (6), monitoring/store/ids
    model_name: str
    model_version: str
    environment: str  # staging | production | batch | ... ("unknown" when not set)
    ts: float  # when it was scored, UTC epoch seconds
    inputs: dict[str, Any]  # the row's features as received (missing: null; dates: ISO text)
    prediction: Any = None  # the model's output for the row (null: a missing regression value)
    scores: dict[str, float] | None = None  # classifiers: probability per class, when stored

    def to_dict(self) -> dict[str, Any]:
        # Not asdict(): no deep copy of the inputs for every logged row.
        return {"schema": self.SCHEMA, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Path | str = "") -> PredictionRecord:
        if data.get("schema") is None:
            data = cls.upgrade(data)
        where = str(source) or "prediction log"
        check_schema(cls.SCHEMA, data.get("schema"), where)
        return _build(cls, data, where, strict=False)

    @classmethod
    def upgrade(cls, data: dict[str, Any]) -> dict[str, Any]:
        """A line of the JSON-lines log from before versioning: ISO `ts`, no environment."""
        ts = data.get("ts")
        if isinstance(ts, str):
            from datetime import datetime

            try:
                ts = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise ContractError(f"prediction log: ts {ts!r} is not an ISO time") from None
        return {"environment": "unknown", **data, "ts": ts}


@dataclass(slots=True)  # not frozen: the server's writer makes one per request (3x the cost)
class PredictionBatch:
    """Rows scored together (one request, one chunk of `score`): the prediction log's written
    form. Row `i` is the PredictionRecord with id `batch_id + f"{i:06x}"`, `inputs` row `i` of
    `rows` by `columns`, `prediction` `predictions[i]`, `scores` row `i` of `scores` by
    `classes`. The store keeps a batch as one row (SCHEMA in its header, store/codec.py), so a
    10,000-row request costs its writer one SQL row and no Python per row.
    """

    SCHEMA: ClassVar[str] = PREDICTION_LOG

    batch_id: str  # monitoring/store/ids.new_batch()
    model_name: str
    model_version: str
    environment: str
    ts: float
    columns: list[str]
    rows: Any  # a 2-D numeric array, {column: array or list}, or a list of rows in `columns` order
    predictions: Any  # a sequence (list or 1-D array), one per row
    classes: list[str] | None = None  # classifiers: the classes `scores` has a column for
    scores: Any = None  # n x len(classes) probabilities (2-D array or lists), or None

    @property
    def ids(self) -> list[str]:
        return [f"{self.batch_id}{i:06x}" for i in range(len(self.predictions))]


CONTRACTS = (
    PrepareFile,
    RunFile,
    RegisteredFile,
    ValidationReport,
    GateFile,
    OpenRunsFile,
    RetrainDataFile,
    DataDriftReport,
    LiveDriftReport,
    QualityReport,
)
