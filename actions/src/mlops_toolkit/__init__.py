"""The CI toolkit of cookiecutter-mlops: one package behind every composite action."""

__version__ = "1.0.0"
