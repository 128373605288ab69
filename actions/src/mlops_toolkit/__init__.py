"""The CI toolkit of cookiecutter-mlops: one package behind every composite action."""

__version__ = "1.3.0"  # keep equal to pyproject.toml (tests/toolkit/test_cli.py checks --version)
