"""Writing step outputs and the step summary the way GitHub Actions reads them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from .. import names


def set_output(name: str, value: object) -> None:
    """Append one output to $GITHUB_OUTPUT (heredoc form, safe for multi-line values)."""
    path = os.environ.get(names.ENV_GITHUB_OUTPUT)
    text = "" if value is None else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    if not path:
        print(f"output {name}={text}")
        return
    delimiter = f"ghadelim_{uuid.uuid4().hex}"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")


def set_outputs(values: dict[str, object]) -> None:
    for key, value in values.items():
        set_output(key, value)


def add_summary(markdown: str) -> None:
    """Append Markdown to the job summary (or print it when not on Actions)."""
    path = os.environ.get(names.ENV_GITHUB_STEP_SUMMARY)
    if not path:
        print(markdown)
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip() + "\n\n")


def write_text(path: str | Path, text: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
