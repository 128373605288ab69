"""The team's commands on the platform's frame (the frame itself is tested in the toolkit)."""

import re
import subprocess
import sys

import pytest

from {{ cookiecutter.package_name }}.cli import build_parser, main


def test_help_does_not_import_heavy_libraries():
    """The team's modules import their libraries inside the commands, as the frame does."""
    code = (
        "import sys; "
        "from {{ cookiecutter.package_name }}.cli import build_parser; "
        "build_parser(); "
        "print(sorted(m for m in ('mlflow', 'sklearn', 'pandas', 'great_expectations') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_typed_options():
    args = build_parser().parse_args(["train", "--seed", "3", "--param", "max_iter=50"])
    assert args.seed == 3
    assert args.param == [("max_iter", 50)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["prepare-data", "--holdout-fraction", "lots"])


def test_the_shipped_gate_is_fit(workdir, capsys):
    assert main(["check-gate"]) == 0


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("max_regression:", "max_regresion:"), "max_regresion"),
        # Whatever the target is (own data renames it): another name than data.target.
        ((r"(?m)^target: .*$", "target: not-a-column"), "'not-a-column' is not data.target"),
    ],
    ids=["typo", "target"],
)
def test_a_broken_gate_stops_train_before_any_training(workdir, source, capsys, change, named):
    assert main(["prepare-data", "--source", source]) == 0
    gate = workdir / "gate.yaml"
    gate.write_text(re.sub(*change, gate.read_text(), count=1))
    capsys.readouterr()
    assert main(["train"]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and named in errors[0] and "gate.yaml" in errors[0], errors
    assert not (workdir / "mlflow.db").exists()  # no run was started, no model fitted
    assert not (workdir / "models").exists()
