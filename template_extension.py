"""cookiecutter.json's local Jinja extension: template_guard.py's answer guard, read again from
this checkout for every render.

`cruft update` renders the project's old template and then the new one in one process, from one
checkout, and Python keeps the first render's `template_guard` in `sys.modules`: the new template
was rendered by the old guard with the old metrics registry (a new gate.yaml failed on a registry
field the old one lacked, and with the old fields would have been silently stale). This module,
a name no earlier template gave its extension, only loads: it executes template_guard.py afresh
each time Jinja builds an environment, so even when this module is the cached one, the guard and
the registry are those of the files on disk, the render's own.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

HERE = Path(__file__).resolve().parent


def fresh_guard() -> Any:
    """template_guard.py of this checkout, executed now (never the module a render cached)."""
    spec = importlib.util.spec_from_file_location(
        "_template_guard_fresh", HERE / "template_guard.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # what dataclasses and pickling look up while it executes
    spec.loader.exec_module(module)
    return module


class AnswerGuard(Extension):
    """Stands for template_guard.AnswerGuard: Jinja calls the class with its environment and
    gets the freshly loaded guard's extension."""

    def __new__(cls, environment: Environment) -> Any:  # type: ignore[misc]
        return fresh_guard().AnswerGuard(environment)
