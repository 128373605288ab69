"""The files that pass between a project's commands, the toolkit and the workflows: one typed
definition each, written and read only through here (docs/architecture.md, "Contracts").

Every file written here carries ``"schema": "<name>/<major>"``. A reader takes its own major
version and files from before versioning (no ``schema`` key: version 1, as projects generated
before this module write them); a newer major is refused in one line, so an old toolkit never
misreads a newer project's file. A missing file, a file that is not JSON or one that lacks a
required field is one :class:`ContractError` line naming the path and the field.

Imports nothing heavy: the project's commands and the actions read these files.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import InputError

T = TypeVar("T", bound="_Contract")


class ContractError(InputError):
    """A contract file is missing, unreadable or not the shape its reader needs."""


@dataclass(frozen=True)
class _Contract:
    SCHEMA: ClassVar[str]  # "<name>/<major>"
    PATH: ClassVar[Path]
    MISSING: ClassVar[str]  # what a missing file means, and what to run

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, **asdict(self)}

    def write(self, path: Path | None = None) -> Path:
        target = Path(path or self.PATH)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def read(cls: type[T], path: Path | str | None = None) -> T:
        source = Path(path or cls.PATH)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ContractError(f"{source}: {cls.MISSING}") from None
        except (OSError, ValueError) as exc:
            raise ContractError(f"{source} is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ContractError(f"{source} must hold a JSON object")
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any], source: Path | str = "") -> T:
        name, major = cls.SCHEMA.split("/")
        schema = str(data.get("schema") or f"{name}/1")
        if schema.split("/")[0] != name or schema.split("/")[-1] != major:
            raise ContractError(
                f"{source}: schema {schema} is not {cls.SCHEMA} (written by another toolkit "
                "version: install the one the project's workflows use)"
            )
        known = {spec.name: spec for spec in fields(cls)}
        missing = [name for name, spec in known.items() if _required(spec) and not data.get(name)]
        if missing:
            raise ContractError(f"{source} lacks {', '.join(missing)}")
        values = {name: data[name] for name in known if name in data}
        if values.get("model_version") is not None:  # older files wrote a number
            values["model_version"] = str(values["model_version"])
        return cls(**values)


def _required(spec: Any) -> bool:
    return spec.default is MISSING and spec.default_factory is MISSING


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


@dataclass(frozen=True)
class RegisteredFile(_Contract):
    """reports/registered.json: what `evaluate` registered (model_version None: nothing)."""

    SCHEMA: ClassVar[str] = "mlops.registered/1"
    PATH: ClassVar[Path] = Path("reports") / "registered.json"
    MISSING: ClassVar[str] = "nothing evaluated yet (run the evaluate step)"

    run_id: str
    registered_model_name: str = ""
    model_version: str | None = None


CONTRACTS = (RunFile, RegisteredFile)
