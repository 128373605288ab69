"""The template's answer guard and provenance, run inside the cookiecutter (or cruft) process.

Why in-process and not a ``pre_gen_project`` hook: cookiecutter logs a failed hook with a
12-line traceback, creates the project folder *before* that hook runs (a 400-character name
fails there with an ``OSError``), and renders ``--no-input`` answers as Jinja templates before any
hook (``{{ x }}`` in an answer ends in a Jinja error and a dump of the whole context). This module
is a local Jinja extension (``_extensions`` in cookiecutter.json) and acts while the answers are
prompted for, before anything is written:

* ``preprocess`` refuses an answer that holds template markup before Jinja parses it;
* the last variable of cookiecutter.json, ``__answers``, is rendered through
  :func:`check_answers`, which refuses unusable answers.

A refusal is :class:`AnswerRefused`: a ``CookiecutterException`` for library callers and a
``click.ClickException`` for the command line, which click prints as one line on stderr
(``Error: ...``) with exit status 1.
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
from cookiecutter.exceptions import CookiecutterException
from jinja2 import Environment
from jinja2.ext import Extension

ROOT = Path(__file__).resolve().parent
TEMPLATE_DIR = ROOT / "{{cookiecutter.project_slug}}"
MARKUP = ("{{", "{%", "{#")
# Files the team owns outright: `cruft update` never touches them.
CRUFT_SKIP = ["data", "expectations/dataset.json"]


def _load_metrics_registry() -> Any:
    """The platform's metrics registry, read from this checkout of the template repository:
    cookiecutter runs without the toolkit installed, and the registry imports nothing."""
    path = ROOT / "actions" / "src" / "mlops_toolkit" / "metrics.py"
    spec = importlib.util.spec_from_file_location("_cookiecutter_mlops_metrics", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


METRIC_REGISTRY = _load_metrics_registry()
# The primary metrics a project may choose, by task: those the gate judges.
METRICS = {task: METRIC_REGISTRY.names(task, gate=True) for task in METRIC_REGISTRY.TASKS}
# Import names that differ from the distribution's name, for dependencies not installed where
# cookiecutter runs (installed ones are read from their metadata). A test keeps it complete.
IMPORT_NAMES = {
    "scikit-learn": {"sklearn"},
    "pyyaml": {"yaml"},
    "matplotlib": {"mpl_toolkits", "pylab"},
    "pytest": {"py"},
    "nvidia-ml-py": {"pynvml", "example"},  # it installs a top-level `example` module too
}
ONE_LINE = re.compile(r"[^\r\n\t\x00-\x1f\x7f]{1,300}")
SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
PACKAGE = re.compile(r"[a-z_][a-z0-9_]*")
EMAIL = re.compile(r"[^@\s\"'<>\\]+@[^@\s\"'<>\\]+\.[A-Za-z]{2,}")
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
TRACKING_URI = re.compile(
    r"(databricks|(https?|sqlite|postgresql|mysql|file)(\+[a-z0-9]+)?://[^\s\"'\\]+)"
)
LABELS = re.compile(r"[A-Za-z0-9_.:-]+(\s*,\s*[A-Za-z0-9_.:-]+)*")
REGISTRY = re.compile(r"[a-z0-9]+([.-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*")
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+")
REF = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}")
VERSION = re.compile(r"v[0-9]+(\.[0-9]+){0,2}")
# A requirement on its own line of a TOML array: "name[extra]>=1; marker",
REQUIREMENT_LINE = re.compile(r'^\s*"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*[^"]*",?\s*$')


class AnswerRefused(CookiecutterException, click.ClickException):
    """An answer cannot make a working project; the message says which and why, in one line."""


def normalize(name: str) -> str:
    """PEP 503 name: what pip and uv compare distributions by."""
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def direct_dependencies() -> frozenset[str]:
    """Distributions the project names (every option): the template's pyproject and platform."""
    text = (TEMPLATE_DIR / "pyproject.toml").read_text(encoding="utf-8")
    direct = {normalize(m.group(1)) for m in map(REQUIREMENT_LINE.match, text.splitlines()) if m}
    return frozenset(direct | _platform_package())


@cache
def dependencies() -> frozenset[str]:
    """Those and, where they are installed here, everything they pull in."""
    direct = set(direct_dependencies())
    return frozenset(direct | _installed_requirements(direct))


def _platform_package() -> set[str]:
    """The platform package of this repository (projects depend on it) and what it needs."""
    path = ROOT / "actions" / "pyproject.toml"
    if not path.is_file():
        return set()
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    names = {re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r) for r in requirements}
    return {normalize(project["name"])} | {normalize(m.group()) for m in names if m}


def _installed_requirements(names: set[str]) -> set[str]:
    """What those distributions pull in, where they are installed here (else unknown)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        try:
            requires = metadata.requires(todo.pop()) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            if "extra ==" in line:
                continue
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if match and normalize(match.group()) not in seen | names:
                seen.add(normalize(match.group()))
                todo.append(match.group())
    return seen


@cache
def taken_imports() -> frozenset[str]:
    """Top-level modules the project imports: stdlib and every dependency's import names."""
    names = set(sys.stdlib_module_names) | {"tests", "src"}
    installed = metadata.packages_distributions()
    for dist in dependencies():
        names.add(dist.replace("-", "_"))
        names |= IMPORT_NAMES.get(dist, set())
        names |= {module for module, dists in installed.items() if dist in map(normalize, dists)}
    return frozenset(names)


def problems(a: Mapping[str, Any]) -> list[str]:
    """Every reason the answers are unusable, most basic first."""
    found = [
        f"{key} {value!r} holds template markup ({', '.join(MARKUP)}): answers are plain text"
        for key, value in a.items()
        if not key.startswith("_") and isinstance(value, str) and any(m in value for m in MARKUP)
    ]
    for key in ("project_name", "description", "author_name"):
        if not ONE_LINE.fullmatch(a[key]):
            found.append(f"{key} must be one line of 1 to 300 printable characters")
    found += _name_problems(a["project_slug"], a["package_name"])
    if not EMAIL.fullmatch(a["author_email"]):
        found.append(f"author_email {a['author_email']!r} is not an e-mail address")
    # Options with a fixed set of values: cookiecutter.json's _choices is their one home.
    for key, allowed in a["_choices"].items():
        if a[key] not in allowed:
            found.append(f"{key} {a[key]!r} is not supported (choose {' or '.join(allowed)})")
    if a["task"] in METRICS and a["primary_metric"] not in METRICS[a["task"]]:
        allowed = ", ".join(METRICS[a["task"]])
        found.append(
            f"primary_metric {a['primary_metric']!r} does not fit task {a['task']!r} "
            f"(choose one of {allowed})"
        )
    return found + _service_problems(a)


def _name_problems(slug: str, package: str) -> list[str]:
    found = []
    if not SLUG.fullmatch(slug) or len(slug) > 64:
        found.append(
            f"project_slug {_short(slug)} is not a valid distribution name (up to 64 lowercase "
            "letters, digits and single hyphens, starting with a letter)"
        )
    elif keyword.iskeyword(slug.replace("-", "_")):
        found.append(f"project_slug {slug!r} is a Python keyword")
    elif normalize(slug) in dependencies():
        found.append(f"project_slug {slug!r} is the name of a package the project depends on")
    if not PACKAGE.fullmatch(package) or not package.isidentifier() or len(package) > 64:
        found.append(f"package_name {_short(package)} is not a valid Python identifier")
    elif keyword.iskeyword(package) or keyword.issoftkeyword(package):
        found.append(f"package_name {package!r} is a Python keyword")
    elif package in taken_imports():
        found.append(f"package_name {package!r} would shadow a module the project imports")
    return found


def _service_problems(a: Mapping[str, Any]) -> list[str]:
    found = []
    if not MODEL_NAME.fullmatch(a["registered_model_name"]):
        found.append(
            f"registered_model_name {_short(a['registered_model_name'])} is not a valid MLflow "
            "model name (letters, digits, '.', '_' and '-')"
        )
    uri = a["mlflow_tracking_uri"]
    if _has_password(uri):  # the answer lands in README.md, params.yaml and .cruft.json
        found.append(
            f"mlflow_tracking_uri {_short(_without_password(uri))} holds a password: credentials "
            "belong in secrets (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD), not in the "
            "project's files"
        )
    elif uri and not TRACKING_URI.fullmatch(uri):
        found.append(f"mlflow_tracking_uri {_short(uri)} is not a tracking URI (empty: embedded)")
    labels = a["gpu_runner_labels"].strip()
    if labels and not LABELS.fullmatch(labels):
        found.append(f"gpu_runner_labels {_short(labels)} must be comma-separated runner labels")
    if not REGISTRY.fullmatch(a["container_registry"]):
        found.append(
            f"container_registry {_short(a['container_registry'])} is not a registry reference "
            "(host[:port]/namespace, lowercase)"
        )
    if not REPOSITORY.fullmatch(a["actions_repository"]):
        found.append(
            f"actions_repository {_short(a['actions_repository'])} must look like owner/repo"
        )
    ref = a["actions_ref"]
    if not REF.fullmatch(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        found.append(f"actions_ref {_short(ref)} is not a valid git ref")
    version = a.get("actions_version", "")
    if version and not VERSION.fullmatch(version):
        found.append(f"actions_version {_short(version)} must be vX, vX.Y or vX.Y.Z (or empty)")
    return found


def _has_password(uri: str) -> bool:
    """`scheme://user:secret@host`: a password in the URI's userinfo (parsed, not guessed)."""
    try:
        return urlsplit(uri).password is not None
    except ValueError:  # an unparseable URI is refused as not a tracking URI
        return False


def _without_password(uri: str) -> str:
    """The URI as the refusal may quote it: its password never printed."""
    parts = urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _short(value: str, limit: int = 60) -> str:
    """A value quoted for a one-line message, cut so a 400-character answer stays readable."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def check_answers(answers: Mapping[str, Any]) -> str:
    """Refuse unusable answers (the first reason, and how many more); else return "checked"."""
    found = problems(answers)
    if found:
        extra = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise AnswerRefused(f"{found[0]}{extra}")
    return "checked"


def provenance(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Where the project came from, for .cruft.json: a URL or the local clone, and its commit.

    ``_template`` is what the user typed (``.``, ``gh:org/repo``): relative or abbreviated, so it
    cannot be cloned later. A local template is recorded as the absolute path of its clone (what
    cruft clones from); a remote one as the URL cookiecutter cloned (its ``origin``).
    """
    # Hooks are rendered in the template's folder; this module's own folder is the fallback (a
    # process that generated from another copy of the template first would have imported that).
    here = Path.cwd()
    root = here if (here / "cookiecutter.json").is_file() and (here / "hooks").is_dir() else ROOT
    typed = str(answers.get("_template", ""))
    remote = re.match(r"^([a-z][a-z0-9+.-]*://|[\w.-]+@|(gh|gl|bb):)", typed)
    template = (_git(root, "remote", "get-url", "origin") or typed) if remote else str(root)
    if "_commit" in answers and not remote:
        # cruft generates from a temporary clone of `_template`, which it made absolute.
        template = typed
    commit = _git(root, "rev-parse", "HEAD")
    return {"template": template, "commit": commit, "skip": CRUFT_SKIP, "local": not remote}


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except OSError:  # no git on this machine
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


@cache
def _template_values() -> frozenset[str]:
    """The strings of cookiecutter.json: the only Jinja sources rendered while prompting."""

    def strings(node: Any) -> list[str]:
        if isinstance(node, str):
            return [node]
        items = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        return [s for item in items for s in strings(item)]

    return frozenset(strings(json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))))


class AnswerGuard(Extension):
    """Checks answers while cookiecutter prompts for them (see the module's docstring)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.prompting = False
        environment.globals["guard_answers_begin"] = self._begin
        environment.filters["guard_answers"] = self._end
        environment.filters["provenance"] = provenance
        # gate.yaml's defaults (guards, margins in units) come from the metrics registry.
        environment.globals["metric_registry"] = METRIC_REGISTRY

    def _begin(self) -> str:
        # Rendered from cookiecutter.json's first variable: the answers come next.
        self.prompting = True
        return "begin"

    def _end(self, answers: Mapping[str, Any]) -> str:
        self.prompting = False
        return check_answers(answers)

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        # While prompting, a source that is not one of cookiecutter.json's own strings is an
        # answer (--no-input, extra context, user config): Jinja must not run it.
        markup = any(m in source for m in MARKUP)
        if self.prompting and markup and source not in _template_values():
            raise AnswerRefused(
                f"answer {_short(source)} holds template markup ({', '.join(MARKUP)}): "
                "answers are plain text"
            )
        return source
