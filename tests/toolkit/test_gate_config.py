"""gate.yaml is read strictly: a key given twice is an error naming the key and both lines."""

from __future__ import annotations

import pytest
from mlops_toolkit import gate_config
from mlops_toolkit.errors import ToolkitError

GATE = """\
primary:
  metric: f1
  min_value: 0.80
  max_regression: 0.01
guards: []
bootstrap:
  resamples: 1000
  seed: 42
target: target
"""


def test_the_plain_config_loads(tmp_path):
    path = tmp_path / "gate.yaml"
    path.write_text(GATE)
    assert gate_config.load(path).primary.threshold == 0.80


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # YAML itself keeps the last value: a looser threshold would silently win.
        (
            GATE.replace("  min_value: 0.80\n", "  min_value: 0.80\n  min_value: 0.10\n"),
            "duplicate key 'min_value', first given at line 3, again at line 4",
        ),
        (
            GATE + "primary:\n  metric: accuracy\n",
            "duplicate key 'primary', first given at line 1, again at line 10",
        ),
    ],
    ids=["threshold", "section"],
)
def test_duplicate_key_is_an_error(tmp_path, text, message):
    path = tmp_path / "gate.yaml"
    path.write_text(text)
    with pytest.raises(ToolkitError) as error:
        gate_config.load(path)
    assert str(error.value) == f"gate config {path}: {message}"


def test_merge_keys_may_still_be_overridden():
    from mlops_toolkit import strictyaml

    text = "base: &base {metric: accuracy, min_value: 0.5}\nprimary:\n  <<: *base\n  metric: f1\n"
    loaded = strictyaml.load(text)
    assert loaded["primary"] == {"metric": "f1", "min_value": 0.5}
