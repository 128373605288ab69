"""The model passport: one document for each registered version, in Markdown and in HTML.

Built at each registration (`register` in CI, a project's own evaluate through
`project.runs.register`: both call `publish`) from what the version's run recorded (params,
lineage tags, the datasets it logged with `log_input`, roles.json, the validation report, the
permutation importance), the gate's verdict (reports/gate/gate.json when it judged this run,
else the gate tags on the run), the project's expectation suite and the "Intended use and
limits" section of MODEL_CARD.md.
Logged to the run under `passport/` (passport.md, passport.html, passport.json: the facts the
two documents render), written beside the reports (reports/passport/) and linked from the
version's description. The HTML is self-contained: inline CSS, no script, no remote resource,
so it reads the same offline, in MLflow's artifact view or from the workflow's artifact.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .. import contracts, names
from ..errors import ToolkitError
from ..tracking.api import TrackingClient

SCHEMA = "mlops.passport/1"
TEMPLATES = Path(__file__).with_name("templates")
ARTIFACT_DIR = "passport"  # on the run
LOCAL_DIR = Path("reports") / "passport"
MARKDOWN, HTML, FACTS = "passport.md", "passport.html", "passport.json"
MODEL_CARD = Path("MODEL_CARD.md")
CARD_SECTION = "Intended use and limits"
SUITE = Path("expectations") / "dataset.json"  # the project's suite (params.yaml validation.suite)
# What the project's runs log (the template's train and evaluate, project/plots.py).
ROLES_ARTIFACT = "roles.json"
VALIDATION_ARTIFACT = f"validation/{contracts.ValidationReport.PATH.name}"
IMPORTANCE_ARTIFACT = "plots/feature_importance.csv"
HOLDOUT_PREFIX = "holdout_"
TOP_FEATURES = 15
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Published:
    """Where the passport went: the run's artifacts (and their MLflow UI page) and this folder."""

    facts: dict[str, Any]
    artifact_uri: str  # runs:/<run>/passport/passport.html
    url: str  # the HTML in MLflow's UI, or '' when the tracking store has no UI (sqlite)
    markdown_url: str
    local: Path | None  # the folder the three files were written to (None: the run only)


def publish(
    *,
    model_name: str,
    version: str,
    run_id: str,
    gate_path: Path | str = contracts.GateFile.PATH,
    model_card: Path | str = MODEL_CARD,
    suite_path: Path | str = SUITE,
    out_dir: Path | str = LOCAL_DIR,
    tracking_uri: str = "",
) -> Published:
    """Build the version's passport, write it to `out_dir`, log it to the run and link it from
    the version's description: what every registration does (`register` in CI, a project's
    evaluate through project.runs.register)."""
    from ..tracking import client as tracking

    client = tracking.connect(tracking_uri)
    try:
        run = client.get_run(run_id)
        artifacts = _run_artifacts(client, run_id)
    except Exception as exc:
        raise ToolkitError(f"cannot read run {run_id} for the passport: {_line(exc)}") from exc
    links = _links(tracking_uri, run.info.experiment_id, run_id)
    facts = gather(
        run,
        artifacts,
        model_name=model_name,
        version=version,
        gate=read_gate(gate_path, run_id),
        card=card_section(model_card),
        suite=suite_facts(suite_path),
        links=links,
    )
    # Beside the project's reports (the workflow uploads them); where there are none (not a
    # project's folder), only on the run.
    local = Path(out_dir).parent.is_dir()
    with tempfile.TemporaryDirectory(prefix="passport-") as tmp:
        folder = write(facts, out_dir if local else tmp)
        try:
            for name in (MARKDOWN, HTML, FACTS):
                client.log_artifact(run_id, str(folder / name), ARTIFACT_DIR)
        except Exception as exc:
            raise ToolkitError(f"cannot log the passport to run {run_id}: {_line(exc)}") from exc
    published = Published(
        facts,
        f"runs:/{run_id}/{ARTIFACT_DIR}/{HTML}",
        links["html"],
        links["markdown"],
        folder if local else None,
    )
    from .moves import describe_with_passport  # the tracking client: only when publishing

    describe_with_passport(model_name, version, run_id, summary_lines(published), client)
    return published


def write(facts: dict[str, Any], out_dir: Path | str = LOCAL_DIR) -> Path:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKDOWN).write_text(render_markdown(facts), encoding="utf-8")
    (folder / HTML).write_text(render_html(facts), encoding="utf-8")
    (folder / FACTS).write_text(json.dumps(facts, indent=2, default=str) + "\n", encoding="utf-8")
    return folder


# --- the facts -------------------------------------------------------------------------------


def gather(
    run: Any,
    artifacts: dict[str, Any],
    *,
    model_name: str,
    version: str,
    gate: dict[str, Any] | None,
    card: dict[str, Any],
    suite: dict[str, Any] | None,
    links: dict[str, str],
) -> dict[str, Any]:
    """Everything the passport shows, as plain data (passport.json; the templates render it)."""
    tags = dict(run.data.tags)
    datasets = _datasets(run)
    training = next((d for d in datasets if d["context"] == "training"), None)
    return {
        "schema": SCHEMA,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": {
            "name": model_name,
            "version": str(version),
            "uri": f"models:/{model_name}/{version}",
        },
        "links": links,
        "lineage": {
            "run_id": run.info.run_id,
            "run_name": getattr(run.info, "run_name", "") or "",
            "experiment_id": run.info.experiment_id,
            "git_commit": tags.get(names.TAG_GIT_COMMIT, ""),
            "data_hash": tags.get(names.TAG_DATA_HASH, ""),
            "data_source": tags.get(names.TAG_DATA_SOURCE, ""),
            "datasets": datasets,
            "params": dict(sorted(run.data.params.items())),
            "training_image": tags.get(names.TAG_TRAIN_IMAGE, ""),
            "compute": _compute(tags),
            "model_family": tags.get(names.TAG_MODEL_FAMILY, ""),
            "task": tags.get(names.TAG_TASK, ""),
        },
        "data_contract": {
            "columns": _columns(training, artifacts.get(ROLES_ARTIFACT)),
            "suite": suite,
            "validation": _validation(artifacts.get(VALIDATION_ARTIFACT)),
        },
        "metrics": _metrics(run.data.metrics, gate),
        "responsible": _responsible(gate),
        "importance": _importance(artifacts.get(IMPORTANCE_ARTIFACT)),
        "gate": _gate(gate, tags),
        "card": card,
    }


def _compute(tags: dict[str, str]) -> str:
    kind = tags.get(names.TAG_COMPUTE)
    if not kind:
        return ""
    if kind == "gpu":
        return f"gpu: {tags.get(names.TAG_GPU_COUNT, '?')} x {tags.get(names.TAG_GPU_NAME, '?')}"
    return kind


def _datasets(run: Any) -> list[dict[str, Any]]:
    """The tables the run logged with `log_input`: digest (the file's MD5), source, DVC's md5."""
    found = []
    for entry in getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []:
        data = entry.dataset
        input_tags = {t.key: t.value for t in entry.tags or []}
        profile = _json(getattr(data, "profile", "") or "") or {}
        schema = _json(getattr(data, "schema", "") or "") or {}
        found.append(
            {
                "context": input_tags.get("mlflow.data.context", ""),
                "name": data.name,
                "digest": data.digest,
                "source": _source(getattr(data, "source", "")),
                "dvc_path": input_tags.get(f"{names.TAG_PREFIX}dvc_path", ""),
                "dvc_md5": input_tags.get(f"{names.TAG_PREFIX}dvc_md5", ""),
                "rows": profile.get("num_rows"),
                "colspec": schema.get("mlflow_colspec") or [],
            }
        )
    return found


def _source(raw: str) -> str:
    """MLflow keeps a dataset's source as JSON ({"uri": ...}); its path or URI as text."""
    parsed = _json(raw)
    if isinstance(parsed, dict):
        return str(parsed.get("uri") or parsed.get("path") or raw)
    return str(raw or "")


def _columns(training: dict[str, Any] | None, roles: Any) -> list[dict[str, Any]]:
    """Each training column: its type (the logged dataset's schema) and role (roles.json).

    roles.json gives every column but the target a role (the project's roles.resolve), so the
    one column of the training table it does not name is the target."""
    role_of = {}
    if isinstance(roles, dict):
        for role, columns in roles.items():
            for column in columns if isinstance(columns, list) else []:
                role_of[str(column)] = role
    specs = (training or {}).get("colspec") or []
    unnamed = [str(s.get("name", "")) for s in specs if str(s.get("name", "")) not in role_of]
    target = unnamed[0] if len(unnamed) == 1 and role_of else ""
    out = []
    for spec in specs:
        name = str(spec.get("name", ""))
        out.append(
            {
                "name": name,
                "type": str(spec.get("type", "")),
                "role": "target" if name == target else role_of.pop(name, "not recorded"),
                "required": bool(spec.get("required", True)),
            }
        )
    # Columns only roles.json names (a run without a logged dataset): their role, no type.
    out += [{"name": c, "type": "", "role": r, "required": True} for c, r in role_of.items()]
    return out


def _validation(report: Any) -> dict[str, Any] | None:
    if not isinstance(report, dict):
        return None
    keys = ("success", "evaluated", "successful", "failed", "rows", "suite", "data")
    return {key: report.get(key) for key in keys}


def _metrics(run_metrics: dict[str, float], gate: dict[str, Any] | None) -> dict[str, Any]:
    """The holdout metrics the run logged, each with the gate's bootstrap interval when it
    computed one (the gate's metrics are the same names, on the same holdout)."""
    gate_metrics = (gate or {}).get("metrics") or {}
    holdout = {
        key.removeprefix(HOLDOUT_PREFIX): value
        for key, value in run_metrics.items()
        if key.startswith(HOLDOUT_PREFIX)
    }
    rows = []
    for name in sorted(set(holdout) | set(gate_metrics)):
        judged = gate_metrics.get(name) or {}
        rows.append(
            {
                "name": name,
                "value": holdout.get(name, judged.get("candidate")),
                "ci": judged.get("candidate_ci"),
            }
        )
    bootstrap = (gate or {}).get("bootstrap") or {}
    return {
        "primary": (gate or {}).get("primary_metric", ""),
        "rows": (gate or {}).get("rows"),
        "confidence": bootstrap.get("confidence"),
        "resamples": bootstrap.get("resamples"),
        "holdout": rows,
    }


def _responsible(gate: dict[str, Any] | None) -> dict[str, Any]:
    """gate.json's optional `responsible` section (slices, robustness), by kind; a kind the
    gate did not judge is None ("not configured")."""
    section = (gate or {}).get("responsible") or {}
    checks = section.get("checks") or []
    by_kind = {
        kind: [c for c in checks if c.get("kind") == kind] or None
        for kind in ("slices", "robustness")
    }
    return {
        "slices": None
        if by_kind["slices"] is None and not section.get("slices")
        else {"checks": by_kind["slices"] or [], "rows": section.get("slices") or []},
        "robustness": None if by_kind["robustness"] is None else {"checks": by_kind["robustness"]},
        "notes": section.get("notes") or [],
    }


def _importance(rows: Any) -> list[dict[str, Any]] | None:
    if not isinstance(rows, list):
        return None
    out = []
    for row in rows:
        try:
            out.append(
                {
                    "feature": row["feature"],
                    "importance": float(row["importance"]),
                    "std": float(row["std"]) if row.get("std") not in (None, "") else None,
                }
            )
        except (KeyError, TypeError, ValueError):
            continue
    out.sort(key=lambda r: r["importance"], reverse=True)
    return out[:TOP_FEATURES]


def _gate(gate: dict[str, Any] | None, tags: dict[str, str]) -> dict[str, Any] | None:
    """The gate's decision: its verdict file when it judged this run, else its tags on the run."""
    if gate is not None:
        production = gate.get("production") or {}
        return {
            "passed": bool(gate["passed"]),
            "mode": gate.get("mode", ""),
            "decision_rule": gate.get("decision_rule", ""),
            "summary": _gate_summary(gate),
            "reason": gate.get("reason") or "",
            "production_version": production.get("version") or "",
            "checks": [
                {
                    "name": c.get("name", ""),
                    "value": c.get("value"),
                    "passed": bool(c.get("passed")),
                }
                for c in gate.get("checks") or []
            ],
        }
    if names.TAG_GATE_PASSED not in tags:
        return None
    from .moves import gate_detail

    baseline = tags.get(names.TAG_GATE_BASELINE, "")
    return {
        "passed": tags[names.TAG_GATE_PASSED] == "true",
        "mode": tags.get(names.TAG_GATE_MODE, ""),
        "decision_rule": "",
        "summary": gate_detail(tags.get(names.TAG_GATE_SUMMARY, "")),
        "reason": "",
        "production_version": "" if baseline == "none" else baseline,
        "checks": [],
    }


def _gate_summary(gate: dict[str, Any]) -> str:
    """What decided, in one line: the reason it could not judge, else the primary metric (and
    the comparison with production)."""
    if gate.get("reason"):
        return str(gate["reason"])
    primary = gate.get("primary_metric", "")
    m = (gate.get("metrics") or {}).get(primary) or {}
    text = f"{primary} = {_num(m.get('candidate'))}"
    if m.get("production") is not None:
        text += (
            f" vs production {_num(m['production'])}, improvement {_num(m.get('improvement'))}"
            f" CI {_interval(m.get('improvement_ci'))}"
        )
    return text


# --- the inputs beside the run ---------------------------------------------------------------


def read_gate(path: Path | str, run_id: str) -> dict[str, Any] | None:
    """The gate's verdict file when it judged this run's model (a stale one is ignored)."""
    source = Path(path)
    if not str(path) or not source.is_file():
        return None
    verdict = contracts.GateFile.read(source).to_dict()
    if (verdict.get("candidate") or {}).get("run_id") not in (run_id, None):
        return None
    return verdict


def card_section(path: Path | str, title: str = CARD_SECTION) -> dict[str, Any]:
    """The model card's section `title` (its heading to the next heading of the same or a
    higher level), as the team wrote it; `text` is None when the file or section is missing
    and '' when it holds only the template's comments and headings."""
    source = Path(path)
    found: dict[str, Any] = {"path": source.as_posix(), "section": title, "text": None}
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return found
    start, level = None, 0
    for number, line in enumerate(lines):
        heading = re.match(r"(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        depth = len(heading.group(1))
        if start is None and heading.group(2).strip().lower() == title.lower():
            start, level = number + 1, depth
        elif start is not None and depth <= level:
            lines = lines[start:number]
            break
    else:
        if start is None:
            return found
        lines = lines[start:]
    text = re.sub(r"<!--.*?-->", "", "\n".join(lines), flags=re.S).strip("\n")
    written = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    found["text"] = text.strip() if written else ""
    return found


def suite_facts(path: Path | str) -> dict[str, Any] | None:
    """The expectation suite: its name, MD5 (the digest dvc.lock records for it) and checks."""
    source = Path(path)
    if not source.is_file():
        return None
    raw = source.read_bytes()
    suite = _json(raw.decode("utf-8", errors="replace"))
    expectations = suite.get("expectations") if isinstance(suite, dict) else None
    return {
        "path": source.as_posix(),
        "name": suite.get("name", "") if isinstance(suite, dict) else "",
        "md5": hashlib.md5(raw, usedforsecurity=False).hexdigest(),
        "expectations": [
            {
                "type": str(e.get("type", "")),
                "column": str((e.get("kwargs") or {}).get("column", "")),
                "kwargs": _kwargs_text(e.get("kwargs") or {}),
            }
            for e in expectations or []
            if isinstance(e, dict)
        ],
    }


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    rest = {k: v for k, v in kwargs.items() if k != "column"}
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in sorted(rest.items()))


def _run_artifacts(client: TrackingClient, run_id: str) -> dict[str, Any]:
    """The run's roles.json, validation report and importance table (absent ones left out)."""
    wanted = (ROLES_ARTIFACT, VALIDATION_ARTIFACT, IMPORTANCE_ARTIFACT)
    present = set()
    for folder in {str(Path(w).parent) for w in wanted}:
        listed = client.list_artifacts(run_id, None if folder == "." else folder)
        present |= {f.path for f in listed if not f.is_dir}
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="passport-") as tmp:
        for path in (w for w in wanted if w in present):
            local = Path(client.download_artifacts(run_id, path, tmp))
            text = local.read_text(encoding="utf-8", errors="replace")
            found[path] = (
                list(csv.DictReader(text.splitlines())) if path.endswith(".csv") else _json(text)
            )
    return found


def _links(tracking_uri: str, experiment_id: str, run_id: str) -> dict[str, str]:
    """The run and its passport in MLflow's UI, when the tracking URI is a server's (http)."""
    base = ui_base(tracking_uri)
    if not base:
        return {"run": "", "html": "", "markdown": ""}
    run = f"{base}/#/experiments/{quote(experiment_id)}/runs/{quote(run_id)}"
    return {
        "run": run,
        "html": f"{run}/artifacts/{ARTIFACT_DIR}/{HTML}",
        "markdown": f"{run}/artifacts/{ARTIFACT_DIR}/{MARKDOWN}",
    }


def ui_base(tracking_uri: str) -> str:
    """The server's address without credentials (never written into a link), or ''."""
    parts = urlsplit(tracking_uri or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _json(text: str) -> Any:
    with contextlib.suppress(ValueError, TypeError):
        return json.loads(text)
    return None


def _line(exc: BaseException) -> str:
    from ..tracking.client import one_line

    return one_line(exc)


# --- rendering -------------------------------------------------------------------------------


def _num(value: Any, digits: int = 4) -> str:
    if value is None or isinstance(value, bool):
        return "n/a"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if number != number else f"{number:.{digits}f}"


def _interval(pair: Any) -> str:
    if not pair or len(pair) != 2:
        return "n/a"
    return f"[{_num(pair[0])}, {_num(pair[1])}]"


def _cell(value: Any) -> str:
    """A value inside a Markdown table cell (a `|` would end it, a newline the row)."""
    return str("" if value is None else value).replace("|", "\\|").replace("\n", " ")


def _or(value: Any, missing: str = NOT_RECORDED) -> Any:
    return missing if value in (None, "", [], {}) else value


@functools.cache
def _templates() -> Any:
    from ..core import templates

    env = templates.environment(TEMPLATES)
    env.filters.update(num=_num, interval=_interval, cell=_cell, orelse=_or)
    return env


def _context(facts: dict[str, Any]) -> dict[str, Any]:
    level = facts["metrics"].get("confidence")
    return {"p": facts, "level": f"{level:.0%}" if isinstance(level, int | float) else ""}


def render_markdown(facts: dict[str, Any]) -> str:
    return _templates().get_template("passport.md.j2").render(**_context(facts))


def render_html(facts: dict[str, Any]) -> str:
    return _templates().get_template("passport.html.j2").render(**_context(facts))


def summary_lines(published: Published) -> list[str]:
    """The passport in the version's description: where it is, what it decided."""
    facts = published.facts
    gate = facts.get("gate")
    decision = "not judged" if gate is None else ("passed" if gate["passed"] else "failed")
    primary = facts["metrics"].get("primary")
    row = next((m for m in facts["metrics"]["holdout"] if m["name"] == primary), None)
    measured = (
        f"; holdout {primary} {_num(row['value'])} {facts_level(facts)}CI {_interval(row['ci'])}"
        if row
        else ""
    )
    where = (
        f"[HTML]({published.url}) · [Markdown]({published.markdown_url})"
        if published.url
        else f"`{published.artifact_uri}`"
    )
    return [f"- **Passport**: {where} (gate {decision}{measured})"]


def facts_level(facts: dict[str, Any]) -> str:
    level = facts["metrics"].get("confidence")
    return f"{level:.0%} " if isinstance(level, int | float) else ""
