"""doctor's checks of what GitHub holds for a project: the toolkit's ref and the runners.

Both read the project itself (its workflows, else the template answers in `.cruft.json`), so
that what is checked is what the jobs will ask for. The REST calls go through
`GITHUB_API_URL` (GitHub Enterprise, or a test's stand-in); the token is optional for the ref
of a public toolkit and needed to list runners (`GH_TOKEN=$(gh auth token)` on a laptop).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

from .. import names
from ..errors import ToolkitError
from .environment import FAIL, OK, SKIP, Result

# `uses: owner/repo/actions/<name>@<ref>`: the toolkit's composite actions.
TOOLKIT_USES = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)/actions/[\w.-]+@([^\s#]+)")
GITHUB_REMOTE = re.compile(r"github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$")
WALKTHROUGH = "docs/getting-started.md"


def _workflows(project: Path) -> list[str]:
    folder = project / ".github" / "workflows"
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.y*ml"))]


def _answers(project: Path) -> dict:
    try:
        data = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data.get("context", {}).get("cookiecutter", {}) or {}


def toolkit_refs(project: Path) -> list[tuple[str, str]]:
    """(repository, ref) pairs the workflows use; the template answers when none."""
    uses = (m.groups() for text in _workflows(project) for m in TOOLKIT_USES.finditer(text))
    found = sorted(set(uses))
    answers = _answers(project)
    if not found and answers.get("actions_repository"):
        found = [(answers["actions_repository"], answers.get("actions_ref") or "v1")]
    return found


def runner_labels(project: Path) -> list[list[str]]:
    """Label sets of the jobs that need a self-hosted runner (distinct, in order)."""
    import yaml

    sets: list[list[str]] = []
    for text in _workflows(project):
        try:
            jobs = (yaml.safe_load(text) or {}).get("jobs") or {}
        except yaml.YAMLError:
            continue
        for job in jobs.values():
            labels = job.get("runs-on") if isinstance(job, dict) else None
            labels = [labels] if isinstance(labels, str) else labels
            if isinstance(labels, list) and "self-hosted" in labels and labels not in sets:
                sets.append([str(label) for label in labels])
    if not sets and not _workflows(project):
        answer = _answers(project).get("gpu_runner_labels", "")
        labels = [label.strip() for label in answer.split(",") if label.strip()]
        if labels:
            sets.append(labels)
    return sets


def repository(project: Path) -> str:
    """owner/name: GITHUB_REPOSITORY, else the `origin` remote when it is on github.com."""
    if os.environ.get(names.ENV_GITHUB_REPOSITORY):
        return os.environ[names.ENV_GITHUB_REPOSITORY]
    try:
        url = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    match = GITHUB_REMOTE.search(url)
    return match[1] if match else ""


def token() -> str:
    return os.environ.get(names.ENV_GITHUB_TOKEN) or os.environ.get("GH_TOKEN", "")


def _client(repo: str):
    from ..ci.github import GitHub

    client = GitHub(repo, token() or "-", os.environ.get(names.ENV_GITHUB_API_URL))
    if not token():  # a public repository answers without one
        client.headers.pop("Authorization")
    return client


def _in_ci() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def toolkit_ref(project: Path) -> Result:
    """Every `uses: <toolkit>/actions/...@<ref>` of the workflows resolves to a commit."""
    name = "toolkit ref"
    if _in_ci():
        return Result(name, SKIP, "this job already runs the toolkit from its ref", False)
    refs = toolkit_refs(project)
    if not refs:
        return Result(name, SKIP, "no workflow here uses the toolkit's actions", False)
    found, missing = [], []
    for repo, ref in refs:
        try:
            client = _client(repo)
            commit, _ = client.call("GET", client.url(f"/commits/{quote(ref, safe='')}"))
            found.append(f"{repo}@{ref} = {str(commit.get('sha', '?'))[:12]}")
        except ToolkitError as exc:
            missing.append(f"{repo}@{ref} does not resolve ({_status(exc)})")
    if missing:
        fix = f"publish the toolkit or use the upstream release ({WALKTHROUGH})"
        return Result(name, FAIL, f"{'; '.join(missing)}: {fix}")
    return Result(name, OK, ", ".join(found))


def _status(exc: ToolkitError) -> str:
    match = re.search(r"answered (\d+)", str(exc))
    return f"HTTP {match[1]}" if match else str(exc)


def _reachable(
    name: str, project: Path, *, needed: str, in_ci: str, what: str
) -> tuple[str, Result | None]:
    """The repository to ask, or the row that says why this check does not run: nothing to
    check (`needed` is the reason), in CI, no GitHub repository yet, or no token."""
    if needed:
        return "", Result(name, SKIP, needed, False)
    if _in_ci():
        return "", Result(name, SKIP, in_ci, False)
    repo = repository(project)
    if not repo:
        return "", Result(name, FAIL, "no GitHub repository: push it (gh repo create) first")
    if not token():
        return "", Result(name, FAIL, f"GH_TOKEN not set: GH_TOKEN=$(gh auth token) to list {what}")
    return repo, None


def runners(project: Path) -> Result:
    """A self-hosted runner of the repository carries every label a job asks for."""
    name = "runners"
    wanted = runner_labels(project)
    repo, skipped = _reachable(
        name,
        project,
        needed="" if wanted else "no job needs a self-hosted runner",
        in_ci="checked from a laptop (listing runners needs admin)",
        what="runners",
    )
    if skipped:
        return skipped
    try:
        listed = list(_runners(repo))
    except ToolkitError as exc:
        return Result(name, FAIL, f"cannot list the runners of {repo}: {exc}")
    return _match(repo, wanted, listed)


def _runners(repo: str):
    client = _client(repo)
    url: str | None = client.url("/actions/runners?per_page=100")
    while url:
        page, url = client.call("GET", url)
        yield from (page or {}).get("runners", [])


def _match(repo: str, wanted: list[list[str]], listed: list[dict]) -> Result:
    """One line per label set: which runner carries it, or that none does."""
    lines, failed = [], False
    for labels in wanted:
        carrying = [
            r
            for r in listed
            if {w.lower() for w in labels}
            <= {str(lb.get("name", "")).lower() for lb in r.get("labels", [])}
        ]
        online = [r["name"] for r in carrying if r.get("status") == "online"]
        shown = ", ".join(labels)
        if online:
            lines.append(f"[{shown}]: {', '.join(online)} online")
        elif carrying:
            failed = True
            lines.append(f"[{shown}]: {', '.join(r['name'] for r in carrying)} offline")
        else:
            failed = True
            lines.append(
                f"no runner of {repo} carries [{shown}]: its jobs queue 24 h, then fail "
                f"(register one: {WALKTHROUGH})"
            )
    return Result("runners", FAIL if failed else OK, "; ".join(lines))


# --- the settings the workflows read, on GitHub -------------------------------------------------

READS = re.compile(r"\b(vars|secrets)\.([A-Za-z_][A-Za-z0-9_]*)")
KINDS = {"vars": "variable", "secrets": "secret"}


def required_settings(project: Path) -> list[tuple[str, str]]:
    """(kind, NAME) the workflows cannot do without; the others have defaults (docs/setup.md)."""
    read = {(KINDS[k], n) for text in _workflows(project) for k, n in READS.findall(text)}
    wanted = [("variable", "MLFLOW_TRACKING_URI"), ("secret", "KUBECONFIG")]
    registry = str(_answers(project).get("container_registry", "ghcr.io"))
    if not registry.startswith("ghcr.io"):  # the job token pushes only to ghcr.io
        wanted.append(("secret", "REGISTRY_PASSWORD"))
    return [w for w in wanted if w in read]


def _environments(project: Path) -> set[str]:
    import yaml

    found = set()
    for text in _workflows(project):
        try:
            jobs = (yaml.safe_load(text) or {}).get("jobs") or {}
        except yaml.YAMLError:
            continue
        for job in jobs.values():
            env = job.get("environment") if isinstance(job, dict) else None
            env = env.get("name") if isinstance(env, dict) else env
            if isinstance(env, str) and "${{" not in env:
                found.add(env)
    return found


def _names(client, path: str, key: str) -> set[str]:
    names_found: set[str] = set()
    url: str | None = client.url(f"{path}?per_page=100")
    while url:
        page, url = client.call("GET", url)
        names_found |= {str(item.get("name", "")) for item in (page or {}).get(key, [])}
    return names_found


def settings(project: Path) -> Result:
    """Each required variable and secret exists on GitHub: repository, organisation or one of
    the workflows' environments (names only: GitHub never returns a secret's value)."""
    name = "github settings"
    wanted = required_settings(project)
    repo, skipped = _reachable(
        name,
        project,
        needed="" if wanted else "no workflow here reads a required setting",
        in_ci="in CI: the tracking server row checks what the job got",
        what="them",
    )
    if skipped:
        return skipped
    client = _client(repo)
    have: dict[str, set[str]] = {"variable": set(), "secret": set()}
    try:
        have["variable"] = _names(client, "/actions/variables", "variables")
        have["secret"] = _names(client, "/actions/secrets", "secrets")
    except ToolkitError as exc:
        return Result(name, FAIL, f"cannot list the settings of {repo}: {exc}")
    optional = ["/actions/organization-"] + [
        f"/environments/{quote(env, safe='')}/" for env in sorted(_environments(project))
    ]
    for prefix in optional:  # none there, or no right to see them: the repository's count
        for kind, key in (("variable", "variables"), ("secret", "secrets")):
            with contextlib.suppress(ToolkitError):
                have[kind] |= _names(client, f"{prefix}{key}", key)
    missing = [f"{n} ({kind})" for kind, n in wanted if n not in have[kind]]
    if missing:
        fix = "; ".join(f"gh {kind} set {n}" for kind, n in wanted if n not in have[kind])
        return Result(name, FAIL, f"missing on {repo}: {fix}", missing=tuple(missing))
    return Result(name, OK, ", ".join(n for _, n in wanted) + f" set on {repo}")
