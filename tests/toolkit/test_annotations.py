"""core/annotations.py: a step's warning is an annotation on GitHub Actions (the run page shows
it), a plain `warning:` line elsewhere; the deploy targets' and commands' warnings go through it."""

from __future__ import annotations

import pytest
from mlops_toolkit.core import annotations


@pytest.mark.parametrize(
    ("actions", "title", "expected"),
    [
        ("true", "publish ingress", "::warning title=publish ingress::the port moves\n"),
        ("true", "", "::warning::the port moves\n"),
        (None, "publish ingress", "warning: the port moves\n"),
        ("false", "", "warning: the port moves\n"),
    ],
)
def test_a_warning_is_an_annotation_only_on_actions(monkeypatch, capsys, actions, title, expected):
    if actions is None:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    else:
        monkeypatch.setenv("GITHUB_ACTIONS", actions)
    annotations.warning("the port moves", title=title)
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", expected)
