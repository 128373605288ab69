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

import json
import os
import types
import typing
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, is_dataclass
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

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, **asdict(self)}

    def write(self, path: Path | str | None = None) -> Path:
        """The file, replaced whole (a reader never sees half of it)."""
        target = Path(path or self.PATH)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}")
        temporary.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        temporary.replace(target)
        return target

    @classmethod
    def read(cls: type[T], path: Path | str | None = None) -> T:
        source = Path(path or cls.PATH)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ContractError(f"{source}: {cls.MISSING}") from None
        except json.JSONDecodeError as exc:
            raise ContractError(
                f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        except (OSError, ValueError) as exc:
            raise ContractError(f"{source} cannot be read ({exc})") from None
        if not isinstance(data, dict):
            raise ContractError(f"{source} must hold a JSON object")
        return cls.from_dict(data, source)

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
    bootstrap: dict[str, Any]  # resamples, confidence, seed
    checks: list[dict[str, Any]]  # name, passed, value
    metrics: dict[str, dict[str, Any]]  # per metric: candidate(_ci), production(_ci), improvement
    reason: str | None = None  # why the gate could not judge (failed closed)
    production: GateModel | None = None
    baseline: dict[str, Any] | None = None  # against the naive model, when gate.yaml asks
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
)
