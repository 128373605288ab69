"""Registry moves: register a candidate, promote to production, roll production back."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path

from .. import names
from ..errors import ToolkitError
from ..tracking import client as tracking
from ..tracking.api import TrackingClient
from .lock import registry_lock


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# MLflow refuses these in registered model names (mlflow.utils.validation._validate_model_name)
# only when a model is created: searches and look-ups just find nothing.
FORBIDDEN_IN_NAMES = ("/", ":")


def check_model_name(name: str) -> str:
    """The name, or one line naming MLflow's rule before any registry call."""
    if not name or not name.strip():
        raise ToolkitError("the model name is empty: give the registered model's name")
    for char in FORBIDDEN_IN_NAMES:
        if char in name:
            raise ToolkitError(
                f"model name {name!r} contains {char!r}: MLflow's registered model names "
                "cannot contain '/' or ':'"
            )
    return name


def name_filter(name: str) -> str:
    """A search filter that selects `name`, whatever quotes it holds.

    MLflow's filter grammar has no escapes: a quoted value is what lies between its quotes.
    So quote with the quote the name lacks; a name holding both is matched with LIKE, each
    quote (and backslash, an escape in PostgreSQL's LIKE) a one-character wildcard. Callers
    keep only exact matches (LIKE, and a case-insensitive collation, may select more).
    """
    if "'" not in name:
        return f"name = '{name}'"
    if '"' not in name:
        return f'name = "{name}"'
    pattern = "".join("_" if char in "'\"\\" else char for char in name)
    return f"name LIKE '{pattern}'"


def versions(client: TrackingClient, name: str) -> list[tracking.Version]:
    from mlflow.exceptions import MlflowException

    check_model_name(name)
    out, token = [], None
    try:
        while True:
            page = client.search_model_versions(
                name_filter(name), max_results=200, page_token=token
            )
            out += [tracking._wrap(mv) for mv in page if mv.name == name]
            token = getattr(page, "token", None)
            if not token:
                break
    except MlflowException as exc:
        if tracking.is_missing(exc):
            return []
        raise ToolkitError(f"cannot list versions of {name}: {tracking.one_line(exc)}") from exc
    return out


def lineage_tags(
    client: TrackingClient,
    run_id: str | None,
    *,
    git_commit: str,
    pull_request: str | None,
    data_version: str | None,
) -> dict[str, str]:
    tags = {names.TAG_GIT_COMMIT: git_commit} if git_commit else {}  # none outside git
    if pull_request:
        tags[names.TAG_PULL_REQUEST] = str(pull_request)
    if data_version:
        tags[names.TAG_DATA_VERSION] = data_version
    if run_id:
        tags[names.TAG_SOURCE_RUN] = run_id
        run = client.get_run(run_id)
        for key, value in run.data.metrics.items():
            tags[f"{names.TAG_METRIC_PREFIX}{key}"] = f"{value:.6g}"
        for key, value in run.data.tags.items():
            # The gate verdict and the data hash the project recorded travel with the version.
            if key.startswith(names.TAG_GATE_PREFIX) or key == names.TAG_DATA_HASH:
                tags[key] = value
    return tags


def default_tags(client: TrackingClient, run_id: str | None) -> dict[str, str]:
    """Tags used only where the version has none yet (never overwrite explicit lineage)."""
    if not run_id:
        return {}
    run_tags = client.get_run(run_id).data.tags
    if names.TAG_DATA_HASH in run_tags:
        return {names.TAG_DATA_VERSION: run_tags[names.TAG_DATA_HASH]}
    return {}


def register(
    *,
    model_name: str,
    model_uri: str,
    run_id: str | None,
    git_commit: str,
    alias: str | None,
    pull_request: str | None = None,
    data_version: str | None = None,
    known_version: str | None = None,
) -> dict:
    """Register the candidate once per commit, tag its lineage, point the alias at it."""
    check_model_name(model_name)
    if not git_commit:
        raise ToolkitError("register needs the git commit (idempotency key)")
    if alias and alias not in names.ALIASES:
        raise ToolkitError(f"alias must be one of {', '.join(names.ALIASES)}, got {alias!r}")
    if alias == names.PRODUCTION:
        raise ToolkitError("register never sets production: use promote")
    client = tracking.client()
    tags = lineage_tags(
        client, run_id, git_commit=git_commit, pull_request=pull_request, data_version=data_version
    )

    def existing(found: list[tracking.Version]) -> tracking.Version | None:
        same = [v for v in found if v.tags.get(names.TAG_GIT_COMMIT) == git_commit]
        if same:
            return min(same, key=lambda v: int(v.version))
        if known_version and _same_run(client, model_name, known_version, run_id):
            return tracking.get_version(client, model_name, known_version)
        return None

    return _register(client, model_name, model_uri, run_id, tags, alias, existing)


def register_run(
    *, model_name: str, model_uri: str, run_id: str, git_commit: str | None = None
) -> dict:
    """Register a run's model once per run, with the same lineage tags and description as
    `register`: a project's own registration (its evaluate outside CI), where one commit may
    train several runs (edited params, uncommitted code) and each is a version of its own."""
    check_model_name(model_name)
    client = tracking.client()
    tags = lineage_tags(
        client, run_id, git_commit=git_commit or "", pull_request=None, data_version=None
    )

    def existing(found: list[tracking.Version]) -> tracking.Version | None:
        same = [v for v in found if v.run_id == run_id]
        return min(same, key=lambda v: int(v.version)) if same else None

    return _register(client, model_name, model_uri, run_id, tags, None, existing)


def _register(
    client: TrackingClient,
    model_name: str,
    model_uri: str,
    run_id: str | None,
    tags: dict[str, str],
    alias: str | None,
    existing: Callable[[list[tracking.Version]], tracking.Version | None],
) -> dict:
    """Under the registry lock: the version `existing` picks, else a new one; then its tags,
    alias and description."""
    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri())
    with registry_lock(client, model_name):
        version = existing(versions(client, model_name))
        created = version is None
        if version is None:
            try:
                mv = mlflow.register_model(model_uri, model_name, tags=tags)
            except Exception as exc:
                raise ToolkitError(
                    f"cannot register {model_uri}: {tracking.one_line(exc)}"
                ) from exc
            version = tracking.get_version(client, model_name, mv.version)
        for key, value in default_tags(client, run_id).items():
            if key not in version.tags and key not in tags:
                client.set_model_version_tag(model_name, version.version, key, value)
        for key, value in tags.items():
            if version.tags.get(key) != value:
                client.set_model_version_tag(model_name, version.version, key, value)
        if alias:
            client.set_registered_model_alias(model_name, alias, version.version)
        describe(model_name, str(version.version), {**version.tags, **tags}, run_id, client=client)
    return {
        "model_name": model_name,
        "version": version.version,
        "created": created,
        "alias": alias or "",
        "model_uri": f"models:/{model_name}/{version.version}",
    }


DESCRIPTION_HEADER = "Registered by the platform (mlops-toolkit register)."
# description.md.j2 (package data), in the folder of the passport's templates
TEMPLATES = Path(__file__).with_name("templates")


def gate_detail(summary: str) -> str:
    """The gate's summary tag without its own state: the tag is the gate's line, "gate PASSED
    (mode): f1=...", and the description and the passport show the state apart."""
    return re.sub(r"^gate \w+(?: \([\w-]+\))?: ", "", summary)


def description(
    model_name: str,
    version: str,
    tags: dict[str, str],
    run_id: str | None,
    passport: list[str] | None = None,
) -> str:
    """The version's description in MLflow's UI (Markdown), from the lineage tags it carries:
    the run, commit and pull request, the data version, the run's metrics, the gate's decision;
    `passport`: its lines (registry/passport.py summary_lines), the link to the full document."""
    from ..core import templates  # jinja2 on the first render only: `--help` stays instant

    metrics = sorted(
        (key.removeprefix(names.TAG_METRIC_PREFIX), value)
        for key, value in tags.items()
        if key.startswith(names.TAG_METRIC_PREFIX)
    )
    data = tags.get(names.TAG_DATA_VERSION) or tags.get(names.TAG_DATA_HASH) or "not recorded"
    return templates.render(
        TEMPLATES,
        "description.md.j2",
        header=DESCRIPTION_HEADER,
        model_name=model_name,
        version=version,
        run_id=run_id,
        commit=tags.get(names.TAG_GIT_COMMIT, ""),
        pull=tags.get(names.TAG_PULL_REQUEST),
        data=data,
        passed=tags.get(names.TAG_GATE_PASSED),
        mode=tags.get(names.TAG_GATE_MODE, ""),
        summary=gate_detail(tags.get(names.TAG_GATE_SUMMARY, "")),
        passport=passport or [],
        metrics=metrics,
    )


def describe(
    model_name: str,
    version: str,
    tags: dict[str, str],
    run_id: str | None,
    passport: list[str] | None = None,
    client: TrackingClient | None = None,
) -> None:
    """Fill the version's description, unless the team wrote their own (ours is replaced)."""
    client = client or tracking.connect()
    try:
        current = client.get_model_version(model_name, version).description or ""
        if current and not current.startswith(DESCRIPTION_HEADER):
            return
        text = description(model_name, version, tags, run_id, passport)
        if text != current:
            client.update_model_version(model_name, version, description=text)
    except Exception as exc:
        raise ToolkitError(
            f"cannot describe {model_name} version {version}: {tracking.one_line(exc)}"
        ) from exc


def describe_with_passport(
    model_name: str,
    version: str,
    run_id: str | None,
    passport: list[str],
    client: TrackingClient | None = None,
) -> None:
    """The description again, from the version's tags as they are now, with its passport."""
    client = client or tracking.connect()
    tags = dict(client.get_model_version(model_name, version).tags or {})
    describe(model_name, version, tags, run_id, passport, client)


def _same_run(client: TrackingClient, name: str, version: str, run_id: str | None) -> bool:
    try:
        return tracking.get_version(client, name, version).run_id == run_id and bool(run_id)
    except ToolkitError:
        return False


def promote(
    *,
    model_name: str,
    version: str,
    actor: str | None = None,
    client: TrackingClient | None = None,
    on_locked=None,
) -> dict:
    """Point production at `version`, remembering what it replaced. Serialised by the lock."""
    check_model_name(model_name)
    client = client or tracking.client()
    with registry_lock(client, model_name):
        if on_locked:
            on_locked()
        target = tracking.resolve(client, model_name, version)
        current = tracking.version_by_alias(client, model_name, names.PRODUCTION)
        if current is not None and current.version == target.version:
            return {
                "model_name": model_name,
                "version": target.version,
                "previous": current.tags.get(names.TAG_PREVIOUS_PRODUCTION, ""),
                "changed": False,
            }
        previous = current.version if current else "none"
        client.set_model_version_tag(
            model_name, target.version, names.TAG_PREVIOUS_PRODUCTION, previous
        )
        client.set_model_version_tag(model_name, target.version, names.TAG_PROMOTED_AT, _now())
        client.set_model_version_tag(
            model_name,
            target.version,
            names.TAG_PROMOTED_BY,
            actor or os.environ.get(names.ENV_GITHUB_ACTOR, "unknown"),
        )
        client.set_registered_model_alias(model_name, names.PRODUCTION, target.version)
    return {
        "model_name": model_name,
        "version": target.version,
        "previous": "" if previous == "none" else previous,
        "changed": True,
    }


def rollback_plan(
    client: TrackingClient, model_name: str, to: str | None = None
) -> tuple[tracking.Version, tracking.Version]:
    """(current production, the version to go back to); raises when there is none."""
    check_model_name(model_name)
    current = tracking.version_by_alias(client, model_name, names.PRODUCTION)
    if current is None:
        raise ToolkitError(f"{model_name} has no production version: nothing to roll back")
    if to:
        target = tracking.resolve(client, model_name, to)
    else:
        previous = current.tags.get(names.TAG_PREVIOUS_PRODUCTION, "none")
        if not previous or previous == "none":
            raise ToolkitError(
                f"{model_name} version {current.version} has no earlier production "
                "version to roll back to; nothing changed"
            )
        target = tracking.get_version(client, model_name, previous)
    if target.version == current.version:
        raise ToolkitError(f"version {target.version} is already in production; nothing changed")
    return current, target


def rollback_alias(
    client: TrackingClient,
    model_name: str,
    current: tracking.Version,
    target: tracking.Version,
    actor: str | None = None,
) -> None:
    """Move production from `current` to `target`, unless someone moved it meanwhile."""
    with registry_lock(client, model_name):
        now = tracking.version_by_alias(client, model_name, names.PRODUCTION)
        if now is None or now.version != current.version:
            raise ToolkitError(
                f"production of {model_name} changed to "
                f"{now.version if now else 'none'} during the rollback; "
                "nothing changed"
            )
        client.set_model_version_tag(
            model_name, target.version, names.TAG_ROLLED_BACK_FROM, current.version
        )
        client.set_model_version_tag(model_name, target.version, names.TAG_ROLLED_BACK_AT, _now())
        client.set_registered_model_tag(
            model_name,
            names.TAG_LAST_ROLLBACK,
            f"{current.version} -> {target.version} at {_now()} by "
            f"{actor or os.environ.get(names.ENV_GITHUB_ACTOR, 'unknown')}",
        )
        client.set_registered_model_alias(model_name, names.PRODUCTION, target.version)


def set_alias(*, model_name: str, version: str, alias: str) -> dict:
    """Point challenger or staging at a version (production moves only through promote)."""
    if alias not in (names.CHALLENGER, names.STAGING):
        raise ToolkitError(
            f"set-alias sets {names.CHALLENGER} or {names.STAGING}; "
            f"production moves only through promote (got {alias!r})"
        )
    check_model_name(model_name)
    client = tracking.client()
    target = tracking.resolve(client, model_name, version)
    client.set_registered_model_alias(model_name, alias, target.version)
    return {"model_name": model_name, "version": target.version, "alias": alias}


def find_candidate(*, model_name: str, pulls: list[int], commit: str) -> dict:
    """The newest version registered from one of these pull requests (else from the commit)."""
    check_model_name(model_name)
    client = tracking.client()
    all_versions = versions(client, model_name)
    for number in pulls:
        found = [v for v in all_versions if v.tags.get(names.TAG_PULL_REQUEST) == str(number)]
        if found:
            best = max(found, key=lambda v: int(v.version))
            return {"version": best.version, "pull_request": str(number), "model_uri": best.uri}
    found = [v for v in all_versions if commit and v.tags.get(names.TAG_GIT_COMMIT) == commit]
    if found:
        best = max(found, key=lambda v: int(v.version))
        return {"version": best.version, "pull_request": "", "model_uri": best.uri}
    where = f"pull request(s) {', '.join(f'#{n}' for n in pulls)}" if pulls else "no pull request"
    raise ToolkitError(
        f"no registered candidate of {model_name} for {where} or commit {commit[:12] or '?'}"
    )
