"""The reports' Jinja2 environments: templates shipped as package data beside the module that
renders them (ci/templates, monitoring/templates). HTML templates (`*.html.j2`) autoescape,
Markdown ones do not; StrictUndefined everywhere, so a renamed key fails instead of printing
nothing. jinja2 is imported on the first render, never by `--help`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


@functools.cache
def environment(folder: Path) -> Any:
    """One environment per template folder; its module adds the filters it needs, once."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(folder: Path, name: str, **context: Any) -> str:
    """Template `name` of `folder`, rendered with `context` (the folder's one environment)."""
    return environment(folder).get_template(name).render(**context)
